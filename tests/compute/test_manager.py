"""
Tests for L{nova.compute.manager.ComputeManager}, called directly, on a
fake hypervisor and a fake network.
"""

from twisted.internet import defer, task
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.compute import states
from nova.compute.errors import IncorrectInstanceState
from nova.compute.manager import ComputeManager
from nova.compute.network import FakeNetworkClient, NetworkRPCClient
from nova.config import ConfigError, configFromFlags
from nova.db.store import DatabaseUnavailable
from nova.manager import exposedMethods
from nova.rpc.local import LocalRPC
from nova.virt import errors, power
from nova.virt.fake import FakeVirtDriver
from nova.virt.interfaces import InstanceSpec
from nova.network.fake import FakeNetworkDriver
from tests.compute.util import FakeImages, FakeUploader
from tests.util import ALICE, START, createInstance, makeDatabase


class ManagerTestMixin:
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.config = configFromFlags(host="h1")
        self.db = makeDatabase(self, self.clock)
        self.rpc = LocalRPC(self.clock)
        self.driver = FakeVirtDriver()
        self.network = FakeNetworkClient()
        self.manager = self.makeManager()

    def makeManager(self, driver=None):
        self.networkDriver = FakeNetworkDriver()
        return ComputeManager(
            self.config,
            self.db,
            self.rpc,
            self.clock,
            driver or self.driver,
            self.network,
            networkDriver=self.networkDriver,
        )

    def create(self, **fields):
        fields.setdefault("host", "h1")
        fields.setdefault("mac_address", "02:16:3e:00:00:01")
        return createInstance(self, self.db, **fields)

    def get(self, instanceId):
        return self.successResultOf(self.db.instances.get(instanceId))

    def running(self):
        instance = self.create()
        self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        return self.get(instance.id)

    def name(self, instance):
        return "instance-%08x" % (instance.id,)

    def moveTo(self, instance, state):
        self.successResultOf(self.db.instances.update(instance.id, state=state))


