"""
Tests for L{nova.network.api}: the RPC client compute and the EC2 API use,
over the in-process bus to real network managers.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.config import configFromFlags
from nova.context import adminContext
from nova.network import errors
from nova.network.api import NetworkAPI, setupComputeNetwork
from nova.network.fake import FakeNetworkDriver
from tests.network.util import NetworkHarness, context

CTX = context()


class SetupComputeNetworkTests(SynchronousTestCase):
    def test_flat(self):
        driver = FakeNetworkDriver()
        info = {"bridge": "br100", "bridgeInterface": "eth1", "vlan": None}
        self.assertEqual(
            self.successResultOf(setupComputeNetwork(driver, configFromFlags(), info)), "br100"
        )
        self.assertEqual(driver.calls, [("ensureBridge", "br100", "eth1", None)])

    def test_vlan(self):
        driver = FakeNetworkDriver()
        info = {"bridge": "br101", "bridgeInterface": "eth0", "vlan": 101}
        self.successResultOf(setupComputeNetwork(driver, configFromFlags(), info))
        self.assertEqual(
            driver.calls, [("ensureVlan", 101, "eth0"), ("ensureBridge", "br101", "vlan101", None)]
        )

    def test_vxlan(self):
        driver = FakeNetworkDriver()
        info = {"bridge": "br101", "bridgeInterface": "eth0", "vlan": 101}
        self.successResultOf(
            setupComputeNetwork(driver, configFromFlags(vlan_backend="vxlan"), info)
        )
        self.assertEqual(driver.vlans, {"vxlan101": ("vxlan", 101, "eth0")})

    def test_sameBridgeAsNetworkHost(self):
        """
        In one process (nova-all) the compute side's bridge and the network
        host's agree.
        """
        driver = FakeNetworkDriver()
        self.successResultOf(driver.ensureVlan(100, "eth0"))
        self.successResultOf(driver.ensureBridge("br100", "vlan100", "10.0.0.1/26"))
        info = {"bridge": "br100", "bridgeInterface": "eth0", "vlan": 100}
        self.successResultOf(setupComputeNetwork(driver, configFromFlags(), info))
        self.assertEqual(driver.bridges["br100"], {"interface": "vlan100", "address": "10.0.0.1/26"})


class NetworkAPITests(NetworkHarness, SynchronousTestCase):
    mode = "vlan"

    def setUp(self):
        self.setUpHarness()
        self.createNetworks("10.0.0.0/24", 2, 64)
        self.addHost("net1")
        self.addHost("net2")
        self.api = NetworkAPI(self.configFor("api"), self.db, self.rpc)
        self.successResultOf(self.db.networks.createFloatingIps("net2", ["4.4.4.1", "4.4.4.2"]))
        self.successResultOf(self.db.networks.createFloatingIps("net1", ["5.5.5.1"]))
        self.instance = self.createInstance("proj1")

    def result(self, d):
        return self.successResultOf(self.settle(d))

    def failure(self, d, error):
        return self.failureResultOf(self.settle(d), error)

    def topics(self):
        return [(topic, method) for _, topic, method, _ in self.rpc.sent]

    def test_fixed(self):
        info = self.result(self.api.allocateFixedIp(CTX, self.instance.id))
        self.assertEqual((info["address"], info["vlan"]), ("10.0.0.3", 100))
        self.assertEqual(self.topics()[0], ("network", "allocateFixedIp"))
        self.assertEqual(self.result(self.api.fixedIpsForInstance(CTX, self.instance.id)), [info])
        self.assertEqual(
            self.result(self.api.deallocateFixedIp(CTX, self.instance.id)), ["10.0.0.3"]
        )
        self.assertEqual(self.result(self.api.fixedIpsForInstance(CTX, self.instance.id)), [])

    def test_networkHostTopic(self):
        api = NetworkAPI(self.configFor("api", network_host="net2"), self.db, self.rpc)
        info = self.result(api.allocateFixedIp(CTX, self.instance.id))
        self.assertEqual(info["host"], "net2")
        self.assertEqual(self.topics(), [("network.net2", "allocateFixedIp")])
        self.rpc.sent[:] = []
        self.result(api.allocateFixedIp(CTX, self.createInstance("proj2").id, host="net1"))
        self.assertEqual(self.topics()[0], ("network.net1", "allocateFixedIp"))

    def test_floatingLifecycle(self):
        self.result(self.api.allocateFixedIp(CTX, self.instance.id))
        address = self.result(self.api.allocateFloatingIp(CTX))
        self.rpc.sent[:] = []
        self.assertEqual(
            self.result(self.api.associateFloatingIp(CTX, address, self.instance.id)), "10.0.0.3"
        )
        host = self.successResultOf(self.db.networks.getFloatingIp(address)).host
        self.assertEqual(self.topics(), [(f"network.{host}", "associateFloatingIp")])
        [record] = self.result(self.api.describeFloatingIps(CTX))
        self.assertEqual(
            (record.address, record.instance_id, record.fixed_address),
            (address, self.instance.id, "10.0.0.3"),
        )
        self.assertEqual(self.drivers[host].floatingForwards, {address: "10.0.0.3"})
        self.assertEqual(self.result(self.api.disassociateFloatingIp(CTX, address)), "10.0.0.3")
        self.result(self.api.releaseFloatingIp(CTX, address))
        self.assertEqual(self.result(self.api.describeFloatingIps(CTX)), [])

    def test_describeIsolation(self):
        mine = self.result(self.api.allocateFloatingIp(CTX))
        theirs = self.result(self.api.allocateFloatingIp(context("proj2")))
        self.assertEqual([r.address for r in self.result(self.api.describeFloatingIps(CTX))], [mine])
        self.assertEqual(
            [r.address for r in self.result(self.api.describeFloatingIps(CTX, [mine]))], [mine]
        )
        for address in (theirs, "4.4.4.9", "not-an-address"):
            failure = self.failure(
                self.api.describeFloatingIps(CTX, [mine, address]), errors.FloatingIpNotFound
            )
            self.assertEqual(failure.value.ec2Code, "InvalidAddress.NotFound")
        admin = self.result(self.api.describeFloatingIps(adminContext()))
        self.assertEqual(sorted(r.address for r in admin), sorted([mine, theirs]))
        self.assertEqual(self.result(self.api.describeFloatingIps(context(None))), [])

    def test_otherProjectsAddressUntouchable(self):
        theirs = self.result(self.api.allocateFloatingIp(context("proj2")))
        self.rpc.sent[:] = []
        for d in (
            self.api.releaseFloatingIp(CTX, theirs),
            self.api.associateFloatingIp(CTX, theirs, self.instance.id),
            self.api.disassociateFloatingIp(CTX, theirs),
        ):
            self.failure(d, errors.FloatingIpNotFound)
        self.assertEqual(self.rpc.sent, [])
        record = self.successResultOf(self.db.networks.getFloatingIp(theirs))
        self.assertEqual(record.project_id, "proj2")

    def test_quotaError(self):
        for ctx in (CTX, CTX, context("proj2")):
            self.result(self.api.allocateFloatingIp(ctx))
        failure = self.failure(self.api.allocateFloatingIp(CTX), errors.NoMoreFloatingIps)
        self.assertEqual(failure.value.ec2Code, "InsufficientAddressCapacity")
        self.successResultOf(self.db.networks.createFloatingIps("net1", ["6.6.6.1"]))
        self.quota = 2
        failure = self.failure(self.api.allocateFloatingIp(CTX), errors.AddressLimitExceeded)
        self.assertEqual((failure.value.ec2Code, failure.value.httpStatus), ("AddressLimitExceeded", 400))
        self.assertEqual(self.result(self.api.allocateFloatingIp(context("proj2"))), "6.6.6.1")

    def test_floatingIpsByInstance(self):
        """
        The floating address in front of each of the project's instances;
        another project sees none of them, a superuser sees all.
        """
        self.result(self.api.allocateFixedIp(CTX, self.instance.id))
        self.assertEqual(self.result(self.api.floatingIpsByInstance(CTX)), {})
        address = self.result(self.api.allocateFloatingIp(CTX))
        self.result(self.api.allocateFloatingIp(CTX))
        self.result(self.api.associateFloatingIp(CTX, address, self.instance.id))
        self.assertEqual(
            self.result(self.api.floatingIpsByInstance(CTX)), {self.instance.id: address}
        )
        self.assertEqual(self.result(self.api.floatingIpsByInstance(context("proj2"))), {})
        self.assertEqual(
            self.result(self.api.floatingIpsByInstance(adminContext())),
            {self.instance.id: address},
        )
