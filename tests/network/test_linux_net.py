"""
Tests for L{nova.network.linux_net.LinuxNetDriver} on a pretend host
(L{tests.network.fakehost.FakeHost}): the exact commands it runs, that
asking again changes nothing, the NAT rules it leaves, and dnsmasq's
command line, hosts file and reloads.
"""

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from nova.config import configFromFlags
from nova.drivers import loadDriver
from nova.network.flags import NETWORK_DRIVERS
from nova.network.interfaces import INetworkDriver, NetworkDriverError
from nova.network.linux_net import (
    LinuxNetDriver,
    NamespacedProcessRunner,
    dhcpHostsText,
    namespacedRunner,
)
from nova.util.process import FakeProcessRunner, IProcessRunner
from tests.network.fakehost import FakeHost
from tests.network.util import networkRecord

SAVE_RESTORE = [
    ("iptables-save", "-t", "filter"),
    ("iptables-restore", "-w", "5", "--noflush"),
    ("iptables-save", "-t", "nat"),
    ("iptables-restore", "-w", "5", "--noflush"),
]

HOSTS = (
    ("02:16:3e:00:00:01", "i-00000001", "10.0.0.3"),
    ("02:16:3e:00:00:02", "i-00000002", "10.0.0.4"),
)


class DriverMixin:
    flags = {}

    def setUp(self):
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        self.procPath = os.path.join(base, "proc")
        self.networksPath = os.path.join(base, "networks")
        values = dict(
            fixed_range="10.0.0.0/16",
            routing_source_ip="192.0.2.1",
            networks_path=self.networksPath,
            dhcpbridge="/opt/nova/bin/nova-dhcpbridge",
            dhcpbridge_flagfile="/etc/nova/dhcpbridge.conf",
            dhcp_lease_time=120,
        )
        values.update(self.flags)
        self.config = configFromFlags(**values)
        self.host = FakeHost(self.procPath)
        self.host.addLink("eth0", "veth")
        self.host.addLink("eth9", "veth")
        self.clock = Clock()
        self.driver = LinuxNetDriver(self.config, self.host.runner, self.clock)
        self.driver.procPath = self.procPath

    def nat(self, chain):
        return self.host.iptables.rules("nat", f"nova-network-{chain}")

    def filter(self, chain):
        return self.host.iptables.rules("filter", f"nova-network-{chain}")


