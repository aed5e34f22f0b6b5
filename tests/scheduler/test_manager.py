"""
Tests for L{nova.scheduler.manager.SchedulerManager}.
"""

from datetime import timedelta

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.compute import states
from nova.config import configFromFlags
from nova.db.services import utcnow
from nova.manager import exposedMethods
from nova.rpc.local import LocalRPC
from nova.scheduler.chance import ChanceScheduler
from nova.scheduler.manager import SchedulerManager
from nova.scheduler.simple import SimpleScheduler
from tests.util import ADMIN, ALICE, START, createInstance, makeDatabase


class SchedulerManagerTests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.config = configFromFlags(host="s1", scheduler_driver="simple", max_cores=2)
        self.db = makeDatabase(self, self.clock)
        self.rpc = LocalRPC(self.clock)
        self.manager = SchedulerManager(self.config, self.db, self.rpc, self.clock)

    def register(self, host, topic="compute", zone="nova"):
        self.successResultOf(self.db.services.register(host, "nova-" + topic, topic, zone))

    def create(self, **fields):
        return createInstance(self, self.db, **fields)

    def get(self, instanceId):
        return self.successResultOf(self.db.instances.get(instanceId))

    def test_exposed(self):
        self.assertEqual(set(exposedMethods(self.manager)), {"ping", "runInstance", "createVolume"})

    def test_driverFromConfig(self):
        self.assertIsInstance(self.manager.driver, SimpleScheduler)
        manager = SchedulerManager(
            self.config.replace(scheduler_driver="chance"), self.db, self.rpc, self.clock
        )
        self.assertIsInstance(manager.driver, ChanceScheduler)

    def test_runInstanceCastsToHost(self):
        self.register("h1", zone="east")
        instance = self.create()
        host = self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        self.assertEqual(host, "h1")
        scheduled = self.get(instance.id)
        self.assertEqual((scheduled.host, scheduled.availability_zone, scheduled.state), ("h1", "east", states.PENDING))
        self.assertEqual(self.rpc.sent, [("cast", "compute.h1", "runInstance", {"instanceId": instance.id})])

    def test_noValidHost(self):
        instance = self.create()
        self.assertIsNone(self.successResultOf(self.manager.runInstance(ALICE, instance.id)))
        failed = self.get(instance.id)
        self.assertEqual(failed.state, states.ERROR)
        self.assertEqual(failed.state_description, "no valid host: no live, enabled compute host")
        self.assertEqual(self.rpc.sent, [])

    def test_tooManyCores(self):
        self.register("h1")
        instance = self.create(vcpus=4)
        self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state_description, "no valid host: all compute hosts have too many cores")

    def test_notPendingIgnored(self):
        self.register("h1")
        terminated = self.create(state=states.TERMINATED)
        placed = self.create(host="h9")
        for instance in (terminated, placed):
            self.assertIsNone(self.successResultOf(self.manager.runInstance(ALICE, instance.id)))
        self.assertEqual(self.rpc.sent, [])
        self.assertEqual(self.get(terminated.id).state, states.TERMINATED)
        self.assertEqual(self.get(placed.id).host, "h9")

    def test_missingInstanceIgnored(self):
        self.register("h1")
        self.assertIsNone(self.successResultOf(self.manager.runInstance(ALICE, 999)))

    def test_zoneFromRequestOrInstance(self):
        self.register("a", zone="east")
        self.register("b", zone="west")
        first = self.create(availability_zone="west")
        self.assertEqual(self.successResultOf(self.manager.runInstance(ALICE, first.id)), "b")
        second = self.create()
        self.assertEqual(self.successResultOf(self.manager.runInstance(ADMIN, second.id, "x:a")), "a")

    def test_createVolume(self):
        self.register("v1", topic="volume")
        host = self.successResultOf(self.manager.createVolume(ALICE, 7, 10))
        self.assertEqual(host, "v1")
        self.assertEqual(self.rpc.sent, [("cast", "volume.v1", "createVolume", {"volumeId": 7})])

    def test_createVolumeNoHost(self):
        """
        A volume no host can take goes to C{error} with the reason (the
        request was cast: nobody else would tell).
        """
        volume = self.successResultOf(self.db.volumes.create("proj", "alice", 10))
        self.assertIsNone(self.successResultOf(self.manager.createVolume(ALICE, volume.id, 10)))
        failed = self.successResultOf(self.db.volumes.get(volume.id))
        self.assertEqual(
            (failed.status, failed.status_description),
            ("error", "no valid host: no live, enabled volume host"),
        )
        self.assertEqual(self.rpc.sent, [])
        # A volume gone meanwhile is no error.
        self.assertIsNone(self.successResultOf(self.manager.createVolume(ALICE, 999, 10)))

    def test_periodicPurgesTerminated(self):
        ttl = self.config.terminated_instance_ttl
        now = utcnow(self.clock)
        old = self.create(state=states.TERMINATED, terminated_at=now - timedelta(seconds=ttl + 1))
        recent = self.create(state=states.TERMINATED, terminated_at=now - timedelta(seconds=ttl - 1))
        running = self.create(state=states.RUNNING)
        self.assertEqual(self.successResultOf(self.manager.periodicTasks(ADMIN)), 1)
        self.assertEqual(
            [self.get(i.id).deleted for i in (old, recent, running)], [True, False, False]
        )
