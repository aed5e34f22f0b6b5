"""
The virt driver contract: one suite that every L{IVirtDriver} passes.

A test case mixes L{VirtDriverContract} (and L{VirtDriverVolumeContract}
if the driver can attach block devices) into a
L{twisted.trial.unittest.TestCase} and provides C{makeDriver()},
returning a new driver.  The tests return Deferreds, so a driver that
works in threads (libvirt) runs the same tests as the fake.  Guests get
names no other test uses and are destroyed when the test ends, so a
shared hypervisor (libvirt's C{test:///default}) is left as found.
"""

import itertools
import os
import struct
import uuid

from twisted.internet.defer import inlineCallbacks
from zope.interface.verify import verifyObject

from nova.virt import errors, power
from nova.virt.interfaces import (
    DISK_COUNTERS,
    INTERFACE_COUNTERS,
    InstanceSpec,
    IVirtDriver,
    VolumeConnection,
)

_names = itertools.count(0x7E000000)

NETWORK = {
    "address": "10.0.0.5",
    "bridge": "br100",
    "netmask": "255.255.255.0",
    "gateway": "10.0.0.1",
    "dns": ["10.0.0.1"],
}


class _Base:
    """
    @ivar otherKernelId: a kernel image the driver can fetch, other than
        the one of L{spec}.
    @ivar otherRamdiskId: a ramdisk image likewise.
    """

    hostName = "contract-host"
    #: The network information guests are spawned and rebuilt with.
    network = NETWORK
    otherKernelId = "aki-0000000a"
    otherRamdiskId = "ari-0000000b"

    def makeDriver(self):
        """
        @return: a new L{IVirtDriver}.
        """
        raise NotImplementedError()

    @inlineCallbacks
    def driver(self):
        """
        @return: L{Deferred} firing with a new driver after C{initHost}.
        """
        driver = self.makeDriver()
        yield driver.initHost(self.hostName)
        return driver

    def spec(self, **fields):
        """
        @return: an L{InstanceSpec} with a name no other test uses.
        """
        values = {
            "name": "instance-%08x" % (next(_names),),
            "uuid": "00000000-0000-4000-8000-000000000001",
            "vcpus": 1,
            "memoryMb": 256,
            "localGb": 0,
            "macAddress": "02:16:3e:00:00:01",
        }
        values.update(fields)
        return InstanceSpec(**values)

    @inlineCallbacks
    def spawned(self, driver, **fields):
        """
        Spawn a guest that is destroyed when the test ends.

        @return: L{Deferred} firing with its name.
        """
        spec = self.spec(**fields)
        yield driver.spawn(spec, self.network)
        self.addCleanup(self._destroyQuietly, driver, spec.name)
        return spec.name

    def _destroyQuietly(self, driver, name):
        return driver.destroy(name).addErrback(lambda f: f.trap(errors.GuestNotFound))

    @inlineCallbacks
    def state(self, driver, name):
        info = yield driver.getInfo(name)
        return info["state"]


