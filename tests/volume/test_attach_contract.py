"""
The attach contract: a volume made by the real L{VolumeManager} on a
volume host is attached, detached and attached again to instances of the
real L{ComputeManager} on a compute host, through the volume API, over the
in-process bus, with the scheduler choosing the volume host.  Whatever the
volume driver exports, the virt driver attaches: one shape (a
L{nova.virt.interfaces.VolumeConnection}) from every volume driver to
every virt driver.

L{AttachContract} is a mixin: a test case provides the drivers
(C{makeVolumeDriver}, C{makeVirtDriver}) and the ways to start a guest and
to look into it.  Here it runs with the fake virt driver on the fake and
the file volume drivers; C{tests.integration.test_volumes_iscsi} runs it
with libvirt guests and file volumes exported by tgtd.
"""

import os

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nova.compute import states
from nova.compute.manager import ComputeManager
from nova.compute.network import FakeNetworkClient
from nova.config import configFromFlags
from nova.network.fake import FakeNetworkDriver
from nova.rpc.local import LocalRPC
from nova.scheduler.manager import SchedulerManager
from nova.service import NovaService
from nova.virt.fake import FakeVirtDriver
from nova.virt.interfaces import VolumeConnection
from nova.volume.api import VolumeAPI
from nova.volume.errors import VolumeInUse
from nova.volume.fake import FakeVolumeDriver
from nova.volume.file import FileVolumeDriver
from nova.volume.manager import VolumeManager
from tests.util import ALICE, DictQuotas, createInstance, makeDatabase


@inlineCallbacks
def waitUntil(predicate, timeout=60.0, step=0.05, what="a condition"):
    """
    Call C{predicate()} (which may return a Deferred) until its result is
    true, within C{timeout} seconds.

    @return: L{Deferred} firing with that result; failing with
        L{AssertionError} at the deadline.
    """
    deadline = reactor.seconds() + timeout
    while True:
        value = yield predicate()
        if value:
            return value
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        yield deferLater(reactor, step, lambda: None)