class RunTests(ManagerTestMixin, SynchronousTestCase):
    def test_exposed(self):
        self.assertEqual(
            set(exposedMethods(self.manager)),
            {
                "ping",
                "runInstance",
                "terminateInstance",
                "rebootInstance",
                "stopInstance",
                "startInstance",
                "pauseInstance",
                "unpauseInstance",
                "suspendInstance",
                "resumeInstance",
                "snapshotInstance",
                "resizeInstance",
                "confirmResize",
                "revertResize",
                "rebuildInstance",
                "rescueInstance",
                "unrescueInstance",
                "getConsoleOutput",
                "getVncConsole",
                "getDiagnostics",
                "attachVolume",
                "detachVolume",
                "getHostStats",
                "refreshSecurityGroup",
            },
        )

    def test_runJoinsTheInstanceNetworkOnThisHost(self):
        """
        Before spawning, the compute host makes the bridge its instance
        joins, through its own network driver.
        """
        self.running()
        self.assertEqual(list(self.networkDriver.bridges), ["br100"])

    def test_run(self):
        instance = self.running()
        self.assertEqual(instance.state, states.RUNNING)
        self.assertEqual(instance.power_state, power.RUNNING)
        self.assertEqual(instance.fixed_ip, "10.0.0.2")
        self.assertIsNotNone(instance.launched_at)
        self.assertIsNone(instance.state_description)
        guest = self.driver.guests[self.name(instance)]
        self.assertEqual(
            guest.spec,
            InstanceSpec(
                name=self.name(instance),
                uuid=instance.uuid,
                vcpus=1,
                memoryMb=512,
                localGb=0,
                macAddress="02:16:3e:00:00:01",
                hostname=instance.hostname,
                displayName=instance.display_name,
                launchIndex=0,
                reservationId=instance.reservation_id,
                ec2Id=instance.ec2Id,
                instanceType="m1.tiny",
                userId=ALICE.userId,
                projectId=ALICE.projectId,
            ),
        )
        self.assertEqual(guest.networkInfo["address"], "10.0.0.2")
        self.assertEqual(self.network.calls, [("allocateForInstance", instance.id)])

    def test_nameTemplate(self):
        self.config = self.config.replace(instance_name_template="vm-%d")
        self.manager = self.makeManager()
        instance = self.running()
        self.assertEqual(list(self.driver.guests), [f"vm-{instance.id}"])

    def test_badNameTemplate(self):
        self.config = self.config.replace(instance_name_template="instance")
        self.assertRaises(ConfigError, self.makeManager)

    def test_defaultsFromConfig(self):
        manager = ComputeManager(self.config, self.db, self.rpc, self.clock)
        self.assertIsInstance(manager.driver, FakeVirtDriver)
        self.assertIsInstance(manager.network, NetworkRPCClient)

    def test_spawnFails(self):
        instance = self.create()
        self.driver.failOn("spawn", errors.VirtError("no kvm"))
        self.failureResultOf(self.manager.runInstance(ALICE, instance.id), errors.VirtError)
        failed = self.get(instance.id)
        self.assertEqual(failed.state, states.ERROR)
        self.assertEqual(failed.state_description, "spawn failed: no kvm")
        self.assertEqual(self.driver.guests, {})
        self.assertEqual(self.network.allocated, {})

    def test_networkFails(self):
        instance = self.create()
        self.network.failNext = exception.RPCTimeout("no answer from network")
        self.failureResultOf(self.manager.runInstance(ALICE, instance.id), exception.RPCTimeout)
        failed = self.get(instance.id)
        self.assertEqual(failed.state, states.ERROR)
        self.assertEqual(failed.state_description, "network allocation failed: no answer from network")
        self.assertEqual([c[0] for c in self.driver.calls], [])

    def test_networkHostsDatabaseOut(self):
        """
        When the network host answers that its database is out, the launch
        waits: the instance stays pending, never launched, with no guest and
        no address, for the sweep of stuck work to send it again; a second
        runInstance then spawns it.
        """
        instance = self.create()
        self.network.failNext = DatabaseUnavailable("DisconnectionError: server closed")
        self.assertIsNone(self.successResultOf(self.manager.runInstance(ALICE, instance.id)))
        waiting = self.get(instance.id)
        self.assertEqual(waiting.state, states.PENDING)
        self.assertIsNone(waiting.launched_at)
        self.assertIsNone(waiting.state_description)
        self.assertEqual(self.driver.guests, {})
        self.assertEqual(self.network.allocated, {})
        self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state, states.RUNNING)

    def test_notPending(self):
        instance = self.create(state=states.TERMINATED)
        self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        self.assertEqual(self.driver.guests, {})
        self.assertEqual(self.get(instance.id).state, states.TERMINATED)

    def test_networkOverRPC(self):
        """
        The default network client calls C{allocateFixedIp} on the network
        topic, with the instance's fields the allocation uses, and casts
        C{deallocateFixedIp}.
        """
        self.network = NetworkRPCClient(self.rpc)
        self.manager = self.makeManager()
        instance = self.create()
        d = self.manager.runInstance(ALICE, instance.id)
        fields = {
            "project_id": instance.project_id,
            "image_id": instance.image_id,
            "key_name": instance.key_name,
            "mac_address": instance.mac_address,
        }
        self.assertEqual(
            self.rpc.sent,
            [("call", "network", "allocateFixedIp", {"instanceId": instance.id, "instance": fields})],
        )
        self.assertNoResult(d)
        self.clock.advance(self.rpc.callTimeout)
        self.failureResultOf(d, exception.RPCTimeout)
        self.assertEqual(
            self.rpc.sent[-1], ("cast", "network", "deallocateFixedIp", {"instanceId": instance.id})
        )


class SlowNetwork(FakeNetworkClient):
    def __init__(self):
        FakeNetworkClient.__init__(self)
        self.pending = []

    def allocateForInstance(self, context, instance):
        d = defer.Deferred()
        self.pending.append(d)
        return d.addCallback(lambda _: FakeNetworkClient.allocateForInstance(self, context, instance))


