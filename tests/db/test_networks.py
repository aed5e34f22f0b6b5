"""
Tests for L{nova.db.networks} on SQLite, PostgreSQL and MariaDB, including
concurrent claims through a thread-pool transactor.
"""

import itertools
from datetime import timedelta

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from nova import exception
from nova.config import configFromFlags
from nova.db.api import NovaDatabase
from nova.db.networks import (
    FixedIpInUse,
    FixedIpNotAssociated,
    FixedIpNotFound,
    FloatingIpExists,
    FloatingIpInUse,
    FloatingIpLimitReached,
    FloatingIpNotAssociated,
    FloatingIpNotFound,
    MacMismatch,
    NetworkExists,
    NetworkNotFound,
    NoMoreAddresses,
    NoMoreFloatingIps,
    NoMoreNetworks,
    VpnEndpointTaken,
)
from nova.db.services import utcnow
from nova.db.store import Transactor, openDatabase
from nova.network.manager import FlatManager, VlanManager
from tests.db.backends import BackendTestsMixin, backendCases, freshURI


def macs(prefix="02:16:3e:00:00"):
    counter = itertools.count(1)
    return lambda: "%s:%02x" % (prefix, next(counter) % 256)


class NetworkStoreMixin(BackendTestsMixin):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self):
        yield self.setUpDatabase()
        self.config = configFromFlags()
        self.store = self.db.networks

    def vlanPlans(self, cidr="10.0.0.0/24", num=2, size=64, vlanStart=100):
        return VlanManager.planNetworks(self.config, cidr, num, size, vlanStart)

    def flatPlans(self, cidr="10.0.0.0/28", num=1, size=16):
        return FlatManager.planNetworks(self.config, cidr, num, size)

    @defer.inlineCallbacks
    def instance(self, projectId="proj1", hostname=None):
        record = yield self.db.instances.create(
            reservation_id="r-00000001",
            project_id=projectId,
            user_id="u",
            instance_type="m1.tiny",
            vcpus=1,
            memory_mb=512,
            local_gb=0,
            hostname=hostname,
        )
        return record.id

    @defer.inlineCallbacks
    def test_createNetworks(self):
        networks = yield self.store.createNetworks(self.vlanPlans())
        self.assertEqual([(n.cidr, n.vlan, n.bridge) for n in networks], [("10.0.0.0/26", 100, "br100"), ("10.0.0.64/26", 101, "br101")])
        fixed = yield self.store.listFixedIps(networkId=networks[1].id)
        self.assertEqual(len(fixed), 64)
        self.assertEqual(
            [f.address for f in fixed if f.reserved], ["10.0.0.64", "10.0.0.65", "10.0.0.66", "10.0.0.127"]
        )
        self.assertEqual({(f.instance_id, f.allocated, f.leased) for f in fixed}, {(None, False, False)})
        listed = yield self.store.list()
        self.assertEqual(listed, networks)
        got = yield self.store.get(networks[0].id)
        self.assertEqual(got, networks[0])
        yield self.assertFailure(self.store.get(999), NetworkNotFound)

    @defer.inlineCallbacks
    def test_vpnPublicAddress(self):
        """
        A network's VPN endpoint changes (the address alone, or with the
        port); two networks' VPNs are never reached on the same address and
        port.
        """
        first, second = yield self.store.createNetworks(self.vlanPlans())
        self.assertEqual((first.vpn_public_port, second.vpn_public_port), (1000, 1001))
        changed = yield self.store.setVpnPublicAddress(first.id, "198.51.100.7")
        self.assertEqual((changed.vpn_public_address, changed.vpn_public_port), ("198.51.100.7", 1000))
        changed = yield self.store.setVpnPublicAddress(second.id, "198.51.100.7")
        self.assertEqual((changed.vpn_public_address, changed.vpn_public_port), ("198.51.100.7", 1001))
        yield self.assertFailure(
            self.store.setVpnPublicAddress(second.id, "198.51.100.7", 1000), VpnEndpointTaken
        )
        changed = yield self.store.setVpnPublicAddress(second.id, "198.51.100.8", 1000)
        self.assertEqual((changed.vpn_public_address, changed.vpn_public_port), ("198.51.100.8", 1000))
        got = yield self.store.get(second.id)
        self.assertEqual(got, changed)
        yield self.assertFailure(self.store.setVpnPublicAddress(999, "198.51.100.9"), NetworkNotFound)

    @defer.inlineCallbacks
    def test_createRefusesOverlapAndVlans(self):
        yield self.store.createNetworks(self.vlanPlans())
        yield self.assertFailure(self.store.createNetworks(self.vlanPlans("10.0.0.32/27", 1, 32, 300)), NetworkExists)
        yield self.assertFailure(self.store.createNetworks(self.vlanPlans("10.1.0.0/24", 2, 64, 101)), NetworkExists)
        # All or nothing: the first plan of a refused batch was not added.
        listed = yield self.store.list()
        self.assertEqual(len(listed), 2)
        yield self.assertFailure(
            self.store.createNetworks(self.vlanPlans("10.2.0.0/24", 1, 64, 100) + self.vlanPlans("10.3.0.0/24", 1, 64, 100)),
            NetworkExists,
        )
        fixed = yield self.store.listFixedIps()
        self.assertEqual(len(fixed), 128)

    @defer.inlineCallbacks
    def test_largeNetwork(self):
        [network] = yield self.store.createNetworks(self.flatPlans("10.8.0.0/22", 1, 1024))
        fixed = yield self.store.listFixedIps(networkId=network.id)
        self.assertEqual(len(fixed), 1024)
        self.assertEqual(fixed[-1].address, "10.8.3.255")

    @defer.inlineCallbacks
    def test_claimHost(self):
        [network] = yield self.store.createNetworks(self.flatPlans())
        first = yield self.store.claimHost(network.id, "h1")
        second = yield self.store.claimHost(network.id, "h2")
        self.assertEqual((first.host, second.host), ("h1", "h1"))
        served = yield self.store.list(host="h1")
        self.assertEqual([n.id for n in served], [network.id])
        yield self.assertFailure(self.store.claimHost(999, "h1"), NetworkNotFound)

    @defer.inlineCallbacks
    def test_associateProject(self):
        yield self.store.createNetworks(self.flatPlans("10.9.0.0/28"))
        a, b = yield self.store.createNetworks(self.vlanPlans())
        got = yield self.store.associateProject("p1")
        self.assertEqual((got.id, got.project_id), (a.id, "p1"))
        again = yield self.store.associateProject("p1")
        self.assertEqual(again.id, a.id)
        other = yield self.store.associateProject("p2")
        self.assertEqual(other.id, b.id)
        # Flat networks are never a project's.
        yield self.assertFailure(self.store.associateProject("p3"), NoMoreNetworks)
        mine = yield self.store.getForProject("p2")
        self.assertEqual(mine.id, b.id)
        yield self.store.disassociateProject("p2")
        yield self.assertFailure(self.store.getForProject("p2"), NetworkNotFound)
        third = yield self.store.associateProject("p3")
        self.assertEqual(third.id, b.id)

    @defer.inlineCallbacks
    def test_allocateFixedIp(self):
        [network] = yield self.store.createNetworks(self.flatPlans())
        instances = []
        for _ in range(14):
            instances.append((yield self.instance()))
        factory = macs()
        addresses = []
        for instanceId in instances[:13]:
            fixed = yield self.store.allocateFixedIp(network.id, instanceId, factory)
            self.assertEqual((fixed.instance_id, fixed.allocated, fixed.leased), (instanceId, True, False))
            addresses.append(fixed.address)
        self.assertEqual(addresses, [f"10.0.0.{n}" for n in range(2, 15)])
        yield self.assertFailure(self.store.allocateFixedIp(network.id, instances[13], factory), NoMoreAddresses)
        yield self.assertFailure(self.store.firstWithFreeAddress(), NoMoreAddresses)

    @defer.inlineCallbacks
    def test_macsUnique(self):
        [network] = yield self.store.createNetworks(self.flatPlans())
        a = yield self.instance()
        b = yield self.instance()
        offered = iter(["02:16:3e:00:00:01", "02:16:3e:00:00:01", "02:16:3e:00:00:02"])
        first = yield self.store.allocateFixedIp(network.id, a, lambda: next(offered))
        second = yield self.store.allocateFixedIp(network.id, b, lambda: next(offered))
        self.assertEqual((first.mac_address, second.mac_address), ("02:16:3e:00:00:01", "02:16:3e:00:00:02"))
        c = yield self.instance()
        yield self.assertFailure(
            self.store.allocateFixedIp(network.id, c, lambda: "02:16:3e:00:00:01"), exception.NovaError
        )

    @defer.inlineCallbacks
    def test_allocateAgain(self):
        """
        An instance that already has an address of the network gets that
        one again, whatever MAC is offered; once deallocated, a new one.
        """
        [network] = yield self.store.createNetworks(self.flatPlans())
        a = yield self.instance()
        first = yield self.store.allocateFixedIp(network.id, a, macs())
        again = yield self.store.allocateFixedIp(network.id, a, lambda: first.mac_address)
        self.assertEqual(again, first)
        yield self.store.deallocateFixedIp(first.address, disassociate=True)
        other = yield self.store.allocateFixedIp(network.id, a, macs("02:16:3e:00:09"))
        self.assertEqual((other.instance_id, other.allocated), (a, True))
        self.assertEqual(other.mac_address[:14], "02:16:3e:00:09")

    @defer.inlineCallbacks
    def test_associateFixedIp(self):
        [network] = yield self.store.createNetworks(self.vlanPlans(num=1))
        a = yield self.instance()
        b = yield self.instance()
        fixed = yield self.store.associateFixedIp("10.0.0.2", a, macs())
        self.assertEqual((fixed.instance_id, fixed.reserved, fixed.allocated), (a, True, True))
        again = yield self.store.associateFixedIp("10.0.0.2", a, macs())
        self.assertEqual(again.mac_address, fixed.mac_address)
        yield self.assertFailure(self.store.associateFixedIp("10.0.0.2", b, macs("02:16:3e:00:01")), FixedIpInUse)
        yield self.assertFailure(self.store.associateFixedIp("10.9.9.9", b, macs()), FixedIpNotFound)

    @defer.inlineCallbacks
    def test_leaseReleaseDeallocate(self):
        [network] = yield self.store.createNetworks(self.flatPlans())
        a = yield self.instance()
        fixed = yield self.store.allocateFixedIp(network.id, a, macs())
        mac = fixed.mac_address
        yield self.assertFailure(self.store.leaseFixedIp(fixed.address, "02:16:3e:7f:7f:7f"), MacMismatch)
        yield self.assertFailure(self.store.leaseFixedIp("10.0.0.9", mac), FixedIpNotAssociated)
        yield self.assertFailure(self.store.releaseFixedIp("10.9.0.9", mac), FixedIpNotFound)
        leased = yield self.store.leaseFixedIp(fixed.address, mac.upper())
        self.assertTrue(leased.leased)
        # Released while allocated: kept.
        before = yield self.store.releaseFixedIp(fixed.address, mac)
        self.assertTrue(before.leased)
        now = yield self.store.getFixedIp(fixed.address)
        self.assertEqual((now.leased, now.instance_id), (False, a))
        yield self.store.leaseFixedIp(fixed.address, mac)
        dealloc = yield self.store.deallocateFixedIp(fixed.address, disassociate=False)
        self.assertEqual((dealloc.allocated, dealloc.instance_id, dealloc.leased), (False, a, True))
        yield self.store.releaseFixedIp(fixed.address, mac)
        now = yield self.store.getFixedIp(fixed.address)
        self.assertEqual((now.instance_id, now.mac_address, now.leased), (None, None, False))
        again = yield self.store.allocateFixedIp(network.id, a, macs())
        freed = yield self.store.deallocateFixedIp(again.address, disassociate=True)
        self.assertEqual((freed.instance_id, freed.allocated), (None, False))
        yield self.assertFailure(self.store.deallocateFixedIp("10.9.9.9", True), FixedIpNotFound)

    @defer.inlineCallbacks
    def test_disassociateTimedOut(self):
        one, two = yield self.store.createNetworks(self.flatPlans("10.0.0.0/27", 2, 16))
        yield self.store.claimHost(one.id, "h1")
        yield self.store.claimHost(two.id, "h2")
        ids = []
        for _ in range(4):
            ids.append((yield self.instance()))
        factory = macs()
        old = yield self.store.allocateFixedIp(one.id, ids[0], factory)
        leased = yield self.store.allocateFixedIp(one.id, ids[1], factory)
        yield self.store.allocateFixedIp(one.id, ids[2], factory)
        elsewhere = yield self.store.allocateFixedIp(two.id, ids[3], factory)
        yield self.store.leaseFixedIp(leased.address, leased.mac_address)
        for record in (old, leased, elsewhere):
            yield self.store.deallocateFixedIp(record.address, disassociate=False)
        cutoff = utcnow(self.clock)
        freed = yield self.store.disassociateTimedOut("h1", cutoff)
        self.assertEqual(freed, [])
        self.clock.advance(10)
        freed = yield self.store.disassociateTimedOut("h1", utcnow(self.clock) - timedelta(seconds=5))
        self.assertEqual([(f.address, f.instance_id) for f in freed], [(old.address, ids[0])])
        now = yield self.store.getFixedIp(old.address)
        self.assertIsNone(now.instance_id)
        kept = yield self.store.getFixedIp(elsewhere.address)
        self.assertEqual(kept.instance_id, ids[3])
        freed = yield self.store.disassociateTimedOut("nobody", utcnow(self.clock))
        self.assertEqual(freed, [])

    @defer.inlineCallbacks
    def test_dhcpHosts(self):
        [network] = yield self.store.createNetworks(self.flatPlans())
        a = yield self.instance(hostname="web1")
        b = yield self.instance()
        fa = yield self.store.allocateFixedIp(network.id, a, macs())
        fb = yield self.store.allocateFixedIp(network.id, b, macs("02:16:3e:00:01"))
        hosts = yield self.store.dhcpHosts(network.id)
        self.assertEqual(
            hosts, [(fa.mac_address, "web1", fa.address), (fb.mac_address, "i-%08x" % (b,), fb.address)]
        )
        # An address still tied to an instance whose row is gone keeps its
        # lease under the instance's EC2 id.
        gone = b + 1000
        fc = yield self.store.allocateFixedIp(network.id, gone, macs("02:16:3e:00:02"))
        hosts = yield self.store.dhcpHosts(network.id)
        self.assertEqual(hosts[-1], (fc.mac_address, "i-%08x" % (gone,), fc.address))

    @defer.inlineCallbacks
    def test_floating(self):
        count = yield self.store.createFloatingIps("h1", ["4.4.4.1", "4.4.4.2"])
        self.assertEqual(count, 2)
        yield self.store.createFloatingIps("h2", ["5.5.5.1"])
        yield self.assertFailure(self.store.createFloatingIps("h2", ["5.5.5.2", "4.4.4.2"]), FloatingIpExists)
        listed = yield self.store.listFloatingIps()
        self.assertEqual([r.address for r in listed], ["4.4.4.1", "4.4.4.2", "5.5.5.1"])
        got = yield self.store.allocateFloatingIp("p1", "h2", 2)
        self.assertEqual((got.address, got.project_id, got.host), ("5.5.5.1", "p1", "h2"))
        got = yield self.store.allocateFloatingIp("p1", "h2", 2)
        self.assertEqual(got.address, "4.4.4.1")
        yield self.assertFailure(self.store.allocateFloatingIp("p1", "h2", 2), FloatingIpLimitReached)
        got = yield self.store.allocateFloatingIp("p2", "h1", -1)
        self.assertEqual(got.address, "4.4.4.2")
        yield self.assertFailure(self.store.allocateFloatingIp("p3", "h1", -1), NoMoreFloatingIps)
        mine = yield self.store.listFloatingIps(projectId="p1")
        self.assertEqual([r.address for r in mine], ["4.4.4.1", "5.5.5.1"])
        onHost = yield self.store.listFloatingIps(host="h1")
        self.assertEqual([r.address for r in onHost], ["4.4.4.1", "4.4.4.2"])
        yield self.assertFailure(self.store.deleteFloatingIps(["4.4.4.1"]), FloatingIpInUse)
        before = yield self.store.releaseFloatingIp("4.4.4.1")
        self.assertEqual(before.project_id, "p1")
        removed = yield self.store.deleteFloatingIps(["4.4.4.1", "9.9.9.9"])
        self.assertEqual(removed, 1)
        yield self.assertFailure(self.store.getFloatingIp("4.4.4.1"), FloatingIpNotFound)
        yield self.assertFailure(self.store.releaseFloatingIp("4.4.4.1"), FloatingIpNotFound)

    @defer.inlineCallbacks
    def test_associateFloating(self):
        [network] = yield self.store.createNetworks(self.flatPlans())
        a = yield self.instance()
        fixed = yield self.store.allocateFixedIp(network.id, a, macs())
        yield self.store.createFloatingIps("h1", ["4.4.4.1", "4.4.4.2"])
        yield self.store.allocateFloatingIp("p1", "h1", -1)
        record = yield self.store.associateFloatingIp("4.4.4.1", fixed.address)
        self.assertEqual((record.fixed_address, record.instance_id), (fixed.address, a))
        again = yield self.store.associateFloatingIp("4.4.4.1", fixed.address)
        self.assertEqual(again.fixed_ip_id, record.fixed_ip_id)
        yield self.assertFailure(self.store.associateFloatingIp("4.4.4.1", "10.0.0.3"), FloatingIpInUse)
        yield self.assertFailure(self.store.associateFloatingIp("4.4.4.2", "10.9.9.9"), FixedIpNotFound)
        yield self.assertFailure(self.store.associateFloatingIp("4.9.9.9", fixed.address), FloatingIpNotFound)
        byFixed = yield self.store.listFloatingIps(fixedAddress=fixed.address)
        self.assertEqual([r.address for r in byFixed], ["4.4.4.1"])
        associated = yield self.store.listFloatingIps(associated=True)
        self.assertEqual([r.address for r in associated], ["4.4.4.1"])
        self.assertEqual(
            [(r.address, r.fixed_address, r.instance_id) for r in associated],
            [("4.4.4.1", fixed.address, a)],
        )
        free = yield self.store.listFloatingIps(associated=False)
        self.assertEqual([r.address for r in free], ["4.4.4.2"])
        nothing = yield self.store.listFloatingIps(fixedAddress="10.9.9.9")
        self.assertEqual(nothing, [])
        yield self.assertFailure(self.store.releaseFloatingIp("4.4.4.1"), FloatingIpInUse)
        before = yield self.store.disassociateFloatingIp("4.4.4.1")
        self.assertEqual(before.fixed_address, fixed.address)
        yield self.assertFailure(self.store.disassociateFloatingIp("4.4.4.1"), FloatingIpNotAssociated)

    # Concurrency: real threads, a fresh transactor with four of them.

    def concurrentDatabase(self):
        transactor = Transactor(openDatabase(freshURI(self, self.backend)), reactor, maxThreads=4)
        transactor.startService()
        self.addCleanup(transactor.stopService)
        return NovaDatabase(transactor, self.clock)

    @defer.inlineCallbacks
    def test_concurrentFixedAllocations(self):
        db = self.concurrentDatabase()
        yield db.sync()
        [network] = yield db.networks.createNetworks(self.flatPlans("10.0.0.0/26", 1, 64))
        ids = []
        for n in range(40):
            record = yield db.instances.create(
                reservation_id="r-1", project_id="p", user_id="u", instance_type="t", vcpus=1, memory_mb=1, local_gb=0
            )
            ids.append(record.id)
        counter = itertools.count(1)
        factory = lambda: "02:16:3e:%02x:%02x:%02x" % (0, 0, next(counter) % 256)  # noqa: E731
        results = yield defer.gatherResults(
            [db.networks.allocateFixedIp(network.id, i, factory) for i in ids], consumeErrors=True
        )
        self.assertEqual(len({r.address for r in results}), 40)
        self.assertEqual(sorted(r.instance_id for r in results), ids)
        stored = yield db.networks.listFixedIps(networkId=network.id)
        owners = [f.instance_id for f in stored if f.instance_id is not None]
        self.assertEqual(sorted(owners), ids)

    @defer.inlineCallbacks
    def test_concurrentClaims(self):
        db = self.concurrentDatabase()
        yield db.sync()
        networks = yield db.networks.createNetworks(self.vlanPlans("10.0.0.0/24", 4, 64))
        claims = yield defer.gatherResults(
            [db.networks.claimHost(networks[0].id, f"h{n}") for n in range(8)], consumeErrors=True
        )
        self.assertEqual(len({c.host for c in claims}), 1)
        projects = yield defer.DeferredList(
            [db.networks.associateProject(f"p{n}") for n in range(7)], consumeErrors=True
        )
        won = [r.project_id for ok, r in projects if ok]
        lost = [r for ok, r in projects if not ok]
        self.assertEqual(len(won), 4)
        self.assertEqual(len(lost), 3)
        for failure in lost:
            failure.trap(NoMoreNetworks)
        listed = yield db.networks.list()
        self.assertEqual(sorted(n.project_id for n in listed), sorted(won))

    @defer.inlineCallbacks
    def test_concurrentFloatingAllocations(self):
        db = self.concurrentDatabase()
        yield db.sync()
        yield db.networks.createFloatingIps("h1", [f"4.4.4.{n}" for n in range(1, 21)])
        results = yield defer.gatherResults(
            [db.networks.allocateFloatingIp(f"p{n}", "h1", -1) for n in range(20)], consumeErrors=True
        )
        self.assertEqual(len({r.address for r in results}), 20)
        self.assertEqual(sorted(r.project_id for r in results), sorted(f"p{n}" for n in range(20)))


backendCases(NetworkStoreMixin, TestCase, globals(), "NetworkStore")