class AttachContract:
    """
    The volume attach path end to end.  A test case mixing this in
    provides:

      - C{makeVolumeDriver()}: a new L{IVolumeDriver};
      - C{makeVirtDriver()}: a new L{IVirtDriver};
      - C{startGuest(instance, name)}: L{Deferred}; boots a guest for the
        instance record (C{name} is its guest name) on the virt driver;
      - C{waitAttached(name, connection, mountpoint)} and
        C{waitDetached(name, mountpoint)}: L{Deferred}s that fire once the
        guest has (no longer has) the volume;
      - C{writeVolume(connection, data)} and C{readVolume(connection,
        size)}: L{Deferred}s writing and reading the start of a volume
        from this host.
    """

    timeout = 240
    computeHost = "ch1"
    volumeHost = "vh1"

    @inlineCallbacks
    def setUpCloud(self, **flags):
        flags.setdefault("scheduler_driver", "simple")
        self.config = configFromFlags(host="controller", **flags)
        self.db = makeDatabase(self, reactor)
        self.rpc = LocalRPC(reactor, callTimeout=120)
        self.api = VolumeAPI(self.config, self.db, self.rpc, reactor, DictQuotas())
        self.volumeDriver = self.makeVolumeDriver()
        self.virtDriver = self.makeVirtDriver()
        self.services = []
        self.addCleanup(self.stopServices)
        yield self.startService(
            "nova-scheduler", "scheduler",
            SchedulerManager(self.config, self.db, self.rpc, reactor), self.config,
        )
        volumeConfig = self.config.replace(host=self.volumeHost)
        self.volumeManager = VolumeManager(
            volumeConfig, self.db, self.rpc, reactor, driver=self.volumeDriver
        )
        yield self.startService("nova-volume", "volume", self.volumeManager, volumeConfig)
        computeConfig = self.config.replace(host=self.computeHost)
        self.computeManager = ComputeManager(
            computeConfig, self.db, self.rpc, reactor, self.virtDriver, FakeNetworkClient(),
            networkDriver=FakeNetworkDriver(),
        )
        yield self.startService("nova-compute", "compute", self.computeManager, computeConfig)

    @inlineCallbacks
    def startService(self, binary, topic, manager, config):
        service = NovaService(binary, topic, manager, self.rpc, self.db, reactor, config)
        self.services.append(service)
        service.startService()
        yield service.ready
        return service

    @inlineCallbacks
    def stopServices(self):
        for service in reversed(self.services):
            if service.running:
                yield service.stopService()

    # -- helpers ---------------------------------------------------------

    @inlineCallbacks
    def runningInstance(self):
        """
        @return: L{Deferred} firing with a running instance (its record)
            on the compute host, its guest booted.
        """
        instance = createInstance(
            self, self.db, host=self.computeHost, availability_zone="nova",
            mac_address="02:16:3e:%02x:%02x:%02x" % tuple(os.urandom(3)),
        )
        name = self.computeManager.instanceName(instance)
        yield self.startGuest(instance, name)
        record = yield self.db.instances.get(instance.id)
        self.assertEqual(record.state, states.RUNNING, record.state_description)
        return record

    def volumeStatus(self, volumeId, status):
        def check():
            return self.db.volumes.get(volumeId).addCallback(
                lambda v: v if v.status == status else None
            )

        return waitUntil(check, what=f"volume {volumeId} to be {status}")

    @inlineCallbacks
    def availableVolume(self, size=1, snapshotId=None):
        volume = yield self.api.createVolume(ALICE, size, snapshotId=snapshotId)
        volume = yield self.volumeStatus(volume.id, "available")
        self.assertEqual(volume.host, self.volumeHost)
        return volume

    def connectionOf(self, volume):
        return VolumeConnection.fromDict(volume.exportInfo)

    def guestName(self, instance):
        return self.computeManager.instanceName(instance)

    # -- the contract ----------------------------------------------------

    @inlineCallbacks
    def test_exportIsAConnection(self):
        """
        Every volume driver exports a volume as a connection, which the
        volume API sends to the compute host as it is.
        """
        volume = yield self.availableVolume()
        connection = self.connectionOf(volume)
        self.assertEqual(connection.toDict(), volume.exportInfo)

    @inlineCallbacks
    def test_attachDetachAttachToAnother(self):
        """
        A volume attached to one instance is in use and in its guest;
        detached, it is available and gone from the guest; attached to a
        second instance, that guest has it, with the data written to it.
        """
        volume = yield self.availableVolume()
        connection = self.connectionOf(volume)
        data = b"NOVA VOLUME " + os.urandom(8).hex().encode("ascii")
        yield self.writeVolume(connection, data)
        first = yield self.runningInstance()
        second = yield self.runningInstance()

        attached = yield self.api.attachVolume(ALICE, volume.ec2Id, first.ec2Id, "/dev/vdb")
        self.assertEqual(
            (attached.status, attached.instance_id, attached.mountpoint),
            ("in-use", first.id, "/dev/vdb"),
        )
        yield self.waitAttached(self.guestName(first), connection, "/dev/vdb")
        yield self.assertFailure(
            self.api.attachVolume(ALICE, volume.ec2Id, second.ec2Id, "/dev/vdb"), VolumeInUse
        )

        detached = yield self.api.detachVolume(ALICE, volume.ec2Id)
        self.assertEqual((detached.status, detached.instance_id), ("available", None))
        yield self.waitDetached(self.guestName(first), "/dev/vdb")

        attached = yield self.api.attachVolume(ALICE, volume.ec2Id, second.ec2Id, "/dev/vdc")
        self.assertEqual((attached.status, attached.instance_id), ("in-use", second.id))
        yield self.waitAttached(self.guestName(second), connection, "/dev/vdc")
        yield self.api.detachVolume(ALICE, volume.ec2Id, second.ec2Id, "/dev/vdc")
        yield self.waitDetached(self.guestName(second), "/dev/vdc")
        self.assertEqual((yield self.readVolume(connection, len(data))), data)

    @inlineCallbacks
    def test_terminateDetaches(self):
        """
        Terminating an instance detaches its volumes: they are available
        again, and can be attached to another instance.
        """
        volume = yield self.availableVolume()
        first = yield self.runningInstance()
        yield self.api.attachVolume(ALICE, volume.ec2Id, first.ec2Id, "/dev/vdb")
        yield self.db.instances.transition(
            first.id, states.TERMINATE.allowed, states.SHUTTING_DOWN, action="terminate"
        )
        yield self.rpc.call(
            ALICE, f"compute.{self.computeHost}", "terminateInstance", {"instanceId": first.id}
        )
        self.assertEqual((yield self.db.instances.get(first.id)).state, states.TERMINATED)
        record = yield self.db.volumes.get(volume.id)
        self.assertEqual(
            (record.status, record.instance_id, record.mountpoint), ("available", None, None)
        )
        second = yield self.runningInstance()
        yield self.api.attachVolume(ALICE, volume.ec2Id, second.ec2Id, "/dev/vdb")
        yield self.waitAttached(self.guestName(second), self.connectionOf(volume), "/dev/vdb")
        yield self.api.detachVolume(ALICE, volume.ec2Id)

    @inlineCallbacks
    def test_volumeFromSnapshotHasTheData(self):
        """
        CreateSnapshot, then CreateVolume from the snapshot: the new
        volume holds what the first one held when the snapshot was taken.
        """
        volume = yield self.availableVolume()
        data = b"SNAPSHOT " + os.urandom(8).hex().encode("ascii")
        yield self.writeVolume(self.connectionOf(volume), data)
        snapshot = yield self.api.createSnapshot(ALICE, volume.ec2Id)

        def snapshotReady():
            return self.db.volumes.getSnapshot(snapshot.id).addCallback(
                lambda s: s if s.status == "available" else None
            )

        yield waitUntil(snapshotReady, what="the snapshot")
        yield self.writeVolume(self.connectionOf(volume), b"OVERWRITTEN " + b"x" * 20)
        copy = yield self.availableVolume(snapshotId=snapshot.ec2Id)
        self.assertNotEqual(copy.id, volume.id)
        self.assertEqual((yield self.readVolume(self.connectionOf(copy), len(data))), data)
        instance = yield self.runningInstance()
        yield self.api.attachVolume(ALICE, copy.ec2Id, instance.ec2Id, "/dev/vdb")
        yield self.waitAttached(self.guestName(instance), self.connectionOf(copy), "/dev/vdb")
        yield self.api.detachVolume(ALICE, copy.ec2Id)