class TerminateTests(ManagerTestMixin, SynchronousTestCase):
    def test_terminate(self):
        instance = self.running()
        self.moveTo(instance, states.SHUTTING_DOWN)
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        done = self.get(instance.id)
        self.assertEqual(done.state, states.TERMINATED)
        self.assertEqual(done.power_state, power.NOSTATE)
        self.assertEqual(done.terminated_at.timestamp(), START)
        self.assertEqual(self.driver.guests, {})
        self.assertIn(("deallocateForInstance", instance.id), self.network.calls)

    def test_terminateDirectly(self):
        instance = self.running()
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state, states.TERMINATED)

    def test_terminateTwice(self):
        instance = self.running()
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        calls = len(self.driver.calls)
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        self.assertEqual(len(self.driver.calls), calls)

    def test_consoleKeptAfterTerminate(self):
        instance = self.running()
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        result = self.successResultOf(self.manager.getConsoleOutput(ALICE, instance.id))
        self.assertIn("Linux version", result["output"])
        self.assertIn(f"{self.name(instance)} login:", result["output"])

    def test_consoleCacheBounded(self):
        self.config = self.config.replace(console_log_cache=1)
        self.manager = self.makeManager()
        first, second = self.running(), self.running()
        self.successResultOf(self.manager.terminateInstance(ALICE, first.id))
        self.successResultOf(self.manager.terminateInstance(ALICE, second.id))
        self.assertEqual(list(self.manager.consoleLogs), [second.id])
        result = self.successResultOf(self.manager.getConsoleOutput(ALICE, first.id))
        self.assertEqual(result["output"], "")

    def test_destroyFails(self):
        instance = self.running()
        self.driver.failOn("destroy", errors.VirtError("busy"))
        self.failureResultOf(self.manager.terminateInstance(ALICE, instance.id), errors.VirtError)
        failed = self.get(instance.id)
        self.assertEqual((failed.state, failed.state_description), (states.ERROR, "terminate failed: busy"))

    def test_terminateWhileSpawning(self):
        """
        A termination that arrives while the instance is being set up waits
        for it, and the instance is never booted.
        """
        self.network = SlowNetwork()
        self.manager = self.makeManager()
        instance = self.create()
        running = self.manager.runInstance(ALICE, instance.id)
        self.moveTo(instance, states.SHUTTING_DOWN)
        terminating = self.manager.terminateInstance(ALICE, instance.id)
        self.assertNoResult(terminating)
        self.network.pending[0].callback(None)
        self.successResultOf(running)
        self.successResultOf(terminating)
        self.assertEqual(self.get(instance.id).state, states.TERMINATED)
        self.assertNotIn("spawn", [c[0] for c in self.driver.calls])
        self.assertEqual(self.network.allocated, {})
        self.assertEqual(self.manager._locks, {})

    def test_terminatedWithoutHostWhileSpawning(self):
        """
        If the instance was terminated outright while it booted, its guest
        is destroyed at once.
        """

        class TerminatingDriver(FakeVirtDriver):
            def spawn(driver, instance, networkInfo=None, blockDevices=()):
                d = FakeVirtDriver.spawn(driver, instance, networkInfo, blockDevices)
                self.moveTo(record, states.TERMINATED)
                return d

        driver = TerminatingDriver()
        self.manager = self.makeManager(driver)
        record = self.create()
        self.successResultOf(self.manager.runInstance(ALICE, record.id))
        self.assertEqual(driver.guests, {})
        self.assertEqual(self.get(record.id).state, states.TERMINATED)


