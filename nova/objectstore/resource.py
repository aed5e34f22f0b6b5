# -*- test-case-name: tests.objectstore.test_resource -*-
"""
The S3 API as a C{twisted.web} resource.

L{S3Resource} serves every request of the port: it works out the bucket and
key (path-style C{/bucket/key}, or virtual-hosted-style with the bucket in
the C{Host} header), authenticates through an L{IS3Authenticator}, checks
the owner and grants of what is asked for, and calls the L{IObjectStore}.

Every request is handled by one coroutine that returns a L{Response}; any
failure of it goes through L{S3Resource.errorResponse}, the one place that
turns errors into S3 error documents, and the answer is written only while
the client is still connected.  Object bodies stream from the store through
L{ObjectProducer}, a push producer that reads the next chunk only when the
connection wants more.
"""

import base64
import binascii
import ipaddress
import os
import re
import tempfile
import time
from datetime import timezone
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import parse_qsl, quote, unquote_to_bytes

import attr
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import implementer

from nova.auth.signer import partsFromTwistedRequest
from nova.objectstore import common, errors, s3xml
from nova.objectstore.body import RequestBody, parseChecksums, parseContentMD5
from nova.objectstore.interfaces import Grant, ObjectSettings, WriteConditions

log = Logger()

CHUNK_SIZE = 1024 * 1024
# Bodies up to this size are kept in memory by twisted.web; larger ones go
# to a temporary file.
IN_MEMORY_BODY = 100000
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_STORED_HEADERS = (
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
)
_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
_MAX_METADATA = 2048
_MAX_KEYS = 1000

# Bucket configurations this store does not keep: reading one answers as S3
# does for a bucket without it, deleting one succeeds, setting one is not
# implemented.
_ABSENT_CONFIGURATIONS = {
    "policy": errors.NoSuchBucketPolicy,
    "cors": errors.NoSuchCORSConfiguration,
    "lifecycle": errors.NoSuchLifecycleConfiguration,
    "website": errors.NoSuchWebsiteConfiguration,
    "encryption": errors.ServerSideEncryptionConfigurationNotFoundError,
    "tagging": errors.NoSuchTagSet,
}
_UNSUPPORTED_BUCKET = frozenset(
    [
        "accelerate", "analytics", "intelligent-tiering", "inventory", "logging",
        "metrics", "notification", "object-lock", "ownershipControls",
        "publicAccessBlock", "replication", "requestPayment", "versions",
        "metadataTable", "session",
    ]
)
_UNSUPPORTED_OBJECT = frozenset(
    ["attributes", "legal-hold", "restore", "retention", "select", "torrent", "renameObject"]
)


@attr.s
class Response:
    """
    What a handler answers.

    @ivar status: the HTTP status.
    @ivar headers: a L{list} of C{(name, value)} L{str} pairs.
    @ivar body: L{bytes}, or C{None} when C{reader} streams the body.
    @ivar reader: an L{IObjectReader} whose bytes C{offset} to C{offset +
        length} are the body.
    """

    status = attr.ib(default=200)
    headers = attr.ib(factory=list)
    body = attr.ib(default=b"")
    reader = attr.ib(default=None)
    offset = attr.ib(default=0)
    length = attr.ib(default=0)


@attr.s
class _Call:
    """
    The state of one request while it is handled.
    """

    request = attr.ib()
    requestId = attr.ib()
    method = attr.ib(default="GET")
    bucket = attr.ib(default=None)
    key = attr.ib(default=None)
    query = attr.ib(factory=dict)
    host = attr.ib(default="")
    virtual = attr.ib(default=False)
    context = attr.ib(default=None)
    verification = attr.ib(default=None)
    lost = attr.ib(default=False)


def newRequestId():
    return os.urandom(8).hex().upper()


def httpDate(seconds):
    return formatdate(int(seconds), usegmt=True)


def parseHTTPDate(value):
    """
    @return: seconds since the epoch, or C{None} if C{value} is not a date.
    """
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc).timestamp()
    return parsed.timestamp()


def etagMatches(header, etag):
    """
    @return: whether an C{If-Match}/C{If-None-Match} value names C{etag}.
    """
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or common.normalizeETag(candidate) == etag:
            return True
    return False


def parseRange(value, size):
    """
    Parse a C{Range} header.

    @return: C{(first, last)} byte positions, or C{None} when the header is
        to be ignored (malformed or several ranges: the whole object is
        sent).
    @raise InvalidRange: if the range cannot be satisfied.
    """
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if first and last and int(last) < int(first):
        return None
    unsatisfiable = errors.InvalidRange(RangeRequested=value, ActualObjectSize=str(size))
    unsatisfiable.responseHeaders = [("Content-Range", f"bytes */{size}")]
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if start >= size:
        raise unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def parseCopySource(value):
    """
    @return: C{(bucket, key)} of an C{x-amz-copy-source} header.
    @raise InvalidArgument: if it does not name a bucket and key.
    """
    text, _, version = value.partition("?")
    try:
        decoded = unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidArgument("Invalid copy source encoding")
    decoded = decoded.lstrip("/")
    bucket, _, key = decoded.partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=value,
        )
    if version and version.startswith("versionId=") and version[10:] not in ("", "null"):
        raise errors.InvalidArgument("Invalid version id specified")
    return bucket, key


