# -*- test-case-name: tests.image.test_fetch -*-
"""
How a compute host gets an image's bytes: L{ImageFetcher} downloads
C{/_images/<image id>} from nova-objectstore over HTTP (C{--s3_host},
C{--s3_port}), so compute hosts need no shared file system.

The request is signed with S3 signature version 4 using the keys of the
user the context names (the instance's owner), acting in the context's
project (access key C{access:project}), looked up through the
L{nova.auth.manager.AuthManager} as Nova did; the object store then checks
that this project may launch the image, exactly as for any other request
of that user.  No key beyond the users' own is needed, and a compute host
can fetch only images the instance's project could launch anyway.

The body streams to a temporary file beside the destination (written in a
thread, one chunk at a time, with the connection paused while the disk is
behind), is checked against the image's size and SHA-256 digest recorded
at registration, and only then renamed to the destination: the destination
holds the whole, verified image or nothing.
"""

import hashlib
import hmac
import os
import re
import uuid
from datetime import datetime, timezone

import attr
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Protocol
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.web.client import Agent, ResponseDone, readBody
from twisted.web.http_headers import Headers

from nova import exception
from nova.auth import signer
from nova.db.images import AVAILABLE
from nova.image.catalog import ImageCatalog
from nova.image.errors import (
    ImageChecksumMismatch,
    ImageFetchError,
    ImageNotAvailable,
    ImageNotFound,
)
from nova.image.serve import IMAGES_SEGMENT
from nova.util.files import unlinkQuietly

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Bytes buffered in memory before the connection is paused, and the level
# below which it resumes.
_HIGH_WATER = 4 * 1024 * 1024
_LOW_WATER = 1024 * 1024
_MAX_ERROR_BODY = 64 * 1024


def signRequest(method, host, path, accessKey, secretKey, now, region="us-east-1"):
    """
    Sign an S3 request without a body with signature version 4.

    @param host: the C{Host} header to send (with the port).
    @param path: the path, already percent-encoded; no query.
    @param now: seconds since the epoch.
    @return: a L{dict} of the headers to send (C{Host}, C{x-amz-date},
        C{x-amz-content-sha256}, C{Authorization}).
    """
    moment = datetime.fromtimestamp(int(now), timezone.utc)
    timestamp = moment.strftime("%Y%m%dT%H%M%SZ")
    date = timestamp[:8]
    headers = {"host": host, "x-amz-content-sha256": _EMPTY_SHA256, "x-amz-date": timestamp}
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{name}:{headers[name]}\n" for name in names),
            ";".join(names),
            _EMPTY_SHA256,
        ]
    )
    scope = f"{date}/{region}/s3/aws4_request"
    toSign = "\n".join(
        ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = signer.signingKey(secretKey, date, region, "s3")
    signature = hmac.new(key, toSign.encode("utf-8"), hashlib.sha256).hexdigest()
    return {
        "Host": host,
        "x-amz-date": timestamp,
        "x-amz-content-sha256": _EMPTY_SHA256,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={accessKey}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        ),
    }


class AuthManagerCredentials:
    """
    The keys a compute host signs with: those of the context's user,
    acting in the context's project, from the
    L{nova.auth.manager.AuthManager}.
    """

    def __init__(self, authManager):
        self.authManager = authManager

    @inlineCallbacks
    def credentialsFor(self, context):
        """
        @return: L{Deferred} firing with C{(accessKey, secretKey)}; the
            access key is C{access:project}.
        """
        if context.userId is None or context.projectId is None:
            raise exception.NotAuthorized("fetching an image needs a user and a project")
        user = yield self.authManager.getUser(context.userId)
        return f"{user.accessKey}:{context.projectId}", user.secretKey


@attr.s
class StaticCredentials:
    """
    Fixed keys (for tests and single-user tools).
    """

    accessKey = attr.ib()
    secretKey = attr.ib(repr=False)

    def credentialsFor(self, context):
        from twisted.internet.defer import succeed

        return succeed((self.accessKey, self.secretKey))