class PowerTests(ManagerTestMixin, SynchronousTestCase):
    def test_reboot(self):
        instance = self.running()
        self.moveTo(instance, states.REBOOTING)
        self.successResultOf(self.manager.rebootInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state, states.RUNNING)
        self.assertEqual(self.driver.guests[self.name(instance)].boots, 2)

    def test_rebootFails(self):
        instance = self.running()
        self.driver.failOn("reboot", errors.VirtError("stuck"))
        self.failureResultOf(self.manager.rebootInstance(ALICE, instance.id), errors.VirtError)
        failed = self.get(instance.id)
        self.assertEqual((failed.state, failed.state_description), (states.ERROR, "reboot failed: stuck"))

    def test_stopAndStart(self):
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        stopped = self.get(instance.id)
        self.assertEqual((stopped.state, stopped.power_state), (states.STOPPED, power.SHUTOFF))
        self.moveTo(instance, states.PENDING)
        self.successResultOf(self.manager.startInstance(ALICE, instance.id))
        started = self.get(instance.id)
        self.assertEqual((started.state, started.power_state), (states.RUNNING, power.RUNNING))
        self.assertEqual(started.launched_at, instance.launched_at)

    def test_startUpdatesTheGuestFirst(self):
        """
        Before powering the guest on, start hands the driver the
        instance's record as it is now.
        """
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        self.moveTo(instance, states.PENDING)
        del self.driver.calls[:]
        self.successResultOf(self.manager.startInstance(ALICE, instance.id))
        name = self.name(instance)
        self.assertEqual(
            [call[0] for call in self.driver.calls[:2]], ["updateGuest", "powerOn"]
        )
        spec = InstanceSpec.fromRecord(name, self.get(instance.id))
        self.assertEqual(self.driver.calls[0], ("updateGuest", spec))
        self.assertEqual(self.driver.guests[name].spec.vcpus, 1)

    def test_startTakesTheNewTypeKernelAndRamdisk(self):
        """
        A type, kernel and ramdisk changed while the instance was stopped
        are the guest's when it starts; its local disk keeps its size.
        """
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        self.successResultOf(
            self.db.instances.update(
                instance.id,
                instance_type="m1.medium",
                vcpus=2,
                memory_mb=4096,
                local_gb=40,
                kernel_id="aki-00000005",
                ramdisk_id="ari-00000006",
            )
        )
        self.moveTo(instance, states.PENDING)
        self.successResultOf(self.manager.startInstance(ALICE, instance.id))
        started = self.get(instance.id)
        self.assertEqual((started.state, started.power_state), (states.RUNNING, power.RUNNING))
        guest = self.driver.guests[self.name(instance)]
        self.assertEqual(
            (guest.spec.vcpus, guest.spec.memoryMb, guest.spec.kernelId, guest.spec.ramdiskId),
            (2, 4096, "aki-00000005", "ari-00000006"),
        )
        self.assertEqual(guest.spec.localGb, 0)
        self.assertEqual(guest.boots, 2)
        info = self.successResultOf(self.driver.getInfo(self.name(instance)))
        self.assertEqual((info["vcpus"], info["memory_mb"]), (2, 4096))

    def test_startUpdateFails(self):
        """
        A guest that cannot be updated is not powered on; the instance
        goes to error as when powering on fails.
        """
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        self.moveTo(instance, states.PENDING)
        self.driver.failOn("updateGuest", errors.VirtError("no kernel aki-00000005"))
        self.failureResultOf(self.manager.startInstance(ALICE, instance.id), errors.VirtError)
        failed = self.get(instance.id)
        self.assertEqual(
            (failed.state, failed.state_description),
            (states.ERROR, "start failed: no kernel aki-00000005"),
        )
        self.assertNotIn("powerOn", [call[0] for call in self.driver.calls])
        self.assertEqual(self.driver.guests[self.name(instance)].state, power.SHUTOFF)

    def test_startPowerOnFails(self):
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        self.driver.failOn("powerOn", errors.VirtError("no kvm"))
        self.failureResultOf(self.manager.startInstance(ALICE, instance.id), errors.VirtError)
        failed = self.get(instance.id)
        self.assertEqual(
            (failed.state, failed.state_description), (states.ERROR, "start failed: no kvm")
        )

    def test_illegalTransitions(self):
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        failure = self.failureResultOf(
            self.manager.rebootInstance(ALICE, instance.id), IncorrectInstanceState
        )
        self.assertEqual(failure.value.ec2Code, "IncorrectInstanceState")
        self.assertEqual(self.get(instance.id).state, states.STOPPED)
        # Stopping a stopped instance changes nothing.
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state, states.STOPPED)
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        for method in (self.manager.rebootInstance, self.manager.stopInstance, self.manager.startInstance):
            self.failureResultOf(method(ALICE, instance.id), IncorrectInstanceState)
        self.assertEqual(self.get(instance.id).state, states.TERMINATED)

    def test_startNeverLaunched(self):
        instance = self.create()
        self.failureResultOf(self.manager.startInstance(ALICE, instance.id), IncorrectInstanceState)
        self.assertEqual(self.get(instance.id).state, states.PENDING)

    def test_startRunningChangesNothing(self):
        instance = self.running()
        self.successResultOf(self.manager.startInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state, states.RUNNING)
        self.assertEqual(self.driver.guests[self.name(instance)].boots, 1)


