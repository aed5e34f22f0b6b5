"""
Tests for L{nova.volume.api}: the volume API over the in-process bus, the
real scheduler, volume services on fake drivers and recording compute
hosts.
"""

from datetime import datetime

from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.compute.errors import InvalidInstanceIDMalformed
from nova.db import volumes as v
from nova.db.instances import IncorrectInstanceState, InstanceNotFound
from nova.virt.errors import DeviceInUse, DeviceNotFound
from nova.volume.errors import (
    IdempotentParameterMismatch,
    IncorrectSnapshotState,
    IncorrectVolumeState,
    InvalidAttachmentNotFound,
    InvalidSnapshotIDMalformed,
    InvalidVolumeIDMalformed,
    InvalidVolumeParameterValue,
    InvalidVolumeZoneMismatch,
    SnapshotInUse,
    SnapshotNotFound,
    VolumeDeviceInUse,
    VolumeInUse,
    VolumeLimitExceeded,
    VolumeNotFound,
)
from tests.volume.util import ADMIN, ALICE, BOB, VolumeCloud

NOW = datetime(2023, 11, 14, 22, 13, 20)


class CreateDeleteTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = VolumeCloud(self, volumeHosts=("vh1", "vh2"))
        self.api = self.cloud.api

    def test_createGoesThroughScheduler(self):
        volume = self.cloud.run(self.api.createVolume(ALICE, 5, availabilityZone="nova"))
        self.assertEqual(
            (volume.status, volume.size, volume.project_id, volume.user_id, volume.host),
            ("creating", 5, "wonderland", "alice", None),
        )
        self.assertIn(
            ("cast", "scheduler", "createVolume",
             {"volumeId": volume.id, "size": 5, "availabilityZone": "nova"}),
            self.cloud.rpc.sent,
        )
        self.cloud.settle()
        record = self.cloud.volume(volume.id)
        self.assertEqual(record.status, "available")
        self.assertIn(record.host, ("vh1", "vh2"))
        # The simple scheduler puts the next volume on the other host.
        other = self.cloud.run(self.api.createVolume(ALICE, 1))
        self.cloud.settle()
        self.assertEqual({record.host, self.cloud.volume(other.id).host}, {"vh1", "vh2"})

    def test_sizes(self):
        self.assertEqual(self.cloud.run(self.api.createVolume(ALICE, "7")).size, 7)
        for bad in (0, -1, 16385, "ten", True, 1.5, None):
            self.cloud.runFailure(self.api.createVolume(ALICE, bad), InvalidVolumeParameterValue)

    def test_noProject(self):
        from nova.context import RequestContext

        self.cloud.runFailure(
            self.api.createVolume(RequestContext(userId="x"), 1), exception.NotAuthorized
        )

    def test_quotaVolumes(self):
        self.cloud.quotas.limits["wonderland"] = {"volumes": 2, "gigabytes": None}
        self.cloud.run(self.api.createVolume(ALICE, 1))
        self.cloud.run(self.api.createVolume(ALICE, 1))
        failure = self.cloud.runFailure(self.api.createVolume(ALICE, 1), VolumeLimitExceeded)
        self.assertEqual(failure.value.ec2Code, "VolumeLimitExceeded")
        self.assertEqual(len(self.cloud.run(self.api.describeVolumes(ALICE))), 2)
        # Other projects have their own quota.
        self.cloud.run(self.api.createVolume(BOB, 1))

    def test_quotaGigabytes(self):
        self.cloud.quotas.limits["wonderland"] = {"gigabytes": 10}
        self.cloud.run(self.api.createVolume(ALICE, 6))
        failure = self.cloud.runFailure(self.api.createVolume(ALICE, 5), VolumeLimitExceeded)
        self.assertIn("gigabytes", str(failure.value))
        self.cloud.run(self.api.createVolume(ALICE, 4))
        self.assertEqual(
            self.cloud.run(self.cloud.db.volumes.usageByProject("wonderland")),
            {"volumes": 2, "gigabytes": 10},
        )

    def test_unlimitedQuota(self):
        self.cloud.quotas.limits["wonderland"] = {"volumes": -1, "gigabytes": None}
        for _ in range(3):
            self.cloud.run(self.api.createVolume(ALICE, 1000))

    def test_quotaEngine(self):
        """
        The quota engine of L{nova.quota} plugs in as it is.
        """
        from nova.quota import QuotaEngine

        engine = QuotaEngine.fromConfig(self.cloud.config.replace(quota_volumes=1), self.cloud.db)
        self.api.quotas = engine
        self.cloud.run(self.api.createVolume(ALICE, 1))
        self.cloud.runFailure(self.api.createVolume(ALICE, 1), VolumeLimitExceeded)

    def test_delete(self):
        volume = self.cloud.availableVolume()
        deleting = self.cloud.run(self.api.deleteVolume(ALICE, volume.ec2Id))
        self.assertEqual(deleting.status, "deleting")
        self.cloud.settle()
        self.cloud.runFailure(self.api.getVolume(ALICE, volume.id), VolumeNotFound)
        self.assertEqual(self.cloud.drivers[volume.host].volumes, {})

    def test_deleteRefusals(self):
        creating = self.cloud.now(self.api.createVolume(ALICE, 1))
        failure = self.cloud.nowFailure(self.api.deleteVolume(ALICE, creating.id), IncorrectVolumeState)
        self.assertEqual(failure.value.ec2Code, "IncorrectState")
        self.cloud.nowFailure(self.api.deleteVolume(BOB, creating.id), VolumeNotFound)
        self.cloud.settle()
        self.assertEqual(self.cloud.volume(creating.id).status, "available")

    def test_deleteUnscheduled(self):
        """
        A volume that never reached a host (no valid host) is deleted at
        once.
        """
        cloud = VolumeCloud(self, volumeHosts=())
        volume = cloud.run(cloud.api.createVolume(ALICE, 1))
        cloud.run(cloud.db.volumes.setError(volume.id, "no valid host"))
        cloud.run(cloud.api.deleteVolume(ALICE, volume.id))
        cloud.runFailure(cloud.db.volumes.get(volume.id), VolumeNotFound)

    def test_deleteError(self):
        volume = self.cloud.availableVolume()
        self.cloud.run(self.cloud.db.volumes.update(volume.id, status=v.ERROR))
        self.cloud.run(self.api.deleteVolume(ALICE, volume.id))
        self.cloud.settle()
        self.cloud.runFailure(self.cloud.db.volumes.get(volume.id), VolumeNotFound)

    def test_deleteWhileSnapshotting(self):
        volume = self.cloud.availableVolume()
        self.cloud.services[volume.host].stopService()   # the snapshot stays creating
        self.cloud.settle()
        self.cloud.run(self.api.createSnapshot(ALICE, volume.id))
        self.cloud.runFailure(self.api.deleteVolume(ALICE, volume.id), IncorrectVolumeState)


