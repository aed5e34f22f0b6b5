"""
Tests for L{nova.virt.libvirt} and L{nova.virt.images}: the domain XML,
the image cache and disk preparation, and the lifecycle against libvirt's
C{test:///default} driver (in-process, shared by every connection of the
process; it runs no real guests and cannot attach devices).

The synchronous tests run libvirt calls inline and time on a
L{task.Clock}; the contract tests run the driver as production does, in
its thread pool.
"""

import itertools
import os
import subprocess
import sys
import textwrap
from xml.etree import ElementTree

import attr

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

try:
    import libvirt
except ImportError:
    libvirt = None

from nova.config import ConfigError, configFromFlags
from nova.drivers import loadDriver
from nova.compute.flags import VIRT_DRIVERS
from nova.util.process import FakeProcessRunner
from nova.virt import errors, power
from nova.virt.images import (
    DirectoryImageFetcher,
    DiskMaker,
    IImageFetcher,
    ImageCache,
    ImageError,
)
from nova.virt.interfaces import InstanceSpec, IVirtDriver
from tests.virt.contract import NETWORK, VirtDriverContract

if libvirt is not None:
    from nova.virt import libvirt as lv

TEST_URI = "test:///default"
GIB = 1 << 30
QCOW2 = b"QFI\xfb" + bytes(60)

_names = itertools.count(1)


def requireLibvirt():
    if libvirt is None:
        raise SkipTest("libvirt-python is not installed")


def inline(function, *args):
    """
    Run C{function(*args)} at once: the thread runner of synchronous tests.
    """
    try:
        return succeed(function(*args))
    except BaseException:
        return fail(Failure())


def uniqueName():
    return "unit-%d-%06d" % (os.getpid() % 100000, next(_names))


@implementer(IImageFetcher)
class FakeFetcher:
    """
    An L{IImageFetcher} writing images from a L{dict}.

    @ivar calls: the image ids asked for.
    @ivar contexts: the contexts they were asked for.
    @ivar held: when a list, fetches wait in it until L{release}.
    """

    def __init__(self, images):
        self.images = images
        self.calls = []
        self.contexts = []
        self.held = None

    def fetch(self, context, imageId, destinationPath):
        self.calls.append(imageId)
        self.contexts.append(context)

        def write():
            if imageId not in self.images:
                raise ImageError(f"no image {imageId}")
            with open(destinationPath, "wb") as f:
                f.write(self.images[imageId])

        if self.held is not None:
            d = Deferred()
            self.held.append((d, write))
            return d
        return inline(write)

    def release(self):
        held, self.held = self.held, None
        for d, write in held:
            try:
                write()
            except ImageError as e:
                d.errback(e)
            else:
                d.callback(None)


IMAGES = {"ami-00000001": b"root" * 256, "aki-00000002": b"kernel", "ari-00000003": b"ramdisk"}

#: A second kernel and ramdisk, for L{lv.LibvirtDriver.updateGuest}.
OTHER_IMAGES = {"aki-0000000a": b"kernel 2", "ari-0000000b": b"ramdisk 2"}


def spec(name=None, **fields):
    values = dict(
        name=name or uniqueName(),
        uuid=None,
        vcpus=1,
        memoryMb=256,
        localGb=0,
        imageId="ami-00000001",
        kernelId="aki-00000002",
        ramdiskId="ari-00000003",
        macAddress="02:16:3e:00:00:01",
    )
    values.update(fields)
    return InstanceSpec(**values)


class ProxyDomain:
    """
    A libvirt domain whose chosen methods behave otherwise; every call is
    recorded in C{calls}.
    """

    def __init__(self, domain, calls, overrides):
        self._domain = domain
        self._calls = calls
        self._overrides = overrides

    def __getattr__(self, name):
        real = getattr(self._domain, name)

        def call(*args):
            self._calls.append(name)
            override = self._overrides.get(name)
            if override is not None:
                return override(self._domain, *args)
            return real(*args)

        return call


class ProxyConnection:
    """
    A libvirt connection handing out L{ProxyDomain}s; C{failures} is a list
    of exceptions the next calls of C{lookupByName} raise.
    """

    def __init__(self, connection, overrides=None):
        self._connection = connection
        self.calls = []
        self.overrides = overrides or {}
        self.failures = []

    def lookupByName(self, name):
        if self.failures:
            raise self.failures.pop(0)
        return ProxyDomain(self._connection.lookupByName(name), self.calls, self.overrides)

    def defineXML(self, xml):
        return ProxyDomain(self._connection.defineXML(xml), self.calls, self.overrides)

    def __getattr__(self, name):
        return getattr(self._connection, name)


def connectionError(message="connection closed"):
    error = libvirt.libvirtError(message)
    error.err = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_RPC, message, 2, None, None, None, 0, 0)
    return error


class _Helpers:
    def makeDriver(self, images=None, opener=None, **kwargs):
        requireLibvirt()
        self.clock = Clock()
        self.runner = FakeProcessRunner()
        self.fetcher = FakeFetcher(dict(IMAGES if images is None else images))
        self.instancesPath = os.path.abspath(self.mktemp())
        options = dict(libvirtType="qemu", uri=TEST_URI, runner=self.runner, clock=self.clock)
        options.update(kwargs)
        driver = lv.LibvirtDriver(
            self.instancesPath,
            self.clock,
            self.fetcher,
            runInThread=inline,
            opener=opener,
            **options,
        )
        self.successResultOf(driver.initHost("unit-host"))
        return driver

    def forget(self, name):
        """
        Undefine C{name} from the test driver when the test ends.
        """

        def undefine():
            connection = libvirt.open(TEST_URI)
            try:
                domain = connection.lookupByName(name)
                if domain.isActive():
                    domain.destroy()
                domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except libvirt.libvirtError:
                pass
            finally:
                connection.close()

        self.addCleanup(undefine)

    def spawn(self, driver, instance, networkInfo=None, blockDevices=()):
        self.forget(instance.name)
        return self.successResultOf(driver.spawn(instance, networkInfo, blockDevices))

    def defined(self, name):
        connection = libvirt.open(TEST_URI)
        try:
            connection.lookupByName(name)
        except libvirt.libvirtError:
            return False
        finally:
            connection.close()
        return True


# -- domain XML ------------------------------------------------------------------


