"""
Tests for L{nova.volume.lvm}: the exact commands the LVM and iSCSI driver
runs, recorded by a L{FakeProcessRunner} (this machine has no
device-mapper, so C{lvcreate} cannot run here), and what it does when a
command fails.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.util.process import FakeProcessRunner, ProcessTimeout
from nova.volume.errors import VolumeBackendError, VolumeBusy
from nova.volume.interfaces import SnapshotSpec, VolumeSpec
from nova.volume.lvm import LVMVolumeDriver

VOL = VolumeSpec(10, "volume-0000000a", 2)
SNAP = SnapshotSpec(5, "snapshot-00000005", "volume-0000000a", 2)
FROM_SNAP = VolumeSpec(11, "volume-0000000b", 3)
IQN = "iqn.2010-10.org.openstack:volume-0000000a"
SHOW = ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show")
LVS = ("lvs", "--noheadings", "--separator", ":", "-o", "lv_name,origin", "nova-volumes")

TGT_SHOW_OUTPUT = """\
Target 3: iqn.2010-10.org.openstack:volume-00000003
    System information:
        Driver: iscsi
        State: ready
    LUN information:
        LUN: 0
            Type: controller
Target 10: iqn.2010-10.org.openstack:volume-0000000a
    System information:
        Driver: iscsi
