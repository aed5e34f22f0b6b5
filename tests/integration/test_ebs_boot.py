"""
An EBS-backed instance boots on real QEMU from a snapshot-backed image.

The real volume manager on the file volume driver exports volumes through
a tgtd of the test's own (C{--volume_export=iscsi}); the real compute
manager runs the libvirt driver on C{qemu:///system}; the scheduler, the
compute API and the block device API run on the in-process bus.  A volume
gets the test guest's boot counter (C{NOVABOOT 1}) in its first sector and
is snapshotted; an image is registered whose root device is that snapshot;
the instance launched from it gets a new volume made from the snapshot on
the volume host and boots with it as its first disk over iSCSI, with no
local root disk: the guest reads the counter and writes C{NOVABOOT 2}.
Stopped and started, it boots from the same volume (C{NOVABOOT 3}).
Terminated, the volume (launched with C{DeleteOnTermination} false) is
detached and keeps what the guest wrote.

Skips when libvirtd, tgt or QEMU's iSCSI block driver are missing (fails
instead under C{NOVA_TEST_REQUIRE_SERVICES=1}).  The tgtd, its targets,
the volume files and the guest are the test's own and removed at the end.
"""

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from nova.compute import states
from nova.compute.api import ComputeAPI
from nova.compute.manager import ComputeManager
from nova.compute.network import FakeNetworkClient
from nova.config import configFromFlags
from nova.db import volumes as v
from nova.network.fake import FakeNetworkDriver
from nova.rpc.local import LocalRPC
from nova.scheduler.manager import SchedulerManager
from nova.service import NovaService
from nova.virt.interfaces import VolumeConnection
from nova.volume.api import VolumeAPI
from nova.volume.manager import VolumeManager
from tests.integration.test_libvirt_guest import RUN
from tests.integration.test_volumes_iscsi import IscsiGuestMixin, lastDisks
from tests.util import ALICE, DictQuotas, makeDatabase, workerPort
from tests.volume.test_attach_contract import waitUntil

PORTAL_PORT = workerPort(18811)
CONTROL_PORT = workerPort(18812)
PREFIX = f"iqn.2010-10.org.openstack.ebstest{RUN}:"