def parseGrantHeaders(headers):
    """
    @param headers: a mapping of lower-case header names to values.
    @return: the L{Grant}s of the C{x-amz-grant-*} headers.
    """
    grants = []
    names = {
        "x-amz-grant-read": "READ",
        "x-amz-grant-write": "WRITE",
        "x-amz-grant-read-acp": "READ_ACP",
        "x-amz-grant-write-acp": "WRITE_ACP",
        "x-amz-grant-full-control": "FULL_CONTROL",
    }
    for header, permission in names.items():
        value = headers.get(header)
        if value is None:
            continue
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            match = re.fullmatch(r'(id|uri|emailAddress)\s*=\s*"?([^"]*)"?', item)
            if match is None:
                raise errors.InvalidArgument(ArgumentName=header, ArgumentValue=value)
            kind, grantee = match.groups()
            if kind == "emailAddress":
                raise errors.UnresolvableGrantByEmailAddress()
            grants.append(Grant("Group" if kind == "uri" else "CanonicalUser", grantee, permission))
    return grants


def _isIPLiteral(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _intParameter(query, name, default, minimum=0, maximum=None):
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise errors.InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=value,
        )
    if number < minimum:
        raise errors.InvalidArgument(
            f"Argument {name} must be an integer between {minimum} and 2147483647",
            ArgumentName=name,
            ArgumentValue=value,
        )
    if maximum is not None:
        number = min(number, maximum)
    return number


def _encodingType(query):
    value = query.get("encoding-type")
    if value is None:
        return None
    if value.lower() != "url":
        raise errors.InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=value,
        )
    return "url"


def _encodeToken(key):
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def _decodeToken(token):
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.InvalidArgument(
            "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
            ArgumentValue=token,
        )


def _ownerOf(context):
    if context is None:
        return None
    return context.projectId or context.userId


class StagingFile:
    """
    A named temporary file holding a request body, which a store on the
    same filesystem may rename into place instead of copying it.  Whatever
    is still there when the request ends is removed.

    @ivar path: the file's name, until it is discarded.
    """

    def __init__(self, directory):
        fd, self.path = tempfile.mkstemp(dir=directory, prefix="body-")
        self.file = os.fdopen(fd, "w+b")

    def __getattr__(self, name):
        return getattr(self.file, name)

    def discard(self):
        """
        Close the file and remove its name if no one took it.
        """
        path, self.path = self.path, None
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self.file.close()


class S3Request(Request):
    """
    A request that buffers a large body in a L{StagingFile} in
    C{stagingDirectory} (on the store's filesystem).
    """

    stagingDirectory = None

    def gotLength(self, length):
        if self.stagingDirectory is not None and (length is None or length > IN_MEMORY_BODY):
            try:
                self.content = StagingFile(self.stagingDirectory)
                return
            except OSError as e:
                log.warn("cannot stage a body in {directory}: {error}",
                         directory=self.stagingDirectory, error=e)
        Request.gotLength(self, length)

    def _discardContent(self):
        if isinstance(self.content, StagingFile):
            self.content.discard()

    def finish(self):
        Request.finish(self)
        self._discardContent()

    def connectionLost(self, reason):
        Request.connectionLost(self, reason)
        self._discardContent()


def makeSite(resource, stagingDirectory=None, **kwargs):
    """
    @param resource: the L{S3Resource}.
    @param stagingDirectory: where request bodies are buffered (the store's
        C{stagingDirectory}, if it has one), or C{None} for the system's
        temporary directory.
    @return: a L{Site} serving C{resource}, never showing tracebacks.
    """
    factory = type("S3Request", (S3Request,), {"stagingDirectory": stagingDirectory})
    site = Site(resource, requestFactory=factory, **kwargs)
    site.displayTracebacks = False
    return site


@implementer(IPushProducer)
class ObjectProducer:
    """
    Streams bytes of an L{IObjectReader} into a request, one chunk in
    flight at a time, pausing when the transport's buffer is full.
    """

    def __init__(self, request, reader, offset, length, chunkSize=CHUNK_SIZE):
        self.request = request
        self.reader = reader
        self.offset = offset
        self.remaining = length
        self.chunkSize = chunkSize
        self.paused = False
        self.reading = False
        self.done = False

    def start(self):
        self.request.registerProducer(self, True)
        self._readMore()

    def _readMore(self):
        if self.reading or self.paused or self.done:
            return
        if self.remaining <= 0:
            self._finish()
            return
        self.reading = True
        d = self.reader.read(self.offset, min(self.chunkSize, self.remaining))
        d.addCallbacks(self._gotData, self._failed)

    def _gotData(self, data):
        self.reading = False
        if self.done:
            return
        if not data:
            self._failed(None)
            return
        data = data[: self.remaining]
        self.offset += len(data)
        self.remaining -= len(data)
        self.request.write(data)
        self._readMore()

    def _finish(self):
        self.done = True
        self.reader.close()
        self.request.unregisterProducer()
        self.request.finish()

    def _failed(self, failure):
        self.reading = False
        if self.done:
            return
        self.done = True
        self.reader.close()
        if failure is not None:
            log.failure("reading an object failed after its headers were sent", failure)
        else:
            log.error("an object ended before its declared size")
        self.request.unregisterProducer()
        transport = self.request.channel.transport if self.request.channel else None
        if transport is not None:
            transport.abortConnection()

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        self._readMore()

    def stopProducing(self):
        if not self.done:
            self.done = True
            self.reader.close()


