"""
Tests for L{nova.db.volumes} on SQLite, PostgreSQL and MariaDB.
"""

from datetime import datetime

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from nova import exception
from nova.db import volumes as v
from nova.db.volumes import (
    IncorrectSnapshotState,
    IncorrectVolumeState,
    SnapshotNotFound,
    SnapshotRecord,
    VolumeDeviceInUse,
    VolumeNotFound,
    VolumeRecord,
)
from tests.db.backends import BackendTestsMixin, backendCases

START = datetime(2023, 11, 14, 22, 13, 20)


class VolumeStoreMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def setUp(self):
        yield self.setUpDatabase()
        self.volumes = self.db.volumes

    @defer.inlineCallbacks
    def test_createAndGet(self):
        record = yield self.volumes.create("proj", "alice", 5, "nova", displayName="data")
        self.assertIsInstance(record, VolumeRecord)
        self.assertEqual(
            (record.project_id, record.user_id, record.size, record.availability_zone,
             record.status, record.attach_status, record.host, record.instance_id,
             record.display_name, record.created_at, record.updated_at),
            ("proj", "alice", 5, "nova", "creating", "detached", None, None, "data", START, START),
        )
        self.assertEqual(record.ec2Id, "vol-%08x" % (record.id,))
        self.assertEqual(record.ec2Status, "creating")
        self.assertIsNone(record.exportInfo)
        self.assertIsNone(record.snapshotEc2Id)
        self.assertEqual((record.client_token, record.request_hash), (None, None))
        self.assertEqual((yield self.volumes.get(record.id)), record)

    @defer.inlineCallbacks
    def test_clientToken(self):
        """
        A volume keeps the client token and request digest it was made
        with; a token is unique per project (any number of volumes have
        none), and it is looked up by project and token.
        """
        record = yield self.volumes.create(
            "p1", "alice", 2, clientToken="tok", requestHash="h" * 64
        )
        self.assertEqual((record.client_token, record.request_hash), ("tok", "h" * 64))
        self.assertEqual((yield self.volumes.findByClientToken("p1", "tok")), record)
        self.assertIsNone((yield self.volumes.findByClientToken("p2", "tok")))
        self.assertIsNone((yield self.volumes.findByClientToken("p1", "other")))
        yield self.assertFailure(
            self.volumes.create("p1", "bob", 2, clientToken="tok", requestHash="h" * 64),
            exception.DatabaseError,
        )
        other = yield self.volumes.create("p2", "bob", 2, clientToken="tok", requestHash="x")
        self.assertEqual((yield self.volumes.findByClientToken("p2", "tok")), other)
        yield self.volumes.create("p1", "alice", 1)
        yield self.volumes.create("p1", "alice", 1)
        self.assertEqual(len((yield self.volumes.list(projectId="p1"))), 3)
        longest = "t" * 64
        yield self.volumes.create("p1", "alice", 1, clientToken=longest, requestHash="h" * 64)
        self.assertEqual((yield self.volumes.findByClientToken("p1", longest)).client_token, longest)
        # The token is set once, at creation.
        yield self.assertFailure(
            self.volumes.update(record.id, client_token="new"), exception.Invalid
        )

    @defer.inlineCallbacks
    def test_concurrentClientTokenOneWins(self):
        """
        Of concurrent creations with the same token in one project, exactly
        one makes a volume; the others fail with a database error.
        """
        results = yield defer.DeferredList(
            [
                self.volumes.create("p1", "alice", 1, clientToken="race", requestHash="h")
                for _ in range(4)
            ],
            consumeErrors=True,
        )
        wins = [r for ok, r in results if ok]
        self.assertEqual(len(wins), 1)
        for ok, failure in results:
            if not ok:
                failure.trap(exception.DatabaseError)
        self.assertEqual((yield self.volumes.findByClientToken("p1", "race")), wins[0])
        self.assertEqual(len((yield self.volumes.list())), 1)

    @defer.inlineCallbacks
    def test_getMissing(self):
        failure = yield self.assertFailure(self.volumes.get(4242), VolumeNotFound)
        self.assertEqual(failure.ec2Code, "InvalidVolume.NotFound")
        self.assertIn("vol-00001092", str(failure))

    @defer.inlineCallbacks
    def test_transition(self):
        record = yield self.volumes.create("proj", "alice", 1)
        self.clock.advance(10)
        export = {"type": "file", "devicePath": "/v/volume-1"}
        done = yield self.volumes.transition(
            record.id, {v.CREATING}, v.AVAILABLE, host="h1",
            export_info=v.encodeExportInfo(export), provider_location="/v/volume-1",
        )
        self.assertEqual((done.status, done.host, done.exportInfo), ("available", "h1", export))
        self.assertEqual(done.updated_at, datetime(2023, 11, 14, 22, 13, 30))
        failure = yield self.assertFailure(
            self.volumes.transition(record.id, {v.CREATING}, v.ERROR, action="fail it"),
            IncorrectVolumeState,
        )
        self.assertEqual(failure.ec2Code, "IncorrectState")
        self.assertIn("is available; cannot fail it", str(failure))
        self.assertEqual((yield self.volumes.get(record.id)).status, "available")
        yield self.assertFailure(
            self.volumes.transition(999, {v.CREATING}, v.ERROR), VolumeNotFound
        )
        yield self.assertFailure(
            self.volumes.transition(record.id, {v.AVAILABLE}, "bogus"), Exception
        )
        yield self.assertFailure(
            self.volumes.transition(record.id, {v.AVAILABLE}, v.ERROR, nonsense=1), Exception
        )

    @defer.inlineCallbacks
    def test_transitionToSameStatus(self):
        """
        A compare-and-set into the same status succeeds (used to claim a
        volume for a host while it is still creating).
        """
        record = yield self.volumes.create("proj", "alice", 1)
        claimed = yield self.volumes.transition(record.id, {v.CREATING}, v.CREATING, host="h9")
        self.assertEqual((claimed.status, claimed.host), ("creating", "h9"))

    @defer.inlineCallbacks
    def test_attachBookkeeping(self):
        a = yield self.volumes.create("proj", "alice", 1)
        b = yield self.volumes.create("proj", "alice", 1)
        for volume in (a, b):
            yield self.volumes.transition(volume.id, {v.CREATING}, v.AVAILABLE)
        attaching = yield self.volumes.beginAttach(a.id, 7, "/dev/vdb")
        self.assertEqual(
            (attaching.status, attaching.attach_status, attaching.instance_id,
             attaching.mountpoint, attaching.ec2Status, attaching.instanceEc2Id),
            ("attaching", "attaching", 7, "/dev/vdb", "in-use", "i-00000007"),
        )
        # The mount point is taken; the other volume stays available.
        failure = yield self.assertFailure(
            self.volumes.beginAttach(b.id, 7, "/dev/vdb"), VolumeDeviceInUse
        )
        self.assertEqual(failure.ec2Code, "InvalidParameterValue")
        self.assertEqual((yield self.volumes.get(b.id)).status, "available")
        # Attaching twice is refused by status.
        yield self.assertFailure(self.volumes.beginAttach(a.id, 8, "/dev/vdc"), IncorrectVolumeState)
        # Another instance, or another mount point, is fine.
        yield self.volumes.beginAttach(b.id, 8, "/dev/vdb")
        self.clock.advance(5)
        inUse = yield self.volumes.transition(
            a.id, {v.ATTACHING}, v.IN_USE, attach_status=v.ATTACHED,
            attach_time=datetime(2023, 11, 14, 22, 13, 25),
        )
        self.assertEqual((inUse.status, inUse.attach_status), ("in-use", "attached"))
        self.assertEqual([r.id for r in (yield self.volumes.list(instanceId=7))], [a.id])
        detached = yield self.volumes.transition(
            a.id, {v.IN_USE}, v.AVAILABLE, **v.DETACHED_FIELDS
        )
        self.assertEqual(
            (detached.status, detached.attach_status, detached.instance_id,
             detached.mountpoint, detached.attach_time),
            ("available", "detached", None, None, None),
        )
        # Once detached, the mount point is free again.
        again = yield self.volumes.beginAttach(a.id, 8, "/dev/vdc")
        self.assertEqual(again.instance_id, 8)

    @defer.inlineCallbacks
    def test_listFilters(self):
        a = yield self.volumes.create("p1", "alice", 1)
        b = yield self.volumes.create("p2", "bob", 2)
        c = yield self.volumes.create("p1", "alice", 3)
        yield self.volumes.update(b.id, host="h1")
        yield self.volumes.update(c.id, host="h1", status=v.AVAILABLE)
        ids = lambda records: [r.id for r in records]
        self.assertEqual(ids((yield self.volumes.list())), [a.id, b.id, c.id])
        self.assertEqual(ids((yield self.volumes.list(projectId="p1"))), [a.id, c.id])
        self.assertEqual(ids((yield self.volumes.list(host="h1"))), [b.id, c.id])
        self.assertEqual(ids((yield self.volumes.list(volumeIds=[c.id, a.id, 999]))), [a.id, c.id])
        self.assertEqual((yield self.volumes.list(volumeIds=[])), [])
        self.assertEqual(ids((yield self.volumes.list(statuses={v.AVAILABLE}))), [c.id])

    @defer.inlineCallbacks
    def test_usage(self):
        yield self.volumes.create("p1", "alice", 1)
        b = yield self.volumes.create("p1", "alice", 10)
        yield self.volumes.create("p2", "bob", 100)
        self.assertEqual((yield self.volumes.usageByProject("p1")), {"volumes": 2, "gigabytes": 11})
        self.assertEqual((yield self.volumes.usageByProject("none")), {"volumes": 0, "gigabytes": 0})
        yield self.volumes.update(b.id, host="h1")
        self.assertEqual((yield self.volumes.gigabytesByHost()), {"h1": 10})

    @defer.inlineCallbacks
    def test_setErrorAndDelete(self):
        record = yield self.volumes.create("p1", "alice", 1)
        failed = yield self.volumes.setError(record.id, "no host" * 100)
        self.assertEqual((failed.status, len(failed.status_description)), ("error", 255))
        yield self.volumes.delete(record.id)
        yield self.assertFailure(self.volumes.get(record.id), VolumeNotFound)
        yield self.assertFailure(self.volumes.delete(record.id), VolumeNotFound)

    @defer.inlineCallbacks
    def test_snapshots(self):
        volume = yield self.volumes.create("p1", "alice", 4)
        snap = yield self.volumes.createSnapshot("p1", "alice", volume.id, 4, "h1", displayDescription="nightly")
        self.assertIsInstance(snap, SnapshotRecord)
        self.assertEqual(
            (snap.volume_id, snap.volume_size, snap.host, snap.status, snap.ec2Status,
             snap.progress, snap.display_description, snap.volumeEc2Id),
            (volume.id, 4, "h1", "creating", "pending", "0%", "nightly", volume.ec2Id),
        )
        self.assertEqual(snap.ec2Id, "snap-%08x" % (snap.id,))
        self.assertEqual((yield self.volumes.getSnapshot(snap.id)), snap)
        done = yield self.volumes.transitionSnapshot(
            snap.id, {v.CREATING}, v.AVAILABLE, provider_location="/v/snapshot-1"
        )
        self.assertEqual((done.ec2Status, done.progress), ("completed", "100%"))
        failure = yield self.assertFailure(
            self.volumes.transitionSnapshot(snap.id, {v.CREATING}, v.ERROR), IncorrectSnapshotState
        )
        self.assertEqual(failure.ec2Code, "IncorrectState")
        other = yield self.volumes.createSnapshot("p2", "bob", 99, 1, "h2")
        ids = lambda records: [r.id for r in records]
        self.assertEqual(ids((yield self.volumes.listSnapshots(projectId="p1"))), [snap.id])
        self.assertEqual(ids((yield self.volumes.listSnapshots(volumeId=99))), [other.id])
        self.assertEqual(ids((yield self.volumes.listSnapshots(host="h2"))), [other.id])
        self.assertEqual(ids((yield self.volumes.listSnapshots(snapshotIds=[other.id, snap.id]))), [snap.id, other.id])
        self.assertEqual(ids((yield self.volumes.listSnapshots(statuses={v.CREATING}))), [other.id])
        updated = yield self.volumes.updateSnapshot(other.id, status=v.ERROR, status_description="disk full")
        self.assertEqual(updated.status_description, "disk full")
        yield self.volumes.deleteSnapshot(snap.id)
        failure = yield self.assertFailure(self.volumes.getSnapshot(snap.id), SnapshotNotFound)
        self.assertEqual(failure.ec2Code, "InvalidSnapshot.NotFound")
        yield self.assertFailure(self.volumes.deleteSnapshot(snap.id), SnapshotNotFound)
        yield self.assertFailure(self.volumes.transitionSnapshot(snap.id, {v.CREATING}, v.ERROR), SnapshotNotFound)

    @defer.inlineCallbacks
    def test_concurrentTransitionsOneWins(self):
        """
        Of two compare-and-sets out of the same status, exactly one wins,
        even when they run at once on a thread-pool transactor.
        """
        record = yield self.volumes.create("p1", "alice", 1)
        yield self.volumes.transition(record.id, {v.CREATING}, v.AVAILABLE)
        results = yield defer.DeferredList(
            [self.volumes.beginAttach(record.id, n, "/dev/vdb") for n in range(1, 6)],
            consumeErrors=True,
        )
        wins = [r for ok, r in results if ok]
        losses = [r for ok, r in results if not ok]
        self.assertEqual(len(wins), 1)
        for failure in losses:
            failure.trap(IncorrectVolumeState)
        self.assertEqual((yield self.volumes.get(record.id)).instance_id, wins[0].instance_id)


backendCases(VolumeStoreMixin, TestCase, globals(), "VolumeStore")