class PauseAndSuspendTests(ManagerTestMixin, SynchronousTestCase):
    def test_pauseAndUnpause(self):
        """
        Pause freezes the guest (C{paused}), unpause lets it run again; the
        API's intermediate states are settled by the manager.
        """
        instance = self.running()
        self.moveTo(instance, states.PAUSING)
        self.successResultOf(self.manager.pauseInstance(ALICE, instance.id))
        paused = self.get(instance.id)
        self.assertEqual((paused.state, paused.power_state), (states.PAUSED, power.PAUSED))
        self.assertEqual(self.driver.guests[self.name(instance)].state, power.PAUSED)
        self.moveTo(instance, states.UNPAUSING)
        self.successResultOf(self.manager.unpauseInstance(ALICE, instance.id))
        running = self.get(instance.id)
        self.assertEqual((running.state, running.power_state), (states.RUNNING, power.RUNNING))
        self.assertEqual(self.driver.guests[self.name(instance)].boots, 1)

    def test_suspendAndResume(self):
        instance = self.running()
        self.successResultOf(self.manager.suspendInstance(ALICE, instance.id))
        suspended = self.get(instance.id)
        self.assertEqual(
            (suspended.state, suspended.power_state), (states.SUSPENDED, power.SUSPENDED)
        )
        self.successResultOf(self.manager.resumeInstance(ALICE, instance.id))
        running = self.get(instance.id)
        self.assertEqual((running.state, running.power_state), (states.RUNNING, power.RUNNING))
        self.assertEqual(running.launched_at, instance.launched_at)
        self.assertEqual(
            [c[0] for c in self.driver.calls if c[0] in ("suspend", "resume")],
            ["suspend", "resume"],
        )

    def test_illegalTransitions(self):
        """
        Each request is refused with L{IncorrectInstanceState} in a state
        that does not allow it, and the instance stays as it was; a request
        that is done already changes nothing.
        """
        instance = self.running()
        for method in (self.manager.unpauseInstance, self.manager.resumeInstance):
            self.successResultOf(method(ALICE, instance.id))
        self.successResultOf(self.manager.pauseInstance(ALICE, instance.id))
        for method in (
            self.manager.suspendInstance,
            self.manager.resumeInstance,
            self.manager.rebootInstance,
            self.manager.stopInstance,
        ):
            failure = self.failureResultOf(method(ALICE, instance.id), IncorrectInstanceState)
            self.assertIn("is paused; it cannot be", str(failure.value))
        self.successResultOf(self.manager.pauseInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state, states.PAUSED)
        self.successResultOf(self.manager.unpauseInstance(ALICE, instance.id))
        self.successResultOf(self.manager.suspendInstance(ALICE, instance.id))
        for method in (self.manager.pauseInstance, self.manager.unpauseInstance, self.manager.startInstance):
            self.failureResultOf(method(ALICE, instance.id), IncorrectInstanceState)
        self.assertEqual(self.get(instance.id).state, states.SUSPENDED)
        self.assertEqual(
            [c[0] for c in self.driver.calls if c[0] in ("pause", "unpause", "suspend", "resume")],
            ["pause", "unpause", "suspend"],
        )

    def test_pauseFails(self):
        instance = self.running()
        self.driver.failOn("pause", errors.VirtError("frozen"))
        self.failureResultOf(self.manager.pauseInstance(ALICE, instance.id), errors.VirtError)
        failed = self.get(instance.id)
        self.assertEqual(
            (failed.state, failed.state_description), (states.ERROR, "pause failed: frozen")
        )

    def test_terminatePausedAndSuspended(self):
        paused, suspended = self.running(), self.running()
        self.successResultOf(self.manager.pauseInstance(ALICE, paused.id))
        self.successResultOf(self.manager.suspendInstance(ALICE, suspended.id))
        for instance in (paused, suspended):
            self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
            self.assertEqual(self.get(instance.id).state, states.TERMINATED)
            self.assertNotIn(self.name(instance), self.driver.guests)

    def test_periodicSyncsPausedAndSuspended(self):
        """
        The power-state sync follows a guest paused, unpaused, suspended
        or resumed behind Nova's back.
        """
        instance = self.running()
        guest = self.driver.guests[self.name(instance)]
        for powerState, state in (
            (power.PAUSED, states.PAUSED),
            (power.RUNNING, states.RUNNING),
            (power.SUSPENDED, states.SUSPENDED),
            (power.SHUTOFF, states.STOPPED),
        ):
            guest.state = powerState
            self.successResultOf(self.manager.periodicTasks(ALICE))
            current = self.get(instance.id)
            self.assertEqual((current.state, current.power_state), (state, powerState))

    def test_interruptedRequestsSettled(self):
        """
        At start-up, instances left pausing, unpausing, suspending or
        resuming take the state their guests' power states mean.
        """
        pausing, unpausing, suspending, resuming = (self.running() for _ in range(4))
        self.successResultOf(self.driver.pause(self.name(pausing)))
        self.moveTo(pausing, states.PAUSING)
        self.moveTo(unpausing, states.UNPAUSING)
        self.successResultOf(self.driver.suspend(self.name(suspending)))
        self.moveTo(suspending, states.SUSPENDING)
        self.successResultOf(self.driver.suspend(self.name(resuming)))
        self.moveTo(resuming, states.RESUMING)
        self.manager = self.makeManager()
        self.successResultOf(self.manager.initHost())
        self.assertEqual(
            [self.get(i.id).state for i in (pausing, unpausing, suspending, resuming)],
            [states.PAUSED, states.RUNNING, states.SUSPENDED, states.SUSPENDED],
        )