@attr.s(frozen=True)
class FetchedImage:
    """
    @ivar path: where the image now is.
    @ivar record: its L{nova.db.images.ImageRecord}.
    @ivar size: bytes written.
    @ivar sha256: their SHA-256 hex digest (checked against the record).
    """

    path = attr.ib()
    record = attr.ib()
    size = attr.ib()
    sha256 = attr.ib()


class _FileSink(Protocol):
    """
    Writes a response body to a file in a thread, one chunk at a time,
    pausing the connection while more than L{_HIGH_WATER} bytes wait.

    @ivar finished: fires with C{None} once everything is written, or fails.
    """

    def __init__(self, output, runInThread, clock, timeout):
        self.output = output
        self.runInThread = runInThread
        self.clock = clock
        self.timeout = timeout
        self.finished = Deferred()
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._pending = []
        self._buffered = 0
        self._writing = False
        self._paused = False
        self._ended = False
        self._error = None
        self._timer = None

    def connectionMade(self):
        self._resetTimer()

    def _resetTimer(self):
        if self._timer is not None and self._timer.active():
            self._timer.reset(self.timeout)
        else:
            self._timer = self.clock.callLater(self.timeout, self._timedOut)

    def _cancelTimer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timedOut(self):
        self._timer = None
        self._fail(ImageFetchError(f"no data from the object store for {self.timeout:g} seconds"))
        self.transport.stopProducing()

    def dataReceived(self, data):
        if self._error is not None:
            return
        self._resetTimer()
        self._pending.append(data)
        self._buffered += len(data)
        if self._buffered >= _HIGH_WATER and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        self._writeMore()

    def _thd_write(self, chunk):
        self.output.write(chunk)
        self.sha256.update(chunk)

    def _writeMore(self):
        if self._writing or self._error is not None:
            return
        if not self._pending:
            if self._ended:
                self._cancelTimer()
                if not self.finished.called:
                    self.finished.callback(None)
            return
        chunk = b"".join(self._pending)
        self._pending = []
        self._buffered = 0
        self._writing = True
        d = self.runInThread(self._thd_write, chunk)

        def written(_):
            self._writing = False
            self.size += len(chunk)
            if self._paused and self._buffered < _LOW_WATER:
                self._paused = False
                self.transport.resumeProducing()
            self._writeMore()

        def failed(failure):
            self._writing = False
            self._fail(ImageFetchError(f"writing the image failed: {failure.getErrorMessage()}"))
            self.transport.stopProducing()

        d.addCallbacks(written, failed)

    def _fail(self, error):
        if self._error is None:
            self._error = error
            self._cancelTimer()
            if not self.finished.called:
                self.finished.errback(error)

    def connectionLost(self, reason):
        if reason.check(ResponseDone):
            self._ended = True
            self._writeMore()
            return
        self._fail(ImageFetchError(f"the download broke off: {reason.getErrorMessage()}"))


class _Discard(Protocol):
    """
    Drops a response body that is not wanted, closing the connection.
    """

    def connectionMade(self):
        self.transport.stopProducing()


def _errorCode(body):
    match = re.search(rb"<Code>([^<]{1,100})</Code>", body)
    return match.group(1).decode("ascii", "replace") if match else None


