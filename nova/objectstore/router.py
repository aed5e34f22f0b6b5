# -*- test-case-name: tests.objectstore.test_router -*-
"""
Which handler serves a request.

L{locate} works out what a request addresses: the bucket (from the path,
or from the C{Host} of a virtual-hosted-style request), the key and the
query.  L{handlerFor} then looks the request up in L{ROUTES}, a table from
what is addressed (L{SERVICE}, L{BUCKET} or L{OBJECT}), the HTTP method and
the sub-resource named in the query (C{?acl}, C{?uploads}, C{?uploadId},
...) to a handler of L{nova.objectstore.handlers}.  When the query names
several sub-resources the first of L{SUBRESOURCES} with a route wins; one
with no route for the method is ignored, as S3 ignores unknown
parameters.  A few operations share a method and sub-resource and differ
by a header or parameter (CopyObject is a PUT with C{x-amz-copy-source});
their routes are a L{Choose}.
"""

import ipaddress
from urllib.parse import parse_qsl, unquote_to_bytes

import attr

from nova.objectstore import errors
from nova.objectstore.handlers import acls, buckets, configurations, multipart, objects
from nova.objectstore.handlers.configurations import ABSENT_CONFIGURATIONS

SERVICE = "service"
BUCKET = "bucket"
OBJECT = "object"

#: The methods S3 serves; any other is MethodNotAllowed.
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS")

#: The sub-resources a route may name, first the ones that win when a
#: query names several.
SUBRESOURCES = (
    "acl",
    "uploads",
    "uploadId",
    "partNumber",
    "tagging",
    "location",
    "versioning",
    "versions",
    "delete",
) + tuple(name for name in ABSENT_CONFIGURATIONS if name != "tagging")

#: Bucket sub-resources this store does not implement, whatever the method.
UNSUPPORTED_BUCKET = frozenset(
    [
        "accelerate", "analytics", "intelligent-tiering", "inventory", "logging",
        "metrics", "notification", "object-lock", "ownershipControls",
        "publicAccessBlock", "replication", "requestPayment", "metadataTable",
        "session",
    ]
)
#: Object sub-resources this store does not implement, whatever the method.
UNSUPPORTED_OBJECT = frozenset(
    ["attributes", "legal-hold", "restore", "retention", "select", "torrent", "renameObject"]
)


@attr.s(frozen=True)
class Choose:
    """
    A route to one of two handlers, by a test of the request.

    @ivar test: a callable of the L{S3Call}, returning a L{bool}.
    @ivar then: the route when C{test} holds.
    @ivar otherwise: the route when it does not.
    """

    test = attr.ib()
    then = attr.ib()
    otherwise = attr.ib()


def hasCopySource(call):
    """
    @return: whether the request names a copy source (CopyObject,
        UploadPartCopy).
    """
    return call.header("x-amz-copy-source") is not None


def isListV2(call):
    """
    @return: whether a bucket listing is a ListObjectsV2.
    """
    return call.query.get("list-type") == "2"


def isFormUpload(call):
    """
    @return: whether a bucket POST is a browser form upload.
    """
    return (call.header("content-type") or "").startswith("multipart/form-data")


def methodNotAllowed(resourceType):
    """
    @return: a handler refusing the request's method on C{resourceType}
        (C{SERVICE}, C{BUCKET} or C{OBJECT}).
    """

    async def refuse(call):
        raise errors.MethodNotAllowed(Method=call.method, ResourceType=resourceType)

    return refuse


ROUTES = {
    # The service
    (SERVICE, "GET", None): buckets.listBuckets,
    (SERVICE, "HEAD", None): buckets.listBuckets,
    (SERVICE, "PUT", None): methodNotAllowed("SERVICE"),
    (SERVICE, "POST", None): methodNotAllowed("SERVICE"),
    (SERVICE, "DELETE", None): methodNotAllowed("SERVICE"),
    (SERVICE, "OPTIONS", None): configurations.corsPreflight,
    # Buckets
    (BUCKET, "OPTIONS", None): configurations.corsPreflight,
    (BUCKET, "HEAD", None): buckets.headBucket,
    (BUCKET, "GET", None): Choose(isListV2, buckets.listObjectsV2, buckets.listObjects),
    (BUCKET, "GET", "acl"): acls.getBucketACL,
    (BUCKET, "GET", "location"): buckets.getBucketLocation,
    (BUCKET, "GET", "uploads"): multipart.listMultipartUploads,
    (BUCKET, "GET", "versioning"): configurations.getBucketVersioning,
    (BUCKET, "GET", "versions"): buckets.listObjectVersions,
    (BUCKET, "PUT", None): buckets.createBucket,
    (BUCKET, "PUT", "acl"): acls.putBucketACL,
    (BUCKET, "PUT", "versioning"): configurations.putBucketVersioning,
    (BUCKET, "DELETE", None): buckets.deleteBucket,
    (BUCKET, "POST", None): Choose(
        isFormUpload, configurations.notImplemented, methodNotAllowed("BUCKET")
    ),
    (BUCKET, "POST", "delete"): objects.deleteObjects,
    # Objects
    (OBJECT, "OPTIONS", None): configurations.corsPreflight,
    (OBJECT, "GET", None): objects.getObject,
    (OBJECT, "HEAD", None): objects.getObject,
    (OBJECT, "GET", "acl"): acls.getObjectACL,
    (OBJECT, "GET", "uploadId"): multipart.listParts,
    (OBJECT, "GET", "tagging"): objects.getObjectTagging,
    (OBJECT, "PUT", None): Choose(hasCopySource, objects.copyObject, objects.putObject),
    (OBJECT, "PUT", "acl"): acls.putObjectACL,
    (OBJECT, "PUT", "tagging"): configurations.notImplemented,
    (OBJECT, "PUT", "uploadId"): Choose(
        hasCopySource, multipart.uploadPartCopy, multipart.uploadPart
    ),
    (OBJECT, "PUT", "partNumber"): Choose(
        hasCopySource, multipart.uploadPartCopy, multipart.uploadPart
    ),
    (OBJECT, "DELETE", None): objects.deleteObject,
    (OBJECT, "DELETE", "uploadId"): multipart.abortMultipartUpload,
    (OBJECT, "DELETE", "tagging"): configurations.deleteAbsentConfiguration,
    (OBJECT, "POST", None): methodNotAllowed("OBJECT"),
    (OBJECT, "POST", "uploads"): multipart.createMultipartUpload,
    (OBJECT, "POST", "uploadId"): multipart.completeMultipartUpload,
}
for _name, _error in ABSENT_CONFIGURATIONS.items():
    ROUTES[BUCKET, "GET", _name] = configurations.absentConfiguration(_error)
    ROUTES[BUCKET, "PUT", _name] = configurations.notImplemented
    ROUTES[BUCKET, "DELETE", _name] = configurations.deleteAbsentConfiguration