class FakeGuestsMixin:
    """
    Guests of the fake virt driver, started by the compute manager.
    """

    def makeVirtDriver(self):
        return FakeVirtDriver()

    def startGuest(self, instance, name):
        return self.computeManager.runInstance(ALICE, instance.id)

    def waitAttached(self, name, connection, mountpoint):
        self.assertEqual(self.virtDriver.guests[name].volumes.get(mountpoint), connection.url)
        return deferLater(reactor, 0, lambda: None)

    def waitDetached(self, name, mountpoint):
        self.assertNotIn(mountpoint, self.virtDriver.guests[name].volumes)
        return deferLater(reactor, 0, lambda: None)


class FileDataMixin:
    """
    Reads and writes volumes of the file driver through their files.
    """

    def makeVolumeDriver(self):
        path = os.path.abspath(self.mktemp())
        return FileVolumeDriver(path, reactor)

    def _path(self, connection):
        self.assertEqual(connection.type, "file")
        return connection.path

    def writeVolume(self, connection, data):
        def write(path):
            with open(path, "r+b") as f:
                f.write(data)

        return deferLater(reactor, 0, write, self._path(connection))

    def readVolume(self, connection, size):
        def read(path):
            with open(path, "rb") as f:
                return f.read(size)

        return deferLater(reactor, 0, read, self._path(connection))


class FakeVirtFileVolumeTests(FakeGuestsMixin, FileDataMixin, AttachContract, TestCase):
    def setUp(self):
        return self.setUpCloud()


class FakeVirtFakeVolumeTests(FakeGuestsMixin, AttachContract, TestCase):
    """
    The fake volume driver exports iSCSI connections with no target
    behind them: the fake virt driver attaches them all the same.  It
    holds no data, so the data checks read back what was written in
    memory.
    """

    def setUp(self):
        self.written = {}
        return self.setUpCloud()

    def makeVolumeDriver(self):
        return FakeVolumeDriver()

    def writeVolume(self, connection, data):
        self.assertEqual(connection.type, "iscsi")
        self.written[connection.iqn] = data
        return deferLater(reactor, 0, lambda: None)

    def readVolume(self, connection, size):
        return deferLater(reactor, 0, lambda: self.written.get(connection.iqn, b"")[:size])

    def test_volumeFromSnapshotHasTheData(self):
        raise self.skipTest("the fake volume driver keeps no data")
