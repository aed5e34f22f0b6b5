"""
Tests for L{nova.network.manager}: fixed addresses in each mode, over the
in-process bus, with the exact driver calls; leases through
nova-dhcpbridge's methods; reclaiming after the timeout; network hosts.
"""

import attr
from twisted.internet import defer, task
from twisted.trial.unittest import SynchronousTestCase

from nova import exception, quota
from nova.config import ConfigError, configFromFlags
from nova.context import adminContext
from nova.db.api import inlineDatabase
from nova.db.instances import InstanceNotFound
from nova.manager import exposedMethods
from nova.network import dhcpbridge, errors
from nova.network.common import addressingOf
from nova.network.fake import FakeNetworkDriver
from nova.network.manager import (
    FlatDHCPManager,
    FlatManager,
    NetworkManager,
    VlanManager,
    managerClass,
    networkManagerFromConfig,
    quotaFloatingLimit,
)
from tests.network.util import NetworkHarness, context

CTX = context()


class RegistryTests(SynchronousTestCase):
    def test_names(self):
        for name, cls in [
            ("flat", FlatManager),
            ("flatdhcp", FlatDHCPManager),
            ("vlan", VlanManager),
            ("nova.network.manager.FlatManager", FlatManager),
            ("nova.network.manager.FlatDHCPManager", FlatDHCPManager),
            ("nova.network.manager.VlanManager", VlanManager),
        ]:
            self.assertIs(managerClass(name), cls)

    def test_closed(self):
        self.assertRaises(ConfigError, managerClass, "nova.network.manager.NetworkManager")
        self.assertRaises(ConfigError, managerClass, "os.system")

    def test_factory(self):
        clock = task.Clock()
        config = configFromFlags(network_manager="vlan", network_driver="fake")
        manager = networkManagerFromConfig(config, inlineDatabase("sqlite:", clock), None, clock)
        self.assertIsInstance(manager, VlanManager)
        self.assertIsInstance(manager.driver, FakeNetworkDriver)

    def test_exposed(self):
        self.assertEqual(
            sorted(exposedMethods(FlatManager(configFromFlags(), inlineDatabase("sqlite:", task.Clock()), None, None))),
            [
                "allocateFixedIp",
                "allocateFloatingIp",
                "associateFloatingIp",
                "deallocateFixedIp",
                "disassociateFloatingIp",
                "leaseFixedIp",
                "ping",
                "releaseFixedIp",
                "releaseFloatingIp",
            ],
        )

    def test_dhcpbridgeMethodsExist(self):
        """
        The methods nova-dhcpbridge casts are exposed with its arguments.
        """
        exposed = exposedMethods(
            FlatDHCPManager(configFromFlags(), inlineDatabase("sqlite:", task.Clock()), None, None)
        )
        for action in ("add", "old", "del"):
            method, mac, ip, _ = dhcpbridge.parseArguments([action, "02:16:3e:00:00:01", "10.0.0.2"])
            self.assertIn(method, exposed)


class PlanTests(SynchronousTestCase):
    def setUp(self):
        self.config = configFromFlags(
            flat_network_bridge="br77",
            flat_interface="eth3",
            vlan_interface="eth4",
            flat_network_dns="9.9.9.9",
        )

    def test_flat(self):
        plans = FlatManager.planNetworks(self.config, "10.0.0.0/16", 2, 256)
        self.assertEqual(
            plans[1],
            {
                "cidr": "10.0.1.0/24",
                "netmask": "255.255.255.0",
                "gateway": "10.0.1.1",
                "broadcast": "10.0.1.255",
                "dhcp_start": "10.0.1.2",
                "dns": "9.9.9.9",
                "bridge": "br77",
                "bridge_interface": "eth3",
                "injected": False,
                "reserved": ["10.0.1.0", "10.0.1.1", "10.0.1.255"],
            },
        )

    def test_flatInjected(self):
        config = self.config.replace(flat_injected=True)
        self.assertTrue(FlatManager.planNetworks(config, "10.0.0.0/24", 1, 256)[0]["injected"])
        self.assertFalse(
            FlatDHCPManager.planNetworks(config, "10.0.0.0/24", 1, 256)[0]["injected"]
        )

    def test_vlan(self):
        plans = VlanManager.planNetworks(
            self.config.replace(cnt_vpn_clients=2), "10.0.0.0/16", 3, 64, 200, 2000
        )
        self.assertEqual(
            plans[2],
            {
                "cidr": "10.0.0.128/26",
                "netmask": "255.255.255.192",
                "gateway": "10.0.0.129",
                "broadcast": "10.0.0.191",
                "vpn_private_address": "10.0.0.130",
                "dhcp_start": "10.0.0.131",
                "dns": "10.0.0.129",
                "vlan": 202,
                "bridge": "br202",
                "bridge_interface": "eth4",
                "vpn_public_port": 2002,
                "injected": False,
                "reserved": [
                    "10.0.0.128",
                    "10.0.0.129",
                    "10.0.0.130",
                    "10.0.0.189",
                    "10.0.0.190",
                    "10.0.0.191",
                ],
            },
        )

    def test_vlanDefaultsFromFlags(self):
        config = self.config.replace(vlan_start=10, vpn_start=5000)
        plans = VlanManager.planNetworks(config, "10.0.0.0/24", 2, 128)
        self.assertEqual([(p["vlan"], p["vpn_public_port"]) for p in plans], [(10, 5000), (11, 5001)])

    def test_refused(self):
        for args in [
            ("10.0.0.0/24", 3, 128),
            ("10.0.0.0/24", 1, 100),
            ("10.0.0.0/24", 1, 2),
            ("10.0.0.0/24", 0, 4),
            ("10.0.0.1/24", 1, 4),
            ("nonsense", 1, 4),
            ("10.0.0.0/24", "x", 4),
        ]:
            self.assertRaises(
                errors.InvalidParameterValue, FlatManager.planNetworks, self.config, *args
            )
        self.assertRaises(
            errors.InvalidParameterValue,
            VlanManager.planNetworks,
            self.config,
            "10.0.0.0/16",
            2,
            64,
            4094,
        )
        self.assertRaises(
            errors.InvalidParameterValue,
            FlatDHCPManager.planNetworks,
            self.config,
            "10.0.0.0/16",
            2,
            64,
        )