class GuestConfigTests(_Helpers, SynchronousTestCase):
    """
    The domain XML, parsed back.
    """

    def setUp(self):
        self.driver = self.makeDriver()

    def xml(self, driver=None, instance=None, kernel="/k", ramdisk="/r", networkInfo=NETWORK, disks=None):
        driver = driver or self.driver
        instance = instance or spec(name="instance-0000002a", uuid="00000000-0000-4000-8000-00000000002a",
                                    vcpus=2, memoryMb=384)
        if disks is None:
            disks = [lv.Disk(target="vda", bus="virtio", source="/i/disk", format="qcow2")]
        config = driver.guestConfig(instance, disks, kernel, ramdisk, networkInfo)
        return ElementTree.fromstring(config.toXml())

    def test_qemu(self):
        root = self.xml()
        self.assertEqual(root.tag, "domain")
        self.assertEqual(root.get("type"), "qemu")
        self.assertEqual(root.findtext("name"), "instance-0000002a")
        self.assertEqual(root.findtext("uuid"), "00000000-0000-4000-8000-00000000002a")
        self.assertEqual(root.find("memory").get("unit"), "KiB")
        self.assertEqual(root.findtext("memory"), str(384 * 1024))
        self.assertEqual(root.findtext("currentMemory"), str(384 * 1024))
        self.assertEqual(root.findtext("vcpu"), "2")
        self.assertEqual(root.findtext("os/type"), "hvm")
        self.assertEqual(root.findtext("os/kernel"), "/k")
        self.assertEqual(root.findtext("os/initrd"), "/r")
        self.assertEqual(root.findtext("os/cmdline"), "root=/dev/vda console=ttyS0")
        self.assertIsNone(root.find("os/boot"))
        self.assertIsNotNone(root.find("features/acpi"))
        self.assertEqual(root.findtext("on_poweroff"), "destroy")
        self.assertEqual(root.findtext("on_reboot"), "restart")

    def test_metadataRecordsBootImages(self):
        boot = self.xml().find(f"metadata/{{{lv.METADATA_NAMESPACE}}}boot")
        self.assertEqual(boot.attrib, {"kernel": "aki-00000002", "ramdisk": "ari-00000003"})
        self.assertEqual(lv.bootImagesOf(self.xml()), ("aki-00000002", "ari-00000003"))
        self.assertEqual(lv.bootImagesOf(self.xml(ramdisk=None)), ("aki-00000002", None))
        self.assertEqual(lv.bootImagesOf(self.xml(kernel=None, ramdisk=None)), (None, None))

    def test_disk(self):
        (disk,) = self.xml().findall("devices/disk")
        self.assertEqual((disk.get("type"), disk.get("device")), ("file", "disk"))
        self.assertEqual(disk.find("driver").attrib, {"name": "qemu", "type": "qcow2"})
        self.assertEqual(disk.find("source").get("file"), "/i/disk")
        self.assertEqual(disk.find("target").attrib, {"dev": "vda", "bus": "virtio"})

    def test_serialConsoleFile(self):
        (serial,) = self.xml().findall("devices/serial")
        self.assertEqual(serial.get("type"), "file")
        self.assertEqual(
            serial.find("source").get("path"),
            os.path.join(self.instancesPath, "instance-0000002a", "console.log"),
        )
        self.assertEqual(serial.find("source").get("append"), "on")
        self.assertEqual(serial.find("target").get("port"), "0")

    def test_interface(self):
        (interface,) = self.xml().findall("devices/interface")
        self.assertEqual(interface.get("type"), "bridge")
        self.assertEqual(interface.find("source").get("bridge"), "br100")
        self.assertEqual(interface.find("mac").get("address"), "02:16:3e:00:00:01")
        self.assertEqual(interface.find("model").get("type"), "e1000")

    def test_macFromNetworkInfo(self):
        info = dict(NETWORK, mac="02:16:3E:AA:BB:CC")
        (interface,) = self.xml(networkInfo=info).findall("devices/interface")
        self.assertEqual(interface.find("mac").get("address"), "02:16:3e:aa:bb:cc")

    def test_kvm(self):
        root = self.xml(driver=self.makeDriver(libvirtType="kvm"))
        self.assertEqual(root.get("type"), "kvm")
        self.assertEqual(root.find("devices/interface/model").get("type"), "virtio")
        self.assertIsNotNone(root.find("features/acpi"))

    def test_vifModel(self):
        root = self.xml(driver=self.makeDriver(libvirtType="kvm", vifModel="e1000"))
        self.assertEqual(root.find("devices/interface/model").get("type"), "e1000")

    def test_bridgeTemplate(self):
        """
        C{bridgeTemplate} names the bridge the card joins from the
        network's bridge; a template that makes no bridge name is refused.
        """
        root = self.xml(driver=self.makeDriver(bridgeTemplate="{bridge}a"))
        self.assertEqual(root.find("devices/interface/source").get("bridge"), "br100a")
        self.assertRaises(ConfigError, self.makeDriver, bridgeTemplate="x/{bridge}")
        driver = self.makeDriver(bridgeTemplate="{bridge}-guests")
        self.assertRaises(
            errors.VirtError, self.xml, driver=driver, networkInfo=dict(NETWORK, bridge="br1000000")
        )

    def test_uuidAlwaysSet(self):
        first = self.xml(instance=spec(uuid=None)).findtext("uuid")
        second = self.xml(instance=spec(uuid=None)).findtext("uuid")
        self.assertEqual(len(first), 36)
        self.assertNotEqual(first, second)

    def test_bootFromDisk(self):
        root = self.xml(kernel=None, ramdisk=None)
        self.assertEqual(root.find("os/boot").get("dev"), "hd")
        for tag in ("kernel", "initrd", "cmdline"):
            self.assertIsNone(root.find("os/" + tag))

    def test_kernelWithoutRamdisk(self):
        root = self.xml(ramdisk=None)
        self.assertEqual(root.findtext("os/kernel"), "/k")
        self.assertIsNone(root.find("os/initrd"))

    def test_noBridgeNoInterface(self):
        self.assertEqual(self.xml(networkInfo=None).findall("devices/interface"), [])
        self.assertEqual(
            self.xml(networkInfo={"address": "10.0.0.3"}).findall("devices/interface"), []
        )

    def test_badValuesRefused(self):
        for info in (
            dict(NETWORK, bridge="br0'/><disk"),
            dict(NETWORK, bridge="a" * 16),
            dict(NETWORK, mac="02:16:3e:00:00"),
            dict(NETWORK, mac="02:16:3e:00:00:0g"),
        ):
            self.assertRaises(errors.VirtError, self.xml, networkInfo=info)
        self.assertRaises(errors.VirtError, self.xml, instance=spec(name="x<y"))
        self.assertRaises(errors.VirtError, self.xml, instance=spec(name="../etc"))
        self.assertRaises(errors.VirtError, self.xml, instance=spec(uuid="not-a-uuid"))

    def test_textIsEscaped(self):
        cmdline = "console=ttyS0 x=\"<a&b>\" y='c'"
        driver = self.makeDriver(cmdline=cmdline)
        root = self.xml(driver=driver)
        self.assertEqual(root.findtext("os/cmdline"), cmdline)
        self.assertEqual(len(root.findall("os/*")), 4)

    def test_xen(self):
        driver = self.makeDriver(libvirtType="xen", uri=TEST_URI)
        disks = [lv.Disk(target="xvda", bus="xen", source="/i/disk")]
        root = self.xml(driver=driver, disks=disks)
        self.assertEqual(root.get("type"), "xen")
        self.assertEqual(root.findtext("os/type"), "linux")
        self.assertIsNone(root.find("devices/disk/driver"))
        self.assertEqual(root.find("devices/disk/target").get("bus"), "xen")
        self.assertEqual(self.xml(driver=driver, kernel=None).findtext("os/type"), "hvm")

    def test_uml(self):
        root = self.xml(driver=self.makeDriver(libvirtType="uml"))
        self.assertEqual(root.get("type"), "uml")
        self.assertEqual(root.findtext("os/type"), "uml")
        self.assertIsNone(root.find("features"))

    def test_lxc(self):
        root = self.xml(driver=self.makeDriver(libvirtType="lxc"), kernel=None, disks=[])
        self.assertEqual(root.get("type"), "lxc")
        self.assertEqual(root.findtext("os/type"), "exe")
        self.assertEqual(root.findtext("os/init"), "/sbin/init")
        fs = root.find("devices/filesystem")
        self.assertEqual(
            fs.find("source").get("dir"),
            os.path.join(self.instancesPath, "instance-0000002a", "rootfs"),
        )
        self.assertEqual(fs.find("target").get("dir"), "/")
        self.assertEqual(root.find("devices/console").get("type"), "pty")
        self.assertIsNone(root.find("devices/serial"))


class URITests(SynchronousTestCase):
    def setUp(self):
        requireLibvirt()

    def test_types(self):
        self.assertEqual(lv.uriFor("kvm"), "qemu:///system")
        self.assertEqual(lv.uriFor("qemu"), "qemu:///system")
        self.assertEqual(lv.uriFor("lxc"), "lxc:///")
        self.assertEqual(lv.uriFor("uml"), "uml:///system")
        self.assertEqual(lv.uriFor("xen"), "xen:///")

    def test_override(self):
        self.assertEqual(lv.uriFor("kvm", "qemu+ssh://h/system"), "qemu+ssh://h/system")

    def test_unknown(self):
        self.assertRaises(ConfigError, lv.uriFor, "vmware")


