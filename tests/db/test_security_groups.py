"""
Tests for L{nova.db.security_groups} on SQLite, PostgreSQL and MariaDB.
"""

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from nova.db.api import NovaDatabase
from nova.db.security_groups import (
    RuleSpec,
    SecurityGroupExists,
    SecurityGroupInUse,
    SecurityGroupNotFound,
    SecurityGroupRecord,
    SecurityGroupRuleExists,
    SecurityGroupRuleNotFound,
)
from nova.db.store import Transactor, openDatabase
from tests.db.backends import BackendTestsMixin, backendCases, freshURI


class SecurityGroupStoreMixin(BackendTestsMixin):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self):
        yield self.setUpDatabase()
        self.store = self.db.securityGroups

    @defer.inlineCallbacks
    def test_default(self):
        group = yield self.store.ensureDefault("p1", "alice")
        self.assertIsInstance(group, SecurityGroupRecord)
        self.assertEqual((group.name, group.project_id, group.user_id, group.rules), ("default", "p1", "alice", ()))
        again = yield self.store.ensureDefault("p1", "bob")
        self.assertEqual(again, group)
        other = yield self.store.ensureDefault("p2")
        self.assertNotEqual(other.id, group.id)
        self.assertEqual(group.ec2Id, "sg-%08x" % (group.id,))

    @defer.inlineCallbacks
    def test_createGetList(self):
        web = yield self.store.create("p1", "alice", "web", "web servers")
        yield self.assertFailure(self.store.create("p1", "bob", "web", "again"), SecurityGroupExists)
        yield self.store.create("p2", "bob", "web", "theirs")
        yield self.store.create("p1", "alice", "app", "apps")
        got = yield self.store.get(web.id)
        self.assertEqual(got, web)
        byName = yield self.store.getByName("p1", "web")
        self.assertEqual(byName, web)
        yield self.assertFailure(self.store.getByName("p3", "web"), SecurityGroupNotFound)
        yield self.assertFailure(self.store.get(9999), SecurityGroupNotFound)
        mine = yield self.store.list("p1")
        self.assertEqual([g.name for g in mine], ["app", "web"])
        every = yield self.store.list()
        self.assertEqual([(g.project_id, g.name) for g in every], [("p1", "app"), ("p1", "web"), ("p2", "web")])

    @defer.inlineCallbacks
    def test_rules(self):
        web = yield self.store.create("p1", "u", "web", "web")
        lb = yield self.store.create("p1", "u", "lb", "lb")
        specs = [
            RuleSpec("tcp", 80, 80, cidr="0.0.0.0/0"),
            RuleSpec("tcp", 80, 80, groupId=lb.id),
            RuleSpec("icmp", -1, -1, cidr="10.0.0.0/8"),
            RuleSpec("-1", None, None, groupId=web.id),
        ]
        group = yield self.store.addRules(web.id, specs)
        self.assertEqual(
            [(r.protocol, r.from_port, r.to_port, r.cidr, r.group_id, r.source_group_name, r.source_project_id) for r in group.rules],
            [
                ("tcp", 80, 80, "0.0.0.0/0", None, None, None),
                ("tcp", 80, 80, None, lb.id, "lb", "p1"),
                ("icmp", -1, -1, "10.0.0.0/8", None, None, None),
                ("-1", None, None, None, web.id, "web", "p1"),
            ],
        )
        yield self.assertFailure(
            self.store.addRules(web.id, [RuleSpec("udp", 53, 53, cidr="0.0.0.0/0"), specs[0]]),
            SecurityGroupRuleExists,
        )
        yield self.assertFailure(
            self.store.addRules(web.id, [RuleSpec("udp", 1, 1, groupId=9999)]), SecurityGroupNotFound
        )
        yield self.assertFailure(self.store.addRules(9999, specs[:1]), SecurityGroupNotFound)
        unchanged = yield self.store.get(web.id)
        self.assertEqual(len(unchanged.rules), 4)
        referring = yield self.store.groupsReferring([lb.id])
        self.assertEqual(referring, [web.id])
        referring = yield self.store.groupsReferring([web.id, lb.id])
        self.assertEqual(referring, [web.id])
        yield self.assertFailure(self.store.delete(lb.id), SecurityGroupInUse)
        yield self.assertFailure(
            self.store.removeRules(web.id, [specs[1], RuleSpec("udp", 53, 53, cidr="0.0.0.0/0")]),
            SecurityGroupRuleNotFound,
        )
        group = yield self.store.removeRules(web.id, [specs[1], specs[0]])
        self.assertEqual([r.protocol for r in group.rules], ["icmp", "-1"])
        yield self.store.delete(lb.id)
        # A group whose only reference is its own rule can go.
        removed = yield self.store.delete(web.id)
        self.assertEqual(removed.name, "web")
        yield self.assertFailure(self.store.get(web.id), SecurityGroupNotFound)
        yield self.assertFailure(self.store.delete(web.id), SecurityGroupNotFound)

    @defer.inlineCallbacks
    def test_membership(self):
        web = yield self.store.create("p1", "u", "web", "web")
        db = yield self.store.create("p1", "u", "db", "db")
        added = yield self.store.addInstance(web.id, 7)
        self.assertTrue(added)
        added = yield self.store.addInstance(web.id, 7)
        self.assertFalse(added)
        yield self.store.addInstance(db.id, 7)
        yield self.store.addInstance(web.id, 8)
        yield self.assertFailure(self.store.addInstance(9999, 7), SecurityGroupNotFound)
        groups = yield self.store.groupsForInstance(7)
        self.assertEqual([g.name for g in groups], ["web", "db"])
        members = yield self.store.instancesInGroup(web.id)
        self.assertEqual(members, [7, 8])
        yield self.assertFailure(self.store.delete(web.id), SecurityGroupInUse)
        left = yield self.store.removeInstance(7, db.id)
        self.assertEqual(left, [db.id])
        left = yield self.store.removeInstance(7)
        self.assertEqual(left, [web.id])
        left = yield self.store.removeInstance(7)
        self.assertEqual(left, [])
        nothing = yield self.store.groupsForInstance(7)
        self.assertEqual(nothing, [])

    @defer.inlineCallbacks
    def test_concurrentDefault(self):
        transactor = Transactor(openDatabase(freshURI(self, self.backend)), reactor, maxThreads=4)
        transactor.startService()
        self.addCleanup(transactor.stopService)
        db = NovaDatabase(transactor, self.clock)
        yield db.sync()
        groups = yield defer.gatherResults(
            [db.securityGroups.ensureDefault("p1", "u") for _ in range(8)], consumeErrors=True
        )
        self.assertEqual(len({g.id for g in groups}), 1)
        listed = yield db.securityGroups.list("p1")
        self.assertEqual(len(listed), 1)


backendCases(SecurityGroupStoreMixin, TestCase, globals(), "SecurityGroupStore")