class FlatTests(NetworkHarness, SynchronousTestCase):
    mode = "flat"

    def setUp(self):
        self.setUpHarness()
        [self.network] = self.createNetworks("10.0.0.0/25", 1, 128)
        self.manager = self.addHost("net1")
        self.driver = self.drivers["net1"]

    def test_initHost(self):
        self.assertEqual(
            self.driver.calls, [("initHost",), ("metadataForward", "192.0.2.10", 8773)]
        )

    def test_noMetadataForwardToPortZero(self):
        driver = FakeNetworkDriver()
        self.addHost("net2", driver=driver, ec2_port=0)
        self.assertEqual(driver.calls, [("initHost",)])

    def test_allocate(self):
        instance = self.createInstance(hostname="web1")
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
        self.assertEqual(info["address"], "10.0.0.2")
        self.assertRegex(info["mac"], r"^02:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}$")
        self.assertEqual(
            {k: v for k, v in info.items() if k not in ("mac",)},
            {
                "address": "10.0.0.2",
                "instanceId": instance.id,
                "network_id": self.network.id,
                "cidr": "10.0.0.0/25",
                "netmask": "255.255.255.128",
                "gateway": "10.0.0.1",
                "broadcast": "10.0.0.127",
                "bridge": "br100",
                "bridgeInterface": None,
                "vlan": None,
                "dns": ["8.8.4.4"],
                "dhcpServer": None,
                "dhcpStart": "10.0.0.2",
                "injected": False,
                "projectId": None,
                "host": "net1",
                "mode": "flat",
            },
        )
        self.assertEqual(self.driver.calls[2:], [("ensureBridge", "br100", None, None)])
        network = self.successResultOf(self.db.networks.get(self.network.id))
        self.assertEqual(network.host, "net1")
        fixed = self.successResultOf(self.db.networks.getFixedIp("10.0.0.2"))
        self.assertEqual(
            (fixed.instance_id, fixed.allocated, fixed.leased, fixed.mac_address),
            (instance.id, True, False, info["mac"]),
        )

    def test_addressesInOrderAndDistinct(self):
        addresses = [
            self.call(CTX, "network", "allocateFixedIp", instanceId=self.createInstance().id)["address"]
            for _ in range(5)
        ]
        self.assertEqual(addresses, [f"10.0.0.{n}" for n in range(2, 7)])
        # The bridge is set up once.
        self.assertEqual(len(self.driver.callsNamed("ensureBridge")), 1)

    def test_retryAnswersSameAddress(self):
        instance = self.createInstance()
        first = self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
        again = self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
        self.assertEqual(first, again)

    def test_instanceMacUsed(self):
        instance = self.createInstance(mac_address="02:16:3e:0a:0b:0c")
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
        self.assertEqual(info["mac"], "02:16:3e:0a:0b:0c")

    def test_fieldsSentAreUsed(self):
        """
        A request that carries the instance's fields (as a compute host
        sends it) is served from them: the instance is not read again.
        """
        instance = self.createInstance(mac_address="02:16:3e:0a:0b:0c")
        fields = addressingOf(attr.evolve(instance, mac_address="02:16:3e:0d:0e:0f"))
        info = self.call(
            CTX, "network", "allocateFixedIp", instanceId=instance.id, instance=fields
        )
        self.assertEqual((info["instanceId"], info["mac"]), (instance.id, "02:16:3e:0d:0e:0f"))
        again = self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
        self.assertEqual(again, info)

    def test_unknownInstance(self):
        self.callFails(CTX, "network", "allocateFixedIp", InstanceNotFound, instanceId=99)

    def test_deallocateFreesAtOnce(self):
        instance = self.createInstance()
        self.call(CTX, "network", "allocateFixedIp", instanceId=instance.id)
        freed = self.call(CTX, "network", "deallocateFixedIp", instanceId=instance.id)
        self.assertEqual(freed, ["10.0.0.2"])
        fixed = self.successResultOf(self.db.networks.getFixedIp("10.0.0.2"))
        self.assertEqual((fixed.instance_id, fixed.allocated, fixed.mac_address), (None, False, None))
        # Deallocating again finds nothing to do.
        self.assertEqual(self.call(CTX, "network", "deallocateFixedIp", instanceId=instance.id), [])
        other = self.createInstance()
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=other.id)
        self.assertEqual(info["address"], "10.0.0.2")

    def test_exhausted(self):
        # The /25 has 125 addresses for instances.
        for _ in range(125):
            self.call(CTX, "network", "allocateFixedIp", instanceId=self.createInstance().id)
        self.callFails(
            CTX,
            "network",
            "allocateFixedIp",
            errors.NoMoreAddresses,
            instanceId=self.createInstance().id,
        )

    def test_secondNetworkUsedWhenFirstIsFull(self):
        [second] = self.createNetworks("10.0.1.0/29", 1, 8)
        for _ in range(125):
            self.call(CTX, "network", "allocateFixedIp", instanceId=self.createInstance().id)
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=self.createInstance().id)
        self.assertEqual((info["address"], info["network_id"]), ("10.0.1.2", second.id))

    def test_vpnRefused(self):
        self.callFails(
            CTX,
            "network",
            "allocateFixedIp",
            errors.InvalidParameterValue,
            instanceId=self.createInstance().id,
            vpn=True,
        )

    def test_baseManagerHasNoNetworks(self):
        manager = NetworkManager(
            self.configFor("net9"), self.db, self.rpc, self.clock, driver=FakeNetworkDriver()
        )
        self.failureResultOf(
            manager.allocateFixedIp(CTX, self.createInstance().id), NotImplementedError
        )