class SnapshotTests(ManagerTestMixin, SynchronousTestCase):
    def setUp(self):
        ManagerTestMixin.setUp(self)
        self.images = FakeImages()
        self.uploader = FakeUploader(self.mktemp())
        self.manager.images = self.images
        self.manager.imageUploader = self.uploader

    def reserve(self):
        return self.successResultOf(
            self.images.reserveImage(ALICE, "nova-snapshots/wonderland/1.img", name="snap")
        ).ec2_id

    def test_snapshot(self):
        """
        The guest's disk goes to the reserved image's location, owned by
        the requester's project, and the image service completes the
        image; the instance stays running.
        """
        instance = self.running()
        imageId = self.reserve()
        self.successResultOf(self.manager.snapshotInstance(ALICE, instance.id, imageId))
        name = self.name(instance)
        self.assertEqual(
            self.uploader.objects,
            {"nova-snapshots/wonderland/1.img": ("wonderland", self.driver.diskOf(name))},
        )
        self.assertEqual(self.images.images[imageId].state, "available")
        self.assertIn(("completeImage", imageId), self.images.calls)
        self.assertEqual(self.get(instance.id).state, states.RUNNING)
        self.assertEqual(self.driver.guests[name].state, power.RUNNING)

    def test_snapshotStopped(self):
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        imageId = self.reserve()
        self.successResultOf(self.manager.snapshotInstance(ALICE, instance.id, imageId))
        self.assertEqual(self.images.images[imageId].state, "available")
        self.assertEqual(self.get(instance.id).state, states.STOPPED)

    def test_driverFails(self):
        """
        A snapshot that fails fails its image, with the reason; the
        instance is left as it was.
        """
        instance = self.running()
        imageId = self.reserve()
        self.driver.failOn("snapshot", errors.VirtError("disk gone"))
        self.failureResultOf(
            self.manager.snapshotInstance(ALICE, instance.id, imageId), errors.VirtError
        )
        image = self.images.images[imageId]
        self.assertEqual((image.state, image.reason), ("failed", "snapshot failed: disk gone"))
        self.assertNotIn(("completeImage", imageId), self.images.calls)
        self.assertEqual(self.uploader.objects, {})
        self.assertEqual(self.get(instance.id).state, states.RUNNING)

    def test_terminated(self):
        instance = self.running()
        self.successResultOf(self.manager.terminateInstance(ALICE, instance.id))
        imageId = self.reserve()
        self.failureResultOf(
            self.manager.snapshotInstance(ALICE, instance.id, imageId), IncorrectInstanceState
        )
        self.assertEqual(self.images.images[imageId].state, "failed")
        self.assertNotIn("snapshot", [c[0] for c in self.driver.calls])

    def test_noUploader(self):
        instance = self.running()
        self.manager.imageUploader = None
        imageId = self.reserve()
        self.failureResultOf(
            self.manager.snapshotInstance(ALICE, instance.id, imageId), exception.NovaError
        )
        image = self.images.images[imageId]
        self.assertEqual(
            (image.state, image.reason),
            ("failed", "snapshot failed: nova-compute on h1 has no object store to put snapshots in"),
        )


