# -*- test-case-name: tests.objectstore.test_clients -*-
"""
What the object store's tests share: a reactor stand-in that runs "thread"
work inline, and a real object store server on a loopback port with keys
for three projects.
"""

import http.client
import os
import shutil
import tempfile

from twisted.internet import reactor
from twisted.internet.task import Clock, deferLater
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web.server import Site

from nova.objectstore.auth import StaticKey, StaticKeyAuthenticator
from nova.objectstore.filesystem import FilesystemObjectStore
from nova.objectstore.resource import S3Resource, makeSite

KEYS = {
    "AKALICE": StaticKey("alice-secret", "alice", "proj1"),
    "AKBOB": StaticKey("bob-secret", "bob", "proj2"),
    "AKADMIN": StaticKey("admin-secret", "root", "adminproj", isAdmin=True),
}


class InlineThreadPool:
    """
    A thread pool that runs each function at once, in the caller's thread.
    """

    def callInThreadWithCallback(self, onResult, function, *args, **kwargs):
        try:
            result = function(*args, **kwargs)
        except BaseException:
            onResult(False, Failure())
        else:
            onResult(True, result)


class InlineThreadReactor(Clock):
    """
    A L{Clock} whose thread pool runs work inline, so code that defers to
    threads can be tested synchronously.
    """

    def __init__(self):
        Clock.__init__(self)
        self.pool = InlineThreadPool()

    def getThreadPool(self):
        return self.pool

    def callFromThread(self, function, *args, **kwargs):
        function(*args, **kwargs)


class TrackingSite(Site):
    """
    A L{Site} that remembers its connections, so a test can close the ones
    its clients kept alive.
    """

    def __init__(self, *args, **kwargs):
        Site.__init__(self, *args, **kwargs)
        self.openProtocols = set()

    def buildProtocol(self, addr):
        protocol = Site.buildProtocol(self, addr)
        site = self
        original = protocol.connectionLost

        def connectionLost(reason):
            site.openProtocols.discard(protocol)
            return original(reason)

        protocol.connectionLost = connectionLost
        self.openProtocols.add(protocol)
        return protocol

    def closeAll(self):
        """
        @return: a L{Deferred} that fires once every connection is closed.
        """
        for protocol in list(self.openProtocols):
            getattr(protocol, "_channel", protocol).transport.abortConnection()
        return deferLater(reactor, 0.01, lambda: None)


class S3ServerMixin:
    """
    Runs a real object store (filesystem backend, static keys checked with
    the real signer) on 127.0.0.1 for a trial L{TestCase}.

    @ivar endpoint: the server's URL.
    @ivar root: the buckets directory.
    """

    virtualHostSuffixes = ("s3.test", "localhost")

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="nova-s3-test-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.pool = ThreadPool(minthreads=1, maxthreads=8, name="s3-test")
        self.pool.start()
        self.addCleanup(self.pool.stop)
        self.store = FilesystemObjectStore(self.root, reactor, self.pool, fsync=False)
        self.resource = S3Resource(
            self.store,
            StaticKeyAuthenticator(KEYS, reactor),
            virtualHostSuffixes=self.virtualHostSuffixes,
        )
        site = makeSite(
            self.resource, stagingDirectory=self.store.stagingDirectory, siteClass=TrackingSite
        )
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(site.closeAll)
        self.addCleanup(self.port.stopListening)
        self.portNumber = self.port.getHost().port
        self.endpoint = f"http://127.0.0.1:{self.portNumber}"

    def client(self, access="AKALICE", signature="s3v4", addressing="path", endpoint=None, **config):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=KEYS[access].secret if access in KEYS else "wrong",
            region_name="us-east-1",
            config=Config(
                signature_version=signature,
                s3={"addressing_style": addressing},
                retries={"max_attempts": 1},
                **config,
            ),
        )

    def raw(self, method, path, headers=None, body=None):
        """
        Send one plain HTTP request (blocking: call it in a thread).

        @return: C{(status, headers dict with lower-case names, body)}.
        """
        connection = http.client.HTTPConnection("127.0.0.1", self.portNumber, timeout=30)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            if body is not None and not any(h.lower() == "content-length" for h in (headers or {})):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def dataFiles(self):
        """
        @return: every file under the buckets directory's data and tmp
            directories.
        """
        found = []
        for directory, _, files in os.walk(self.root):
            parts = os.path.relpath(directory, self.root).split(os.sep)
            if len(parts) >= 2 and parts[1] in ("data", "tmp"):
                found.extend(os.path.join(directory, f) for f in files)
        return found
