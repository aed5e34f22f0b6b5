"""
Tests for the compute parts of the database (schema patch 4, instance
types, reservations, state transitions and the usage queries), on SQLite,
PostgreSQL and MariaDB.
"""

from datetime import datetime, timedelta

from storm.schema.patch import PatchApplier, PatchSet
from twisted.internet import defer
from twisted.trial.unittest import TestCase

from nova import exception
from nova.db import schema
from nova.db.instance_types import InstanceTypeExists
from nova.db.instances import (
    IdempotentParameterMismatch,
    IncorrectInstanceState,
    InstanceNotFound,
)
from tests.db.backends import BackendTestsMixin, backendCases

NOW = datetime(2024, 5, 1, 12, 0, 0)


def fields(**kw):
    values = dict(instance_type="m1.tiny", vcpus=1, memory_mb=512, local_gb=0)
    values.update(kw)
    return values


class ComputeDatabaseMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def setUp(self):
        self.db = self.makeDatabase()
        yield self.db.sync()
        self.ids = iter(["r-00000001", "r-00000001", "r-00000002", "r-00000003", "r-00000004"])

    def newId(self):
        return next(self.ids)

    @defer.inlineCallbacks
    def test_defaultTypes(self):
        types = yield self.db.instanceTypes.list()
        self.assertEqual([t.name for t in types], ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"])
        yield self.assertFailure(self.db.instanceTypes.create("m1.tiny", 1, 1, 1), InstanceTypeExists)
        created = yield self.db.instanceTypes.create("c1.x", 100, 2, 3)
        self.assertEqual(created.flavorid, 6)

    @defer.inlineCallbacks
    def test_reservation(self):
        reservation, instances, created = yield self.db.instances.createReservation(
            "p", "u", "tok", "hash", [fields(launch_index=0), fields(launch_index=1, host="h")], self.newId
        )
        self.assertTrue(created)
        self.assertEqual(reservation.reservation_id, "r-00000001")
        self.assertEqual([i.reservation_id for i in instances], ["r-00000001"] * 2)
        self.assertEqual([i.hostname for i in instances], [i.ec2Id for i in instances])
        self.assertEqual({(i.project_id, i.user_id, i.state) for i in instances}, {("p", "u", "pending")})
        again = yield self.db.instances.createReservation("p", "u", "tok", "hash", [fields()], self.newId)
        self.assertEqual((again[0], [i.id for i in again[1]], again[2]), (reservation, [i.id for i in instances], False))
        yield self.assertFailure(
            self.db.instances.createReservation("p", "u", "tok", "other", [fields()], self.newId),
            IdempotentParameterMismatch,
        )
        found = yield self.db.instances.findReservation("p", "tok")
        self.assertEqual(found[0], reservation)
        self.assertIsNone((yield self.db.instances.findReservation("q", "tok")))

    @defer.inlineCallbacks
    def test_reservationIdTakenAndNoTokens(self):
        first = yield self.db.instances.createReservation("p", "u", None, "h", [fields()], self.newId)
        second = yield self.db.instances.createReservation("p", "u", None, "h", [fields()], self.newId)
        self.assertEqual(first[0].reservation_id, "r-00000001")
        self.assertEqual(second[0].reservation_id, "r-00000002")

    @defer.inlineCallbacks
    def test_transition(self):
        instance = yield self.db.instances.create(**fields(reservation_id="r", project_id="p", user_id="u"))
        moved = yield self.db.instances.transition(instance.id, {"pending"}, "running", host="h1")
        self.assertEqual((moved.state, moved.host), ("running", "h1"))
        error = yield self.assertFailure(
            self.db.instances.transition(instance.id, {"pending"}, "running", action="run"),
            IncorrectInstanceState,
        )
        self.assertIn("is running; cannot run", str(error))
        yield self.assertFailure(
            self.db.instances.transition(instance.id + 1, {"pending"}, "running"), InstanceNotFound
        )

    @defer.inlineCallbacks
    def test_attributesDefaultAndModify(self):
        """
        Instances start unprotected, stopping on shutdown; modify sets
        columns only while the state is one of those given, and leaves
        the state alone.
        """
        instance = yield self.db.instances.create(**fields(reservation_id="r", project_id="p", user_id="u"))
        self.assertEqual((instance.disable_api_termination, instance.shutdown_behavior), (False, "stop"))
        changed = yield self.db.instances.modify(
            instance.id, {"pending", "stopped"}, disable_api_termination=True,
            shutdown_behavior="terminate", user_data="aGk=",
        )
        self.assertEqual(
            (changed.state, changed.disable_api_termination, changed.shutdown_behavior, changed.user_data),
            ("pending", True, "terminate", "aGk="),
        )
        self.assertEqual((yield self.db.instances.get(instance.id)), changed)
        error = yield self.assertFailure(
            self.db.instances.modify(instance.id, {"stopped"}, action="change its type", vcpus=4),
            IncorrectInstanceState,
        )
        self.assertIn("is pending; cannot change its type", str(error))
        self.assertEqual((yield self.db.instances.get(instance.id)).vcpus, 1)
        yield self.assertFailure(
            self.db.instances.modify(instance.id + 1, {"pending"}, vcpus=2), InstanceNotFound
        )
        yield self.db.instances.update(instance.id, deleted=True)
        yield self.assertFailure(
            self.db.instances.modify(instance.id, {"pending"}, vcpus=2), InstanceNotFound
        )
        self.assertRaises(
            exception.Invalid, self.db.instances.modify, instance.id, {"pending"}, state="running"
        )

    @defer.inlineCallbacks
    def test_attributesInReservation(self):
        _, instances, _ = yield self.db.instances.createReservation(
            "p", "u", None, "h",
            [fields(disable_api_termination=True, shutdown_behavior="terminate"), fields()],
            self.newId,
        )
        self.assertEqual(
            [(i.disable_api_termination, i.shutdown_behavior) for i in instances],
            [(True, "terminate"), (False, "stop")],
        )

    @defer.inlineCallbacks
    def test_usage(self):
        def make(**kw):
            return self.db.instances.create(**fields(reservation_id="r", user_id="u", **kw))

        yield make(project_id="p", host="a", vcpus=2, memory_mb=100)
        yield make(project_id="p", host="a", vcpus=3, memory_mb=200)
        yield make(project_id="p", host="b", vcpus=4, memory_mb=400, state="terminated")
        yield make(project_id="q", host="b", vcpus=1)
        yield make(project_id="q", vcpus=8)
        self.assertEqual((yield self.db.instances.coresByHost()), {"a": 5, "b": 1})
        self.assertEqual(
            (yield self.db.instances.usageByProject("p")), {"instances": 2, "cores": 5, "ram": 300}
        )
        self.assertEqual(
            (yield self.db.instances.usageByProject("none")), {"instances": 0, "cores": 0, "ram": 0}
        )

    @defer.inlineCallbacks
    def assertUsageCounted(self):
        """
        Assert that the usage the store keeps per project and per host is
        what summing the instances gives.
        """
        summed = yield self.db.transactor.transact(_summedUsage)
        for project, usage in summed["project"].items():
            self.assertEqual((yield self.db.instances.usageByProject(project)), usage, project)
        self.assertEqual(
            (yield self.db.instances.coresByHost()),
            {host: usage["cores"] for host, usage in summed["host"].items()},
        )

    @defer.inlineCallbacks
    def test_usageFollowsEveryChange(self):
        """
        The usage kept per project and per host follows every way an
        instance is made, changed and removed.
        """
        _, (one, two), _ = yield self.db.instances.createReservation(
            "p", "u", None, "h", [fields(vcpus=2, memory_mb=64), fields(vcpus=3, memory_mb=128)],
            self.newId,
        )
        other = yield self.db.instances.create(
            **fields(reservation_id="r", project_id="q", user_id="u", vcpus=4, memory_mb=256)
        )
        yield self.assertUsageCounted()
        self.assertEqual(
            (yield self.db.instances.usageByProject("p")), {"instances": 2, "cores": 5, "ram": 192}
        )
        # Scheduled, running, then moved to another host with another size.
        yield self.db.instances.update(one.id, host="a")
        yield self.db.instances.update(two.id, host="a")
        yield self.db.instances.update(other.id, host="b")
        yield self.db.instances.transition(one.id, {"pending"}, "running")
        self.assertEqual((yield self.db.instances.coresByHost()), {"a": 5, "b": 4})
        yield self.db.instances.modify(one.id, {"running"}, host="b", vcpus=6, memory_mb=32)
        yield self.assertUsageCounted()
        self.assertEqual((yield self.db.instances.coresByHost()), {"a": 3, "b": 10})
        # A change of nothing counted leaves the usage as it was.
        yield self.db.instances.update(two.id, display_name="two")
        yield self.assertUsageCounted()
        # Terminated, then deleted: counted once, when it stops counting.
        yield self.db.instances.transition(two.id, {"pending"}, "terminated")
        yield self.db.instances.update(two.id, deleted=True)
        yield self.db.instances.update(other.id, deleted=True)
        yield self.assertUsageCounted()
        self.assertEqual(
            (yield self.db.instances.usageByProject("p")), {"instances": 1, "cores": 6, "ram": 32}
        )
        self.assertEqual(
            (yield self.db.instances.usageByProject("q")), {"instances": 0, "cores": 0, "ram": 0}
        )
        self.assertEqual((yield self.db.instances.coresByHost()), {"b": 6})
        # An abandoned reservation takes back what it counted.
        reservation, _, _ = yield self.db.instances.createReservation(
            "p", "u", None, "h", [fields(vcpus=7)], self.newId
        )
        self.assertEqual((yield self.db.instances.usageByProject("p"))["cores"], 13)
        yield self.db.transactor.transact(
            self.db.instances.thd_abandonReservation, reservation.reservation_id
        )
        yield self.assertUsageCounted()
        self.assertEqual((yield self.db.instances.usageByProject("p"))["cores"], 6)

    @defer.inlineCallbacks
    def test_listFiltersAndPurge(self):
        def make(**kw):
            values = dict(reservation_id="r", project_id="p", user_id="u")
            values.update(kw)
            return self.db.instances.create(**fields(**values))

        old = yield make(state="terminated", terminated_at=NOW - timedelta(hours=2))
        recent = yield make(state="terminated", terminated_at=NOW - timedelta(minutes=5))
        live = yield make(state="running", reservation_id="r-x")
        listed = yield self.db.instances.list(terminatedSince=NOW - timedelta(hours=1))
        self.assertEqual([i.id for i in listed], [recent.id, live.id])
        listed = yield self.db.instances.list(instanceIds=[old.id, live.id])
        self.assertEqual([i.id for i in listed], [old.id, live.id])
        self.assertEqual((yield self.db.instances.list(instanceIds=[])), [])
        listed = yield self.db.instances.list(states=["running"], reservationId="r-x")
        self.assertEqual([i.id for i in listed], [live.id])
        self.assertEqual((yield self.db.instances.purgeTerminated(NOW - timedelta(hours=1))), 1)
        listed = yield self.db.instances.list()
        self.assertEqual([i.id for i in listed], [recent.id, live.id])

    @defer.inlineCallbacks
    def test_liveHosts(self):
        yield self.db.services.register("b", "nova-compute", "compute", "east")
        yield self.db.services.register("a", "nova-compute", "compute", "west")
        yield self.db.services.register("c", "nova-compute", "compute", "west", disabled=True)
        yield self.db.services.register("v", "nova-volume", "volume", "west")
        long_ago = datetime(2000, 1, 1)
        self.assertEqual(
            (yield self.db.scheduling.liveHosts("compute", long_ago)), [("a", "west"), ("b", "east")]
        )
        self.assertEqual(
            (yield self.db.scheduling.liveHosts("compute", long_ago, zone="west", includeDisabled=True)),
            [("a", "west"), ("c", "west")],
        )
        self.assertEqual((yield self.db.scheduling.liveHosts("compute", datetime(2999, 1, 1))), [])


backendCases(ComputeDatabaseMixin, TestCase, globals(), "ComputeDatabase")


def _summedUsage(store):
    """
    @return: what the instances that are neither terminated nor deleted
        use, summed from the instances table: C{{"project": {project:
        usage}, "host": {host: usage}}}, each usage as
        C{usageByProject} gives it.
    """
    summed = {}
    for scope, column in (("project", "project_id"), ("host", "host")):
        rows = store.execute(
            f"SELECT {column}, COUNT(*), SUM(vcpus), SUM(memory_mb) FROM instances "
            f"WHERE NOT deleted AND state <> 'terminated' AND {column} IS NOT NULL "
            f"GROUP BY {column}"
        )
        summed[scope] = {
            key: {"instances": int(count), "cores": int(cores), "ram": int(ram)}
            for key, count, cores, ram in rows
        }
    return summed


def _applyUpTo(store, last):
    store.execute("CREATE TABLE IF NOT EXISTS patch (version INTEGER NOT NULL PRIMARY KEY)")
    store.commit()
    applier = PatchApplier(store, PatchSet(schema))
    for version in range(1, last + 1):
        applier.apply(version)


def _insertInstance(store, uuid="u-1"):
    store.execute(
        "INSERT INTO instances (uuid, reservation_id, project_id, user_id, instance_type, "
        "vcpus, memory_mb, local_gb, state, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (uuid, "r-1", "p", "u", "m1.tiny", 1, 512, 0, "running", NOW, NOW),
    )
    return store.execute("SELECT MAX(id) FROM instances").get_one()[0]


class Patch9Mixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def test_existingInstancesGetTheDefaults(self):
        """
        Patch 9 gives the instances that exist termination protection off
        and the shutdown behavior stop.
        """
        db = self.makeDatabase()
        yield db.transactor.transact(_applyUpTo, 8)
        instanceId = yield db.transactor.transact(_insertInstance)
        applied = yield db.sync(9)
        self.assertEqual(applied, [9])
        # The instances' columns of later patches, for the reads below.
        yield db.sync()
        instance = yield db.instances.get(instanceId)
        self.assertEqual((instance.disable_api_termination, instance.shutdown_behavior), (False, "stop"))
        changed = yield db.instances.modify(instanceId, {"running"}, disable_api_termination=True)
        self.assertTrue(changed.disable_api_termination)


backendCases(Patch9Mixin, TestCase, globals(), "Patch9")


class Patch12Mixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def test_existingInstancesAreUnlocked(self):
        """
        Patch 12 leaves the instances that exist unlocked.
        """
        db = self.makeDatabase()
        yield db.transactor.transact(_applyUpTo, 11)
        instanceId = yield db.transactor.transact(_insertInstance)
        applied = yield db.sync(12)
        self.assertEqual(applied, [12])
        yield db.sync()
        instance = yield db.instances.get(instanceId)
        self.assertIs(instance.locked, False)
        changed = yield db.instances.modify(instanceId, {"running"}, locked=True)
        self.assertIs(changed.locked, True)


backendCases(Patch12Mixin, TestCase, globals(), "Patch12")


class Patch19Mixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def test_usageOfExistingInstances(self):
        """
        Patch 19 counts the instances that exist, per project and per
        host, leaving out those terminated or deleted; later changes add
        to what it counted.
        """
        db = self.makeDatabase()
        yield db.transactor.transact(_applyUpTo, 18)

        def insert(store):
            ids = [_insertInstance(store, uuid=f"u-{n}") for n in range(4)]
            store.execute("UPDATE instances SET host = 'a', vcpus = 2 WHERE id = ?", (ids[1],))
            store.execute("UPDATE instances SET state = 'terminated' WHERE id = ?", (ids[2],))
            store.execute(
                "UPDATE instances SET deleted = ?, host = 'a' WHERE id = ?", (True, ids[3])
            )
            return ids

        ids = yield db.transactor.transact(insert)
        self.assertEqual((yield db.sync(19)), [19])
        yield db.sync()
        self.assertEqual(
            (yield db.instances.usageByProject("p")), {"instances": 2, "cores": 3, "ram": 1024}
        )
        self.assertEqual((yield db.instances.coresByHost()), {"a": 2})
        yield db.instances.update(ids[0], host="a")
        yield db.instances.transition(ids[1], {"running"}, "terminated")
        self.assertEqual(
            (yield db.instances.usageByProject("p")), {"instances": 1, "cores": 1, "ram": 512}
        )
        self.assertEqual((yield db.instances.coresByHost()), {"a": 1})


backendCases(Patch19Mixin, TestCase, globals(), "Patch19")