class FlatDHCPTests(NetworkHarness, SynchronousTestCase):
    mode = "flatdhcp"

    def setUp(self):
        self.setUpHarness()
        [self.network] = self.createNetworks("10.0.0.0/25", 1, 128)
        self.manager = self.addHost("net1")
        self.driver = self.drivers["net1"]
        self.instance = self.createInstance(hostname="web1")
        self.info = self.call(CTX, "network", "allocateFixedIp", instanceId=self.instance.id)
        self.mac = self.info["mac"]

    def dhcpbridge(self, action, mac, ip):
        """
        Send what nova-dhcpbridge sends for dnsmasq's C{action}.
        """
        method, mac, ip, _ = dhcpbridge.parseArguments([action, mac, ip, "web1"])
        d = self.rpc.cast(adminContext(), "network.net1", method, {"address": ip, "mac": mac})
        self.successResultOf(d)
        for _ in range(5):
            self.clock.advance(0)

    def fixed(self, address="10.0.0.2"):
        return self.successResultOf(self.db.networks.getFixedIp(address))

    def test_allocateSetsUpBridgeAndDhcp(self):
        self.assertEqual(self.info["dhcpServer"], "10.0.0.1")
        self.assertEqual(self.info["mode"], "flatdhcp")
        self.assertEqual(
            self.driver.calls[2:],
            [
                ("ensureBridge", "br100", None, "10.0.0.1/25"),
                ("updateDhcp", "br100", ()),
                ("updateDhcp", "br100", ((self.mac, "web1", "10.0.0.2"),)),
            ],
        )
        self.assertEqual(self.driver.dhcp["br100"][1], ((self.mac, "web1", "10.0.0.2"),))

    def test_hostnameDefaultsToEc2Id(self):
        other = self.createInstance()
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=other.id)
        self.assertIn((info["mac"], other.ec2Id, "10.0.0.3"), self.driver.dhcp["br100"][1])

    def test_leaseAndRelease(self):
        self.dhcpbridge("add", self.mac, "10.0.0.2")
        self.assertTrue(self.fixed().leased)
        self.dhcpbridge("old", self.mac, "10.0.0.2")
        self.assertTrue(self.fixed().leased)
        # Released while the instance still has it: only unleased.
        self.dhcpbridge("del", self.mac, "10.0.0.2")
        fixed = self.fixed()
        self.assertEqual((fixed.leased, fixed.allocated, fixed.instance_id), (False, True, self.instance.id))

    def test_deallocateWaitsForRelease(self):
        self.dhcpbridge("add", self.mac, "10.0.0.2")
        self.assertEqual(
            self.call(CTX, "network", "deallocateFixedIp", instanceId=self.instance.id),
            ["10.0.0.2"],
        )
        fixed = self.fixed()
        self.assertEqual((fixed.allocated, fixed.leased, fixed.instance_id), (False, True, self.instance.id))
        # dnsmasq is asked to end the lease at once.
        self.assertEqual(self.driver.released, [("br100", "10.0.0.2", self.mac)])
        # Still served by dnsmasq until released.
        self.assertEqual(len(self.driver.dhcp["br100"][1]), 1)
        self.dhcpbridge("del", self.mac, "10.0.0.2")
        fixed = self.fixed()
        self.assertEqual((fixed.instance_id, fixed.mac_address, fixed.leased), (None, None, False))
        self.assertEqual(self.driver.calls[-1], ("updateDhcp", "br100", ()))

    def test_releaseFailureLeavesTheTimeout(self):
        """
        When the lease cannot be ended, deallocation still holds and the
        address waits for the periodic task.
        """
        self.driver.failNext = errors.NetworkDriverError("dhcp_release: not found")
        self.assertEqual(
            self.call(CTX, "network", "deallocateFixedIp", instanceId=self.instance.id),
            ["10.0.0.2"],
        )
        self.assertEqual(self.driver.released, [])
        self.assertFalse(self.fixed().allocated)
        self.assertEqual(len(self.flushLoggedErrors()), 0)
        self.clock.advance(601)
        self.assertEqual(self.successResultOf(self.manager.periodicTasks(adminContext())), 1)

    def test_leaseRefusals(self):
        self.failureResultOf(
            self.manager.leaseFixedIp(CTX, "10.0.0.2", "02:16:3e:7f:7f:7f"), errors.MacMismatch
        )
        self.failureResultOf(
            self.manager.leaseFixedIp(CTX, "10.0.0.9", self.mac), errors.FixedIpNotAssociated
        )
        self.failureResultOf(
            self.manager.leaseFixedIp(CTX, "10.9.9.9", self.mac), errors.FixedIpNotFound
        )
        self.failureResultOf(
            self.manager.releaseFixedIp(CTX, "10.0.0.2", "02:16:3e:7f:7f:7f"), errors.MacMismatch
        )
        self.assertFalse(self.fixed().leased)
        self.assertEqual(self.fixed().instance_id, self.instance.id)
        # A refused cast changes nothing and logs no error.
        self.dhcpbridge("add", "02:16:3e:7f:7f:7f", "10.0.0.2")
        self.assertFalse(self.fixed().leased)

    def test_reclaimAfterTimeout(self):
        self.call(CTX, "network", "deallocateFixedIp", instanceId=self.instance.id)
        self.clock.advance(599)
        self.assertEqual(self.successResultOf(self.manager.periodicTasks(adminContext())), 0)
        self.assertEqual(self.fixed().instance_id, self.instance.id)
        self.clock.advance(2)
        self.assertEqual(self.successResultOf(self.manager.periodicTasks(adminContext())), 1)
        self.assertIsNone(self.fixed().instance_id)
        self.assertEqual(self.driver.calls[-1], ("updateDhcp", "br100", ()))

    def test_leasedNotReclaimed(self):
        self.dhcpbridge("add", self.mac, "10.0.0.2")
        self.call(CTX, "network", "deallocateFixedIp", instanceId=self.instance.id)
        self.clock.advance(3600)
        self.assertEqual(self.successResultOf(self.manager.periodicTasks(adminContext())), 0)
        self.assertEqual(self.fixed().instance_id, self.instance.id)

    def test_allocatedNotReclaimed(self):
        self.clock.advance(3600)
        self.assertEqual(self.successResultOf(self.manager.periodicTasks(adminContext())), 0)

    def test_timeoutFlag(self):
        manager = self.addHost("net1", fixed_ip_disassociate_timeout=30)
        self.call(CTX, "network", "deallocateFixedIp", instanceId=self.instance.id)
        self.clock.advance(31)
        self.assertEqual(self.successResultOf(manager.periodicTasks(adminContext())), 1)

    def test_otherHostDoesNotReclaim(self):
        other = self.addHost("net2")
        self.call(CTX, "network.net1", "deallocateFixedIp", instanceId=self.instance.id)
        self.clock.advance(3600)
        self.assertEqual(self.successResultOf(other.periodicTasks(adminContext())), 0)

    def test_restartSetsUpAgain(self):
        self.dhcpbridge("add", self.mac, "10.0.0.2")
        driver = FakeNetworkDriver()
        self.addHost("net1", driver=driver)
        self.assertEqual(
            driver.calls,
            [
                ("initHost",),
                ("metadataForward", "192.0.2.10", 8773),
                ("ensureBridge", "br100", None, "10.0.0.1/25"),
                ("updateDhcp", "br100", ((self.mac, "web1", "10.0.0.2"),)),
            ],
        )