class S3Resource(Resource):
    """
    The root of the object store's web site: every path is handled here.
    """

    isLeaf = True

    def __init__(
        self,
        store,
        authenticator,
        endpointHosts=("localhost",),
        virtualHostSuffixes=(),
        cnameBuckets=False,
        chunkSize=CHUNK_SIZE,
        reservedRoutes=None,
    ):
        """
        @param store: the L{IObjectStore}.
        @param authenticator: the L{IS3Authenticator}.
        @param endpointHosts: host names that name the endpoint itself, so
            requests to them are path-style (IP addresses always are).
        @param virtualHostSuffixes: host name suffixes under which
            C{<bucket>.<suffix>} names a bucket (virtual-hosted style).
        @param cnameBuckets: whether any other host name is itself a
            bucket's name.
        @param chunkSize: bytes read from the store per chunk of a body.
        @param reservedRoutes: a mapping from a first path segment that
            cannot be a bucket's name (such as C{_images}) to an C{async}
            handler called with the authenticated request's state (its
            C{key} is the rest of the path) and returning a L{Response};
            used for path-style requests only.
        """
        Resource.__init__(self)
        self.store = store
        self.authenticator = authenticator
        self.endpointHosts = {h.lower() for h in endpointHosts}
        self.virtualHostSuffixes = tuple(s.lower().strip(".") for s in virtualHostSuffixes if s)
        self.cnameBuckets = cnameBuckets
        self.chunkSize = chunkSize
        self.reservedRoutes = dict(reservedRoutes or {})

    # Rendering

    def render(self, request):
        call = _Call(request, newRequestId())
        request.defaultContentType = None
        request.setHeader(b"x-amz-request-id", call.requestId.encode("ascii"))
        request.setHeader(b"x-amz-id-2", base64.b64encode(os.urandom(24)))
        request.setHeader(b"server", b"NovaObjectStore")

        def lost(failure):
            call.lost = True

        request.notifyFinish().addErrback(lost)
        d = Deferred.fromCoroutine(self.handle(call))
        d.addErrback(self.errorResponse, call)
        d.addCallback(self.send, call)
        d.addErrback(self._sendFailed, call)
        return NOT_DONE_YET

    def errorResponse(self, failure, call):
        """
        Turn any failure of a request into its S3 answer: the one place
        errors are mapped.

        @return: a L{Response}.
        """
        error = failure.value
        if isinstance(error, errors.S3Error):
            code, status, message, extra = error.s3Code, error.httpStatus, error.message, error.extra
        elif hasattr(error, "s3Code") and hasattr(error, "s3Status"):
            code, status, message, extra = error.s3Code, error.s3Status, str(error), {}
        else:
            log.failure("S3 request {method} {uri} failed", failure,
                        method=call.request.method, uri=call.request.uri)
            code, status = "InternalError", 500
            message, extra = errors.S3Error.__doc__, {}
        headers = list(getattr(error, "responseHeaders", []))
        if status == 304:
            return Response(304, headers, b"")
        resource = call.request.path.decode("utf-8", "replace")
        body = s3xml.errorDocument(code, message, resource, call.requestId, extra)
        headers.append(("Content-Type", "application/xml"))
        return Response(status, headers, body)

    def send(self, response, call):
        """
        Write a L{Response}, unless the client went away.
        """
        request = call.request
        if call.lost:
            if response.reader is not None:
                response.reader.close()
            return
        request.setResponseCode(response.status)
        for name, value in response.headers:
            request.setHeader(
                name.encode("latin-1"), value.encode("utf-8", "surrogateescape")
            )
        # twisted.web writes header names in Canonical-Case; user metadata
        # names go out in lower case, as S3 sends them, since clients keep
        # the case of what follows x-amz-meta-.
        raw = request.responseHeaders._rawHeaders
        for name in [n for n in raw if n.lower().startswith(b"x-amz-meta-")]:
            raw[name.lower()] = raw.pop(name)
        if response.reader is not None:
            request.setHeader(b"content-length", b"%d" % (response.length,))
            if request.method == b"HEAD" or response.length == 0:
                response.reader.close()
                request.finish()
                return
            ObjectProducer(
                request, response.reader, response.offset, response.length, self.chunkSize
            ).start()
            return
        if response.status not in (204, 304):
            request.setHeader(b"content-length", b"%d" % (len(response.body),))
        if response.body and request.method != b"HEAD":
            request.write(response.body)
        request.finish()

    def _sendFailed(self, failure, call):
        log.failure("writing the answer to {uri} failed", failure, uri=call.request.uri)
        if not call.lost and call.request.channel is not None:
            call.request.channel.transport.abortConnection()

    # Routing

    def _virtualBucket(self, hostname):
        if not hostname or _isIPLiteral(hostname) or hostname in self.endpointHosts:
            return None
        for suffix in self.virtualHostSuffixes:
            if hostname.endswith("." + suffix):
                return hostname[: -len(suffix) - 1]
        if self.cnameBuckets and hostname not in self.virtualHostSuffixes:
            return hostname
        return None

    def route(self, call):
        """
        Work out the bucket, key and query of a request.
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
            bucket = self._virtualBucket(hostname)
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

    async def handle(self, call):
        """
        Handle one request.

        @return: a L{Response}.
        """
        self.route(call)
        parts = partsFromTwistedRequest(call.request)
        call.context, call.verification = await self._authenticate(call, parts)
        handler = self._handlerFor(call)
        return await handler(call)

    def _authenticate(self, call, parts):
        address = call.request.getClientAddress()
        return self.authenticator.authenticateS3(
            parts,
            remoteAddress=getattr(address, "host", None),
            requestId=call.requestId,
            virtualBucket=call.bucket if call.virtual else None,
        )

    def _handlerFor(self, call):
        method, query = call.method, call.query
        if method not in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            raise errors.MethodNotAllowed(Method=method, ResourceType="OBJECT")
        if not call.virtual and call.bucket in self.reservedRoutes:
            return self.reservedRoutes[call.bucket]
        if call.bucket is None:
            if method in ("GET", "HEAD"):
                return self.listBuckets
            raise errors.MethodNotAllowed(Method=method, ResourceType="SERVICE")
        if call.key is None:
            return self._bucketHandler(call, method, query)
        return self._objectHandler(call, method, query)

    def _bucketHandler(self, call, method, query):
        for name in query:
            if name in _UNSUPPORTED_BUCKET:
                raise errors.NotImplemented_()
        if method == "HEAD":
            return self.headBucket
        if method == "GET":
            if "acl" in query:
                return self.getBucketACL
            if "location" in query:
                return self.getBucketLocation
            if "uploads" in query:
                return self.listMultipartUploads
            if "versioning" in query:
                return self.getBucketVersioning
            for name, error in _ABSENT_CONFIGURATIONS.items():
                if name in query:
                    return self._absentConfiguration(error)
            if query.get("list-type") == "2":
                return self.listObjectsV2
            return self.listObjects
        if method == "PUT":
            if "acl" in query:
                return self.putBucketACL
            if "versioning" in query or any(n in query for n in _ABSENT_CONFIGURATIONS):
                raise errors.NotImplemented_()
            return self.createBucket
        if method == "DELETE":
            if any(n in query for n in _ABSENT_CONFIGURATIONS):
                return self._deleteAbsentConfiguration
            return self.deleteBucket
        if "delete" in query:
            return self.deleteObjects
        content = call.request.getHeader(b"content-type") or b""
        if content.startswith(b"multipart/form-data"):
            raise errors.NotImplemented_()
        raise errors.MethodNotAllowed(Method=method, ResourceType="BUCKET")

    def _objectHandler(self, call, method, query):
        for name in query:
            if name in _UNSUPPORTED_OBJECT:
                raise errors.NotImplemented_()
        if method == "GET":
            if "acl" in query:
                return self.getObjectACL
            if "uploadId" in query:
                return self.listParts
            if "tagging" in query:
                return self.getObjectTagging
            return self.getObject
        if method == "HEAD":
            return self.getObject
        if method == "PUT":
            if "acl" in query:
                return self.putObjectACL
            if "tagging" in query:
                raise errors.NotImplemented_()
            if "uploadId" in query or "partNumber" in query:
                if call.request.getHeader(b"x-amz-copy-source") is not None:
                    return self.uploadPartCopy
                return self.uploadPart
            if call.request.getHeader(b"x-amz-copy-source") is not None:
                return self.copyObject
            return self.putObject
        if method == "DELETE":
            if "uploadId" in query:
                return self.abortMultipartUpload
            if "tagging" in query:
                return self._deleteAbsentConfiguration
            return self.deleteObject
        if "uploads" in query:
            return self.createMultipartUpload
        if "uploadId" in query:
            return self.completeMultipartUpload
        raise errors.MethodNotAllowed(Method=method, ResourceType="OBJECT")

    # Helpers

    def _header(self, call, name):
        value = call.request.getHeader(name.encode("ascii"))
        if value is None:
            return None
        return value.decode("utf-8", "surrogateescape")

    def _headers(self, call):
        headers = {}
        for name, values in call.request.requestHeaders.getAllRawHeaders():
            headers[name.decode("latin-1").lower()] = ",".join(
                v.decode("utf-8", "surrogateescape") for v in values
            )
        return headers

    def _requireAuthenticated(self, call):
        if call.context is None:
            raise errors.AccessDenied()

    async def _bucket(self, call, permission):
        info = await self.store.getBucket(call.bucket)
        if not common.isAllowed(call.context, info.owner, info.acl, permission):
            raise errors.AccessDenied()
        return info

    def _aclFromHeaders(self, call, bucketOwner=None):
        """
        @return: the L{Grant}s that C{x-amz-acl} or C{x-amz-grant-*} ask
            for, or C{None} when neither is given.
        """
        headers = self._headers(call)
        canned = headers.get("x-amz-acl")
        grants = parseGrantHeaders(headers)
        if canned is not None and grants:
            raise errors.InvalidRequest(
                "Specifying both Canned ACLs and Header Grants is not allowed"
            )
        if canned is not None:
            return common.cannedACL(canned.strip(), bucketOwner)
        if grants:
            return tuple(grants)
        return None

    def _settingsFromHeaders(self, call, bucketOwner):
        headers = self._headers(call)
        metadata = {}
        size = 0
        for name, value in headers.items():
            if name.startswith("x-amz-meta-"):
                metadata[name[11:]] = value
                size += len(name) - 11 + len(value.encode("utf-8", "surrogateescape"))
        if size > _MAX_METADATA:
            raise errors.MetadataTooLarge(Size=str(size), MaxSizeAllowed=str(_MAX_METADATA))
        stored = {}
        for name in _STORED_HEADERS:
            value = headers.get(name.lower())
            if value is None:
                continue
            if name == "Content-Encoding":
                codings = [c.strip() for c in value.split(",") if c.strip().lower() != "aws-chunked"]
                value = ",".join(c for c in codings if c)
                if not value:
                    continue
            stored[name] = value
        return ObjectSettings(
            owner=_ownerOf(call.context),
            acl=self._aclFromHeaders(call, bucketOwner) or (),
            contentType=headers.get("content-type") or "binary/octet-stream",
            headers=stored,
            metadata=metadata,
        )

    def _requestBody(self, call):
        """
        @return: a L{RequestBody} over the request's buffered body.
        """
        request = call.request
        headers = self._headers(call)
        verification = call.verification
        decoder = verification.chunkDecoder if verification is not None else None
        payloadHash = verification.payloadHash if verification is not None else None
        sha256 = payloadHash if payloadHash and _HEX64.match(payloadHash) else None
        lengthText = headers.get("x-amz-decoded-content-length") if decoder else None
        if lengthText is None:
            lengthText = headers.get("content-length")
        if lengthText is None and "chunked" not in headers.get("transfer-encoding", "").lower():
            raise errors.MissingContentLength()
        if lengthText is not None:
            try:
                declared = int(lengthText)
            except ValueError:
                raise errors.InvalidArgument(ArgumentName="Content-Length", ArgumentValue=lengthText)
            if declared > common.MAX_PUT_SIZE:
                raise errors.EntityTooLarge(
                    ProposedSize=str(declared), MaxSizeAllowed=str(common.MAX_PUT_SIZE)
                )
        content = request.content
        content.seek(0)
        return RequestBody(
            content,
            decoder=decoder,
            contentMD5=parseContentMD5(headers.get("content-md5")),
            sha256=sha256,
            checksums=parseChecksums(headers),
        )

    def _smallBody(self, call):
        """
        Read a request document (XML), checked like any body, refusing one
        over L{s3xml.MAX_XML_BODY}.
        """
        body = self._requestBody(call)
        pieces, size = [], 0
        while True:
            chunk = body.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > s3xml.MAX_XML_BODY:
                raise errors.MalformedXML()
            pieces.append(chunk)
        body.finish()
        return b"".join(pieces)

    def _objectHeaders(self, call, info, checksums=True):
        settings = info.settings
        headers = [
            ("ETag", s3xml.quoteETag(info.etag)),
            ("Last-Modified", httpDate(info.lastModified)),
            ("Accept-Ranges", "bytes"),
            ("Content-Type", settings.contentType),
        ]
        for name in _STORED_HEADERS:
            if name in settings.headers:
                headers.append((name, settings.headers[name]))
        for name, value in sorted(settings.metadata.items()):
            headers.append(("x-amz-meta-" + name, value))
        if checksums and (self._header(call, "x-amz-checksum-mode") or "").upper() == "ENABLED":
            for algorithm, value in sorted(settings.checksums.items()):
                headers.append(("x-amz-checksum-" + algorithm.lower(), value))
        return headers

    def _checkReadConditions(self, call, info):
        ifMatch = self._header(call, "if-match")
        ifNoneMatch = self._header(call, "if-none-match")
        ifModifiedSince = self._header(call, "if-modified-since")
        ifUnmodifiedSince = self._header(call, "if-unmodified-since")
        modified = int(info.lastModified)
        if ifMatch is not None:
            if not etagMatches(ifMatch, info.etag):
                raise errors.PreconditionFailed(Condition="If-Match")
        elif ifUnmodifiedSince is not None:
            since = parseHTTPDate(ifUnmodifiedSince)
            if since is not None and modified > since:
                raise errors.PreconditionFailed(Condition="If-Unmodified-Since")
        notModified = False
        if ifNoneMatch is not None:
            notModified = etagMatches(ifNoneMatch, info.etag)
        elif ifModifiedSince is not None:
            since = parseHTTPDate(ifModifiedSince)
            notModified = since is not None and since <= time.time() and modified <= since
        if notModified:
            error = errors.NotModified()
            error.responseHeaders = [
                ("ETag", s3xml.quoteETag(info.etag)),
                ("Last-Modified", httpDate(info.lastModified)),
            ]
            raise error

    def _copySourceConditions(self, call, info):
        ifMatch = self._header(call, "x-amz-copy-source-if-match")
        ifNoneMatch = self._header(call, "x-amz-copy-source-if-none-match")
        ifModifiedSince = self._header(call, "x-amz-copy-source-if-modified-since")
        ifUnmodifiedSince = self._header(call, "x-amz-copy-source-if-unmodified-since")
        modified = int(info.lastModified)
        if ifMatch is not None and not etagMatches(ifMatch, info.etag):
            raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-Match")
        if ifNoneMatch is not None and etagMatches(ifNoneMatch, info.etag):
            raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-None-Match")
        if ifUnmodifiedSince is not None and ifMatch is None:
            since = parseHTTPDate(ifUnmodifiedSince)
            if since is not None and modified > since:
                raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-Unmodified-Since")
        if ifModifiedSince is not None and ifNoneMatch is None:
            since = parseHTTPDate(ifModifiedSince)
            if since is not None and modified <= since:
                raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-Modified-Since")

    def _writeConditions(self, call):
        ifMatch = self._header(call, "if-match")
        ifNoneMatch = self._header(call, "if-none-match")
        if ifNoneMatch is not None and ifNoneMatch.strip() != "*":
            raise errors.NotImplemented_(
                "A header you provided implies functionality that is not implemented",
                Header="If-None-Match",
            )
        if ifMatch is None and ifNoneMatch is None:
            return None
        return WriteConditions(
            ifMatch=ifMatch.strip() if ifMatch else None,
            ifNoneMatch=ifNoneMatch.strip() if ifNoneMatch else None,
        )

    def _partNumber(self, call):
        value = call.query.get("partNumber")
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if not 1 <= number <= common.MAX_PART_NUMBER:
            raise errors.InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=value,
            )
        return number

    # Service

    async def listBuckets(self, call):
        self._requireAuthenticated(call)
        buckets = await self.store.listBuckets()
        context = call.context
        owner = _ownerOf(context)
        if not context.isAdmin:
            buckets = [b for b in buckets if b.owner == owner]
        return Response(200, [("Content-Type", "application/xml")], s3xml.listBuckets(owner, buckets))

    # Buckets

    async def createBucket(self, call):
        self._requireAuthenticated(call)
        owner = _ownerOf(call.context)
        common.checkNewBucketName(call.bucket)
        acl = self._aclFromHeaders(call) or ()
        location = s3xml.parseCreateBucket(self._smallBody(call))
        try:
            await self.store.createBucket(call.bucket, owner, acl, location)
        except errors.BucketAlreadyExists as e:
            if getattr(e, "existingOwner", None) == owner:
                raise errors.BucketAlreadyOwnedByYou(BucketName=call.bucket)
            raise
        return Response(200, [("Location", "/" + call.bucket)], b"")

    async def headBucket(self, call):
        await self._bucket(call, "READ")
        return Response(200, [("x-amz-bucket-region", "us-east-1")], b"")

    async def deleteBucket(self, call):
        self._requireAuthenticated(call)
        info = await self.store.getBucket(call.bucket)
        if not common.isAllowed(call.context, info.owner, (), "FULL_CONTROL"):
            raise errors.AccessDenied()
        await self.store.deleteBucket(call.bucket)
        return Response(204, [], b"")

    async def getBucketLocation(self, call):
        info = await self._bucket(call, "READ")
        return Response(200, [("Content-Type", "application/xml")], s3xml.location(info.location))

    async def getBucketVersioning(self, call):
        await self._bucket(call, "READ")
        return Response(200, [("Content-Type", "application/xml")], s3xml.versioning())

    def _absentConfiguration(self, error):
        async def handler(call):
            await self._bucket(call, "READ")
            raise error(BucketName=call.bucket)

        return handler

    async def _deleteAbsentConfiguration(self, call):
        bucketInfo = await self._bucket(call, "WRITE")
        if call.key is not None:
            await self._readableObject(call, bucketInfo)
        return Response(204, [], b"")

    async def getBucketACL(self, call):
        info = await self._bucket(call, "READ_ACP")
        return Response(
            200,
            [("Content-Type", "application/xml")],
            s3xml.accessControlPolicy(info.owner, info.acl),
        )

    def _aclFromRequest(self, call, owner, bucketOwner=None):
        acl = self._aclFromHeaders(call, bucketOwner)
        body = self._smallBody(call)
        if acl is not None:
            if body.strip():
                raise errors.UnexpectedContent()
            return acl
        if not body.strip():
            raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")
        _, grants = s3xml.parseAccessControlPolicy(body)
        common.checkGrants(grants)
        ownerGrant = Grant("CanonicalUser", owner, "FULL_CONTROL")
        return tuple(g for g in grants if g != ownerGrant)

    async def putBucketACL(self, call):
        info = await self._bucket(call, "WRITE_ACP")
        acl = self._aclFromRequest(call, info.owner)
        await self.store.setBucketACL(call.bucket, acl)
        return Response(200, [], b"")

    async def listObjects(self, call):
        await self._bucket(call, "READ")
        query = call.query
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        marker = query.get("marker", "")
        maxKeys = _intParameter(query, "max-keys", _MAX_KEYS, 0, _MAX_KEYS)
        encodingType = _encodingType(query)
        result = await self.store.listObjects(call.bucket, prefix, delimiter, marker, maxKeys)
        body = s3xml.listObjects(
            call.bucket, result, prefix, delimiter, marker, maxKeys, encodingType
        )
        return Response(200, [("Content-Type", "application/xml")], body)

    async def listObjectsV2(self, call):
        await self._bucket(call, "READ")
        query = call.query
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        startAfter = query.get("start-after", "")
        token = query.get("continuation-token")
        maxKeys = _intParameter(query, "max-keys", _MAX_KEYS, 0, _MAX_KEYS)
        encodingType = _encodingType(query)
        fetchOwner = query.get("fetch-owner", "").lower() == "true"
        if token is not None:
            if token == "":
                raise errors.InvalidArgument(
                    "The continuation token provided is incorrect",
                    ArgumentName="continuation-token",
                )
            marker = _decodeToken(token)
        else:
            marker = startAfter
        result = await self.store.listObjects(call.bucket, prefix, delimiter, marker, maxKeys)
        nextToken = _encodeToken(result.nextMarker) if result.isTruncated else None
        body = s3xml.listObjectsV2(
            call.bucket,
            result,
            prefix,
            delimiter,
            maxKeys,
            encodingType,
            token,
            nextToken,
            startAfter,
            fetchOwner,
        )
        return Response(200, [("Content-Type", "application/xml")], body)

    async def deleteObjects(self, call):
        await self._bucket(call, "WRITE")
        quiet, keys = s3xml.parseDelete(self._smallBody(call))
        deleted, failed = [], []
        for key in keys:
            try:
                common.checkKey(key)
                await self.store.deleteObject(call.bucket, key)
            except errors.S3Error as e:
                failed.append((key, e.s3Code, e.message))
            else:
                deleted.append(key)
        return Response(
            200, [("Content-Type", "application/xml")], s3xml.deleteResult(deleted, failed, quiet)
        )

    async def listMultipartUploads(self, call):
        await self._bucket(call, "READ")
        query = call.query
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        keyMarker = query.get("key-marker", "")
        uploadIdMarker = query.get("upload-id-marker", "")
        maxUploads = _intParameter(query, "max-uploads", 1000, 0, 1000)
        encodingType = _encodingType(query)
        result = await self.store.listMultipartUploads(
            call.bucket, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads
        )
        body = s3xml.listMultipartUploads(
            call.bucket, result, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads, encodingType
        )
        return Response(200, [("Content-Type", "application/xml")], body)

    # Objects

    async def _readableObject(self, call, bucketInfo, permission="READ"):
        """
        @return: the L{ObjectInfo} of the key, if the caller may read it.
        """
        try:
            info = await self.store.getObjectInfo(call.bucket, call.key)
        except errors.NoSuchKey:
            if not common.isAllowed(call.context, bucketInfo.owner, bucketInfo.acl, "READ"):
                raise errors.AccessDenied()
            raise errors.NoSuchKey(Key=call.key)
        if not common.isAllowed(call.context, info.owner, info.acl, permission, bucketInfo.owner):
            raise errors.AccessDenied()
        return info

    async def getObject(self, call):
        bucketInfo = await self.store.getBucket(call.bucket)
        common.checkKey(call.key)
        try:
            reader = await self.store.openObject(call.bucket, call.key)
        except errors.NoSuchKey:
            if not common.isAllowed(call.context, bucketInfo.owner, bucketInfo.acl, "READ"):
                raise errors.AccessDenied()
            raise errors.NoSuchKey(Key=call.key)
        try:
            return self._objectResponse(call, bucketInfo, reader)
        except BaseException:
            reader.close()
            raise

    def _objectResponse(self, call, bucketInfo, reader):
        info = reader.info
        if not common.isAllowed(call.context, info.owner, info.acl, "READ", bucketInfo.owner):
            raise errors.AccessDenied()
        overrides = [name for name in _RESPONSE_OVERRIDES if name in call.query]
        if overrides and call.context is None:
            raise errors.InvalidRequest(
                "Request specific response headers cannot be used for anonymous GET requests."
            )
        self._checkReadConditions(call, info)
        rangeHeader = self._header(call, "range")
        status, offset, length = 200, 0, info.size
        extra = []
        full = True
        if "partNumber" in call.query:
            if rangeHeader is not None:
                raise errors.InvalidRequest(
                    "Cannot specify both Range header and partNumber query parameter"
                )
            number = self._partNumber(call)
            sizes = info.partSizes or (info.size,)
            if number > len(sizes):
                error = errors.InvalidRange("The requested partnumber is not satisfiable")
                error.s3Code = "InvalidPartNumber"
                raise error
            offset = sum(sizes[: number - 1])
            length = sizes[number - 1]
            status = 206
            full = len(sizes) == 1
            extra.append(("Content-Range", f"bytes {offset}-{offset + length - 1}/{info.size}"))
            if "-" in info.etag:
                extra.append(("x-amz-mp-parts-count", str(len(sizes))))
        elif rangeHeader is not None:
            chosen = parseRange(rangeHeader, info.size)
            if chosen is not None:
                first, last = chosen
                offset, length = first, last - first + 1
                status = 206
                full = length == info.size
                extra.append(("Content-Range", f"bytes {first}-{last}/{info.size}"))
        headers = self._objectHeaders(call, info, checksums=full) + extra
        if overrides:
            replaced = {_RESPONSE_OVERRIDES[name] for name in overrides}
            headers = [(n, v) for n, v in headers if n not in replaced]
            headers.extend((_RESPONSE_OVERRIDES[n], call.query[n]) for n in overrides)
        return Response(status, headers, None, reader, offset, length)

    async def putObject(self, call):
        bucketInfo = await self._bucket(call, "WRITE")
        common.checkKey(call.key)
        settings = self._settingsFromHeaders(call, bucketInfo.owner)
        conditions = self._writeConditions(call)
        body = self._requestBody(call)
        info = await self.store.putObject(call.bucket, call.key, body, settings, conditions)
        headers = [("ETag", s3xml.quoteETag(info.etag))]
        for algorithm, value in sorted(info.settings.checksums.items()):
            headers.append(("x-amz-checksum-" + algorithm.lower(), value))
        return Response(200, headers, b"")

    async def deleteObject(self, call):
        await self._bucket(call, "WRITE")
        common.checkKey(call.key)
        await self.store.deleteObject(call.bucket, call.key)
        return Response(204, [], b"")

    async def _copySource(self, call):
        srcBucket, srcKey = parseCopySource(self._header(call, "x-amz-copy-source"))
        common.checkKey(srcKey)
        srcInfo = await self.store.getBucket(srcBucket)
        return srcBucket, srcKey, srcInfo

    def _checkSourceReadable(self, call, srcBucketInfo, info):
        if not common.isAllowed(call.context, info.owner, info.acl, "READ", srcBucketInfo.owner):
            raise errors.AccessDenied()

    async def copyObject(self, call):
        bucketInfo = await self._bucket(call, "WRITE")
        common.checkKey(call.key)
        srcBucket, srcKey, srcBucketInfo = await self._copySource(call)
        directive = (self._header(call, "x-amz-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise errors.InvalidArgument(
                "Unknown metadata directive.",
                ArgumentName="x-amz-metadata-directive",
                ArgumentValue=directive,
            )
        replacing = self._settingsFromHeaders(call, bucketInfo.owner)
        aclGiven = self._aclFromHeaders(call, bucketInfo.owner) is not None
        storageClass = self._header(call, "x-amz-storage-class")
        sameObject = srcBucket == call.bucket and srcKey == call.key

        def prepare(sourceInfo):
            self._checkSourceReadable(call, srcBucketInfo, sourceInfo)
            self._copySourceConditions(call, sourceInfo)
            if sameObject and directive == "COPY" and not aclGiven and storageClass is None:
                raise errors.InvalidRequest(
                    "This copy request is illegal because it is trying to copy an object "
                    "to itself without changing the object's metadata, storage class, "
                    "website redirect location or encryption attributes."
                )
            if directive == "REPLACE":
                return replacing
            return attr.evolve(
                sourceInfo.settings, owner=replacing.owner, acl=replacing.acl
            )

        try:
            info = await self.store.copyObject(srcBucket, srcKey, call.bucket, call.key, prepare)
        except errors.NoSuchKey:
            raise errors.NoSuchKey(Key=srcKey)
        return Response(
            200,
            [("Content-Type", "application/xml")],
            s3xml.copyResult("CopyObjectResult", info.etag, info.lastModified),
        )

    async def getObjectACL(self, call):
        bucketInfo = await self.store.getBucket(call.bucket)
        info = await self._readableObject(call, bucketInfo, "READ_ACP")
        return Response(
            200,
            [("Content-Type", "application/xml")],
            s3xml.accessControlPolicy(info.owner, info.acl),
        )

    async def putObjectACL(self, call):
        bucketInfo = await self.store.getBucket(call.bucket)
        info = await self._readableObject(call, bucketInfo, "WRITE_ACP")
        acl = self._aclFromRequest(call, info.owner, bucketInfo.owner)
        await self.store.setObjectACL(call.bucket, call.key, acl)
        return Response(200, [], b"")

    async def getObjectTagging(self, call):
        bucketInfo = await self.store.getBucket(call.bucket)
        await self._readableObject(call, bucketInfo)
        return Response(200, [("Content-Type", "application/xml")], s3xml.emptyTagging())

    # Multipart uploads

    async def createMultipartUpload(self, call):
        bucketInfo = await self._bucket(call, "WRITE")
        common.checkKey(call.key)
        settings = self._settingsFromHeaders(call, bucketInfo.owner)
        upload = await self.store.createMultipartUpload(call.bucket, call.key, settings)
        headers = [("Content-Type", "application/xml")]
        algorithm = self._header(call, "x-amz-checksum-algorithm")
        if algorithm:
            headers.append(("x-amz-checksum-algorithm", algorithm.upper()))
        return Response(
            200, headers, s3xml.initiateMultipartUpload(call.bucket, call.key, upload.uploadId)
        )

    async def uploadPart(self, call):
        await self._bucket(call, "WRITE")
        number = self._partNumber(call)
        uploadId = call.query.get("uploadId", "")
        await self.store.getMultipartUpload(call.bucket, call.key, uploadId)
        body = self._requestBody(call)
        part = await self.store.uploadPart(call.bucket, call.key, uploadId, number, body)
        headers = [("ETag", s3xml.quoteETag(part.etag))]
        for algorithm, value in sorted(part.checksums.items()):
            headers.append(("x-amz-checksum-" + algorithm.lower(), value))
        return Response(200, headers, b"")

    async def uploadPartCopy(self, call):
        await self._bucket(call, "WRITE")
        number = self._partNumber(call)
        uploadId = call.query.get("uploadId", "")
        await self.store.getMultipartUpload(call.bucket, call.key, uploadId)
        srcBucket, srcKey, srcBucketInfo = await self._copySource(call)
        rangeHeader = self._header(call, "x-amz-copy-source-range")

        def prepare(sourceInfo):
            self._checkSourceReadable(call, srcBucketInfo, sourceInfo)
            self._copySourceConditions(call, sourceInfo)
            if rangeHeader is None:
                return 0, sourceInfo.size
            match = re.fullmatch(r"\s*bytes=(\d+)-(\d+)\s*", rangeHeader)
            if match is None or int(match.group(2)) < int(match.group(1)):
                raise errors.InvalidArgument(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last "
                    "where first and last are the zero-based offsets of the first and last "
                    "bytes to copy",
                    ArgumentName="x-amz-copy-source-range",
                    ArgumentValue=rangeHeader,
                )
            first, last = int(match.group(1)), int(match.group(2))
            if last >= sourceInfo.size:
                raise errors.InvalidRange(
                    RangeRequested=rangeHeader, ActualObjectSize=str(sourceInfo.size)
                )
            return first, last - first + 1

        try:
            part = await self.store.uploadPartCopy(
                call.bucket, call.key, uploadId, number, srcBucket, srcKey, prepare
            )
        except errors.NoSuchKey:
            raise errors.NoSuchKey(Key=srcKey)
        return Response(
            200,
            [("Content-Type", "application/xml")],
            s3xml.copyResult("CopyPartResult", part.etag, part.lastModified),
        )

    async def listParts(self, call):
        await self._bucket(call, "WRITE")
        uploadId = call.query.get("uploadId", "")
        marker = _intParameter(call.query, "part-number-marker", 0)
        maxParts = _intParameter(call.query, "max-parts", 1000, 0, 1000)
        upload = await self.store.getMultipartUpload(call.bucket, call.key, uploadId)
        result = await self.store.listParts(call.bucket, call.key, uploadId, marker, maxParts)
        body = s3xml.listParts(call.bucket, call.key, upload, result, marker, maxParts)
        return Response(200, [("Content-Type", "application/xml")], body)

    async def completeMultipartUpload(self, call):
        await self._bucket(call, "WRITE")
        uploadId = call.query.get("uploadId", "")
        await self.store.getMultipartUpload(call.bucket, call.key, uploadId)
        parts = s3xml.parseCompleteMultipartUpload(self._smallBody(call))
        conditions = self._writeConditions(call)
        info = await self.store.completeMultipartUpload(
            call.bucket, call.key, uploadId, parts, conditions
        )
        host = call.host or "localhost"
        if call.virtual:
            location = f"http://{host}/{quote(call.key.encode('utf-8'))}"
        else:
            location = f"http://{host}/{call.bucket}/{quote(call.key.encode('utf-8'))}"
        return Response(
            200,
            [("Content-Type", "application/xml")],
            s3xml.completeMultipartUpload(location, call.bucket, call.key, info.etag),
        )

    async def abortMultipartUpload(self, call):
        await self._bucket(call, "WRITE")
        uploadId = call.query.get("uploadId", "")
        await self.store.abortMultipartUpload(call.bucket, call.key, uploadId)
        return Response(204, [], b"")