class ImageFetcher:
    """
    Fetches images from nova-objectstore for a compute host.

    @ivar baseURL: the object store's URL (C{http://s3_host:s3_port}).
    """

    log = Logger()

    def __init__(self, config, db, credentials, reactor, agent=None, baseURL=None, timeout=None):
        """
        @param config: the compute host's configuration (C{s3_host},
            C{s3_port}, C{image_fetch_timeout}).
        @param db: the L{nova.db.api.NovaDatabase}.
        @param credentials: provides C{credentialsFor(context)}, firing with
            C{(accessKey, secretKey)} (L{AuthManagerCredentials}).
        @param reactor: the reactor (connections, threads, time).
        @param agent: an L{IAgent} (a plain L{Agent} when omitted).
        """
        self.catalog = ImageCatalog(db)
        self.credentials = credentials
        self.reactor = reactor
        self.agent = agent if agent is not None else Agent(reactor, connectTimeout=30)
        self.baseURL = (baseURL or f"http://{config.s3_host}:{config.s3_port}").rstrip("/")
        self.timeout = timeout if timeout is not None else config.image_fetch_timeout

    def _runInThread(self, function, *args):
        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), function, *args)

    @inlineCallbacks
    def fetch(self, context, imageId, destinationPath):
        """
        Download an image the context's project may launch.

        @param context: the instance owner's L{nova.context.RequestContext}
            (its user and project).
        @param destinationPath: the file to write; its directory must
            exist.  It is replaced only once the whole image arrived and
            matched its size and SHA-256 digest.
        @return: L{Deferred} firing with a L{FetchedImage}; failing with
            L{ImageNotFound}, L{ImageNotAvailable},
            L{nova.exception.NotAuthorized}, L{ImageChecksumMismatch} or
            L{ImageFetchError} (the object store answered an error, the
            connection failed or broke off, or it stalled for
            C{--image_fetch_timeout} seconds).  Nothing is left at
            C{destinationPath} (nor beside it) on failure.
        """
        record = yield self.catalog.getImage(context, imageId)
        if record.state != AVAILABLE:
            raise ImageNotAvailable(f"Image {imageId} is not available (state {record.state})")
        accessKey, secretKey = yield self.credentials.credentialsFor(context)
        path = f"/{IMAGES_SEGMENT}/{imageId}"
        url = self.baseURL + path
        host = url.split("://", 1)[1].split("/", 1)[0]
        headers = signRequest("GET", host, path, accessKey, secretKey, self.reactor.seconds())
        try:
            response = yield self.agent.request(
                b"GET",
                url.encode("ascii"),
                Headers({name.encode("ascii"): [value.encode("ascii")] for name, value in headers.items()}),
            )
        except Exception as e:
            raise ImageFetchError(f"cannot reach the object store at {self.baseURL}: {e}")
        if response.code != 200:
            body = yield readBody(response)
            raise self._error(imageId, response.code, body[:_MAX_ERROR_BODY])
        temporary = f"{destinationPath}.part-{uuid.uuid4().hex}"
        try:
            output = yield self._runInThread(open, temporary, "xb")
        except OSError as e:
            response.deliverBody(_Discard())
            raise ImageFetchError(f"cannot write {temporary}: {e.strerror or e}")
        sink = _FileSink(output, self._runInThread, self.reactor, self.timeout)
        try:
            response.deliverBody(sink)
            try:
                yield sink.finished
            finally:
                yield self._runInThread(output.close)
            expected = response.headers.getRawHeaders(b"x-nova-image-sha256", [None])[0]
            digest = sink.sha256.hexdigest()
            if isinstance(response.length, int) and response.length != sink.size:
                raise ImageFetchError(
                    f"the download of {imageId} ended after {sink.size} of {response.length} bytes"
                )
            if record.size is not None and sink.size != record.size:
                raise ImageChecksumMismatch(
                    f"{imageId}: got {sink.size} bytes, the image has {record.size}"
                )
            for checksum in (record.checksum, expected and expected.decode("ascii", "replace")):
                if checksum and checksum != digest:
                    raise ImageChecksumMismatch(f"{imageId}: the data does not match its SHA-256")
            yield self._runInThread(os.replace, temporary, destinationPath)
        except BaseException:
            yield self._runInThread(unlinkQuietly, temporary)
            raise
        self.log.info(
            "Fetched {imageId} ({size} bytes) to {path}",
            imageId=imageId,
            size=sink.size,
            path=destinationPath,
        )
        return FetchedImage(destinationPath, record, sink.size, digest)

    def _error(self, imageId, status, body):
        code = _errorCode(body)
        if status == 404:
            return ImageNotFound(f"The image id '[{imageId}]' does not exist")
        if code == "InvalidObjectState":
            return ImageNotAvailable(f"Image {imageId} is not available")
        if status == 403:
            return exception.NotAuthorized(
                f"the object store refused {imageId}: {code or status}"
            )
        return ImageFetchError(f"the object store answered {status} {code or ''} for {imageId}".strip())

