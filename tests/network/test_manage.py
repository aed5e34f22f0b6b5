"""
Tests for L{nova.network.manage}: C{nova-manage network} and
C{nova-manage floating}.
"""

import io
import os

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from nova.manage import run


class ManageNetworkTests(TestCase):
    def setUp(self):
        self.state = os.path.abspath(self.mktemp())
        return self.manage("db", "sync")

    @defer.inlineCallbacks
    def manage(self, *argv, flags=()):
        out, err = io.StringIO(), io.StringIO()
        code = yield run(reactor, [f"--state_path={self.state}", *flags, *argv], out, err)
        return code, out.getvalue(), err.getvalue()

    def rows(self, out):
        return [line.split() for line in out.splitlines()[1:]]

    @defer.inlineCallbacks
    def test_createVlanNetworks(self):
        flags = ["--network_manager=vlan", "--vlan_interface=eth2"]
        code, out, err = yield self.manage("network", "create", "10.0.0.0/16", "3", "64", "200", "3000", flags=flags)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, "created 3 vlan network(s): 10.0.0.0/26 to 10.0.0.128/26\n")
        code, out, _ = yield self.manage("network", "list", flags=flags)
        self.assertEqual(
            out.splitlines()[0].split(),
            ["Id", "Network", "Netmask", "Gateway", "Dhcp_Start", "DNS", "Bridge", "Vlan", "Vpn_Port", "Project", "Host"],
        )
        self.assertEqual(
            self.rows(out)[2],
            ["3", "10.0.0.128/26", "255.255.255.192", "10.0.0.129", "10.0.0.131", "10.0.0.129", "br202", "202", "3002", "-", "-"],
        )
        # Overlapping or repeated VLANs are refused, adding nothing.
        code, _, err = yield self.manage("network", "create", "10.0.0.128/25", "1", "128", "300", flags=flags)
        self.assertEqual(code, 1)
        self.assertIn("overlaps", err)
        code, _, err = yield self.manage("network", "create", "10.1.0.0/24", "1", "256", "202", flags=flags)
        self.assertEqual(code, 1)
        self.assertIn("vlan 202 is taken", err)
        code, out, _ = yield self.manage("network", "list", flags=flags)
        self.assertEqual(len(self.rows(out)), 3)

    @defer.inlineCallbacks
    def test_createFlatFromFlags(self):
        flags = ["--fixed_range=10.5.0.0/24", "--num_networks=2", "--network_size=128", "--flat_network_bridge=br9"]
        code, out, err = yield self.manage("network", "create", flags=flags)
        self.assertEqual((code, err), (0, ""))
        code, out, _ = yield self.manage("network", "list")
        self.assertEqual(
            [(row[1], row[6], row[7]) for row in self.rows(out)],
            [("10.5.0.0/25", "br9", "-"), ("10.5.0.128/25", "br9", "-")],
        )
        from nova.db.api import inlineDatabase

        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        fixed = yield db.networks.listFixedIps(networkId=1)
        db.transactor.close()
        self.assertEqual(len(fixed), 128)
        self.assertEqual(
            [f.address for f in fixed if f.reserved], ["10.5.0.0", "10.5.0.1", "10.5.0.127"]
        )

    @defer.inlineCallbacks
    def test_badSizes(self):
        code, _, err = yield self.manage("network", "create", "10.0.0.0/24", "4", "128")
        self.assertEqual(code, 1)
        self.assertIn("do not fit", err)
        code, _, err = yield self.manage("network", "create", "10.0.0.0/24", "1", "100")
        self.assertEqual(code, 1)
        self.assertIn("power of two", err)

    @defer.inlineCallbacks
    def test_floating(self):
        code, out, err = yield self.manage("floating", "create", "net1", "4.4.4.0/29")
        self.assertEqual((code, out, err), (0, "created 6 floating address(es) on net1\n", ""))
        code, out, _ = yield self.manage("floating", "create", "net2", "5.5.5.5")
        self.assertEqual(out, "created 1 floating address(es) on net2\n")
        code, _, err = yield self.manage("floating", "create", "net2", "4.4.4.1")
        self.assertEqual((code, err), (1, "error: floating address 4.4.4.1 exists\n"))
        code, out, _ = yield self.manage("floating", "list")
        self.assertEqual(out.splitlines()[0].split(), ["Host", "Address", "Instance", "Fixed", "Project"])
        self.assertEqual(len(self.rows(out)), 7)
        self.assertEqual(self.rows(out)[0], ["net1", "4.4.4.1", "-", "-", "-"])
        code, out, _ = yield self.manage("floating", "list", "net2")
        self.assertEqual(self.rows(out), [["net2", "5.5.5.5", "-", "-", "-"]])
        code, out, _ = yield self.manage("floating", "delete", "4.4.4.0/30")
        self.assertEqual((code, out), (0, "deleted 2 floating address(es)\n"))
        code, out, _ = yield self.manage("floating", "list")
        self.assertEqual(len(self.rows(out)), 5)
        code, _, err = yield self.manage("floating", "create", "net1", "nonsense")
        self.assertEqual(code, 1)

    @defer.inlineCallbacks
    def test_floatingDeleteRefusesHeld(self):
        from nova.db.api import inlineDatabase

        yield self.manage("floating", "create", "net1", "4.4.4.1")
        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        yield db.networks.allocateFloatingIp("proj1", "net1", 10)
        db.transactor.close()
        code, _, err = yield self.manage("floating", "delete", "4.4.4.1")
        self.assertEqual((code, err), (1, "error: floating address 4.4.4.1 is allocated to project proj1\n"))
        code, out, _ = yield self.manage("floating", "list")
        self.assertEqual(self.rows(out), [["net1", "4.4.4.1", "-", "-", "proj1"]])

    @defer.inlineCallbacks
    def test_usage(self):
        code, _, err = yield self.manage("network")
        self.assertEqual(code, 2)
        self.assertIn("network create [fixed_range] [num_networks] [network_size] [vlan_start] [vpn_start]", err)
        code, _, err = yield self.manage("floating")
        self.assertIn("floating create <host> [ip_range]", err)