class ClientTokenTests(SynchronousTestCase):
    """
    C{createVolume} with a client token: the same token and parameters in
    the same project answer with the first volume.
    """

    def setUp(self):
        self.cloud = VolumeCloud(self)
        self.api = self.cloud.api

    def creates(self, topic="scheduler"):
        """
        @return: the C{createVolume} casts sent to C{topic}.
        """
        return [m for m in self.cloud.rpc.sent if m[:3] == ("cast", topic, "createVolume")]

    def projectVolumes(self, context=ALICE):
        return self.cloud.run(self.cloud.db.volumes.list(projectId=context.projectId))

    def test_failedCastMakesNothing(self):
        """
        A volume whose request could not be sent is removed: the request
        made nothing, and a retry with its token makes it.
        """
        cast = self.cloud.rpc.cast

        def deadCast(context, topic, method, args):
            from twisted.internet.defer import fail

            return fail(exception.RPCError("broker gone"))

        self.cloud.rpc.cast = deadCast
        self.cloud.runFailure(self.api.createVolume(ALICE, 5, clientToken="t"), exception.RPCError)
        self.assertEqual(self.projectVolumes(), [])
        self.cloud.rpc.cast = cast
        volume = self.cloud.run(self.api.createVolume(ALICE, 5, clientToken="t"))
        self.assertEqual([v.id for v in self.projectVolumes()], [volume.id])
        self.assertEqual(len(self.creates()), 1)

    def test_tagsWrittenWithTheVolume(self):
        """
        A volume's tags are written with it; a volume whose request could
        not be sent leaves no tags behind; a snapshot's tags come with it.
        """
        cast = self.cloud.rpc.cast

        def deadCast(context, topic, method, args):
            from twisted.internet.defer import fail

            return fail(exception.RPCError("broker gone"))

        self.cloud.rpc.cast = deadCast
        self.cloud.runFailure(
            self.api.createVolume(ALICE, 5, tags=[("Name", "lost")]), exception.RPCError
        )
        self.assertEqual(self.cloud.run(self.cloud.db.tags.find()), [])
        self.cloud.rpc.cast = cast
        volume = self.cloud.run(self.api.createVolume(ALICE, 5, tags=[("Name", "data")]))
        tags = self.cloud.run(self.cloud.db.tags.find())
        self.assertEqual([(t.resource_id, t.key, t.value) for t in tags], [(volume.ec2Id, "Name", "data")])
        self.cloud.settle()
        snapshot = self.cloud.run(self.api.createSnapshot(ALICE, volume.id, tags=[("Name", "snap")]))
        tags = self.cloud.run(self.cloud.db.tags.find())
        self.assertIn((snapshot.ec2Id, "Name", "snap"), [(t.resource_id, t.key, t.value) for t in tags])

    def test_sameTokenSameVolume(self):
        first = self.cloud.run(
            self.api.createVolume(ALICE, 5, availabilityZone="nova", clientToken="tok")
        )
        self.assertEqual(first.client_token, "tok")
        self.cloud.settle()
        again = self.cloud.run(
            self.api.createVolume(ALICE, "5", availabilityZone="nova", clientToken="tok")
        )
        self.assertEqual(again.id, first.id)
        # The volume as it is now.
        self.assertEqual(again.status, "available")
        self.assertEqual([r.id for r in self.projectVolumes()], [first.id])
        self.assertEqual(len(self.creates()), 1)

    def test_replayChargesQuotaOnce(self):
        """
        A replay counts nothing against the quotas, and is answered even
        when the project is at its limit.
        """
        self.cloud.quotas.limits["wonderland"] = {"volumes": 1, "gigabytes": 3}
        first = self.cloud.run(self.api.createVolume(ALICE, 3, clientToken="tok"))
        for _ in range(3):
            self.assertEqual(
                self.cloud.run(self.api.createVolume(ALICE, 3, clientToken="tok")).id, first.id
            )
        self.assertEqual(
            self.cloud.run(self.cloud.db.volumes.usageByProject("wonderland")),
            {"volumes": 1, "gigabytes": 3},
        )
        self.cloud.runFailure(
            self.api.createVolume(ALICE, 1, clientToken="other"), VolumeLimitExceeded
        )

    def test_mismatch(self):
        self.cloud.run(self.api.createVolume(ALICE, 1, availabilityZone="nova", clientToken="tok"))
        for kwargs in (
            dict(size=2, availabilityZone="nova"),
            dict(size=1),
            dict(size=1, availabilityZone="elsewhere"),
            dict(size=1, availabilityZone="nova", displayName="data"),
        ):
            failure = self.cloud.runFailure(
                self.api.createVolume(ALICE, clientToken="tok", **kwargs),
                IdempotentParameterMismatch,
            )
            self.assertEqual(
                (failure.value.ec2Code, failure.value.httpStatus),
                ("IdempotentParameterMismatch", 400),
            )
        self.assertEqual(len(self.projectVolumes()), 1)
        self.assertEqual(len(self.creates()), 1)

    def test_fromSnapshot(self):
        """
        A snapshot named by its EC2 id or its number is the same parameter;
        another snapshot is not.
        """
        volume = self.cloud.availableVolume(size=2)
        snap = self.cloud.run(self.api.createSnapshot(ALICE, volume.id))
        other = self.cloud.run(self.api.createSnapshot(ALICE, volume.id))
        self.cloud.settle()
        first = self.cloud.run(self.api.createVolume(ALICE, snapshotId=snap.ec2Id, clientToken="t"))
        again = self.cloud.run(self.api.createVolume(ALICE, snapshotId=snap.id, clientToken="t"))
        self.assertEqual(again.id, first.id)
        self.assertEqual(
            self.creates(f"volume.{volume.host}").count(
                ("cast", f"volume.{volume.host}", "createVolume", {"volumeId": first.id})
            ),
            1,
        )
        self.cloud.runFailure(
            self.api.createVolume(ALICE, snapshotId=other.id, clientToken="t"),
            IdempotentParameterMismatch,
        )
        self.cloud.runFailure(
            self.api.createVolume(ALICE, 2, snapshotId=snap.id, clientToken="t"),
            IdempotentParameterMismatch,
        )

    def test_tokenIsPerProject(self):
        alice = self.cloud.run(self.api.createVolume(ALICE, 1, clientToken="tok"))
        bob = self.cloud.run(self.api.createVolume(BOB, 1, clientToken="tok"))
        self.assertNotEqual(alice.id, bob.id)
        self.assertEqual(bob.project_id, "builders")
        self.assertEqual(len(self.creates()), 2)
        # Bob's token does not clash with Alice's parameters either.
        self.cloud.run(self.api.createVolume(BOB, 1, clientToken="tok"))
        self.cloud.runFailure(
            self.api.createVolume(ALICE, 2, clientToken="tok"), IdempotentParameterMismatch
        )

    def test_withoutTokenAlwaysNew(self):
        first = self.cloud.run(self.api.createVolume(ALICE, 1))
        second = self.cloud.run(self.api.createVolume(ALICE, 1))
        self.assertNotEqual(first.id, second.id)
        self.assertEqual((second.client_token, second.request_hash), (None, None))

    def test_badToken(self):
        for bad in ("x" * 65, "", "t\u00f6ken", 42):
            failure = self.cloud.runFailure(
                self.api.createVolume(ALICE, 1, clientToken=bad), InvalidVolumeParameterValue
            )
            self.assertEqual(failure.value.ec2Code, "InvalidParameterValue")
        self.assertEqual(self.projectVolumes(), [])
        self.assertEqual(self.creates(), [])
        longest = self.cloud.run(self.api.createVolume(ALICE, 1, clientToken="x" * 64))
        self.assertEqual(longest.client_token, "x" * 64)

    def test_raceLostToAnotherServer(self):
        """
        When another API server creates the volume with the token between
        this request's look-ups and its insert, the unique index refuses
        the second volume and the request answers with the first.
        """
        first = self.cloud.run(self.api.createVolume(ALICE, 1, clientToken="tok"))
        volumes = self.cloud.db.volumes
        find = volumes.findByClientToken
        misses = []

        def findLate(projectId, clientToken):
            if misses:
                misses.pop()
                return succeed(None)
            return find(projectId, clientToken)

        volumes.findByClientToken = findLate
        # Both look-ups before the insert miss the volume.
        misses[:] = [1, 2]
        again = self.cloud.run(self.api.createVolume(ALICE, 1, clientToken="tok"))
        self.assertEqual((again.id, misses), (first.id, []))
        misses[:] = [1, 2]
        self.cloud.runFailure(
            self.api.createVolume(ALICE, 2, clientToken="tok"), IdempotentParameterMismatch
        )
        self.assertEqual(misses, [])
        self.assertEqual(len(self.projectVolumes()), 1)
        self.assertEqual(len(self.creates()), 1)


class DescribeTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = VolumeCloud(self)
        self.api = self.cloud.api
        self.a1 = self.cloud.availableVolume(ALICE)
        self.a2 = self.cloud.availableVolume(ALICE)
        self.b1 = self.cloud.availableVolume(BOB)

    def ids(self, records):
        return [r.id for r in records]

    def test_projectIsolation(self):
        self.assertEqual(self.ids(self.cloud.run(self.api.describeVolumes(ALICE))), [self.a1.id, self.a2.id])
        self.assertEqual(self.ids(self.cloud.run(self.api.describeVolumes(BOB))), [self.b1.id])
        self.assertEqual(
            self.ids(self.cloud.run(self.api.describeVolumes(ADMIN))), [self.a1.id, self.a2.id, self.b1.id]
        )
        failure = self.cloud.runFailure(self.api.getVolume(BOB, self.a1.ec2Id), VolumeNotFound)
        self.assertEqual(failure.value.ec2Code, "InvalidVolume.NotFound")
        self.assertEqual(self.cloud.run(self.api.getVolume(ADMIN, self.a1.ec2Id)).id, self.a1.id)

    def test_byIds(self):
        self.assertEqual(
            self.ids(self.cloud.run(self.api.describeVolumes(ALICE, [self.a2.ec2Id, self.a1.id]))),
            [self.a1.id, self.a2.id],
        )
        failure = self.cloud.runFailure(
            self.api.describeVolumes(ALICE, [self.a1.ec2Id, self.b1.ec2Id]), VolumeNotFound
        )
        self.assertIn(self.b1.ec2Id, str(failure.value))

    def test_malformed(self):
        for bad in ("vol-xyz", "i-00000001", "", 0, "vol-"):
            failure = self.cloud.runFailure(self.api.getVolume(ALICE, bad), InvalidVolumeIDMalformed)
            self.assertEqual(failure.value.ec2Code, "InvalidVolumeID.Malformed")
        failure = self.cloud.runFailure(self.api.getSnapshot(ALICE, "snap-q"), InvalidSnapshotIDMalformed)
        self.assertEqual(failure.value.ec2Code, "InvalidSnapshotID.Malformed")

    def test_record(self):
        record = self.cloud.run(self.api.getVolume(ALICE, self.a1.ec2Id))
        self.assertEqual(
            (record.ec2Id, record.ec2Status, record.attach_status, record.availability_zone,
             record.created_at),
            ("vol-%08x" % self.a1.id, "available", "detached", "nova", NOW),
        )


class AttachTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = VolumeCloud(self, computeHosts=("ch1", "ch2"))
        self.api = self.cloud.api
        self.compute = self.cloud.computes["ch1"]
        self.volume = self.cloud.availableVolume()
        self.instance = self.cloud.instance()

    def attach(self, device="/dev/vdb", context=ALICE, volume=None, instance=None):
        return self.api.attachVolume(
            context, (volume or self.volume).ec2Id, (instance or self.instance).ec2Id, device
        )

    def test_attachAndDetach(self):
        self.cloud.clock.advance(60)
        attached = self.cloud.run(self.attach())
        name = "volume-%08x" % self.volume.id
        self.assertEqual(
            self.compute.requests,
            [("attachVolume",
              {"instanceId": self.instance.id, "mountpoint": "/dev/vdb",
               "connection": {"type": "iscsi", "portal": "127.0.0.1:3260",
                              "iqn": f"iqn.2010-10.org.openstack:{name}", "lun": 1}})],
        )
        self.assertEqual(
            (attached.status, attached.ec2Status, attached.attach_status, attached.instance_id,
             attached.mountpoint, attached.attach_time),
            ("in-use", "in-use", "attached", self.instance.id, "/dev/vdb", datetime(2023, 11, 14, 22, 14, 20)),
        )
        self.assertEqual(self.cloud.computes["ch2"].requests, [])
        detached = self.cloud.run(self.api.detachVolume(ALICE, self.volume.ec2Id))
        self.assertEqual(
            self.compute.requests[-1],
            ("detachVolume", {"instanceId": self.instance.id, "mountpoint": "/dev/vdb"}),
        )
        self.assertEqual(
            (detached.status, detached.attach_status, detached.instance_id, detached.mountpoint,
             detached.attach_time),
            ("available", "detached", None, None, None),
        )

    def test_attachWhileAttached(self):
        self.cloud.run(self.attach())
        failure = self.cloud.runFailure(self.attach("/dev/vdc"), VolumeInUse)
        self.assertEqual(failure.value.ec2Code, "VolumeInUse")
        other = self.cloud.availableVolume()
        failure = self.cloud.runFailure(self.attach("/dev/vdb", volume=other), VolumeDeviceInUse)
        self.assertEqual(self.cloud.volume(other.id).status, "available")
        self.cloud.run(self.attach("/dev/vdc", volume=other))
        self.assertEqual(len(self.compute.requests), 2)

    def test_deleteInUse(self):
        self.cloud.run(self.attach())
        failure = self.cloud.runFailure(self.api.deleteVolume(ALICE, self.volume.id), VolumeInUse)
        self.assertEqual(failure.value.ec2Code, "VolumeInUse")
        self.assertEqual(self.cloud.volume(self.volume.id).status, "in-use")

    def test_badDevice(self):
        for device in ("vdb", "/dev/../etc", "/dev/vdb1", "/dev/sda;reboot", None, "/dev/"):
            failure = self.cloud.runFailure(self.attach(device), InvalidVolumeParameterValue)
            self.assertEqual(failure.value.ec2Code, "InvalidParameterValue")
        for device in ("/dev/sdf", "/dev/xvdh", "/dev/hdb"):
            volume = self.cloud.availableVolume()
            self.cloud.run(self.attach(device, volume=volume))
        self.assertEqual(self.cloud.volume(self.volume.id).status, "available")

    def test_instanceChecks(self):
        stopped = self.cloud.instance(state="stopped")
        failure = self.cloud.runFailure(self.attach(instance=stopped), IncorrectInstanceState)
        self.assertEqual(failure.value.ec2Code, "IncorrectInstanceState")
        bobs = self.cloud.instance(context=BOB)
        self.cloud.runFailure(self.attach(instance=bobs), InstanceNotFound)
        self.cloud.runFailure(self.api.attachVolume(ALICE, self.volume.id, "i-zz", "/dev/vdb"), InvalidInstanceIDMalformed)
        self.cloud.runFailure(self.api.attachVolume(ALICE, self.volume.id, 999, "/dev/vdb"), InstanceNotFound)
        # An admin may see both, but not join two projects.
        self.cloud.runFailure(self.attach(context=ADMIN, instance=bobs), InvalidVolumeParameterValue)
        elsewhere = self.cloud.instance(zone="zone-b")
        failure = self.cloud.runFailure(self.attach(instance=elsewhere), InvalidVolumeZoneMismatch)
        self.assertEqual(failure.value.ec2Code, "InvalidVolume.ZoneMismatch")
        self.assertEqual(self.compute.requests, [])
        self.assertEqual(self.cloud.volume(self.volume.id).status, "available")

    def test_otherProjectsVolume(self):
        self.cloud.runFailure(self.attach(context=BOB), VolumeNotFound)

    def test_computeRefuses(self):
        self.compute.failures["attachVolume"] = DeviceInUse("instance-00000001 already has /dev/vdb")
        failure = self.cloud.runFailure(self.attach(), DeviceInUse)
        self.assertEqual(failure.value.ec2Code, "InvalidParameterValue")
        record = self.cloud.volume(self.volume.id)
        self.assertEqual(
            (record.status, record.attach_status, record.instance_id, record.mountpoint),
            ("available", "detached", None, None),
        )
        self.assertIn("already has /dev/vdb", record.status_description)
        # It can be attached again.
        self.cloud.run(self.attach("/dev/vdc"))

    def test_computeSilent(self):
        """
        A compute host that does not answer leaves the volume in error
        with its attachment, since the guest may have it; detaching then
        clears it.
        """
        self.compute.silent.add("attachVolume")
        d = self.attach()
        self.cloud.settle()
        self.cloud.clock.advance(31)
        self.failureResultOf(d, exception.RPCTimeout)
        record = self.cloud.volume(self.volume.id)
        self.assertEqual((record.status, record.instance_id), ("error", self.instance.id))
        self.assertIn("no answer from ch1", record.status_description)
        self.cloud.runFailure(self.api.deleteVolume(ALICE, self.volume.id), VolumeInUse)
        self.compute.failures["detachVolume"] = DeviceNotFound("no device at /dev/vdb")
        detached = self.cloud.run(self.api.detachVolume(ALICE, self.volume.id))
        self.assertEqual((detached.status, detached.instance_id), ("available", None))

    def test_detachChecks(self):
        failure = self.cloud.runFailure(self.api.detachVolume(ALICE, self.volume.id), IncorrectVolumeState)
        self.assertEqual(failure.value.ec2Code, "IncorrectState")
        self.cloud.run(self.attach())
        other = self.cloud.instance()
        failure = self.cloud.runFailure(
            self.api.detachVolume(ALICE, self.volume.id, instanceId=other.ec2Id), InvalidAttachmentNotFound
        )
        self.assertEqual(failure.value.ec2Code, "InvalidAttachment.NotFound")
        self.cloud.runFailure(
            self.api.detachVolume(ALICE, self.volume.id, device="/dev/vdc"), InvalidAttachmentNotFound
        )
        self.cloud.runFailure(self.api.detachVolume(BOB, self.volume.id), VolumeNotFound)
        self.cloud.run(
            self.api.detachVolume(ALICE, self.volume.id, instanceId=self.instance.id, device="/dev/vdb")
        )

    def test_detachComputeFails(self):
        self.cloud.run(self.attach())
        self.compute.failures["detachVolume"] = DeviceInUse("guest refuses")
        self.cloud.runFailure(self.api.detachVolume(ALICE, self.volume.id), DeviceInUse)
        record = self.cloud.volume(self.volume.id)
        self.assertEqual((record.status, record.attach_status), ("in-use", "attached"))
        self.compute.failures["detachVolume"] = DeviceInUse("guest refuses")
        forced = self.cloud.run(self.api.detachVolume(ALICE, self.volume.id, force=True))
        self.assertEqual(forced.status, "available")

    def test_detachStoppedInstance(self):
        self.cloud.run(self.attach())
        self.cloud.run(self.cloud.db.instances.update(self.instance.id, state="stopped"))
        before = len(self.compute.requests)
        detached = self.cloud.run(self.api.detachVolume(ALICE, self.volume.id))
        self.assertEqual(detached.status, "available")
        self.assertEqual(len(self.compute.requests), before)

    def test_detachAllFromInstance(self):
        self.cloud.run(self.attach())
        other = self.cloud.availableVolume()
        self.cloud.run(self.attach("/dev/vdc", volume=other))
        detached = self.cloud.run(self.api.detachAllFromInstance(ADMIN, self.instance.ec2Id))
        self.assertEqual(sorted(r.id for r in detached), [self.volume.id, other.id])
        self.assertEqual(self.cloud.volume(other.id).status, "available")
        self.assertEqual([r[0] for r in self.compute.requests], ["attachVolume", "attachVolume"])

    def test_earlierExportGoesToComputeInTodaysShape(self):
        """
        An export recorded by an earlier release (C{targetIqn},
        C{devicePath}...) reaches the compute host as a connection of
        today's shape.
        """
        export = {
            "type": "iscsi", "targetIqn": "iqn.2010-10.org.openstack:volume-00000001",
            "targetPortal": "10.0.0.2:3260", "targetLun": 1, "devicePath": "/dev/disk/by-path/x",
        }
        self.cloud.run(self.cloud.db.volumes.update(self.volume.id, export_info=v.encodeExportInfo(export)))
        self.cloud.run(self.attach())
        self.assertEqual(
            self.compute.requests[0][1]["connection"],
            {"type": "iscsi", "portal": "10.0.0.2:3260",
             "iqn": "iqn.2010-10.org.openstack:volume-00000001", "lun": 1},
        )

    def test_unusableExportRefused(self):
        """
        A volume whose export is no connection is refused before any
        compute host is asked, and stays available.
        """
        export = {"type": "nfs", "share": "x"}
        self.cloud.run(self.cloud.db.volumes.update(self.volume.id, export_info=v.encodeExportInfo(export)))
        failure = self.cloud.runFailure(self.attach(), IncorrectVolumeState)
        self.assertIn("no usable export", str(failure.value))
        self.assertEqual(self.compute.requests, [])
        self.assertEqual(self.cloud.volume(self.volume.id).status, "available")


class SnapshotTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = VolumeCloud(self, volumeHosts=("vh1", "vh2"))
        self.api = self.cloud.api
        self.volume = self.cloud.availableVolume(size=3)

    def test_createDescribeDelete(self):
        snap = self.cloud.run(self.api.createSnapshot(ALICE, self.volume.ec2Id, description="nightly"))
        self.assertEqual(
            (snap.status, snap.ec2Status, snap.volume_id, snap.volume_size, snap.host,
             snap.display_description),
            ("creating", "pending", self.volume.id, 3, self.volume.host, "nightly"),
        )
        self.cloud.settle()
        done = self.cloud.run(self.api.getSnapshot(ALICE, snap.ec2Id))
        self.assertEqual((done.ec2Status, done.progress), ("completed", "100%"))
        self.assertEqual([s.id for s in self.cloud.run(self.api.describeSnapshots(ALICE))], [snap.id])
        self.assertEqual(self.cloud.run(self.api.describeSnapshots(BOB)), [])
        self.assertEqual(len(self.cloud.run(self.api.describeSnapshots(ADMIN, [snap.ec2Id]))), 1)
        failure = self.cloud.runFailure(self.api.getSnapshot(BOB, snap.ec2Id), SnapshotNotFound)
        self.assertEqual(failure.value.ec2Code, "InvalidSnapshot.NotFound")
        self.cloud.runFailure(self.api.describeSnapshots(ALICE, ["snap-00000999"]), SnapshotNotFound)
        self.cloud.runFailure(self.api.deleteSnapshot(BOB, snap.id), SnapshotNotFound)
        deleting = self.cloud.run(self.api.deleteSnapshot(ALICE, snap.ec2Id))
        self.assertEqual(deleting.status, "deleting")
        self.cloud.settle()
        self.cloud.runFailure(self.api.getSnapshot(ALICE, snap.id), SnapshotNotFound)
        self.assertEqual(self.cloud.drivers[self.volume.host].snapshots, {})

    def test_volumeFromSnapshot(self):
        snap = self.cloud.now(self.api.createSnapshot(ALICE, self.volume.id))
        self.cloud.nowFailure(self.api.createVolume(ALICE, snapshotId=snap.id), IncorrectSnapshotState)
        self.cloud.settle()
        volume = self.cloud.now(self.api.createVolume(ALICE, snapshotId=snap.ec2Id))
        self.assertEqual((volume.size, volume.snapshot_id, volume.host), (3, snap.id, self.volume.host))
        self.assertIn(
            ("cast", f"volume.{self.volume.host}", "createVolume", {"volumeId": volume.id}),
            self.cloud.rpc.sent,
        )
        # The snapshot cannot go while a volume is being made from it.
        failure = self.cloud.nowFailure(self.api.deleteSnapshot(ALICE, snap.id), SnapshotInUse)
        self.assertEqual(failure.value.ec2Code, "InvalidSnapshot.InUse")
        self.cloud.settle()
        record = self.cloud.volume(volume.id)
        self.assertEqual((record.status, record.snapshotEc2Id), ("available", snap.ec2Id))
        bigger = self.cloud.run(self.api.createVolume(ALICE, 10, snapshotId=snap.id))
        self.cloud.settle()
        self.assertEqual(self.cloud.volume(bigger.id).size, 10)
        self.cloud.runFailure(self.api.createVolume(ALICE, 2, snapshotId=snap.id), InvalidVolumeParameterValue)
        self.cloud.runFailure(self.api.createVolume(BOB, snapshotId=snap.id), SnapshotNotFound)
        # The snapshot outlives its volume.
        self.cloud.run(self.api.deleteSnapshot(ALICE, snap.id))
        self.cloud.settle()

    def test_snapshotStates(self):
        creating = self.cloud.now(self.api.createVolume(ALICE, 1))
        self.cloud.nowFailure(self.api.createSnapshot(ALICE, creating.id), IncorrectVolumeState)
        snap = self.cloud.now(self.api.createSnapshot(ALICE, self.volume.id))
        failure = self.cloud.nowFailure(self.api.deleteSnapshot(ALICE, snap.id), IncorrectSnapshotState)
        self.assertEqual(failure.value.ec2Code, "IncorrectState")

    def test_snapshotOfAttachedVolume(self):
        instance = self.cloud.instance()
        self.cloud.run(self.api.attachVolume(ALICE, self.volume.id, instance.id, "/dev/vdb"))
        snap = self.cloud.run(self.api.createSnapshot(ALICE, self.volume.id))
        self.cloud.settle()
        self.assertEqual(self.cloud.snapshot(snap.id).status, "available")

    def test_originWithSnapshotOnBusyBackEnd(self):
        """
        A back-end that cannot remove an origin with snapshots (LVM) keeps
        the volume available, saying why.
        """
        snap = self.cloud.run(self.api.createSnapshot(ALICE, self.volume.id))
        self.cloud.settle()
        self.cloud.run(self.api.deleteVolume(ALICE, self.volume.id))
        self.cloud.settle()
        record = self.cloud.volume(self.volume.id)
        self.assertEqual(record.status, "available")
        self.assertIn("snapshot-%08x" % snap.id, record.status_description)
        self.cloud.run(self.api.deleteSnapshot(ALICE, snap.id))
        self.cloud.settle()
        self.cloud.run(self.api.deleteVolume(ALICE, self.volume.id))
        self.cloud.settle()
        self.cloud.runFailure(self.cloud.db.volumes.get(self.volume.id), VolumeNotFound)
