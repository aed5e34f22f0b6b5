"""
The volume driver contract: one suite that every L{IVolumeDriver} passes.

A test case mixes L{VolumeDriverContract} into a
L{twisted.trial.unittest.TestCase} and provides C{makeDriver()}, returning
a new driver whose back-end is empty.  The tests return Deferreds, so a
driver that works in threads runs the same tests as the fake.
"""

from twisted.internet.defer import inlineCallbacks
from zope.interface.verify import verifyObject

from nova.virt.interfaces import VolumeConnection
from nova.volume.errors import VolumeBackendError
from nova.volume.interfaces import IVolumeDriver, SnapshotSpec, VolumeSpec

VOL1 = VolumeSpec(1, "volume-00000001", 1)
VOL2 = VolumeSpec(2, "volume-00000002", 2)
SNAP1 = SnapshotSpec(1, "snapshot-00000001", "volume-00000001", 1)


class VolumeDriverContract:
    """
    Tests every L{IVolumeDriver} passes.
    """

    def makeDriver(self):
        """
        @return: a new L{IVolumeDriver} over an empty back-end.
        """
        raise NotImplementedError()

    @inlineCallbacks
    def ready(self):
        driver = self.makeDriver()
        yield driver.checkForSetupError()
        return driver

    def test_provides(self):
        driver = self.makeDriver()
        verifyObject(IVolumeDriver, driver)
        self.assertIsInstance(driver.name, str)

    @inlineCallbacks
    def test_createExportDelete(self):
        driver = yield self.ready()
        location = yield driver.createVolume(VOL1)
        self.assertIsInstance(location, str)
        export = yield driver.exportVolume(VOL1)
        # One shape for every driver: a volume connection.
        connection = VolumeConnection.fromDict(export)
        self.assertEqual(connection.toDict(), export)
        self.assertEqual((yield driver.exportVolume(VOL1)), export)
        yield driver.removeExport(VOL1)
        yield driver.removeExport(VOL1)
        yield driver.deleteVolume(VOL1)
        yield driver.deleteVolume(VOL1)
        yield self.assertFailure(driver.exportVolume(VOL1), VolumeBackendError)

    @inlineCallbacks
    def test_createTwice(self):
        driver = yield self.ready()
        yield driver.createVolume(VOL1)
        yield self.assertFailure(driver.createVolume(VOL1), VolumeBackendError)
        # The first one is intact.
        yield driver.exportVolume(VOL1)

    @inlineCallbacks
    def test_snapshotAndVolumeFromIt(self):
        driver = yield self.ready()
        yield driver.createVolume(VOL1)
        location = yield driver.createSnapshot(SNAP1, VOL1)
        self.assertIsInstance(location, str)
        yield self.assertFailure(driver.createSnapshot(SNAP1, VOL1), VolumeBackendError)
        yield driver.createVolumeFromSnapshot(VOL2, SNAP1)
        export = yield driver.exportVolume(VOL2)
        self.assertEqual(VolumeConnection.fromDict(export).toDict(), export)
        yield driver.removeExport(VOL2)
        yield driver.deleteVolume(VOL2)
        yield driver.deleteSnapshot(SNAP1)
        yield driver.deleteSnapshot(SNAP1)
        yield driver.deleteVolume(VOL1)

    @inlineCallbacks
    def test_volumeFromSnapshotTooSmall(self):
        driver = yield self.ready()
        big = VolumeSpec(3, "volume-00000003", 2)
        yield driver.createVolume(big)
        snap = SnapshotSpec(3, "snapshot-00000003", big.name, 2)
        yield driver.createSnapshot(snap, big)
        yield self.assertFailure(
            driver.createVolumeFromSnapshot(VolumeSpec(4, "volume-00000004", 1), snap),
            VolumeBackendError,
        )
        yield self.assertFailure(
            driver.exportVolume(VolumeSpec(4, "volume-00000004", 1)), VolumeBackendError
        )

    @inlineCallbacks
    def test_snapshotOfMissingVolume(self):
        driver = yield self.ready()
        yield self.assertFailure(driver.createSnapshot(SNAP1, VOL1), VolumeBackendError)
        yield self.assertFailure(
            driver.createVolumeFromSnapshot(VOL2, SNAP1), VolumeBackendError
        )

    @inlineCallbacks
    def test_stats(self):
        driver = yield self.ready()
        stats = yield driver.getStats()
        self.assertEqual(stats["driver"], driver.name)
        self.assertGreaterEqual(stats["total_gb"], stats["free_gb"])
        self.assertGreaterEqual(stats["free_gb"], 0)