class VlanTests(NetworkHarness, SynchronousTestCase):
    mode = "vlan"

    def setUp(self):
        self.setUpHarness()
        self.networks = self.createNetworks("10.0.0.0/24", 2, 64)
        self.manager = self.addHost("net1")
        self.driver = self.drivers["net1"]

    def test_projectGetsItsOwnNetwork(self):
        a = self.createInstance("proj1", hostname="a1")
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=a.id)
        self.assertEqual(
            (info["address"], info["vlan"], info["bridge"], info["projectId"], info["dns"]),
            ("10.0.0.3", 100, "br100", "proj1", ["10.0.0.1"]),
        )
        self.assertEqual(
            self.driver.calls[2:],
            [
                ("ensureVlan", 100, "eth0"),
                ("ensureBridge", "br100", "vlan100", "10.0.0.1/26"),
                ("updateDhcp", "br100", ()),
                ("ensureVpnForward", "192.0.2.1", 1000, "10.0.0.2"),
                ("updateDhcp", "br100", ((info["mac"], "a1", "10.0.0.3"),)),
            ],
        )
        b = self.createInstance("proj2")
        other = self.call(context("proj2"), "network", "allocateFixedIp", instanceId=b.id)
        self.assertEqual(
            (other["address"], other["vlan"], other["bridge"]), ("10.0.0.67", 101, "br101")
        )
        a2 = self.createInstance("proj1")
        again = self.call(CTX, "network", "allocateFixedIp", instanceId=a2.id)
        self.assertEqual((again["address"], again["vlan"]), ("10.0.0.4", 100))
        network = self.successResultOf(self.db.networks.getForProject("proj1"))
        self.assertEqual(
            (network.host, network.vpn_public_address), ("net1", "192.0.2.1")
        )

    def test_noMoreNetworks(self):
        for project in ("p1", "p2"):
            self.call(
                context(project),
                "network",
                "allocateFixedIp",
                instanceId=self.createInstance(project).id,
            )
        self.callFails(
            context("p3"),
            "network",
            "allocateFixedIp",
            errors.NoMoreNetworks,
            instanceId=self.createInstance("p3").id,
        )

    def test_vpnAddress(self):
        vpn = self.createInstance("proj1")
        info = self.call(CTX, "network", "allocateFixedIp", instanceId=vpn.id, vpn=True)
        self.assertEqual(info["address"], "10.0.0.2")
        other = self.createInstance("proj1")
        self.callFails(
            CTX, "network", "allocateFixedIp", errors.FixedIpInUse, instanceId=other.id, vpn=True
        )

    def test_vxlanBackend(self):
        driver = FakeNetworkDriver()
        self.addHost("net2", driver=driver, vlan_backend="vxlan")
        instance = self.createInstance("proj1")
        self.call(CTX, "network.net2", "allocateFixedIp", instanceId=instance.id)
        self.assertEqual(driver.calls[2:4], [("ensureVxlan", 100, "eth0"), ("ensureBridge", "br100", "vxlan100", "10.0.0.1/26")])


