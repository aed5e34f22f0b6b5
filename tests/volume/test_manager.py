"""
Tests for L{nova.volume.manager}: the volume manager over the in-process
bus, on the fake driver and on the LVM driver with recorded commands.
"""

import json
import os

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.config import ConfigError
from nova.context import adminContext
from nova.db import volumes as v
from nova.util.process import FakeProcessRunner
from nova.volume.errors import VolumeBackendError, VolumeBusy
from nova.volume.fake import FakeVolumeDriver
from nova.volume.file import FileVolumeDriver
from nova.volume.lvm import LVMVolumeDriver
from nova.volume.manager import VolumeManager
from tests.volume.util import ALICE, VolumeCloud

CTX = adminContext()


class VolumeManagerTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = VolumeCloud(self)
        self.driver = self.cloud.drivers["vh1"]
        self.manager = self.cloud.managers["vh1"]
        self.db = self.cloud.db

    def newVolume(self, size=1, **kw):
        return self.successResultOf(self.db.volumes.create("wonderland", "alice", size, **kw))

    def cast(self, method, **args):
        self.successResultOf(self.cloud.rpc.cast(CTX, "volume.vh1", method, args))
        self.cloud.settle()

    def test_exposed(self):
        from nova.manager import exposedMethods

        self.assertEqual(
            sorted(exposedMethods(self.manager)),
            ["createSnapshot", "createVolume", "deleteSnapshot", "deleteVolume", "getStats", "ping"],
        )

    def test_createVolume(self):
        volume = self.newVolume(3, availabilityZone="elsewhere")
        self.cast("createVolume", volumeId=volume.id)
        record = self.cloud.volume(volume.id)
        self.assertEqual(
            (record.status, record.host, record.availability_zone, record.provider_location,
             record.status_description),
            ("available", "vh1", "nova", "fake://volume-%08x" % volume.id, None),
        )
        self.assertEqual(
            record.exportInfo,
            {"type": "iscsi", "portal": "127.0.0.1:3260",
             "iqn": "iqn.2010-10.org.openstack:volume-%08x" % volume.id, "lun": 1},
        )
        self.assertEqual(self.driver.volumes, {"volume-%08x" % volume.id: 3})

    def test_createVolumeFails(self):
        volume = self.newVolume()
        self.driver.failOn("createVolume", VolumeBackendError("no space left"))
        self.cast("createVolume", volumeId=volume.id)
        record = self.cloud.volume(volume.id)
        self.assertEqual(
            (record.status, record.status_description),
            ("error", "creation failed: no space left"),
        )
        self.assertEqual((self.driver.volumes, self.driver.exports), ({}, {}))

    def test_exportFailsRemovesVolume(self):
        volume = self.newVolume()
        self.driver.failOn("exportVolume", VolumeBackendError("tgtd is gone"))
        self.cast("createVolume", volumeId=volume.id)
        record = self.cloud.volume(volume.id)
        self.assertEqual(
            (record.status, record.status_description, record.export_info),
            ("error", "export failed: tgtd is gone", None),
        )
        self.assertEqual(self.driver.volumes, {})
        self.assertEqual([c[0] for c in self.driver.calls][-3:], ["createVolume", "exportVolume", "deleteVolume"])

    def test_createIgnoresOtherStatuses(self):
        volume = self.newVolume()
        self.successResultOf(self.db.volumes.update(volume.id, status=v.ERROR))
        self.cast("createVolume", volumeId=volume.id)
        self.assertEqual(self.cloud.volume(volume.id).status, "error")
        other = self.newVolume(host="vh2")
        self.cast("createVolume", volumeId=other.id)
        self.cast("createVolume", volumeId=424242)
        self.assertEqual(self.driver.volumes, {})
        self.assertEqual(self.cloud.volume(other.id).status, "creating")

    def test_createTwiceCreatesOnce(self):
        volume = self.newVolume()
        self.cast("createVolume", volumeId=volume.id)
        self.cast("createVolume", volumeId=volume.id)
        self.assertEqual([c[0] for c in self.driver.calls].count("createVolume"), 1)
        self.assertEqual(self.cloud.volume(volume.id).status, "available")

    def test_deleteVolume(self):
        volume = self.newVolume()
        self.cast("createVolume", volumeId=volume.id)
        self.successResultOf(self.db.volumes.update(volume.id, status=v.DELETING))
        self.cast("deleteVolume", volumeId=volume.id)
        self.failureResultOf(self.db.volumes.get(volume.id), v.VolumeNotFound)
        self.assertEqual((self.driver.volumes, self.driver.exports), ({}, {}))

    def test_deleteOnlyDeleting(self):
        volume = self.newVolume()
        self.cast("createVolume", volumeId=volume.id)
        self.cast("deleteVolume", volumeId=volume.id)
        self.assertEqual(self.cloud.volume(volume.id).status, "available")
        self.assertEqual(len(self.driver.volumes), 1)

    def test_deleteBusyVolume(self):
        volume = self.newVolume()
        self.cast("createVolume", volumeId=volume.id)
        self.successResultOf(self.db.volumes.update(volume.id, status=v.DELETING))
        self.driver.failOn("deleteVolume", VolumeBusy("it has snapshots"))
        self.cast("deleteVolume", volumeId=volume.id)
        record = self.cloud.volume(volume.id)
        self.assertEqual((record.status, record.status_description), ("available", "it has snapshots"))
        self.assertIn("volume-%08x" % volume.id, self.driver.exports)

    def test_deleteFails(self):
        volume = self.newVolume()
        self.cast("createVolume", volumeId=volume.id)
        self.successResultOf(self.db.volumes.update(volume.id, status=v.DELETING))
        self.driver.failOn("deleteVolume", VolumeBackendError("device busy"))
        self.cast("deleteVolume", volumeId=volume.id)
        record = self.cloud.volume(volume.id)
        self.assertEqual((record.status, record.status_description), ("error", "deletion failed: device busy"))

    def test_snapshots(self):
        volume = self.newVolume(2)
        self.cast("createVolume", volumeId=volume.id)
        snap = self.successResultOf(self.db.volumes.createSnapshot("wonderland", "alice", volume.id, 2, "vh1"))
        self.cast("createSnapshot", snapshotId=snap.id)
        record = self.cloud.snapshot(snap.id)
        self.assertEqual((record.status, record.provider_location), ("available", "fake://snapshot-%08x" % snap.id))
        self.assertEqual(self.driver.snapshots, {"snapshot-%08x" % snap.id: ("volume-%08x" % volume.id, 2)})
        # A volume from it, bigger.
        copy = self.newVolume(5, snapshotId=snap.id, host="vh1")
        self.cast("createVolume", volumeId=copy.id)
        self.assertEqual(self.cloud.volume(copy.id).status, "available")
        self.assertEqual(self.driver.volumes["volume-%08x" % copy.id], 5)
        self.assertEqual(self.driver.calls[-2][0], "createVolumeFromSnapshot")
        self.successResultOf(self.db.volumes.updateSnapshot(snap.id, status=v.DELETING))
        self.cast("deleteSnapshot", snapshotId=snap.id)
        self.failureResultOf(self.db.volumes.getSnapshot(snap.id), v.SnapshotNotFound)
        self.assertEqual(self.driver.snapshots, {})

    def test_snapshotFails(self):
        volume = self.newVolume()
        self.cast("createVolume", volumeId=volume.id)
        snap = self.successResultOf(self.db.volumes.createSnapshot("wonderland", "alice", volume.id, 1, "vh1"))
        self.driver.failOn("createSnapshot", VolumeBackendError("snapshot area full"))
        self.cast("createSnapshot", snapshotId=snap.id)
        record = self.cloud.snapshot(snap.id)
        self.assertEqual((record.status, record.status_description), ("error", "snapshot failed: snapshot area full"))
        # A snapshot of a volume that is gone fails too.
        orphan = self.successResultOf(self.db.volumes.createSnapshot("wonderland", "alice", 999, 1, "vh1"))
        self.cast("createSnapshot", snapshotId=orphan.id)
        self.assertEqual(self.cloud.snapshot(orphan.id).status, "error")

    def test_volumeFromSnapshotElsewhere(self):
        """
        A volume made from a snapshot that is not available on this host
        goes to error without touching the driver.
        """
        snap = self.successResultOf(self.db.volumes.createSnapshot("wonderland", "alice", 1, 1, "vh2"))
        self.successResultOf(self.db.volumes.updateSnapshot(snap.id, status=v.AVAILABLE))
        volume = self.newVolume(1, snapshotId=snap.id)
        self.cast("createVolume", volumeId=volume.id)
        record = self.cloud.volume(volume.id)
        self.assertEqual(record.status, "error")
        self.assertIn("not available on vh1", record.status_description)
        self.assertEqual(self.driver.volumes, {})

    def test_getStats(self):
        stats = self.cloud.run(self.cloud.rpc.call(CTX, "volume.vh1", "getStats", {}))
        self.assertEqual(stats, {"driver": "fake", "total_gb": 1000.0, "free_gb": 1000.0, "host": "vh1"})

    def test_restart(self):
        """
        Starting again settles what a restart interrupted, and exports
        every volume again.
        """
        kept = self.newVolume()
        self.cast("createVolume", volumeId=kept.id)
        gone = self.newVolume()
        self.cast("createVolume", volumeId=gone.id)
        interrupted = self.newVolume(host="vh1")
        self.successResultOf(self.db.volumes.update(gone.id, status=v.DELETING))
        snap = self.successResultOf(self.db.volumes.createSnapshot("wonderland", "alice", kept.id, 1, "vh1"))
        self.driver.exports.clear()   # tgtd restarted and forgot its targets
        self.successResultOf(self.manager.initHost())
        self.assertEqual(self.cloud.volume(kept.id).status, "available")
        self.assertEqual(list(self.driver.exports), ["volume-%08x" % kept.id])
        self.failureResultOf(self.db.volumes.get(gone.id), v.VolumeNotFound)
        record = self.cloud.volume(interrupted.id)
        self.assertEqual((record.status, record.status_description), ("error", "nova-volume restarted while creating it"))
        self.assertEqual(self.cloud.snapshot(snap.id).status, "error")

    def test_setupErrorStopsStart(self):
        driver = FakeVolumeDriver()
        driver.failOn("checkForSetupError", VolumeBackendError("no volume group"))
        manager = VolumeManager(self.cloud.config.replace(host="vh9"), self.db, self.cloud.rpc, self.cloud.clock, driver=driver)
        self.failureResultOf(manager.initHost(), VolumeBackendError)

    def test_badTemplates(self):
        for flags in (
            {"volume_name_template": "volume"},
            {"volume_name_template": "../volume-%08x"},
            {"volume_name_template": "vol %d"},
            {"snapshot_name_template": "snap-%s-%s"},
        ):
            self.assertRaises(
                ConfigError, VolumeManager, self.cloud.config.replace(**flags),
                self.db, self.cloud.rpc, self.cloud.clock, FakeVolumeDriver(),
            )


