"""
Tests for L{nova.volume.manage}: C{nova-manage volume delete} and
C{nova-manage volume reattach}, on the small cloud of
L{tests.volume.util} (real database and volume manager, recording compute
hosts).
"""

from io import StringIO

from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.db import volumes as v
from nova.db.instances import IncorrectInstanceState
from nova.virt.errors import DeviceInUse, VirtError
from nova.volume.errors import IncorrectVolumeState, VolumeNotFound
from nova.volume.manage import VolumeCommands
from tests.volume.util import ALICE, VolumeCloud


class _Env:
    def __init__(self, cloud, rpc):
        self.config = cloud.config
        self.db = cloud.db
        self.rpc = rpc
        self.reactor = cloud.clock
        self.out = StringIO()
        self.err = StringIO()


class VolumeCommandsTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = VolumeCloud(self)
        self.compute = self.cloud.computes["ch1"]
        self.volume = self.cloud.availableVolume()
        self.instance = self.cloud.instance()
        self.env = _Env(self.cloud, self.cloud.rpc)
        self.commands = VolumeCommands(self.env)

    def attached(self):
        return self.cloud.run(
            self.cloud.api.attachVolume(ALICE, self.volume.ec2Id, self.instance.ec2Id, "/dev/vdb")
        )

    def gone(self, volumeId):
        self.cloud.runFailure(self.cloud.db.volumes.get(volumeId), VolumeNotFound)

    def test_deleteAttached(self):
        """
        An attached volume is detached (its compute host asked), then
        deleted by its volume host.
        """
        self.attached()
        self.cloud.run(self.commands.do_delete(self.volume.ec2Id))
        self.cloud.settle()
        self.assertEqual(
            [method for method, _ in self.compute.requests], ["attachVolume", "detachVolume"]
        )
        self.gone(self.volume.id)
        self.assertEqual(self.cloud.drivers["vh1"].volumes, {})
        self.assertIn(f"{self.volume.ec2Id} is deleting on vh1", self.env.out.getvalue())

    def test_deleteAttachedComputeFails(self):
        """
        The compute host's failure does not stop the deletion.
        """
        self.attached()
        self.compute.failures["detachVolume"] = VirtError("the guest is wedged")
        self.cloud.run(self.commands.do_delete(self.volume.id))
        self.cloud.settle()
        self.gone(self.volume.id)

    def test_deleteStuck(self):
        """
        A volume stuck attaching (or in any other busy status) is deleted
        too.
        """
        self.cloud.run(
            self.cloud.db.volumes.update(
                self.volume.id, status=v.ATTACHING, instance_id=self.instance.id,
                mountpoint="/dev/vdb",
            )
        )
        self.cloud.run(self.commands.do_delete(self.volume.ec2Id))
        self.cloud.settle()
        self.gone(self.volume.id)
        self.assertEqual(self.compute.requests, [])

    def test_deleteUnknown(self):
        self.cloud.runFailure(self.commands.do_delete("vol-000000ff"), VolumeNotFound)

    def test_deleteWithoutBus(self):
        """
        Without the cloud's bus, a volume on a host cannot be deleted: a
        clear error, and the volume is left as it was.
        """
        commands = VolumeCommands(_Env(self.cloud, None))
        failure = self.cloud.runFailure(commands.do_delete(self.volume.ec2Id), exception.Invalid)
        self.assertIn("needs the cloud's bus", str(failure.value))
        self.assertEqual(self.cloud.volume(self.volume.id).status, "available")

    def test_deleteHostlessWithoutBus(self):
        """
        A volume that never reached a host needs no bus: its row goes.
        """
        record = self.cloud.run(self.cloud.db.volumes.create("wonderland", "alice", 1))
        commands = VolumeCommands(_Env(self.cloud, None))
        self.cloud.run(commands.do_delete(record.ec2Id))
        self.gone(record.id)
        self.assertIn("had no volume host", commands.out.getvalue())

    def test_reattach(self):
        """
        An in-use volume is attached again to its instance, with its
        mount point and export.
        """
        self.attached()
        self.cloud.run(self.commands.do_reattach(self.volume.ec2Id))
        self.assertEqual(len(self.compute.requests), 2)
        self.assertEqual(self.compute.requests[1], self.compute.requests[0])
        self.assertEqual(self.cloud.volume(self.volume.id).status, "in-use")
        self.assertIn(
            f"{self.volume.ec2Id} attached to {self.instance.ec2Id} as /dev/vdb",
            self.env.out.getvalue(),
        )

    def test_reattachStillAttached(self):
        """
        A guest that still has the device is fine.
        """
        self.attached()
        self.compute.failures["attachVolume"] = DeviceInUse("already there")
        self.cloud.run(self.commands.do_reattach(self.volume.ec2Id))
        self.assertEqual(self.cloud.volume(self.volume.id).status, "in-use")

    def test_reattachAvailable(self):
        failure = self.cloud.runFailure(
            self.commands.do_reattach(self.volume.ec2Id), IncorrectVolumeState
        )
        self.assertIn("not in-use", str(failure.value))
        self.assertEqual(self.compute.requests, [])

    def test_reattachInstanceNotRunning(self):
        self.attached()
        self.cloud.run(self.cloud.db.instances.update(self.instance.id, state="stopped"))
        self.cloud.runFailure(self.commands.do_reattach(self.volume.ec2Id), IncorrectInstanceState)