class VolumeDiskTests(SynchronousTestCase):
    def setUp(self):
        requireLibvirt()

    def element(self, *args, **kwargs):
        return ElementTree.fromstring(lv.volumeDisk(*args, **kwargs).toXml("qemu"))

    def test_file(self):
        disk = self.element("/var/lib/nova/volumes/volume-0000000a", "/dev/vdb")
        self.assertEqual(disk.get("type"), "file")
        self.assertEqual(disk.find("source").get("file"), "/var/lib/nova/volumes/volume-0000000a")
        self.assertEqual(disk.find("target").attrib, {"dev": "vdb", "bus": "virtio"})
        self.assertEqual(disk.find("driver").get("type"), "raw")

    def test_fileFormat(self):
        disk = self.element("/v/volume-1", "vdc", volumeFormat="qcow2")
        self.assertEqual(disk.find("driver").get("type"), "qcow2")
        self.assertEqual(disk.find("target").get("dev"), "vdc")

    def test_block(self):
        disk = self.element("/dev/sdx", "/dev/sdb", isBlock=True)
        self.assertEqual(disk.get("type"), "block")
        self.assertEqual(disk.find("source").get("dev"), "/dev/sdx")
        self.assertEqual(disk.find("target").attrib, {"dev": "sdb", "bus": "scsi"})

    def test_iscsiByPath(self):
        iqn = "iqn.2010-10.org.openstack:volume-0000000a"
        disk = self.element(f"/dev/disk/by-path/ip-10.0.0.2:3260-iscsi-{iqn}-lun-1", "/dev/vdb")
        self.assertEqual(disk.get("type"), "network")
        source = disk.find("source")
        self.assertEqual(source.get("protocol"), "iscsi")
        self.assertEqual(source.get("name"), f"{iqn}/1")
        self.assertEqual(source.find("host").attrib, {"name": "10.0.0.2", "port": "3260"})
        self.assertEqual(disk.find("driver").get("type"), "raw")

    def test_iscsiByPathLoggedIn(self):
        path = "/dev/disk/by-path/ip-10.0.0.2:3260-iscsi-iqn.x:y-lun-1"
        disk = self.element(path, "/dev/vdb", isBlock=True)
        self.assertEqual(disk.get("type"), "block")
        self.assertEqual(disk.find("source").get("dev"), path)

    def test_iscsiURL(self):
        disk = self.element("iscsi://127.0.0.1:3261/iqn.2010-10.org.openstack:v1/2", "/dev/vdc")
        source = disk.find("source")
        self.assertEqual(source.get("name"), "iqn.2010-10.org.openstack:v1/2")
        self.assertEqual(source.find("host").attrib, {"name": "127.0.0.1", "port": "3261"})

    def test_refused(self):
        self.assertRaises(errors.VirtError, lv.volumeDisk, "/v/x", "/dev/vdb1")
        self.assertRaises(errors.VirtError, lv.volumeDisk, "/v/x", "/etc/passwd")
        self.assertRaises(errors.VirtError, lv.volumeDisk, "relative/x", "/dev/vdb")
        self.assertRaises(errors.VirtError, lv.volumeDisk, "", "/dev/vdb")
        self.assertRaises(
            errors.VirtError, lv.volumeDisk, "iscsi://h:1/iqn<x>/1", "/dev/vdb"
        )


# -- images ------------------------------------------------------------------------


class ImageTests(SynchronousTestCase):
    def setUp(self):
        self.source = self.mktemp()
        os.makedirs(self.source)
        with open(os.path.join(self.source, "ami-1"), "wb") as f:
            f.write(b"image")
        self.fetcher = DirectoryImageFetcher(self.source, inline)

    def test_provides(self):
        verifyObject(IImageFetcher, self.fetcher)
        verifyObject(IImageFetcher, FakeFetcher({}))

    def test_directoryFetcherCopies(self):
        destination = self.mktemp()
        self.successResultOf(self.fetcher.fetch(None, "ami-1", destination))
        with open(destination, "rb") as f:
            self.assertEqual(f.read(), b"image")
        self.assertEqual(os.stat(destination).st_mode & 0o777, 0o644)

    def test_directoryFetcherRefuses(self):
        self.failureResultOf(self.fetcher.fetch(None, "ami-2", self.mktemp()), ImageError)
        self.failureResultOf(self.fetcher.fetch(None, "../ami-1", self.mktemp()), ImageError)

    def test_cachePublishesWhole(self):
        base = self.mktemp()
        cache = ImageCache(base, self.fetcher, inline)
        path = self.successResultOf(cache.fetch(None, "ami-1"))
        self.assertEqual(path, os.path.join(base, "ami-1"))
        self.assertEqual(os.listdir(base), ["ami-1"])
        self.assertEqual(self.successResultOf(cache.fetch(None, "ami-1")), path)
        self.assertEqual(self.fetcher.fetched, ["ami-1"])

    def test_cacheRefusesBadIds(self):
        cache = ImageCache(self.mktemp(), self.fetcher, inline)
        for bad in ("../x", ".hidden", "", "a/b", None):
            self.failureResultOf(cache.fetch(None, bad), ImageError)
        self.assertEqual(self.fetcher.fetched, [])

    def test_cacheFailureLeavesNothing(self):
        base = self.mktemp()
        cache = ImageCache(base, self.fetcher, inline)
        self.failureResultOf(cache.fetch(None, "ami-2"), ImageError)
        self.assertEqual(os.listdir(base), [])


class DiskMakerTests(SynchronousTestCase):
    def setUp(self):
        self.runner = FakeProcessRunner()
        self.maker = DiskMaker(self.runner, inline)

    def test_ephemeralQcow2(self):
        fmt = self.successResultOf(self.maker.makeEphemeralDisk("/i/disk.local", 3))
        self.assertEqual(fmt, "qcow2")
        self.assertEqual(self.runner.commands, [("qemu-img", "create", "-f", "qcow2", "/i/disk.local", "3G")])

    def test_ephemeralRaw(self):
        path = self.mktemp()
        fmt = self.successResultOf(self.maker.makeEphemeralDisk(path, 2, copyOnWrite=False))
        self.assertEqual(fmt, "raw")
        self.assertEqual(os.path.getsize(path), 2 * GIB)
        self.assertLess(os.stat(path).st_blocks * 512, 1 << 20)
        self.assertEqual(self.runner.commands, [])
        # An existing file is not overwritten.
        self.failureResultOf(self.maker.makeEphemeralDisk(path, 1, copyOnWrite=False), FileExistsError)

    def test_ephemeralSizeRefused(self):
        for bad in (0, -1, "1", 1.5, True, None):
            self.failureResultOf(self.maker.makeEphemeralDisk("/i/disk.local", bad), ImageError)
        self.assertEqual(self.runner.commands, [])

    def test_rootDiskNotResized(self):
        base = self.mktemp()
        with open(base, "wb") as f:
            f.write(b"root" * 256)
        fmt = self.successResultOf(self.maker.makeRootDisk(base, "/i/disk"))
        self.assertEqual(fmt, "qcow2")
        self.assertEqual(
            self.runner.commands,
            [("qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", os.path.abspath(base), "/i/disk")],
        )


# -- the lifecycle, inline, on test:///default ----------------------------------------


