"""
The libvirt driver with real guests: QEMU (software emulation) through the
libvirtd of C{qemu:///system}, booting the test guest of
C{tools/build-test-guest.sh} (a Debian kernel and a busybox initramfs that
tells on its serial console what happens to it, see C{etc/guest/init}).

The tests skip when libvirtd does not answer (and fail instead under
C{NOVA_TEST_REQUIRE_SERVICES=1}).  Guests have names unique to the run and
are destroyed and undefined when a test ends, whatever happened.  Only the
network test touches networking: it makes its own bridge (with no address
on this host), a veth pair into a network namespace of its own holding
dnsmasq and a metadata server, and removes them all at the end.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.util.process import ReactorProcessRunner
from nova.virt import errors, power
from nova.virt.images import DirectoryImageFetcher
from nova.virt.interfaces import InstanceSpec
from tests.integration.processes import poll
from tests.util import makeTraversable, requireCondition
from tests.virt.contract import VirtDriverContract, VirtDriverVolumeContract

try:
    import libvirt
except ImportError:
    libvirt = None

URI = "qemu:///system"
HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(HERE, "tools", "build-test-guest.sh")
RUN = uuid.uuid4().hex[:6]
IMAGES = {"ami-7e570001": "root.img", "aki-7e570002": "vmlinuz", "ari-7e570003": "initrd.img"}
#: The same kernel and ramdisk under other ids, for updateGuest.
OTHER_IMAGES = {"aki-7e570004": "vmlinuz", "ari-7e570005": "initrd.img"}

_guestDirectory = []
_counter = iter(range(1, 10000))


def libvirtAnswers():
    try:
        return subprocess.run(
            ["virsh", "-c", URI, "version"], capture_output=True, timeout=30
        ).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def requireLibvirtd():
    requireCondition(libvirt is not None, "libvirt-python is not installed")
    requireCondition(libvirtAnswers(), f"libvirtd does not answer at {URI} (run `make services`)")


def guestDirectory():
    """
    Build the test guest (once per process; the script returns at once when
    it is built already).

    @return: the directory holding C{vmlinuz}, C{initrd.img}, C{root.img}.
    """
    if not _guestDirectory:
        try:
            result = subprocess.run(["bash", BUILD], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            requireCondition(False, f"building the test guest failed: {e}")
        requireCondition(
            result.returncode == 0,
            f"building the test guest failed: {result.stderr.strip()[-500:]}",
        )
        _guestDirectory.append(result.stdout.strip().splitlines()[-1])
    return _guestDirectory[0]


def domainNames(prefix):
    """
    @return: the sorted names of the domains of C{URI} whose names start
        with C{prefix} (blocking).
    """
    connection = libvirt.open(URI)
    try:
        return sorted(d.name() for d in connection.listAllDomains(0) if d.name().startswith(prefix))
    finally:
        connection.close()


def undefineDomains(prefix):
    """
    Destroy and undefine the domains whose names start with C{prefix}, with
    their managed save images (blocking; for clean-ups, so errors of single
    domains are ignored).
    """
    connection = libvirt.open(URI)
    try:
        for domain in connection.listAllDomains(0):
            if not domain.name().startswith(prefix):
                continue
            try:
                if domain.isActive():
                    domain.destroy()
                domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except libvirt.libvirtError:
                pass
    finally:
        connection.close()


def uniqueName():
    return "novatest-%s-%02d" % (RUN, next(_counter))


class CountingFetcher:
    """
    Counts the fetches of a L{DirectoryImageFetcher}.
    """

    def __init__(self, fetcher):
        self.fetcher = fetcher
        self.calls = []

    def fetch(self, context, imageId, destinationPath):
        self.calls.append(imageId)
        return self.fetcher.fetch(context, imageId, destinationPath)


class GuestMixin:
    """
    A driver on C{qemu:///system} with the test guest's images.
    """

    timeout = 240
    rebootTimeout = 30.0
    shutdownTimeout = 30.0

    def setUpGuest(self):
        requireLibvirtd()
        directory = guestDirectory()
        with open(os.path.join(directory, "cmdline")) as f:
            self.cmdline = f.read().strip()
        images = os.path.abspath(self.mktemp())
        os.makedirs(images)
        for imageId, fileName in list(IMAGES.items()) + list(OTHER_IMAGES.items()):
            os.symlink(os.path.join(directory, fileName), os.path.join(images, imageId))
        self.instancesPath = self.publicPath()
        self.fetcher = CountingFetcher(DirectoryImageFetcher(images, deferToThread))
        self.addCleanup(self.undefineAll)

    def publicPath(self):
        """
        @return: a new path whose directories QEMU (another user) can
            traverse: trial's temporary directories are private.
        """
        path = os.path.abspath(self.mktemp())
        makeTraversable(os.path.dirname(path))
        return path

    def makeDriver(self, **overrides):
        from nova.virt.libvirt import LibvirtDriver

        options = dict(
            libvirtType="qemu",
            uri=URI,
            runner=ReactorProcessRunner(reactor),
            cmdline=self.cmdline,
            spawnTimeout=60.0,
            rebootTimeout=self.rebootTimeout,
            shutdownTimeout=self.shutdownTimeout,
        )
        options.update(overrides)
        driver = LibvirtDriver(self.instancesPath, reactor, self.fetcher, **options)
        self.addCleanup(driver.close)
        return driver

    def guestSpec(self, **fields):
        values = dict(
            name=uniqueName(),
            vcpus=1,
            memoryMb=192,
            localGb=0,
            imageId="ami-7e570001",
            kernelId="aki-7e570002",
            ramdiskId="ari-7e570003",
            macAddress="02:16:3e:%02x:%02x:%02x" % tuple(os.urandom(3)),
        )
        values.update(fields)
        return InstanceSpec(**values)

    def undefineAll(self):
        """
        Destroy and undefine every domain of this run (after the driver's
        own clean-up, this finds only what a failure left).
        """
        return deferToThread(undefineDomains, f"novatest-{RUN}-")

    @inlineCallbacks
    def boot(self, driver, networkInfo=None, **fields):
        instance = self.guestSpec(**fields)
        self.addCleanup(self.destroyQuietly, driver, instance.name)
        yield driver.spawn(instance, networkInfo)
        return instance.name

    def destroyQuietly(self, driver, name):
        return driver.destroy(name).addErrback(lambda f: f.trap(errors.GuestNotFound))

    @inlineCallbacks
    def waitConsole(self, driver, name, predicate, timeout=90.0, what=None):
        """
        Poll the guest's console until C{predicate(text)} holds.

        @return: L{Deferred} firing with the console text.
        """
        deadline = reactor.seconds() + timeout
        while True:
            text = yield driver.getConsoleOutput(name)
            if predicate(text):
                return text
            if reactor.seconds() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what or predicate} on the console of {name}:\n"
                    + text[-2000:]
                )
            yield deferLater(reactor, 0.5, lambda: None)

    def waitFor(self, driver, name, marker, count=1, timeout=90.0):
        return self.waitConsole(
            driver, name, lambda text: text.count(marker) >= count, timeout,
            what=f"{count} x {marker!r}",
        )

    def domainExists(self, name):
        return subprocess.run(
            ["virsh", "-c", URI, "domstate", name], capture_output=True
        ).returncode == 0


class LibvirtGuestTests(GuestMixin, TestCase):
    def setUp(self):
        self.setUpGuest()

    @inlineCallbacks
    def test_bootRebootDestroy(self):
        """
        The guest's banner reaches the console file; a reboot presses the
        power button and the guest boots a second time from the same disk;
        destroy leaves neither domain nor files.
        """
        driver = self.makeDriver()
        yield driver.initHost("integration")
        started = reactor.seconds()
        name = yield self.boot(driver)
        text = yield self.waitFor(driver, name, "NOVA TEST GUEST", timeout=60.0)
        banner = reactor.seconds() - started
        self.assertLess(banner, 60.0)
        text = yield self.waitFor(driver, name, "NOVA READY")
        self.assertIn("NOVA BOOT 1 ", text)
        self.assertIn("NOVA DISKS vda", text)
        directory = os.path.join(self.instancesPath, name)
        self.assertEqual(sorted(os.listdir(directory)),
                         ["console.log", "disk", "kernel", "libvirt.xml", "ramdisk"])

        yield driver.reboot(name)
        self.assertEqual((yield driver.getInfo(name))["state"], power.RUNNING)
        text = yield self.waitFor(driver, name, "NOVA BOOT 2 ")
        self.assertIn("NOVA POWER BUTTON", text)
        self.assertEqual(text.count("NOVA TEST GUEST"), 2)

        yield driver.destroy(name)
        self.assertFalse(self.domainExists(name))
        self.assertFalse(os.path.exists(directory))
        self.assertNotIn(name, (yield driver.listInstances()))
        yield self.assertFailure(driver.destroy(name), errors.GuestNotFound)

    @inlineCallbacks
    def test_ephemeralDisk(self):
        """
        An instance type with C{local_gb} gives the guest a second, empty
        disk of that size; the root disk keeps the image's size; destroy
        removes both.
        """
        driver = self.makeDriver()
        name = yield self.boot(driver, localGb=1)
        directory = os.path.join(self.instancesPath, name)
        text = yield self.waitFor(driver, name, "NOVA READY")
        self.assertIn("NOVA DISKS vda vdb", text)

        def info(path):
            out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path],
                                 capture_output=True, check=True).stdout
            return json.loads(out)

        ephemeral = info(os.path.join(directory, "disk.local"))
        self.assertEqual(ephemeral["format"], "qcow2")
        self.assertEqual(ephemeral["virtual-size"], 1 << 30)
        self.assertNotIn("backing-filename", ephemeral)
        self.assertLess(os.stat(os.path.join(directory, "disk.local")).st_blocks * 512, 16 << 20)
        root = info(os.path.join(directory, "disk"))
        image = os.path.join(self.instancesPath, "_base", "ami-7e570001")
        self.assertEqual(root["virtual-size"], os.path.getsize(image))
        yield driver.destroy(name)
        self.assertFalse(os.path.exists(directory))
        self.assertFalse(self.domainExists(name))

    @inlineCallbacks
    def test_twoInstancesShareTheCachedImage(self):
        driver = self.makeDriver()
        yield driver.initHost("integration")
        first, second = self.guestSpec(), self.guestSpec()
        for instance in (first, second):
            self.addCleanup(self.destroyQuietly, driver, instance.name)
        yield gatherResults([driver.spawn(first), driver.spawn(second)], consumeErrors=True)
        self.assertEqual(sorted(self.fetcher.calls), sorted(IMAGES))
        base = os.path.join(self.instancesPath, "_base")
        self.assertEqual(sorted(os.listdir(base)), sorted(IMAGES))
        for instance in (first, second):
            out = subprocess.run(
                ["qemu-img", "info", "-U", "--output=json",
                 os.path.join(self.instancesPath, instance.name, "disk")],
                capture_output=True, check=True,
            ).stdout
            info = json.loads(out)
            self.assertEqual(info["format"], "qcow2")
            self.assertEqual(info["backing-filename"], os.path.join(base, "ami-7e570001"))
        for instance in (first, second):
            text = yield self.waitFor(driver, instance.name, "NOVA READY")
            self.assertIn("NOVA BOOT 1 ", text)
        yield driver.destroy(first.name)
        yield driver.destroy(second.name)
        self.assertEqual(sorted(os.listdir(base)), sorted(IMAGES))
        self.assertEqual(sorted(os.listdir(self.instancesPath)), ["_base"])

    @inlineCallbacks
    def test_stopStartSuspendResume(self):
        driver = self.makeDriver()
        name = yield self.boot(driver)
        yield self.waitFor(driver, name, "NOVA READY")
        yield driver.powerOff(name)
        self.assertEqual((yield driver.getInfo(name))["state"], power.SHUTOFF)
        text = yield driver.getConsoleOutput(name)
        self.assertIn("NOVA POWER BUTTON", text)
        yield driver.powerOn(name)
        yield self.waitFor(driver, name, "NOVA BOOT 2 ")
        yield self.waitFor(driver, name, "NOVA READY", count=2)

        yield driver.suspend(name)
        self.assertEqual((yield driver.getInfo(name))["state"], power.SUSPENDED)
        self.assertIn(name, (yield driver.listInstances()))
        yield driver.resume(name)
        info = yield driver.getInfo(name)
        self.assertEqual(info["state"], power.RUNNING)
        # Restored, not booted again: the guest carries on where it was.
        volume = yield self.makeVolume()
        yield driver.attachVolume(name, volume, "/dev/vdb")
        text = yield self.waitConsole(driver, name, lambda t: "NOVA DISKS vda vdb" in t,
                                      what="the attached disk")
        self.assertNotIn("NOVA BOOT 3 ", text)

        yield driver.pause(name)
        self.assertEqual((yield driver.getInfo(name))["state"], power.PAUSED)
        yield driver.unpause(name)
        self.assertEqual((yield driver.getInfo(name))["state"], power.RUNNING)

    @inlineCallbacks
    def makeVolume(self, size="16M"):
        path = self.publicPath()
        yield ReactorProcessRunner(reactor).run(["qemu-img", "create", "-f", "raw", path, size])
        os.chmod(path, 0o644)
        return path

    @inlineCallbacks
    def test_attachDetachFileVolume(self):
        driver = self.makeDriver()
        name = yield self.boot(driver)
        yield self.waitFor(driver, name, "NOVA READY")
        volume = yield self.makeVolume()
        yield driver.attachVolume(name, volume, "/dev/vdb")
        yield self.waitConsole(driver, name, lambda t: "NOVA DISKS vda vdb" in t,
                               what="the attached disk")
        yield self.assertFailure(driver.attachVolume(name, volume, "/dev/vdb"), errors.DeviceInUse)
        yield driver.detachVolume(name, "/dev/vdb")
        text = yield self.waitConsole(
            driver, name,
            lambda t: t.rsplit("NOVA DISKS", 1)[-1].split("\n")[0].split() == ["vda"],
            what="the disk to go",
        )
        self.assertIn("NOVA DISKS vda vdb", text)
        yield self.assertFailure(driver.detachVolume(name, "/dev/vdb"), errors.DeviceNotFound)

    @inlineCallbacks
    def test_attachIscsiVolume(self):
        """
        A LUN of the tgt iSCSI target, given by the path the kernel
        initiator would make, is attached through QEMU's own initiator.
        """
        requireCondition(shutil.which("tgtadm") is not None, "tgtadm is not installed")
        shown = subprocess.run(["tgtadm", "--lld", "iscsi", "--mode", "system", "--op", "show"],
                               capture_output=True)
        requireCondition(shown.returncode == 0, "tgtd is not running (run `make services`)")
        driver = self.makeDriver()
        name = yield self.boot(driver)
        volume = yield self.makeVolume()
        tid = 9000 + int(RUN, 16) % 900
        iqn = f"iqn.2010-10.org.openstack.test:{RUN}"

        def tgtadm(*args):
            subprocess.run(["tgtadm", "--lld", "iscsi", *args], check=True, capture_output=True)

        tgtadm("--mode", "target", "--op", "new", "--tid", str(tid), "--targetname", iqn)
        self.addCleanup(subprocess.run,
                        ["tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete",
                         "--force", "--tid", str(tid)], capture_output=True)
        tgtadm("--mode", "logicalunit", "--op", "new", "--tid", str(tid), "--lun", "1",
               "--backing-store", volume)
        tgtadm("--mode", "target", "--op", "bind", "--tid", str(tid), "--initiator-address", "ALL")
        yield self.waitFor(driver, name, "NOVA READY")
        devicePath = f"/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-{iqn}-lun-1"
        yield driver.attachVolume(name, devicePath, "/dev/vdb")
        yield self.waitConsole(driver, name, lambda t: "NOVA DISKS vda vdb" in t,
                               what="the iSCSI disk")
        xml = yield driver.connection.run(lambda c: c.lookupByName(name).XMLDesc(0))
        self.assertIn(f"name='{iqn}/1'", xml.replace('"', "'"))
        yield driver.detachVolume(name, "/dev/vdb")

    @inlineCallbacks
    def test_spawnFailureLeavesNothing(self):
        """
        A guest QEMU cannot start (its bridge does not exist) fails to
        spawn and leaves neither domain nor files.
        """
        driver = self.makeDriver()
        instance = self.guestSpec()
        self.addCleanup(self.destroyQuietly, driver, instance.name)
        yield self.assertFailure(
            driver.spawn(instance, {"bridge": f"nvnone{RUN}"}), errors.VirtError
        )
        self.assertFalse(self.domainExists(instance.name))
        self.assertFalse(os.path.exists(os.path.join(self.instancesPath, instance.name)))


def run(*argv):
    subprocess.run(list(argv), check=True, capture_output=True)


class LibvirtGuestNetworkTests(GuestMixin, TestCase):
    """
    The guest on a bridge: DHCP from dnsmasq and its instance id and
    user-data from a metadata server, both in a network namespace of the
    test's own.
    """

    def setUp(self):
        self.setUpGuest()
        for tool in ("ip", "dnsmasq"):
            requireCondition(shutil.which(tool) is not None, f"{tool} is not installed")
        requireCondition(os.geteuid() == 0, "the network test runs as root")
        self.bridge = f"nvbr{RUN}"
        self.namespace = f"novatest-{RUN}"
        self.vethHost, self.vethNs = f"nvva{RUN}", f"nvvb{RUN}"
        self.subnet = "10.213.%d" % (int(RUN[:2], 16) % 250 + 1)
        self.processes = []
        self.addCleanup(self.tearDownNetwork)
        run("ip", "netns", "add", self.namespace)
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "link", "add", self.vethHost, "type", "veth", "peer", "name", self.vethNs)
        run("ip", "link", "set", self.vethNs, "netns", self.namespace)
        run("ip", "link", "set", self.vethHost, "master", self.bridge)
        run("ip", "link", "set", self.vethHost, "up")
        run("ip", "link", "set", self.bridge, "up")
        inNs = ["ip", "netns", "exec", self.namespace]
        run(*inNs, "ip", "link", "set", "lo", "up")
        run(*inNs, "ip", "addr", "add", "169.254.169.254/32", "dev", "lo")
        run(*inNs, "ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.vethNs)
        run(*inNs, "ip", "link", "set", self.vethNs, "up")
        metadata = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(metadata, "latest", "meta-data"))
        with open(os.path.join(metadata, "latest", "meta-data", "instance-id"), "w") as f:
            f.write("i-7e570001")
        with open(os.path.join(metadata, "latest", "user-data"), "w") as f:
            f.write("hello from the metadata service\n")
        self.spawnDaemon(
            *inNs, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            "--no-resolv", "--no-hosts", "--bind-interfaces", f"--interface={self.vethNs}",
            "--except-interface=lo", f"--dhcp-range={self.subnet}.10,{self.subnet}.50,255.255.255.0",
            f"--dhcp-option=3,{self.subnet}.1", "--leasefile-ro",
            f"--pid-file={os.path.abspath(self.mktemp())}",
        )
        self.spawnDaemon(
            *inNs, sys.executable, "-m", "http.server", "80", "--bind", "169.254.169.254",
            "--directory", metadata,
        )

    def spawnDaemon(self, *argv):
        process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def tearDownNetwork(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for argv in (
            ["ip", "link", "delete", self.vethHost],
            ["ip", "link", "delete", self.bridge],
            ["ip", "netns", "delete", self.namespace],
        ):
            subprocess.run(argv, capture_output=True)

    @inlineCallbacks
    def test_dhcpAndMetadata(self):
        driver = self.makeDriver()
        mac = "02:16:3e:7e:57:%02x" % (int(RUN[:2], 16),)
        networkInfo = {"bridge": self.bridge, "mac": mac, "address": None}
        yield poll(lambda: self.processes[1].poll() is None and subprocess.run(
            ["ip", "netns", "exec", self.namespace, "ss", "-ltn"], capture_output=True,
            text=True).stdout.count(":80 ") > 0, timeout=10, what="the metadata server")
        # (boot's clean-up destroys the guest before the bridge goes.)
        name = yield self.boot(driver, networkInfo)
        text = yield self.waitFor(driver, name, "NOVA READY", timeout=120.0)
        self.assertIn(f"NOVA NET {self.subnet}.", text)
        self.assertIn("NOVA INSTANCE-ID i-7e570001", text)
        self.assertIn("NOVA USER-DATA hello from the metadata service", text)
        xml = yield driver.connection.run(lambda c: c.lookupByName(name).XMLDesc(0))
        self.assertIn(mac, xml)


class LibvirtQemuContractTests(GuestMixin, VirtDriverContract, VirtDriverVolumeContract, TestCase):
    """
    The virt driver contract against real QEMU guests.  Guests get no
    network card (the contract's bridge does not exist here), short grace
    periods for the power button (a guest that has not booted far ignores
    it), and the volume tests wait for the guest to boot, since only a
    running kernel lets go of a detached disk.
    """

    rebootTimeout = 3.0
    shutdownTimeout = 3.0
    network = None
    devicePath = None
    otherKernelId = "aki-7e570004"
    otherRamdiskId = "ari-7e570005"

    def setUp(self):
        self.setUpGuest()
        self.devicePath = self.publicPath()
        with open(self.devicePath, "wb") as f:
            f.truncate(16 << 20)

    def spec(self, **fields):
        values = {"name": uniqueName(), "memoryMb": 192}
        values.update(fields)
        return self.guestSpec(**values)

    @inlineCallbacks
    def spawned(self, driver, **fields):
        instance = self.spec(**fields)
        yield driver.spawn(instance, None)
        self.addCleanup(self._destroyQuietly, driver, instance.name)
        if self._testMethodName in ("test_attachAndDetach",):
            yield self.waitFor(driver, instance.name, "NOVA READY")
        return instance.name

