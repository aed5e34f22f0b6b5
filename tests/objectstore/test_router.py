# -*- test-case-name: tests.objectstore.test_router -*-
"""
Tests for L{nova.objectstore.router}: which handler serves which request.
"""

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from nova.objectstore import errors, router
from nova.objectstore.call import S3Call
from nova.objectstore.handlers import acls, buckets, configurations, multipart, objects
from tests.objectstore.test_resource import makeRequest


def callFor(method, uri, headers=None):
    """
    @return: the located L{S3Call} of a path-style request.
    """
    call = S3Call(makeRequest(method, uri, {b"host": b"127.0.0.1", **(headers or {})}), "id")
    router.locate(call)
    return call


class HandlerForTests(SynchronousTestCase):
    def handler(self, method, uri, headers=None, reservedRoutes=None):
        return router.handlerFor(callFor(method, uri, headers), reservedRoutes)

    def test_operations(self):
        """
        Every operation has its route: method, sub-resource and, for a few,
        a header or parameter.
        """
        copy = {b"x-amz-copy-source": b"/b/src"}
        table = [
            (b"GET", b"/", None, buckets.listBuckets),
            (b"HEAD", b"/bkt", None, buckets.headBucket),
            (b"GET", b"/bkt", None, buckets.listObjects),
            (b"GET", b"/bkt?list-type=2", None, buckets.listObjectsV2),
            (b"GET", b"/bkt?list-type=1", None, buckets.listObjects),
            (b"PUT", b"/bkt", None, buckets.createBucket),
            (b"DELETE", b"/bkt", None, buckets.deleteBucket),
            (b"GET", b"/bkt?location", None, buckets.getBucketLocation),
            (b"GET", b"/bkt?acl", None, acls.getBucketACL),
            (b"PUT", b"/bkt?acl", None, acls.putBucketACL),
            (b"GET", b"/bkt?uploads", None, multipart.listMultipartUploads),
            (b"GET", b"/bkt?versioning", None, configurations.getBucketVersioning),
            (b"GET", b"/bkt?versions", None, buckets.listObjectVersions),
            (b"PUT", b"/bkt?versioning", None, configurations.putBucketVersioning),
            (b"OPTIONS", b"/bkt/k", None, configurations.corsPreflight),
            (b"OPTIONS", b"/bkt", None, configurations.corsPreflight),
            (b"POST", b"/bkt?delete", None, objects.deleteObjects),
            (b"GET", b"/bkt/k", None, objects.getObject),
            (b"HEAD", b"/bkt/k", None, objects.getObject),
            (b"GET", b"/bkt/k?partNumber=2", None, objects.getObject),
            (b"PUT", b"/bkt/k", None, objects.putObject),
            (b"PUT", b"/bkt/k", copy, objects.copyObject),
            (b"DELETE", b"/bkt/k", None, objects.deleteObject),
            (b"GET", b"/bkt/k?acl", None, acls.getObjectACL),
            (b"PUT", b"/bkt/k?acl", None, acls.putObjectACL),
            (b"GET", b"/bkt/k?tagging", None, objects.getObjectTagging),
            (b"DELETE", b"/bkt/k?tagging", None, configurations.deleteAbsentConfiguration),
            (b"POST", b"/bkt/k?uploads", None, multipart.createMultipartUpload),
            (b"PUT", b"/bkt/k?partNumber=1&uploadId=u", None, multipart.uploadPart),
            (b"PUT", b"/bkt/k?partNumber=1&uploadId=u", copy, multipart.uploadPartCopy),
            (b"GET", b"/bkt/k?uploadId=u", None, multipart.listParts),
            (b"POST", b"/bkt/k?uploadId=u", None, multipart.completeMultipartUpload),
            (b"DELETE", b"/bkt/k?uploadId=u", None, multipart.abortMultipartUpload),
            (b"DELETE", b"/bkt?cors", None, configurations.deleteAbsentConfiguration),
            (b"PUT", b"/bkt?policy", None, configurations.notImplemented),
        ]
        for method, uri, headers, expected in table:
            self.assertIs(self.handler(method, uri, headers), expected, (method, uri))

    def test_precedence(self):
        """
        A sub-resource with no route for the method is ignored; of several,
        the first of L{router.SUBRESOURCES} wins.
        """
        self.assertIs(self.handler(b"DELETE", b"/bkt?acl"), buckets.deleteBucket)
        self.assertIs(self.handler(b"GET", b"/bkt/k?uploads"), objects.getObject)
        self.assertIs(self.handler(b"GET", b"/bkt?location&acl"), acls.getBucketACL)
        self.assertIs(self.handler(b"HEAD", b"/bkt?acl"), buckets.headBucket)

    def test_absentConfigurations(self):
        for name in configurations.ABSENT_CONFIGURATIONS:
            handler = self.handler(b"GET", b"/bkt?" + name.encode())
            self.assertEqual(handler.__name__, "getAbsentConfiguration")

    def test_unsupported(self):
        for uri in [b"/bkt?replication", b"/bkt?logging&acl", b"/bkt/k?torrent", b"/bkt/k?select"]:
            self.assertRaises(errors.NotImplemented_, self.handler, b"GET", uri)

    def test_methods(self):
        error = self.assertRaises(errors.MethodNotAllowed, self.handler, b"PATCH", b"/bkt/k")
        self.assertEqual(error.extra, {"Method": "PATCH", "ResourceType": "OBJECT"})

    def test_reserved(self):
        reserved = object()
        routes = {"_images": reserved}
        self.assertIs(self.handler(b"GET", b"/_images/ami-1", reservedRoutes=routes), reserved)
        call = S3Call(makeRequest(b"GET", b"/_images/x", {b"host": b"_images.s3.test"}), "id")
        router.locate(call, virtualHostSuffixes=["s3.test"])
        self.assertIs(router.handlerFor(call, routes), objects.getObject)

    def test_refusals(self):
        """
        What S3 does not serve is refused by handlers that raise: POST on
        the service or an object, a form upload.
        """
        for method, uri, headers, error in [
            (b"POST", b"/", None, errors.MethodNotAllowed),
            (b"POST", b"/bkt/k", None, errors.MethodNotAllowed),
            (b"POST", b"/bkt", None, errors.MethodNotAllowed),
            (b"POST", b"/bkt", {b"content-type": b"multipart/form-data; boundary=x"}, errors.NotImplemented_),
        ]:
            call = callFor(method, uri, headers)
            handler = router.handlerFor(call)
            self.failureResultOf(Deferred.fromCoroutine(handler(call)), error)
