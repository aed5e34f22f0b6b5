"""
Tests for L{nova.compute.firewall}: the iptables chains built from
security groups (CIDR and source-group rules, ports, ICMP types), what is
read from the database, and how the compute manager applies, refreshes and
removes filters.
"""

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
                    FilterRule("tcp", 5432, 5432, "10.0.0.5/32"),
                    FilterRule("tcp", 5432, 5432, "10.0.0.6/32"),
                    FilterRule("icmp", -1, -1, "10.0.0.0/8"),
                ),
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
        self.assertEqual(
            built.rules,
            (FilterRule("-1", None, None, "10.0.0.5/32"), FilterRule("-1", None, None, "10.0.0.6/32")),
        )

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
