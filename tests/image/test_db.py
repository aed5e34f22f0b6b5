"""
Tests for L{nova.db.images} and schema patch 3.
"""

from datetime import datetime

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.db import schema
from nova.db.api import inlineDatabase
from nova.db.images import (
    AVAILABLE,
    DECRYPTING,
    FAILED,
    KERNEL,
    MACHINE,
    PENDING,
    RAMDISK,
    UNTARRING,
    WORKING_STATES,
    ImageNotFound,
    ImageRecord,
    InvalidImageId,
    checkImageId,
    imageTypeOf,
    newImageId,
)
from nova.db.tags import MAX_TAGS, TagLimitExceeded
from tests.db.backends import BackendTestsMixin, backendCases


class IdTests(SynchronousTestCase):
    def test_newIds(self):
        self.assertRegex(newImageId(MACHINE), r"\Aami-[0-9a-f]{8}\Z")
        self.assertRegex(newImageId(KERNEL), r"\Aaki-[0-9a-f]{8}\Z")
        self.assertRegex(newImageId(RAMDISK), r"\Aari-[0-9a-f]{8}\Z")

    def test_typeOf(self):
        self.assertEqual(imageTypeOf("ami-0000abcd"), MACHINE)
        self.assertEqual(imageTypeOf("aki-0000abcd"), KERNEL)
        self.assertEqual(imageTypeOf("ari-0000abcd"), RAMDISK)
        for bad in ("ami-0000ABCD", "ami-123", "i-00000001", "ami-0000abcd/..", "", None, "amx-00000000"):
            self.assertIsNone(imageTypeOf(bad), bad)
            self.assertRaises(InvalidImageId, checkImageId, bad)


class ImageStoreTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.db = inlineDatabase("sqlite:", self.clock)
        self.addCleanup(self.db.transactor.close)
        self.successResultOf(self.db.sync())
        self.images = self.db.images

    def create(self, project="p1", imageType=MACHINE, **fields):
        return self.successResultOf(
            self.images.create(imageType, project, "u1", "bucket/x.manifest.xml", **fields)
        )

    def test_createAndGet(self):
        record = self.create(name="debian", architecture="x86_64")
        self.assertEqual(imageTypeOf(record.ec2_id), MACHINE)
        self.assertEqual(
            (record.state, record.project_id, record.user_id, record.name, record.is_public),
            (PENDING, "p1", "u1", "debian", False),
        )
        self.assertEqual((record.bucket, record.key), ("bucket", "x.manifest.xml"))
        self.assertEqual(record.created_at, datetime(2023, 11, 14, 22, 13, 20))
        self.assertEqual(self.successResultOf(self.images.get(record.ec2_id)), record)
        self.failureResultOf(self.images.get("ami-00000000"), ImageNotFound)

    def test_tagsWrittenWithTheImage(self):
        """
        An image's tags are written in the transaction that makes it; too
        many tags make no image.
        """
        record = self.create(tags=[("Name", "web"), ("env", "prod")])
        tags = self.successResultOf(self.db.tags.byResource("p1", [record.ec2_id]))
        self.assertEqual(tags, {record.ec2_id: {"Name": "web", "env": "prod"}})
        self.failureResultOf(
            self.images.create(
                MACHINE, "p1", "u1", "b/k", tags=[(f"k{n}", "v") for n in range(MAX_TAGS + 1)]
            ),
            TagLimitExceeded,
        )
        self.assertEqual(
            [image.ec2_id for image in self.successResultOf(self.images.find())], [record.ec2_id]
        )

    def test_unknownField(self):
        self.assertRaises(Exception, self.images.create, MACHINE, "p", "u", "b/k", bogus=1)

    def test_stateCompareAndSet(self):
        record = self.create()
        self.assertTrue(self.successResultOf(self.images.setState(record.ec2_id, DECRYPTING, [PENDING])))
        self.assertFalse(self.successResultOf(self.images.setState(record.ec2_id, UNTARRING, [PENDING])))
        self.clock.advance(5)
        self.assertTrue(
            self.successResultOf(
                self.images.setState(
                    record.ec2_id, AVAILABLE, [DECRYPTING], size=12, checksum="ab" * 32, disk_format="raw"
                )
            )
        )
        changed = self.successResultOf(self.images.get(record.ec2_id))
        self.assertEqual((changed.state, changed.size, changed.disk_format), (AVAILABLE, 12, "raw"))
        self.assertEqual((changed.updated_at - changed.created_at).total_seconds(), 5)
        self.assertFalse(self.successResultOf(self.images.setState("ami-00000000", FAILED)))

    def test_failReason(self):
        record = self.create()
        self.successResultOf(self.images.setState(record.ec2_id, FAILED, WORKING_STATES, reason="bad digest"))
        failed = self.successResultOf(self.images.get(record.ec2_id))
        self.assertEqual((failed.state, failed.state_reason, failed.ec2State), (FAILED, "bad digest", "failed"))

    def test_visibility(self):
        own = self.create("p1")
        public = self.create("p2")
        shared = self.create("p2")
        private = self.create("p3")
        self.successResultOf(self.images.update(public.ec2_id, is_public=True))
        self.successResultOf(self.images.addLaunchPermissions(shared.ec2_id, ["p1", "p4"]))
        visible = self.successResultOf(self.images.find(visibleTo="p1"))
        self.assertEqual([r.ec2_id for r in visible], [own.ec2_id, public.ec2_id, shared.ec2_id])
        self.assertEqual(
            [r.ec2_id for r in self.successResultOf(self.images.find(visibleTo="p3"))],
            [public.ec2_id, private.ec2_id],
        )
        self.assertEqual(
            [r.ec2_id for r in self.successResultOf(self.images.find(launchableBy="p1"))],
            [public.ec2_id, shared.ec2_id],
        )
        self.assertEqual(
            [r.ec2_id for r in self.successResultOf(self.images.find(launchableBy="all"))],
            [public.ec2_id],
        )
        self.assertEqual(
            [r.ec2_id for r in self.successResultOf(self.images.find(owners=["p2"]))],
            [public.ec2_id, shared.ec2_id],
        )
        record = self.successResultOf(self.images.get(shared.ec2_id))
        self.assertEqual(record.launch_permissions, ("p1", "p4"))

    def test_launchPermissions(self):
        record = self.create("p1")
        self.successResultOf(self.images.addLaunchPermissions(record.ec2_id, ["p2", "p3", "p2"]))
        self.successResultOf(self.images.addLaunchPermissions(record.ec2_id, ["p3"]))
        changed = self.successResultOf(self.images.removeLaunchPermissions(record.ec2_id, ["p2"]))
        self.assertEqual(changed.launch_permissions, ("p3",))
        self.successResultOf(self.images.update(record.ec2_id, is_public=True))
        reset = self.successResultOf(self.images.resetLaunchPermissions(record.ec2_id))
        self.assertEqual((reset.launch_permissions, reset.is_public), ((), False))

    def test_delete(self):
        record = self.create()
        self.successResultOf(self.images.addLaunchPermissions(record.ec2_id, ["p2"]))
        deleted = self.successResultOf(self.images.delete(record.ec2_id))
        self.assertEqual(deleted.launch_permissions, ("p2",))
        self.failureResultOf(self.images.get(record.ec2_id), ImageNotFound)
        self.failureResultOf(self.images.delete(record.ec2_id), ImageNotFound)
        self.assertEqual(self.successResultOf(self.images.find(visibleTo="p2")), [])

    def test_failUnfinished(self):
        pending = self.create()
        working = self.create()
        done = self.create()
        self.successResultOf(self.images.setState(working.ec2_id, UNTARRING))
        self.successResultOf(self.images.setState(done.ec2_id, AVAILABLE))
        failed = self.successResultOf(self.images.failUnfinished("restarted"))
        self.assertEqual(sorted(failed), sorted([pending.ec2_id, working.ec2_id]))
        self.assertEqual(self.successResultOf(self.images.get(done.ec2_id)).state, AVAILABLE)
        self.assertEqual(self.successResultOf(self.images.get(pending.ec2_id)).state_reason, "restarted")

    def test_dictRoundTrip(self):
        record = self.create(name="n", kernel_id="aki-00000001")
        self.successResultOf(self.images.addLaunchPermissions(record.ec2_id, ["p9"]))
        record = self.successResultOf(self.images.get(record.ec2_id))
        import json

        self.assertEqual(ImageRecord.fromDict(json.loads(json.dumps(record.toDict()))), record)