class HostTests(DriverMixin, SynchronousTestCase):
    def test_interface(self):
        verifyObject(INetworkDriver, self.driver)

    def test_registry(self):
        driver = loadDriver(INetworkDriver, NETWORK_DRIVERS, "linux_net", self.config)
        self.assertIsInstance(driver, LinuxNetDriver)
        self.assertNotIsInstance(driver.runner, NamespacedProcessRunner)
        namespaced = LinuxNetDriver.fromConfig(
            self.config.replace(network_namespace="nt-1-srv"), runner=FakeProcessRunner()
        )
        self.assertEqual(namespaced.runner.namespace, "nt-1-srv")

    def test_initHost(self):
        self.successResultOf(self.driver.initHost())
        self.assertEqual(
            self.host.commands(), [("sysctl", "-w", "net.ipv4.ip_forward=1")] + SAVE_RESTORE
        )
        self.assertEqual(self.host.sysctls, {"net.ipv4.ip_forward": "1"})
        self.assertEqual(
            self.nat("snat"),
            ["-j nova-network-float-snat", "-s 10.0.0.0/16 -j SNAT --to-source 192.0.2.1"],
        )
        self.assertEqual(self.nat("POSTROUTING"), ["-s 10.0.0.0/16 -d 10.0.0.0/16 -j ACCEPT"])
        self.assertEqual(
            self.host.iptables.rules("nat", "POSTROUTING"),
            ["-j nova-network-POSTROUTING", "-j nova-postrouting-bottom"],
        )

    def test_initHostWithoutForwarding(self):
        self.driver.config = self.config.replace(enable_ip_forward=False, dmz_cidr=("198.51.100.0/24",))
        self.successResultOf(self.driver.initHost())
        self.assertEqual(self.host.commands(), SAVE_RESTORE)
        self.assertEqual(
            self.nat("POSTROUTING"),
            [
                "-s 10.0.0.0/16 -d 10.0.0.0/16 -j ACCEPT",
                "-s 10.0.0.0/16 -d 198.51.100.0/24 -j ACCEPT",
            ],
        )

    def test_initHostTwiceConverges(self):
        self.successResultOf(self.driver.initHost())
        before = {t: {c: list(r) for c, r in chains.items()} for t, chains in self.host.iptables.tables.items()}
        restarted = LinuxNetDriver(self.config, self.host.runner, self.clock)
        self.successResultOf(restarted.initHost())
        self.assertEqual(self.host.iptables.tables, before)

    def test_metadataForward(self):
        self.successResultOf(self.driver.metadataForward("192.0.2.10", 8773))
        self.assertEqual(
            self.nat("PREROUTING"),
            ["-d 169.254.169.254/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.10:8773"],
        )
        self.assertEqual(self.nat("POSTROUTING"), ["-s 10.0.0.0/16 -d 192.0.2.10/32 -j ACCEPT"])
        self.successResultOf(self.driver.metadataForward("192.0.2.11", 80))
        self.assertEqual(
            self.nat("PREROUTING"),
            ["-d 169.254.169.254/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.11:80"],
        )
        self.assertEqual(self.nat("POSTROUTING"), ["-s 10.0.0.0/16 -d 192.0.2.11/32 -j ACCEPT"])
        self.failureResultOf(self.driver.metadataForward("metadata.example", 80), NetworkDriverError)
        self.failureResultOf(self.driver.metadataForward("192.0.2.11", 0), NetworkDriverError)

    def test_namespacedRunner(self):
        inner = FakeProcessRunner()
        runner = namespacedRunner(inner, "nt-ab12-srv")
        verifyObject(IProcessRunner, runner)
        self.successResultOf(runner.run(["ip", "link"], stdin=b"x"))
        self.assertEqual(inner.commands, [("ip", "netns", "exec", "nt-ab12-srv", "ip", "link")])
        self.assertEqual(inner.stdins, [b"x"])
        self.assertIs(namespacedRunner(inner, ""), inner)
        for bad in ("-n", "a b", "../x", ""):
            self.assertRaises(NetworkDriverError, NamespacedProcessRunner, inner, bad)


