"""
Tests for L{nova.compute.firewall}: the iptables chains built from
security groups (CIDR and source-group rules, ports, ICMP types), what is
read from the database, and how the compute manager applies, refreshes and
removes filters.
"""

import attr
from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from nova.compute import states
from nova.compute.firewall import (
    FilterRule,
    IFirewallDriver,
    InstanceFilter,
    IptablesFirewallDriver,
    NoopFirewallDriver,
    buildInstanceFilter,
    buildInstanceFilters,
    groupChain,
    ruleArguments,
)
from nova.compute.flags import FIREWALL_DRIVERS
from nova.compute.manager import ComputeManager
from nova.compute.network import FakeNetworkClient
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.security_groups import RuleSpec
from nova.drivers import loadDriver
from nova.network.interfaces import NetworkDriverError
from nova.network.security_groups import SecurityGroupAPI
from nova.rpc.local import LocalRPC
from nova.virt.fake import FakeVirtDriver
from nova.virt.interfaces import InstanceSpec
from tests.compute.util import ALICE, START, makeDatabase
from tests.network.fakehost import FakeHost

BASE = [
    "-m conntrack --ctstate INVALID -j DROP",
    "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
]


class RuleArgumentTests(SynchronousTestCase):
    def test_ports(self):
        self.assertEqual(
            ruleArguments(FilterRule("tcp", 22, 22, "0.0.0.0/0")),
            ("-s", "0.0.0.0/0", "-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "ACCEPT"),
        )
        self.assertEqual(
            ruleArguments(FilterRule("udp", 1000, 2000, "10.1.0.0/16")),
            ("-s", "10.1.0.0/16", "-p", "udp", "-m", "udp", "--dport", "1000:2000", "-j", "ACCEPT"),
        )

    def test_icmp(self):
        self.assertEqual(
            ruleArguments(FilterRule("icmp", -1, -1, "0.0.0.0/0")),
            ("-s", "0.0.0.0/0", "-p", "icmp", "-j", "ACCEPT"),
        )
        self.assertEqual(
            ruleArguments(FilterRule("icmp", 8, -1, "0.0.0.0/0")),
            ("-s", "0.0.0.0/0", "-p", "icmp", "-m", "icmp", "--icmp-type", "8", "-j", "ACCEPT"),
        )
        self.assertEqual(
            ruleArguments(FilterRule("icmp", 3, 4, "0.0.0.0/0")),
            ("-s", "0.0.0.0/0", "-p", "icmp", "-m", "icmp", "--icmp-type", "3/4", "-j", "ACCEPT"),
        )

    def test_anyProtocol(self):
        self.assertEqual(
            ruleArguments(FilterRule("-1", None, None, "10.0.0.7/32")),
            ("-s", "10.0.0.7/32", "-j", "ACCEPT"),
        )
        self.assertRaises(ValueError, ruleArguments, FilterRule("sctp", 1, 1, "0.0.0.0/0"))

    def test_sourceGroup(self):
        """
        A rule whose source is a group matches protocol and ports only, and
        jumps to the group's chain, named after the group's EC2 id.
        """
        self.assertEqual(groupChain(42), "sg-0000002a")
        self.assertEqual(
            ruleArguments(FilterRule("tcp", 5432, 5432, None, 42)),
            ("-p", "tcp", "-m", "tcp", "--dport", "5432", "-j", "$sg-0000002a"),
        )
        self.assertEqual(
            ruleArguments(FilterRule("icmp", 8, 0, None, 42)),
            ("-p", "icmp", "-m", "icmp", "--icmp-type", "8/0", "-j", "$sg-0000002a"),
        )
        self.assertEqual(ruleArguments(FilterRule("-1", None, None, None, 1)), ("-j", "$sg-00000001"))
        for bad in ("1 -j ACCEPT", -1, True, 1.5, None):
            self.assertRaises((TypeError, ValueError), groupChain, bad)
        self.assertRaises(ValueError, ruleArguments, FilterRule("tcp", 1, 1, "0.0.0.0/0", 42))


class IptablesDriverTests(SynchronousTestCase):
    def setUp(self):
        self.host = FakeHost(self.mktemp())
        self.driver = IptablesFirewallDriver(self.host.runner)
        self.successResultOf(self.driver.initHost())

    def chain(self, name):
        return self.host.iptables.rules("filter", f"nova-compute-{name}")

    def test_interfaces(self):
        verifyObject(IFirewallDriver, self.driver)
        verifyObject(IFirewallDriver, NoopFirewallDriver())
        config = configFromFlags(firewall_driver="iptables", network_namespace="nt-x-srv")
        driver = loadDriver(IFirewallDriver, FIREWALL_DRIVERS, "iptables", config, reactor=task.Clock())
        self.assertEqual(driver.iptables.runner.namespace, "nt-x-srv")
        self.assertEqual(driver.iptables.wrap, "nova-compute")

    def test_initHost(self):
        self.assertEqual(self.chain("sg-fallback"), ["-j DROP"])
        self.assertEqual(
            self.host.iptables.rules("filter", "nova-filter-top"), ["-j nova-compute-local"]
        )

    def test_chainForRules(self):
        instanceFilter = InstanceFilter(
            instanceId=42,
            address="10.0.0.5",
            dhcpServer="10.0.0.1",
            networkCidr="10.0.0.0/25",
            rules=[
                FilterRule("tcp", 22, 22, "0.0.0.0/0"),
                FilterRule("tcp", 8000, 8080, "10.0.0.7/32"),
                FilterRule("icmp", 8, -1, "192.0.2.0/24"),
                FilterRule("-1", None, None, "10.0.0.9/32"),
            ],
        )
        self.successResultOf(self.driver.applyInstanceFilter(instanceFilter))
        self.assertEqual(
            self.chain("inst-42"),
            BASE
            + [
                "-s 10.0.0.1/32 -p udp -m udp --sport 67 --dport 68 -j ACCEPT",
                "-s 0.0.0.0/0 -p tcp -m tcp --dport 22 -j ACCEPT",
                "-s 10.0.0.7/32 -p tcp -m tcp --dport 8000:8080 -j ACCEPT",
                "-s 192.0.2.0/24 -p icmp -m icmp --icmp-type 8 -j ACCEPT",
                "-s 10.0.0.9/32 -j ACCEPT",
                "-j nova-compute-sg-fallback",
            ],
        )
        self.assertEqual(self.chain("local"), ["-d 10.0.0.5/32 -j nova-compute-inst-42"])

    def test_defaultDenies(self):
        """
        An instance with no rules (the default group as made) admits only
        answers and DHCP.
        """
        self.successResultOf(
            self.driver.applyInstanceFilter(InstanceFilter(7, "10.0.0.5", "10.0.0.1"))
        )
        self.assertEqual(
            self.chain("inst-7"),
            BASE
            + [
                "-s 10.0.0.1/32 -p udp -m udp --sport 67 --dport 68 -j ACCEPT",
                "-j nova-compute-sg-fallback",
            ],
        )
        self.successResultOf(self.driver.applyInstanceFilter(InstanceFilter(8, "10.0.0.6")))
        self.assertEqual(self.chain("inst-8"), BASE + ["-j nova-compute-sg-fallback"])

    def test_projectNetTraffic(self):
        driver = IptablesFirewallDriver(self.host.runner, allowProjectNetTraffic=True)
        self.successResultOf(
            driver.applyInstanceFilter(InstanceFilter(7, "10.0.0.5", None, "10.0.0.0/25"))
        )
        self.assertIn("-s 10.0.0.0/25 -j ACCEPT", self.chain("inst-7"))

    def test_replaceAndRemove(self):
        self.successResultOf(
            self.driver.applyInstanceFilter(
                InstanceFilter(7, "10.0.0.5", rules=[FilterRule("tcp", 80, 80, "0.0.0.0/0")])
            )
        )
        self.successResultOf(self.driver.applyInstanceFilter(InstanceFilter(9, "10.0.0.9")))
        self.successResultOf(
            self.driver.applyInstanceFilter(
                InstanceFilter(7, "10.0.0.6", rules=[FilterRule("tcp", 443, 443, "0.0.0.0/0")])
            )
        )
        self.assertEqual(
            self.chain("inst-7"),
            BASE + ["-s 0.0.0.0/0 -p tcp -m tcp --dport 443 -j ACCEPT", "-j nova-compute-sg-fallback"],
        )
        self.assertEqual(
            self.chain("local"),
            ["-d 10.0.0.9/32 -j nova-compute-inst-9", "-d 10.0.0.6/32 -j nova-compute-inst-7"],
        )
        self.successResultOf(self.driver.removeInstanceFilter(7))
        self.assertNotIn("nova-compute-inst-7", self.host.iptables.chains("filter"))
        self.assertEqual(self.chain("local"), ["-d 10.0.0.9/32 -j nova-compute-inst-9"])
        self.host.clear()
        self.successResultOf(self.driver.removeInstanceFilter(7))
        self.assertEqual(self.host.commands(), [])

    def test_restartKeepsOnlyWhatIsApplied(self):
        self.successResultOf(self.driver.applyInstanceFilter(InstanceFilter(7, "10.0.0.5")))
        self.successResultOf(self.driver.applyInstanceFilter(InstanceFilter(8, "10.0.0.6")))
        restarted = IptablesFirewallDriver(self.host.runner)
        self.successResultOf(restarted.initHost())
        self.successResultOf(restarted.applyInstanceFilter(InstanceFilter(8, "10.0.0.6")))
        chains = self.host.iptables.chains("filter")
        self.assertNotIn("nova-compute-inst-7", chains)
        self.assertIn("nova-compute-inst-8", chains)
        self.assertEqual(self.chain("local"), ["-d 10.0.0.6/32 -j nova-compute-inst-8"])

    def test_badAddress(self):
        self.host.clear()
        for bad in (
            InstanceFilter(7, "10.0.0.5 -j ACCEPT"),
            InstanceFilter("7 -j ACCEPT", "10.0.0.5"),
            InstanceFilter(7, "10.0.0.5", rules=[FilterRule("tcp", 1, 2, "10.0.0.0/8\n-A x")]),
        ):
            self.failureResultOf(self.driver.applyInstanceFilter(bad), NetworkDriverError)
        self.assertEqual(self.host.commands(), [])
        self.assertNotIn("inst-7", self.driver.iptables.filter.chains)

    def restoreInputs(self):
        """
        @return: the input of each C{iptables-restore} run since the last
            C{clear}, as text.
        """
        return [
            stdin.decode()
            for argv, stdin in zip(self.host.commands(), self.host.runner.stdins)
            if argv[0] == "iptables-restore"
        ]

    def groupFilter(self, instanceId, address, members, groupId=5):
        return InstanceFilter(
            instanceId,
            address,
            rules=[
                FilterRule("tcp", 5432, 5432, None, groupId),
                FilterRule("icmp", -1, -1, None, groupId),
                FilterRule("tcp", 22, 22, "192.0.2.0/24"),
            ],
            sourceGroups={groupId: members},
        )

    def test_sourceGroupChain(self):
        """
        A source group has one chain, accepting each member's address;
        the instance's chain matches protocol and ports and jumps to it,
        and traffic from others returns to the instance's next rules.
        """
        self.successResultOf(
            self.driver.applyInstanceFilter(self.groupFilter(7, "10.0.0.7", ["10.0.0.3", "10.0.0.4"]))
        )
        self.assertEqual(
            self.chain("inst-7"),
            BASE
            + [
                "-p tcp -m tcp --dport 5432 -j nova-compute-sg-00000005",
                "-p icmp -j nova-compute-sg-00000005",
                "-s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT",
                "-j nova-compute-sg-fallback",
            ],
        )
        self.assertEqual(self.chain("sg-00000005"), ["-s 10.0.0.3/32 -j ACCEPT", "-s 10.0.0.4/32 -j ACCEPT"])
        # A second instance naming the group shares the chain.
        self.successResultOf(
            self.driver.applyInstanceFilter(self.groupFilter(8, "10.0.0.8", ["10.0.0.3", "10.0.0.4"]))
        )
        self.assertEqual(
            [c for c in self.host.iptables.chains("filter") if c.startswith("nova-compute-sg-0")],
            ["nova-compute-sg-00000005"],
        )
        # A group without live members: an empty chain, nothing accepted.
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(9, "10.0.0.9", [], groupId=6)))
        self.assertEqual(self.chain("sg-00000006"), [])
        self.assertIn("-p tcp -m tcp --dport 5432 -j nova-compute-sg-00000006", self.chain("inst-9"))

    def test_olderMembersDoNotOverwriteNewer(self):
        """
        A filter whose members were read before those the group's chain
        holds (a spawn's, built before a refresh but applied after it)
        writes its instance's chain but leaves the group's chain alone.
        """
        newer = attr.evolve(
            self.groupFilter(7, "10.0.0.7", ["10.0.0.3", "10.0.0.4"]), membersReadAt=20.0
        )
        older = attr.evolve(self.groupFilter(8, "10.0.0.8", ["10.0.0.3"]), membersReadAt=10.0)
        self.successResultOf(self.driver.applyInstanceFilter(newer))
        self.successResultOf(self.driver.applyInstanceFilter(older))
        self.assertEqual(self.chain("sg-00000005"), ["-s 10.0.0.3/32 -j ACCEPT", "-s 10.0.0.4/32 -j ACCEPT"])
        self.assertIn("-p tcp -m tcp --dport 5432 -j nova-compute-sg-00000005", self.chain("inst-8"))
        # Members read later are written.
        latest = attr.evolve(self.groupFilter(8, "10.0.0.8", ["10.0.0.4"]), membersReadAt=30.0)
        self.successResultOf(self.driver.applyInstanceFilter(latest))
        self.assertEqual(self.chain("sg-00000005"), ["-s 10.0.0.4/32 -j ACCEPT"])

    def test_membershipChangeWritesOnlyTheGroupChain(self):
        """
        When a group's members change, refreshing the filters of every
        instance that names it writes the group's chain once and no
        instance chain.
        """
        members = ["10.0.0.3", "10.0.0.4"]
        for instanceId in range(10, 30):
            self.successResultOf(
                self.driver.applyInstanceFilter(self.groupFilter(instanceId, f"10.0.1.{instanceId}", members))
            )
        before = {
            chain: self.host.iptables.rules("filter", chain)
            for chain in self.host.iptables.chains("filter")
            if chain.startswith("nova-compute-inst-")
        }
        self.host.clear()
        grown = members + ["10.0.0.5"]
        results = [
            self.driver.applyInstanceFilter(self.groupFilter(instanceId, f"10.0.1.{instanceId}", grown))
            for instanceId in range(10, 30)
        ]
        for d in results:
            self.successResultOf(d)
        self.assertEqual(
            self.restoreInputs(),
            [
                "*filter\n"
                ":nova-compute-sg-00000005 - [0:0]\n"
                "-A nova-compute-sg-00000005 -s 10.0.0.3/32 -j ACCEPT\n"
                "-A nova-compute-sg-00000005 -s 10.0.0.4/32 -j ACCEPT\n"
                "-A nova-compute-sg-00000005 -s 10.0.0.5/32 -j ACCEPT\n"
                "COMMIT\n"
            ],
        )
        self.assertEqual(
            self.chain("sg-00000005"),
            ["-s 10.0.0.3/32 -j ACCEPT", "-s 10.0.0.4/32 -j ACCEPT", "-s 10.0.0.5/32 -j ACCEPT"],
        )
        for chain, rules in before.items():
            self.assertEqual(self.host.iptables.rules("filter", chain), rules)
        # The same members again: nothing is written.
        self.host.clear()
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(10, "10.0.1.10", grown)))
        self.assertEqual(self.restoreInputs(), [])

    def test_ruleChangeWritesOnlyTheInstanceChain(self):
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(7, "10.0.0.7", ["10.0.0.3"])))
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(8, "10.0.0.8", ["10.0.0.3"])))
        self.host.clear()
        changed = self.groupFilter(7, "10.0.0.7", ["10.0.0.3"])
        changed = InstanceFilter(
            7, "10.0.0.7", rules=changed.rules[:1], sourceGroups=changed.sourceGroups
        )
        self.successResultOf(self.driver.applyInstanceFilter(changed))
        [restore] = self.restoreInputs()
        self.assertEqual(
            restore.splitlines(),
            [
                "*filter",
                ":nova-compute-inst-7 - [0:0]",
                "-A nova-compute-inst-7 -m conntrack --ctstate INVALID -j DROP",
                "-A nova-compute-inst-7 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A nova-compute-inst-7 -p tcp -m tcp --dport 5432 -j nova-compute-sg-00000005",
                "-A nova-compute-inst-7 -j nova-compute-sg-fallback",
                "COMMIT",
            ],
        )

    def test_groupChainRemovedWhenUnused(self):
        """
        A group's chain stays while an instance of the host names the
        group, and goes with the last one (its rules changed, or it was
        removed).
        """
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(7, "10.0.0.7", ["10.0.0.3"])))
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(8, "10.0.0.8", ["10.0.0.3"])))
        self.successResultOf(
            self.driver.applyInstanceFilter(self.groupFilter(9, "10.0.0.9", ["10.0.0.4"], groupId=6))
        )
        # 7 stops naming group 5; 8 still does.
        self.successResultOf(self.driver.applyInstanceFilter(InstanceFilter(7, "10.0.0.7")))
        self.assertIn("nova-compute-sg-00000005", self.host.iptables.chains("filter"))
        self.successResultOf(self.driver.removeInstanceFilter(8))
        chains = self.host.iptables.chains("filter")
        self.assertNotIn("nova-compute-sg-00000005", chains)
        self.assertNotIn("nova-compute-inst-8", chains)
        self.assertIn("nova-compute-sg-00000006", chains)
        # 9 moves from group 6 to group 5: 6 goes, 5 comes back.
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(9, "10.0.0.9", ["10.0.0.3"])))
        chains = self.host.iptables.chains("filter")
        self.assertNotIn("nova-compute-sg-00000006", chains)
        self.assertEqual(self.chain("sg-00000005"), ["-s 10.0.0.3/32 -j ACCEPT"])
        self.assertEqual(self.driver.groupUsers, {"sg-00000005": {9}})
        self.successResultOf(self.driver.removeInstanceFilter(9))
        self.assertEqual(
            sorted(c for c in self.host.iptables.chains("filter") if c.startswith("nova-compute-")),
            ["nova-compute-FORWARD", "nova-compute-INPUT", "nova-compute-OUTPUT",
             "nova-compute-inst-7", "nova-compute-local", "nova-compute-sg-fallback"],
        )
        self.assertEqual(self.driver.groupUsers, {})

    def test_restartRemovesGroupChains(self):
        self.successResultOf(self.driver.applyInstanceFilter(self.groupFilter(7, "10.0.0.7", ["10.0.0.3"])))
        self.successResultOf(
            self.driver.applyInstanceFilter(self.groupFilter(8, "10.0.0.8", ["10.0.0.4"], groupId=6))
        )
        restarted = IptablesFirewallDriver(self.host.runner)
        self.successResultOf(restarted.initHost())
        self.successResultOf(restarted.applyInstanceFilter(self.groupFilter(8, "10.0.0.8", ["10.0.0.4"], groupId=6)))
        chains = self.host.iptables.chains("filter")
        self.assertNotIn("nova-compute-sg-00000005", chains)
        self.assertNotIn("nova-compute-inst-7", chains)
        self.assertEqual(self.chain("sg-00000006"), ["-s 10.0.0.4/32 -j ACCEPT"])

    def test_badSourceGroup(self):
        """
        A filter naming a group without its members, or with a bad member
        address, is refused before anything changes.
        """
        self.host.clear()
        for bad in (
            InstanceFilter(7, "10.0.0.5", rules=[FilterRule("tcp", 1, 2, None, 5)]),
            self.groupFilter(7, "10.0.0.5", ["10.0.0.3 -j ACCEPT"]),
            self.groupFilter(7, "10.0.0.5", ["10.0.0.3"], groupId=2**60),
        ):
            self.failureResultOf(self.driver.applyInstanceFilter(bad), NetworkDriverError)
        self.assertEqual(self.host.commands(), [])
        self.assertEqual(
            [c for c in self.driver.iptables.filter.chains if c.startswith(("inst-", "sg-0"))], []
        )


