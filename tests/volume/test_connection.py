"""
Tests for L{nova.virt.interfaces.VolumeConnection}: the one shape of a
volume's export, from volume drivers to virt drivers.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.virt.errors import VirtError
from nova.virt.interfaces import VolumeConnection

IQN = "iqn.2010-10.org.openstack:volume-0000000a"


class VolumeConnectionTests(SynchronousTestCase):
    def test_fileRoundTrip(self):
        value = {"type": "file", "path": "/var/lib/nova/volumes/volume-0000000a", "format": "qcow2"}
        connection = VolumeConnection.fromDict(value)
        self.assertEqual(connection.toDict(), value)
        self.assertEqual(connection.url, value["path"])

    def test_iscsiRoundTrip(self):
        value = {"type": "iscsi", "portal": "10.0.0.2:3260", "iqn": IQN, "lun": 1}
        connection = VolumeConnection.fromDict(value)
        self.assertEqual(connection.toDict(), value)
        self.assertEqual(connection.url, f"iscsi://10.0.0.2:3260/{IQN}/1")
        self.assertEqual(VolumeConnection.fromPath(connection.url), connection)

    def test_ipv6Portal(self):
        connection = VolumeConnection("iscsi", portal="[fd00::2]:3260", iqn=IQN, lun=1)
        self.assertEqual(VolumeConnection.fromPath(connection.url), connection)

    def test_earlierExports(self):
        """
        The keys of earlier releases' exports are read.
        """
        self.assertEqual(
            VolumeConnection.fromDict(
                {"type": "iscsi", "targetIqn": IQN, "targetPortal": "10.0.0.2:3260",
                 "targetLun": 1, "devicePath": f"/dev/disk/by-path/ip-10.0.0.2:3260-iscsi-{IQN}-lun-1"}
            ),
            VolumeConnection("iscsi", portal="10.0.0.2:3260", iqn=IQN, lun=1),
        )
        self.assertEqual(
            VolumeConnection.fromDict({"type": "fake", "devicePath": "/dev/fake/volume-1"}),
            VolumeConnection("file", path="/dev/fake/volume-1"),
        )

    def test_fromPath(self):
        self.assertEqual(
            VolumeConnection.fromPath(f"/dev/disk/by-path/ip-10.0.0.2:3260-iscsi-{IQN}-lun-1"),
            VolumeConnection("iscsi", portal="10.0.0.2:3260", iqn=IQN, lun=1),
        )
        self.assertEqual(
            VolumeConnection.fromPath(f"iscsi://10.0.0.2/{IQN}/2"),
            VolumeConnection("iscsi", portal="10.0.0.2:3260", iqn=IQN, lun=2),
        )
        self.assertEqual(
            VolumeConnection.fromPath("/dev/sdb"), VolumeConnection("file", path="/dev/sdb")
        )

    def test_refused(self):
        for bad in (
            None,
            "not a mapping",
            {},
            {"type": "nfs"},
            {"type": "file"},
            {"type": "file", "path": "relative/x"},
            {"type": "file", "path": "/x\0y"},
            {"type": "file", "path": "/x", "format": "vmdk"},
            {"type": "iscsi", "portal": "storage:3260", "iqn": IQN, "lun": 1},
            {"type": "iscsi", "portal": "10.0.0.2", "iqn": IQN, "lun": 1},
            {"type": "iscsi", "portal": "10.0.0.2:70000", "iqn": IQN, "lun": 1},
            {"type": "iscsi", "portal": "10.0.0.2:3260", "iqn": "iqn <x>", "lun": 1},
            {"type": "iscsi", "portal": "10.0.0.2:3260", "iqn": IQN, "lun": "1"},
            {"type": "iscsi", "portal": "10.0.0.2:3260", "iqn": IQN, "lun": True},
            {"type": "iscsi", "portal": "10.0.0.2:3260", "iqn": IQN, "lun": -1},
        ):
            self.assertRaises(VirtError, VolumeConnection.coerce, bad)
        self.assertRaises(VirtError, VolumeConnection.fromPath, "relative")
        self.assertRaises(VirtError, VolumeConnection.fromPath, 3)
