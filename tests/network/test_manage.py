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
    def test_fixedList(self):
        from nova.db.api import inlineDatabase

        yield self.manage("network", "create", "10.7.0.0/28", "1", "16")
        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        sizes = dict(instance_type="m1.tiny", vcpus=1, memory_mb=512, local_gb=0)
        one = yield db.instances.create(
            reservation_id="r", project_id="p", user_id="u", host="h1", hostname="web", **sizes
        )
        two = yield db.instances.create(
            reservation_id="r", project_id="p", user_id="u", host="h2", hostname="db", **sizes
        )
        for instance in (one, two):
            yield db.networks.allocateFixedIp(1, instance.id, lambda: "02:16:3e:00:00:%02x" % (instance.id,))
        db.transactor.close()
        code, out, _ = yield self.manage("fixed", "list")
        self.assertEqual(code, 0)
        self.assertEqual(
            out.splitlines()[0].split(), ["Network", "Address", "MAC_Address", "Hostname", "Host", "Instance"]
        )
        rows = self.rows(out)
        self.assertEqual(len(rows), 16)
        self.assertEqual(rows[0], ["10.7.0.0/28", "10.7.0.0", "-", "-", "-", "reserved"])
        held = [row for row in rows if row[5].startswith("i-")]
        self.assertEqual(
            [(row[3], row[4], row[5]) for row in held],
            [("web", "h1", "i-00000001"), ("db", "h2", "i-00000002")],
        )
        self.assertEqual(held[0][2], "02:16:3e:00:00:01")
        code, out, _ = yield self.manage("fixed", "list", "h2")
        self.assertEqual([row[3:] for row in self.rows(out)], [["db", "h2", "i-00000002"]])

    @defer.inlineCallbacks
    def test_networkDelete(self):
        from nova.db.api import inlineDatabase

        flags = ["--network_manager=vlan", "--vlan_interface=eth2"]
        yield self.manage("network", "create", "10.7.0.0/24", "2", "128", "100", flags=flags)
        code, out, err = yield self.manage("network", "delete", "10.7.0.128/25")
        self.assertEqual((code, out, err), (0, "network 10.7.0.128/25 deleted\n", ""))
        code, out, _ = yield self.manage("network", "list")
        self.assertEqual([row[1] for row in self.rows(out)], ["10.7.0.0/25"])
        code, out, _ = yield self.manage("fixed", "list")
        self.assertEqual(len(self.rows(out)), 128)
        code, _, err = yield self.manage("network", "delete", "10.7.0.128/25")
        self.assertEqual((code, err), (1, "error: no network 10.7.0.128/25\n"))
        code, _, err = yield self.manage("network", "delete", "nonsense")
        self.assertEqual((code, err), (1, "error: bad network range 'nonsense'\n"))
        # Refused while an instance holds an address, or a project the network.
        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        instance = yield db.instances.create(
            reservation_id="r", project_id="p", user_id="u", instance_type="m1.tiny", vcpus=1,
            memory_mb=512, local_gb=0,
        )
        fixed = yield db.networks.allocateFixedIp(1, instance.id, lambda: "02:16:3e:00:00:01")
        code, _, err = yield self.manage("network", "delete", "10.7.0.0/25")
        self.assertEqual(code, 1)
        self.assertIn("has addresses in use (1)", err)
        yield db.networks.deallocateFixedIp(fixed.address, True)
        yield db.networks.associateProject("proj1")
        db.transactor.close()
        code, _, err = yield self.manage("network", "delete", "10.7.0.0/25")
        self.assertEqual(code, 1)
        self.assertIn("belongs to project proj1", err)
        code, out, _ = yield self.manage("project", "scrub", "proj1")
        self.assertEqual(code, 0)
        code, out, err = yield self.manage("network", "delete", "10.7.0.0/25")
        self.assertEqual((code, out, err), (0, "network 10.7.0.0/25 deleted\n", ""))

    @defer.inlineCallbacks
    def test_usage(self):
        code, _, err = yield self.manage("network")
        self.assertEqual(code, 2)
        self.assertIn("network create [fixed_range] [num_networks] [network_size] [vlan_start] [vpn_start]", err)
        code, _, err = yield self.manage("floating")
        self.assertIn("floating create <host> [ip_range]", err)
