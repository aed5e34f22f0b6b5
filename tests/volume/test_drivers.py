"""
The volume driver contract run against the fake driver and the file
driver (raw and qcow2), and the driver registry.
"""

import shutil

from twisted.internet import reactor
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.config import ConfigError, configFromFlags
from nova.volume.errors import VolumeBackendError, VolumeBusy
from nova.volume.fake import FakeVolumeDriver
from nova.volume.file import FileVolumeDriver
from nova.volume.lvm import LVMVolumeDriver
from nova.volume.manager import volumeDriverFromConfig
from tests.volume.contract import SNAP1, VOL1, VOL2, VolumeDriverContract


class FakeVolumeDriverContractTests(VolumeDriverContract, TestCase):
    def makeDriver(self):
        return FakeVolumeDriver()


class RawFileVolumeDriverContractTests(VolumeDriverContract, TestCase):
    def makeDriver(self):
        return FileVolumeDriver(self.mktemp(), reactor)


class Qcow2FileVolumeDriverContractTests(VolumeDriverContract, TestCase):
    def makeDriver(self):
        if shutil.which("qemu-img") is None:
            self.skipTest("qemu-img is not installed")
        return FileVolumeDriver(self.mktemp(), reactor, volumeFormat="qcow2")


class FakeVolumeDriverTests(SynchronousTestCase):
    """
    What the fake adds to the contract: it records calls, fails on demand,
    and refuses to delete an origin with snapshots.
    """

    def test_recordsAndFails(self):
        driver = FakeVolumeDriver()
        driver.failOn("createVolume", VolumeBackendError("disk on fire"))
        self.failureResultOf(driver.createVolume(VOL1), VolumeBackendError)
        self.assertEqual(driver.volumes, {})
        self.successResultOf(driver.createVolume(VOL1))
        self.assertEqual(driver.volumes, {"volume-00000001": 1})
        driver.failNext = VolumeBackendError("once")
        self.failureResultOf(driver.getStats(), VolumeBackendError)
        self.assertEqual(
            [c[0] for c in driver.calls], ["createVolume", "createVolume", "getStats"]
        )

    def test_originWithSnapshots(self):
        driver = FakeVolumeDriver()
        self.successResultOf(driver.createVolume(VOL1))
        self.successResultOf(driver.createSnapshot(SNAP1, VOL1))
        self.failureResultOf(driver.deleteVolume(VOL1), VolumeBusy)
        self.assertIn("volume-00000001", driver.volumes)
        self.successResultOf(driver.deleteSnapshot(SNAP1))
        self.successResultOf(driver.deleteVolume(VOL1))
        self.assertEqual(driver.volumes, {})

    def test_stats(self):
        driver = FakeVolumeDriver(capacityGb=10)
        self.successResultOf(driver.createVolume(VOL2))
        self.assertEqual(
            self.successResultOf(driver.getStats()),
            {"driver": "fake", "total_gb": 10.0, "free_gb": 8.0},
        )


class RegistryTests(SynchronousTestCase):
    """
    C{--volume_driver} picks the driver from a closed registry.
    """

    def test_drivers(self):
        config = configFromFlags(volumes_path="/tmp/nova-test-volumes")
        self.assertIsInstance(volumeDriverFromConfig(config, reactor), FileVolumeDriver)
        fake = volumeDriverFromConfig(config.replace(volume_driver="fake"), reactor)
        self.assertIsInstance(fake, FakeVolumeDriver)
        lvm = volumeDriverFromConfig(
            config.replace(volume_driver="lvm", volume_group="cinder", iscsi_ip_address="10.0.0.2"),
            reactor,
        )
        self.assertIsInstance(lvm, LVMVolumeDriver)
        self.assertEqual((lvm.volumeGroup, lvm.portal), ("cinder", "10.0.0.2:3260"))

    def test_unknownDriver(self):
        self.assertRaises(ConfigError, configFromFlags, volume_driver="zfs")

    def test_badLVMFlags(self):
        config = configFromFlags(volume_driver="lvm")
        for flags in (
            {"volume_group": "-rf"},
            {"volume_group": "vg/../x"},
            {"iscsi_ip_address": "portal.example.com"},
            {"iscsi_target_prefix": "not an iqn "},
        ):
            self.assertRaises(ConfigError, volumeDriverFromConfig, config.replace(**flags), reactor)
