"""
Tests for L{nova.network.fake.FakeNetworkDriver}: it provides
L{INetworkDriver}, keeps the state a host would have, and refuses what a
host would refuse.
"""

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from nova.config import configFromFlags
from nova.drivers import loadDriver
from nova.network.fake import FakeNetworkDriver
from nova.network.flags import NETWORK_DRIVERS
from nova.network.interfaces import INetworkDriver, NetworkDriverError
from tests.network.util import networkRecord


class FakeNetworkDriverTests(SynchronousTestCase):
    def setUp(self):
        self.driver = FakeNetworkDriver()

    def test_provides(self):
        verifyObject(INetworkDriver, self.driver)

    def test_loadedFromRegistry(self):
        for name in ("fake", "nova.network.fake.FakeNetworkDriver"):
            driver = loadDriver(INetworkDriver, NETWORK_DRIVERS, name, configFromFlags())
            self.assertIsInstance(driver, FakeNetworkDriver)

    def test_initHostAndMetadata(self):
        self.successResultOf(self.driver.initHost())
        self.successResultOf(self.driver.metadataForward("10.1.1.1", 8773))
        self.assertTrue(self.driver.initialised)
        self.assertEqual(self.driver.metadata, ("10.1.1.1", 8773))
        self.assertEqual(
            self.driver.calls, [("initHost",), ("metadataForward", "10.1.1.1", 8773)]
        )
        self.failureResultOf(self.driver.metadataForward("nowhere", 80), NetworkDriverError)

    def test_vlanAndBridge(self):
        name = self.successResultOf(self.driver.ensureVlan(100, "eth0"))
        self.assertEqual(name, "vlan100")
        self.successResultOf(self.driver.ensureBridge("br100", name, "10.0.0.1/25"))
        # Asking again is fine; a different address or port is refused.
        self.successResultOf(self.driver.ensureVlan(100, "eth0"))
        self.successResultOf(self.driver.ensureBridge("br100", name))
        self.failureResultOf(self.driver.ensureVlan(100, "eth1"), NetworkDriverError)
        self.failureResultOf(
            self.driver.ensureBridge("br100", name, "10.0.0.129/25"), NetworkDriverError
        )
        self.failureResultOf(self.driver.ensureBridge("br100", "eth1"), NetworkDriverError)
        self.assertEqual(
            self.driver.bridges, {"br100": {"interface": "vlan100", "address": "10.0.0.1/25"}}
        )
        self.assertEqual(self.driver.vlans, {"vlan100": ("vlan", 100, "eth0")})

    def test_badVlansAndNames(self):
        self.failureResultOf(self.driver.ensureVlan(0, "eth0"), NetworkDriverError)
        self.failureResultOf(self.driver.ensureVlan(4095, "eth0"), NetworkDriverError)
        self.failureResultOf(self.driver.ensureVlan(5, ""), NetworkDriverError)
        self.failureResultOf(
            self.driver.ensureBridge("a-very-long-bridge-name", None), NetworkDriverError
        )
        self.failureResultOf(self.driver.ensureBridge("br1", None, "10.0.0.1"), NetworkDriverError)
        self.assertEqual(self.driver.bridges, {})

    def test_vxlan(self):
        name = self.successResultOf(self.driver.ensureVxlan(5000, "eth0"))
        self.assertEqual(name, "vxlan5000")
        self.assertEqual(self.driver.vlans["vxlan5000"], ("vxlan", 5000, "eth0"))

    def test_dhcpNeedsBridgeWithAddress(self):
        network = networkRecord()
        hosts = [("02:16:3e:00:00:01", "i-00000001", "10.0.0.3")]
        self.failureResultOf(self.driver.updateDhcp(network, hosts), NetworkDriverError)
        self.successResultOf(self.driver.ensureBridge("br100", None))
        self.failureResultOf(self.driver.updateDhcp(network, hosts), NetworkDriverError)
        self.successResultOf(self.driver.ensureBridge("br100", None, "10.0.0.1/25"))
        self.successResultOf(self.driver.updateDhcp(network, hosts))
        self.assertEqual(self.driver.dhcp, {"br100": (network.id, tuple(hosts))})
        self.successResultOf(self.driver.stopDhcp(network))
        self.assertEqual(self.driver.dhcp, {})

    def test_releaseDhcp(self):
        network = networkRecord()
        self.successResultOf(self.driver.releaseDhcp(network, "10.0.0.3", "02:16:3e:00:00:01"))
        self.assertEqual(self.driver.released, [])
        self.successResultOf(self.driver.ensureBridge("br100", None, "10.0.0.1/25"))
        self.successResultOf(self.driver.updateDhcp(network, []))
        self.successResultOf(self.driver.releaseDhcp(network, "10.0.0.3", "02:16:3e:00:00:01"))
        self.assertEqual(self.driver.released, [("br100", "10.0.0.3", "02:16:3e:00:00:01")])
        self.failureResultOf(self.driver.releaseDhcp(network, "nope", "02:16:3e:00:00:01"), NetworkDriverError)

    def test_dhcpRefusesBadHosts(self):
        network = networkRecord()
        self.successResultOf(self.driver.ensureBridge("br100", None, "10.0.0.1/25"))
        for hosts in (
            [("02:16:3e:00:00:01", "a", "10.9.0.3")],
            [("zz", "a", "10.0.0.3")],
            [("02:16:3e:00:00:01", "a", "10.0.0.3"), ("02:16:3e:00:00:01", "b", "10.0.0.4")],
            [("02:16:3e:00:00:01", "", "10.0.0.3")],
        ):
            self.failureResultOf(self.driver.updateDhcp(network, hosts), NetworkDriverError)
        self.assertEqual(self.driver.dhcp, {})

    def test_floating(self):
        self.successResultOf(self.driver.bindFloatingIp("4.4.4.4", "eth0"))
        self.failureResultOf(self.driver.bindFloatingIp("4.4.4.4", "eth0"), NetworkDriverError)
        self.successResultOf(self.driver.ensureFloatingForward("4.4.4.4", "10.0.0.3"))
        self.successResultOf(self.driver.ensureFloatingForward("4.4.4.4", "10.0.0.3"))
        self.failureResultOf(
            self.driver.ensureFloatingForward("4.4.4.4", "10.0.0.4"), NetworkDriverError
        )
        self.failureResultOf(
            self.driver.removeFloatingForward("4.4.4.4", "10.0.0.4"), NetworkDriverError
        )
        self.successResultOf(self.driver.removeFloatingForward("4.4.4.4", "10.0.0.3"))
        self.failureResultOf(self.driver.unbindFloatingIp("4.4.4.4", "eth1"), NetworkDriverError)
        self.successResultOf(self.driver.unbindFloatingIp("4.4.4.4", "eth0"))
        self.assertEqual((self.driver.boundIps, self.driver.floatingForwards), ({}, {}))

    def test_vpnForward(self):
        self.successResultOf(self.driver.ensureVpnForward("1.2.3.4", 1000, "10.0.0.2"))
        self.successResultOf(self.driver.ensureVpnForward("1.2.3.4", 1000, "10.0.0.2"))
        self.failureResultOf(
            self.driver.ensureVpnForward("1.2.3.4", 1000, "10.0.0.66"), NetworkDriverError
        )
        self.failureResultOf(
            self.driver.ensureVpnForward("1.2.3.4", 70000, "10.0.0.2"), NetworkDriverError
        )
        self.assertEqual(self.driver.vpnForwards, {("1.2.3.4", 1000): "10.0.0.2"})

    def test_failNext(self):
        self.driver.failNext = NetworkDriverError("boom")
        self.failureResultOf(self.driver.bindFloatingIp("4.4.4.4", "eth0"), NetworkDriverError)
        self.assertEqual(self.driver.boundIps, {})
        self.successResultOf(self.driver.bindFloatingIp("4.4.4.4", "eth0"))
        self.assertEqual(self.driver.callsNamed("bindFloatingIp"), [("4.4.4.4", "eth0")] * 2)

    def test_delay(self):
        clock = task.Clock()
        driver = FakeNetworkDriver(clock, delay=1.0)
        d = driver.bindFloatingIp("4.4.4.4", "eth0")
        self.assertNoResult(d)
        self.assertEqual(driver.boundIps, {"4.4.4.4": "eth0"})
        clock.advance(1)
        self.assertIsNone(self.successResultOf(d))
