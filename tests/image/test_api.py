"""
Tests for L{nova.image.api.ImageAPI} and L{nova.image.manager.ImageManager}:
registration over the RPC bus to the C{objectstore} topic, reads from the
database, and the nova-objectstore daemon's wiring.
"""

import os

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from nova.db.images import AVAILABLE, FAILED, MACHINE, PENDING, ImageRecord
from nova.image.api import ImageAPI
from nova.image.errors import (
    ImageLocationAccessDenied,
    ImageNotAvailable,
    ImageLocationNotFound,
    ImageNotFound,
    ImageNotOwned,
    InvalidImageLocation,
)
from nova.image.interfaces import IImageService
from nova.image.manager import TOPIC, ImageManager
from nova.image.service import INTERRUPTED_REASON
from nova.manager import ManagerDispatcher
from nova.rpc.local import LocalRPC
from tests.image.support import ImageTestMixin, context

P1, P2 = context("p1"), context("p2")


class ImageAPITests(ImageTestMixin, TestCase):
    @inlineCallbacks
    def setUp(self):
        yield self.setUpImages()
        from nova.config import configFromFlags

        self.rpc = LocalRPC(reactor, 10)
        self.manager = ImageManager(configFromFlags(host="store1"), self.db, self.rpc, reactor, self.images)
        consumer = yield self.rpc.serve(TOPIC, "store1", ManagerDispatcher(self.manager))
        self.addCleanup(consumer.stop)
        self.api = ImageAPI(self.db, self.rpc)
        yield self.store.createBucket("bucket1", "p1")
        yield self.putBytes("bucket1", "disk.img", b"disk data", "p1")

    def test_provides(self):
        verifyObject(IImageService, self.api)

    @inlineCallbacks
    def test_register(self):
        record = yield self.api.registerImage(P1, "bucket1/disk.img", name="disk", description="d")
        self.assertIsInstance(record, ImageRecord)
        self.assertEqual((record.state, record.name, record.image_type), (PENDING, "disk", MACHINE))
        self.assertEqual(self.rpc.sent[-1][:3], ("call", TOPIC, "registerImage"))
        final = yield self.images.waitForImage(record.ec2_id)
        self.assertEqual(final.state, AVAILABLE)
        seen = yield self.api.getImage(P1, record.ec2_id)
        self.assertEqual(seen, final)
        self.assertEqual([r.ec2_id for r in (yield self.api.describeImages(P1))], [record.ec2_id])
        launch = yield self.api.checkLaunch(P1, record.ec2_id)
        self.assertEqual(launch.imageId, record.ec2_id)

    @inlineCallbacks
    def test_errorsCrossTheBus(self):
        yield self.assertFailure(self.api.registerImage(P1, "nobucket"), InvalidImageLocation)
        yield self.assertFailure(self.api.registerImage(P1, "bucket1/none"), ImageLocationNotFound)
        yield self.assertFailure(self.api.registerImage(P2, "bucket1/disk.img"), ImageLocationAccessDenied)
        yield self.assertFailure(self.api.deregisterImage(P1, "ami-00000000"), ImageNotFound)

    @inlineCallbacks
    def test_shareAndDeregister(self):
        record = yield self.api.registerImage(P1, "bucket1/disk.img")
        yield self.images.waitForImage(record.ec2_id)
        yield self.api.modifyImageAttribute(P1, record.ec2_id, "launchPermission", "add", userIds=["p2"])
        self.assertEqual((yield self.api.getImage(P2, record.ec2_id)).launch_permissions, ("p2",))
        yield self.assertFailure(self.api.deregisterImage(P2, record.ec2_id), ImageNotOwned)
        yield self.api.deregisterImage(P1, record.ec2_id)
        yield self.assertFailure(self.api.getImage(P1, record.ec2_id), ImageNotFound)
        self.assertEqual(self.storedFiles(), [])

    @inlineCallbacks
    def test_reserveThenComplete(self):
        """
        A reserved image waits, pending, for its object; completing it
        copies the object as a plain image's, keeping the kernel and
        ramdisk it was reserved with.
        """
        kernel = yield self.db.images.create("kernel", "p1", "u", "bucket1/k", AVAILABLE)
        record = yield self.api.reserveImage(
            P1, "bucket1/snap.img", name="snap", description="of i-1", kernelId=kernel.ec2_id
        )
        self.assertEqual(self.rpc.sent[-1][:3], ("call", TOPIC, "reserveImage"))
        self.assertEqual(
            (record.state, record.name, record.description, record.kernel_id, record.location),
            (PENDING, "snap", "of i-1", kernel.ec2_id, "bucket1/snap.img"),
        )
        yield self.assertFailure(self.api.completeImage(P1, record.ec2_id), ImageLocationNotFound)
        self.assertEqual((yield self.db.images.get(record.ec2_id)).state, PENDING)
        yield self.putBytes("bucket1", "snap.img", b"QFI\xfb snapshot", "p1")
        yield self.assertFailure(self.api.completeImage(P2, record.ec2_id), ImageNotFound)
        completing = yield self.api.completeImage(P1, record.ec2_id)
        self.assertEqual(completing.state, PENDING)
        final = yield self.images.waitForImage(record.ec2_id)
        self.assertEqual((final.state, final.size, final.kernel_id), (AVAILABLE, 13, kernel.ec2_id))
        yield self.assertFailure(self.api.completeImage(P1, record.ec2_id), ImageNotAvailable)

    @inlineCallbacks
    def test_reserveThenFail(self):
        record = yield self.api.reserveImage(P1, "bucket1/snap.img", name="snap")
        failed = yield self.api.failImage(P1, record.ec2_id, "snapshot failed: disk gone")
        self.assertEqual((failed.state, failed.state_reason), (FAILED, "snapshot failed: disk gone"))
        yield self.assertFailure(self.api.completeImage(P1, record.ec2_id), ImageNotAvailable)
        yield self.assertFailure(
            self.api.reserveImage(P1, "bucket1/x", kernelId="aki-000000ff"), ImageNotFound
        )

    @inlineCallbacks
    def test_initHostRecovers(self):
        stuck = yield self.db.images.create(MACHINE, "p1", "u", "bucket1/x.manifest.xml")
        yield self.manager.initHost()
        final = yield self.db.images.get(stuck.ec2_id)
        self.assertEqual((final.state, final.state_reason), (FAILED, INTERRUPTED_REASON))


class DaemonTests(TestCase):
    def test_objectstoreConsumesTopic(self):
        """
        nova-objectstore serves the C{objectstore} topic with an
        L{ImageManager}, and its image service sits beside the store.
        """
        from nova.objectstore import tap

        state = os.path.abspath(self.mktemp())
        options = tap.Options()
        options.parseOptions([f"--state_path={state}", "--s3_port=0", "--s3_listen=127.0.0.1"])
        top = tap.makeService(options)
        (nova,) = top.novaServices
        self.assertEqual((nova.binary, nova.topic), ("nova-objectstore", TOPIC))
        self.assertIsInstance(nova.manager, ImageManager)
        images = top.getServiceNamed("images")
        self.assertIs(nova.manager.images, images)
        self.assertEqual(images.storage.path, os.path.join(state, "images"))
        site = top.getServiceNamed("s3").args[1]
        self.assertIn("_images", site.resource.reservedRoutes)