class LifecycleTests(_Helpers, SynchronousTestCase):
    def setUp(self):
        self.driver = self.makeDriver()

    def instanceDir(self, name):
        return os.path.join(self.instancesPath, name)

    def test_spawnPreparesDisks(self):
        instance = spec()
        self.spawn(self.driver, instance, NETWORK)
        self.assertEqual(sorted(self.fetcher.calls), sorted(IMAGES))
        base = os.path.join(self.instancesPath, "_base")
        self.assertEqual(sorted(os.listdir(base)), sorted(IMAGES))
        directory = self.instanceDir(instance.name)
        self.assertEqual(
            self.runner.commands,
            [
                (
                    "qemu-img", "create", "-f", "qcow2", "-F", "raw",
                    "-b", os.path.join(base, "ami-00000001"),
                    os.path.join(directory, "disk"),
                )
            ],
        )
        with open(os.path.join(directory, "kernel"), "rb") as f:
            self.assertEqual(f.read(), b"kernel")
        with open(os.path.join(directory, "ramdisk"), "rb") as f:
            self.assertEqual(f.read(), b"ramdisk")
        with open(os.path.join(directory, "libvirt.xml")) as f:
            root = ElementTree.fromstring(f.read())
        self.assertEqual(root.findtext("os/kernel"), os.path.join(directory, "kernel"))
        (disk,) = root.findall("devices/disk")
        self.assertEqual(disk.find("source").get("file"), os.path.join(directory, "disk"))
        self.assertEqual(disk.find("target").get("dev"), "vda")
        info = self.successResultOf(self.driver.getInfo(instance.name))
        self.assertEqual(info["state"], power.RUNNING)
        self.assertIn(instance.name, self.successResultOf(self.driver.listInstances()))

    def domainDisks(self, driver, name):
        """
        @return: the C{<disk>} elements of the defined domain C{name}.
        """
        xml = self.successResultOf(driver.connection.run(lambda c: c.lookupByName(name).XMLDesc(0)))
        return ElementTree.fromstring(xml).findall("devices/disk")

    def test_ephemeralDisk(self):
        """
        An instance type with C{local_gb} gets its root disk at the image's
        size (no resize) and an empty qcow2 ephemeral disk of that many GiB
        as its second disk.
        """
        instance = spec(localGb=10)
        self.spawn(self.driver, instance)
        directory = self.instanceDir(instance.name)
        base = os.path.join(self.instancesPath, "_base", "ami-00000001")
        self.assertEqual(
            self.runner.commands,
            [
                ("qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", base,
                 os.path.join(directory, "disk")),
                ("qemu-img", "create", "-f", "qcow2", os.path.join(directory, "disk.local"), "10G"),
            ],
        )
        disks = self.domainDisks(self.driver, instance.name)
        self.assertEqual(
            [(d.find("target").get("dev"), d.find("target").get("bus"),
              d.find("source").get("file"), d.find("driver").get("type")) for d in disks],
            [
                ("vda", "virtio", os.path.join(directory, "disk"), "qcow2"),
                ("vdb", "virtio", os.path.join(directory, "disk.local"), "qcow2"),
            ],
        )
        with open(os.path.join(directory, "libvirt.xml")) as f:
            saved = ElementTree.fromstring(f.read())
        self.assertEqual([d.find("target").get("dev") for d in saved.findall("devices/disk")],
                         ["vda", "vdb"])

    def test_noEphemeralDiskWithoutLocalGb(self):
        instance = spec(localGb=0)
        self.spawn(self.driver, instance)
        self.assertEqual(len(self.runner.commands), 1)
        self.assertNotIn("disk.local", " ".join(self.runner.commands[0]))
        self.assertEqual([d.find("target").get("dev") for d in self.domainDisks(self.driver, instance.name)],
                         ["vda"])

    def test_ephemeralFailureLeavesNothing(self):
        instance = spec(localGb=2)
        ephemeral = os.path.join(self.instanceDir(instance.name), "disk.local")
        self.runner.respond(("qemu-img", "create", "-f", "qcow2", ephemeral), err="no space", code=1)
        self.forget(instance.name)
        failure = self.failureResultOf(self.driver.spawn(instance), ImageError)
        self.assertIn("no space", str(failure.value))
        self.assertEqual(len(self.runner.commandsStartingWith("qemu-img", "create")), 2)
        self.assertFalse(self.defined(instance.name))
        self.assertFalse(os.path.exists(self.instanceDir(instance.name)))

    def test_volumeAtTheEphemeralTargetRefused(self):
        instance = spec(localGb=1)
        self.forget(instance.name)
        self.failureResultOf(
            self.driver.spawn(instance, None, [("/dev/null", "/dev/vdb")]), errors.DeviceInUse
        )
        self.assertFalse(self.defined(instance.name))

    def test_destroyRemovesEphemeralDisk(self):
        def create(argv, stdin):
            with open(argv[-2], "wb") as f:
                f.truncate(1024)
            return (b"", b"", 0)

        self.runner.handle(("qemu-img", "create"), create)
        instance = spec(localGb=1)
        self.spawn(self.driver, instance)
        ephemeral = os.path.join(self.instanceDir(instance.name), "disk.local")
        self.assertTrue(os.path.isfile(ephemeral))
        self.successResultOf(self.driver.destroy(instance.name))
        self.assertFalse(os.path.exists(ephemeral))
        self.assertFalse(os.path.exists(self.instanceDir(instance.name)))
        self.assertFalse(self.defined(instance.name))

    def test_ephemeralTargets(self):
        self.assertEqual(self.driver._ephemeralTarget(), ("vdb", "virtio"))
        self.assertEqual(self.makeDriver(libvirtType="kvm")._ephemeralTarget(), ("vdb", "virtio"))
        self.assertEqual(self.makeDriver(libvirtType="xen")._ephemeralTarget(), ("xvdb", "xen"))
        self.assertEqual(self.makeDriver(libvirtType="uml")._ephemeralTarget(), ("ubdb", "uml"))

    def test_qcow2Image(self):
        self.fetcher.images["ami-00000001"] = QCOW2
        self.runner.respond(
            ("qemu-img", "info"),
            out='{"virtual-size": %d, "format": "qcow2"}' % (20 * GIB),
        )
        instance = spec(localGb=10)
        self.spawn(self.driver, instance)
        base = os.path.join(self.instancesPath, "_base", "ami-00000001")
        directory = self.instanceDir(instance.name)
        self.assertEqual(
            self.runner.commands,
            [
                ("qemu-img", "info", "--output=json", "-f", "qcow2", base),
                (
                    "qemu-img", "create", "-f", "qcow2", "-F", "qcow2", "-b", base,
                    os.path.join(directory, "disk"),
                ),
                ("qemu-img", "create", "-f", "qcow2", os.path.join(directory, "disk.local"), "10G"),
            ],
        )

    def test_qcow2ImageWithBackingFileRefused(self):
        self.fetcher.images["ami-00000001"] = QCOW2
        self.runner.respond(
            ("qemu-img", "info"),
            out='{"virtual-size": 1024, "backing-filename": "/etc/shadow"}',
        )
        instance = spec()
        self.forget(instance.name)
        failure = self.failureResultOf(self.driver.spawn(instance), ImageError)
        self.assertIn("backing file", str(failure.value))
        self.assertFalse(self.defined(instance.name))
        self.assertFalse(os.path.exists(self.instanceDir(instance.name)))
        self.assertEqual(self.runner.commandsStartingWith("qemu-img", "create"), [])

    def test_qemuImgFailure(self):
        self.runner.respond(("qemu-img", "create"), err="no space", code=1)
        instance = spec()
        self.forget(instance.name)
        failure = self.failureResultOf(self.driver.spawn(instance), ImageError)
        self.assertIn("no space", str(failure.value))
        self.assertFalse(self.defined(instance.name))
        self.assertFalse(os.path.exists(self.instanceDir(instance.name)))

    def test_withoutCopyOnWrite(self):
        """
        Without copy-on-write the root disk is a copy of the image at its
        own size and the ephemeral disk a sparse raw file; no C{qemu-img}.
        """
        driver = self.makeDriver(useCowImages=False)
        instance = spec(localGb=1)
        self.spawn(driver, instance)
        directory = self.instanceDir(instance.name)
        disk = os.path.join(directory, "disk")
        with open(disk, "rb") as f:
            self.assertEqual(f.read(), IMAGES["ami-00000001"])
        ephemeral = os.path.join(directory, "disk.local")
        self.assertEqual(os.path.getsize(ephemeral), GIB)
        self.assertLess(os.stat(ephemeral).st_blocks * 512, 1 << 20)
        self.assertEqual(self.runner.commands, [])
        disks = self.domainDisks(driver, instance.name)
        self.assertEqual(
            [(d.find("target").get("dev"), d.find("source").get("file"), d.find("driver").get("type"))
             for d in disks],
            [("vda", disk, "raw"), ("vdb", ephemeral, "raw")],
        )
        self.successResultOf(driver.destroy(instance.name))
        self.assertFalse(os.path.exists(directory))

    def test_imageOnlyBootsFromDisk(self):
        instance = spec(kernelId=None, ramdiskId=None)
        self.spawn(self.driver, instance)
        self.assertEqual(self.fetcher.calls, ["ami-00000001"])
        with open(os.path.join(self.instanceDir(instance.name), "libvirt.xml")) as f:
            root = ElementTree.fromstring(f.read())
        self.assertEqual(root.find("os/boot").get("dev"), "hd")
        # (The fake runner makes no disk file.)
        self.assertEqual(os.listdir(self.instanceDir(instance.name)), ["libvirt.xml"])

    def test_cachedImageFetchedOnce(self):
        self.spawn(self.driver, spec())
        self.spawn(self.driver, spec())
        self.assertEqual(sorted(self.fetcher.calls), sorted(IMAGES))

    def test_concurrentSpawnsFetchOnce(self):
        self.fetcher.held = []
        first, second = spec(), spec()
        self.forget(first.name)
        self.forget(second.name)
        d1 = self.driver.spawn(first)
        d2 = self.driver.spawn(second)
        self.assertNoResult(d1)
        self.assertNoResult(d2)
        self.assertEqual(sorted(self.fetcher.calls), sorted(IMAGES))
        self.fetcher.release()
        self.successResultOf(d1)
        self.successResultOf(d2)
        self.assertEqual(sorted(self.fetcher.calls), sorted(IMAGES))
        base = os.path.join(self.instancesPath, "_base", "ami-00000001")
        backing = [argv[argv.index("-b") + 1] for argv in self.runner.commandsStartingWith("qemu-img", "create")]
        self.assertEqual(backing, [base, base])

    def test_concurrentFetchFailureReachesAll(self):
        del self.fetcher.images["aki-00000002"]
        self.fetcher.held = []
        first, second = spec(), spec()
        self.forget(first.name)
        self.forget(second.name)
        d1 = self.driver.spawn(first)
        d2 = self.driver.spawn(second)
        self.fetcher.release()
        self.failureResultOf(d1, ImageError)
        self.failureResultOf(d2, ImageError)
        self.assertEqual(self.fetcher.calls.count("aki-00000002"), 1)
        for instance in (first, second):
            self.assertFalse(self.defined(instance.name))
            self.assertFalse(os.path.exists(self.instanceDir(instance.name)))
        base = os.path.join(self.instancesPath, "_base")
        self.assertNotIn("aki-00000002", os.listdir(base))
        self.assertEqual([n for n in os.listdir(base) if n.startswith(".")], [])
        # The next spawn tries again.
        self.fetcher.images["aki-00000002"] = b"kernel"
        self.spawn(self.driver, spec())
        self.assertEqual(self.fetcher.calls.count("aki-00000002"), 2)

    def test_fetchedForTheOwner(self):
        @attr.s(frozen=True)
        class OwnedSpec:
            name = attr.ib()
            userId = attr.ib()
            projectId = attr.ib()
            uuid = None
            vcpus = 1
            memoryMb = 128
            localGb = 0
            imageId = "ami-00000001"
            kernelId = None
            ramdiskId = None
            macAddress = None
            configDrive = False
            personality = ()

        self.spawn(self.driver, OwnedSpec(uniqueName(), "alice", "proj"))
        (context,) = self.fetcher.contexts
        self.assertEqual((context.userId, context.projectId), ("alice", "proj"))
        self.spawn(self.driver, spec(imageId=None, kernelId="aki-00000002", ramdiskId=None))
        self.assertTrue(self.fetcher.contexts[-1].isAdmin)

    def test_blockDevicesAtBoot(self):
        volume = os.path.abspath(self.mktemp())
        with open(volume, "wb") as f:
            f.write(b"\0" * 512)
        instance = spec()
        self.spawn(self.driver, instance, None, [(volume, "/dev/vdb")])
        root = ElementTree.fromstring(self.successResultOf(self.driver.connection.run(
            lambda c: c.lookupByName(instance.name).XMLDesc(0))))
        targets = [d.find("target").get("dev") for d in root.findall("devices/disk")]
        self.assertEqual(targets, ["vda", "vdb"])
        other = spec()
        self.forget(other.name)
        self.failureResultOf(
            self.driver.spawn(other, None, [(volume, "/dev/vda")]), errors.DeviceInUse
        )
        self.assertFalse(self.defined(other.name))

    def test_spawnExisting(self):
        instance = spec()
        self.spawn(self.driver, instance)
        calls = len(self.fetcher.calls)
        self.failureResultOf(self.driver.spawn(instance), errors.GuestExists)
        self.assertEqual(len(self.fetcher.calls), calls)
        self.assertEqual(len(self.runner.commands), 1)
        # The running guest's files are left alone.
        self.assertTrue(os.path.exists(os.path.join(self.instanceDir(instance.name), "libvirt.xml")))
        self.assertTrue(self.defined(instance.name))

    def test_spawnClearsLeftovers(self):
        instance = spec()
        leftover = self.instanceDir(instance.name)
        os.makedirs(leftover)
        with open(os.path.join(leftover, "console.log"), "w") as f:
            f.write("old guest\n")
        self.spawn(self.driver, instance)
        self.assertFalse(os.path.exists(os.path.join(leftover, "console.log")))

    def test_badName(self):
        self.failureResultOf(self.driver.spawn(spec(name="../../etc")), errors.VirtError)
        self.failureResultOf(self.driver.destroy("a/b"), errors.VirtError)
        self.failureResultOf(self.driver.getInfo("_base"), errors.VirtError)
        self.failureResultOf(self.driver.getConsoleOutput(".."), errors.VirtError)

    def test_lxcSpawnRefused(self):
        driver = self.makeDriver(libvirtType="lxc")
        instance = spec()
        self.forget(instance.name)
        failure = self.failureResultOf(driver.spawn(instance), errors.VirtError)
        self.assertIn("lxc", str(failure.value))
        self.assertFalse(os.path.exists(self.instanceDir(instance.name)))

    def test_destroyRemovesEverything(self):
        instance = spec()
        self.spawn(self.driver, instance)
        self.successResultOf(self.driver.suspend(instance.name))
        self.successResultOf(self.driver.destroy(instance.name))
        self.assertFalse(self.defined(instance.name))
        self.assertFalse(os.path.exists(self.instanceDir(instance.name)))
        self.assertTrue(os.path.exists(os.path.join(self.instancesPath, "_base", "ami-00000001")))
        self.failureResultOf(self.driver.destroy(instance.name), errors.GuestNotFound)

    def test_destroyLeftoverFiles(self):
        name = uniqueName()
        os.makedirs(os.path.join(self.instanceDir(name), "x"))
        self.successResultOf(self.driver.destroy(name))
        self.assertFalse(os.path.exists(self.instanceDir(name)))
        self.failureResultOf(self.driver.destroy(name), errors.GuestNotFound)

    def test_consoleOutput(self):
        instance = spec()
        self.spawn(self.driver, instance)
        self.assertEqual(self.successResultOf(self.driver.getConsoleOutput(instance.name)), "")
        path = os.path.join(self.instanceDir(instance.name), "console.log")
        data = b"".join(b"line %06d \xc3\xa9\n" % i for i in range(10000))
        with open(path, "wb") as f:
            f.write(data)
        output = self.successResultOf(self.driver.getConsoleOutput(instance.name))
        self.assertEqual(len(output.encode("utf-8")), lv.CONSOLE_LIMIT)
        self.assertTrue(output.endswith("line 009999 \u00e9\n"))

    def test_suspendIsManagedSave(self):
        instance = spec()
        self.spawn(self.driver, instance)
        self.successResultOf(self.driver.suspend(instance.name))
        self.assertEqual(self.successResultOf(self.driver.getInfo(instance.name))["state"], power.SUSPENDED)
        self.failureResultOf(self.driver.powerOn(instance.name), errors.GuestStateError)
        self.failureResultOf(self.driver.powerOff(instance.name), errors.GuestStateError)
        self.failureResultOf(
            self.driver.attachVolume(instance.name, "/dev/null", "/dev/vdb"), errors.GuestStateError
        )
        self.successResultOf(self.driver.resume(instance.name))
        self.assertEqual(self.successResultOf(self.driver.getInfo(instance.name))["state"], power.RUNNING)

    def test_hostStats(self):
        stats = self.successResultOf(self.driver.getHostStats())
        self.assertEqual(stats["hypervisor_type"], "TEST")
        self.assertEqual(stats["vcpus"], 16)
        self.assertEqual(stats["memory_mb"], 3072)
        self.assertGreater(stats["local_gb"], 0)
        before = stats["memory_mb_used"]
        self.spawn(self.driver, spec(memoryMb=320))
        stats = self.successResultOf(self.driver.getHostStats())
        self.assertEqual(stats["memory_mb_used"], before + 320)

    def test_initHostMakesCache(self):
        self.assertTrue(os.path.isdir(os.path.join(self.instancesPath, "_base")))