class EbsBootTests(IscsiGuestMixin, TestCase):
    timeout = 400
    portalPort = PORTAL_PORT
    controlPort = CONTROL_PORT
    targetPrefix = PREFIX

    @inlineCallbacks
    def setUp(self):
        yield self.setUpIscsi()

        self.config = configFromFlags(
            host="controller",
            scheduler_driver="simple",
            instance_name_template=f"novatest-{RUN}-e%06x",
        )
        self.db = makeDatabase(self, reactor)
        self.rpc = LocalRPC(reactor, callTimeout=120)
        self.volumes = VolumeAPI(self.config, self.db, self.rpc, reactor, DictQuotas())
        self.compute = ComputeAPI(self.config, self.db, self.rpc, reactor, quotas=DictQuotas())
        self.services = []
        self.addCleanup(self.stopServices)
        yield self.startService(
            "nova-scheduler", "scheduler",
            SchedulerManager(self.config, self.db, self.rpc, reactor), self.config,
        )
        volumeConfig = self.config.replace(host="vh1")
        self.volumeDriver = self.makeVolumeDriver()
        yield self.startService(
            "nova-volume", "volume",
            VolumeManager(volumeConfig, self.db, self.rpc, reactor, driver=self.volumeDriver),
            volumeConfig,
        )
        computeConfig = self.config.replace(host="ch1")
        self.virtDriver = self.makeDriver()
        self.computeManager = ComputeManager(
            # The guest needs no network card: no bridge.
            computeConfig, self.db, self.rpc, reactor, self.virtDriver, FakeNetworkClient(None),
            networkDriver=FakeNetworkDriver(),
            volumes=VolumeAPI(computeConfig, self.db, self.rpc, reactor, DictQuotas()),
        )
        yield self.startService("nova-compute", "compute", self.computeManager, computeConfig)

    @inlineCallbacks
    def startService(self, binary, topic, manager, config):
        service = NovaService(binary, topic, manager, self.rpc, self.db, reactor, config)
        self.services.append(service)
        service.startService()
        yield service.ready

    @inlineCallbacks
    def stopServices(self):
        for service in reversed(self.services):
            if service.running:
                yield service.stopService()

    def status(self, getter, recordId, status):
        def check():
            return getter(recordId).addCallback(lambda r: r if r.status == status else None)

        return waitUntil(check, timeout=120, what=f"{recordId} to be {status}")

    def instanceState(self, instanceId, state):
        def check():
            return self.db.instances.get(instanceId).addCallback(
                lambda r: r if r.state in (state, states.ERROR) else None
            )

        return waitUntil(check, timeout=180, what=f"instance {instanceId} to be {state}")

    @inlineCallbacks
    def test_bootFromSnapshotBackedImage(self):
        volume = yield self.volumes.createVolume(ALICE, 1)
        volume = yield self.status(self.db.volumes.get, volume.id, v.AVAILABLE)
        yield self.writeVolume(VolumeConnection.fromDict(volume.exportInfo), b"NOVABOOT 1\n")
        snapshot = yield self.volumes.createSnapshot(ALICE, volume.id)
        snapshot = yield self.status(self.db.volumes.getSnapshot, snapshot.id, v.AVAILABLE)

        image = yield self.compute.blockDevices.registerImage(
            ALICE,
            "/dev/sda1",
            [{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshot.ec2Id}}],
            name="ebs-guest",
        )
        # The volume outlives the instance, so that this host can read
        # what the guest wrote.
        mappings = yield self.compute.blockDevices.launchMappings(
            ALICE, image, [{"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": False}}]
        )
        _, [instance], _ = yield self.compute.runInstances(
            ALICE, image.ec2_id, 1, 1,
            instanceType="m1.tiny",
            kernelId="aki-7e570002",
            ramdiskId="ari-7e570003",
            blockDeviceMappings=mappings,
        )
        self.addCleanup(
            self.destroyQuietly, self.virtDriver, self.computeManager.instanceName(instance)
        )
        record = yield self.instanceState(instance.id, states.RUNNING)
        self.assertEqual(record.state, states.RUNNING, record.state_description)
        name = self.computeManager.instanceName(record)
        text = yield self.waitFor(self.virtDriver, name, "NOVA READY")
        # The guest read the counter the snapshot holds from its first disk.
        self.assertIn("NOVA BOOT 2 ", text)
        self.assertEqual(lastDisks(text)[:1], ["vda"])

        found = yield self.compute.blockDevices.instanceMappings([instance.id])
        [root] = found[instance.id]
        rootVolume = yield self.db.volumes.get(root.volumeId)
        self.assertEqual(rootVolume.status, v.IN_USE)
        self.assertEqual(rootVolume.snapshot_id, snapshot.id)
        connection = VolumeConnection.fromDict(rootVolume.exportInfo)
        xml = yield self.virtDriver.connection.run(lambda c: c.lookupByName(name).XMLDesc(0))
        xml = xml.replace('"', "'")
        self.assertIn("protocol='iscsi'", xml)
        self.assertIn(f"name='{connection.iqn}/{connection.lun}'", xml)
        self.assertIn("dev='vda'", xml)
        # No local root disk: the only file disk would be under the
        # instance's directory.
        self.assertNotIn(f"/{name}/disk'", xml)
        self.assertEqual(xml.count("<disk "), 1, xml)

        # Stopped and started, it boots from the same volume again.
        yield self.compute.stopInstances(ALICE, [instance.id])
        yield self.instanceState(instance.id, states.STOPPED)
        self.assertEqual((yield self.db.volumes.get(root.volumeId)).status, v.IN_USE)
        yield self.compute.startInstances(ALICE, [instance.id])
        record = yield self.instanceState(instance.id, states.RUNNING)
        self.assertEqual(record.state, states.RUNNING, record.state_description)
        yield self.waitFor(self.virtDriver, name, "NOVA BOOT 3 ")
        yield self.waitFor(self.virtDriver, name, "NOVA READY", count=2)

        yield self.compute.terminateInstances(ALICE, [instance.id])
        yield self.instanceState(instance.id, states.TERMINATED)
        rootVolume = yield self.status(self.db.volumes.get, root.volumeId, v.AVAILABLE)
        self.assertIsNone(rootVolume.instance_id)
        # The guest wrote its own counter into the volume before it went.
        sector = yield self.readVolume(connection, 64)
        self.assertTrue(sector.startswith(b"NOVABOOT 3\n"), sector)
        for volumeId in (root.volumeId, volume.id):
            yield self.volumes.deleteVolume(ALICE, volumeId)
        yield self.volumes.deleteSnapshot(ALICE, snapshot.id)

        def gone():
            return self.db.volumes.list(projectId=ALICE.projectId).addCallback(
                lambda found: True if not found else None
            )

        yield waitUntil(gone, timeout=120, what="the volumes to be deleted")
