"""
Tests for L{nova.db.services}, L{nova.db.instances} and the schema, on
SQLite, PostgreSQL and MariaDB.
"""

from datetime import datetime, timedelta

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from nova import exception
from nova.db.api import SchemaOutOfDate
from nova.db.instances import InstanceNotFound
from nova.db.records import ServiceRecord
from nova.db.schema import latestVersion
from tests.db.backends import BackendTestsMixin, backendCases


class ServiceStoreMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def setUp(self):
        yield self.setUpDatabase()

    def createInstance(self, **fields):
        """
        @return: L{Deferred} firing with a new m1.tiny instance of project
            C{proj}'s reservation C{r-abc}, with C{fields} besides.
        """
        defaults = dict(
            reservation_id="r-abc",
            project_id="proj",
            user_id="alice",
            instance_type="m1.tiny",
            vcpus=1,
            memory_mb=512,
            local_gb=0,
        )
        return self.db.instances.create(**dict(defaults, **fields))

    @defer.inlineCallbacks
    def test_syncIsIdempotent(self):
        applied = yield self.db.sync()
        self.assertEqual(applied, [])
        version = yield self.db.version()
        self.assertEqual(version, latestVersion())
        yield self.db.checkSchema()

    @defer.inlineCallbacks
    def test_registerAndReport(self):
        record = yield self.db.services.register("h1", "nova-compute", "compute", "nova")
        self.assertIsInstance(record, ServiceRecord)
        self.assertEqual(record.report_count, 0)
        self.assertEqual(record.updated_at, datetime(2023, 11, 14, 22, 13, 20))
        self.clock.advance(10)
        record = yield self.db.services.report(record.id)
        self.assertEqual(record.report_count, 1)
        self.assertEqual(record.updated_at, datetime(2023, 11, 14, 22, 13, 30))

    @defer.inlineCallbacks
    def test_registerAgainKeepsRowAndDisabled(self):
        first = yield self.db.services.register("h1", "nova-compute", "compute", "nova")
        yield self.db.services.setDisabled("h1", "nova-compute", True)
        second = yield self.db.services.register("h1", "nova-compute", "compute", "z2")
        self.assertEqual(first.id, second.id)
        self.assertTrue(second.disabled)
        self.assertEqual(second.availability_zone, "z2")

    @defer.inlineCallbacks
    def test_listFilters(self):
        yield self.db.services.register("h2", "nova-compute", "compute", "nova")
        yield self.db.services.register("h1", "nova-compute", "compute", "nova")
        yield self.db.services.register("h1", "nova-network", "network", "nova")
        everything = yield self.db.services.list()
        self.assertEqual(
            [(s.host, s.binary) for s in everything],
            [("h1", "nova-compute"), ("h1", "nova-network"), ("h2", "nova-compute")],
        )
        computes = yield self.db.services.list(topic="compute")
        self.assertEqual({s.host for s in computes}, {"h1", "h2"})
        h1 = yield self.db.services.list(host="h1", binary="nova-network")
        self.assertEqual([s.topic for s in h1], ["network"])

    @defer.inlineCallbacks
    def test_isUp(self):
        record = yield self.db.services.register("h1", "nova-compute", "compute", "nova")
        now = record.updated_at
        self.assertTrue(record.isUp(now + timedelta(seconds=59), 60))
        self.assertFalse(record.isUp(now + timedelta(seconds=60), 60))

    @defer.inlineCallbacks
    def test_reportUnknown(self):
        yield self.assertFailure(self.db.services.report(999), exception.ServiceNotFound)
        yield self.assertFailure(
            self.db.services.setDisabled("nohost", "nova-compute", True),
            exception.ServiceNotFound,
        )

    @defer.inlineCallbacks
    def test_unicodeHost(self):
        record = yield self.db.services.register("h\u00f8st-\u4e2d", "nova-compute", "compute", "nova")
        self.assertEqual(record.host, "h\u00f8st-\u4e2d")
        listed = yield self.db.services.list(host="h\u00f8st-\u4e2d")
        self.assertEqual([s.id for s in listed], [record.id])

    @defer.inlineCallbacks
    def test_instances(self):
        created = yield self.createInstance(user_data="caf\u00e9")
        self.assertEqual(created.state, "pending")
        self.assertEqual(created.ec2Id, "i-%08x" % created.id)
        updated = yield self.db.instances.update(created.id, state="running", host="h1")
        self.assertEqual((updated.state, updated.host), ("running", "h1"))
        fetched = yield self.db.instances.get(created.id)
        self.assertEqual(fetched, updated)
        self.assertEqual(fetched.user_data, "caf\u00e9")
        listed = yield self.db.instances.list(projectId="proj")
        self.assertEqual([i.id for i in listed], [created.id])
        other = yield self.db.instances.list(projectId="other")
        self.assertEqual(other, [])
        yield self.db.instances.update(created.id, deleted=True)
        self.assertEqual((yield self.db.instances.list(projectId="proj")), [])
        self.assertEqual(len((yield self.db.instances.list(includeDeleted=True))), 1)
        yield self.assertFailure(self.db.instances.get(created.id + 100), InstanceNotFound)

    @defer.inlineCallbacks
    def test_listedAsStormReadsThem(self):
        """
        Listing converts each column's values as Storm's objects hold them:
        texts, integers, booleans (true and false) and datetimes (with and
        without microseconds), and L{None}s.
        """
        full = yield self.createInstance(
            image_id="ami-00000001",
            vcpus=2,
            local_gb=10,
            launch_index=3,
            user_data="caf\u00e9",
            host="h1",
            power_state=1,
            locked=True,
            disable_api_termination=True,
            config_drive=False,
            launched_at=datetime(2011, 2, 3, 4, 5, 6, 789),
            terminated_at=datetime(2011, 2, 3, 4, 5, 7),
        )
        bare = yield self.createInstance()

        def thd_objects(store):
            from nova.db.models import Instance
            from nova.db.records import InstanceRecord

            return [
                InstanceRecord.fromModel(store.get(Instance, instance.id))
                for instance in (full, bare)
            ]

        expected = yield self.db.transactor.transact(thd_objects)
        listed = yield self.db.instances.list(projectId="proj")
        self.assertEqual(listed, expected)
        self.assertEqual(
            [(i.locked, i.disable_api_termination, i.config_drive) for i in listed],
            [(True, True, False), (False, False, None)],
        )
        self.assertEqual(listed[0].launched_at, datetime(2011, 2, 3, 4, 5, 6, 789))
        self.assertEqual(listed[0].terminated_at, datetime(2011, 2, 3, 4, 5, 7))
        self.assertIs(type(listed[0].locked), bool)
        self.assertEqual((yield self.db.instances.get(full.id)), listed[0])

    @defer.inlineCallbacks
    def test_transitionAndModify(self):
        """
        A transition or a change writes its fields and C{updated_at}, and
        answers the record as a new read gives it; refused in another
        state, and for a deleted instance.
        """
        from nova.db.instances import IncorrectInstanceState

        created = yield self.createInstance()
        self.clock.advance(5)
        launched = datetime(2011, 2, 3, 4, 5, 6, 7)
        running = yield self.db.instances.transition(
            created.id, {"pending"}, "running", power_state=1, launched_at=launched, locked=True
        )
        self.assertEqual(
            (running.state, running.power_state, running.launched_at, running.locked),
            ("running", 1, launched, True),
        )
        self.assertEqual(running.updated_at, created.updated_at + timedelta(seconds=5))
        self.assertEqual((yield self.db.instances.get(created.id)), running)
        failure = yield self.assertFailure(
            self.db.instances.transition(created.id, {"pending"}, "running", action="start it"),
            IncorrectInstanceState,
        )
        self.assertIn("is running; cannot start it", str(failure))
        renamed = yield self.db.instances.modify(
            created.id, {"running"}, display_name="web", locked=False
        )
        self.assertEqual((renamed.state, renamed.display_name, renamed.locked), ("running", "web", False))
        self.assertEqual((yield self.db.instances.get(created.id)), renamed)
        yield self.assertFailure(
            self.db.instances.modify(created.id, {"stopped"}, display_name="x"),
            IncorrectInstanceState,
        )
        yield self.assertFailure(
            self.db.instances.transition(created.id, {"running"}, "stopped", power_state="off"),
            TypeError,
        )
        self.assertEqual((yield self.db.instances.get(created.id)), renamed)
        yield self.db.instances.update(created.id, deleted=True)
        yield self.assertFailure(
            self.db.instances.transition(created.id, {"running"}, "stopped"), InstanceNotFound
        )
        yield self.assertFailure(
            self.db.instances.modify(created.id, {"running"}, display_name="y"), InstanceNotFound
        )

    @defer.inlineCallbacks
    def test_listManyIds(self):
        """
        More ids than one C{IN} list holds are read in parts, in id order.
        """
        created = []
        for _ in range(3):
            created.append((yield self.createInstance()).id)
        many = list(range(1, 1201))[::-1]
        listed = yield self.db.instances.list(projectId="proj", instanceIds=many)
        self.assertEqual([i.id for i in listed], created)
        listed = yield self.db.instances.list(instanceIds=[n for n in many if n != created[0]])
        self.assertEqual([i.id for i in listed], created[1:])

    def test_unknownInstanceField(self):
        self.assertRaises(exception.Invalid, self.db.instances.create, colour="red")


backendCases(ServiceStoreMixin, TestCase, globals(), "ServiceStore")


class EmptySchemaMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def test_checkSchemaRefusesEmptyDatabase(self):
        db = self.makeDatabase()
        error = yield self.assertFailure(db.checkSchema(), SchemaOutOfDate)
        self.assertIn("nova-manage db sync", str(error))
        version = yield db.version()
        self.assertEqual(version, 0)
        applied = yield db.sync()
        self.assertEqual(applied, list(range(1, latestVersion() + 1)))


    @defer.inlineCallbacks
    def test_checkSchemaNamesMissingPatch(self):
        """
        A database on which one patch in the middle is missing is refused,
        and the error names the patch.
        """
        db = self.makeDatabase()
        yield db.sync()

        def forget(store):
            store.execute("DELETE FROM patch WHERE version = 2")

        yield db.transactor.transact(forget)
        error = yield self.assertFailure(db.checkSchema(), SchemaOutOfDate)
        self.assertIn("lacks patches 2:", str(error))


backendCases(EmptySchemaMixin, TestCase, globals(), "EmptySchema")