class DatabaseMixin:
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.config = configFromFlags(host="h1", network_manager="flatdhcp")
        self.db = makeDatabase(self, self.clock)
        self.rpc = LocalRPC(self.clock)
        self.groups = self.successResultOf(self.db.securityGroups.ensureDefault("wonderland", "alice"))

    def instance(self, fixed, host="h1", **fields):
        values = dict(
            reservation_id="r-00000001",
            project_id="wonderland",
            user_id="alice",
            instance_type="m1.tiny",
            vcpus=1,
            memory_mb=512,
            local_gb=0,
            host=host,
            mac_address="02:16:3e:00:00:01",
            fixed_ip=fixed,
            state=states.RUNNING,
        )
        values.update(fields)
        return self.successResultOf(self.db.instances.create(**values))

    def group(self, name):
        return self.successResultOf(self.db.securityGroups.create("wonderland", "alice", name, name))

    def join(self, group, instance):
        self.successResultOf(self.db.securityGroups.addInstance(group.id, instance.id))

    def rules(self, group, *specs):
        return self.successResultOf(self.db.securityGroups.addRules(group.id, list(specs)))


class BuildFilterTests(DatabaseMixin, SynchronousTestCase):
    def test_defaultGroupAdmitsNothing(self):
        web = self.instance("10.0.0.5")
        self.join(self.groups, web)
        built = self.successResultOf(buildInstanceFilter(self.db, self.config, web))
        self.assertEqual(built, InstanceFilter(web.id, "10.0.0.5", None, None, ()))

    def test_cidrAndSourceGroups(self):
        web = self.group("web")
        db = self.group("db")
        self.rules(web, RuleSpec("tcp", 80, 80, cidr="0.0.0.0/0"))
        self.rules(db, RuleSpec("tcp", 5432, 5432, groupId=web.id), RuleSpec("icmp", -1, -1, cidr="10.0.0.0/8"))
        front1 = self.instance("10.0.0.5")
        front2 = self.instance("10.0.0.6")
        back = self.instance("10.0.0.9")
        gone = self.instance("10.0.0.77", state=states.TERMINATED)
        for instance in (front1, front2, gone):
            self.join(web, instance)
        self.join(db, back)
        built = self.successResultOf(
            buildInstanceFilter(
                self.db, self.config, back, {"address": "10.0.0.9", "dhcpServer": "10.0.0.1", "cidr": "10.0.0.0/24"}
            )
        )
        self.assertEqual(
            built,
            InstanceFilter(
                back.id,
                "10.0.0.9",
                "10.0.0.1",
                "10.0.0.0/24",
                (
                    FilterRule("tcp", 5432, 5432, None, web.id),
                    FilterRule("icmp", -1, -1, "10.0.0.0/8"),
                ),
                {web.id: ("10.0.0.5", "10.0.0.6")},
            ),
        )

    def test_selfReferencingDefault(self):
        """
        A default group that names itself as source lets its members reach
        each other.
        """
        self.rules(self.groups, RuleSpec("-1", None, None, groupId=self.groups.id))
        a, b = self.instance("10.0.0.5"), self.instance("10.0.0.6")
        self.join(self.groups, a)
        self.join(self.groups, b)
        built = self.successResultOf(buildInstanceFilter(self.db, self.config, a))
        self.assertEqual(built.rules, (FilterRule("-1", None, None, None, self.groups.id),))
        self.assertEqual(built.sourceGroups, ((self.groups.id, ("10.0.0.5", "10.0.0.6")),))

    def test_membersReadOnceAndShared(self):
        """
        The filters of many instances naming one source group read its
        members once, and share them.
        """
        web = self.group("web")
        db = self.group("db")
        self.rules(db, RuleSpec("tcp", 5432, 5432, groupId=web.id))
        for n in range(3, 9):
            self.join(web, self.instance(f"10.0.0.{n}"))
        backs = [self.instance(f"10.0.1.{n}") for n in range(2, 12)]
        for back in backs:
            self.join(db, back)
        reads = []
        original = self.db.securityGroups.memberAddresses

        def memberAddresses(groupIds):
            reads.append(list(groupIds))
            return original(groupIds)

        self.db.securityGroups.memberAddresses = memberAddresses
        filters = self.successResultOf(buildInstanceFilters(self.db, self.config, backs))
        self.assertEqual(reads, [[web.id]])
        self.assertEqual(len(filters), 10)
        members = {f.sourceGroups[0][1] for f in filters}
        self.assertEqual(members, {tuple(f"10.0.0.{n}" for n in range(3, 9))})
        self.assertEqual(len({id(f.sourceGroups[0][1]) for f in filters}), 1)

    def test_noAddress(self):
        self.assertIsNone(
            self.successResultOf(buildInstanceFilter(self.db, self.config, self.instance(None)))
        )

    def test_dhcpServerFromDatabase(self):
        """
        Without a network description, the instance's network comes from
        the database: its gateway serves DHCP in the DHCP modes.
        """
        from nova.network.manager import FlatDHCPManager

        plans = FlatDHCPManager.planNetworks(self.config, "10.0.0.0/24", 1, 128)
        [network] = self.successResultOf(self.db.networks.createNetworks(plans))
        web = self.instance(None)
        fixed = self.successResultOf(
            self.db.networks.allocateFixedIp(network.id, web.id, lambda: "02:16:3e:00:00:01")
        )
        self.successResultOf(self.db.instances.update(web.id, fixed_ip=fixed.address))
        web = self.successResultOf(self.db.instances.get(web.id))
        built = self.successResultOf(buildInstanceFilter(self.db, self.config, web))
        self.assertEqual((built.address, built.dhcpServer, built.networkCidr), (fixed.address, "10.0.0.1", "10.0.0.0/25"))
        flat = self.config.replace(network_manager="flat")
        self.assertIsNone(self.successResultOf(buildInstanceFilter(self.db, flat, web)).dhcpServer)