class LVMVolumeManagerTests(SynchronousTestCase):
    """
    The manager on the LVM driver, with recorded commands: a failure
    leaves nothing half-made on the host.
    """

    def setUp(self):
        self.runner = FakeProcessRunner()
        self.cloud = VolumeCloud(self, volumeHosts=())
        self.cloud.addVolumeHost(
            "vh1", driver=LVMVolumeDriver(self.runner, "nova-volumes", iscsiAddress="10.0.0.2")
        )
        self.runner.commands.clear()

    def test_create(self):
        volume = self.cloud.run(self.cloud.api.createVolume(ALICE, 2))
        self.cloud.settle()
        record = self.cloud.volume(volume.id)
        name = "volume-%08x" % volume.id
        self.assertEqual(record.status, "available")
        self.assertEqual(record.provider_location, f"/dev/nova-volumes/{name}")
        self.assertEqual(json.loads(record.export_info)["iqn"], f"iqn.2010-10.org.openstack:{name}")
        self.assertEqual(
            [c[:5] for c in self.runner.commands],
            [
                ("lvcreate", "-L", "2G", "-n", name),
                ("tgtadm", "--lld", "iscsi", "--mode", "target"),
                ("tgtadm", "--lld", "iscsi", "--mode", "target"),
                ("tgtadm", "--lld", "iscsi", "--mode", "logicalunit"),
                ("tgtadm", "--lld", "iscsi", "--mode", "target"),
            ],
        )

    def test_lvcreateFails(self):
        self.runner.respond(("lvcreate",), code=5, err=b"insufficient free space")
        volume = self.cloud.run(self.cloud.api.createVolume(ALICE, 2))
        self.cloud.settle()
        record = self.cloud.volume(volume.id)
        self.assertEqual(record.status, "error")
        self.assertIn("insufficient free space", record.status_description)
        self.assertEqual(self.runner.commandsStartingWith("tgtadm"), [])
        self.assertEqual(len(self.runner.commands), 1)

    def test_exportFails(self):
        """
        When the export cannot be made, the half-made target and the
        logical volume are removed.
        """
        def lvs(argv, stdin):
            made = [c[4] for c in self.runner.commandsStartingWith("lvcreate")]
            return ("".join(f"  {n}:\n" for n in made).encode(), b"", 0)

        self.runner.handle(("lvs",), lvs)
        self.runner.respond(("tgtadm", "--lld", "iscsi", "--mode", "logicalunit"), code=22, err=b"invalid request")
        volume = self.cloud.run(self.cloud.api.createVolume(ALICE, 1))
        name = "volume-%08x" % volume.id
        self.cloud.settle()
        record = self.cloud.volume(volume.id)
        self.assertEqual(record.status, "error")
        self.assertIn("export failed", record.status_description)
        tail = self.runner.commands[-4:]
        self.assertEqual(tail[0], ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete", "--force", "--tid", str(volume.id)))
        self.assertEqual(tail[1][0], "lvs")
        self.assertEqual(tail[2][:3], ("dd", "if=/dev/zero", f"of=/dev/nova-volumes/{name}"))
        self.assertEqual(tail[3], ("lvremove", "-f", f"nova-volumes/{name}"))


class FileVolumeManagerTests(TestCase):
    """
    The manager on the file driver, for real in a temporary directory.
    """

    def setUp(self):
        from twisted.internet import reactor, task

        from nova.config import configFromFlags
        from nova.db.api import inlineDatabase
        from nova.rpc.local import LocalRPC

        self.path = os.path.abspath(self.mktemp())
        clock = task.Clock()
        self.db = inlineDatabase("sqlite:", clock)
        self.successResultOf(self.db.sync())
        self.addCleanup(self.db.transactor.close)
        config = configFromFlags(host="vh1", volumes_path=self.path)
        self.manager = VolumeManager(config, self.db, LocalRPC(clock), reactor)
        self.assertIsInstance(self.manager.driver, FileVolumeDriver)

    @inlineCallbacks
    def test_lifecycle(self):
        yield self.manager.initHost()
        volume = yield self.db.volumes.create("wonderland", "alice", 1)
        yield self.manager.createVolume(CTX, volume.id)
        record = yield self.db.volumes.get(volume.id)
        path = os.path.join(self.path, "volume-%08x" % volume.id)
        self.assertEqual(record.status, "available")
        self.assertEqual(record.exportInfo, {"type": "file", "path": path, "format": "raw"})
        self.assertEqual(os.stat(path).st_size, 1 << 30)
        with open(path, "r+b") as f:
            f.write(b"data")
        snap = yield self.db.volumes.createSnapshot("wonderland", "alice", volume.id, 1, "vh1")
        yield self.manager.createSnapshot(CTX, snap.id)
        copy = yield self.db.volumes.create("wonderland", "alice", 2, snapshotId=snap.id, host="vh1")
        yield self.manager.createVolume(CTX, copy.id)
        copyPath = (yield self.db.volumes.get(copy.id)).exportInfo["path"]
        with open(copyPath, "rb") as f:
            self.assertEqual(f.read(4), b"data")
        self.assertEqual(os.stat(copyPath).st_size, 2 << 30)
        for record in (volume, copy):
            yield self.db.volumes.update(record.id, status=v.DELETING)
            yield self.manager.deleteVolume(CTX, record.id)
        yield self.db.volumes.updateSnapshot(snap.id, status=v.DELETING)
        yield self.manager.deleteSnapshot(CTX, snap.id)
        self.assertEqual(os.listdir(self.path), [])
        self.assertEqual((yield self.db.volumes.list()), [])