class NetworkHostTests(NetworkHarness, SynchronousTestCase):
    mode = "vlan"

    def setUp(self):
        self.setUpHarness()
        self.createNetworks("10.0.0.0/24", 2, 64)

    def test_firstHostClaims(self):
        self.addHost("net1")
        self.addHost("net2")
        first = self.createInstance("proj1")
        self.call(CTX, "network.net2", "allocateFixedIp", instanceId=first.id)
        second = self.createInstance("proj1")
        self.rpc.sent[:] = []
        info = self.call(CTX, "network.net1", "allocateFixedIp", instanceId=second.id)
        self.assertEqual(info["host"], "net2")
        self.assertEqual(
            [(kind, topic) for kind, topic, _, _ in self.rpc.sent],
            [("call", "network.net1"), ("call", "network.net2")],
        )
        self.assertEqual(self.drivers["net1"].callsNamed("updateDhcp"), [])
        self.assertEqual(len(self.drivers["net2"].dhcp["br100"][1]), 2)
        # Deallocation goes to the serving host as well.
        self.call(CTX, "network.net1", "deallocateFixedIp", instanceId=second.id)
        fixed = self.successResultOf(self.db.networks.getFixedIp(info["address"]))
        self.assertFalse(fixed.allocated)

    def test_networkHostFlag(self):
        self.addHost("net1", network_host="net2")
        self.addHost("net2", network_host="net2")
        instance = self.createInstance("proj1")
        info = self.call(CTX, "network.net1", "allocateFixedIp", instanceId=instance.id)
        self.assertEqual(info["host"], "net2")
        self.assertEqual(self.drivers["net1"].callsNamed("ensureVlan"), [])