class BridgeTests(DriverMixin, SynchronousTestCase):
    def test_newBridgeWithGateway(self):
        self.successResultOf(self.driver.ensureBridge("br100", None, "10.0.0.1/25"))
        self.assertEqual(
            self.host.commands(),
            [
                ("ip", "-j", "-d", "link", "show", "dev", "br100"),
                ("ip", "link", "add", "name", "br100", "type", "bridge"),
                ("ip", "-j", "addr", "show", "dev", "br100"),
                ("ip", "addr", "add", "10.0.0.1/25", "brd", "10.0.0.127", "dev", "br100"),
                ("ip", "link", "set", "dev", "br100", "up"),
            ]
            + SAVE_RESTORE,
        )
        self.assertEqual(self.host.addresses["br100"], [("10.0.0.1", 25)])
        self.assertEqual(self.filter("FORWARD"), ["-i br100 -j ACCEPT", "-o br100 -j ACCEPT"])

    def test_idempotent(self):
        self.successResultOf(self.driver.ensureBridge("br100", "eth0", "10.0.0.1/25"))
        self.host.clear()
        self.successResultOf(self.driver.ensureBridge("br100", "eth0", "10.0.0.1/25"))
        self.assertEqual(
            self.host.commands(),
            [
                ("ip", "-j", "-d", "link", "show", "dev", "br100"),
                ("ip", "-j", "-d", "link", "show", "dev", "eth0"),
                ("ip", "-j", "addr", "show", "dev", "br100"),
            ],
        )
        # A compute host's ensure (no address) leaves the gateway alone.
        self.host.clear()
        self.successResultOf(self.driver.ensureBridge("br100", "eth0"))
        self.assertEqual(len(self.host.commands()), 2)
        self.assertEqual(self.host.addresses["br100"], [("10.0.0.1", 25)])

    def test_enslavesInterface(self):
        self.successResultOf(self.driver.ensureBridge("br100", "eth0"))
        self.assertEqual(
            self.host.commands(),
            [
                ("ip", "-j", "-d", "link", "show", "dev", "br100"),
                ("ip", "link", "add", "name", "br100", "type", "bridge"),
                ("ip", "-j", "-d", "link", "show", "dev", "eth0"),
                ("ip", "link", "set", "dev", "eth0", "master", "br100"),
                ("ip", "link", "set", "dev", "eth0", "up"),
                ("ip", "link", "set", "dev", "br100", "up"),
            ],
        )
        self.assertEqual(self.host.links["eth0"]["master"], "br100")

    def test_refusals(self):
        self.host.addLink("br7", "bridge")
        self.host.addLink("eth1", "veth", master="br7")
        self.host.addLink("lo0", "dummy")
        for bridge, interface, address, message in (
            ("br100", "eth1", None, "eth1 is a port of br7"),
            ("br100", "missing0", None, "no interface missing0"),
            ("br100", "br7", None, "cannot add bridge br7"),
            ("lo0", None, None, "lo0 exists and is not a bridge"),
        ):
            failure = self.failureResultOf(
                self.driver.ensureBridge(bridge, interface, address), NetworkDriverError
            )
            self.assertIn(message, str(failure.value))
        self.host.addresses["br7"].append(("10.9.0.1", 24))
        failure = self.failureResultOf(
            self.driver.ensureBridge("br7", None, "10.0.0.1/25"), NetworkDriverError
        )
        self.assertIn("has address 10.9.0.1/24", str(failure.value))

    def test_badNamesRunNothing(self):
        for args in (
            ("br 100", None, None),
            ("-br", None, None),
            ("br100", "a/b", None),
            ("averyveryverylongname", None, None),
            ("br100", None, "10.0.0.1"),
            ("br100", None, "10.0.0.300/24"),
        ):
            self.failureResultOf(self.driver.ensureBridge(*args), NetworkDriverError)
        self.assertEqual(self.host.commands(), [])

    def test_vlan(self):
        self.assertEqual(self.successResultOf(self.driver.ensureVlan(100, "eth0")), "vlan100")
        self.assertEqual(
            self.host.commands(),
            [
                ("ip", "-j", "-d", "link", "show", "dev", "vlan100"),
                ("ip", "link", "add", "link", "eth0", "name", "vlan100", "type", "vlan", "id", "100"),
                ("ip", "link", "set", "dev", "vlan100", "up"),
            ],
        )
        self.host.clear()
        self.assertEqual(self.successResultOf(self.driver.ensureVlan(100, "eth0")), "vlan100")
        self.assertEqual(self.host.commands(), [("ip", "-j", "-d", "link", "show", "dev", "vlan100")])
        self.failureResultOf(self.driver.ensureVlan(100, "eth9"), NetworkDriverError)
        self.failureResultOf(self.driver.ensureVlan(4095, "eth0"), NetworkDriverError)
        self.failureResultOf(self.driver.ensureVlan("100", "eth0"), NetworkDriverError)

    def test_vxlan(self):
        self.driver.config = self.config.replace(
            vxlan_group="239.1.1.1", vxlan_peers=("198.51.100.2", "198.51.100.3")
        )
        self.assertEqual(self.successResultOf(self.driver.ensureVxlan(100, "eth0")), "vxlan100")
        self.successResultOf(self.driver.ensureBridge("br100", "vxlan100", "10.0.0.1/25"))
        self.assertEqual(
            self.host.commands()[:6],
            [
                ("ip", "-j", "-d", "link", "show", "dev", "vxlan100"),
                ("ip", "link", "add", "vxlan100", "type", "vxlan", "id", "100", "dev", "eth0",
                 "dstport", "4789", "group", "239.1.1.1"),
                ("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan100", "dst", "198.51.100.2"),
                ("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan100", "dst", "198.51.100.3"),
                ("ip", "link", "set", "dev", "vxlan100", "up"),
                ("ip", "-j", "-d", "link", "show", "dev", "br100"),
            ],
        )
        self.assertEqual(self.host.links["vxlan100"]["master"], "br100")
        self.host.clear()
        self.successResultOf(self.driver.ensureVxlan(100, "eth0"))
        self.assertEqual(self.host.commands(), [("ip", "-j", "-d", "link", "show", "dev", "vxlan100")])
        self.driver.config = self.config.replace(vxlan_port=8472)
        failure = self.failureResultOf(self.driver.ensureVxlan(100, "eth0"), NetworkDriverError)
        self.assertIn("port 8472", str(failure.value))


