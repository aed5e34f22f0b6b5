"""
Tests for L{nova.compute.snapshots.S3Uploader}, the uploader of a compute
host of its own: against a real object store listening on loopback
(filesystem back end, signatures checked), with boto3 clients of the
projects checking who may read what was stored.
"""

import os

from botocore.exceptions import ClientError
from twisted.internet import reactor
from twisted.internet.defer import succeed
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.compute.snapshots import SNAPSHOT_BUCKET, S3Uploader, ServiceCredentials
from nova.context import RequestContext
from nova.exception import NovaError
from nova.util.threads import reactorThreads
from tests.objectstore.helpers import KEYS, S3ServerMixin

ALICE = RequestContext(userId="alice", projectId="proj1")


class Keys:
    def __init__(self, access, secret):
        self.keys = (access, secret)

    def credentials(self):
        return succeed(self.keys)


class S3UploaderTests(S3ServerMixin, TestCase):
    def setUp(self):
        S3ServerMixin.setUp(self)
        self.directory = os.path.abspath(self.mktemp())
        self.uploader = S3Uploader(
            self.endpoint,
            Keys("AKADMIN:adminproj", KEYS["AKADMIN"].secret),
            reactorThreads(reactor),
            self.directory,
        )

    def writer(self, data, written):
        def write(path):
            written.append(path)
            with open(path, "wb") as f:
                f.write(data)
            return succeed({"size": len(data)})

        return write

    async def test_uploadGrantedToTheProject(self):
        """
        The file is stored (the bucket made on the first upload, owned by
        the service's project), the instance's project may read it and
        another may not; the local file is gone.
        """
        written = []
        data = os.urandom(3 * 1024 * 1024 + 5)
        result = await self.uploader.upload(
            ALICE, f"{SNAPSHOT_BUCKET}/proj1/a.img", self.writer(data, written)
        )
        self.assertEqual(result, {"size": len(data)})
        self.assertFalse(os.path.exists(written[0]))
        alice = self.client("AKALICE")
        got = await deferToThread(
            lambda: alice.get_object(Bucket=SNAPSHOT_BUCKET, Key="proj1/a.img")["Body"].read()
        )
        self.assertEqual(got, data)
        bob = self.client("AKBOB")
        error = await deferToThread(
            lambda: self.assertRaises(
                ClientError, bob.get_object, Bucket=SNAPSHOT_BUCKET, Key="proj1/a.img"
            )
        )
        self.assertEqual(error.response["Error"]["Code"], "AccessDenied")
        error = await deferToThread(
            lambda: self.assertRaises(ClientError, alice.list_objects, Bucket=SNAPSHOT_BUCKET)
        )
        self.assertEqual(error.response["Error"]["Code"], "AccessDenied")
        # Again, into the bucket that exists now.
        await self.uploader.upload(
            ALICE, f"{SNAPSHOT_BUCKET}/proj1/b.img", self.writer(b"second", written)
        )
        got = await deferToThread(
            lambda: alice.get_object(Bucket=SNAPSHOT_BUCKET, Key="proj1/b.img")["Body"].read()
        )
        self.assertEqual(got, b"second")

    async def test_writeFails(self):
        written = []

        def write(path):
            written.append(path)
            with open(path, "wb") as f:
                f.write(b"partial")
            raise NovaError("disk gone")

        with self.assertRaises(NovaError):
            await self.uploader.upload(ALICE, f"{SNAPSHOT_BUCKET}/proj1/c.img", write)
        self.assertFalse(os.path.exists(written[0]))
        admin = self.client("AKADMIN")
        error = await deferToThread(
            lambda: self.assertRaises(
                ClientError, admin.head_object, Bucket=SNAPSHOT_BUCKET, Key="proj1/c.img"
            )
        )
        self.assertEqual(error.response["Error"]["Code"], "404")

    async def test_refused(self):
        """
        Keys the object store does not know: a L{NovaError} saying so, and
        no file left behind.
        """
        self.uploader.credentials = Keys("AKNOBODY", "wrong")
        written = []
        with self.assertRaises(NovaError) as caught:
            await self.uploader.upload(
                ALICE, f"{SNAPSHOT_BUCKET}/proj1/d.img", self.writer(b"x", written)
            )
        self.assertIn("refused the snapshot", str(caught.exception))
        self.assertFalse(os.path.exists(written[0]))


class ServiceCredentialsTests(TestCase):
    def test_userAndProject(self):
        class User:
            accessKey, secretKey = "access-key", "secret-key"

        class AuthManager:
            def getUser(self, name):
                self.asked = name
                return succeed(User())

        manager = AuthManager()
        keys = self.successResultOf(ServiceCredentials(manager, "nova:service").credentials())
        self.assertEqual((manager.asked, keys), ("nova", ("access-key:service", "secret-key")))
        keys = self.successResultOf(ServiceCredentials(manager, "nova").credentials())
        self.assertEqual(keys, ("access-key", "secret-key"))
