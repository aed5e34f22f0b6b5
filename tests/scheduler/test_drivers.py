"""
Tests for the scheduler drivers: L{ChanceScheduler} and L{SimpleScheduler}.
"""

import random

from twisted.internet import task
from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from nova import exception
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.drivers import loadDriver
from nova.scheduler.chance import ChanceScheduler
from nova.scheduler.driver import parseZone
from nova.scheduler.flags import SCHEDULER_DRIVERS
from nova.scheduler.interfaces import ISchedulerDriver
from nova.scheduler.simple import SimpleScheduler
from tests.compute.util import START, makeDatabase

USER = RequestContext(userId="alice", projectId="wonderland")
ADMIN = RequestContext(userId="root", projectId="ops", isAdmin=True)


class FakeVolumes:
    """
    Stands in for the volumes component: gigabytes of volumes per host.
    """

    def __init__(self, usage):
        self.usage = usage

    def gigabytesByHost(self):
        return succeed(dict(self.usage))


class SchedulerTestMixin:
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.config = configFromFlags(max_cores=4, max_gigabytes=100, service_down_time=60)
        self.db = makeDatabase(self, self.clock)
        self.zones = {}

    def register(self, host, topic="compute", zone="nova", disabled=False):
        self.zones[host] = zone
        binary = "nova-" + topic
        self.successResultOf(self.db.services.register(host, binary, topic, zone, disabled=disabled))

    def place(self, host, vcpus, state="running"):
        self.successResultOf(
            self.db.instances.create(
                reservation_id="r-1",
                project_id="p",
                user_id="u",
                instance_type="t",
                vcpus=vcpus,
                memory_mb=512,
                local_gb=0,
                host=host,
                state=state,
            )
        )

    def pick(self, topic="compute", context=USER, **request):
        request.setdefault("vcpus", 1)
        host, zone = self.successResultOf(self.driver.pickHost(context, topic, request))
        self.assertEqual(zone, self.zones[host])
        return host

    def refuse(self, topic="compute", context=USER, **request):
        request.setdefault("vcpus", 1)
        return self.failureResultOf(self.driver.pickHost(context, topic, request), exception.NoValidHost)


class CommonTests(SchedulerTestMixin):
    """
    What both drivers do.
    """

    def test_provides(self):
        verifyObject(ISchedulerDriver, self.driver)

    def test_noHosts(self):
        failure = self.refuse()
        self.assertEqual(str(failure.value), "no live, enabled compute host")
        self.assertEqual(failure.value.ec2Code, "InsufficientInstanceCapacity")

    def test_onlyLiveHosts(self):
        self.register("old")
        self.clock.advance(61)
        self.register("fresh")
        for _ in range(10):
            self.assertEqual(self.pick(), "fresh")
        self.clock.advance(61)
        self.refuse()

    def test_disabledSkipped(self):
        self.register("off", disabled=True)
        self.register("on")
        for _ in range(10):
            self.assertEqual(self.pick(), "on")

    def test_onlyTheTopic(self):
        self.register("vol", topic="volume")
        self.refuse()
        self.assertEqual(self.pick("volume", size=1), "vol")

    def test_zone(self):
        self.register("a", zone="east")
        self.register("b", zone="west")
        for _ in range(10):
            self.assertEqual(self.pick(availabilityZone="west"), "b")
        failure = self.refuse(availabilityZone="north")
        self.assertIn("in zone north", str(failure.value))

    def test_adminForcesHost(self):
        self.register("a")
        self.register("b", disabled=True)
        self.assertEqual(self.pick(context=ADMIN, availabilityZone="nova:b"), "b")
        self.assertEqual(self.pick(context=ADMIN, availabilityZone=":b"), "b")
        failure = self.refuse(context=ADMIN, availabilityZone="nova:zz")
        self.assertEqual(str(failure.value), "host zz is not up for compute")

    def test_forcedHostMustBeUp(self):
        self.register("a")
        self.clock.advance(61)
        self.refuse(context=ADMIN, availabilityZone="nova:a")

    def test_usersCannotForce(self):
        self.register("a")
        self.register("b", disabled=True)
        self.assertEqual(self.pick(context=USER, availabilityZone="nova:b"), "a")