class DhcpTests(DriverMixin, SynchronousTestCase):
    def setUp(self):
        DriverMixin.setUp(self)
        self.network = networkRecord(dns="10.0.0.1")
        self.successResultOf(self.driver.ensureBridge("br100", None, "10.0.0.1/25"))
        self.host.clear()

    def conf(self):
        with open(os.path.join(self.networksPath, "nova-br100.conf")) as f:
            return f.read()

    def expectedArgv(self, lease=120):
        return [
            "dnsmasq",
            "--strict-order",
            "--bind-interfaces",
            "--conf-file=",
            "--domain=novalocal",
            f"--pid-file={self.networksPath}/nova-br100.pid",
            "--listen-address=10.0.0.1",
            "--except-interface=lo",
            f"--dhcp-range=10.0.0.2,static,{lease}s",
            "--dhcp-lease-max=128",
            f"--dhcp-hostsfile={self.networksPath}/nova-br100.conf",
            "--dhcp-script=/opt/nova/bin/nova-dhcpbridge",
            "--leasefile-ro",
        ]

    def test_startsDnsmasq(self):
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.assertEqual(
            self.conf(),
            "02:16:3e:00:00:01,i-00000001,10.0.0.3\n02:16:3e:00:00:02,i-00000002,10.0.0.4\n",
        )
        self.assertEqual(
            self.host.commands(),
            [
                tuple(
                    ["env", "FLAGFILE=/etc/nova/dhcpbridge.conf", "DNSMASQ_INTERFACE=br100"]
                    + self.expectedArgv()
                )
            ],
        )
        [(pid, argv)] = self.host.processes.items()
        self.assertEqual(argv, self.expectedArgv())
        self.assertEqual(oct(os.stat(os.path.join(self.networksPath, "nova-br100.conf")).st_mode & 0o777), "0o644")

    def test_dnsOption(self):
        network = networkRecord(dns="8.8.4.4")
        self.assertEqual(
            self.driver.dnsmasqArgv(network)[-1], "--dhcp-option=option:dns-server,8.8.4.4"
        )

    def test_dnsmasqUser(self):
        self.driver.config = self.config.replace(dnsmasq_user="root")
        self.assertEqual(self.driver.dnsmasqArgv(self.network)[-1], "--user=root")
        self.driver.config = self.config.replace(dnsmasq_user="root --port=53")
        self.failureResultOf(self.driver.updateDhcp(self.network, HOSTS), NetworkDriverError)
        self.assertEqual(self.host.commands(), [])

    def test_unchangedDoesNothing(self):
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.host.clear()
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.assertEqual(self.host.commands(), [])

    def test_reloadOnChange(self):
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        [pid] = self.host.processes
        self.host.clear()
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS[:1]))
        self.assertEqual(self.host.commands(), [("kill", "-HUP", str(pid))])
        self.assertEqual(self.conf(), dhcpHostsText(HOSTS[:1]))
        self.assertEqual(list(self.host.processes), [pid])

    def test_restartOnNewOptions(self):
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        [pid] = self.host.processes
        self.host.clear()
        self.driver.config = self.config.replace(dhcp_lease_time=600)
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        commands = self.host.commands()
        self.assertEqual(commands[0], ("kill", "-TERM", str(pid)))
        self.assertIn("--dhcp-range=10.0.0.2,static,600s", commands[1])
        self.assertEqual(len(commands), 2)
        self.assertNotIn(pid, self.host.processes)
        self.assertEqual(len(self.host.processes), 1)

    def test_startAgainWhenGone(self):
        """
        A pid file whose process is gone (or is another program) does not
        stop dnsmasq from starting.
        """
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        [pid] = self.host.processes
        self.host.stop(pid)
        self.host.clear()
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.assertEqual(self.host.commands()[0][0], "env")
        [newPid] = self.host.processes
        self.host.stop(newPid)
        self.host.start(["sleep", "100"])
        with open(os.path.join(self.networksPath, "nova-br100.pid"), "w") as f:
            f.write(f"{self.host.nextPid - 1}\n")
        self.host.clear()
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.assertEqual(self.host.commands()[0][0], "env")

    def test_badHostsWriteNothing(self):
        for hosts in (
            [("02:16:3E:00:00:01", "a", "10.0.0.3")],
            [("02:16:3e:00:00:01", "a,b", "10.0.0.3")],
            [("02:16:3e:00:00:01", "a\nb", "10.0.0.3")],
            [("02:16:3e:00:00:01", "a", "10.0.1.3")],
            [("02:16:3e:00:00:01", "a", "10.0.0.3"), ("02:16:3e:00:00:01", "b", "10.0.0.4")],
        ):
            self.failureResultOf(self.driver.updateDhcp(self.network, hosts), NetworkDriverError)
        self.assertFalse(os.path.exists(os.path.join(self.networksPath, "nova-br100.conf")))
        self.assertEqual(self.host.commands(), [])

    def test_noFlagfile(self):
        self.driver.config = self.config.replace(dhcpbridge_flagfile="")
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.assertEqual(self.host.commands()[0][:3], ("env", "DNSMASQ_INTERFACE=br100", "dnsmasq"))

    def test_stopDhcp(self):
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        [pid] = self.host.processes
        self.host.clear()
        self.successResultOf(self.driver.stopDhcp(self.network))
        self.assertEqual(self.host.commands(), [("kill", "-TERM", str(pid))])
        self.assertEqual(self.host.processes, {})
        self.assertFalse(os.path.exists(os.path.join(self.networksPath, "nova-br100.pid")))
        self.host.clear()
        self.successResultOf(self.driver.stopDhcp(self.network))
        self.assertEqual(self.host.commands(), [])

    def test_releaseDhcp(self):
        """
        A lease is ended with dhcp_release on the bridge, only while the
        network's dnsmasq runs.
        """
        mac = HOSTS[0][0]
        self.successResultOf(self.driver.releaseDhcp(self.network, "10.0.0.3", mac))
        self.assertEqual(self.host.commands(), [])
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.host.clear()
        self.successResultOf(self.driver.releaseDhcp(self.network, "10.0.0.3", mac))
        self.assertEqual(self.host.commands(), [("dhcp_release", "br100", "10.0.0.3", mac)])
        self.assertEqual(self.host.releases, [("br100", "10.0.0.3", mac)])

    def test_releaseDhcpChecksArguments(self):
        self.successResultOf(self.driver.updateDhcp(self.network, HOSTS))
        self.host.clear()
        for address, mac in (("10.0.0.2; reboot", HOSTS[0][0]), ("10.0.0.2", "-o bad")):
            self.failureResultOf(
                self.driver.releaseDhcp(self.network, address, mac), NetworkDriverError
            )
        self.assertEqual(self.host.commands(), [])