del _name, _error


def targetOf(call):
    """
    @return: what a request addresses: L{SERVICE}, L{BUCKET} or L{OBJECT}.
    """
    if call.bucket is None:
        return SERVICE
    if call.key is None:
        return BUCKET
    return OBJECT


def subresourceOf(call, target):
    """
    @return: the sub-resource of the request's query that routes it (the
        first of L{SUBRESOURCES} present that has a route for the target
        and method), or C{None}.
    """
    for name in SUBRESOURCES:
        if name in call.query and (target, call.method, name) in ROUTES:
            return name
    return None


def handlerFor(call, reservedRoutes=None):
    """
    @param reservedRoutes: a mapping from a first path segment no bucket
        can have to the handler of path-style requests under it.
    @return: the handler of the request.
    @raise MethodNotAllowed: for a method S3 does not serve.
    @raise NotImplemented_: for a sub-resource this store does not
        implement.
    """
    if call.method not in METHODS:
        raise errors.MethodNotAllowed(Method=call.method, ResourceType="OBJECT")
    if reservedRoutes and not call.virtual and call.bucket in reservedRoutes:
        return reservedRoutes[call.bucket]
    target = targetOf(call)
    unsupported = {BUCKET: UNSUPPORTED_BUCKET, OBJECT: UNSUPPORTED_OBJECT}.get(target, ())
    if any(name in unsupported for name in call.query):
        raise errors.NotImplemented_()
    route = ROUTES[target, call.method, subresourceOf(call, target)]
    while isinstance(route, Choose):
        route = route.then if route.test(call) else route.otherwise
    return route


def _isIPLiteral(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def virtualBucket(hostname, endpointHosts, virtualHostSuffixes, cnameBuckets):
    """
    @param hostname: the request's host name, lower case, without port.
    @return: the bucket a host name names (virtual-hosted style), or
        C{None} for a path-style request.
    """
    if not hostname or _isIPLiteral(hostname) or hostname in endpointHosts:
        return None
    for suffix in virtualHostSuffixes:
        if hostname.endswith("." + suffix):
            return hostname[: -len(suffix) - 1]
    if cnameBuckets and hostname not in virtualHostSuffixes:
        return hostname
    return None


def locate(call, endpointHosts=(), virtualHostSuffixes=(), cnameBuckets=False):
    """
    Work out the method, bucket, key and query of a request, and set them
    on C{call}.

    @param endpointHosts: host names that name the endpoint itself.
    @param virtualHostSuffixes: suffixes under which C{<bucket>.<suffix>}
        names a bucket.
    @param cnameBuckets: whether any other host name is a bucket's name.
    @raise InvalidURI: for a path or query that is not UTF-8.
    """
    request = call.request
    call.method = request.method.decode("ascii", "replace")
    uri = request.uri
    host = request.getHeader(b"host") or b""
    if uri.lower().startswith((b"http://", b"https://")):
        rest = uri.split(b"://", 1)[1]
        authority, slash, path = rest.partition(b"/")
        authority, _, query = authority.partition(b"?")
        host = authority or host
        uri = b"/" + path if slash else b"/" + (b"?" + query if query else b"")
    path, _, query = uri.partition(b"?")
    call.host = host.decode("latin-1")
    hostname = call.host.lower()
    if hostname.startswith("["):
        hostname = hostname.split("]", 1)[0] + "]"
    elif ":" in hostname:
        hostname = hostname.rsplit(":", 1)[0]
    try:
        pairs = parse_qsl(
            query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise errors.InvalidURI()
    for name, value in pairs:
        call.query.setdefault(name, value)
    try:
        bucket = virtualBucket(hostname, endpointHosts, virtualHostSuffixes, cnameBuckets)
        if bucket is not None:
            call.virtual = True
            key = unquote_to_bytes(path[1:]).decode("utf-8")
        else:
            first, _, rest = path[1:].partition(b"/")
            bucket = unquote_to_bytes(first).decode("utf-8") or None
            key = unquote_to_bytes(rest).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidURI()
    call.bucket = bucket
    call.key = key or None
