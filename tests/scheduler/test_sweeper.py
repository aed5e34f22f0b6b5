"""
Tests for L{nova.scheduler.sweeper}: stuck work is sent again once where
that is safe, and otherwise put in error with the reason.
"""

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

from nova.compute import states
from nova.config import configFromFlags
from nova.db import images, volumes
from nova.rpc.local import LocalRPC
from nova.scheduler.manager import SchedulerManager
from nova.scheduler.sweeper import StuckWorkSweeper
from tests.util import ADMIN, START, createInstance, makeDatabase

TIMEOUT = 600


class StuckWorkSweeperTests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.config = configFromFlags(host="s1", stuck_work_timeout=TIMEOUT, service_down_time=60)
        self.db = makeDatabase(self, self.clock)
        self.rpc = LocalRPC(self.clock)
        self.sweeper = StuckWorkSweeper(self.config, self.db, self.rpc, self.clock)

    def create(self, **fields):
        return createInstance(self, self.db, **fields)

    def get(self, instanceId):
        return self.successResultOf(self.db.instances.get(instanceId))

    def sweep(self):
        return self.successResultOf(self.sweeper.sweep(ADMIN))

    def computeUp(self, host):
        """
        Register (or report) C{host}'s compute service now.
        """
        record = self.successResultOf(
            self.db.services.register(host, "nova-compute", "compute", "nova")
        )
        self.successResultOf(self.db.services.report(record.id))

    def test_recentWorkIsLeftAlone(self):
        instance = self.create()
        self.clock.advance(TIMEOUT - 1)
        self.assertEqual(self.sweep(), {"resent": [], "failed": []})
        self.assertEqual(self.rpc.sent, [])
        self.assertEqual(self.get(instance.id).state, states.PENDING)

    def test_unscheduledLaunchIsSentAgainThenFailed(self):
        """
        A pending instance without a host goes to the scheduler again, once;
        still pending as long again, it goes to error with the reason.
        """
        instance = self.create()
        self.clock.advance(TIMEOUT + 1)
        self.assertEqual(self.sweep()["resent"], [("instance", instance.id)])
        self.assertEqual(
            self.rpc.sent, [("cast", "scheduler", "runInstance", {"instanceId": instance.id})]
        )
        self.clock.advance(TIMEOUT - 1)
        self.assertEqual(self.sweep(), {"resent": [], "failed": []})
        self.assertEqual(len(self.rpc.sent), 1)
        self.clock.advance(1)
        self.assertEqual(self.sweep()["failed"], [("instance", instance.id)])
        failed = self.get(instance.id)
        self.assertEqual(failed.state, states.ERROR)
        self.assertIn("stuck in pending for", failed.state_description)
        self.assertIn("sent again 600 s ago without effect", failed.state_description)
        self.assertEqual(self.sweeper.resent, {})

    def test_workThatMovesOnIsForgotten(self):
        instance = self.create()
        self.clock.advance(TIMEOUT + 1)
        self.sweep()
        self.successResultOf(
            self.db.instances.transition(instance.id, {states.PENDING}, states.RUNNING)
        )
        self.clock.advance(TIMEOUT * 3)
        self.assertEqual(self.sweep(), {"resent": [], "failed": []})
        self.assertEqual(self.get(instance.id).state, states.RUNNING)
        self.assertEqual(self.sweeper.resent, {})

    def test_launchOnLiveHostIsSentToIt(self):
        instance = self.create(host="h1")
        self.clock.advance(TIMEOUT + 1)
        self.computeUp("h1")
        self.sweep()
        self.assertEqual(
            self.rpc.sent, [("cast", "compute.h1", "runInstance", {"instanceId": instance.id})]
        )

    def test_terminationOnLiveHostIsSentToIt(self):
        instance = self.create(host="h1", state=states.SHUTTING_DOWN)
        self.clock.advance(TIMEOUT + 1)
        self.computeUp("h1")
        self.sweep()
        self.assertEqual(
            self.rpc.sent,
            [("cast", "compute.h1", "terminateInstance", {"instanceId": instance.id})],
        )

    def test_launchOnDeadHostFails(self):
        self.computeUp("h1")
        instance = self.create(host="h1")
        self.clock.advance(TIMEOUT + 1)
        self.assertEqual(self.sweep()["failed"], [("instance", instance.id)])
        self.assertEqual(self.rpc.sent, [])
        self.assertEqual(
            self.get(instance.id).state_description, f"stuck in pending for {TIMEOUT + 1} s on h1"
        )

    def test_otherTransitionsFail(self):
        self.computeUp("h1")
        rebooting = self.create(host="h1", state=states.REBOOTING)
        running = self.create(host="h1", state=states.RUNNING)
        self.clock.advance(TIMEOUT + 1)
        self.computeUp("h1")
        self.sweep()
        self.assertEqual(self.rpc.sent, [])
        self.assertEqual(self.get(rebooting.id).state, states.ERROR)
        self.assertIn("stuck in rebooting", self.get(rebooting.id).state_description)
        self.assertEqual(self.get(running.id).state, states.RUNNING)

    def test_volumesSnapshotsAndImagesFail(self):
        volume = self.successResultOf(self.db.volumes.create("wonderland", "alice", 1))
        ready = self.successResultOf(self.db.volumes.create("wonderland", "alice", 1))
        self.successResultOf(
            self.db.volumes.transition(ready.id, {volumes.CREATING}, volumes.AVAILABLE)
        )
        snapshot = self.successResultOf(
            self.db.volumes.createSnapshot("wonderland", "alice", ready.id, 1, "v1")
        )
        image = self.successResultOf(
            self.db.images.create(
                images.MACHINE, "wonderland", "alice", "b/k.manifest.xml", state=images.DECRYPTING
            )
        )
        self.clock.advance(TIMEOUT + 1)
        report = self.sweep()
        self.assertEqual(
            sorted(report["failed"]),
            sorted(
                [("volume", volume.id), ("snapshot", snapshot.id), ("image", image.ec2_id)]
            ),
        )
        stuck = self.successResultOf(self.db.volumes.get(volume.id))
        self.assertEqual(
            (stuck.status, stuck.status_description),
            (volumes.ERROR, f"stuck in creating for {TIMEOUT + 1} s"),
        )
        self.assertEqual(
            self.successResultOf(self.db.volumes.get(ready.id)).status, volumes.AVAILABLE
        )
        self.assertEqual(
            self.successResultOf(self.db.volumes.getSnapshot(snapshot.id)).status, volumes.ERROR
        )
        failed = self.successResultOf(self.db.images.get(image.ec2_id))
        self.assertEqual(
            (failed.state, failed.state_reason),
            (images.FAILED, f"stuck in decrypting for {TIMEOUT + 1} s"),
        )

    def test_zeroTimeoutTurnsItOff(self):
        sweeper = StuckWorkSweeper(
            self.config.replace(stuck_work_timeout=0), self.db, self.rpc, self.clock
        )
        instance = self.create()
        self.clock.advance(TIMEOUT * 10)
        self.assertEqual(self.successResultOf(sweeper.sweep(ADMIN)), {"resent": [], "failed": []})
        self.assertEqual(self.get(instance.id).state, states.PENDING)

    def test_schedulerPeriodicTasksSweep(self):
        manager = SchedulerManager(self.config, self.db, self.rpc, self.clock)
        instance = self.create(state=states.STOPPING, host="h1")
        self.clock.advance(TIMEOUT + 1)
        self.successResultOf(manager.periodicTasks(ADMIN))
        self.assertEqual(self.get(instance.id).state, states.ERROR)