class VirtDriverContract(_Base):
    """
    What every L{IVirtDriver} does.
    """

    def test_provides(self):
        verifyObject(IVirtDriver, self.makeDriver())

    @inlineCallbacks
    def test_spawnRuns(self):
        driver = yield self.driver()
        name = yield self.spawned(driver, memoryMb=384, vcpus=2)
        self.assertIn(name, (yield driver.listInstances()))
        info = yield driver.getInfo(name)
        self.assertEqual(info["state"], power.RUNNING)
        self.assertEqual(info["memory_mb"], 384)
        self.assertEqual(info["vcpus"], 2)
        self.assertIsInstance(info["cpu_time"], int)

    @inlineCallbacks
    def test_spawnTwice(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield self.assertFailure(driver.spawn(self.spec(name=name)), errors.GuestExists)
        self.assertEqual(sorted(n for n in (yield driver.listInstances()) if n == name), [name])

    @inlineCallbacks
    def test_destroy(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.destroy(name)
        self.assertNotIn(name, (yield driver.listInstances()))
        yield self.assertFailure(driver.getInfo(name), errors.GuestNotFound)
        yield self.assertFailure(driver.destroy(name), errors.GuestNotFound)

    @inlineCallbacks
    def test_destroyStopped(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.powerOff(name)
        yield driver.destroy(name)
        self.assertNotIn(name, (yield driver.listInstances()))

    @inlineCallbacks
    def test_spawnAfterDestroy(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.destroy(name)
        yield driver.spawn(self.spec(name=name))
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_reboot(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.reboot(name)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_powerOffAndOn(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.powerOff(name)
        self.assertEqual((yield self.state(driver, name)), power.SHUTOFF)
        self.assertIn(name, (yield driver.listInstances()))
        yield driver.powerOff(name)
        self.assertEqual((yield self.state(driver, name)), power.SHUTOFF)
        yield driver.powerOn(name)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)
        yield driver.powerOn(name)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_rebootWhenOff(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.powerOff(name)
        yield self.assertFailure(driver.reboot(name), errors.GuestStateError)
        self.assertEqual((yield self.state(driver, name)), power.SHUTOFF)

    @inlineCallbacks
    def test_pauseAndUnpause(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield self.assertFailure(driver.unpause(name), errors.GuestStateError)
        yield driver.pause(name)
        self.assertEqual((yield self.state(driver, name)), power.PAUSED)
        yield driver.unpause(name)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_suspendAndResume(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield self.assertFailure(driver.resume(name), errors.GuestStateError)
        yield driver.suspend(name)
        self.assertEqual((yield self.state(driver, name)), power.SUSPENDED)
        yield driver.resume(name)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_pauseWhenOff(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.powerOff(name)
        yield self.assertFailure(driver.pause(name), errors.GuestStateError)
        yield self.assertFailure(driver.suspend(name), errors.GuestStateError)

    @inlineCallbacks
    def test_pauseAndSuspendRefusedTwice(self):
        """
        A paused guest can be neither paused again nor suspended nor
        resumed; a suspended one neither suspended again, paused, nor
        unpaused.  Each refusal leaves it as it was.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.pause(name)
        for method in (driver.pause, driver.suspend, driver.resume):
            yield self.assertFailure(method(name), errors.GuestStateError)
        self.assertEqual((yield self.state(driver, name)), power.PAUSED)
        yield driver.unpause(name)
        yield driver.suspend(name)
        for method in (driver.suspend, driver.pause, driver.unpause):
            yield self.assertFailure(method(name), errors.GuestStateError)
        self.assertEqual((yield self.state(driver, name)), power.SUSPENDED)

    @inlineCallbacks
    def test_resumeKeepsTheGuest(self):
        """
        A guest resumed from its saved state has the memory and vCPUs it
        had, and still is listed while suspended.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, memoryMb=320, vcpus=2)
        yield driver.suspend(name)
        self.assertIn(name, (yield driver.listInstances()))
        yield driver.resume(name)
        info = yield driver.getInfo(name)
        self.assertEqual((info["state"], info["memory_mb"], info["vcpus"]), (power.RUNNING, 320, 2))

    @inlineCallbacks
    def test_destroyPausedAndSuspended(self):
        driver = yield self.driver()
        paused = yield self.spawned(driver)
        # Unique: domains of the same UUID cannot live on one host.
        other = str(uuid.uuid4())
        suspended = yield self.spawned(driver, uuid=other)
        yield driver.pause(paused)
        yield driver.suspend(suspended)
        for name in (paused, suspended):
            yield driver.destroy(name)
            self.assertNotIn(name, (yield driver.listInstances()))
            yield self.assertFailure(driver.getInfo(name), errors.GuestNotFound)
        # The name is free again: no saved state of the old guest remains.
        yield driver.spawn(self.spec(name=suspended, uuid=other))
        self.assertEqual((yield self.state(driver, suspended)), power.RUNNING)

    @inlineCallbacks
    def test_unknownGuest(self):
        driver = yield self.driver()
        name = self.spec().name
        for method in (
            driver.destroy,
            driver.reboot,
            driver.powerOff,
            driver.powerOn,
            driver.pause,
            driver.unpause,
            driver.suspend,
            driver.resume,
            driver.getInfo,
            driver.getDiagnostics,
            driver.getConsoleOutput,
        ):
            yield self.assertFailure(method(name), errors.GuestNotFound)

    @inlineCallbacks
    def test_updateGuestWhenOff(self):
        """
        A guest that is off takes the spec's vCPUs, memory, kernel and
        ramdisk, and runs with them once powered on; updating it again to
        the same spec changes nothing, whether it is off or running.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.powerOff(name)
        spec = self.spec(
            name=name,
            vcpus=2,
            memoryMb=320,
            kernelId=self.otherKernelId,
            ramdiskId=self.otherRamdiskId,
        )
        yield driver.updateGuest(spec)
        info = yield driver.getInfo(name)
        self.assertEqual((info["state"], info["vcpus"], info["memory_mb"]), (power.SHUTOFF, 2, 320))
        yield driver.updateGuest(spec)
        yield driver.powerOn(name)
        info = yield driver.getInfo(name)
        self.assertEqual((info["state"], info["vcpus"], info["memory_mb"]), (power.RUNNING, 2, 320))
        yield driver.updateGuest(spec)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_updateGuestMatchingWhileRunning(self):
        """
        A running guest that matches the spec already is left alone; one
        that does not is refused and left as it was.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.updateGuest(self.spec(name=name, vcpus=1, memoryMb=256))
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)
        yield self.assertFailure(
            driver.updateGuest(self.spec(name=name, vcpus=2, memoryMb=320)),
            errors.GuestStateError,
        )
        info = yield driver.getInfo(name)
        self.assertEqual((info["state"], info["vcpus"], info["memory_mb"]), (power.RUNNING, 1, 256))

    @inlineCallbacks
    def test_updateGuestSuspendedRefused(self):
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.suspend(name)
        yield self.assertFailure(
            driver.updateGuest(self.spec(name=name, vcpus=2, memoryMb=256)),
            errors.GuestStateError,
        )
        self.assertEqual((yield self.state(driver, name)), power.SUSPENDED)

    @inlineCallbacks
    def test_updateUnknownGuest(self):
        driver = yield self.driver()
        yield self.assertFailure(driver.updateGuest(self.spec()), errors.GuestNotFound)

    @inlineCallbacks
    def assertResources(self, driver, name, state, vcpus, memoryMb):
        info = yield driver.getInfo(name)
        self.assertEqual(
            (info["state"], info["vcpus"], info["memory_mb"]), (state, vcpus, memoryMb)
        )

    @inlineCallbacks
    def test_resizeAndConfirm(self):
        """
        A running guest resized runs with the new vCPUs and memory; until
        the resize is confirmed no other resize, rebuild or rescue is
        accepted, and once it is, it cannot be confirmed or reverted again.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.resize(self.spec(name=name, vcpus=2, memoryMb=320))
        yield self.assertResources(driver, name, power.RUNNING, 2, 320)
        yield self.assertFailure(
            driver.resize(self.spec(name=name, vcpus=1, memoryMb=256)), errors.GuestStateError
        )
        yield self.assertFailure(driver.rescue(self.spec(name=name)), errors.GuestStateError)
        yield self.assertFailure(driver.rebuild(self.spec(name=name)), errors.GuestStateError)
        yield driver.confirmResize(name)
        yield self.assertResources(driver, name, power.RUNNING, 2, 320)
        yield self.assertFailure(driver.confirmResize(name), errors.GuestStateError)
        yield self.assertFailure(driver.revertResize(name), errors.GuestStateError)
        yield driver.reboot(name)
        yield self.assertResources(driver, name, power.RUNNING, 2, 320)

    @inlineCallbacks
    def test_resizeAndRevert(self):
        """
        A reverted resize gives the guest back what it had, running; the
        guest can be resized again afterwards.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.resize(self.spec(name=name, vcpus=2, memoryMb=320))
        yield driver.revertResize(name)
        yield self.assertResources(driver, name, power.RUNNING, 1, 256)
        yield self.assertFailure(driver.revertResize(name), errors.GuestStateError)
        yield driver.resize(self.spec(name=name, vcpus=1, memoryMb=320))
        yield self.assertResources(driver, name, power.RUNNING, 1, 320)
        yield driver.confirmResize(name)

    @inlineCallbacks
    def test_resizeWhenOff(self):
        """
        A guest that is off is resized and reverted without being booted.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.powerOff(name)
        yield driver.resize(self.spec(name=name, vcpus=2, memoryMb=320))
        yield self.assertResources(driver, name, power.SHUTOFF, 2, 320)
        yield driver.revertResize(name)
        yield self.assertResources(driver, name, power.SHUTOFF, 1, 256)

    @inlineCallbacks
    def test_resizeRefusedWhenSuspended(self):
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.suspend(name)
        yield self.assertFailure(
            driver.resize(self.spec(name=name, vcpus=2, memoryMb=320)), errors.GuestStateError
        )
        yield self.assertResources(driver, name, power.SUSPENDED, 1, 256)
        yield self.assertFailure(driver.confirmResize(name), errors.GuestStateError)

    @inlineCallbacks
    def test_rebuild(self):
        """
        A rebuilt guest runs again under its name, with the spec's
        resources, whether it ran or was off.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield driver.rebuild(self.spec(name=name, vcpus=1, memoryMb=320), self.network)
        yield self.assertResources(driver, name, power.RUNNING, 1, 320)
        yield driver.powerOff(name)
        yield driver.rebuild(self.spec(name=name, vcpus=1, memoryMb=256), self.network)
        yield self.assertResources(driver, name, power.RUNNING, 1, 256)
        self.assertEqual([n for n in (yield driver.listInstances()) if n == name], [name])

    @inlineCallbacks
    def test_rescueAndUnrescue(self):
        """
        A rescued guest runs (the rescue system) under its name; it cannot
        be rescued, resized or rebuilt until it is unrescued, after which
        it runs as before.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, vcpus=1, memoryMb=256)
        yield self.assertFailure(driver.unrescue(name), errors.GuestStateError)
        yield driver.rescue(self.spec(name=name))
        yield self.assertResources(driver, name, power.RUNNING, 1, 256)
        self.assertIn(name, (yield driver.listInstances()))
        yield self.assertFailure(driver.rescue(self.spec(name=name)), errors.GuestStateError)
        yield self.assertFailure(
            driver.resize(self.spec(name=name, vcpus=2, memoryMb=320)), errors.GuestStateError
        )
        yield self.assertFailure(driver.rebuild(self.spec(name=name)), errors.GuestStateError)
        yield driver.unrescue(name)
        yield self.assertResources(driver, name, power.RUNNING, 1, 256)
        yield self.assertFailure(driver.unrescue(name), errors.GuestStateError)

    @inlineCallbacks
    def test_rescueWhenOff(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.powerOff(name)
        yield driver.rescue(self.spec(name=name))
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)
        yield driver.unrescue(name)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_destroyRescuedAndResized(self):
        """
        Destroying a rescued guest, or one whose resize awaits
        confirmation, leaves nothing: the name can be spawned again.
        """
        driver = yield self.driver()
        rescued = yield self.spawned(driver)
        # Unique: domains of the same UUID cannot live on one host.
        other = str(uuid.uuid4())
        resized = yield self.spawned(driver, uuid=other)
        yield driver.rescue(self.spec(name=rescued))
        yield driver.resize(self.spec(name=resized, uuid=other, memoryMb=320))
        for name, guestUuid in ((rescued, self.spec().uuid), (resized, other)):
            yield driver.destroy(name)
            spec = self.spec(name=name, uuid=guestUuid)
            yield driver.spawn(spec)
            yield self.assertResources(driver, name, power.RUNNING, spec.vcpus, spec.memoryMb)
            yield self.assertFailure(driver.unrescue(name), errors.GuestStateError)
            yield self.assertFailure(driver.confirmResize(name), errors.GuestStateError)

    @inlineCallbacks
    def test_unknownGuestResizeRebuildRescue(self):
        driver = yield self.driver()
        spec = self.spec()
        for call in (
            lambda: driver.resize(spec),
            lambda: driver.confirmResize(spec.name),
            lambda: driver.revertResize(spec.name),
            lambda: driver.rebuild(spec),
            lambda: driver.rescue(spec),
            lambda: driver.unrescue(spec.name),
        ):
            yield self.assertFailure(call(), errors.GuestNotFound)

    def assertDiagnostics(self, diagnostics, state, memoryMb, vcpus):
        """
        Check the form of C{diagnostics} and what it says of the guest.
        """
        self.assertEqual(
            set(diagnostics),
            {"state", "cpu_time", "vcpus", "memory_mb", "memory", "disks", "interfaces"},
        )
        self.assertEqual(
            (diagnostics["state"], diagnostics["memory_mb"], diagnostics["vcpus"]),
            (state, memoryMb, vcpus),
        )
        self.assertIsInstance(diagnostics["cpu_time"], int)
        self.assertGreaterEqual(diagnostics["cpu_time"], 0)
        for key, value in diagnostics["memory"].items():
            self.assertIsInstance(key, str)
            self.assertIsInstance(value, int)
        for counters, names in (
            (diagnostics["disks"], DISK_COUNTERS),
            (diagnostics["interfaces"], INTERFACE_COUNTERS),
        ):
            for device, values in counters.items():
                self.assertIsInstance(device, str)
                self.assertEqual(set(values), set(names), device)
                for name, value in values.items():
                    if value is not None:
                        self.assertIsInstance(value, int, (device, name))
                        self.assertGreaterEqual(value, 0, (device, name))

    @inlineCallbacks
    def test_diagnostics(self):
        """
        A running guest's diagnostics count its CPU time, memory, disks
        (by device name) and network cards (by MAC address).
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, memoryMb=320, vcpus=2)
        diagnostics = yield driver.getDiagnostics(name)
        self.assertDiagnostics(diagnostics, power.RUNNING, 320, 2)
        for device in diagnostics["disks"]:
            self.assertRegex(device, r"^(vd|sd|hd|xvd|ubd)[a-z]+$")
        for mac in diagnostics["interfaces"]:
            self.assertEqual(mac, self.spec().macAddress.lower())

    @inlineCallbacks
    def test_diagnosticsWhenOff(self):
        """
        A guest that is off or suspended has no memory, disk or network
        figures; a paused one has.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver, memoryMb=256, vcpus=1)
        yield driver.pause(name)
        paused = yield driver.getDiagnostics(name)
        self.assertDiagnostics(paused, power.PAUSED, 256, 1)
        yield driver.unpause(name)
        yield driver.suspend(name)
        suspended = yield driver.getDiagnostics(name)
        self.assertDiagnostics(suspended, power.SUSPENDED, 256, 1)
        self.assertEqual((suspended["memory"], suspended["disks"], suspended["interfaces"]), ({}, {}, {}))
        yield driver.resume(name)
        yield driver.powerOff(name)
        off = yield driver.getDiagnostics(name)
        self.assertDiagnostics(off, power.SHUTOFF, 256, 1)
        self.assertEqual((off["memory"], off["disks"], off["interfaces"]), ({}, {}, {}))

    def assertImageFile(self, result, path):
        """
        Check that a snapshot's file is what C{result} says, and is one
        self-contained image (a qcow2 file without a backing file).
        """
        self.assertIn(result["format"], ("qcow2", "raw"))
        self.assertEqual(result["size"], os.path.getsize(path))
        self.assertGreater(result["size"], 0)
        with open(path, "rb") as f:
            header = f.read(16)
        if result["format"] == "qcow2":
            self.assertEqual(header[:4], b"QFI\xfb")
            (backingOffset,) = struct.unpack(">Q", header[8:16])
            self.assertEqual(backingOffset, 0, "the snapshot has a backing file")
        self.assertEqual(
            [n for n in os.listdir(os.path.dirname(path)) if n != os.path.basename(path)], []
        )

    def snapshotPath(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        return os.path.join(directory, "snapshot")

    @inlineCallbacks
    def test_snapshotRunning(self):
        """
        A running guest's root disk is written to one file; the guest runs
        again afterwards.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver)
        path = self.snapshotPath()
        result = yield driver.snapshot(name, path)
        self.assertImageFile(result, path)
        self.assertEqual((yield self.state(driver, name)), power.RUNNING)

    @inlineCallbacks
    def test_snapshotKeepsThePowerState(self):
        """
        Paused, suspended and stopped guests are copied and stay as they
        were.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver)
        for before, after, expected in (
            (driver.pause, driver.unpause, power.PAUSED),
            (driver.suspend, driver.resume, power.SUSPENDED),
            (driver.powerOff, driver.powerOn, power.SHUTOFF),
        ):
            yield before(name)
            path = self.snapshotPath()
            result = yield driver.snapshot(name, path)
            self.assertImageFile(result, path)
            self.assertEqual((yield self.state(driver, name)), expected)
            yield after(name)

    @inlineCallbacks
    def test_snapshotUnknownGuest(self):
        driver = yield self.driver()
        path = self.snapshotPath()
        yield self.assertFailure(driver.snapshot(self.spec().name, path), errors.GuestNotFound)
        self.assertEqual(os.listdir(os.path.dirname(path)), [])

    @inlineCallbacks
    def test_consoleOutput(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        output = yield driver.getConsoleOutput(name)
        self.assertIsInstance(output, str)

    @inlineCallbacks
    def test_hostStats(self):
        driver = yield self.driver()
        stats = yield driver.getHostStats()
        for key in ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used"):
            self.assertIsInstance(stats[key], int, key)
            self.assertGreaterEqual(stats[key], 0, key)
        self.assertGreater(stats["vcpus"], 0)
        self.assertIsInstance(stats["hypervisor_type"], str)


class VirtDriverVolumeContract(_Base):
    """
    What an L{IVirtDriver} that attaches block devices does.

    @ivar devicePath: a block device (or file) of this host to attach.
    """

    devicePath = "/dev/null"

    @inlineCallbacks
    def test_attachAndDetach(self):
        driver = yield self.driver()
        name = yield self.spawned(driver)
        yield driver.attachVolume(name, self.devicePath, "/dev/vdb")
        yield self.assertFailure(
            driver.attachVolume(name, self.devicePath, "/dev/vdb"), errors.DeviceInUse
        )
        yield driver.detachVolume(name, "/dev/vdb")
        yield self.assertFailure(driver.detachVolume(name, "/dev/vdb"), errors.DeviceNotFound)

    @inlineCallbacks
    def test_attachUnknownGuest(self):
        driver = yield self.driver()
        yield self.assertFailure(
            driver.attachVolume(self.spec().name, self.devicePath, "/dev/vdb"),
            errors.GuestNotFound,
        )

    @inlineCallbacks
    def test_attachConnection(self):
        """
        A volume connection (the shape every volume driver exports, as a
        record or its JSON form) attaches as the path does.  (No detach:
        a guest lets go of a disk only once its kernel runs.)
        """
        driver = yield self.driver()
        name = yield self.spawned(driver)
        connection = VolumeConnection("file", path=self.devicePath)
        yield driver.attachVolume(name, connection.toDict(), "/dev/vdb")
        yield self.assertFailure(
            driver.attachVolume(name, connection, "/dev/vdb"), errors.DeviceInUse
        )

    @inlineCallbacks
    def test_attachBadConnection(self):
        """
        What is no connection is refused, and nothing is attached.
        """
        driver = yield self.driver()
        name = yield self.spawned(driver)
        for bad in (
            {"type": "nfs", "path": self.devicePath},
            {"type": "iscsi", "portal": "127.0.0.1:3260", "iqn": "iqn<x>", "lun": 1},
            {"type": "iscsi", "portal": "host; rm:3260", "iqn": "iqn.2010-10.org.x:y", "lun": 1},
            {"type": "file", "path": "relative"},
        ):
            yield self.assertFailure(driver.attachVolume(name, bad, "/dev/vdb"), errors.VirtError)
        yield self.assertFailure(driver.detachVolume(name, "/dev/vdb"), errors.DeviceNotFound)