class SchemaTests(SynchronousTestCase):
    """
    Patch 3 is applied by C{db sync} on a fresh database, and on one that
    already has the later patches.
    """

    def test_freshDatabase(self):
        db = inlineDatabase("sqlite:", Clock())
        self.addCleanup(db.transactor.close)
        applied = self.successResultOf(db.sync())
        self.assertEqual(applied[:6], [1, 2, 3, 4, 5, 6])
        self.successResultOf(db.images.find())

    def test_gapFilled(self):
        """
        A database with patches 1, 2, 4 and 5 applied (made before patch 3
        existed) gets patch 3, and only it, from C{db sync}.
        """
        db = inlineDatabase("sqlite:", Clock())
        self.addCleanup(db.transactor.close)
        store = db.transactor.store
        applier = schema._applier(store)
        for version in (1, 2, 4, 5):
            applier.apply(version)
        store.commit()
        self.assertEqual(
            store.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'images'").get_one()[0], 0
        )
        applied = self.successResultOf(db.sync())
        self.assertEqual(applied[:2], [3, 6])
        self.assertNotIn(1, applied)
        record = self.successResultOf(db.images.create(MACHINE, "p", "u", "b/k"))
        self.assertEqual(self.successResultOf(db.images.get(record.ec2_id)), record)
        self.assertEqual(self.successResultOf(db.sync()), [])


class ImageStoreBackendMixin(BackendTestsMixin):
    """
    The image tables on SQLite, PostgreSQL and MariaDB.
    """

    @defer.inlineCallbacks
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.db = self.makeDatabase(self.clock)
        yield None

    @defer.inlineCallbacks
    def test_lifecycle(self):
        yield self.db.sync()
        images = self.db.images
        record = yield images.create(
            MACHINE, "p1", "u1", "b/" + "k" * 1000 + ".manifest.xml", name="n" * 255,
            description="d" * 2000, kernel_id="aki-0000000a",
        )
        self.assertEqual(record.name, "n" * 255)
        self.assertTrue((yield images.setState(record.ec2_id, DECRYPTING, [PENDING])))
        self.assertFalse((yield images.setState(record.ec2_id, DECRYPTING, [PENDING])))
        self.assertTrue(
            (yield images.setState(record.ec2_id, AVAILABLE, [DECRYPTING], size=5 * 1024**4,
                                   checksum="0" * 64, disk_format="qcow2"))
        )
        yield images.addLaunchPermissions(record.ec2_id, ["p2"])
        other = yield images.create(KERNEL, "p3", "u3", "b/k")
        yield images.update(other.ec2_id, is_public=True)
        seen = yield images.find(visibleTo="p2")
        self.assertEqual(sorted(r.ec2_id for r in seen), sorted([record.ec2_id, other.ec2_id]))
        got = yield images.get(record.ec2_id)
        self.assertEqual((got.size, got.state, got.launch_permissions), (5 * 1024**4, AVAILABLE, ("p2",)))
        yield images.delete(record.ec2_id)
        self.assertEqual([r.ec2_id for r in (yield images.find())], [other.ec2_id])

    @defer.inlineCallbacks
    def test_gapFilled(self):
        def applyWithoutPatch3(store):
            applier = schema._applier(store)
            for version in (1, 2, 4, 5):
                applier.apply(version)

        yield self.db.transactor.transact(applyWithoutPatch3)
        applied = yield self.db.sync()
        self.assertEqual(applied[:2], [3, 6])
        record = yield self.db.images.create(RAMDISK, "p", "u", "b/k")
        self.assertEqual((yield self.db.images.get(record.ec2_id)).image_type, RAMDISK)


backendCases(ImageStoreBackendMixin, TestCase, globals(), "ImageStore")
