"""
Tests for L{nova.image.fetch.ImageFetcher} and L{nova.image.serve}: a
compute host downloading images from a real object store over loopback
HTTP, with signed requests.
"""

import hashlib
import os

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

from nova import exception
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.images import AVAILABLE, KERNEL, MACHINE
from nova.image import fetch
from nova.image.errors import ImageChecksumMismatch, ImageFetchError, ImageNotAvailable, ImageNotFound
from nova.image.fetch import FetchedImage, ImageFetcher, StaticCredentials, signRequest
from nova.image.serve import ImageDataRoute
from nova.objectstore.auth import StaticKey, StaticKeyAuthenticator
from nova.objectstore.resource import S3Resource, makeSite
from tests.image.support import ImageTestMixin, context, imageData

KEYS = {
    "AKALICE": StaticKey("alice-secret", "alice", "p1"),
    "AKBOB": StaticKey("bob-secret", "bob", "p2"),
    "AKCAROL": StaticKey("carol-secret", "carol", "p3"),
    "AKADMIN": StaticKey("admin-secret", "root", "adm", isAdmin=True),
}
ALICE = StaticCredentials("AKALICE", "alice-secret")
BOB = StaticCredentials("AKBOB", "bob-secret")
CAROL = StaticCredentials("AKCAROL", "carol-secret")
P1, P2, P3 = context("p1", "alice"), context("p2", "bob"), context("p3", "carol")