class DiagnosticsTests(ManagerTestMixin, SynchronousTestCase):
    def test_diagnostics(self):
        instance = self.running()
        diagnostics = self.successResultOf(self.manager.getDiagnostics(ALICE, instance.id))
        self.assertEqual(
            diagnostics,
            self.successResultOf(self.driver.getDiagnostics(self.name(instance))),
        )
        self.assertEqual(
            (diagnostics["state"], diagnostics["vcpus"], diagnostics["memory_mb"]),
            (power.RUNNING, 1, 512),
        )
        self.assertIn("02:16:3e:00:00:01", diagnostics["interfaces"])

    def test_noGuest(self):
        instance = self.create()
        failure = self.failureResultOf(
            self.manager.getDiagnostics(ALICE, instance.id), IncorrectInstanceState
        )
        self.assertIn("has no guest on h1", str(failure.value))


class VolumeAndHostTests(ManagerTestMixin, SynchronousTestCase):
    def test_attachAndDetach(self):
        instance = self.running()
        self.successResultOf(self.manager.attachVolume(ALICE, instance.id, "/dev/sdb", "/dev/vdb"))
        guest = self.driver.guests[self.name(instance)]
        self.assertEqual(guest.volumes, {"/dev/vdb": "/dev/sdb"})
        self.failureResultOf(
            self.manager.attachVolume(ALICE, instance.id, "/dev/sdc", "/dev/vdb"), errors.DeviceInUse
        )
        self.successResultOf(self.manager.detachVolume(ALICE, instance.id, "/dev/vdb"))
        self.assertEqual(guest.volumes, {})

    def test_attachToStopped(self):
        instance = self.running()
        self.successResultOf(self.manager.stopInstance(ALICE, instance.id))
        self.failureResultOf(
            self.manager.attachVolume(ALICE, instance.id, "/dev/sdb", "/dev/vdb"),
            IncorrectInstanceState,
        )

    def test_hostStats(self):
        self.running()
        stats = self.successResultOf(self.manager.getHostStats(ALICE))
        self.assertEqual((stats["vcpus_used"], stats["memory_mb_used"]), (1, 512))