class DefinitionEditTests(SynchronousTestCase):
    """
    The edits of a domain definition L{lv.LibvirtDriver.updateGuest}
    makes.
    """

    def setUp(self):
        requireLibvirt()

    def domain(self, text):
        return ElementTree.fromstring(textwrap.dedent(text))

    def test_setResources(self):
        domain = self.domain("""\
            <domain type='kvm'>
              <memory unit='KiB'>262144</memory>
              <currentMemory unit='KiB'>131072</currentMemory>
              <vcpu placement='static' current='1'>2</vcpu>
              <vcpus><vcpu id='0' enabled='yes'/><vcpu id='1' enabled='no'/></vcpus>
            </domain>
            """)
        self.assertTrue(lv.setResources(domain, 2, 512))
        self.assertEqual(domain.findtext("vcpu"), "2")
        self.assertEqual(domain.find("vcpu").attrib, {"placement": "static"})
        self.assertIsNone(domain.find("vcpus"))
        self.assertEqual(domain.findtext("memory"), str(512 * 1024))
        self.assertEqual(domain.findtext("currentMemory"), str(512 * 1024))
        self.assertFalse(lv.setResources(domain, 2, 512))

    def test_setResourcesOtherUnits(self):
        domain = self.domain("""\
            <domain type='kvm'><memory unit='MiB'>512</memory><vcpu>1</vcpu></domain>
            """)
        self.assertTrue(lv.setResources(domain, 1, 512))
        self.assertEqual(domain.find("memory").attrib, {"unit": "KiB"})
        self.assertEqual(domain.findtext("memory"), str(512 * 1024))
        self.assertEqual(domain.findtext("currentMemory"), str(512 * 1024))

    def test_setBootFilesKeepsCmdline(self):
        domain = self.domain("""\
            <domain type='qemu'>
              <os><type>hvm</type><kernel>/i/kernel</kernel><cmdline>root=/dev/vda x</cmdline>
                <boot dev='hd'/></os>
            </domain>
            """)
        lv.setBootFiles(domain, "/i/kernel", "/i/ramdisk", "console=ttyS0", "aki-1", "ari-2")
        self.assertEqual(domain.findtext("os/kernel"), "/i/kernel")
        self.assertEqual(domain.findtext("os/initrd"), "/i/ramdisk")
        self.assertEqual(domain.findtext("os/cmdline"), "root=/dev/vda x")
        self.assertEqual(lv.bootImagesOf(domain), ("aki-1", "ari-2"))
        lv.setBootFiles(domain, "/i/kernel", None, "console=ttyS0", "aki-1", None)
        self.assertIsNone(domain.find("os/initrd"))
        self.assertEqual(lv.bootImagesOf(domain), ("aki-1", None))
        self.assertEqual(len(domain.findall(f"metadata/{{{lv.METADATA_NAMESPACE}}}boot")), 1)

    def test_setBootFilesFromDisk(self):
        domain = self.domain("""\
            <domain type='xen'>
              <os><type>linux</type><kernel>/i/kernel</kernel><initrd>/i/ramdisk</initrd>
                <cmdline>root=/dev/xvda</cmdline></os>
            </domain>
            """)
        lv.setBootFiles(domain, None, None, "console=ttyS0", None, None)
        for tag in ("kernel", "initrd", "cmdline"):
            self.assertIsNone(domain.find("os/" + tag))
        self.assertEqual(domain.find("os/boot").get("dev"), "hd")
        self.assertEqual(domain.findtext("os/type"), "hvm")
        self.assertEqual(lv.bootImagesOf(domain), (None, None))
        lv.setBootFiles(domain, "/i/kernel", None, "console=ttyS0", "aki-1", None)
        self.assertEqual(domain.findtext("os/type"), "linux")
        self.assertEqual(domain.findtext("os/cmdline"), "console=ttyS0")

    def test_bootImagesUnrecorded(self):
        domain = self.domain("""\
            <domain type='qemu'><os><type>hvm</type><kernel>/k</kernel></os></domain>
            """)
        self.assertEqual(lv.bootImagesOf(domain), (lv.UNKNOWN_IMAGE, None))

    def test_bootImagesFor(self):
        self.assertEqual(lv.bootImagesFor(spec()), ("aki-00000002", "ari-00000003"))
        self.assertEqual(lv.bootImagesFor(spec(kernelId=None)), (None, None))
        self.assertEqual(lv.bootImagesFor(spec(ramdiskId="")), ("aki-00000002", None))