class ChanceTests(CommonTests, SynchronousTestCase):
    def setUp(self):
        SchedulerTestMixin.setUp(self)
        self.driver = ChanceScheduler(self.config, self.db, self.clock, random.Random(3))

    def test_random(self):
        for host in ("a", "b", "c"):
            self.register(host)
        picked = {self.pick() for _ in range(50)}
        self.assertEqual(picked, {"a", "b", "c"})

    def test_ignoresLoad(self):
        self.register("a")
        self.place("a", 100)
        self.assertEqual(self.pick(), "a")


class SimpleTests(CommonTests, SynchronousTestCase):
    def setUp(self):
        SchedulerTestMixin.setUp(self)
        self.driver = SimpleScheduler(self.config, self.db, self.clock)

    def test_fewestCores(self):
        for host in ("a", "b", "c"):
            self.register(host)
        self.place("a", 1)
        self.place("b", 3)
        self.place("c", 2)
        self.assertEqual(self.pick(), "a")
        self.place("a", 2)
        self.assertEqual(self.pick(), "c")

    def test_terminatedDoNotCount(self):
        self.register("a")
        self.register("b")
        self.place("a", 4, state="terminated")
        self.place("b", 1)
        self.assertEqual(self.pick(), "a")

    def test_maxCores(self):
        self.register("a")
        self.place("a", 3)
        self.assertEqual(self.pick(vcpus=1), "a")
        failure = self.refuse(vcpus=2)
        self.assertEqual(str(failure.value), "all compute hosts have too many cores")

    def test_adminForceIgnoresMaxCores(self):
        self.register("a")
        self.place("a", 4)
        self.assertEqual(self.pick(context=ADMIN, availabilityZone="nova:a"), "a")

    def test_volumesByGigabytes(self):
        self.register("v1", topic="volume")
        self.register("v2", topic="volume")
        self.db.volumes = FakeVolumes({"v1": 50, "v2": 20})
        self.assertEqual(self.pick("volume", size=30), "v2")
        failure = self.refuse("volume", size=90)
        self.assertEqual(str(failure.value), "all volume hosts have too many gigabytes")

    def test_volumesWithoutVolumeComponent(self):
        self.register("v1", topic="volume")
        self.assertEqual(self.pick("volume", size=10), "v1")

    def test_otherTopics(self):
        self.register("n2", topic="network")
        self.register("n1", topic="network")
        self.assertEqual(self.pick("network"), "n1")

    def test_thousandHosts(self):
        """
        With 1,000 hosts (a third of them dead, some disabled) a hundred
        picks spread instances over live, enabled hosts, one each.
        """
        for number in range(1000):
            if number % 3 == 0:
                continue
            self.register("host%04d" % number, disabled=number % 10 == 1)
        self.clock.advance(50)
        for number in range(0, 1000, 3):
            self.register("host%04d" % number)
        self.clock.advance(20)
        # Now the hosts registered first are 70 s old: dead.  Only the
        # multiples of 3 are live.
        picked = []
        for _ in range(100):
            host = self.pick()
            picked.append(host)
            self.place(host, 1)
        self.assertEqual(len(set(picked)), 100)
        self.assertTrue(all(int(h[4:]) % 3 == 0 for h in picked))


class LoadTests(SchedulerTestMixin, SynchronousTestCase):
    def test_registry(self):
        for name, cls in (
            ("chance", ChanceScheduler),
            ("simple", SimpleScheduler),
            ("nova.scheduler.simple.SimpleScheduler", SimpleScheduler),
        ):
            driver = loadDriver(ISchedulerDriver, SCHEDULER_DRIVERS, name, self.config, db=self.db, clock=self.clock)
            self.assertIsInstance(driver, cls)
            self.assertIs(driver.db, self.db)


class ParseZoneTests(SynchronousTestCase):
    def test_parse(self):
        self.assertEqual(parseZone(USER, None), (None, None))
        self.assertEqual(parseZone(USER, "nova"), ("nova", None))
        self.assertEqual(parseZone(USER, "nova:h1"), ("nova", None))
        self.assertEqual(parseZone(ADMIN, "nova:h1"), ("nova", "h1"))
        self.assertEqual(parseZone(ADMIN, ":h1"), (None, "h1"))
        self.assertEqual(parseZone(ADMIN, "nova:"), ("nova", None))