"""


class LVMDriverTests(SynchronousTestCase):
    def setUp(self):
        self.runner = FakeProcessRunner()
        self.driver = LVMVolumeDriver(
            self.runner, "nova-volumes", iscsiAddress="10.0.0.2", iscsiPort=3260
        )

    def test_createVolume(self):
        location = self.successResultOf(self.driver.createVolume(VOL))
        self.assertEqual(location, "/dev/nova-volumes/volume-0000000a")
        self.assertEqual(
            self.runner.commands,
            [("lvcreate", "-L", "2G", "-n", "volume-0000000a", "nova-volumes")],
        )

    def test_createVolumeFails(self):
        self.runner.respond(
            ("lvcreate",), code=5,
            err=b'  Volume group "nova-volumes" has insufficient free space (10 extents): 512 required.\n',
        )
        failure = self.failureResultOf(self.driver.createVolume(VOL), VolumeBackendError)
        self.assertIn("insufficient free space", str(failure.value))
        self.assertEqual(len(self.runner.commands), 1)

    def test_rootHelper(self):
        driver = LVMVolumeDriver(self.runner, "vg0", rootHelper=("sudo", "-n"))
        self.successResultOf(driver.createVolume(VOL))
        self.assertEqual(
            self.runner.commands,
            [("sudo", "-n", "lvcreate", "-L", "2G", "-n", "volume-0000000a", "vg0")],
        )

    def test_deleteVolume(self):
        self.runner.respond(LVS, out="  volume-0000000a:\n  volume-00000003:\n")
        self.successResultOf(self.driver.deleteVolume(VOL))
        self.assertEqual(
            self.runner.commands,
            [
                LVS,
                ("dd", "if=/dev/zero", "of=/dev/nova-volumes/volume-0000000a", "bs=1M",
                 "count=2048", "oflag=direct"),
                ("lvremove", "-f", "nova-volumes/volume-0000000a"),
            ],
        )

    def test_deleteVolumeNoClear(self):
        driver = LVMVolumeDriver(self.runner, "nova-volumes", clear="none")
        self.runner.respond(LVS, out="  volume-0000000a:\n")
        self.successResultOf(driver.deleteVolume(VOL))
        self.assertEqual(self.runner.commands, [LVS, ("lvremove", "-f", "nova-volumes/volume-0000000a")])

    def test_deleteMissingVolume(self):
        self.runner.respond(LVS, out="  volume-00000003:\n")
        self.successResultOf(self.driver.deleteVolume(VOL))
        self.assertEqual(self.runner.commands, [LVS])

    def test_deleteOriginWithSnapshots(self):
        self.runner.respond(
            LVS, out="  volume-0000000a:\n  snapshot-00000005:volume-0000000a\n"
        )
        failure = self.failureResultOf(self.driver.deleteVolume(VOL), VolumeBusy)
        self.assertIn("snapshot-00000005", str(failure.value))
        self.assertEqual(self.runner.commands, [LVS])

    def test_deleteVolumeFails(self):
        self.runner.respond(LVS, out="  volume-0000000a:\n")
        self.runner.respond(("lvremove",), code=5, err=b"Logical volume in use")
        self.failureResultOf(self.driver.deleteVolume(VOL), VolumeBackendError)

    def test_snapshot(self):
        location = self.successResultOf(self.driver.createSnapshot(SNAP, VOL))
        self.assertEqual(location, "/dev/nova-volumes/snapshot-00000005")
        self.assertEqual(
            self.runner.commands,
            [("lvcreate", "-L", "2G", "--snapshot", "-n", "snapshot-00000005",
              "nova-volumes/volume-0000000a")],
        )

    def test_deleteSnapshot(self):
        self.runner.respond(LVS, out="  volume-0000000a:\n  snapshot-00000005:volume-0000000a\n")
        self.successResultOf(self.driver.deleteSnapshot(SNAP))
        self.assertEqual(
            self.runner.commands,
            [
                LVS,
                ("dd", "if=/dev/zero", "of=/dev/nova-volumes/snapshot-00000005", "bs=1M",
                 "count=2048", "oflag=direct"),
                ("lvremove", "-f", "nova-volumes/snapshot-00000005"),
            ],
        )

    def test_volumeFromSnapshot(self):
        location = self.successResultOf(self.driver.createVolumeFromSnapshot(FROM_SNAP, SNAP))
        self.assertEqual(location, "/dev/nova-volumes/volume-0000000b")
        self.assertEqual(
            self.runner.commands,
            [
                ("lvcreate", "-L", "3G", "-n", "volume-0000000b", "nova-volumes"),
                ("dd", "if=/dev/nova-volumes/snapshot-00000005",
                 "of=/dev/nova-volumes/volume-0000000b", "bs=1M", "count=2048", "oflag=direct"),
            ],
        )

    def test_volumeFromSnapshotCopyFails(self):
        """
        When the copy fails, the new logical volume is removed again.
        """
        self.runner.failWith(("dd",), ProcessTimeout("dd did not finish"))
        self.failureResultOf(
            self.driver.createVolumeFromSnapshot(FROM_SNAP, SNAP), VolumeBackendError
        )
        self.assertEqual(
            self.runner.commands[-1], ("lvremove", "-f", "nova-volumes/volume-0000000b")
        )

    def test_volumeFromSnapshotTooSmall(self):
        self.failureResultOf(
            self.driver.createVolumeFromSnapshot(VolumeSpec(12, "volume-0000000c", 1), SNAP),
            VolumeBackendError,
        )
        self.assertEqual(self.runner.commands, [])

    def test_export(self):
        export = self.successResultOf(self.driver.exportVolume(VOL))
        self.assertEqual(
            self.runner.commands,
            [
                SHOW,
                ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "new",
                 "--tid", "10", "--targetname", IQN),
                ("tgtadm", "--lld", "iscsi", "--mode", "logicalunit", "--op", "new",
                 "--tid", "10", "--lun", "1", "--backing-store", "/dev/nova-volumes/volume-0000000a"),
                ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "bind",
                 "--tid", "10", "--initiator-address", "ALL"),
            ],
        )
        self.assertEqual(
            export,
            {
                "type": "iscsi",
                "iqn": IQN,
                "portal": "10.0.0.2:3260",
                "lun": 1,
            },
        )

    def test_exportAgain(self):
        """
        A volume that tgtd already exports is not exported twice.
        """
        self.runner.respond(SHOW, out=TGT_SHOW_OUTPUT)
        export = self.successResultOf(self.driver.exportVolume(VOL))
        self.assertEqual(export["iqn"], IQN)
        self.assertEqual(self.runner.commands, [SHOW])

    def test_exportClash(self):
        self.runner.respond(SHOW, out="Target 10: iqn.2010-10.org.example:other\n")
        self.failureResultOf(self.driver.exportVolume(VOL), VolumeBackendError)
        self.assertEqual(self.runner.commands, [SHOW])

    def test_exportFailsHalfWay(self):
        """
        When the logical unit cannot be added, the new target is removed.
        """
        self.runner.respond(
            ("tgtadm", "--lld", "iscsi", "--mode", "logicalunit"), code=22,
            err=b"tgtadm: invalid request\n",
        )
        self.failureResultOf(self.driver.exportVolume(VOL), VolumeBackendError)
        self.assertEqual(
            self.runner.commands[-1],
            ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete",
             "--force", "--tid", "10"),
        )
        self.assertEqual(len(self.runner.commandsStartingWith("tgtadm")), 4)

    def test_removeExport(self):
        self.runner.respond(SHOW, out=TGT_SHOW_OUTPUT)
        self.successResultOf(self.driver.removeExport(VOL))
        self.assertEqual(
            self.runner.commands,
            [SHOW, ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete",
                    "--force", "--tid", "10")],
        )

    def test_removeMissingExport(self):
        self.successResultOf(self.driver.removeExport(VOL))
        self.assertEqual(self.runner.commands, [SHOW])

    def test_checkForSetupError(self):
        self.successResultOf(self.driver.checkForSetupError())
        self.assertEqual(
            self.runner.commands,
            [("vgs", "--noheadings", "-o", "vg_name", "nova-volumes"), SHOW],
        )

    def test_setupErrors(self):
        self.runner.respond(("vgs",), code=5, err=b'Volume group "nova-volumes" not found')
        failure = self.failureResultOf(self.driver.checkForSetupError(), VolumeBackendError)
        self.assertIn("volume group nova-volumes", str(failure.value))
        runner = FakeProcessRunner()
        runner.respond(SHOW, code=107, err=b"tgtadm: failed to send request hdr to tgt daemon")
        failure = self.failureResultOf(
            LVMVolumeDriver(runner, "nova-volumes").checkForSetupError(), VolumeBackendError
        )
        self.assertIn("tgtd", str(failure.value))

    def test_stats(self):
        self.runner.respond(("vgs",), out="  100.00:42.50\n")
        stats = self.successResultOf(self.driver.getStats())
        self.assertEqual(stats, {"driver": "lvm", "total_gb": 100.0, "free_gb": 42.5})
        self.assertEqual(
            self.runner.commands,
            [("vgs", "--noheadings", "--nosuffix", "--units", "g", "--separator", ":",
              "-o", "vg_size,vg_free", "nova-volumes")],
        )
        self.runner.respond(("vgs",), out="garbage\n")
        self.failureResultOf(self.driver.getStats(), VolumeBackendError)

    def test_validation(self):
        for bad in ("-vg", "vg/x", "", "..", "vg x", "vg;rm"):
            self.assertRaises(ValueError, LVMVolumeDriver, self.runner, bad)
        self.assertRaises(ValueError, LVMVolumeDriver, self.runner, "vg", iscsiAddress="host; rm")
        self.assertRaises(ValueError, LVMVolumeDriver, self.runner, "vg", iscsiPort=70000)
        self.assertRaises(ValueError, LVMVolumeDriver, self.runner, "vg", targetPrefix="-iqn ")
        self.assertRaises(ValueError, LVMVolumeDriver, self.runner, "vg", clear="shred")
        self.assertRaises(ValueError, self.driver.devicePath, "../../etc/shadow")
        self.assertEqual(
            LVMVolumeDriver(self.runner, "vg", iscsiAddress="fd00::2").portal, "[fd00::2]:3260"
        )
