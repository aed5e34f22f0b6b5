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

from twisted.internet.defer import inlineCallbacks
from zope.interface.verify import verifyObject

from nova.virt import errors, power
from nova.virt.interfaces import InstanceSpec, IVirtDriver

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
        yield driver.spawn(spec, NETWORK)
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