class FloatingTests(DriverMixin, SynchronousTestCase):
    def test_bindAndUnbind(self):
        self.successResultOf(self.driver.bindFloatingIp("192.0.2.50", "eth9"))
        self.assertEqual(
            self.host.commands(),
            [
                ("ip", "-j", "addr", "show", "dev", "eth9"),
                ("ip", "addr", "add", "192.0.2.50/32", "dev", "eth9"),
            ],
        )
        self.assertEqual(self.host.addresses["eth9"], [("192.0.2.50", 32)])
        self.failureResultOf(self.driver.bindFloatingIp("192.0.2.50", "eth9"), NetworkDriverError)
        self.host.clear()
        self.successResultOf(self.driver.unbindFloatingIp("192.0.2.50", "eth9"))
        self.assertEqual(
            self.host.commands(),
            [
                ("ip", "-j", "addr", "show", "dev", "eth9"),
                ("ip", "addr", "del", "192.0.2.50/32", "dev", "eth9"),
            ],
        )
        self.failureResultOf(self.driver.unbindFloatingIp("192.0.2.50", "eth9"), NetworkDriverError)
        self.failureResultOf(self.driver.bindFloatingIp("192.0.2.500", "eth9"), NetworkDriverError)
        self.failureResultOf(self.driver.bindFloatingIp("192.0.2.5", "missing0"), NetworkDriverError)

    def test_forward(self):
        self.successResultOf(self.driver.ensureFloatingForward("192.0.2.50", "10.0.0.3"))
        self.assertEqual(self.host.commands(), SAVE_RESTORE)
        self.assertEqual(self.nat("PREROUTING"), ["-d 192.0.2.50/32 -j DNAT --to-destination 10.0.0.3"])
        self.assertEqual(self.nat("OUTPUT"), ["-d 192.0.2.50/32 -j DNAT --to-destination 10.0.0.3"])
        self.assertEqual(self.nat("float-snat"), ["-s 10.0.0.3/32 -j SNAT --to-source 192.0.2.50"])
        self.successResultOf(self.driver.ensureFloatingForward("192.0.2.50", "10.0.0.3"))
        self.assertEqual(len(self.nat("PREROUTING")), 1)
        failure = self.failureResultOf(
            self.driver.ensureFloatingForward("192.0.2.50", "10.0.0.4"), NetworkDriverError
        )
        self.assertIn("forwards to 10.0.0.3", str(failure.value))
        self.failureResultOf(
            self.driver.removeFloatingForward("192.0.2.50", "10.0.0.4"), NetworkDriverError
        )
        self.successResultOf(self.driver.removeFloatingForward("192.0.2.50", "10.0.0.3"))
        self.assertEqual(
            (self.nat("PREROUTING"), self.nat("OUTPUT"), self.nat("float-snat")), ([], [], [])
        )

    def test_vpnForward(self):
        self.successResultOf(self.driver.ensureVpnForward("192.0.2.1", 1000, "10.0.0.2"))
        self.assertEqual(
            self.nat("PREROUTING"),
            ["-d 192.0.2.1/32 -p udp -m udp --dport 1000 -j DNAT --to-destination 10.0.0.2:1194"],
        )
        self.assertEqual(
            self.filter("FORWARD"), ["-d 10.0.0.2/32 -p udp -m udp --dport 1194 -j ACCEPT"]
        )
        self.successResultOf(self.driver.ensureVpnForward("192.0.2.1", 1000, "10.0.0.2"))
        self.failureResultOf(
            self.driver.ensureVpnForward("192.0.2.1", 1000, "10.0.0.66"), NetworkDriverError
        )
        self.failureResultOf(
            self.driver.ensureVpnForward("192.0.2.1", 70000, "10.0.0.2"), NetworkDriverError
        )
