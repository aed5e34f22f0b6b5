"""
Tests for L{nova.volume.names}.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.config import ConfigError
from nova.volume.errors import InvalidSnapshotIDMalformed, InvalidVolumeIDMalformed
from nova.volume.names import (
    Namer,
    checkName,
    ec2SnapshotId,
    ec2VolumeId,
    isSafeName,
    parseSnapshotId,
    parseVolumeId,
)


class IdTests(SynchronousTestCase):
    def test_format(self):
        self.assertEqual(ec2VolumeId(10), "vol-0000000a")
        self.assertEqual(ec2SnapshotId(0x1234ABCD), "snap-1234abcd")

    def test_parse(self):
        self.assertEqual(parseVolumeId("vol-0000000a"), 10)
        self.assertEqual(parseVolumeId("vol-A"), 10)
        self.assertEqual(parseVolumeId(7), 7)
        self.assertEqual(parseSnapshotId("snap-00000010"), 16)
        for bad in ("vol-0", "vol-", "snap-00000001", "vol-0000000g", " vol-1", 0, -3, True, None, 1.0):
            self.assertRaises(InvalidVolumeIDMalformed, parseVolumeId, bad)
        for bad in ("snap-", "vol-00000001", "snap-xyz", 0):
            self.assertRaises(InvalidSnapshotIDMalformed, parseSnapshotId, bad)


class NameTests(SynchronousTestCase):
    def test_safe(self):
        for name in ("volume-0000000a", "snap_1.raw", "A", "9" * 128):
            self.assertTrue(isSafeName(name), name)
            self.assertEqual(checkName(name), name)
        for name in ("", ".", "..", "-rf", ".hidden", "a/b", "a b", "a\nb", "9" * 129, None, b"vol"):
            self.assertFalse(isSafeName(name), name)
            self.assertRaises(ValueError, checkName, name)

    def test_namer(self):
        namer = Namer("volume_name_template", "volume-%08x")
        self.assertEqual(namer.name(10), "volume-0000000a")
        self.assertEqual(Namer("x", "vol%d.img").name(3), "vol3.img")

    def test_badTemplates(self):
        for template in ("volume", "volume-%s-%s", "-%d", "../v-%d", "v %d", "%d/x", "v-%q"):
            self.assertRaises(ConfigError, Namer, "volume_name_template", template)