class ManagerFirewallTests(DatabaseMixin, SynchronousTestCase):
    def setUp(self):
        DatabaseMixin.setUp(self)
        self.virt = FakeVirtDriver()
        self.network = FakeNetworkClient()
        self.firewall = NoopFirewallDriver()
        self.manager = ComputeManager(
            self.config, self.db, self.rpc, self.clock, self.virt, self.network, self.firewall
        )
        self.web = self.group("web")
        self.rules(self.web, RuleSpec("tcp", 80, 80, cidr="0.0.0.0/0"))

    def pending(self):
        instance = self.instance(None, state=states.PENDING)
        self.join(self.web, instance)
        return instance

    def test_defaultDriver(self):
        manager = ComputeManager(self.config, self.db, self.rpc, self.clock, self.virt, self.network)
        self.assertIsInstance(manager.firewall, NoopFirewallDriver)

    def test_appliedBeforeSpawn(self):
        instance = self.pending()
        spawned = []
        original = self.virt.spawn

        def spawn(spec, networkInfo=None, blockDevices=()):
            spawned.append(dict(self.firewall.filters))
            return original(spec, networkInfo, blockDevices)

        self.virt.spawn = spawn
        self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        expected = InstanceFilter(
            instance.id, "10.0.0.2", None, "10.0.0.0/24", (FilterRule("tcp", 80, 80, "0.0.0.0/0"),)
        )
        self.assertEqual(spawned, [{instance.id: expected}])
        self.assertEqual(self.firewall.filters, {instance.id: expected})

    def test_filterFailureFailsTheInstance(self):
        instance = self.pending()
        self.firewall.failNext = NetworkDriverError("iptables-restore: line 4 failed")
        self.failureResultOf(self.manager.runInstance(ALICE, instance.id), NetworkDriverError)
        failed = self.successResultOf(self.db.instances.get(instance.id))
        self.assertEqual(failed.state, states.ERROR)
        self.assertIn("line 4 failed", failed.state_description)
        self.assertEqual(self.virt.guests, {})
        self.assertEqual(self.network.allocated, {})

    def test_removedOnTerminate(self):
        instance = self.pending()
        self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        self.assertEqual(self.firewall.filters, {})
        self.assertEqual(self.firewall.calls[-1], ("removeInstanceFilter", instance.id))

    def test_refreshSecurityGroup(self):
        here = self.instance("10.0.0.5")
        elsewhere = self.instance("10.0.0.6", host="h2")
        dead = self.instance("10.0.0.7", state=states.TERMINATED)
        for instance in (here, elsewhere, dead):
            self.join(self.web, instance)
        self.rules(self.web, RuleSpec("udp", 53, 53, cidr="10.0.0.0/8"))
        count = self.successResultOf(
            self.manager.refreshSecurityGroup(ALICE, securityGroupId=self.web.id)
        )
        self.assertEqual(count, 1)
        self.assertEqual(list(self.firewall.filters), [here.id])
        self.assertEqual(
            self.firewall.filters[here.id].rules,
            (FilterRule("tcp", 80, 80, "0.0.0.0/0"), FilterRule("udp", 53, 53, "10.0.0.0/8")),
        )

    def test_refreshOverFanout(self):
        """
        The network API's fanout after AuthorizeSecurityGroupIngress
        reaches the compute service, which rebuilds the filter.
        """
        from nova.manager import ManagerDispatcher

        here = self.instance("10.0.0.5")
        self.join(self.web, here)
        self.successResultOf(self.rpc.serve("compute", "h1", ManagerDispatcher(self.manager)))
        api = SecurityGroupAPI(self.db, self.rpc)
        context = RequestContext(userId="alice", projectId="wonderland")
        self.successResultOf(
            api.authorizeIngress(
                context,
                [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrs": ["192.0.2.0/24"]}],
                groupName="web",
            )
        )
        self.clock.advance(0)
        self.assertEqual(
            self.firewall.filters[here.id].rules,
            (FilterRule("tcp", 80, 80, "0.0.0.0/0"), FilterRule("tcp", 22, 22, "192.0.2.0/24")),
        )

    def test_initHostAppliesAgain(self):
        here = self.instance("10.0.0.5")
        self.join(self.web, here)
        # The guest survived nova-compute's restart.
        self.successResultOf(self.virt.spawn(InstanceSpec(name=self.manager.instanceName(here))))
        self.successResultOf(self.manager.initHost())
        self.assertTrue(self.firewall.initialised)
        self.assertEqual(list(self.firewall.filters), [here.id])


class ManagerIptablesTests(DatabaseMixin, SynchronousTestCase):
    """
    The compute manager with the iptables driver on a pretend host: what a
    security group change writes to the kernel.
    """

    def setUp(self):
        DatabaseMixin.setUp(self)
        self.host = FakeHost(self.mktemp())
        self.firewall = IptablesFirewallDriver(self.host.runner)
        self.manager = ComputeManager(
            self.config, self.db, self.rpc, self.clock, FakeVirtDriver(), FakeNetworkClient(), self.firewall
        )
        self.successResultOf(self.firewall.initHost())
        self.web = self.group("web")
        self.back = self.group("back")
        self.rules(self.back, RuleSpec("tcp", 5432, 5432, groupId=self.web.id))
        self.fronts = [self.instance(f"10.0.0.{n}", host="h2") for n in (3, 4)]
        for front in self.fronts:
            self.join(self.web, front)
        self.backs = [self.instance(f"10.0.1.{n}") for n in range(2, 12)]
        for back in self.backs:
            self.join(self.back, back)
        self.successResultOf(self.manager.refreshSecurityGroup(ALICE, securityGroupId=self.back.id))
        self.webChain = f"nova-compute-{groupChain(self.web.id)}"

    def restoreInputs(self):
        return [
            stdin.decode()
            for argv, stdin in zip(self.host.commands(), self.host.runner.stdins)
            if argv[0] == "iptables-restore"
        ]

    def test_membershipChange(self):
        """
        A new member of the source group (on another host) changes the
        group's chain only, written once for the host's ten instances.
        """
        self.assertEqual(self.host.iptables.rules("filter", self.webChain), [
            "-s 10.0.0.3/32 -j ACCEPT", "-s 10.0.0.4/32 -j ACCEPT",
        ])
        for back in self.backs:
            self.assertIn(
                f"-p tcp -m tcp --dport 5432 -j {self.webChain}",
                self.host.iptables.rules("filter", f"nova-compute-inst-{back.id}"),
            )
        self.host.clear()
        newcomer = self.instance("10.0.0.5", host="h2")
        self.join(self.web, newcomer)
        for groupId in (self.web.id, self.back.id):
            self.successResultOf(self.manager.refreshSecurityGroup(ALICE, securityGroupId=groupId))
        self.assertEqual(
            self.restoreInputs(),
            [
                f"*filter\n:{self.webChain} - [0:0]\n"
                f"-A {self.webChain} -s 10.0.0.3/32 -j ACCEPT\n"
                f"-A {self.webChain} -s 10.0.0.4/32 -j ACCEPT\n"
                f"-A {self.webChain} -s 10.0.0.5/32 -j ACCEPT\n"
                "COMMIT\n"
            ],
        )

    def test_ruleRevokedRemovesGroupChain(self):
        """
        Once no rule of the host's instances names the group, its chain
        goes.
        """
        self.assertIn(self.webChain, self.host.iptables.chains("filter"))
        self.successResultOf(
            self.db.securityGroups.removeRules(self.back.id, [RuleSpec("tcp", 5432, 5432, groupId=self.web.id)])
        )
        self.successResultOf(self.manager.refreshSecurityGroup(ALICE, securityGroupId=self.back.id))
        self.assertNotIn(self.webChain, self.host.iptables.chains("filter"))
        for back in self.backs:
            self.assertNotIn(
                self.webChain,
                " ".join(self.host.iptables.rules("filter", f"nova-compute-inst-{back.id}")),
            )