class FloatingTests(NetworkHarness, SynchronousTestCase):
    mode = "flatdhcp"

    def setUp(self):
        self.setUpHarness()
        self.createNetworks("10.0.0.0/25", 1, 128)
        self.manager = self.addHost("net1")
        self.driver = self.drivers["net1"]
        self.successResultOf(
            self.db.networks.createFloatingIps("net1", [f"4.4.4.{n}" for n in range(1, 6)])
        )
        self.instance = self.createInstance("proj1")
        self.fixed = self.call(CTX, "network", "allocateFixedIp", instanceId=self.instance.id)[
            "address"
        ]

    def allocate(self, ctx=CTX):
        return self.call(ctx, "network", "allocateFloatingIp")

    def test_quota(self):
        addresses = [self.allocate() for _ in range(3)]
        self.assertEqual(addresses, ["4.4.4.1", "4.4.4.2", "4.4.4.3"])
        failure = self.callFails(CTX, "network", "allocateFloatingIp", errors.AddressLimitExceeded)
        self.assertEqual(failure.value.ec2Code, "AddressLimitExceeded")
        # Other projects have their own quota.
        self.assertEqual(self.allocate(context("proj2")), "4.4.4.4")
        # Releasing makes room again.
        self.call(CTX, "network", "releaseFloatingIp", address="4.4.4.2")
        self.assertEqual(self.allocate(), "4.4.4.2")

    def test_quotaFromDeferred(self):
        self.manager.floatingQuota = lambda projectId: defer.succeed(1)
        self.allocate()
        self.callFails(CTX, "network", "allocateFloatingIp", errors.AddressLimitExceeded)

    def test_unlimitedQuota(self):
        self.manager.floatingQuota = lambda projectId: -1
        self.assertEqual(len({self.allocate() for _ in range(5)}), 5)
        self.callFails(CTX, "network", "allocateFloatingIp", errors.NoMoreFloatingIps)

    def test_needsProject(self):
        self.callFails(adminContext(), "network", "allocateFloatingIp", exception.NotAuthorized)

    def test_quotaFromQuotaEngine(self):
        """
        By default the limit is nova.quota's: the flag, or the project's
        override.
        """
        limit = quotaFloatingLimit(self.configFor("net1", quota_floating_ips=4), self.db)
        self.assertEqual(self.successResultOf(limit("proj1")), 4)
        self.successResultOf(self.db.quotas.set("proj1", "floating_ips", 1))
        self.assertEqual(self.successResultOf(limit("proj1")), 1)
        self.successResultOf(self.db.quotas.set("proj1", "floating_ips", -1))
        self.assertEqual(self.successResultOf(limit("proj1")), -1)
        self.manager.floatingQuota = quotaFloatingLimit(self.configFor("net1", quota_floating_ips=4), self.db)
        self.successResultOf(self.db.quotas.set("proj1", "floating_ips", 1))
        self.allocate()
        failure = self.callFails(CTX, "network", "allocateFloatingIp", quota.AddressLimitExceeded)
        self.assertIn("floating_ips", failure.value.message)

    def test_associateAndDisassociate(self):
        address = self.allocate()
        self.driver.calls[:] = []
        fixed = self.call(
            CTX, "network", "associateFloatingIp", address=address, instanceId=self.instance.id
        )
        self.assertEqual(fixed, self.fixed)
        self.assertEqual(
            self.driver.calls,
            [
                ("bindFloatingIp", address, "eth9"),
                ("ensureFloatingForward", address, self.fixed),
            ],
        )
        record = self.successResultOf(self.db.networks.getFloatingIp(address))
        self.assertEqual((record.fixed_address, record.instance_id), (self.fixed, self.instance.id))
        # Associating again changes nothing.
        self.call(CTX, "network", "associateFloatingIp", address=address, instanceId=self.instance.id)
        self.assertEqual(len(self.driver.calls), 2)
        self.assertEqual(
            self.call(CTX, "network", "disassociateFloatingIp", address=address), self.fixed
        )
        self.assertEqual(
            self.driver.calls[2:],
            [
                ("removeFloatingForward", address, self.fixed),
                ("unbindFloatingIp", address, "eth9"),
            ],
        )
        self.assertEqual((self.driver.boundIps, self.driver.floatingForwards), ({}, {}))
        self.callFails(
            CTX, "network", "disassociateFloatingIp", errors.FloatingIpNotAssociated, address=address
        )

    def test_moveToAnotherInstance(self):
        address = self.allocate()
        other = self.createInstance("proj1")
        otherFixed = self.call(CTX, "network", "allocateFixedIp", instanceId=other.id)["address"]
        self.call(CTX, "network", "associateFloatingIp", address=address, instanceId=self.instance.id)
        self.call(CTX, "network", "associateFloatingIp", address=address, instanceId=other.id)
        self.assertEqual(self.driver.floatingForwards, {address: otherFixed})
        self.assertEqual(self.driver.boundIps, {address: "eth9"})

    def test_newAddressReplacesInstancesOld(self):
        first, second = self.allocate(), self.allocate()
        self.call(CTX, "network", "associateFloatingIp", address=first, instanceId=self.instance.id)
        self.call(CTX, "network", "associateFloatingIp", address=second, instanceId=self.instance.id)
        self.assertEqual(self.driver.floatingForwards, {second: self.fixed})
        record = self.successResultOf(self.db.networks.getFloatingIp(first))
        self.assertIsNone(record.fixed_ip_id)

    def test_releaseDisassociates(self):
        address = self.allocate()
        self.call(CTX, "network", "associateFloatingIp", address=address, instanceId=self.instance.id)
        self.call(CTX, "network", "releaseFloatingIp", address=address)
        record = self.successResultOf(self.db.networks.getFloatingIp(address))
        self.assertEqual((record.project_id, record.fixed_ip_id), (None, None))
        self.assertEqual(self.driver.boundIps, {})

    def test_deallocateFixedDisassociatesFloating(self):
        address = self.allocate()
        self.call(CTX, "network", "associateFloatingIp", address=address, instanceId=self.instance.id)
        self.call(CTX, "network", "deallocateFixedIp", instanceId=self.instance.id)
        record = self.successResultOf(self.db.networks.getFloatingIp(address))
        self.assertEqual((record.project_id, record.fixed_ip_id), ("proj1", None))
        self.assertEqual(self.driver.floatingForwards, {})

    def test_instanceWithoutFixedAddress(self):
        address = self.allocate()
        bare = self.createInstance("proj1")
        failure = self.callFails(
            CTX,
            "network",
            "associateFloatingIp",
            errors.NoFixedIpForInstance,
            address=address,
            instanceId=bare.id,
        )
        self.assertEqual(failure.value.ec2Code, "InvalidInstanceID")

    def test_projectIsolation(self):
        mine = self.allocate()
        other = context("proj2")
        for method, args in [
            ("releaseFloatingIp", {"address": mine}),
            ("associateFloatingIp", {"address": mine, "instanceId": self.instance.id}),
            ("disassociateFloatingIp", {"address": mine}),
        ]:
            failure = self.callFails(other, "network", method, errors.FloatingIpNotFound, **args)
            self.assertEqual(failure.value.ec2Code, "InvalidAddress.NotFound")
        # Nor can a project point its address at another project's instance.
        theirs = self.allocate(other)
        self.callFails(
            other,
            "network",
            "associateFloatingIp",
            InstanceNotFound,
            address=theirs,
            instanceId=self.instance.id,
        )
        # Free addresses are nobody's.
        self.callFails(CTX, "network", "releaseFloatingIp", errors.FloatingIpNotFound, address="4.4.4.5")
        # An admin may act on any project's address.
        self.call(adminContext(), "network", "releaseFloatingIp", address=mine)

    def test_driverFailureLeavesNoAssociation(self):
        address = self.allocate()
        self.driver.failNext = errors.NetworkDriverError("ip: RTNETLINK answers: busy")
        self.callFails(
            CTX,
            "network",
            "associateFloatingIp",
            errors.NetworkDriverError,
            address=address,
            instanceId=self.instance.id,
        )
        record = self.successResultOf(self.db.networks.getFloatingIp(address))
        self.assertIsNone(record.fixed_ip_id)
        self.assertEqual(self.driver.boundIps, {})

    def test_forwardFailureUnbinds(self):
        address = self.allocate()
        self.driver.floatingForwards[address] = "10.0.0.99"
        self.callFails(
            CTX,
            "network",
            "associateFloatingIp",
            errors.NetworkDriverError,
            address=address,
            instanceId=self.instance.id,
        )
        self.assertEqual(self.driver.boundIps, {})
        record = self.successResultOf(self.db.networks.getFloatingIp(address))
        self.assertIsNone(record.fixed_ip_id)

    def test_addressesOfAnotherHost(self):
        self.successResultOf(self.db.networks.createFloatingIps("net2", ["5.5.5.5"]))
        self.addHost("net2")
        self.quota = -1
        allocated = {self.allocate() for _ in range(6)}
        self.assertIn("5.5.5.5", allocated)
        self.rpc.sent[:] = []
        self.call(CTX, "network.net1", "associateFloatingIp", address="5.5.5.5", instanceId=self.instance.id)
        self.assertEqual(self.drivers["net2"].floatingForwards, {"5.5.5.5": self.fixed})
        self.assertNotIn("5.5.5.5", self.driver.boundIps)
        self.assertEqual(
            [topic for _, topic, _, _ in self.rpc.sent], ["network.net1", "network.net2"]
        )

    def test_restartBindsAgain(self):
        address = self.allocate()
        self.call(CTX, "network", "associateFloatingIp", address=address, instanceId=self.instance.id)
        driver = FakeNetworkDriver()
        self.addHost("net1", driver=driver)
        self.assertEqual(driver.boundIps, {address: "eth9"})
        self.assertEqual(driver.floatingForwards, {address: self.fixed})


