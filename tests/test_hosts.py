"""
Tests for L{nova.hosts.HostAPI}: zones, their availability, and hosts for
superusers only.
"""

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

from nova.db.services import ServiceStore
from nova.exception import NotAuthorized
from nova.hosts import AvailabilityZone, HostAPI, HostStatus
from tests.util import ADMIN, ALICE, START, createInstance, makeDatabase

DOWN_TIME = 60


class HostAPITests(SynchronousTestCase):
    def setUp(self):
        past = task.Clock()
        past.advance(START - 3600)
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = db = makeDatabase(self, self.clock)
        self.api = HostAPI(db, self.clock, DOWN_TIME)
        old = ServiceStore(db.transactor, past)
        for store, host, binary, zone, disabled in (
            (db.services, "host-a", "nova-compute", "nova", False),
            (db.services, "host-a", "nova-network", "nova", False),
            (old, "host-b", "nova-compute", "nova", False),
            (old, "host-c", "nova-compute", "east", False),
            (db.services, "host-d", "nova-volume", "west", True),
            (old, "host-e", "nova-volume", "south", False),
        ):
            self.ok(store.register(host, binary, binary[5:], zone, disabled=disabled))

    def ok(self, d):
        return self.successResultOf(d)

    def test_zoneNames(self):
        self.assertEqual(self.ok(self.api.zoneNames(ALICE)), {"nova", "east", "west", "south"})
        self.assertEqual(
            self.ok(self.api.zoneNames(ALICE, binary="nova-volume")), {"west", "south"}
        )
        self.assertEqual(
            self.ok(self.api.zoneNames(ALICE, binary="nova-volume", enabledOnly=True)),
            {"south"},
        )

    def test_describeAvailabilityZones(self):
        """
        A zone is available while an enabled service in it reports; a
        member sees no services.
        """
        zones = self.ok(self.api.describeAvailabilityZones(ALICE))
        self.assertEqual(
            zones,
            [
                AvailabilityZone("nova", True),
                AvailabilityZone("east", False),
                AvailabilityZone("west", False),
                AvailabilityZone("south", False),
            ],
        )

    def test_describeAvailabilityZonesSuperuser(self):
        zones = self.ok(self.api.describeAvailabilityZones(ADMIN))
        nova = zones[0]
        self.assertEqual(
            [(s.service.host, s.service.binary, s.up) for s in nova.services],
            [
                ("host-a", "nova-compute", True),
                ("host-a", "nova-network", True),
                ("host-b", "nova-compute", False),
            ],
        )
        west = zones[2]
        self.assertEqual([(s.service.disabled, s.up) for s in west.services], [(True, True)])

    def test_describeHosts(self):
        createInstance(self, self.db, host="host-a")
        createInstance(self, self.db, host="host-a")
        hosts = self.ok(self.api.describeHosts(ADMIN))
        self.assertEqual([h.host for h in hosts], ["host-a", "host-b", "host-c", "host-d", "host-e"])
        self.assertEqual(
            hosts[0], HostStatus("host-a", "nova", {"nova-compute": True, "nova-network": True}, 2)
        )
        self.assertEqual(hosts[1].services, {"nova-compute": False})
        self.assertEqual(
            self.ok(self.api.describeHosts(ADMIN, "host-c")),
            [HostStatus("host-c", "east", {"nova-compute": False}, 0)],
        )
        self.assertEqual(self.ok(self.api.describeHosts(ADMIN, "nowhere")), [])

    def test_describeHostsMembers(self):
        """
        Hosts are for superusers only.
        """
        self.failureResultOf(self.api.describeHosts(ALICE), NotAuthorized)
