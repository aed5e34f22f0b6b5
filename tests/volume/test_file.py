"""
Tests for L{nova.volume.file}: the file driver for real, in a temporary
directory.
"""

import json
import os
import shutil

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.util.process import FakeProcessRunner, ReactorProcessRunner
from nova.volume.errors import VolumeBackendError
from nova.volume.file import GIB, FileVolumeDriver, sparseCopy
from nova.volume.interfaces import SnapshotSpec, VolumeSpec

VOL = VolumeSpec(10, "volume-0000000a", 2)
SNAP = SnapshotSpec(5, "snapshot-00000005", "volume-0000000a", 2)
FROM_SNAP = VolumeSpec(11, "volume-0000000b", 3)


def allocated(path):
    return os.stat(path).st_blocks * 512


def readAt(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def writeAt(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


class RawFileDriverTests(TestCase):
    """
    Raw volumes are sparse files; snapshots and volumes made from them are
    sparse copies.
    """

    @inlineCallbacks
    def setUp(self):
        self.path = os.path.abspath(self.mktemp())
        self.driver = FileVolumeDriver(self.path, reactor)
        yield self.driver.checkForSetupError()

    def listing(self):
        return sorted(os.listdir(self.path))

    @inlineCallbacks
    def test_createIsSparse(self):
        location = yield self.driver.createVolume(VOL)
        self.assertEqual(location, os.path.join(self.path, "volume-0000000a"))
        st = os.stat(location)
        self.assertEqual(st.st_size, 2 * GIB)
        self.assertLess(allocated(location), 1 << 20)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(self.listing(), ["volume-0000000a"])
        export = yield self.driver.exportVolume(VOL)
        self.assertEqual(export, {"type": "file", "path": location, "format": "raw"})

    @inlineCallbacks
    def test_deleteLeavesNothing(self):
        yield self.driver.createVolume(VOL)
        yield self.driver.createSnapshot(SNAP, VOL)
        yield self.driver.removeExport(VOL)
        yield self.driver.deleteVolume(VOL)
        yield self.driver.deleteSnapshot(SNAP)
        self.assertEqual(self.listing(), [])

    @inlineCallbacks
    def test_snapshotIsAnIndependentSparseCopy(self):
        location = yield self.driver.createVolume(VOL)
        writeAt(location, 0, b"boot sector")
        writeAt(location, 3 * GIB // 2, b"far away")
        snapPath = yield self.driver.createSnapshot(SNAP, VOL)
        self.assertEqual(os.stat(snapPath).st_size, 2 * GIB)
        self.assertLess(allocated(snapPath), 4 << 20)
        # Later writes to the volume do not reach the snapshot ...
        writeAt(location, 0, b"overwritten")
        # ... and the snapshot outlives its volume.
        yield self.driver.deleteVolume(VOL)
        newPath = yield self.driver.createVolumeFromSnapshot(FROM_SNAP, SNAP)
        self.assertEqual(os.stat(newPath).st_size, 3 * GIB)
        self.assertEqual(readAt(newPath, 0, 11), b"boot sector")
        self.assertEqual(readAt(newPath, 3 * GIB // 2, 8), b"far away")
        self.assertEqual(readAt(newPath, 5 * GIB // 2, 8), bytes(8))
        self.assertLess(allocated(newPath), 4 << 20)
        self.assertEqual(self.listing(), ["snapshot-00000005", "volume-0000000b"])

    @inlineCallbacks
    def test_neverOverwrites(self):
        target = os.path.join(self.path, VOL.name)
        with open(target, "wb") as f:
            f.write(b"someone's data")
        yield self.assertFailure(self.driver.createVolume(VOL), VolumeBackendError)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"someone's data")
        self.assertEqual(self.listing(), [VOL.name])

    @inlineCallbacks
    def test_staleTemporaryFile(self):
        """
        A temporary file left by an interrupted operation does not block
        the next one.
        """
        stale = os.path.join(self.path, "." + VOL.name + ".tmp")
        with open(stale, "wb") as f:
            f.write(b"half")
        yield self.driver.createVolume(VOL)
        self.assertEqual(self.listing(), [VOL.name])

    @inlineCallbacks
    def test_failedCopyLeavesNothing(self):
        yield self.assertFailure(self.driver.createSnapshot(SNAP, VOL), VolumeBackendError)
        yield self.assertFailure(
            self.driver.createVolumeFromSnapshot(FROM_SNAP, SNAP), VolumeBackendError
        )
        self.assertEqual(self.listing(), [])

    def test_unsafeNames(self):
        for name in ("../etc/passwd", "a/b", ".hidden", "", "x" * 200, "vol\0"):
            self.assertRaises(ValueError, self.driver.pathOf, name)
            self.assertRaises(ValueError, VolumeSpec, 1, name, 1)

    @inlineCallbacks
    def test_stats(self):
        stats = yield self.driver.getStats()
        st = os.statvfs(self.path)
        self.assertEqual(stats["driver"], "file")
        self.assertAlmostEqual(stats["total_gb"], st.f_blocks * st.f_frsize / GIB)

    @inlineCallbacks
    def test_setupErrors(self):
        blocker = os.path.abspath(self.mktemp())
        with open(blocker, "w") as f:
            f.write("a file, not a directory")
        driver = FileVolumeDriver(blocker, reactor)
        yield self.assertFailure(driver.checkForSetupError(), VolumeBackendError)
        nested = FileVolumeDriver(os.path.join(blocker, "volumes"), reactor)
        yield self.assertFailure(nested.checkForSetupError(), VolumeBackendError)


class Qcow2FileDriverTests(TestCase):
    """
    qcow2 volumes are made and grown with qemu-img.
    """

    def setUp(self):
        if shutil.which("qemu-img") is None:
            self.skipTest("qemu-img is not installed")
        self.path = os.path.abspath(self.mktemp())
        self.driver = FileVolumeDriver(self.path, reactor, volumeFormat="qcow2")
        return self.driver.checkForSetupError()

    @inlineCallbacks
    def info(self, path):
        out, err, code = yield ReactorProcessRunner(reactor).run(
            ["qemu-img", "info", "--output=json", path]
        )
        self.assertEqual(code, 0, err)
        return json.loads(out)

    @inlineCallbacks
    def test_createSnapshotGrow(self):
        location = yield self.driver.createVolume(VOL)
        info = yield self.info(location)
        self.assertEqual((info["format"], info["virtual-size"]), ("qcow2", 2 * GIB))
        export = yield self.driver.exportVolume(VOL)
        self.assertEqual(export["format"], "qcow2")
        snapPath = yield self.driver.createSnapshot(SNAP, VOL)
        self.assertEqual((yield self.info(snapPath))["virtual-size"], 2 * GIB)
        newPath = yield self.driver.createVolumeFromSnapshot(FROM_SNAP, SNAP)
        info = yield self.info(newPath)
        self.assertEqual((info["format"], info["virtual-size"]), ("qcow2", 3 * GIB))
        self.assertNotIn("backing-filename", info)
        self.assertEqual(
            sorted(os.listdir(self.path)),
            ["snapshot-00000005", "volume-0000000a", "volume-0000000b"],
        )


class Qcow2CommandTests(TestCase):
    """
    The qemu-img commands of the qcow2 format, and what a failing one
    leaves behind (nothing).
    """

    def setUp(self):
        self.path = os.path.abspath(self.mktemp())
        self.runner = FakeProcessRunner()
        self.driver = FileVolumeDriver(self.path, reactor, runner=self.runner, volumeFormat="qcow2")
        return self.driver.checkForSetupError()

    @inlineCallbacks
    def test_commands(self):
        self.runner.handle(("qemu-img", "create"), self.makeFile)
        yield self.driver.createVolume(VOL)
        yield self.driver.createSnapshot(SNAP, VOL)
        yield self.driver.createVolumeFromSnapshot(FROM_SNAP, SNAP)
        temp = os.path.join(self.path, ".volume-0000000a.tmp")
        tempB = os.path.join(self.path, ".volume-0000000b.tmp")
        self.assertEqual(
            self.runner.commands,
            [
                ("qemu-img", "--version"),
                ("qemu-img", "create", "-q", "-f", "qcow2", temp, "2G"),
                ("qemu-img", "resize", "-q", "-f", "qcow2", tempB, "3G"),
            ],
        )

    def makeFile(self, argv, stdin):
        with open(argv[5], "wb") as f:
            f.write(b"QFI\xfb")
        return (b"", b"", 0)

    @inlineCallbacks
    def test_failedResizeLeavesNothing(self):
        self.runner.handle(("qemu-img", "create"), self.makeFile)
        yield self.driver.createVolume(VOL)
        yield self.driver.createSnapshot(SNAP, VOL)
        self.runner.respond(("qemu-img", "resize"), code=1, err=b"No space left on device")
        failure = yield self.assertFailure(
            self.driver.createVolumeFromSnapshot(FROM_SNAP, SNAP), VolumeBackendError
        )
        self.assertIn("No space left", str(failure))
        self.assertEqual(sorted(os.listdir(self.path)), ["snapshot-00000005", "volume-0000000a"])

    @inlineCallbacks
    def test_failedCreateLeavesNothing(self):
        def half(argv, stdin):
            self.makeFile(argv, stdin)
            return (b"", b"disk quota exceeded", 1)

        self.runner.handle(("qemu-img", "create"), half)
        yield self.assertFailure(self.driver.createVolume(VOL), VolumeBackendError)
        self.assertEqual(os.listdir(self.path), [])

    @inlineCallbacks
    def test_noQemuImg(self):
        runner = FakeProcessRunner(strict=True)
        driver = FileVolumeDriver(self.path, reactor, runner=runner, volumeFormat="qcow2")
        failure = yield self.assertFailure(driver.checkForSetupError(), VolumeBackendError)
        self.assertIn("qemu-img", str(failure))


class SparseCopyTests(SynchronousTestCase):
    """
    L{sparseCopy} copies data, skips holes and zeros, and never replaces
    a file.
    """

    def test_copy(self):
        source, target = self.mktemp(), self.mktemp()
        with open(source, "wb") as f:
            f.write(b"head")
            f.seek(64 << 20)
            f.write(bytes(4 << 20))
            f.write(b"tail")
        sparseCopy(source, target, size=128 << 20)
        self.assertEqual(os.stat(target).st_size, 128 << 20)
        self.assertEqual(readAt(target, 0, 4), b"head")
        self.assertEqual(readAt(target, (68 << 20), 4), b"tail")
        self.assertLess(allocated(target), 2 << 20)
        self.assertRaises(FileExistsError, sparseCopy, source, target)

    def test_neverShrinks(self):
        source, target = self.mktemp(), self.mktemp()
        with open(source, "wb") as f:
            f.write(b"x" * 1000)
        sparseCopy(source, target, size=10)
        self.assertEqual(os.stat(target).st_size, 1000)


class IscsiExportTests(TestCase):
    """
    With a L{TgtExporter} (C{--volume_export=iscsi}), each raw volume file
    is exported as an iSCSI target backed by the file.
    """

    def setUp(self):
        from nova.volume.lvm import TgtExporter

        self.path = os.path.abspath(self.mktemp())
        self.runner = FakeProcessRunner()
        exporter = TgtExporter(self.runner, iscsiAddress="10.0.0.2", iscsiPort=3260)
        self.driver = FileVolumeDriver(self.path, reactor, exporter=exporter)

    @inlineCallbacks
    def test_exportAndRemove(self):
        yield self.driver.checkForSetupError()
        location = yield self.driver.createVolume(VOL)
        export = yield self.driver.exportVolume(VOL)
        iqn = "iqn.2010-10.org.openstack:volume-0000000a"
        self.assertEqual(export, {"type": "iscsi", "portal": "10.0.0.2:3260", "iqn": iqn, "lun": 1})
        self.assertIn(
            ("tgtadm", "--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "10",
             "--lun", "1", "--backing-store", location),
            self.runner.commands,
        )
        self.runner.respond(
            ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show"),
            out=f"Target 10: {iqn}\n",
        )
        yield self.driver.removeExport(VOL)
        self.assertEqual(
            self.runner.commands[-1],
            ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete", "--force",
             "--tid", "10"),
        )

    @inlineCallbacks
    def test_missingFileNotExported(self):
        yield self.assertFailure(self.driver.exportVolume(VOL), VolumeBackendError)
        self.assertEqual(self.runner.commands, [])

    def test_qcow2Refused(self):
        from nova.volume.lvm import TgtExporter

        self.assertRaises(
            ValueError, FileVolumeDriver, self.path, reactor, volumeFormat="qcow2",
            exporter=TgtExporter(self.runner),
        )

    def test_fromConfig(self):
        from nova.config import ConfigError, configFromFlags

        config = configFromFlags(
            volumes_path=self.path, volume_export="iscsi", iscsi_ip_address="10.0.0.3"
        )
        driver = FileVolumeDriver.fromConfig(config, reactor)
        self.assertEqual(driver.exporter.portal, "10.0.0.3:3260")
        self.assertIsNone(
            FileVolumeDriver.fromConfig(config.replace(volume_export="file"), reactor).exporter
        )
        self.assertRaises(
            ConfigError, FileVolumeDriver.fromConfig, config.replace(volume_format="qcow2"), reactor
        )
