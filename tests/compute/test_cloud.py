"""
The whole instance life cycle through the compute API, the scheduler and
compute services on fake hypervisors, over the in-process bus.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.compute import states
from nova.compute.errors import IncorrectInstanceState
from nova.virt import power
from tests.compute.util import ALICE, Cloud


class LifeCycleTests(SynchronousTestCase):
    def setUp(self):
        self.cloud = Cloud(self)

    def test_runIsScheduledAndRuns(self):
        reservationId, [instance] = self.cloud.run()
        self.assertRegex(reservationId, r"^r-[0-9a-f]{8}$")
        self.assertEqual(instance.state, states.RUNNING)
        self.assertEqual(instance.host, "h1")
        self.assertEqual(instance.availability_zone, "nova")
        self.assertEqual(instance.power_state, power.RUNNING)
        self.assertEqual(instance.fixed_ip, "10.0.0.2")
        self.assertIsNotNone(instance.launched_at)
        guest = self.cloud.drivers["h1"].guests["instance-%08x" % instance.id]
        self.assertEqual(guest.state, power.RUNNING)
        self.assertEqual(guest.spec.memoryMb, 2048)
        self.assertEqual(guest.spec.macAddress, instance.mac_address)
        sent = [(kind, topic, method) for kind, topic, method, _ in self.cloud.rpc.sent]
        self.assertIn(("cast", "scheduler", "runInstance"), sent)
        self.assertIn(("cast", "compute.h1", "runInstance"), sent)

    def test_consoleOutputThroughTheAPI(self):
        _, [instance] = self.cloud.run()
        d = self.cloud.api.getConsoleOutput(ALICE, instance.ec2Id)
        self.cloud.flush()
        result = self.successResultOf(d)
        self.assertEqual(result["instanceId"], instance.ec2Id)
        self.assertIn("Linux version", result["output"])
        self.assertIn("eth0: leased 10.0.0.2", result["output"])
        self.assertRegex(result["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")

    def test_terminate(self):
        _, [instance] = self.cloud.run()
        [change] = self.successResultOf(self.cloud.api.terminateInstances(ALICE, [instance.ec2Id]))
        self.assertEqual(
            (change.previousState, change.currentState), (states.RUNNING, states.SHUTTING_DOWN)
        )
        self.cloud.flush()
        done = self.cloud.instance(instance.id)
        self.assertEqual(done.state, states.TERMINATED)
        self.assertIsNotNone(done.terminated_at)
        self.assertEqual(self.cloud.drivers["h1"].guests, {})
        self.assertEqual(self.cloud.network.allocated, {})
        d = self.cloud.api.getConsoleOutput(ALICE, instance.ec2Id)
        self.cloud.flush()
        self.assertIn("login:", self.successResultOf(d)["output"])

    def test_stopStartReboot(self):
        _, [instance] = self.cloud.run()
        guest = self.cloud.drivers["h1"].guests["instance-%08x" % instance.id]
        [change] = self.successResultOf(self.cloud.api.stopInstances(ALICE, [instance.id]))
        self.assertEqual(change.currentState, states.STOPPING)
        self.cloud.flush()
        stopped = self.cloud.instance(instance.id)
        self.assertEqual((stopped.state, stopped.power_state), (states.STOPPED, power.SHUTOFF))
        self.assertEqual(guest.state, power.SHUTOFF)
        self.failureResultOf(
            self.cloud.api.rebootInstances(ALICE, [instance.id]), IncorrectInstanceState
        )
        [change] = self.successResultOf(self.cloud.api.startInstances(ALICE, [instance.id]))
        self.assertEqual(change.currentState, states.PENDING)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.successResultOf(self.cloud.api.rebootInstances(ALICE, [instance.id]))
        self.assertEqual(self.cloud.instance(instance.id).state, states.REBOOTING)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.assertEqual(guest.boots, 3)

    def test_terminateRightAfterReboot(self):
        """
        A termination right after a reboot (the instance still
        C{rebooting}, shown to EC2 as running) is accepted; the compute
        host, which runs one instance's requests in turn, terminates it.
        """
        _, [instance] = self.cloud.run()
        self.successResultOf(self.cloud.api.rebootInstances(ALICE, [instance.id]))
        [change] = self.successResultOf(self.cloud.api.terminateInstances(ALICE, [instance.id]))
        self.assertEqual(
            (change.previousState, change.currentState), (states.REBOOTING, states.SHUTTING_DOWN)
        )
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.TERMINATED)
        self.assertEqual(self.cloud.drivers["h1"].guests, {})

    def test_stopRightAfterReboot(self):
        """
        A stop right after a reboot is accepted and the instance ends
        stopped.
        """
        _, [instance] = self.cloud.run()
        guest = self.cloud.drivers["h1"].guests["instance-%08x" % instance.id]
        self.successResultOf(self.cloud.api.rebootInstances(ALICE, [instance.id]))
        [change] = self.successResultOf(self.cloud.api.stopInstances(ALICE, [instance.id]))
        self.assertEqual(
            (change.previousState, change.currentState), (states.REBOOTING, states.STOPPING)
        )
        self.cloud.flush()
        stopped = self.cloud.instance(instance.id)
        self.assertEqual((stopped.state, stopped.power_state), (states.STOPPED, power.SHUTOFF))
        self.assertEqual(guest.state, power.SHUTOFF)

    def _slowReboot(self):
        """
        Make the next reboot on h1 wait for the returned L{Deferred}.
        """
        from twisted.internet.defer import Deferred

        driver = self.cloud.drivers["h1"]
        reboot = driver.reboot
        release = Deferred()

        def slowReboot(name):
            driver.reboot = reboot
            return release.addCallback(lambda _: reboot(name))

        driver.reboot = slowReboot
        return release

    def test_terminateQueuedBehindReboot(self):
        """
        A termination accepted while the compute host is rebooting the
        guest waits for the reboot, then terminates the instance; the
        reboot does not put it back to running.
        """
        _, [instance] = self.cloud.run()
        release = self._slowReboot()
        self.successResultOf(self.cloud.api.rebootInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.REBOOTING)
        self.successResultOf(self.cloud.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.SHUTTING_DOWN)
        release.callback(None)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.TERMINATED)
        self.assertEqual(self.cloud.drivers["h1"].guests, {})

    def test_stopQueuedBehindReboot(self):
        """
        A stop accepted while the guest reboots takes effect after the
        reboot.
        """
        _, [instance] = self.cloud.run()
        release = self._slowReboot()
        self.successResultOf(self.cloud.api.rebootInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.successResultOf(self.cloud.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        release.callback(None)
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.STOPPED)

    def test_modifiedTypeTakesEffectAtStart(self):
        """
        The type, kernel and ramdisk of a stopped instance changed through
        the API are its guest's when it starts again.
        """
        _, [instance] = self.cloud.run(instanceType="m1.small")
        guest = self.cloud.drivers["h1"].guests["instance-%08x" % instance.id]
        self.successResultOf(self.cloud.api.stopInstances(ALICE, [instance.id]))
        self.cloud.flush()
        for changes in (
            {"instanceType": "m1.medium"},
            {"kernelId": "aki-00000002"},
            {"ramdiskId": "ari-00000003"},
        ):
            self.successResultOf(self.cloud.api.modifyInstance(ALICE, instance.id, **changes))
        self.assertEqual((guest.spec.vcpus, guest.spec.memoryMb), (1, 2048))
        self.successResultOf(self.cloud.api.startInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.RUNNING)
        self.assertEqual(
            (guest.spec.vcpus, guest.spec.memoryMb, guest.spec.kernelId, guest.spec.ramdiskId),
            (2, 4096, "aki-00000002", "ari-00000003"),
        )
        self.assertEqual(guest.state, power.RUNNING)

    def test_noValidHost(self):
        self.cloud.stopCompute("h1")
        self.cloud.clock.advance(self.cloud.config.service_down_time + 1)
        _, [instance] = self.cloud.run()
        self.assertEqual(instance.state, states.ERROR)
        self.assertIsNone(instance.host)
        self.assertIn("no valid host", instance.state_description)
        [change] = self.successResultOf(self.cloud.api.terminateInstances(ALICE, [instance.id]))
        self.assertEqual(change.currentState, states.TERMINATED)

    def test_spawnFailure(self):
        from nova.virt.errors import VirtError

        self.cloud.drivers["h1"].failOn("spawn", VirtError("no kvm"))
        _, [instance] = self.cloud.run()
        self.assertEqual(instance.state, states.ERROR)
        self.assertEqual(instance.state_description, "spawn failed: no kvm")
        self.assertEqual(self.cloud.network.allocated, {})
        self.successResultOf(self.cloud.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        self.assertEqual(self.cloud.instance(instance.id).state, states.TERMINATED)

    def test_terminatedVisibleForTTLThenDeleted(self):
        _, [instance] = self.cloud.run()
        self.successResultOf(self.cloud.api.terminateInstances(ALICE, [instance.id]))
        self.cloud.flush()
        described = self.successResultOf(self.cloud.api.describeInstances(ALICE))
        self.assertEqual([i.state for i in described], [states.TERMINATED])
        self.cloud.clock.advance(self.cloud.config.terminated_instance_ttl + 1)
        self.assertEqual(self.successResultOf(self.cloud.api.describeInstances(ALICE)), [])
        self.cloud.clock.advance(self.cloud.config.periodic_interval)
        self.assertTrue(self.cloud.instance(instance.id).deleted)


class SpreadTests(SynchronousTestCase):
    def test_simpleSchedulerSpreads(self):
        cloud = Cloud(self, hosts=("h1", "h2"))
        _, instances = cloud.run(count=4)
        self.assertEqual(sorted(i.host for i in instances), ["h1", "h1", "h2", "h2"])
        self.assertEqual({i.state for i in instances}, {states.RUNNING})
        self.assertEqual(len(cloud.drivers["h1"].guests), 2)
        self.assertEqual(len(cloud.drivers["h2"].guests), 2)

    def test_deadHostSkipped(self):
        cloud = Cloud(self, hosts=("h1", "h2"))
        cloud.stopCompute("h2")
        cloud.clock.advance(cloud.config.service_down_time + 1)
        _, instances = cloud.run(count=3)
        self.assertEqual([i.host for i in instances], ["h1", "h1", "h1"])

    def test_disabledHostSkipped(self):
        cloud = Cloud(self, hosts=("h1", "h2"))
        self.successResultOf(cloud.db.services.setDisabled("h1", "nova-compute", True))
        _, instances = cloud.run(count=2)
        self.assertEqual([i.host for i in instances], ["h2", "h2"])

    def test_maxCores(self):
        cloud = Cloud(self, hosts=("h1", "h2"), max_cores=2)
        _, instances = cloud.run(count=5, instanceType="m1.tiny")
        self.assertEqual(
            sorted((i.host or "-", i.state) for i in instances),
            [("-", states.ERROR)] + [("h1", states.RUNNING)] * 2 + [("h2", states.RUNNING)] * 2,
        )


class RestartTests(SynchronousTestCase):
    def test_restartKeepsRunningInstances(self):
        cloud = Cloud(self)
        _, [instance] = cloud.run()
        cloud.stopCompute("h1")
        cloud.addCompute("h1")
        self.assertEqual(cloud.instance(instance.id).state, states.RUNNING)
        self.assertEqual(len(cloud.drivers["h1"].guests), 1)

    def test_restartOnEmptyHypervisor(self):
        from nova.virt.fake import FakeVirtDriver

        cloud = Cloud(self)
        _, [instance] = cloud.run()
        cloud.stopCompute("h1")
        cloud.addCompute("h1", FakeVirtDriver())
        gone = cloud.instance(instance.id)
        self.assertEqual(gone.state, states.ERROR)
        self.assertEqual(gone.power_state, power.NOSTATE)
        self.assertEqual(gone.state_description, "the guest vanished from the hypervisor")
