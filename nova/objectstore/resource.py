# -*- test-case-name: tests.objectstore.test_resource,tests.objectstore.test_fidelity -*-
"""
The S3 API as a C{twisted.web} resource.

L{S3Resource} serves every request of the port: L{nova.objectstore.router}
works out what it addresses (path-style C{/bucket/key}, or virtual-hosted
style with the bucket in the C{Host} header), the request is authenticated
through an L{IS3Authenticator}, and the router's handler (one coroutine per
operation, in L{nova.objectstore.handlers}) checks the owner and grants of
what is asked for and calls the L{IObjectStore}.

Every handler returns a L{Response}; any failure of it goes through
L{S3Resource.errorResponse}, the one place that turns errors into S3 error
documents (the database or the message broker being unreachable is
C{ServiceUnavailable}, 503, logged once per outage by the resource's
L{OutageLog}), and the answer is written only while the client is still
connected.  Object bodies stream from the store through L{ObjectProducer},
a push producer that reads the next chunk only when the connection wants
more.

The names other modules import from here (L{Response}, L{httpDate},
L{parseRange}, ...) live in L{nova.objectstore.call},
L{nova.objectstore.conditions} and the handler modules; this module
re-exports them.
"""

import base64
import os
import tempfile
import time

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.web.http import RESPONSES, HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import implementer

from nova.auth.signer import partsFromTwistedRequest
from nova.objectstore import common, errors, router, s3xml
from nova.objectstore.auth import canonicalUsersOf
from nova.objectstore.call import Response, S3Call, newRequestId
from nova.objectstore.conditions import etagMatches, httpDate, parseHTTPDate, parseRange
from nova.objectstore.handlers.acls import parseGrantHeaders
from nova.objectstore.handlers.objects import parseCopySource
from nova.util.addresses import clientAddress, parseTrustedProxies
from nova.util.outage import OutageLog

__all__ = [
    "CHUNK_SIZE",
    "IN_MEMORY_BODY",
    "ObjectProducer",
    "Response",
    "S3Call",
    "S3Channel",
    "S3Request",
    "S3Resource",
    "StagingFile",
    "etagMatches",
    "httpDate",
    "makeSite",
    "newRequestId",
    "parseCopySource",
    "parseGrantHeaders",
    "parseHTTPDate",
    "parseRange",
]

log = Logger()

CHUNK_SIZE = 1024 * 1024
# Bodies up to this size are kept in memory by twisted.web; larger ones go
# to a temporary file.
IN_MEMORY_BODY = 100000

# The name this module's request state had; tests and reserved routes
# built against it keep working.
_Call = S3Call


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


