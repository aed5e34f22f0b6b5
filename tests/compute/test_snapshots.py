"""
Tests for L{nova.compute.snapshots}: snapshot files into an object store.
"""

import os

from twisted.internet import task
from twisted.internet.defer import fail, succeed
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from nova.compute.snapshots import (
    SNAPSHOT_BUCKET,
    SNAPSHOT_OWNER,
    IImageUploader,
    ObjectStoreUploader,
    snapshotLocation,
)
from nova.objectstore.fake import MemoryObjectStore
from nova.virt import errors
from tests.util import ALICE


def inline(function, *args):
    try:
        return succeed(function(*args))
    except BaseException:
        return fail(Failure())


class ObjectStoreUploaderTests(SynchronousTestCase):
    def setUp(self):
        self.store = MemoryObjectStore(task.Clock())
        self.directory = os.path.abspath(self.mktemp())
        self.uploader = ObjectStoreUploader(self.store, inline, self.directory)

    def write(self, data, result=None):
        def write(path):
            self.written = path
            with open(path, "wb") as f:
                f.write(data)
            return succeed(result)

        return write

    def read(self, bucket, key):
        reader = self.successResultOf(self.store.openObject(bucket, key))
        try:
            return self.successResultOf(reader.read(0, 1 << 20))
        finally:
            reader.close()

    def test_provides(self):
        verifyObject(IImageUploader, self.uploader)

    def test_location(self):
        bucket, _, key = snapshotLocation("wonderland").partition("/")
        self.assertEqual(bucket, SNAPSHOT_BUCKET)
        self.assertRegex(key, r"^wonderland/[0-9a-f]{32}\.img$")
        self.assertNotEqual(snapshotLocation("wonderland"), snapshotLocation("wonderland"))

    def test_upload(self):
        """
        The file C{write} makes is stored, owned by the context's project,
        in a bucket of its own that no project owns; the file goes.
        """
        location = snapshotLocation(ALICE.projectId)
        result = self.successResultOf(
            self.uploader.upload(ALICE, location, self.write(b"disk" * 1000, {"size": 4000}))
        )
        self.assertEqual(result, {"size": 4000})
        bucket, _, key = location.partition("/")
        self.assertEqual(self.successResultOf(self.store.getBucket(bucket)).owner, SNAPSHOT_OWNER)
        info = self.successResultOf(self.store.getObjectInfo(bucket, key))
        self.assertEqual((info.owner, info.size), (ALICE.projectId, 4000))
        self.assertEqual(self.read(bucket, key), b"disk" * 1000)
        self.assertFalse(os.path.exists(self.written))
        self.assertEqual(os.path.dirname(self.written), self.directory)
        # The bucket is there now: the next upload uses it.
        other = snapshotLocation(ALICE.projectId)
        self.successResultOf(self.uploader.upload(ALICE, other, self.write(b"2")))
        self.assertEqual(self.read(*other.split("/", 1)), b"2")

    def test_writeFails(self):
        def write(path):
            with open(path, "wb") as f:
                f.write(b"half")
            self.written = path
            return fail(errors.VirtError("disk gone"))

        location = snapshotLocation(ALICE.projectId)
        self.failureResultOf(self.uploader.upload(ALICE, location, write), errors.VirtError)
        self.assertFalse(os.path.exists(self.written))
        self.assertEqual(self.successResultOf(self.store.listBuckets()), [])


class WiringTests(SynchronousTestCase):
    def test_novaAll(self):
        """
        nova-all's compute service puts snapshots into the object store of
        the process, making its files under the instances path.
        """
        from nova.all import tap

        state = os.path.abspath(self.mktemp())
        options = tap.Options()
        options.parseOptions([f"--state_path={state}"])
        top = tap.makeService(options)
        managers = {service.topic: service.manager for service in top.novaServices}
        uploader = managers["compute"].imageUploader
        self.assertIsInstance(uploader, ObjectStoreUploader)
        self.assertIs(uploader.store, managers["objectstore"].images.store)
        self.assertEqual(
            uploader.directory, os.path.join(options["config"].instances_path, "_snapshots")
        )