class UpdateGuestTests(_Helpers, SynchronousTestCase):
    """
    L{lv.LibvirtDriver.updateGuest} on C{test:///default}.
    """

    def setUp(self):
        self.driver = self.makeDriver(images=dict(IMAGES, **OTHER_IMAGES))

    def stopped(self, **fields):
        """
        Spawn a guest and power it off.

        @return: its spec.
        """
        instance = spec(**fields)
        self.spawn(self.driver, instance)
        self.successResultOf(self.driver.powerOff(instance.name))
        return instance

    def definition(self, name):
        xml = self.successResultOf(self.driver.connection.run(
            lambda c: c.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
        return ElementTree.fromstring(xml)

    def path(self, name, fileName):
        return os.path.join(self.instancesPath, name, fileName)

    def read(self, name, fileName):
        with open(self.path(name, fileName), "rb") as f:
            return f.read()

    def update(self, instance, **changes):
        return self.driver.updateGuest(attr.evolve(instance, **changes))

    def test_vcpusAndMemory(self):
        instance = self.stopped(vcpus=1, memoryMb=256)
        fetched = list(self.fetcher.calls)
        self.successResultOf(self.update(instance, vcpus=2, memoryMb=512, localGb=20))
        root = self.definition(instance.name)
        self.assertEqual(root.findtext("vcpu"), "2")
        self.assertEqual(root.findtext("memory"), str(512 * 1024))
        self.assertEqual(root.findtext("currentMemory"), str(512 * 1024))
        # The kernel stays: nothing is fetched or copied; no disk is made.
        self.assertEqual(root.findtext("os/kernel"), self.path(instance.name, "kernel"))
        self.assertEqual(self.fetcher.calls, fetched)
        self.assertEqual(len(self.runner.commands), 1)
        with open(self.path(instance.name, "libvirt.xml")) as f:
            saved = ElementTree.fromstring(f.read())
        self.assertEqual((saved.findtext("vcpu"), saved.findtext("memory")), ("2", str(512 * 1024)))
        self.successResultOf(self.driver.powerOn(instance.name))
        info = self.successResultOf(self.driver.getInfo(instance.name))
        self.assertEqual((info["state"], info["vcpus"], info["memory_mb"]), (power.RUNNING, 2, 512))

    def test_kernel(self):
        """
        A new kernel is fetched into the image cache and copied over the
        guest's C{kernel}; the definition records its image.
        """
        instance = self.stopped()
        self.successResultOf(self.update(instance, kernelId="aki-0000000a"))
        self.assertEqual(self.fetcher.calls[-1], "aki-0000000a")
        self.assertIn("aki-0000000a", os.listdir(os.path.join(self.instancesPath, "_base")))
        self.assertEqual(self.read(instance.name, "kernel"), b"kernel 2")
        self.assertEqual(self.read(instance.name, "ramdisk"), b"ramdisk")
        root = self.definition(instance.name)
        self.assertEqual(root.findtext("os/kernel"), self.path(instance.name, "kernel"))
        self.assertEqual(root.findtext("os/initrd"), self.path(instance.name, "ramdisk"))
        self.assertEqual(root.findtext("os/cmdline"), "root=/dev/vda console=ttyS0")
        self.assertEqual(lv.bootImagesOf(root), ("aki-0000000a", "ari-00000003"))
        self.assertEqual(
            sorted(os.listdir(os.path.join(self.instancesPath, instance.name))),
            ["kernel", "libvirt.xml", "ramdisk"],
        )
        # Again: nothing to do.
        calls = len(self.fetcher.calls)
        os.unlink(self.path(instance.name, "libvirt.xml"))
        self.successResultOf(self.update(instance, kernelId="aki-0000000a"))
        self.assertEqual(len(self.fetcher.calls), calls)
        self.assertFalse(os.path.exists(self.path(instance.name, "libvirt.xml")))

    def test_ramdisk(self):
        instance = self.stopped()
        self.successResultOf(self.update(instance, ramdiskId="ari-0000000b"))
        self.assertEqual(self.read(instance.name, "kernel"), b"kernel")
        self.assertEqual(self.read(instance.name, "ramdisk"), b"ramdisk 2")
        self.assertEqual(
            lv.bootImagesOf(self.definition(instance.name)), ("aki-00000002", "ari-0000000b")
        )

    def test_noRamdisk(self):
        instance = self.stopped()
        self.successResultOf(self.update(instance, ramdiskId=None))
        root = self.definition(instance.name)
        self.assertIsNone(root.find("os/initrd"))
        self.assertEqual(root.findtext("os/kernel"), self.path(instance.name, "kernel"))
        self.assertFalse(os.path.exists(self.path(instance.name, "ramdisk")))
        self.assertEqual(lv.bootImagesOf(root), ("aki-00000002", None))

    def test_noKernel(self):
        """
        Without a kernel the guest boots from its disk; its kernel and
        ramdisk files go.
        """
        instance = self.stopped()
        self.successResultOf(self.update(instance, kernelId=None))
        root = self.definition(instance.name)
        for tag in ("kernel", "initrd", "cmdline"):
            self.assertIsNone(root.find("os/" + tag))
        self.assertEqual(root.find("os/boot").get("dev"), "hd")
        self.assertEqual(lv.bootImagesOf(root), (None, None))
        self.assertEqual(
            os.listdir(os.path.join(self.instancesPath, instance.name)), ["libvirt.xml"]
        )

    def test_kernelForADiskBootedGuest(self):
        instance = self.stopped(kernelId=None, ramdiskId=None)
        self.successResultOf(
            self.update(instance, kernelId="aki-0000000a", ramdiskId="ari-0000000b")
        )
        root = self.definition(instance.name)
        self.assertEqual(root.findtext("os/kernel"), self.path(instance.name, "kernel"))
        self.assertEqual(root.findtext("os/initrd"), self.path(instance.name, "ramdisk"))
        self.assertEqual(root.findtext("os/cmdline"), "root=/dev/vda console=ttyS0")
        self.assertEqual(self.read(instance.name, "kernel"), b"kernel 2")
        self.assertEqual(self.read(instance.name, "ramdisk"), b"ramdisk 2")

    def test_fetchFailureChangesNothing(self):
        instance = self.stopped()
        before = ElementTree.tostring(self.definition(instance.name))
        self.failureResultOf(
            self.update(instance, vcpus=4, kernelId="aki-0000000f"), ImageError
        )
        self.assertEqual(ElementTree.tostring(self.definition(instance.name)), before)
        self.assertEqual(self.read(instance.name, "kernel"), b"kernel")
        self.assertEqual(
            sorted(os.listdir(os.path.join(self.instancesPath, instance.name))),
            ["kernel", "libvirt.xml", "ramdisk"],
        )

    def test_runningRefused(self):
        instance = spec()
        self.spawn(self.driver, instance)
        self.successResultOf(self.driver.updateGuest(instance))
        failure = self.failureResultOf(self.update(instance, memoryMb=512), errors.GuestStateError)
        self.assertIn("running", str(failure.value))
        self.failureResultOf(self.update(instance, kernelId="aki-0000000a"), errors.GuestStateError)
        self.assertEqual(self.read(instance.name, "kernel"), b"kernel")
        self.assertEqual(self.definition(instance.name).findtext("memory"), str(256 * 1024))

    def test_definitionWithoutMetadata(self):
        """
        A definition that does not record the images of its kernel and
        ramdisk (an older guest's) gets them copied again.
        """
        instance = self.stopped()
        root = self.definition(instance.name)
        root.remove(root.find("metadata"))
        xml = ElementTree.tostring(root, encoding="unicode")
        self.successResultOf(self.driver.connection.run(lambda c: c.defineXML(xml)))
        os.unlink(self.path(instance.name, "kernel"))
        self.successResultOf(self.driver.updateGuest(instance))
        self.assertEqual(self.read(instance.name, "kernel"), b"kernel")
        self.assertEqual(
            lv.bootImagesOf(self.definition(instance.name)), ("aki-00000002", "ari-00000003")
        )

    def test_locked(self):
        """
        A start asked for while the guest is being updated waits for the
        update.
        """
        instance = self.stopped()
        self.fetcher.held = []
        updating = self.update(instance, kernelId="aki-0000000a", vcpus=2)
        starting = self.driver.powerOn(instance.name)
        self.assertNoResult(updating)
        self.assertNoResult(starting)
        self.assertEqual(
            self.successResultOf(self.driver.getInfo(instance.name))["state"], power.SHUTOFF
        )
        self.fetcher.release()
        self.successResultOf(updating)
        self.successResultOf(starting)
        info = self.successResultOf(self.driver.getInfo(instance.name))
        self.assertEqual((info["state"], info["vcpus"]), (power.RUNNING, 2))
        self.assertEqual(self.read(instance.name, "kernel"), b"kernel 2")

    def test_badName(self):
        self.failureResultOf(self.driver.updateGuest(spec(name="../x")), errors.VirtError)


class ProxiedLifecycleTests(_Helpers, SynchronousTestCase):
    """
    The lifecycle with libvirt domains that misbehave on purpose.
    """

    def proxied(self, overrides=None, **kwargs):
        self.proxy = None
        self.opened = 0

        def opener(uri):
            self.opened += 1
            self.proxy = ProxyConnection(libvirt.open(uri), overrides)
            return self.proxy

        return self.makeDriver(opener=opener, **kwargs)

    def test_spawnTimeout(self):
        def startPaused(domain):
            domain.create()
            domain.suspend()

        driver = self.proxied({"create": startPaused}, spawnTimeout=10)
        instance = spec()
        self.forget(instance.name)
        d = driver.spawn(instance)
        self.clock.pump([0.5] * 19)
        self.assertNoResult(d)
        self.clock.pump([0.5] * 2)
        failure = self.failureResultOf(d, lv.SpawnTimeout)
        self.assertIn("paused", str(failure.value))
        self.assertFalse(self.defined(instance.name))
        self.assertFalse(os.path.exists(os.path.join(self.instancesPath, instance.name)))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_rebootGraceful(self):
        driver = self.proxied(rebootTimeout=30)
        instance = spec()
        self.spawn(driver, instance)
        del self.proxy.calls[:]
        self.successResultOf(driver.reboot(instance.name))
        self.assertEqual([c for c in self.proxy.calls if c in ("shutdown", "destroy", "create")],
                         ["shutdown", "create"])

    def test_rebootForced(self):
        driver = self.proxied({"shutdown": lambda domain: None}, rebootTimeout=30)
        instance = spec()
        self.spawn(driver, instance)
        del self.proxy.calls[:]
        d = driver.reboot(instance.name)
        self.clock.pump([0.5] * 59)
        self.assertNoResult(d)
        self.assertNotIn("destroy", self.proxy.calls)
        self.clock.pump([0.5] * 2)
        self.successResultOf(d)
        self.assertEqual([c for c in self.proxy.calls if c in ("shutdown", "destroy", "create")],
                         ["shutdown", "destroy", "create"])
        self.assertEqual(self.successResultOf(driver.getInfo(instance.name))["state"], power.RUNNING)

    def test_rebootWithoutGrace(self):
        driver = self.proxied(rebootTimeout=0)
        instance = spec()
        self.spawn(driver, instance)
        del self.proxy.calls[:]
        self.successResultOf(driver.reboot(instance.name))
        self.assertEqual([c for c in self.proxy.calls if c in ("shutdown", "destroy", "create")],
                         ["destroy", "create"])

    def test_powerOffForced(self):
        driver = self.proxied({"shutdown": lambda domain: None}, shutdownTimeout=5)
        instance = spec()
        self.spawn(driver, instance)
        d = driver.powerOff(instance.name)
        self.assertNoResult(d)
        self.clock.pump([0.5] * 11)
        self.successResultOf(d)
        self.assertEqual(self.successResultOf(driver.getInfo(instance.name))["state"], power.SHUTOFF)

    def test_pausedPowersOffAtOnce(self):
        driver = self.proxied(shutdownTimeout=5)
        instance = spec()
        self.spawn(driver, instance)
        self.successResultOf(driver.pause(instance.name))
        del self.proxy.calls[:]
        self.successResultOf(driver.powerOff(instance.name))
        self.assertNotIn("shutdown", self.proxy.calls)
        self.assertIn("destroy", self.proxy.calls)

    def test_attachFlags(self):
        attached = []
        driver = self.proxied({"attachDeviceFlags": lambda domain, xml, flags: attached.append((xml, flags))})
        instance = spec()
        self.spawn(driver, instance)
        volume = os.path.abspath(self.mktemp())
        open(volume, "wb").close()
        self.successResultOf(driver.attachVolume(instance.name, volume, "/dev/vdb"))
        ((xml, flags),) = attached
        self.assertEqual(flags, libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_AFFECT_LIVE)
        disk = ElementTree.fromstring(xml)
        self.assertEqual(disk.find("source").get("file"), volume)
        self.assertEqual(disk.find("target").get("dev"), "vdb")
        self.successResultOf(driver.powerOff(instance.name))
        self.successResultOf(driver.attachVolume(instance.name, volume, "/dev/vdc"))
        self.assertEqual(attached[-1][1], libvirt.VIR_DOMAIN_AFFECT_CONFIG)

    def test_attachInUseAndDetachUnknown(self):
        driver = self.proxied()
        instance = spec()
        self.spawn(driver, instance)
        self.failureResultOf(driver.attachVolume(instance.name, "/dev/null", "/dev/vda"), errors.DeviceInUse)
        self.failureResultOf(driver.detachVolume(instance.name, "/dev/vdb"), errors.DeviceNotFound)
        self.failureResultOf(driver.attachVolume(uniqueName(), "/dev/null", "/dev/vdb"), errors.GuestNotFound)
        self.assertNotIn("attachDeviceFlags", self.proxy.calls)
        # test:///default itself cannot attach devices: its refusal arrives
        # as a VirtError.
        failure = self.failureResultOf(
            driver.attachVolume(instance.name, "/dev/null", "/dev/vdb"), errors.VirtError
        )
        self.assertIn("not supported", str(failure.value))

    def test_reconnectOnce(self):
        driver = self.proxied()
        instance = spec()
        self.spawn(driver, instance)
        self.assertEqual(self.opened, 1)
        self.proxy.failures.append(connectionError())
        info = self.successResultOf(driver.getInfo(instance.name))
        self.assertEqual(info["state"], power.RUNNING)
        self.assertEqual(self.opened, 2)
        self.assertEqual(driver.connection.opens, 2)

    def test_spawnRetriedAfterReconnect(self):
        """
        A spawn whose connection breaks after the domain was defined
        defines it again (the same UUID: an update) and starts it.
        """
        broken = []

        def breakOnce(domain):
            if not broken:
                broken.append(True)
                raise connectionError()
            domain.create()

        driver = self.proxied({"create": breakOnce})
        instance = spec()
        self.spawn(driver, instance)
        self.assertEqual(self.opened, 2)
        self.assertEqual(self.successResultOf(driver.getInfo(instance.name))["state"], power.RUNNING)

    def test_reconnectFailsTwice(self):
        driver = self.proxied()
        instance = spec()
        self.spawn(driver, instance)
        first = self.proxy
        first.failures.append(connectionError())

        real = libvirt.open

        def brokenOpener(uri):
            self.opened += 1
            proxy = ProxyConnection(real(uri))
            proxy.failures.append(connectionError("still broken"))
            return proxy

        driver.connection.opener = brokenOpener
        failure = self.failureResultOf(driver.getInfo(instance.name), errors.VirtError)
        self.assertIn("still broken", str(failure.value))
        self.assertEqual(self.opened, 2)
        # The broken connection was dropped: the next call opens another.
        driver.connection.opener = lambda uri: ProxyConnection(real(uri))
        self.successResultOf(driver.getInfo(instance.name))

    def test_otherErrorsDoNotReconnect(self):
        driver = self.proxied()
        error = libvirt.libvirtError("internal")
        error.err = (libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_QEMU, "qemu broke", 2,
                     None, None, None, 0, 0)
        self.proxy.failures.append(error)
        failure = self.failureResultOf(driver.getInfo(uniqueName()), errors.VirtError)
        self.assertEqual(str(failure.value), "libvirt: qemu broke")
        self.assertEqual(self.opened, 1)

    def test_cannotConnect(self):
        def opener(uri):
            error = libvirt.libvirtError("no")
            error.err = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_RPC,
                         "Failed to connect socket", 2, None, None, None, 0, 0)
            raise error

        requireLibvirt()
        driver = lv.LibvirtDriver(self.mktemp(), Clock(), FakeFetcher({}), libvirtType="qemu",
                                  uri="qemu:///nowhere", runner=FakeProcessRunner(),
                                  runInThread=inline, opener=opener)
        failure = self.failureResultOf(driver.initHost("h"), errors.VirtError)
        self.assertIn("cannot connect to libvirt at qemu:///nowhere", str(failure.value))


class ConfigTests(SynchronousTestCase):
    def setUp(self):
        requireLibvirt()

    def config(self, **flags):
        values = dict(connection_type="libvirt", libvirt_type="qemu", libvirt_uri=TEST_URI,
                      instances_path=self.mktemp(), images_path="/srv/images")
        values.update(flags)
        return configFromFlags(**values)

    def test_fromConfig(self):
        config = self.config(spawn_timeout=5.0, reboot_timeout=7.0, shutdown_timeout=9.0,
                             use_cow_images=False, libvirt_cmdline="console=ttyS0")
        driver = lv.LibvirtDriver.fromConfig(config)
        self.addCleanup(driver.close)
        verifyObject(IVirtDriver, driver)
        self.assertEqual(driver.uri, TEST_URI)
        self.assertEqual(driver.libvirtType, "qemu")
        self.assertEqual(driver.vifModel, "e1000")
        self.assertEqual((driver.spawnTimeout, driver.rebootTimeout, driver.shutdownTimeout), (5.0, 7.0, 9.0))
        self.assertFalse(driver.useCowImages)
        self.assertEqual(driver.cmdline, "console=ttyS0")
        self.assertEqual(driver.instancesPath, os.path.abspath(config.instances_path))
        self.assertIsInstance(driver.images.fetcher, DirectoryImageFetcher)
        self.assertEqual(driver.images.fetcher.path, "/srv/images")

    def test_defaults(self):
        config = configFromFlags()
        self.assertEqual(config.libvirt_type, "kvm")
        self.assertEqual(config.libvirt_uri, "")
        self.assertTrue(config.use_cow_images)
        driver = lv.LibvirtDriver.fromConfig(config, imageFetcher=FakeFetcher({}))
        self.addCleanup(driver.close)
        self.assertEqual(driver.uri, "qemu:///system")
        self.assertEqual(driver.vifModel, "virtio")

    def test_loadDriver(self):
        driver = loadDriver(IVirtDriver, VIRT_DRIVERS, "libvirt", self.config())
        self.addCleanup(driver.close)
        self.assertIsInstance(driver, lv.LibvirtDriver)

    def test_typeChoices(self):
        self.assertRaises(ConfigError, configFromFlags, libvirt_type="vmware")
        self.assertRaises(ConfigError, configFromFlags, libvirt_vif_model="ne2k")
        self.assertRaises(ConfigError, lv.LibvirtDriver, "/tmp/x", Clock(), FakeFetcher({}),
                          libvirtType="vmware")


class ErrorHandlerTests(SynchronousTestCase):
    def test_libvirtErrorsNotPrinted(self):
        """
        Once the driver is built, a failing libvirt call prints nothing to
        standard error (libvirt's default handler would).
        """
        requireLibvirt()
        script = textwrap.dedent(
            """
            import libvirt
            from twisted.internet.task import Clock
            from nova.virt.libvirt import LibvirtDriver
            LibvirtDriver("/nonexistent", Clock(), None, uri="test:///default",
                          runner=object(), runInThread=lambda f, *a: f(*a))
            connection = libvirt.open("test:///default")
            try:
                connection.lookupByName("no-such-domain")
            except libvirt.libvirtError as e:
                print(e.get_error_code())
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
            timeout=60,
        )
        self.assertEqual(result.stdout.strip(), str(libvirt.VIR_ERR_NO_DOMAIN).encode())
        self.assertEqual(result.stderr, b"")


# -- the contract, in threads -----------------------------------------------------------


def convertWrites(argv, stdin):
    """
    Stand in for C{qemu-img convert ... <source> <destination>}: write a
    small qcow2 header (without a backing file) to the destination.
    """
    with open(argv[-1], "wb") as f:
        f.write(QCOW2)
    return b"", b"", 0


def createWrites(argv, stdin):
    """
    Stand in for C{qemu-img create ... <disk> [size]}: write a small qcow2
    header to the disk, so that the disk exists as a file.
    """
    path = argv[-2] if argv[-1][-1:] in "GMK" and argv[-1][:-1].isdigit() else argv[-1]
    with open(path, "wb") as f:
        f.write(QCOW2)
    return b"", b"", 0


class LibvirtContractTests(VirtDriverContract, TestCase):
    """
    The virt driver contract against C{test:///default}, with the driver's
    own thread pool.
    """

    def makeDriver(self):
        requireLibvirt()
        from twisted.internet import reactor

        path = os.path.abspath(self.mktemp())
        runner = FakeProcessRunner()
        runner.handle(("qemu-img", "convert"), convertWrites)
        runner.handle(("qemu-img", "create"), createWrites)
        driver = lv.LibvirtDriver(
            path,
            reactor,
            FakeFetcher(dict(IMAGES, **OTHER_IMAGES)),
            libvirtType="qemu",
            uri=TEST_URI,
            runner=runner,
            pollInterval=0.01,
        )
        self.addCleanup(driver.close)
        return driver

    def spec(self, **fields):
        values = {"imageId": "ami-00000001", "kernelId": "aki-00000002", "ramdiskId": "ari-00000003"}
        values.update(fields)
        return VirtDriverContract.spec(self, **values)
