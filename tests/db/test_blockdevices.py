"""
Tests for L{nova.db.blockdevices} on SQLite, PostgreSQL and MariaDB.
"""

import attr
from twisted.internet import defer
from twisted.trial.unittest import TestCase

from nova.db.blockdevices import BlockDeviceMapping, BlockDeviceStore
from tests.db.backends import BackendTestsMixin, backendCases

ROOT = BlockDeviceMapping("/dev/sda1", isRoot=True, snapshotId=7, volumeSize=2)
DATA = BlockDeviceMapping("/dev/sdb", volumeSize=1, deleteOnTermination=False)
EPHEMERAL = BlockDeviceMapping("/dev/sdc", virtualName="ephemeral0")
GONE = BlockDeviceMapping("/dev/sdd", noDevice=True)


def _strip(mapping):
    return attr.evolve(mapping, id=None)


class BlockDeviceStoreMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def setUp(self):
        yield self.setUpDatabase()
        self.store = BlockDeviceStore(self.db.transactor, self.clock)

    @defer.inlineCallbacks
    def test_imageMappings(self):
        """
        An image's mappings come back in the order stored, every field
        kept; storing again replaces them.
        """
        stored = yield self.store.setImageMappings("ami-00000001", [ROOT, DATA, EPHEMERAL, GONE])
        self.assertTrue(all(m.id is not None for m in stored))
        found = yield self.store.imageMappings(["ami-00000001", "ami-00000002"])
        self.assertEqual(list(found), ["ami-00000001"])
        self.assertEqual(
            [_strip(m) for m in found["ami-00000001"]], [ROOT, DATA, EPHEMERAL, GONE]
        )
        self.assertEqual(
            [m.isEbs for m in found["ami-00000001"]], [True, True, False, False]
        )
        yield self.store.setImageMappings("ami-00000001", [ROOT])
        found = yield self.store.imageMappings(["ami-00000001"])
        self.assertEqual([_strip(m) for m in found["ami-00000001"]], [ROOT])
        self.assertEqual((yield self.store.imageMappings([])), {})

    @defer.inlineCallbacks
    def test_instanceMappings(self):
        """
        Each instance gets its own copy of the mappings; recording the
        volume made for one changes only that instance's row.
        """
        yield self.store.setInstanceMappings([1, 2], [ROOT, DATA])
        found = yield self.store.instanceMappings([1, 2, 3])
        self.assertEqual(sorted(found), [1, 2])
        self.assertEqual([_strip(m) for m in found[1]], [ROOT, DATA])
        root = found[1][0]
        updated = yield self.store.setVolume(root.id, 42)
        self.assertEqual(updated.volumeId, 42)
        found = yield self.store.instanceMappings([1, 2])
        self.assertEqual(found[1][0].volumeId, 42)
        self.assertIsNone(found[2][0].volumeId)
        # The image's rows are apart from the instances'.
        self.assertEqual((yield self.store.imageMappings(["ami-00000001"])), {})


backendCases(BlockDeviceStoreMixin, TestCase, globals(), "BlockDeviceStore")