class LoopbackTestsMixin(ImageTestMixin):
    @inlineCallbacks
    def setUp(self):
        yield self.setUpImages()
        resource = S3Resource(
            self.store,
            StaticKeyAuthenticator(KEYS, reactor),
            virtualHostSuffixes=["localhost"],
            reservedRoutes={"_images": ImageDataRoute(self.images)},
        )
        self.port = reactor.listenTCP(0, makeSite(resource), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"
        self.config = configFromFlags(s3_host="127.0.0.1", s3_port=self.port.getHost().port)
        yield self.store.createBucket("bucket1", "p1")
        self.data = imageData(9 * 1024 * 1024 + 3)
        yield self.putBytes("bucket1", "disk.img", self.data, "p1")
        record = yield self.images.registerImage(P1, "bucket1/disk.img")
        self.image = yield self.images.waitForImage(record.ec2_id)
        self.assertEqual(self.image.state, AVAILABLE)
        self.dest = os.path.join(self.tmp, "fetched")
        os.makedirs(self.dest)

    def fetcher(self, credentials, **kwargs):
        return ImageFetcher(self.config, self.db, credentials, reactor, **kwargs)

    def leftovers(self):
        return sorted(os.listdir(self.dest))

    @inlineCallbacks
    def raw(self, path, key=None, secret=None, headers=None):
        """
        Send a GET, signed with C{key} unless it is C{None}.

        @return: C{(status, headers, body)}.
        """
        sent = dict(headers or {})
        host = sent.get("Host") or self.url.split("://")[1]
        if key is not None:
            sent.update(signRequest("GET", host, path, key, secret, reactor.seconds()))
        response = yield Agent(reactor).request(
            b"GET",
            (self.url + path).encode("ascii"),
            Headers({k.encode(): [v.encode()] for k, v in sent.items()}),
        )
        body = yield readBody(response)
        return response.code, response.headers, body


class FetchTests(LoopbackTestsMixin, TestCase):
    def test_providesVirtInterface(self):
        """
        The fetcher is what compute hosts' image caches take.
        """
        try:
            from nova.virt.images import IImageFetcher
        except ImportError:
            raise self.skipTest("nova.virt.images is not there")
        from zope.interface.verify import verifyObject

        verifyObject(IImageFetcher, self.fetcher(ALICE), tentative=True)

    @inlineCallbacks
    def test_fetch(self):
        path = os.path.join(self.dest, self.image.ec2_id)
        result = yield self.fetcher(ALICE).fetch(P1, self.image.ec2_id, path)
        self.assertIsInstance(result, FetchedImage)
        self.assertEqual((result.path, result.size), (path, len(self.data)))
        self.assertEqual(result.sha256, hashlib.sha256(self.data).hexdigest())
        with open(path, "rb") as f:
            self.assertEqual(f.read(), self.data)
        self.assertEqual(self.leftovers(), [self.image.ec2_id])

    @inlineCallbacks
    def test_replacesDestination(self):
        path = os.path.join(self.dest, "image")
        with open(path, "wb") as f:
            f.write(b"old")
        yield self.fetcher(ALICE).fetch(P1, self.image.ec2_id, path)
        self.assertEqual(os.path.getsize(path), len(self.data))

    @inlineCallbacks
    def test_otherProject(self):
        path = os.path.join(self.dest, "x")
        yield self.assertFailure(self.fetcher(BOB).fetch(P2, self.image.ec2_id, path), ImageNotFound)
        status, _, body = yield self.raw(f"/_images/{self.image.ec2_id}", "AKBOB", "bob-secret")
        self.assertEqual(status, 404)
        self.assertIn(b"<Code>NoSuchKey</Code>", body)
        self.assertEqual(self.leftovers(), [])

    @inlineCallbacks
    def test_shared(self):
        yield self.images.modifyImageAttribute(P1, self.image.ec2_id, "launchPermission", "add", userIds=["p2"])
        path = os.path.join(self.dest, "x")
        yield self.fetcher(BOB).fetch(P2, self.image.ec2_id, path)
        self.assertEqual(os.path.getsize(path), len(self.data))
        yield self.assertFailure(self.fetcher(CAROL).fetch(P3, self.image.ec2_id, path), ImageNotFound)
        yield self.images.setPublic(P1, self.image.ec2_id, True)
        yield self.fetcher(CAROL).fetch(P3, self.image.ec2_id, os.path.join(self.dest, "y"))
        self.assertEqual(self.leftovers(), ["x", "y"])

    @inlineCallbacks
    def test_admin(self):
        path = os.path.join(self.dest, "x")
        admin = RequestContext(userId="root", projectId="adm", isAdmin=True)
        yield self.fetcher(StaticCredentials("AKADMIN", "admin-secret")).fetch(admin, self.image.ec2_id, path)
        self.assertEqual(os.path.getsize(path), len(self.data))

    @inlineCallbacks
    def test_notAvailable(self):
        pending = yield self.db.images.create(KERNEL, "p1", "alice", "bucket1/disk.img")
        path = os.path.join(self.dest, "x")
        yield self.assertFailure(self.fetcher(ALICE).fetch(P1, pending.ec2_id, path), ImageNotAvailable)
        status, _, body = yield self.raw(f"/_images/{pending.ec2_id}", "AKALICE", "alice-secret")
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>InvalidObjectState</Code>", body)

    @inlineCallbacks
    def test_tampered(self):
        """
        Data that no longer matches the SHA-256 recorded at registration is
        refused and nothing is left behind.
        """
        stored = self.storage.imagePath(self.image.ec2_id)
        with open(stored, "r+b") as f:
            f.seek(1000)
            f.write(b"\xff" * 4)
        path = os.path.join(self.dest, "x")
        yield self.assertFailure(self.fetcher(ALICE).fetch(P1, self.image.ec2_id, path), ImageChecksumMismatch)
        self.assertEqual(self.leftovers(), [])

    @inlineCallbacks
    def test_truncated(self):
        stored = self.storage.imagePath(self.image.ec2_id)
        with open(stored, "r+b") as f:
            f.truncate(1000)
        yield self.assertFailure(
            self.fetcher(ALICE).fetch(P1, self.image.ec2_id, os.path.join(self.dest, "x")),
            ImageChecksumMismatch,
        )
        self.assertEqual(self.leftovers(), [])

    @inlineCallbacks
    def test_badSignature(self):
        fetcher = self.fetcher(StaticCredentials("AKALICE", "wrong"))
        yield self.assertFailure(
            fetcher.fetch(P1, self.image.ec2_id, os.path.join(self.dest, "x")), exception.NotAuthorized
        )
        self.assertEqual(self.leftovers(), [])

    @inlineCallbacks
    def test_unreachable(self):
        port = self.port.getHost().port
        yield self.port.stopListening()
        fetcher = self.fetcher(ALICE, baseURL=f"http://127.0.0.1:{port}")
        yield self.assertFailure(
            fetcher.fetch(P1, self.image.ec2_id, os.path.join(self.dest, "x")), ImageFetchError
        )

    @inlineCallbacks
    def test_serving(self):
        imageId = self.image.ec2_id
        status, _, body = yield self.raw(f"/_images/{imageId}")
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>AccessDenied</Code>", body)
        status, headers, body = yield self.raw(
            f"/_images/{imageId}", "AKALICE", "alice-secret", {"Range": "bytes=10-19"}
        )
        self.assertEqual((status, body), (206, self.data[10:20]))
        self.assertEqual(headers.getRawHeaders(b"content-range"), [f"bytes 10-19/{len(self.data)}".encode()])
        self.assertEqual(headers.getRawHeaders(b"x-nova-image-format"), [b"raw"])
        self.assertEqual(
            headers.getRawHeaders(b"x-nova-image-sha256"), [hashlib.sha256(self.data).hexdigest().encode()]
        )
        for path in ("/_images/", "/_images/ami-zz", "/_images/ami-00000000", "/_images/../bucket1/disk.img"):
            status, _, body = yield self.raw(path, "AKALICE", "alice-secret")
            self.assertEqual(status, 404, path)
        # A virtual-hosted request for the key "_images/..." is an ordinary
        # object request.
        status, _, body = yield self.raw(
            f"/_images/{imageId}", "AKALICE", "alice-secret", {"Host": "bucket1.localhost"}
        )
        self.assertEqual(status, 404)
        self.assertIn(b"<Code>NoSuchKey</Code>", body[:1000])

    @inlineCallbacks
    def test_deregisteredWhileOpen(self):
        """
        An image opened for serving stays readable when it is deregistered
        meanwhile; later fetches find no image.
        """
        reader = yield self.images.openImage(P1, self.image.ec2_id)
        yield self.images.deregisterImage(P1, self.image.ec2_id)
        self.assertEqual((yield reader.read(len(self.data) - 10, 100)), self.data[-10:])
        reader.close()
        self.assertFalse(os.path.exists(self.storage.imagePath(self.image.ec2_id)))
        yield self.assertFailure(
            self.fetcher(ALICE).fetch(P1, self.image.ec2_id, os.path.join(self.dest, "x")), ImageNotFound
        )
        self.assertEqual(self.leftovers(), [])


class _Transport:
    def __init__(self):
        self.calls = []

    def pauseProducing(self):
        self.calls.append("pause")

    def resumeProducing(self):
        self.calls.append("resume")

    def stopProducing(self):
        self.calls.append("stop")


class FileSinkTests(SynchronousTestCase):
    """
    The body writer: back-pressure and the idle timeout, on a clock.
    """

    def setUp(self):
        import io

        self.clock = Clock()
        self.output = io.BytesIO()
        self.pending = []

        def runInThread(function, *args):
            d = Deferred()
            self.pending.append((d, function, args))
            return d

        self.sink = fetch._FileSink(self.output, runInThread, self.clock, timeout=30)
        self.transport = _Transport()
        self.sink.makeConnection(self.transport)

    def runPending(self):
        while self.pending:
            d, function, args = self.pending.pop(0)
            d.callback(function(*args))

    def test_backPressure(self):
        self.sink.dataReceived(b"a" * 100)
        self.assertEqual(len(self.pending), 1)
        self.sink.dataReceived(b"b" * (fetch._HIGH_WATER + 1))
        self.assertEqual(self.transport.calls, ["pause"])
        self.assertEqual(len(self.pending), 1)
        self.runPending()
        self.assertEqual(self.transport.calls, ["pause", "resume"])
        from twisted.python.failure import Failure
        from twisted.web.client import ResponseDone

        self.sink.connectionLost(Failure(ResponseDone()))
        self.assertEqual(self.output.getvalue(), b"a" * 100 + b"b" * (fetch._HIGH_WATER + 1))
        self.assertIsNone(self.successResultOf(self.sink.finished))
        self.assertEqual(self.sink.size, 100 + fetch._HIGH_WATER + 1)

    def test_idleTimeout(self):
        self.sink.dataReceived(b"x")
        self.runPending()
        self.clock.advance(29)
        self.sink.dataReceived(b"y")
        self.runPending()
        self.clock.advance(29)
        self.assertNoResult(self.sink.finished)
        self.clock.advance(2)
        self.failureResultOf(self.sink.finished, ImageFetchError)
        self.assertEqual(self.transport.calls, ["stop"])

    def test_brokenOff(self):
        from twisted.internet.error import ConnectionLost
        from twisted.python.failure import Failure

        self.sink.dataReceived(b"x")
        self.sink.connectionLost(Failure(ConnectionLost()))
        self.failureResultOf(self.sink.finished, ImageFetchError)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class AuthManagerFetchTests(TestCase):
    """
    The whole path as deployed: nova-objectstore's services (the store, the
    image service, the port with C{/_images/}) built by
    L{nova.objectstore.tap.objectstoreWithImages}, authenticated by the
    AuthManager over the SQL driver, and a compute host fetching with the
    instance owner's keys looked up through the AuthManager.
    """

    timeout = 60

    @inlineCallbacks
    def test_fetchWithOwnersKeys(self):
        from nova.auth.manager import authManagerFromConfig
        from nova.db.api import inlineDatabase
        from nova.image.fetch import AuthManagerCredentials
        from nova.objectstore import tap
        from tests.image.support import sharedCA

        state = os.path.abspath(self.mktemp())
        os.makedirs(state)
        db = inlineDatabase("sqlite:", reactor)
        self.addCleanup(db.transactor.close)
        yield db.sync()
        config = configFromFlags(
            state_path=state, s3_port=0, s3_listen="127.0.0.1", s3_fsync=False,
            auth_driver="sql", cache_backend="memory", ca_path=sharedCA().path,
        )
        authManager = authManagerFromConfig(config, db, reactor)
        yield authManager.createUser("alice", accessKey="alice-access", secretKey="alice-secret")
        yield authManager.createProject("proj1", "alice")
        yield authManager.createUser("bob", accessKey="bob-access", secretKey="bob-secret")
        yield authManager.createProject("proj2", "bob")
        services, manager = tap.objectstoreWithImages(config, reactor, db, None, authManager)
        self.assertEqual([s.name for s in services], ["s3-threads", "images", "s3"])
        for service in services:
            service.startService()
        try:
            images = manager.images
            port = services[-1]._port.getHost().port
            yield images.store.createBucket("alices", "proj1")
            data = imageData(2 * 1024 * 1024 + 1, b"auth")
            from nova.objectstore.body import BytesBody
            from nova.objectstore.interfaces import ObjectSettings

            yield images.store.putObject("alices", "disk.img", BytesBody(data), ObjectSettings(owner="proj1"))
            alice = RequestContext(userId="alice", projectId="proj1")
            record = yield images.registerImage(alice, "alices/disk.img")
            record = yield images.waitForImage(record.ec2_id)
            self.assertEqual(record.state, AVAILABLE)
            fetcher = ImageFetcher(
                config.replace(s3_host="127.0.0.1", s3_port=port), db, AuthManagerCredentials(authManager), reactor
            )
            path = os.path.join(state, "fetched")
            yield fetcher.fetch(alice, record.ec2_id, path)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data)
            bob = RequestContext(userId="bob", projectId="proj2")
            yield self.assertFailure(fetcher.fetch(bob, record.ec2_id, path + "2"), ImageNotFound)
            # Bob may not act in proj1: the object store refuses his keys.
            yield images.setPublic(alice, record.ec2_id, True)
            yield fetcher.fetch(bob, record.ec2_id, path + "3")
            sneaky = RequestContext(userId="bob", projectId="proj1")
            yield self.assertFailure(fetcher.fetch(sneaky, record.ec2_id, path + "4"), exception.NotAuthorized)
            self.assertFalse(os.path.exists(path + "4"))
            self.assertEqual(record.image_type, MACHINE)
        finally:
            for service in reversed(services):
                yield service.stopService()

    def test_credentialsNeedUserAndProject(self):
        from nova.image.fetch import AuthManagerCredentials

        credentials = AuthManagerCredentials(authManager=None)
        self.failureResultOf(
            credentials.credentialsFor(RequestContext(userId=None, projectId="p")), exception.NotAuthorized
        )


class SignatureTests(SynchronousTestCase):
    def test_verifies(self):
        """
        L{signRequest}'s headers pass the object store's own verification.
        """
        from nova.auth import signer

        headers = signRequest("GET", "store:3333", "/_images/ami-0000000a", "AK:proj", "secret", 1_700_000_000)
        parts = signer.HTTPRequestParts(
            method="GET", host="store:3333", path="/_images/ami-0000000a",
            headers={k.lower(): v for k, v in headers.items()},
        )
        self.assertEqual(signer.s3AccessKey(parts), "AK:proj")
        signer.verifyS3(parts, "secret", 1_700_000_000)
        self.assertRaises(signer.SignatureDoesNotMatch, signer.verifyS3, parts, "other", 1_700_000_000)