class S3Channel(HTTPChannel):
    """
    An HTTP channel that refuses what it cannot serve with an S3 error
    document rather than a bare C{400 Bad Request}: a request it cannot
    parse (a malformed request line, header or C{Content-Length}:
    C{BadRequest}), a header section over C{totalHeadersSize}
    (C{RequestHeaderSectionTooLarge}), a body declared larger than a single
    PUT may be (C{EntityTooLarge}, answered at once rather than after
    reading it).  The connection is then closed and whatever else the
    client sent is dropped.

    @ivar maxContentLength: the largest body a request may declare.
    @ivar lingerTimeout: seconds to wait, after answering an error, for the
        client to close the connection.
    """

    maxContentLength = common.MAX_PUT_SIZE
    lingerTimeout = 10
    _refused = False

    def _refuse(self, error, resource=None):
        """
        Answer C{error} and close the connection.

        @param error: an L{errors.S3Error}.
        @param resource: the path requested, when it is known.
        """
        if self._refused:
            return
        self._refused = True
        requestId = newRequestId()
        body = s3xml.errorDocument(
            error.s3Code, error.message, resource, requestId, error.extra
        )
        status = error.httpStatus
        head = [
            b"HTTP/1.1 %d %s" % (status, RESPONSES.get(status, b"Error")),
            b"Server: NovaObjectStore",
            b"Date: " + httpDate(time.time()).encode("ascii"),
            b"x-amz-request-id: " + requestId.encode("ascii"),
            b"Content-Type: application/xml",
            b"Content-Length: %d" % (len(body),),
            b"Connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        # Close only our side, then read and drop what the client still
        # sends until it closes too (or lingerTimeout passes): closing with
        # its data unread would reset the connection, and the client could
        # lose the answer.
        try:
            self.transport.loseWriteConnection()
        except AttributeError:
            self.loseConnection()
            return
        self.setTimeout(self.lingerTimeout)

    def _respondToBadRequestAndDisconnect(self):
        # HTTPChannel calls this for every request it cannot parse.
        self._refuse(errors.BadRequest())

    def dataReceived(self, data):
        if not self._refused:
            HTTPChannel.dataReceived(self, data)

    def rawDataReceived(self, data):
        if not self._refused:
            HTTPChannel.rawDataReceived(self, data)

    def lineLengthExceeded(self, line):
        self._refuse(errors.RequestHeaderSectionTooLarge(MaxSizeAllowed=str(self.totalHeadersSize)))

    def lineReceived(self, line):
        if self._refused:
            return
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._refuse(errors.RequestHeaderSectionTooLarge(MaxSizeAllowed=str(self.totalHeadersSize)))
            return
        HTTPChannel.lineReceived(self, line)

    def allHeadersReceived(self):
        if self._refused:
            return
        if self.length is not None and self.length > self.maxContentLength:
            path = (getattr(self, "_path", None) or b"").split(b"?", 1)[0]
            self._refuse(
                errors.EntityTooLarge(
                    ProposedSize=str(self.length), MaxSizeAllowed=str(self.maxContentLength)
                ),
                path.decode("utf-8", "replace"),
            )
            return
        HTTPChannel.allHeadersReceived(self)


def makeSite(resource, stagingDirectory=None, siteClass=Site, **kwargs):
    """
    @param resource: the L{S3Resource}.
    @param stagingDirectory: where request bodies are buffered (the store's
        C{stagingDirectory}, if it has one), or C{None} for the system's
        temporary directory.
    @param siteClass: the L{Site} class to build.
    @return: a L{Site} serving C{resource} over L{S3Channel}s, never
        showing tracebacks.
    """
    factory = type("S3Request", (S3Request,), {"stagingDirectory": stagingDirectory})
    site = siteClass(resource, requestFactory=factory, **kwargs)
    site.protocol = S3Channel
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

    @ivar reservedRoutes: a mapping from a first path segment that cannot
        be a bucket's name to its handler (see L{__init__}).
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
        canonicalUsers=None,
        trustedProxies=(),
        outages=None,
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
        @param canonicalUsers: the L{ICanonicalUsers} grants may name; when
            C{None}, the authenticator's (L{canonicalUsersOf}), and grants
            are not checked if it has none.
        @param trustedProxies: C{--metadata_trusted_proxies}: peers whose
            C{X-Forwarded-For} names the client whose failed signatures
            are counted (L{nova.util.addresses.clientAddress}).
        @param outages: the L{OutageLog} (one of its own if L{None}).
        """
        Resource.__init__(self)
        self.store = store
        self.authenticator = authenticator
        self.endpointHosts = {h.lower() for h in endpointHosts}
        self.virtualHostSuffixes = tuple(s.lower().strip(".") for s in virtualHostSuffixes if s)
        self.cnameBuckets = cnameBuckets
        self.chunkSize = chunkSize
        self.reservedRoutes = dict(reservedRoutes or {})
        if canonicalUsers is None:
            canonicalUsers = canonicalUsersOf(authenticator)
        self.canonicalUsers = canonicalUsers
        self.trustedProxies = parseTrustedProxies(trustedProxies)
        self.outages = outages if outages is not None else OutageLog("S3")

    # Rendering

    def render(self, request):
        call = S3Call(
            request, newRequestId(), store=self.store, canonicalUsers=self.canonicalUsers
        )
        request.defaultContentType = None
        request.setHeader(b"x-amz-request-id", call.requestId.encode("ascii"))
        request.setHeader(b"x-amz-id-2", base64.b64encode(os.urandom(24)))
        request.setHeader(b"server", b"NovaObjectStore")

        def lost(failure):
            call.lost = True

        request.notifyFinish().addErrback(lost)
        d = Deferred.fromCoroutine(self.handle(call))
        d.addCallbacks(self._succeeded, self.errorResponse, errbackArgs=(call,))
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
        if self.outages.failed(failure):
            # The database or the message broker cannot be reached: a
            # 503 clients retry, logged once per outage, without the cause.
            error = errors.ServiceUnavailable()
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

    def _succeeded(self, response):
        if response.status < 400:
            self.outages.succeeded()
        return response

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

    def route(self, call):
        """
        Work out the bucket, key and query of a request (see
        L{router.locate}).
        """
        router.locate(call, self.endpointHosts, self.virtualHostSuffixes, self.cnameBuckets)

    async def handle(self, call):
        """
        Handle one request.

        @return: a L{Response}.
        """
        self.route(call)
        parts = partsFromTwistedRequest(call.request)
        call.context, call.verification = await self._authenticate(call, parts)
        handler = router.handlerFor(call, self.reservedRoutes)
        return await handler(call)

    def _authenticate(self, call, parts):
        return self.authenticator.authenticateS3(
            parts,
            remoteAddress=clientAddress(call.request, self.trustedProxies),
            requestId=call.requestId,
            virtualBucket=call.bucket if call.virtual else None,
        )
