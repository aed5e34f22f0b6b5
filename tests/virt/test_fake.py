"""
Tests for L{nova.virt.fake.FakeVirtDriver}: the contract, and what only
the fake does (its console, recorded calls and injected failures).
"""

import attr
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.config import configFromFlags
from nova.virt import errors, power
from nova.virt.fake import FakeVirtDriver
from nova.virt.interfaces import InstanceSpec
from tests.virt.contract import NETWORK, VirtDriverContract, VirtDriverVolumeContract


class FakeVirtDriverContractTests(VirtDriverContract, VirtDriverVolumeContract, TestCase):
    def makeDriver(self):
        return FakeVirtDriver()


SPEC = InstanceSpec(name="instance-0000002a", vcpus=2, memoryMb=1024, localGb=10)


class FakeVirtDriverTests(SynchronousTestCase):
    def setUp(self):
        self.driver = FakeVirtDriver(vcpus=8, memoryMb=4096, localGb=100)
        self.successResultOf(self.driver.initHost("h1"))

    def console(self):
        return self.successResultOf(self.driver.getConsoleOutput(SPEC.name))

    def test_fromConfig(self):
        driver = FakeVirtDriver.fromConfig(configFromFlags())
        self.assertIsInstance(driver, FakeVirtDriver)
        self.assertEqual(driver.guests, {})

    def test_initHost(self):
        self.assertEqual(self.driver.host, "h1")

    def test_consoleTellsTheBoot(self):
        self.successResultOf(self.driver.spawn(SPEC, NETWORK))
        lines = self.console().splitlines()
        self.assertIn("Linux version", lines[0])
        self.assertIn("boot 1", lines[0])
        self.assertIn("eth0: leased 10.0.0.5", lines)
        self.assertEqual(lines[-1], "instance-0000002a login: ")

    def test_consoleTellsReboots(self):
        self.successResultOf(self.driver.spawn(SPEC))
        self.successResultOf(self.driver.reboot(SPEC.name))
        output = self.console()
        self.assertIn("reboot: Restarting system", output)
        self.assertIn("boot 2", output)
        self.assertEqual(self.driver.guests[SPEC.name].boots, 2)

    def test_diagnosticsCountZero(self):
        """
        The fake's guests do no I/O: their root, local and volume disks
        and their network card count zero.
        """
        spec = attr.evolve(SPEC, imageId="ami-00000001", macAddress="02:16:3E:00:00:0A")
        self.successResultOf(self.driver.spawn(spec, NETWORK, [("/dev/sdb", "/dev/vdc")]))
        diagnostics = self.successResultOf(self.driver.getDiagnostics(SPEC.name))
        zeroDisk = dict.fromkeys(
            ("read_bytes", "read_requests", "write_bytes", "write_requests", "errors"), 0
        )
        self.assertEqual(
            diagnostics,
            {
                "state": power.RUNNING,
                "cpu_time": 0,
                "vcpus": 2,
                "memory_mb": 1024,
                "memory": {"actual": 1024 * 1024},
                "disks": {"vda": zeroDisk, "vdb": zeroDisk, "vdc": zeroDisk},
                "interfaces": {
                    "02:16:3e:00:00:0a": dict.fromkeys(
                        (
                            "rx_bytes",
                            "rx_packets",
                            "rx_errors",
                            "rx_drop",
                            "tx_bytes",
                            "tx_packets",
                            "tx_errors",
                            "tx_drop",
                        ),
                        0,
                    )
                },
            },
        )

    def test_consoleTellsPowerOff(self):
        self.successResultOf(self.driver.spawn(SPEC))
        self.successResultOf(self.driver.powerOff(SPEC.name))
        self.assertTrue(self.console().endswith("reboot: Power down\n"))

    def test_failNext(self):
        self.driver.failNext = errors.VirtError("no kvm")
        failure = self.failureResultOf(self.driver.spawn(SPEC), errors.VirtError)
        self.assertEqual(str(failure.value), "no kvm")
        self.assertEqual(self.driver.guests, {})
        self.successResultOf(self.driver.spawn(SPEC))
        self.assertEqual(self.driver.guests[SPEC.name].state, power.RUNNING)

    def test_failOn(self):
        self.driver.failOn("reboot", errors.VirtError("stuck"))
        self.successResultOf(self.driver.spawn(SPEC))
        self.failureResultOf(self.driver.reboot(SPEC.name), errors.VirtError)
        self.successResultOf(self.driver.reboot(SPEC.name))

    def test_callsRecorded(self):
        self.successResultOf(self.driver.spawn(SPEC, NETWORK))
        self.successResultOf(self.driver.destroy(SPEC.name))
        self.assertEqual(
            self.driver.calls,
            [("initHost", "h1"), ("spawn", SPEC, NETWORK, ()), ("destroy", SPEC.name)],
        )

    def test_blockDevicesAtBoot(self):
        self.successResultOf(self.driver.spawn(SPEC, None, [("/dev/sdb", "/dev/vdb")]))
        self.assertEqual(self.driver.guests[SPEC.name].volumes, {"/dev/vdb": "/dev/sdb"})

    def test_hostStatsCountGuests(self):
        self.successResultOf(self.driver.spawn(SPEC))
        stats = self.successResultOf(self.driver.getHostStats())
        self.assertEqual(
            stats,
            {
                "vcpus": 8,
                "memory_mb": 4096,
                "local_gb": 100,
                "vcpus_used": 2,
                "memory_mb_used": 1024,
                "local_gb_used": 10,
                "hypervisor_type": "fake",
            },
        )

    def test_suspendedCannotPowerOff(self):
        self.successResultOf(self.driver.spawn(SPEC))
        self.successResultOf(self.driver.suspend(SPEC.name))
        self.failureResultOf(self.driver.powerOff(SPEC.name), errors.GuestStateError)
        self.assertEqual(self.driver.guests[SPEC.name].state, power.SUSPENDED)

    def test_updateGuest(self):
        """
        A guest that is off takes the vCPUs, memory, kernel and ramdisk
        of the spec (nothing else of it) and boots with them.
        """
        self.successResultOf(self.driver.spawn(SPEC))
        self.successResultOf(self.driver.powerOff(SPEC.name))
        changed = attr.evolve(
            SPEC, vcpus=4, memoryMb=2048, localGb=40, kernelId="aki-1", ramdiskId="ari-2"
        )
        self.successResultOf(self.driver.updateGuest(changed))
        guest = self.driver.guests[SPEC.name]
        self.assertEqual(
            guest.spec,
            attr.evolve(SPEC, vcpus=4, memoryMb=2048, kernelId="aki-1", ramdiskId="ari-2"),
        )
        self.assertEqual(guest.state, power.SHUTOFF)
        self.assertEqual(self.driver.calls[-1], ("updateGuest", changed))
        self.successResultOf(self.driver.powerOn(SPEC.name))
        self.assertIn("Memory: 2097152K available, 4 CPU(s)", self.console().splitlines()[-2])
        stats = self.successResultOf(self.driver.getHostStats())
        self.assertEqual((stats["vcpus_used"], stats["local_gb_used"]), (4, 10))

    def test_updateRunningGuest(self):
        self.successResultOf(self.driver.spawn(SPEC))
        self.successResultOf(self.driver.updateGuest(attr.evolve(SPEC, localGb=40)))
        self.failureResultOf(
            self.driver.updateGuest(attr.evolve(SPEC, vcpus=4)), errors.GuestStateError
        )
        self.assertEqual(self.driver.guests[SPEC.name].spec, SPEC)

    def test_failOnUpdateGuest(self):
        self.successResultOf(self.driver.spawn(SPEC))
        self.successResultOf(self.driver.powerOff(SPEC.name))
        self.driver.failOn("updateGuest", errors.VirtError("no kernel"))
        self.failureResultOf(
            self.driver.updateGuest(attr.evolve(SPEC, vcpus=4)), errors.VirtError
        )
        self.assertEqual(self.driver.guests[SPEC.name].spec, SPEC)


