# -*- test-case-name: tests.objectstore.test_router -*-
"""
The S3 operations, one coroutine each, by area: L{buckets} (the service,
buckets and their listings), L{objects}, L{multipart} uploads, L{acls},
and the bucket L{configurations} this store keeps or answers as absent.

A handler takes the L{nova.objectstore.call.S3Call} of an authenticated
request and returns a L{nova.objectstore.call.Response}, or raises an
L{nova.objectstore.errors.S3Error}; it checks who may do what itself.
L{nova.objectstore.router} says which handler serves which request.
"""