class _CountingDriver(FakeNetworkDriver):
    """
    A slow fake driver that counts calls in progress at once.
    """

    def __init__(self, clock):
        FakeNetworkDriver.__init__(self, clock, delay=0.5)
        self.inFlight = 0
        self.mostInFlight = 0

    def _run(self, name, args, change):
        d = FakeNetworkDriver._run(self, name, args, change)
        self.inFlight += 1
        self.mostInFlight = max(self.mostInFlight, self.inFlight)

        def done(result):
            self.inFlight -= 1
            return result

        return d.addBoth(done)


class ConcurrencyTests(NetworkHarness, SynchronousTestCase):
    mode = "flatdhcp"
    callTimeout = 600

    def setUp(self):
        self.setUpHarness()
        self.createNetworks("10.0.0.0/24", 1, 256)
        self.driver = _CountingDriver(self.clock)
        self.addHost("net1", driver=self.driver)
        self.addHost("net2", driver=_CountingDriver(self.clock))

    def drain(self, ds):
        for _ in range(2000):
            if all(d.called for d in ds):
                return
            self.clock.advance(0.1)
        self.fail("requests did not finish")

    def test_manyAllocations(self):
        instances = [self.createInstance("proj1") for _ in range(60)]
        ds = [
            self.rpc.call(CTX, "network", "allocateFixedIp", {"instanceId": i.id})
            for i in instances
        ]
        self.drain(ds)
        infos = [self.successResultOf(d) for d in ds]
        addresses = [info["address"] for info in infos]
        self.assertEqual(len(set(addresses)), 60)
        self.assertEqual(len({info["mac"] for info in infos}), 60)
        # One driver call at a time; each DHCP write is complete.
        self.assertEqual(self.driver.mostInFlight, 1)
        updates = [hosts for _, hosts in self.driver.callsNamed("updateDhcp")]
        sizes = [len(hosts) for hosts in updates]
        self.assertEqual(sizes, sorted(sizes))
        # The allocations that came while dnsmasq's leases were being
        # written share the next write: a few writes, not one each.
        self.assertLessEqual(len(updates), 3, sizes)
        self.assertEqual(sizes[-1], 60)
        self.assertEqual(
            sorted(address for _, _, address in self.driver.dhcp["br100"][1]), sorted(addresses)
        )
        for instance, info in zip(instances, infos):
            fixed = self.successResultOf(self.db.networks.getFixedIp(info["address"]))
            self.assertEqual(fixed.instance_id, instance.id)

    def test_manyFloatingAllocations(self):
        self.successResultOf(
            self.db.networks.createFloatingIps("net1", [f"4.4.4.{n}" for n in range(1, 30)])
        )
        clock = self.clock

        def slowQuota(projectId):
            d = defer.Deferred()
            clock.callLater(0.3, d.callback, 5)
            return d

        for manager in self.managers.values():
            manager.floatingQuota = slowQuota
        ds = [self.rpc.call(CTX, "network", "allocateFloatingIp", {}) for _ in range(12)]
        ds += [self.rpc.call(context("proj2"), "network", "allocateFloatingIp", {}) for _ in range(3)]
        self.drain(ds)
        results = []
        for d in ds:
            results.append(d.result if not isinstance(d.result, defer.Failure) else d.result.value)
            d.addErrback(lambda f: None)
        won = [r for r in results if isinstance(r, str)]
        lost = [r for r in results if isinstance(r, errors.AddressLimitExceeded)]
        self.assertEqual((len(won), len(lost)), (8, 7))
        self.assertEqual(len(set(won)), 8)
        mine = self.successResultOf(self.db.networks.listFloatingIps(projectId="proj1"))
        self.assertEqual(len(mine), 5)