class FakeResizeRescueTests(SynchronousTestCase):
    """
    What the fake's resizes, rebuilds and rescues leave for the tests of
    the compute manager to read.
    """

    def setUp(self):
        self.driver = FakeVirtDriver()
        self.successResultOf(self.driver.spawn(SPEC, NETWORK))
        self.guest = self.driver.guests[SPEC.name]

    def test_resizeBootsWithTheNewMemory(self):
        self.successResultOf(self.driver.resize(attr.evolve(SPEC, memoryMb=2048, vcpus=2)))
        self.assertEqual(self.guest.boots, 2)
        self.assertEqual(self.guest.resizedFrom, SPEC)
        output = self.successResultOf(self.driver.getConsoleOutput(SPEC.name))
        self.assertIn("Memory: 2097152K available, 2 CPU(s)", output)

    def test_failedResizeChangesNothing(self):
        self.driver.failOn("resize", errors.VirtError("no memory"))
        self.failureResultOf(self.driver.resize(attr.evolve(SPEC, memoryMb=2048)), errors.VirtError)
        self.assertEqual((self.guest.spec, self.guest.resizedFrom, self.guest.boots), (SPEC, None, 1))

    def test_rebuildFromAnotherImage(self):
        self.successResultOf(self.driver.rebuild(attr.evolve(SPEC, imageId="ami-00000009"), NETWORK))
        guest = self.driver.guests[SPEC.name]
        self.assertEqual((guest.spec.imageId, guest.boots), ("ami-00000009", 1))
        self.assertIn(b"image=ami-00000009", self.driver.diskOf(SPEC.name))
        output = self.successResultOf(self.driver.getConsoleOutput(SPEC.name))
        self.assertIn("rebuilt from ami-00000009", output)

    def test_rescueBootsTheRescueImage(self):
        self.successResultOf(self.driver.rescue(attr.evolve(SPEC, imageId="ami-0000000c")))
        self.assertEqual(self.guest.rescuedSpec.imageId, "ami-0000000c")
        self.assertEqual(self.guest.spec, SPEC)
        output = self.successResultOf(self.driver.getConsoleOutput(SPEC.name))
        self.assertIn("rescue: booting ami-0000000c, own disk at vdb", output)
        self.successResultOf(self.driver.unrescue(SPEC.name))
        self.assertIsNone(self.guest.rescuedSpec)
        self.assertEqual(self.guest.boots, 3)


class PowerTests(SynchronousTestCase):
    def test_numbers(self):
        self.assertEqual(
            (power.NOSTATE, power.RUNNING, power.BLOCKED, power.PAUSED, power.SHUTDOWN,
             power.SHUTOFF, power.CRASHED, power.SUSPENDED),
            (0, 1, 2, 3, 4, 5, 6, 7),
        )

    def test_names(self):
        self.assertEqual(power.name(power.SHUTOFF), "shutoff")
        self.assertEqual(power.name(42), "unknown")