class ReconcileTests(ManagerTestMixin, SynchronousTestCase):
    def restart(self, driver=None):
        self.manager = self.makeManager(driver)
        self.successResultOf(self.manager.initHost())

    def test_vanishedGuestMarkedError(self):
        instance = self.running()
        self.restart(FakeVirtDriver())
        gone = self.get(instance.id)
        self.assertEqual((gone.state, gone.power_state), (states.ERROR, power.NOSTATE))
        self.assertEqual(gone.state_description, "the guest vanished from the hypervisor")

    def test_orphanGuestsDestroyed(self):
        instance = self.running()
        terminated = self.running()
        self.moveTo(terminated, states.TERMINATED)
        self.successResultOf(self.driver.spawn(InstanceSpec(name="instance-000000ff")))
        self.successResultOf(self.driver.spawn(InstanceSpec(name="someone-elses-vm")))
        self.restart()
        self.assertEqual(
            sorted(self.driver.guests), sorted([self.name(instance), "someone-elses-vm"])
        )
        self.assertEqual(self.get(instance.id).state, states.RUNNING)

    def test_otherHostsIgnored(self):
        other = self.create(host="h2", state=states.RUNNING)
        self.restart()
        self.assertEqual(self.get(other.id).state, states.RUNNING)

    def test_pendingNeverSpawned(self):
        """
        A pending instance never spawned stays pending through a restart:
        its request, delivered again, spawns it.
        """
        instance = self.create()
        self.restart()
        self.assertEqual(self.get(instance.id).state, states.PENDING)
        self.successResultOf(self.manager.runInstance(ALICE, instance.id))
        self.assertEqual(self.get(instance.id).state, states.RUNNING)

    def test_interruptedRequestsSettled(self):
        rebooting, stopping, shutting = self.running(), self.running(), self.running()
        self.moveTo(rebooting, states.REBOOTING)
        self.moveTo(stopping, states.STOPPING)
        self.successResultOf(self.driver.powerOff(self.name(stopping)))
        self.moveTo(shutting, states.SHUTTING_DOWN)
        self.restart()
        self.assertEqual(self.get(rebooting.id).state, states.RUNNING)
        self.assertEqual(self.get(stopping.id).state, states.STOPPED)
        self.assertEqual(self.get(stopping.id).power_state, power.SHUTOFF)
        self.assertEqual(self.get(shutting.id).state, states.TERMINATED)
        self.assertNotIn(self.name(shutting), self.driver.guests)

    def test_shuttingDownWithoutGuest(self):
        instance = self.running()
        self.moveTo(instance, states.SHUTTING_DOWN)
        self.restart(FakeVirtDriver())
        self.assertEqual(self.get(instance.id).state, states.TERMINATED)

    def test_periodicSyncsPowerState(self):
        off, crashed, fine = self.running(), self.running(), self.running()
        self.driver.guests[self.name(off)].state = power.SHUTOFF
        self.driver.guests[self.name(crashed)].state = power.CRASHED
        self.successResultOf(self.manager.periodicTasks(ALICE))
        self.assertEqual(
            (self.get(off.id).state, self.get(off.id).power_state), (states.STOPPED, power.SHUTOFF)
        )
        self.assertEqual(self.get(crashed.id).state, states.ERROR)
        self.assertEqual(self.get(crashed.id).state_description, "the guest crashed")
        self.assertEqual(self.get(fine.id).state, states.RUNNING)
        self.driver.guests[self.name(off)].state = power.RUNNING
        self.successResultOf(self.manager.periodicTasks(ALICE))
        self.assertEqual(self.get(off.id).state, states.RUNNING)

    def test_periodicTerminatesOnShutdown(self):
        """
        A running instance whose shutdown behavior is terminate and whose
        guest shut itself down is terminated by the periodic sync, even
        when protected from TerminateInstances, and leaves its security
        groups.
        """
        instance = self.running()
        self.successResultOf(
            self.db.instances.update(
                instance.id, shutdown_behavior="terminate", disable_api_termination=True
            )
        )
        group = self.successResultOf(self.db.securityGroups.create("wonderland", "alice", "web", "web"))
        self.successResultOf(self.db.securityGroups.addInstance(group.id, instance.id))
        stays = self.running()
        self.driver.guests[self.name(instance)].state = power.SHUTOFF
        self.successResultOf(self.manager.periodicTasks(ALICE))
        gone = self.get(instance.id)
        self.assertEqual((gone.state, gone.power_state), (states.TERMINATED, power.NOSTATE))
        self.assertIsNotNone(gone.terminated_at)
        self.assertNotIn(self.name(instance), self.driver.guests)
        self.assertIn(("deallocateForInstance", instance.id), self.network.calls)
        self.assertEqual(self.successResultOf(self.db.securityGroups.instancesInGroup(group.id)), [])
        self.assertEqual(self.get(stays.id).state, states.RUNNING)

    def test_restartOnlyStopsOnShutdown(self):
        """
        At start-up a guest found off is stopped whatever the shutdown
        behavior: the host itself may have restarted.
        """
        instance = self.running()
        self.successResultOf(self.db.instances.update(instance.id, shutdown_behavior="terminate"))
        self.driver.guests[self.name(instance)].state = power.SHUTOFF
        self.restart()
        self.assertEqual(self.get(instance.id).state, states.STOPPED)
        self.assertIn(self.name(instance), self.driver.guests)

    def test_periodicLeavesBusyInstances(self):
        self.network = SlowNetwork()
        self.manager = self.makeManager()
        instance = self.create()
        running = self.manager.runInstance(ALICE, instance.id)
        self.successResultOf(self.manager.periodicTasks(ALICE))
        self.assertEqual(self.get(instance.id).state, states.PENDING)
        self.network.pending[0].callback(None)
        self.successResultOf(running)
        self.assertEqual(self.get(instance.id).state, states.RUNNING)

    def test_periodicDoesNotDestroyOrphans(self):
        self.successResultOf(self.driver.spawn(InstanceSpec(name="instance-000000ff")))
        self.successResultOf(self.manager.periodicTasks(ALICE))
        self.assertIn("instance-000000ff", self.driver.guests)

    def test_periodicMarksVanished(self):
        instance = self.running()
        del self.driver.guests[self.name(instance)]
        self.successResultOf(self.manager.periodicTasks(ALICE))
        self.assertEqual(self.get(instance.id).state, states.ERROR)
