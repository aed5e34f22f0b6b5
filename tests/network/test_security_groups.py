"""
Tests for L{nova.network.security_groups.SecurityGroupAPI}: groups, rules,
memberships, EC2's errors, and the refresh casts to compute hosts.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.db.security_groups import formatGroupId
from nova.manager import ManagerDispatcher, Manager, expose
from nova.network import errors
from nova.network.security_groups import (
    SECURITY_GROUP_FILTERS,
    SecurityGroupAPI,
    parseGroupId,
)
from tests.network.util import NetworkHarness, context

CTX = context("proj1", "alice")
OTHER = context("proj2", "bob")


def tcp(fromPort, toPort, *cidrs, groups=()):
    return {"protocol": "tcp", "fromPort": fromPort, "toPort": toPort, "cidrs": list(cidrs), "groups": list(groups)}


class _ComputeListener(Manager):
    """
    Stands for a compute host: records refreshSecurityGroup casts.
    """

    def __init__(self, *args):
        Manager.__init__(self, *args)
        self.refreshed = []

    @expose
    def refreshSecurityGroup(self, context, securityGroupId):
        self.refreshed.append(securityGroupId)


class ParseTests(SynchronousTestCase):
    def test_groupIds(self):
        self.assertEqual(parseGroupId("sg-0000002a"), 42)
        self.assertEqual(formatGroupId(42), "sg-0000002a")
        for bad in ("sg-2a", "sg-0000002A", "0000002a", "sg-0000002ax", None, 42):
            failure = self.assertRaises(errors.InvalidGroupId, parseGroupId, bad)
            self.assertEqual(failure.ec2Code, "InvalidGroupId.Malformed")


class SecurityGroupAPITests(NetworkHarness, SynchronousTestCase):
    def setUp(self):
        self.setUpHarness()
        self.api = SecurityGroupAPI(self.db, self.rpc)
        self.computes = []
        for host in ("c1", "c2"):
            listener = _ComputeListener(self.configFor(host), self.db, self.rpc, self.clock)
            self.successResultOf(self.rpc.serve("compute", host, ManagerDispatcher(listener)))
            self.computes.append(listener)

    def result(self, d):
        return self.successResultOf(self.settle(d))

    def failure(self, d, error, ec2Code=None):
        failure = self.failureResultOf(self.settle(d), error)
        if ec2Code is not None:
            self.assertEqual(failure.value.ec2Code, ec2Code)
        return failure

    def refreshed(self):
        self.clock.advance(0)
        seen = [listener.refreshed[:] for listener in self.computes]
        for listener in self.computes:
            listener.refreshed[:] = []
        self.assertEqual(seen[0], seen[1], "every compute host gets each refresh")
        return seen[0]

    def test_defaultOnFirstUse(self):
        [group] = self.result(self.api.describe(CTX))
        self.assertEqual((group.name, group.description, group.project_id, group.rules), ("default", "default", "proj1", ()))
        self.assertEqual(group.ec2Id, formatGroupId(group.id))
        # Made once.
        self.assertEqual(self.result(self.api.describe(CTX)), [group])
        self.assertEqual(
            [g.name for g in self.result(self.api.describe(OTHER))], ["default"]
        )

    def test_createDescribeDelete(self):
        web = self.result(self.api.create(CTX, "web", "web servers"))
        self.assertEqual((web.name, web.description, web.user_id), ("web", "web servers", "alice"))
        self.failure(self.api.create(CTX, "web", "again"), errors.SecurityGroupExists, "InvalidGroup.Duplicate")
        self.failure(self.api.create(CTX, "default", "x"), errors.SecurityGroupExists, "InvalidGroup.Duplicate")
        # Names are per project.
        self.result(self.api.create(OTHER, "web", "theirs"))
        self.assertEqual([g.name for g in self.result(self.api.describe(CTX))], ["default", "web"])
        self.assertEqual(self.result(self.api.describe(CTX, groupNames=["web"])), [web])
        self.assertEqual(self.result(self.api.describe(CTX, groupIds=[web.ec2Id])), [web])
        self.failure(self.api.describe(CTX, groupNames=["nope"]), errors.SecurityGroupNotFound, "InvalidGroup.NotFound")
        self.failure(self.api.describe(CTX, groupIds=["sg-000000ff"]), errors.SecurityGroupNotFound)
        self.failure(self.api.describe(CTX, groupIds=["sg-1"]), errors.InvalidGroupId)
        self.result(self.api.delete(CTX, groupName="web"))
        self.failure(self.api.delete(CTX, groupName="web"), errors.SecurityGroupNotFound)
        self.assertEqual([g.name for g in self.result(self.api.describe(OTHER))], ["default", "web"])

    def test_createValidation(self):
        for name, description, error in [
            ("", "d", errors.MissingParameter),
            ("x", "", errors.MissingParameter),
            ("x" * 256, "d", errors.InvalidParameterValue),
            ("sg-web", "d", errors.InvalidParameterValue),
            ("bad\x00name", "d", errors.InvalidParameterValue),
        ]:
            self.failure(self.api.create(CTX, name, description), error)

    def test_deleteById(self):
        web = self.result(self.api.create(CTX, "web", "web"))
        self.result(self.api.delete(CTX, groupId=web.ec2Id))
        self.assertEqual([g.name for g in self.result(self.api.describe(CTX))], ["default"])

    def test_deleteRules(self):
        default = self.result(self.api.ensureDefault(CTX))
        self.failure(self.api.delete(CTX, groupName="default"), errors.SecurityGroupCannotDelete, "CannotDelete")
        self.failure(self.api.delete(CTX, groupId=default.ec2Id), errors.SecurityGroupCannotDelete)
        theirs = self.result(self.api.create(OTHER, "db", "theirs"))
        self.failure(self.api.delete(CTX, groupId=theirs.ec2Id), errors.SecurityGroupNotFound)
        self.failure(self.api.delete(CTX), errors.MissingParameter)
        self.failure(self.api.delete(CTX, groupName="a", groupId=theirs.ec2Id), errors.MissingParameter)

    def test_deleteInUse(self):
        web = self.result(self.api.create(CTX, "web", "web"))
        db = self.result(self.api.create(CTX, "db", "db"))
        instance = self.createInstance("proj1")
        self.result(self.api.addInstance(CTX, instance.id, ["web"]))
        self.failure(self.api.delete(CTX, groupName="web"), errors.SecurityGroupInUse, "InvalidGroup.InUse")
        self.result(self.api.removeInstance(CTX, instance.id))
        self.result(
            self.api.authorizeIngress(CTX, [tcp(5432, 5432, groups=[{"groupName": "web"}])], groupName="db")
        )
        self.failure(self.api.delete(CTX, groupId=web.ec2Id), errors.SecurityGroupInUse)
        # A group may refer to itself and still be deleted.
        self.result(self.api.authorizeIngress(CTX, [tcp(1, 2, groups=[{"groupName": "db"}])], groupName="db"))
        self.result(self.api.revokeIngress(CTX, [tcp(5432, 5432, groups=[{"groupName": "web"}])], groupId=db.ec2Id))
        self.result(self.api.delete(CTX, groupName="db"))
        self.result(self.api.delete(CTX, groupName="web"))

    def test_authorizeAndRevoke(self):
        self.result(self.api.create(CTX, "web", "web"))
        group = self.result(
            self.api.authorizeIngress(
                CTX,
                [
                    tcp(80, 80, "0.0.0.0/0"),
                    tcp(22, 22, "10.1.2.3/8", "192.168.0.0/16"),
                    {"protocol": "ICMP", "fromPort": "-1", "toPort": "-1", "cidrs": ["0.0.0.0/0"]},
                    {"protocol": "17", "fromPort": 53, "toPort": 53, "cidrs": ["10.0.0.0/8"]},
                    {"protocol": "-1", "groups": [{"groupName": "default"}]},
                ],
                groupName="web",
            )
        )
        default = self.result(self.api.ensureDefault(CTX))
        self.assertEqual(
            [(r.protocol, r.from_port, r.to_port, r.cidr, r.group_id, r.source_group_name) for r in group.rules],
            [
                ("tcp", 80, 80, "0.0.0.0/0", None, None),
                ("tcp", 22, 22, "10.0.0.0/8", None, None),
                ("tcp", 22, 22, "192.168.0.0/16", None, None),
                ("icmp", -1, -1, "0.0.0.0/0", None, None),
                ("udp", 53, 53, "10.0.0.0/8", None, None),
                ("-1", None, None, None, default.id, "default"),
            ],
        )
        self.assertEqual(self.refreshed(), [group.id])
        failure = self.failure(
            self.api.authorizeIngress(CTX, [tcp(8080, 8080, "1.2.3.0/24"), tcp(80, 80, "0.0.0.0/0")], groupName="web"),
            errors.SecurityGroupRuleExists,
            "InvalidPermission.Duplicate",
        )
        self.assertIn("80", failure.value.message)
        # All or nothing: 8080 was not added.
        [again] = self.result(self.api.describe(CTX, groupNames=["web"]))
        self.assertEqual(len(again.rules), 6)
        self.assertEqual(self.refreshed(), [])
        group = self.result(
            self.api.revokeIngress(CTX, [tcp(22, 22, "10.0.0.0/8", "192.168.0.0/16")], groupId=group.ec2Id)
        )
        self.assertEqual(len(group.rules), 4)
        self.assertEqual(self.refreshed(), [group.id])
        self.failure(
            self.api.revokeIngress(CTX, [tcp(22, 22, "10.0.0.0/8")], groupName="web"),
            errors.SecurityGroupRuleNotFound,
            "InvalidPermission.NotFound",
        )
        self.failure(
            self.api.revokeIngress(CTX, [tcp(80, 80, "0.0.0.0/0"), tcp(81, 81, "0.0.0.0/0")], groupName="web"),
            errors.SecurityGroupRuleNotFound,
        )
        [again] = self.result(self.api.describe(CTX, groupNames=["web"]))
        self.assertEqual(len(again.rules), 4)

    def test_duplicateWithinRequest(self):
        self.failure(
            self.api.authorizeIngress(CTX, [tcp(80, 80, "0.0.0.0/0", "0.0.0.0/0")], groupName="default"),
            errors.SecurityGroupRuleExists,
        )

    def test_validation(self):
        bad = [
            ({"protocol": "gre", "cidrs": ["0.0.0.0/0"]}, errors.InvalidParameterValue),
            (tcp(None, 80, "0.0.0.0/0"), errors.InvalidParameterValue),
            (tcp(90, 80, "0.0.0.0/0"), errors.InvalidParameterValue),
            (tcp(-1, -1, "0.0.0.0/0"), errors.InvalidParameterValue),
            (tcp(1, 65536, "0.0.0.0/0"), errors.InvalidParameterValue),
            (tcp("x", 80, "0.0.0.0/0"), errors.InvalidParameterValue),
            ({"protocol": "icmp", "fromPort": 256, "toPort": 0, "cidrs": ["0.0.0.0/0"]}, errors.InvalidParameterValue),
            ({"protocol": "icmp", "fromPort": -1, "toPort": 3, "cidrs": ["0.0.0.0/0"]}, errors.InvalidParameterValue),
            ({"protocol": "icmp", "cidrs": ["0.0.0.0/0"]}, errors.InvalidParameterValue),
            (tcp(80, 80, "10.0.0.0/33"), errors.InvalidParameterValue),
            (tcp(80, 80, "10.0.0.0"), errors.InvalidParameterValue),
            (tcp(80, 80, "example.com/8"), errors.InvalidParameterValue),
            (tcp(80, 80), errors.MissingParameter),
            (tcp(80, 80, groups=[{"groupName": "nope"}]), errors.SecurityGroupNotFound),
            (tcp(80, 80, groups=[{"groupId": "sg-xyz"}]), errors.InvalidGroupId),
            (tcp(80, 80, groups=[{}]), errors.MissingParameter),
            ("tcp", errors.InvalidParameterValue),
        ]
        for permission, error in bad:
            failure = self.failure(self.api.authorizeIngress(CTX, [permission], groupName="default"), error)
            if error is errors.InvalidParameterValue:
                self.assertEqual(failure.value.ec2Code, "InvalidParameterValue")
        self.failure(self.api.authorizeIngress(CTX, [], groupName="default"), errors.MissingParameter)
        self.failure(self.api.authorizeIngress(CTX, [tcp(1, 1, "0.0.0.0/0")], groupName="nope"), errors.SecurityGroupNotFound)
        [default] = self.result(self.api.describe(CTX))
        self.assertEqual(default.rules, ())
        self.assertEqual(self.refreshed(), [])

    def test_icmpTypeAndCode(self):
        group = self.result(
            self.api.authorizeIngress(
                CTX, [{"protocol": "icmp", "fromPort": 8, "toPort": 0, "cidrs": ["0.0.0.0/0"]}], groupName="default"
            )
        )
        self.assertEqual([(r.from_port, r.to_port) for r in group.rules], [(8, 0)])

    def test_allProtocolsIgnorePorts(self):
        group = self.result(
            self.api.authorizeIngress(
                CTX, [{"protocol": "-1", "fromPort": 5, "toPort": 1, "cidrs": ["10.0.0.0/8"]}], groupName="default"
            )
        )
        self.assertEqual([(r.protocol, r.from_port, r.to_port) for r in group.rules], [("-1", None, None)])
        self.result(self.api.revokeIngress(CTX, [{"protocol": "-1", "cidrs": ["10.0.0.0/8"]}], groupName="default"))

    def test_sourceGroupOfAnotherProject(self):
        theirs = self.result(self.api.create(OTHER, "lb", "their balancers"))
        group = self.result(
            self.api.authorizeIngress(
                CTX, [tcp(80, 80, groups=[{"groupName": "lb", "userId": "proj2"}])], groupName="default"
            )
        )
        [rule] = group.rules
        self.assertEqual((rule.group_id, rule.source_group_name, rule.source_project_id), (theirs.id, "lb", "proj2"))
        self.result(self.api.revokeIngress(CTX, [tcp(80, 80, groups=[{"groupId": theirs.ec2Id}])], groupName="default"))
        # Their group is theirs to change.
        self.failure(
            self.api.authorizeIngress(CTX, [tcp(80, 80, "0.0.0.0/0")], groupId=theirs.ec2Id),
            errors.SecurityGroupNotFound,
        )

    def test_membership(self):
        web = self.result(self.api.create(CTX, "web", "web"))
        db = self.result(self.api.create(CTX, "db", "db"))
        self.result(self.api.authorizeIngress(CTX, [tcp(5432, 5432, groups=[{"groupName": "web"}])], groupName="db"))
        self.refreshed()
        a = self.createInstance("proj1")
        b = self.createInstance("proj1")
        groups = self.result(self.api.addInstance(CTX, a.id, ["web", "web"]))
        self.assertEqual([g.name for g in groups], ["web"])
        # The db group's rule admits web's members: only it is refreshed
        # (the new member's own filter is built when its guest starts).
        self.assertEqual(self.refreshed(), [db.id])
        default = self.result(self.api.addInstance(CTX, b.id))
        self.assertEqual([g.name for g in default], ["default"])
        # No rule names the default group.
        self.assertEqual(self.refreshed(), [])
        self.failure(self.api.addInstance(CTX, b.id, ["web", "nope"]), errors.SecurityGroupNotFound)
        self.assertEqual(
            [g.name for g in self.result(self.api.groupsForInstance(CTX, b.id))], ["default"]
        )
        self.assertEqual(self.refreshed(), [])
        self.assertEqual(sorted(self.result(self.api.removeInstance(CTX, a.id))), [web.id])
        self.assertEqual(self.refreshed(), [db.id])
        self.assertEqual(self.result(self.api.removeInstance(CTX, a.id)), [])
        self.assertEqual(self.refreshed(), [])

    def test_addInstances(self):
        """
        addInstances makes many instances members in one go and tells the
        compute hosts once, about the groups whose rules name the groups
        joined.
        """
        web = self.result(self.api.create(CTX, "web", "web"))
        self.result(
            self.api.authorizeIngress(CTX, [tcp(80, 80, groups=[{"groupName": "web"}])], groupName="web")
        )
        self.refreshed()
        instances = [self.createInstance("proj1") for _ in range(3)]
        groups = self.result(self.api.addInstances(CTX, [i.id for i in instances], ["web"]))
        self.assertEqual([g.name for g in groups], ["web"])
        self.assertEqual(self.refreshed(), [web.id])
        for instance in instances:
            self.assertEqual(
                [g.name for g in self.result(self.api.groupsForInstance(CTX, instance.id))], ["web"]
            )
        # Joining again changes nothing but still tells the hosts once.
        self.result(self.api.addInstances(CTX, [instances[0].id], ["web"]))
        self.assertEqual(self.refreshed(), [web.id])

    def test_setInstanceGroups(self):
        """
        setInstanceGroups replaces an instance's memberships and tells the
        compute hosts about the groups it left and joined, the groups it
        stays in and the groups whose rules name any of them.
        """
        web = self.result(self.api.create(CTX, "web", "web"))
        db = self.result(self.api.create(CTX, "db", "db"))
        admin = self.result(self.api.create(CTX, "admin", "admin"))
        self.result(self.api.authorizeIngress(CTX, [tcp(5432, 5432, groups=[{"groupName": "web"}])], groupName="db"))
        instance = self.createInstance("proj1")
        [default] = self.result(self.api.addInstance(CTX, instance.id))
        self.refreshed()
        groups = self.result(self.api.setInstanceGroups(CTX, instance.id, ["web", "admin", "web"]))
        self.assertEqual([g.name for g in groups], ["web", "admin"])
        self.assertEqual(
            [g.name for g in self.result(self.api.groupsForInstance(CTX, instance.id))],
            ["web", "admin"],
        )
        self.assertEqual(self.refreshed(), sorted([default.id, web.id, admin.id, db.id]))
        # Leaving groups only: the group it stays in is refreshed (its
        # filter is rebuilt) with the one it left.
        self.result(self.api.setInstanceGroups(CTX, instance.id, ["admin"]))
        self.assertEqual(self.refreshed(), sorted([web.id, admin.id, db.id]))
        self.assertEqual(self.result(self.api.memberAddresses(CTX, web.id)), [])
        self.failure(
            self.api.setInstanceGroups(CTX, instance.id, ["web", "nope"]),
            errors.SecurityGroupNotFound,
        )
        self.failure(self.api.setInstanceGroups(CTX, instance.id, []), errors.InvalidParameterValue)
        self.assertEqual(
            [g.name for g in self.result(self.api.groupsForInstance(CTX, instance.id))], ["admin"]
        )
        self.assertEqual(self.refreshed(), [])

    def test_memberAddresses(self):
        self.createNetworks("10.0.0.0/25", 1, 128)
        self.addHost("net1")
        web = self.result(self.api.create(CTX, "web", "web"))
        for _ in range(2):
            instance = self.createInstance("proj1")
            self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
            self.result(self.api.addInstance(CTX, instance.id, ["web"]))
        self.assertEqual(self.result(self.api.memberAddresses(CTX, web.id)), ["10.0.0.2", "10.0.0.3"])

    def test_filters(self):
        self.result(self.api.create(CTX, "web", "web servers"))
        group = self.result(
            self.api.authorizeIngress(
                CTX,
                [tcp(80, 81, "0.0.0.0/0"), {"protocol": "icmp", "fromPort": -1, "toPort": -1, "groups": [{"groupName": "default"}]}],
                groupName="web",
            )
        )
        default = self.result(self.api.ensureDefault(CTX))
        values = {name: fn(group) for name, fn in SECURITY_GROUP_FILTERS.items()}
        self.assertEqual(
            values,
            {
                "group-name": "web",
                "group-id": group.ec2Id,
                "description": "web servers",
                "owner-id": "proj1",
                "ip-permission.protocol": ["tcp", "icmp"],
                "ip-permission.from-port": [80, -1],
                "ip-permission.to-port": [81, -1],
                "ip-permission.cidr": ["0.0.0.0/0"],
                "ip-permission.group-name": ["default"],
                "ip-permission.group-id": [default.ec2Id],
                "ip-permission.user-id": ["proj1"],
            },
        )

    def test_needsProject(self):
        for d in (
            self.api.ensureDefault(context(None)),
            self.api.describe(context(None)),
            self.api.create(context(None), "a", "b"),
            self.api.addInstance(context(None), 1),
        ):
            self.failure(d, errors.InvalidParameterValue)

    def test_groupNamed(self):
        web = self.result(self.api.create(CTX, "web", "web servers"))
        self.assertEqual(self.result(self.api.groupNamed(CTX, "web")), web)
        self.failure(self.api.groupNamed(CTX, "nope"), errors.SecurityGroupNotFound)
        self.failure(self.api.groupNamed(context(None), "web"), errors.InvalidParameterValue)

    def test_groupNamedAnotherProject(self):
        """
        Another project's group of that name is not found.
        """
        self.result(self.api.create(CTX, "web", "web servers"))
        self.failure(self.api.groupNamed(OTHER, "web"), errors.SecurityGroupNotFound)

    def test_groupsByIds(self):
        web = self.result(self.api.create(CTX, "web", "web servers"))
        default = self.result(self.api.ensureDefault(CTX))
        self.assertEqual(
            self.result(self.api.groupsByIds(CTX, [web.ec2Id, default.ec2Id])), [web, default]
        )
        self.assertEqual(self.result(self.api.groupsByIds(CTX, [])), [])
        for bad in ("sg-7fffffff", "sg-nothex", web.ec2Id.upper(), "nope", None):
            failure = self.failure(
                self.api.groupsByIds(CTX, [web.ec2Id, bad]), errors.SecurityGroupNotFound
            )
            self.assertEqual(failure.value.args[0], f"The security group '{bad}' does not exist")

    def test_groupsByIdsAnotherProject(self):
        """
        Another project's group is not found by id, for superusers too.
        """
        web = self.result(self.api.create(CTX, "web", "web servers"))
        for other in (OTHER, context("proj2", "root", isAdmin=True)):
            self.failure(self.api.groupsByIds(other, [web.ec2Id]), errors.SecurityGroupNotFound)

    def test_visibleGroups(self):
        """
        A project's groups; every project's for superusers; no C{default}
        group is made.
        """
        self.assertEqual(self.result(self.api.visibleGroups(CTX)), [])
        web = self.result(self.api.create(CTX, "web", "web servers"))
        theirs = self.result(self.api.create(OTHER, "db", "databases"))
        self.assertEqual(
            sorted(g.name for g in self.result(self.api.visibleGroups(CTX))), ["default", "web"]
        )
        self.assertNotIn(web.id, [g.id for g in self.result(self.api.visibleGroups(OTHER))])
        admin = self.result(self.api.visibleGroups(context("ops", "root", isAdmin=True)))
        self.assertTrue({web.id, theirs.id} <= {g.id for g in admin})
