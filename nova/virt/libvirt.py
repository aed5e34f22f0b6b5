# -*- test-case-name: tests.virt.test_libvirt -*-
"""
The libvirt virt driver (C{--connection_type=libvirt}): guests are libvirt
domains of QEMU/KVM (or LXC, UML, Xen) on this host.

C{--libvirt_type} chooses the hypervisor: C{kvm} (QEMU with hardware
acceleration) or C{qemu} (software emulation, for hosts without usable
KVM) through C{qemu:///system}; C{lxc:///}, C{uml:///system} and
C{xen:///} for the others.  C{--libvirt_uri} overrides the URI.

Every libvirt call runs in the driver's own small thread pool, over one
connection that is opened again (once, then the call is retried) when
libvirt says it broke.  libvirt's default error handler, which prints
every error to standard error, is replaced: errors arrive as exceptions
and become L{nova.virt.errors} failures.

A guest's files live in C{<instances_path>/<name>/}: C{disk} (the root
disk, a qcow2 overlay on the cached image with the image's own size, see
L{nova.virt.images}), C{disk.local} (the empty ephemeral disk of an
instance type with C{local_gb} above 0, the guest's second disk),
C{kernel} and C{ramdisk} for images booted from a kernel image,
C{console.log} (the serial console, appended to across reboots),
C{libvirt.xml}, and C{disk.config}, the config drive
(L{nova.virt.configdrive}) of a guest given one (C{--force_config_drive},
an instance that asked for one or has personality files, or a network
marked for injection), attached read-only as the last disk
of the root disk's bus.  Guests of kvm and qemu get a VNC server on
C{--vncserver_listen}, on a port libvirt picks, with a random password
of their own; L{LibvirtDriver.getVncConsole} reads both from the live
definition.  The
domain XML is built with L{xml.etree.ElementTree}: names, paths, bridges
and addresses are element text and attribute values, never pasted into
markup, and are checked before use.

Guests are persistent domains.  A reboot or stop presses the ACPI power
button first and forces the guest off only if it has not shut down within
C{--reboot_timeout} (C{--shutdown_timeout}) seconds; a suspend is a
managed save, which the next start restores.  Before a stopped guest
starts, L{LibvirtDriver.updateGuest} gives its definition the vCPUs,
memory, kernel and ramdisk the instance has now; its disks stay as they
are.

A resize is done in place: the guest's definition and a copy of its root
disk are kept in its directory (C{libvirt.xml.resize}, C{disk.resize})
until it is confirmed (they go) or reverted (they come back).  A rescue
keeps the guest's definition (C{libvirt.xml.rescue}) and boots a
definition whose first disk is the rescue image's (C{disk.rescue}) and
second the guest's own root disk, until unrescued.  A rebuild removes the
guest and spawns it again from the new image.
"""

import errno
import os
import re
import secrets
import shutil
import stat
import threading
import uuid as uuidModule
from xml.etree import ElementTree

import attr
from twisted.internet.defer import DeferredLock, FirstError, fail, gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

try:
    import libvirt
except ImportError:  # libvirt-python is an optional dependency
    libvirt = None

from nova.config import ConfigError
from nova.context import RequestContext, adminContext
from nova.util.process import ReactorProcessRunner
from nova.virt import configdrive, errors, power
from nova.virt.images import BASE_DIRECTORY, DirectoryImageFetcher, DiskMaker, ImageCache
from nova.virt.interfaces import INTERFACE_COUNTERS, IVirtDriver, VolumeConnection

#: C{--libvirt_type} -> the libvirt URI it implies.
URIS = {
    "kvm": "qemu:///system",
    "qemu": "qemu:///system",
    "lxc": "lxc:///",
    "uml": "uml:///system",
    "xen": "xen:///",
}

#: Most bytes of console output L{LibvirtDriver.getConsoleOutput} returns
#: (the end of the file), as EC2's GetConsoleOutput.
CONSOLE_LIMIT = 64 * 1024

#: Seconds a guest has to let go of a detached disk.
DETACH_TIMEOUT = 30.0

#: Names of the files in an instance's directory.
DISK, KERNEL, RAMDISK, CONSOLE, XML = "disk", "kernel", "ramdisk", "console.log", "libvirt.xml"
EPHEMERAL = "disk.local"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_BRIDGE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
_TARGET = re.compile(r"^(?:/dev/)?((vd|sd|hd|xvd|ubd)[a-z]{1,2})$")
_BUSES = {"vd": "virtio", "sd": "scsi", "hd": "ide", "xvd": "xen", "ubd": "uml"}
_ISCSI_PATH = re.compile(
    r"^/dev/disk/by-path/ip-(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\s]+):(?P<port>\d+)"
    r"-iscsi-(?P<iqn>\S+)-lun-(?P<lun>\d+)$"
)
_ISCSI_URL = re.compile(
    r"^iscsi://(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\s]+)(?::(?P<port>\d+))?/(?P<iqn>[^/\s]+)/(?P<lun>\d+)$"
)
_IQN = re.compile(r"^[A-Za-z0-9.:_-]{1,223}$")

#: Power states of a guest that is not executing at all.
STOPPED = frozenset({power.SHUTOFF, power.CRASHED})

#: The namespace of the driver's own element in a domain's C{<metadata>}:
#: C{<boot kernel="aki-..." ramdisk="ari-..."/>}, the images the guest's
#: C{kernel} and C{ramdisk} files were copied from (no attribute for no
#: file).
METADATA_NAMESPACE = "urn:x-nova:libvirt-guest:1"
_BOOT = f"{{{METADATA_NAMESPACE}}}boot"

#: What L{bootImagesOf} says of a kernel or ramdisk file whose image the
#: definition does not record.
UNKNOWN_IMAGE = "(unknown)"


class SpawnTimeout(errors.VirtError):
    """The guest did not start in time."""

    code = "SpawnTimeout"


def uriFor(libvirtType, override=""):
    """
    @param libvirtType: a C{--libvirt_type} value.
    @param override: C{--libvirt_uri}; used when not empty.
    @return: the URI the driver connects to.
    @raise ConfigError: for an unknown type.
    """
    if override:
        return override
    if libvirtType not in URIS:
        raise ConfigError(f"unknown libvirt_type {libvirtType!r}; choose from {', '.join(URIS)}")
    return URIS[libvirtType]


def checkName(name):
    """
    @return: C{name}, safe as a domain name and a directory name.
    @raise errors.VirtError: for anything else.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise errors.VirtError(f"{name!r} is not a valid guest name")
    return name


def targetOf(mountpoint):
    """
    @param mountpoint: a device name as the guest sees it (C{/dev/vdb} or
        C{vdb}).
    @return: C{(target, bus)}, such as C{("vdb", "virtio")}.
    @raise errors.VirtError: for anything else.
    """
    match = _TARGET.match(mountpoint) if isinstance(mountpoint, str) else None
    if match is None:
        raise errors.VirtError(f"{mountpoint!r} is not a disk device name such as /dev/vdb")
    return match.group(1), _BUSES[match.group(2)]


@attr.s(frozen=True)
class Disk:
    """
    A disk of a guest.

    @ivar target: its device name in the guest (C{vda}).
    @ivar bus: C{virtio}, C{scsi}, C{ide}, C{xen} or C{uml}.
    @ivar source: a file or block device path, or for a network disk the
        source name (C{<iqn>/<lun>} for iSCSI).
    @ivar format: C{raw} or C{qcow2}.
    @ivar kind: C{file}, C{block} or C{network}.
    @ivar protocol: the network protocol (C{iscsi}) of a network disk.
    @ivar hosts: C{(name, port)} pairs of a network disk.
    @ivar readOnly: whether the guest may only read it (a config drive).
    """

    target = attr.ib()
    bus = attr.ib()
    source = attr.ib()
    format = attr.ib(default="raw")
    kind = attr.ib(default="file")
    protocol = attr.ib(default=None)
    hosts = attr.ib(default=(), converter=tuple)
    readOnly = attr.ib(default=False)

    def element(self, domainType):
        """
        @return: the C{<disk>} element for a domain of C{domainType}.
        """
        disk = ElementTree.Element("disk", type=self.kind, device="disk")
        if domainType in ("kvm", "qemu"):
            ElementTree.SubElement(disk, "driver", name="qemu", type=self.format)
        if self.kind == "file":
            ElementTree.SubElement(disk, "source", file=self.source)
        elif self.kind == "block":
            ElementTree.SubElement(disk, "source", dev=self.source)
        else:
            source = ElementTree.SubElement(disk, "source", protocol=self.protocol, name=self.source)
            for host, port in self.hosts:
                ElementTree.SubElement(source, "host", name=host, port=str(port))
        ElementTree.SubElement(disk, "target", dev=self.target, bus=self.bus)
        if self.readOnly:
            ElementTree.SubElement(disk, "readonly")
        return disk

    def toXml(self, domainType):
        return ElementTree.tostring(self.element(domainType), encoding="unicode")


def volumeDisk(devicePath, mountpoint, isBlock=False, volumeFormat="raw"):
    """
    Describe a volume to attach.

    @param devicePath: a file or block device of this host; or an iSCSI
        LUN, as the path the kernel initiator would give it
        (C{/dev/disk/by-path/ip-<host>:<port>-iscsi-<iqn>-lun-<n>}) or as
        C{iscsi://<host>:<port>/<iqn>/<n>}, which QEMU reaches with its
        own initiator.
    @param mountpoint: the device name in the guest (C{/dev/vdb}).
    @param isBlock: whether C{devicePath} is a block device of this host
        (a by-path device that exists is used as such).
    @param volumeFormat: the format of a file volume.
    @return: a L{Disk}.
    @raise errors.VirtError: for a path or mount point that is neither.
    """
    target, bus = targetOf(mountpoint)
    if not isinstance(devicePath, str) or not devicePath or "\0" in devicePath:
        raise errors.VirtError(f"{devicePath!r} is not a device path")
    match = _ISCSI_URL.match(devicePath)
    if match is None and not isBlock:
        match = _ISCSI_PATH.match(devicePath)
    if match is not None:
        iqn = match.group("iqn")
        if not _IQN.match(iqn):
            raise errors.VirtError(f"{iqn!r} is not an iSCSI qualified name")
        host = match.group("host").strip("[]")
        port = int(match.group("port") or 3260)
        return Disk(
            target=target,
            bus=bus,
            source=f"{iqn}/{int(match.group('lun'))}",
            kind="network",
            protocol="iscsi",
            hosts=[(host, port)],
        )
    if not os.path.isabs(devicePath):
        raise errors.VirtError(f"{devicePath!r} is not an absolute path")
    if isBlock:
        return Disk(target=target, bus=bus, source=devicePath, kind="block")
    return Disk(target=target, bus=bus, source=devicePath, format=volumeFormat)


@attr.s(frozen=True)
class Interface:
    """
    A network card on a host bridge.

    @ivar bridge: the bridge's name.
    @ivar mac: its MAC address, or C{None} for one libvirt picks.
    @ivar model: the card's model (C{virtio}, C{e1000}), or C{None}.
    """

    bridge = attr.ib()
    mac = attr.ib(default=None)
    model = attr.ib(default=None)

    def element(self):
        interface = ElementTree.Element("interface", type="bridge")
        ElementTree.SubElement(interface, "source", bridge=self.bridge)
        if self.mac:
            ElementTree.SubElement(interface, "mac", address=self.mac)
        if self.model:
            ElementTree.SubElement(interface, "model", type=self.model)
        return interface


@attr.s(frozen=True)
class GuestConfig:
    """
    Everything a guest's domain XML says.

    @ivar domainType: C{kvm}, C{qemu}, C{lxc}, C{uml} or C{xen}.
    @ivar memoryMb: memory in MiB.
    @ivar kernel: the kernel file, or C{None} to boot from the first disk.
    @ivar ramdisk: the initrd file, or C{None}.
    @ivar cmdline: the kernel command line (with a kernel).
    @ivar disks: L{Disk}s, the root disk first.
    @ivar interfaces: L{Interface}s.
    @ivar consolePath: the file the serial console writes to, or C{None}.
    @ivar rootDirectory: the root file system tree of an LXC guest.
    @ivar kernelId: the image C{kernel} was copied from, or C{None}.
    @ivar ramdiskId: the image C{ramdisk} was copied from, or C{None}.
    @ivar vncListen: the host address the guest's VNC server listens on
        (on a port libvirt picks), or C{None} for no VNC server.
    @ivar vncPassword: the password of that VNC server.
    """

    name = attr.ib()
    domainType = attr.ib()
    memoryMb = attr.ib()
    vcpus = attr.ib()
    uuid = attr.ib(default=None)
    kernel = attr.ib(default=None)
    ramdisk = attr.ib(default=None)
    cmdline = attr.ib(default=None)
    disks = attr.ib(default=(), converter=tuple)
    interfaces = attr.ib(default=(), converter=tuple)
    consolePath = attr.ib(default=None)
    rootDirectory = attr.ib(default=None)
    kernelId = attr.ib(default=None)
    ramdiskId = attr.ib(default=None)
    vncListen = attr.ib(default=None)
    vncPassword = attr.ib(default=None, repr=False)

    def element(self):
        """
        @return: the C{<domain>} element.
        """
        E = ElementTree.SubElement
        domain = ElementTree.Element("domain", type=self.domainType)
        E(domain, "name").text = self.name
        if self.uuid:
            E(domain, "uuid").text = self.uuid
        E(domain, "metadata").append(bootImagesElement(self.kernelId, self.ramdiskId))
        kib = str(int(self.memoryMb) * 1024)
        E(domain, "memory", unit="KiB").text = kib
        E(domain, "currentMemory", unit="KiB").text = kib
        E(domain, "vcpu").text = str(int(self.vcpus))
        os_ = E(domain, "os")
        if self.domainType == "lxc":
            E(os_, "type").text = "exe"
            E(os_, "init").text = "/sbin/init"
        else:
            if self.domainType == "uml":
                osType = "uml"
            elif self.domainType == "xen" and self.kernel:
                osType = "linux"
            else:
                osType = "hvm"
            E(os_, "type").text = osType
            if self.kernel:
                E(os_, "kernel").text = self.kernel
                if self.ramdisk:
                    E(os_, "initrd").text = self.ramdisk
                if self.cmdline:
                    E(os_, "cmdline").text = self.cmdline
            else:
                E(os_, "boot", dev="hd")
        if self.domainType in ("kvm", "qemu", "xen"):
            E(E(domain, "features"), "acpi")
        if self.domainType != "lxc":
            E(domain, "clock", offset="utc")
        E(domain, "on_poweroff").text = "destroy"
        E(domain, "on_reboot").text = "restart"
        E(domain, "on_crash").text = "destroy"
        devices = E(domain, "devices")
        if self.domainType in ("kvm", "qemu"):
            # No USB controller (libvirt adds one otherwise): a server has no
            # use for it, and probing it slows every boot.
            E(devices, "controller", type="usb", model="none")
        for disk in self.disks:
            devices.append(disk.element(self.domainType))
        if self.rootDirectory:
            fs = E(devices, "filesystem", type="mount")
            E(fs, "source", dir=self.rootDirectory)
            E(fs, "target", dir="/")
        for interface in self.interfaces:
            devices.append(interface.element())
        if self.domainType == "lxc" or not self.consolePath:
            E(devices, "console", type="pty")
        else:
            serial = E(devices, "serial", type="file")
            E(serial, "source", path=self.consolePath, append="on")
            E(serial, "target", port="0")
        if self.vncListen and self.domainType in ("kvm", "qemu"):
            graphics = E(devices, "graphics", type="vnc", port="-1", autoport="yes")
            graphics.set("listen", self.vncListen)
            if self.vncPassword:
                graphics.set("passwd", self.vncPassword)
            E(graphics, "listen", type="address", address=self.vncListen)
        return domain

    def toXml(self):
        """
        @return: the domain XML (L{str}).
        """
        return ElementTree.tostring(self.element(), encoding="unicode")


def newVncPassword():
    """
    @return: a new random VNC password: 8 characters, all that VNC
        authentication uses.
    """
    return secrets.token_urlsafe(6)[:8]


def vncConsoleOf(domain):
    """
    @param domain: the C{<domain>} element of a running guest's live
        definition, read with its secrets (C{VIR_DOMAIN_XML_SECURE}).
    @return: a L{dict}: C{host}, C{port} (L{int}) and C{password} of its
        VNC server.
    @raise errors.ConsoleUnavailable: when it has none, or no port yet.
    """
    graphics = domain.find("./devices/graphics[@type='vnc']")
    if graphics is None:
        raise errors.ConsoleUnavailable(f"{domain.findtext('name')} has no VNC console")
    try:
        port = int(graphics.get("port", "-1"))
    except ValueError:
        port = -1
    if port <= 0:
        raise errors.ConsoleUnavailable(
            f"{domain.findtext('name')} has no VNC port: it is not running"
        )
    listen = graphics.find("listen[@type='address']")
    host = (listen.get("address") if listen is not None else None) or graphics.get("listen")
    if not host or host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return {"host": host, "port": port, "password": graphics.get("passwd")}


def bootImagesElement(kernelId, ramdiskId):
    """
    @return: the driver's C{<boot>} element of a domain's C{<metadata>},
        recording the images of its kernel and ramdisk files.
    """
    boot = ElementTree.Element(_BOOT)
    if kernelId:
        boot.set("kernel", kernelId)
    if ramdiskId:
        boot.set("ramdisk", ramdiskId)
    return boot


def bootImagesFor(instance):
    """
    @param instance: an L{nova.virt.interfaces.InstanceSpec}.
    @return: C{(kernelId, ramdiskId)}: the images its guest boots from, as
        spawn uses them (a ramdisk only with a kernel); C{None} for none.
    """
    kernelId = instance.kernelId or None
    ramdiskId = (instance.ramdiskId or None) if kernelId else None
    return kernelId, ramdiskId


def bootImagesOf(domain):
    """
    @param domain: a C{<domain>} element.
    @return: C{(kernelId, ramdiskId)}: the images its kernel and ramdisk
        files were copied from; C{None} for no file, L{UNKNOWN_IMAGE} for
        a file of a definition that does not record its image.
    """
    boot = domain.find(f"metadata/{_BOOT}")
    if boot is not None:
        return boot.get("kernel"), boot.get("ramdisk")
    return (
        UNKNOWN_IMAGE if domain.find("os/kernel") is not None else None,
        UNKNOWN_IMAGE if domain.find("os/initrd") is not None else None,
    )


def _child(parent, tag):
    element = parent.find(tag)
    if element is None:
        element = ElementTree.SubElement(parent, tag)
    return element


def _kib(element):
    """
    @return: the size an element such as C{<memory unit='KiB'>} gives, in
        KiB, or C{None} when it is not in KiB (libvirt writes KiB).
    """
    if element is None or element.get("unit", "KiB") not in ("KiB", "k"):
        return None
    try:
        return int((element.text or "").strip())
    except ValueError:
        return None


def setResources(domain, vcpus, memoryMb):
    """
    Give a domain definition C{vcpus} vCPUs and C{memoryMb} MiB of memory
    (all of it at boot).

    @param domain: a C{<domain>} element, changed in place.
    @return: whether it changed.
    """
    changed = False
    vcpu = _child(domain, "vcpu")
    count = str(int(vcpus))
    if (vcpu.text or "").strip() != count or vcpu.get("current", count) != count:
        vcpu.text = count
        vcpu.attrib.pop("current", None)
        # The states of single vCPUs describe the old count.
        for vcpuStates in domain.findall("vcpus"):
            domain.remove(vcpuStates)
        changed = True
    kib = int(memoryMb) * 1024
    for tag in ("memory", "currentMemory"):
        element = _child(domain, tag)
        if _kib(element) != kib:
            element.text = str(kib)
            element.set("unit", "KiB")
            changed = True
    return changed


def setBootFiles(domain, kernel, ramdisk, cmdline, kernelId, ramdiskId):
    """
    Make a domain definition boot C{kernel} (with C{ramdisk}), or from its
    first disk when C{kernel} is C{None}, and record the images they come
    from in its metadata.

    @param domain: a C{<domain>} element, changed in place.
    @param kernel: the kernel file, or C{None}.
    @param ramdisk: the initrd file, or C{None}.
    @param cmdline: the kernel command line, for a definition that has
        none (one that has keeps it).
    @param kernelId: the image C{kernel} comes from.
    @param ramdiskId: the image C{ramdisk} comes from.
    """
    os_ = _child(domain, "os")
    oldCmdline = os_.findtext("cmdline")
    for tag in ("kernel", "initrd", "cmdline"):
        for element in os_.findall(tag):
            os_.remove(element)
    if kernel:
        ElementTree.SubElement(os_, "kernel").text = kernel
        if ramdisk:
            ElementTree.SubElement(os_, "initrd").text = ramdisk
        cmdline = oldCmdline if oldCmdline is not None else cmdline
        if cmdline:
            ElementTree.SubElement(os_, "cmdline").text = cmdline
    elif os_.find("boot") is None:
        ElementTree.SubElement(os_, "boot", dev="hd")
    osType = os_.find("type")
    if domain.get("type") == "xen" and osType is not None and osType.text in ("linux", "hvm"):
        osType.text = "linux" if kernel else "hvm"
    metadata = _child(domain, "metadata")
    for boot in metadata.findall(_BOOT):
        metadata.remove(boot)
    metadata.append(bootImagesElement(kernelId, ramdiskId))


# -- threads and the connection ----------------------------------------------


class ThreadWorkers:
    """
    A small thread pool of its own, started on first use and stopped with
    the reactor (or by L{stop}).

    @ivar pool: the L{ThreadPool}.
    """

    def __init__(self, reactor, threads=6, name="nova-libvirt"):
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name=name)
        self._trigger = None

    def run(self, function, *args):
        """
        @return: L{Deferred} firing with C{function(*args)}, called in a
            pool thread.
        """
        if not self.pool.started:
            self.pool.start()
            self._trigger = self.reactor.addSystemEventTrigger(
                "during", "shutdown", self._reactorStopping
            )
        return deferToThreadPool(self.reactor, self.pool, function, *args)

    def _reactorStopping(self):
        self._trigger = None
        self.pool.stop()

    def stop(self):
        """
        Stop the threads (waiting for the work under way).
        """
        if self._trigger is not None:
            self.reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
        if self.pool.started:
            self.pool.stop()


def _ignoreLibvirtError(context, error):
    """
    libvirt's error callback: errors are raised as exceptions too, so this
    one only keeps libvirt from printing them to standard error.
    """


_handlerRegistered = []


def registerErrorHandler():
    """
    Replace libvirt's default error handler (which prints to standard
    error) with one that drops the message, once per process.
    """
    if libvirt is not None and not _handlerRegistered:
        libvirt.registerErrorHandler(_ignoreLibvirtError, None)
        _handlerRegistered.append(True)


def isConnectionError(error):
    """
    @param error: a C{libvirt.libvirtError}.
    @return: whether it says the connection to libvirtd broke.
    """
    code = error.get_error_code()
    if code == libvirt.VIR_ERR_INVALID_CONN:
        return True
    return code in (
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_INTERNAL_ERROR,
    ) and error.get_error_domain() in (libvirt.VIR_FROM_REMOTE, libvirt.VIR_FROM_RPC)


def translate(error, name=None):
    """
    @param error: a C{libvirt.libvirtError}.
    @return: the L{errors.VirtError} it means.
    """
    message = error.get_error_message() or str(error)
    if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
        return errors.GuestNotFound(f"no guest named {name}" if name else message)
    return errors.VirtError(f"libvirt: {message}")


class LibvirtConnection:
    """
    One connection to libvirt, used from the worker threads.

    @ivar uri: the libvirt URI.
    @ivar opens: how many times a connection was opened.
    """

    log = Logger()

    def __init__(self, uri, runInThread, opener=None):
        """
        @param runInThread: called as C{runInThread(function, *args)},
            returns a L{Deferred} of its result.
        @param opener: called with the URI in a thread, returns a
            C{virConnect} (C{libvirt.open} by default).
        """
        registerErrorHandler()
        self.uri = uri
        self.runInThread = runInThread
        self.opener = opener if opener is not None else libvirt.open
        self.opens = 0
        self._connection = None
        self._lock = threading.Lock()

    def run(self, function, *args):
        """
        Call C{function(connection, *args)} in a thread.  If libvirt says
        the connection broke, open a new one and call once more.

        @return: L{Deferred} firing with its result; failing with
            L{errors.VirtError} (L{errors.GuestNotFound} for an unknown
            domain) for a libvirt error, or what C{function} raises.
        """
        return self.runInThread(self._thd_call, function, args)

    def _thd_connection(self):
        with self._lock:
            if self._connection is None:
                try:
                    self._connection = self.opener(self.uri)
                except libvirt.libvirtError as e:
                    raise errors.VirtError(
                        f"cannot connect to libvirt at {self.uri}: {e.get_error_message() or e}"
                    )
                self.opens += 1
            return self._connection

    def _thd_drop(self, connection):
        with self._lock:
            if self._connection is connection:
                self._connection = None
        try:
            connection.close()
        except libvirt.libvirtError:
            pass

    def _thd_call(self, function, args):
        connection = self._thd_connection()
        try:
            return function(connection, *args)
        except libvirt.libvirtError as e:
            if not isConnectionError(e):
                raise translate(e)
            self.log.warn(
                "The libvirt connection to {uri} broke ({error}); reconnecting",
                uri=self.uri,
                error=e.get_error_message(),
            )
            self._thd_drop(connection)
        connection = self._thd_connection()
        try:
            return function(connection, *args)
        except libvirt.libvirtError as e:
            if isConnectionError(e):
                self._thd_drop(connection)
            raise translate(e)

    def close(self):
        """
        Close the connection (a later call opens a new one).

        @return: L{Deferred} firing with C{None}.
        """

        def closeIt():
            with self._lock:
                connection, self._connection = self._connection, None
            if connection is not None:
                try:
                    connection.close()
                except libvirt.libvirtError:
                    pass

        return self.runInThread(closeIt)


# -- work done in threads ------------------------------------------------------

_LIBVIRT_STATES = {}


def _powerStates():
    if not _LIBVIRT_STATES:
        _LIBVIRT_STATES.update(
            {
                libvirt.VIR_DOMAIN_NOSTATE: power.NOSTATE,
                libvirt.VIR_DOMAIN_RUNNING: power.RUNNING,
                libvirt.VIR_DOMAIN_BLOCKED: power.BLOCKED,
                libvirt.VIR_DOMAIN_PAUSED: power.PAUSED,
                libvirt.VIR_DOMAIN_SHUTDOWN: power.SHUTDOWN,
                libvirt.VIR_DOMAIN_SHUTOFF: power.SHUTOFF,
                libvirt.VIR_DOMAIN_CRASHED: power.CRASHED,
                libvirt.VIR_DOMAIN_PMSUSPENDED: power.SUSPENDED,
            }
        )
    return _LIBVIRT_STATES


def powerStateOf(libvirtState, hasManagedSave=False):
    """
    @param libvirtState: a C{virDomainState}.
    @param hasManagedSave: whether the domain has a managed save image.
    @return: the L{nova.virt.power} state: a shut-off domain with a managed
        save image is C{SUSPENDED}.
    """
    state = _powerStates().get(libvirtState, power.NOSTATE)
    if state == power.SHUTOFF and hasManagedSave:
        return power.SUSPENDED
    return state


def _thd_lookup(connection, name):
    try:
        return connection.lookupByName(name)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            raise errors.GuestNotFound(f"no guest named {name}")
        raise


def _thd_state(domain):
    state = domain.state()[0]
    saved = False
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        saved = bool(domain.hasManagedSaveImage(0))
    return powerStateOf(state, saved)


def _thd_powerState(connection, name):
    return _thd_state(_thd_lookup(connection, name))


def _thd_defined(connection, name):
    try:
        _thd_lookup(connection, name)
    except errors.GuestNotFound:
        return False
    return True


def _thd_defineAndStart(connection, xml):
    domain = connection.defineXML(xml)
    domain.create()


def _thd_stop(domain):
    """
    Destroy (pull the plug of) a domain, running or not.
    """
    try:
        domain.destroy()
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
            raise


def _thd_forceOff(connection, name):
    _thd_stop(_thd_lookup(connection, name))


def _thd_pressPowerButton(connection, name):
    domain = _thd_lookup(connection, name)
    try:
        domain.shutdown()
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
            raise


def _thd_vncConsole(connection, name):
    domain = _thd_lookup(connection, name)
    if not domain.isActive():
        raise errors.ConsoleUnavailable(f"{name} has no VNC console: it is not running")
    return vncConsoleOf(ElementTree.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)))


def _thd_start(connection, name):
    _thd_lookup(connection, name).create()


def _thd_definition(connection, name):
    """
    @return: C{(powerState, xml)}: the domain's power state and its
        persistent definition.
    """
    domain = _thd_lookup(connection, name)
    return _thd_state(domain), domain.XMLDesc(
        libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
    )


def _thd_redefine(connection, name, xml):
    """
    Replace the persistent definition of a domain that is off.

    @raise errors.GuestStateError: if it is not off.
    """
    state = _thd_state(_thd_lookup(connection, name))
    if state not in STOPPED:
        raise errors.GuestStateError(f"cannot update {name}: it is {power.name(state)}")
    connection.defineXML(xml)


def _thd_destroyDomain(connection, name):
    """
    Stop and undefine a domain, with its managed save image.

    @return: whether the domain existed.
    """
    try:
        domain = _thd_lookup(connection, name)
    except errors.GuestNotFound:
        return False
    _thd_stop(domain)
    base = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    for flags in (base | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM, base, None):
        try:
            if flags is None:
                domain.undefine()
            else:
                domain.undefineFlags(flags)
            return True
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return True
            if flags is None or e.get_error_code() not in (
                libvirt.VIR_ERR_INVALID_ARG,
                libvirt.VIR_ERR_NO_SUPPORT,
            ):
                raise
    return True


def _thd_transition(connection, name, allowed, verb, action):
    """
    Call C{action(domain)} if the domain's power state is in C{allowed}.

    @raise errors.GuestStateError: otherwise.
    """
    domain = _thd_lookup(connection, name)
    state = _thd_state(domain)
    if state not in allowed:
        raise errors.GuestStateError(f"cannot {verb} {name}: it is {power.name(state)}")
    action(domain)
    return state


def _thd_info(connection, name):
    domain = _thd_lookup(connection, name)
    state, maxMemory, _memory, vcpus, cpuTime = domain.info()
    return {
        "state": _thd_state(domain),
        "memory_mb": int(maxMemory) // 1024,
        "vcpus": int(vcpus),
        "cpu_time": int(cpuTime),
    }


def _counter(value):
    """
    @return: a libvirt statistic as an L{int}, or C{None} for libvirt's
        "not counted" (a negative number).
    """
    value = int(value)
    return value if value >= 0 else None


def _thd_optional(call, *args):
    """
    @return: C{call(*args)}, or C{None} if libvirt cannot give that
        statistic (an error that is not a broken connection).
    """
    try:
        return call(*args)
    except libvirt.libvirtError as e:
        if isConnectionError(e):
            raise
        return None


def _thd_diagnostics(connection, name):
    """
    @return: the guest's diagnostics, as
        L{nova.virt.interfaces.IVirtDriver.getDiagnostics} describes them:
        C{info()}, then for an active domain C{memoryStats()} and the
        C{blockStats} and C{interfaceStats} of the disks and network cards
        of its live definition.
    """
    domain = _thd_lookup(connection, name)
    state = _thd_state(domain)
    _state, maxMemory, _memory, vcpus, cpuTime = domain.info()
    diagnostics = {
        "state": state,
        "cpu_time": int(cpuTime),
        "vcpus": int(vcpus),
        "memory_mb": int(maxMemory) // 1024,
        "memory": {},
        "disks": {},
        "interfaces": {},
    }
    if not domain.isActive():
        return diagnostics
    memory = _thd_optional(domain.memoryStats) or {}
    diagnostics["memory"] = {
        str(key): int(value) for key, value in memory.items() if key != "last_update"
    }
    devices = ElementTree.fromstring(domain.XMLDesc(0)).find("devices")
    for disk in devices.findall("disk") if devices is not None else ():
        target = disk.find("target")
        device = target.get("dev") if target is not None else None
        stats = _thd_optional(domain.blockStats, device) if device else None
        if stats is not None:
            readRequests, readBytes, writeRequests, writeBytes, errs = stats
            diagnostics["disks"][device] = {
                "read_bytes": _counter(readBytes),
                "read_requests": _counter(readRequests),
                "write_bytes": _counter(writeBytes),
                "write_requests": _counter(writeRequests),
                "errors": _counter(errs),
            }
    for interface in devices.findall("interface") if devices is not None else ():
        target = interface.find("target")
        mac = interface.find("mac")
        device = target.get("dev") if target is not None else None
        if not device or mac is None or not mac.get("address"):
            continue
        stats = _thd_optional(domain.interfaceStats, device)
        if stats is not None:
            diagnostics["interfaces"][mac.get("address").lower()] = {
                key: _counter(value) for key, value in zip(INTERFACE_COUNTERS, stats)
            }
    return diagnostics


def rootDiskOf(domain, target):
    """
    @param domain: a C{<domain>} element.
    @param target: the root disk's device name (C{vda}).
    @return: C{(path, format)} of the root disk, a file; C{None} if the
        domain has none.
    """
    for disk in domain.findall("./devices/disk"):
        targetElement = disk.find("target")
        source = disk.find("source")
        if (
            disk.get("device", "disk") == "disk"
            and targetElement is not None
            and targetElement.get("dev") == target
            and source is not None
            and source.get("file")
        ):
            driver = disk.find("driver")
            fmt = driver.get("type") if driver is not None else None
            return source.get("file"), fmt if fmt in ("raw", "qcow2") else "raw"
    return None


def _thd_publish(temporary, path):
    """
    Rename a finished file into place.

    @return: its size in bytes.
    """
    size = os.path.getsize(temporary)
    os.replace(temporary, path)
    return size


def _thd_names(connection):
    return sorted(domain.name() for domain in connection.listAllDomains(0))


def _diskElements(xml):
    root = ElementTree.fromstring(xml)
    found = {}
    for disk in root.findall("./devices/disk"):
        target = disk.find("target")
        if target is not None and target.get("dev"):
            found[target.get("dev")] = disk
    return found


def _thd_disks(domain):
    """
    @return: C{(live, persistent)}: the disks of the running domain (empty
        when it is not running) and of its definition, as L{dict}s from
        target name to C{<disk>} element.
    """
    live = _diskElements(domain.XMLDesc(0)) if domain.isActive() else {}
    persistent = _diskElements(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    return live, persistent


def _thd_hostStats(connection, instancesPath):
    info = connection.getInfo()
    vcpusUsed = memoryUsed = 0
    for domain in connection.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        _state, maxMemory, _memory, vcpus, _cpu = domain.info()
        vcpusUsed += int(vcpus)
        memoryUsed += int(maxMemory) // 1024
    fs = os.statvfs(instancesPath)
    total = fs.f_blocks * fs.f_frsize
    free = fs.f_bfree * fs.f_frsize
    return {
        "vcpus": int(info[2]),
        "memory_mb": int(info[1]),
        "local_gb": total >> 30,
        "vcpus_used": vcpusUsed,
        "memory_mb_used": memoryUsed,
        "local_gb_used": (total - free) >> 30,
        "hypervisor_type": connection.getType(),
    }


def _thd_freshDirectory(path):
    """
    Make an instance's directory, empty: what an earlier guest of that
    name left (one that is no longer defined) goes.
    """
    if os.path.lexists(path):
        shutil.rmtree(path)
    os.makedirs(path, mode=0o755)
    os.chmod(path, 0o755)


def _thd_removeTree(path):
    """
    @return: whether there was something to remove.
    """
    if not os.path.lexists(path):
        return False
    shutil.rmtree(path)
    return True


def _thd_removeFiles(paths):
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _thd_write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _thd_tail(path, limit):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read(limit)
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", "replace")


def _thd_isBlock(path):
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise


#: Files of an instance's directory that a resize awaiting confirmation
#: keeps: the definition before it, and (beside the root disk, with this
#: suffix) a copy of the root disk as it was.
RESIZE_XML, KEPT_SUFFIX = "libvirt.xml.resize", ".resize"

#: Files of a rescued guest: its own definition, and the rescue system's
#: root disk, kernel and ramdisk.
RESCUE_XML = "libvirt.xml.rescue"
RESCUE_DISK, RESCUE_KERNEL, RESCUE_RAMDISK = "disk.rescue", "kernel.rescue", "ramdisk.rescue"


def _thd_readOrNone(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _thd_pending(directory):
    """
    @return: what the guest whose files are in C{directory} awaits:
        C{"rescued"}, C{"resized"} or C{None}.
    """
    if os.path.exists(os.path.join(directory, RESCUE_XML)):
        return "rescued"
    if os.path.exists(os.path.join(directory, RESIZE_XML)):
        return "resized"
    return None


def _thd_keepCopy(path):
    """
    Copy a root disk to C{path + KEPT_SUFFIX} (a new file).
    """
    kept = path + KEPT_SUFFIX
    try:
        shutil.copyfile(path, kept)
    except OSError as e:
        _thd_removeFiles([kept])
        raise errors.VirtError(f"cannot keep a copy of {path}: {e.strerror or e}")


def _thd_restoreKept(path):
    kept = path + KEPT_SUFFIX
    if os.path.exists(kept):
        os.replace(kept, path)


def _thd_pullPlug(connection, name):
    """
    Force a guest off and drop its saved memory, if any: what it runs
    now is about to be replaced.
    """
    domain = _thd_lookup(connection, name)
    _thd_stop(domain)
    if domain.hasManagedSaveImage(0):
        domain.managedSaveRemove(0)


def _thd_define(connection, xml):
    connection.defineXML(xml)


def rescueDefinition(domain, rescueDisk, rootTarget, secondTarget):
    """
    Make a domain definition boot a rescue system: its disks are replaced
    by C{rescueDisk} (the first disk) and its own root disk, moved to the
    second target.

    @param domain: a C{<domain>} element, changed in place.
    @param rescueDisk: the rescue system's L{Disk}.
    @param rootTarget: the guest's root disk target (C{vda}).
    @param secondTarget: where its root disk goes (C{vdb}).
    """
    devices = _child(domain, "devices")
    own = None
    for disk in devices.findall("disk"):
        target = disk.find("target")
        if own is None and target is not None and target.get("dev") == rootTarget:
            own = disk
        devices.remove(disk)
    disks = [rescueDisk.element(domain.get("type"))]
    if own is not None:
        own.find("target").set("dev", secondTarget)
        # The guest names its disks in the order of their bus addresses,
        # not by their targets: the own disk gives up its address, so that
        # libvirt places it after the rescue disk.
        for address in own.findall("address"):
            own.remove(address)
        disks.append(own)
    # Disks go first among the devices, where libvirt writes them.
    for index, disk in enumerate(disks):
        devices.insert(index, disk)


# -- the driver ----------------------------------------------------------------


@implementer(IVirtDriver)
class LibvirtDriver:
    """
    An L{IVirtDriver} over libvirt.

    @ivar libvirtType: C{kvm}, C{qemu}, C{lxc}, C{uml} or C{xen}.
    @ivar uri: the libvirt URI.
    @ivar instancesPath: the directory of instance files and of the image
        cache.
    @ivar connection: the L{LibvirtConnection}.
    @ivar images: the L{ImageCache}.
    @ivar disks: the L{DiskMaker}.
    """

    log = Logger()

    def __init__(
        self,
        instancesPath,
        reactor,
        imageFetcher,
        libvirtType="kvm",
        uri="",
        runner=None,
        useCowImages=True,
        cmdline="root=/dev/vda console=ttyS0",
        vifModel="",
        bridgeTemplate="",
        spawnTimeout=60.0,
        rebootTimeout=60.0,
        shutdownTimeout=60.0,
        volumeFormat="raw",
        clock=None,
        runInThread=None,
        opener=None,
        pollInterval=0.5,
        threads=6,
        forceConfigDrive=False,
        vncListen=None,
    ):
        """
        @param instancesPath: the directory of instance files.
        @param reactor: the reactor (process spawning, threads, time).
        @param imageFetcher: the L{nova.virt.images.IImageFetcher} images
            are fetched with.
        @param runner: the L{nova.util.process.IProcessRunner} for
            C{qemu-img}; a L{ReactorProcessRunner} by default.
        @param clock: the L{IReactorTime} of timeouts; C{reactor} by
            default.
        @param runInThread: called as C{runInThread(function, *args)},
            returns a L{Deferred} of its result; by default a
            L{ThreadWorkers} pool of C{threads} threads of this driver.
        @param opener: opens a libvirt connection from a URI
            (C{libvirt.open} by default).
        @param bridgeTemplate: the bridge guests' network cards join, with
            C{{bridge}} standing for the network's bridge; empty for the
            network's bridge itself.
        @param forceConfigDrive: whether every guest gets a config drive
            (L{nova.virt.configdrive}); without it only guests whose
            network is marked for injection get one.
        @param vncListen: the address guests' VNC servers listen on, or
            C{None} (or empty) for no VNC servers.
        @raise ConfigError: when libvirt-python is missing, the type is
            unknown or C{bridgeTemplate} makes no bridge name.
        """
        if libvirt is None:
            raise ConfigError(
                "connection_type=libvirt needs libvirt-python (pip install libvirt-python)"
            )
        if libvirtType not in URIS:
            raise ConfigError(
                f"unknown libvirt_type {libvirtType!r}; choose from {', '.join(URIS)}"
            )
        self.libvirtType = libvirtType
        self.uri = uriFor(libvirtType, uri)
        self.instancesPath = os.path.abspath(instancesPath)
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.useCowImages = useCowImages
        self.cmdline = cmdline
        self.vifModel = vifModel or ("virtio" if libvirtType == "kvm" else "e1000")
        if bridgeTemplate and not _BRIDGE.match(bridgeTemplate.replace("{bridge}", "b")):
            raise ConfigError(f"libvirt_bridge_template {bridgeTemplate!r} makes no bridge name")
        self.bridgeTemplate = bridgeTemplate
        self.spawnTimeout = spawnTimeout
        self.rebootTimeout = rebootTimeout
        self.shutdownTimeout = shutdownTimeout
        self.volumeFormat = volumeFormat
        self.pollInterval = pollInterval
        self.forceConfigDrive = forceConfigDrive
        self.vncListen = vncListen or None
        self.workers = None
        if runInThread is None:
            self.workers = ThreadWorkers(reactor, threads)
            runInThread = self.workers.run
        self.runInThread = runInThread
        if runner is None:
            runner = ReactorProcessRunner(reactor)
        self.runner = runner
        self.connection = LibvirtConnection(self.uri, runInThread, opener)
        self.images = ImageCache(
            os.path.join(self.instancesPath, BASE_DIRECTORY), imageFetcher, runInThread
        )
        self.disks = DiskMaker(runner, runInThread)
        self._locks = {}

    @classmethod
    def fromConfig(cls, config, reactor=None, imageFetcher=None, runner=None):
        """
        Build the driver from C{--libvirt_type}, C{--libvirt_uri},
        C{--instances_path}, C{--use_cow_images}, C{--libvirt_cmdline},
        C{--libvirt_vif_model}, C{--libvirt_bridge_template},
        C{--spawn_timeout}, C{--reboot_timeout}, C{--shutdown_timeout} and
        C{--volume_format}.

        @param reactor: the reactor; the global one by default.
        @param imageFetcher: the L{nova.virt.images.IImageFetcher}; by
            default a L{DirectoryImageFetcher} over C{--images_path}, where
            nova-objectstore keeps registered images on its own host.
        @param runner: the L{nova.util.process.IProcessRunner} for
            C{qemu-img}.
        @return: a L{LibvirtDriver}.
        """
        if reactor is None:
            from twisted.internet import reactor
        if imageFetcher is None:
            imageFetcher = DirectoryImageFetcher(
                config.images_path,
                lambda f, *a: deferToThreadPool(reactor, reactor.getThreadPool(), f, *a),
            )
        return cls(
            config.instances_path,
            reactor,
            imageFetcher,
            libvirtType=config.libvirt_type,
            uri=config.libvirt_uri,
            runner=runner,
            useCowImages=config.use_cow_images,
            cmdline=config.libvirt_cmdline,
            vifModel=config.libvirt_vif_model,
            bridgeTemplate=config.libvirt_bridge_template,
            spawnTimeout=config.spawn_timeout,
            rebootTimeout=config.reboot_timeout,
            shutdownTimeout=config.shutdown_timeout,
            volumeFormat=getattr(config, "volume_format", "raw"),
            forceConfigDrive=config.force_config_drive,
            vncListen=config.vncserver_listen,
        )

    def close(self):
        """
        Close the libvirt connection and stop the driver's threads.

        @return: L{Deferred} firing with C{None}.
        """
        d = self.connection.close()

        def stop(result):
            if self.workers is not None:
                self.workers.stop()
            return result

        return d.addBoth(stop)

    # -- helpers ---------------------------------------------------------

    def instanceDirectory(self, name):
        """
        @return: the directory of the guest C{name}'s files.
        @raise errors.VirtError: for an unsafe name.
        """
        return os.path.join(self.instancesPath, checkName(name))

    def _locked(self, name, function, *args):
        """
        Run C{function(*args)} once no other operation on the guest C{name}
        runs.
        """
        try:
            checkName(name)
        except errors.VirtError as e:
            return fail(e)
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = DeferredLock()
        d = lock.run(function, *args)

        def forget(result):
            if not lock.locked and not lock.waiting:
                self._locks.pop(name, None)
            return result

        return d.addBoth(forget)

    @inlineCallbacks
    def _waitFor(self, name, states, timeout):
        """
        Poll the guest's power state until it is in C{states}.

        @return: L{Deferred} firing with C{(reached, lastState)}.
        """
        start = self.clock.seconds()
        while True:
            state = yield self.connection.run(_thd_powerState, name)
            if state in states:
                return True, state
            if self.clock.seconds() - start >= timeout:
                return False, state
            yield deferLater(self.clock, self.pollInterval, lambda: None)

    @inlineCallbacks
    def _waitRunning(self, name, what):
        reached, state = yield self._waitFor(name, power.ACTIVE, self.spawnTimeout)
        if not reached:
            raise SpawnTimeout(
                f"{name} did not {what} within {self.spawnTimeout:g} s: it is {power.name(state)}"
            )

    def _contextFor(self, instance):
        """
        @return: the context images are fetched for: the instance's owner
            when the spec names one, the system otherwise.
        """
        userId = getattr(instance, "userId", None)
        projectId = getattr(instance, "projectId", None)
        if userId and projectId:
            return RequestContext(userId=userId, projectId=projectId)
        return adminContext()

    def _rootTarget(self):
        """
        @return: C{(target, bus)} of the root disk (C{("vda", "virtio")}).
        """
        return {"xen": ("xvda", "xen"), "uml": ("ubda", "uml")}.get(
            self.libvirtType, ("vda", "virtio")
        )

    def _ephemeralTarget(self):
        """
        @return: C{(target, bus)} of the ephemeral disk: the second disk on
            the root disk's bus (C{("vdb", "virtio")}).
        """
        target, bus = self._rootTarget()
        return target[:-1] + "b", bus

    def _configDriveTarget(self):
        """
        @return: C{(target, bus)} of the config drive: the last disk name
            on the root disk's bus (C{("vdz", "virtio")}), out of the way
            of the ephemeral disk and of volumes.
        """
        target, bus = self._rootTarget()
        return target[:-1] + "z", bus

    def interfaceFor(self, instance, networkInfo):
        """
        @return: the L{Interface} of the guest's network card, or C{None}
            when C{networkInfo} names no bridge.
        @raise errors.VirtError: for a bad bridge name or MAC address.
        """
        if not networkInfo or not networkInfo.get("bridge"):
            return None
        bridge = networkInfo["bridge"]
        if isinstance(bridge, str) and self.bridgeTemplate:
            bridge = self.bridgeTemplate.replace("{bridge}", bridge)
        if not isinstance(bridge, str) or not _BRIDGE.match(bridge):
            raise errors.VirtError(f"{bridge!r} is not a bridge name")
        mac = networkInfo.get("mac") or instance.macAddress
        if mac is not None and (not isinstance(mac, str) or not _MAC.match(mac)):
            raise errors.VirtError(f"{mac!r} is not a MAC address")
        return Interface(bridge=bridge, mac=mac.lower() if mac else None, model=self.vifModel)

    def guestConfig(self, instance, disks=(), kernel=None, ramdisk=None, networkInfo=None):
        """
        Describe the guest of C{instance}.

        @param instance: an L{nova.virt.interfaces.InstanceSpec}.
        @param disks: its L{Disk}s, the root disk first.
        @param kernel: its kernel file, or C{None} to boot from its disk.
        @param ramdisk: its ramdisk file, or C{None}.
        @param networkInfo: the network description (C{bridge}, C{mac}
            ...), or C{None} for no network card.
        @return: a L{GuestConfig}.
        """
        name = checkName(instance.name)
        directory = self.instanceDirectory(name)
        # A domain always gets its UUID here, so that defining it again
        # (a retry after the connection broke) updates it instead of
        # clashing with it.
        guestUuid = str(uuidModule.uuid4())
        if instance.uuid:
            try:
                guestUuid = str(uuidModule.UUID(str(instance.uuid)))
            except ValueError:
                raise errors.VirtError(f"{instance.uuid!r} is not a UUID")
        interface = self.interfaceFor(instance, networkInfo)
        kernelId, ramdiskId = bootImagesFor(instance)
        return GuestConfig(
            name=name,
            domainType=self.libvirtType,
            memoryMb=int(instance.memoryMb),
            vcpus=int(instance.vcpus),
            uuid=guestUuid,
            kernel=kernel,
            ramdisk=ramdisk,
            cmdline=self.cmdline if kernel else None,
            disks=disks,
            interfaces=[interface] if interface is not None else [],
            consolePath=os.path.join(directory, CONSOLE),
            rootDirectory=os.path.join(directory, "rootfs") if self.libvirtType == "lxc" else None,
            kernelId=kernelId if kernel else None,
            ramdiskId=ramdiskId if kernel and ramdisk else None,
            vncListen=self.vncListen,
            vncPassword=newVncPassword() if self.vncListen else None,
        )

    @inlineCallbacks
    def _volumeDisk(self, connection, mountpoint):
        """
        @param connection: a L{VolumeConnection} or its JSON form (an
            C{iscsi} one becomes a C{<disk type='network'
            protocol='iscsi'>}, a C{file} one a C{<disk type='file'>}, or
            C{type='block'} for a block device), or a path.
        @return: L{Deferred} firing with the L{Disk}.
        """
        targetOf(mountpoint)
        volumeFormat = self.volumeFormat
        if not isinstance(connection, str):
            connection = VolumeConnection.coerce(connection)
            volumeFormat = connection.format
            connection = connection.url
        isBlock = False
        if isinstance(connection, str) and os.path.isabs(connection):
            isBlock = yield self.runInThread(_thd_isBlock, connection)
        return volumeDisk(connection, mountpoint, isBlock, volumeFormat)

    @inlineCallbacks
    def _fetchAll(self, context, imageIds):
        try:
            paths = yield gatherResults(
                [self.images.fetch(context, imageId) for imageId in imageIds],
                consumeErrors=True,
            )
        except FirstError as e:
            e.subFailure.raiseException()
        return paths

    @inlineCallbacks
    def _prepare(self, instance, networkInfo, blockDevices, directory):
        """
        Fetch the guest's images and make its disks.

        @return: L{Deferred} firing with its L{GuestConfig}.
        """
        if self.libvirtType == "lxc":
            raise errors.VirtError(
                "libvirt_type=lxc needs the image unpacked into a root file system, "
                "which this driver does not do"
            )
        wanted = [i for i in (instance.imageId, instance.kernelId) if i]
        if instance.kernelId and instance.ramdiskId:
            wanted.append(instance.ramdiskId)
        bases = dict(zip(wanted, (yield self._fetchAll(self._contextFor(instance), wanted))))
        disks = []
        if instance.imageId:
            root = os.path.join(directory, DISK)
            fmt = yield self.disks.makeRootDisk(bases[instance.imageId], root, self.useCowImages)
            target, bus = self._rootTarget()
            disks.append(Disk(target=target, bus=bus, source=root, format=fmt))
        localGb = int(instance.localGb or 0)
        if localGb > 0:
            ephemeral = os.path.join(directory, EPHEMERAL)
            fmt = yield self.disks.makeEphemeralDisk(ephemeral, localGb, self.useCowImages)
            target, bus = self._ephemeralTarget()
            disks.append(Disk(target=target, bus=bus, source=ephemeral, format=fmt))
        kernel = ramdisk = None
        if instance.kernelId:
            kernel = os.path.join(directory, KERNEL)
            yield self.disks.copy(bases[instance.kernelId], kernel)
            if instance.ramdiskId:
                ramdisk = os.path.join(directory, RAMDISK)
                yield self.disks.copy(bases[instance.ramdiskId], ramdisk)
        if (
            self.forceConfigDrive
            or instance.configDrive
            or instance.personality
            or (networkInfo or {}).get("injected")
        ):
            drive = os.path.join(directory, configdrive.FILE_NAME)
            files = configdrive.driveFiles(instance, networkInfo, instance.personality)
            yield self.runInThread(configdrive.thd_writeImage, files, drive)
            target, bus = self._configDriveTarget()
            disks.append(Disk(target=target, bus=bus, source=drive, readOnly=True))
        used = {disk.target for disk in disks}
        for devicePath, mountpoint in blockDevices:
            disk = yield self._volumeDisk(devicePath, mountpoint)
            if disk.target in used:
                raise errors.DeviceInUse(f"{instance.name} already has a device at {mountpoint}")
            used.add(disk.target)
            disks.append(disk)
        return self.guestConfig(instance, disks, kernel, ramdisk, networkInfo)

    @inlineCallbacks
    def _removeGuest(self, name):
        """
        Undefine the guest and delete its files.

        @return: L{Deferred} firing with whether anything was there.
        """
        defined = yield self.connection.run(_thd_destroyDomain, name)
        removed = yield self.runInThread(_thd_removeTree, self.instanceDirectory(name))
        return defined or removed

    # -- IVirtDriver -------------------------------------------------------

    @inlineCallbacks
    def initHost(self, host):
        yield self.runInThread(
            os.makedirs, os.path.join(self.instancesPath, BASE_DIRECTORY), 0o755, True
        )
        capabilities = yield self.connection.run(lambda c: c.getCapabilities())
        domainTypes = {
            d.get("type")
            for d in ElementTree.fromstring(capabilities).findall("./guest/arch/domain")
        }
        if self.libvirtType in ("kvm", "qemu") and self.libvirtType not in domainTypes:
            self.log.warn(
                "libvirt at {uri} offers no {type} domains (it offers {types}); "
                "guests will fail to start",
                uri=self.uri,
                type=self.libvirtType,
                types=", ".join(sorted(t for t in domainTypes if t)) or "none",
            )
        self.log.info(
            "libvirt driver on {host}: {type} guests through {uri}, files in {path}",
            host=host,
            type=self.libvirtType,
            uri=self.uri,
            path=self.instancesPath,
        )

    def listInstances(self):
        return self.connection.run(_thd_names)

    def spawn(self, instance, networkInfo=None, blockDevices=()):
        return self._locked(instance.name, self._spawn, instance, networkInfo, tuple(blockDevices))

    @inlineCallbacks
    def _spawn(self, instance, networkInfo, blockDevices):
        name = instance.name
        defined = yield self.connection.run(_thd_defined, name)
        if defined:
            raise errors.GuestExists(f"guest {name} exists")
        directory = self.instanceDirectory(name)
        yield self.runInThread(_thd_freshDirectory, directory)
        try:
            config = yield self._prepare(instance, networkInfo, blockDevices, directory)
            xml = config.toXml()
            yield self.runInThread(_thd_write, os.path.join(directory, XML), xml)
            yield self.connection.run(_thd_defineAndStart, xml)
            yield self._waitRunning(name, "start")
        except BaseException:
            try:
                yield self._removeGuest(name)
            except (errors.VirtError, OSError):
                self.log.failure("Cleaning up after the failed spawn of {name} failed", name=name)
            raise
        self.log.info("Spawned {name}", name=name)

    def destroy(self, instanceName):
        return self._locked(instanceName, self._destroy, instanceName)

    @inlineCallbacks
    def _destroy(self, name):
        existed = yield self._removeGuest(name)
        if not existed:
            raise errors.GuestNotFound(f"no guest named {name}")

    def reboot(self, instanceName):
        return self._locked(instanceName, self._reboot, instanceName)

    @inlineCallbacks
    def _reboot(self, name):
        state = yield self.connection.run(_thd_powerState, name)
        if state not in power.ACTIVE:
            raise errors.GuestStateError(f"cannot reboot {name}: it is {power.name(state)}")
        yield self._shutDown(name, self.rebootTimeout, "reboot")
        yield self.connection.run(_thd_start, name)
        yield self._waitRunning(name, "run again after its reboot")

    @inlineCallbacks
    def _shutDown(self, name, timeout, why):
        """
        Press the guest's power button, wait up to C{timeout} seconds for
        it to stop, then force it off.
        """
        if timeout > 0:
            yield self.connection.run(_thd_pressPowerButton, name)
            stopped, _ = yield self._waitFor(name, STOPPED, timeout)
            if stopped:
                return
            self.log.info(
                "{name} ignored the power button for {timeout:g} s; forcing it off to {why} it",
                name=name,
                timeout=timeout,
                why=why,
            )
        yield self.connection.run(_thd_forceOff, name)

    def powerOff(self, instanceName):
        return self._locked(instanceName, self._powerOff, instanceName)

    @inlineCallbacks
    def _powerOff(self, name):
        state = yield self.connection.run(_thd_powerState, name)
        if state in STOPPED:
            return
        if state == power.SUSPENDED:
            raise errors.GuestStateError(f"cannot power off {name}: it is suspended")
        timeout = self.shutdownTimeout if state in power.ACTIVE | {power.SHUTDOWN} else 0
        yield self._shutDown(name, timeout, "power off")

    def powerOn(self, instanceName):
        return self._locked(instanceName, self._powerOn, instanceName)

    @inlineCallbacks
    def _powerOn(self, name):
        state = yield self.connection.run(_thd_powerState, name)
        if state in power.ACTIVE:
            return
        if state not in STOPPED:
            raise errors.GuestStateError(f"cannot power on {name}: it is {power.name(state)}")
        yield self.connection.run(_thd_start, name)
        yield self._waitRunning(name, "start")

    def updateGuest(self, instance):
        """
        Edit the guest's persistent definition (C{XMLDesc} of the inactive
        domain, then C{defineXML}): C{<vcpu>}, C{<memory>} and
        C{<currentMemory>}, and for a new kernel or ramdisk the files
        C{kernel} and C{ramdisk} of its directory, copied from the image
        cache as spawn does, with C{<kernel>}, C{<initrd>} and
        C{<cmdline>} (C{<boot dev='hd'/>} without a kernel).  The
        definition records the images of those files in its
        C{<metadata>}, so an unchanged kernel is not copied again.
        """
        return self._locked(instance.name, self._updateGuest, instance)

    @inlineCallbacks
    def _updateGuest(self, instance):
        name = instance.name
        directory = self.instanceDirectory(name)
        state, xml = yield self.connection.run(_thd_definition, name)
        domain = ElementTree.fromstring(xml)
        kernelId, ramdiskId = bootImagesFor(instance)
        oldKernelId, oldRamdiskId = bootImagesOf(domain)
        resized = setResources(domain, instance.vcpus, instance.memoryMb)
        if not resized and (kernelId, ramdiskId) == (oldKernelId, oldRamdiskId):
            return
        if state not in STOPPED:
            raise errors.GuestStateError(f"cannot update {name}: it is {power.name(state)}")
        kernel = os.path.join(directory, KERNEL) if kernelId else None
        ramdisk = os.path.join(directory, RAMDISK) if ramdiskId else None
        if (kernelId, ramdiskId) != (oldKernelId, oldRamdiskId):
            if self.libvirtType == "lxc":
                raise errors.VirtError(f"cannot change the kernel of {name}: LXC guests boot none")
            files = {}
            if kernelId and kernelId != oldKernelId:
                files[kernel] = kernelId
            if ramdiskId and ramdiskId != oldRamdiskId:
                files[ramdisk] = ramdiskId
            # The files are in place before the definition records their
            # images: if defining fails, the next update copies them again.
            yield self._installBootFiles(instance, files)
            setBootFiles(domain, kernel, ramdisk, self.cmdline, kernelId, ramdiskId)
        xml = ElementTree.tostring(domain, encoding="unicode")
        yield self.connection.run(_thd_redefine, name, xml)
        yield self.runInThread(_thd_write, os.path.join(directory, XML), xml)
        unused = [
            os.path.join(directory, fileName)
            for fileName, imageId in ((KERNEL, kernelId), (RAMDISK, ramdiskId))
            if not imageId
        ]
        yield self.runInThread(_thd_removeFiles, unused)
        self.log.info(
            "Updated {name}: {vcpus} vCPUs, {memory} MiB, kernel {kernel}, ramdisk {ramdisk}",
            name=name,
            vcpus=instance.vcpus,
            memory=instance.memoryMb,
            kernel=kernelId or "none",
            ramdisk=ramdiskId or "none",
        )

    @inlineCallbacks
    def _installBootFiles(self, instance, files):
        """
        Fetch images into the image cache and copy them into the guest's
        directory, each in place of the file it replaces at once.

        @param files: a L{dict} from a path in the guest's directory to the
            image to copy there.
        @return: L{Deferred} firing with C{None}.
        """
        paths = sorted(files)
        bases = yield self._fetchAll(self._contextFor(instance), [files[p] for p in paths])
        temporaries = [path + ".new" for path in paths]
        try:
            for base, temporary in zip(bases, temporaries):
                yield self.disks.copy(base, temporary)
            for temporary, path in zip(temporaries, paths):
                yield self.runInThread(os.replace, temporary, path)
        finally:
            yield self.runInThread(_thd_removeFiles, temporaries)

    @inlineCallbacks
    def _checkSettled(self, name, verb):
        """
        @raise errors.GuestStateError: (in the L{Deferred}) if the guest is
            rescued or awaits the confirmation of a resize.
        """
        pending = yield self.runInThread(_thd_pending, self.instanceDirectory(name))
        if pending == "rescued":
            raise errors.GuestStateError(f"cannot {verb} {name}: it is rescued")
        if pending == "resized":
            raise errors.GuestStateError(f"cannot {verb} {name}: its resize awaits confirmation")

    @inlineCallbacks
    def _startAgain(self, name, what):
        yield self.connection.run(_thd_start, name)
        yield self._waitRunning(name, what)

    def resize(self, instance):
        """
        Resize in place: shut the guest down (as L{powerOff} does), keep
        its definition (C{libvirt.xml.resize}) and a copy of its root disk
        (C{disk.resize}) in its directory, define it with the new
        C{<vcpu>} and C{<memory>}, and boot it again if it ran.
        """
        return self._locked(instance.name, self._resize, instance)

    @inlineCallbacks
    def _resize(self, instance):
        name = instance.name
        directory = self.instanceDirectory(name)
        state, xml = yield self.connection.run(_thd_definition, name)
        yield self._checkSettled(name, "resize")
        if state not in power.ACTIVE | STOPPED:
            raise errors.GuestStateError(f"cannot resize {name}: it is {power.name(state)}")
        domain = ElementTree.fromstring(xml)
        root = rootDiskOf(domain, self._rootTarget()[0])
        setResources(domain, instance.vcpus, instance.memoryMb)
        newXml = ElementTree.tostring(domain, encoding="unicode")
        running = state in power.ACTIVE
        if running:
            yield self._shutDown(name, self.shutdownTimeout, "resize")
        saved = os.path.join(directory, RESIZE_XML)
        try:
            if root is not None:
                yield self.runInThread(_thd_keepCopy, root[0])
            yield self.runInThread(_thd_write, saved, xml)
            yield self.connection.run(_thd_redefine, name, newXml)
        except BaseException:
            kept = [saved] + ([root[0] + KEPT_SUFFIX] if root is not None else [])
            yield self.runInThread(_thd_removeFiles, kept)
            if running:
                yield self._startAgain(name, "run again after a failed resize")
            raise
        yield self.runInThread(_thd_write, os.path.join(directory, XML), newXml)
        if running:
            yield self._startAgain(name, "run after its resize")
        self.log.info(
            "Resized {name} to {vcpus} vCPUs, {memory} MiB",
            name=name,
            vcpus=instance.vcpus,
            memory=instance.memoryMb,
        )

    def confirmResize(self, instanceName):
        return self._locked(instanceName, self._confirmResize, instanceName)

    @inlineCallbacks
    def _confirmResize(self, name):
        directory = self.instanceDirectory(name)
        state, xml = yield self.connection.run(_thd_definition, name)
        pending = yield self.runInThread(_thd_pending, directory)
        if pending != "resized":
            raise errors.GuestStateError(
                f"cannot confirm the resize of {name}: no resize awaits confirmation"
            )
        root = rootDiskOf(ElementTree.fromstring(xml), self._rootTarget()[0])
        kept = [os.path.join(directory, RESIZE_XML)]
        if root is not None:
            kept.append(root[0] + KEPT_SUFFIX)
        yield self.runInThread(_thd_removeFiles, kept)

    def revertResize(self, instanceName):
        """
        Pull the resized guest's plug, put back the kept root disk and
        definition, and boot it again if it ran (or was paused or
        suspended: its saved memory is of the resized guest and goes).
        """
        return self._locked(instanceName, self._revertResize, instanceName)

    @inlineCallbacks
    def _revertResize(self, name):
        directory = self.instanceDirectory(name)
        state = yield self.connection.run(_thd_powerState, name)
        saved = os.path.join(directory, RESIZE_XML)
        oldXml = yield self.runInThread(_thd_readOrNone, saved)
        if oldXml is None:
            raise errors.GuestStateError(
                f"cannot revert the resize of {name}: no resize awaits confirmation"
            )
        yield self.connection.run(_thd_pullPlug, name)
        root = rootDiskOf(ElementTree.fromstring(oldXml), self._rootTarget()[0])
        if root is not None:
            yield self.runInThread(_thd_restoreKept, root[0])
        yield self.connection.run(_thd_define, oldXml)
        yield self.runInThread(_thd_write, os.path.join(directory, XML), oldXml)
        yield self.runInThread(_thd_removeFiles, [saved])
        if state not in STOPPED:
            yield self._startAgain(name, "run after the revert of its resize")
        self.log.info("Reverted the resize of {name}", name=name)

    def rebuild(self, instance, networkInfo=None):
        """
        Remove the guest and its files, then spawn it again from the spec.
        """
        return self._locked(instance.name, self._rebuild, instance, networkInfo)

    @inlineCallbacks
    def _rebuild(self, instance, networkInfo):
        name = instance.name
        defined = yield self.connection.run(_thd_defined, name)
        if not defined:
            raise errors.GuestNotFound(f"no guest named {name}")
        yield self._checkSettled(name, "rebuild")
        yield self._removeGuest(name)
        yield self._spawn(instance, networkInfo, ())
        self.log.info("Rebuilt {name} from {image}", name=name, image=instance.imageId)

    def rescue(self, instance):
        """
        Shut the guest down, keep its definition (C{libvirt.xml.rescue}),
        make the rescue system's disk (C{disk.rescue}, as spawn makes a
        root disk) and boot files (C{kernel.rescue}, C{ramdisk.rescue}),
        and boot a definition whose first disk is the rescue disk and
        whose second is the guest's root disk; its other disks (ephemeral,
        volumes) are left out until L{unrescue}.
        """
        return self._locked(instance.name, self._rescue, instance)

    @inlineCallbacks
    def _rescue(self, instance):
        name = instance.name
        directory = self.instanceDirectory(name)
        state, xml = yield self.connection.run(_thd_definition, name)
        yield self._checkSettled(name, "rescue")
        if state not in power.ACTIVE | STOPPED:
            raise errors.GuestStateError(f"cannot rescue {name}: it is {power.name(state)}")
        if not instance.imageId:
            raise errors.VirtError(f"cannot rescue {name}: no rescue image given")
        kernelId, ramdiskId = bootImagesFor(instance)
        wanted = [i for i in (instance.imageId, kernelId, ramdiskId) if i]
        bases = dict(zip(wanted, (yield self._fetchAll(self._contextFor(instance), wanted))))
        running = state in power.ACTIVE
        if running:
            yield self._shutDown(name, self.shutdownTimeout, "rescue")
        saved = os.path.join(directory, RESCUE_XML)
        files = [os.path.join(directory, f) for f in (RESCUE_DISK, RESCUE_KERNEL, RESCUE_RAMDISK)]
        rescueDisk, kernel, ramdisk = files
        try:
            yield self.runInThread(_thd_removeFiles, files)
            fmt = yield self.disks.makeRootDisk(
                bases[instance.imageId], rescueDisk, self.useCowImages
            )
            if kernelId:
                yield self.disks.copy(bases[kernelId], kernel)
            if ramdiskId:
                yield self.disks.copy(bases[ramdiskId], ramdisk)
            domain = ElementTree.fromstring(xml)
            target, bus = self._rootTarget()
            rescueDefinition(
                domain,
                Disk(target=target, bus=bus, source=rescueDisk, format=fmt),
                target,
                self._ephemeralTarget()[0],
            )
            setBootFiles(
                domain,
                kernel if kernelId else None,
                ramdisk if ramdiskId else None,
                self.cmdline,
                kernelId,
                ramdiskId,
            )
            yield self.runInThread(_thd_write, saved, xml)
            yield self.connection.run(_thd_redefine, name, ElementTree.tostring(domain, encoding="unicode"))
            yield self._startAgain(name, "boot its rescue system")
        except BaseException:
            try:
                yield self.connection.run(_thd_pullPlug, name)
                yield self.connection.run(_thd_define, xml)
                yield self.runInThread(_thd_removeFiles, files + [saved])
                if running:
                    yield self._startAgain(name, "run again after a failed rescue")
            except (errors.VirtError, OSError):
                self.log.failure("Restoring {name} after a failed rescue failed", name=name)
            raise
        self.log.info("Rescued {name} with {image}", name=name, image=instance.imageId)

    def unrescue(self, instanceName):
        """
        Pull the rescue system's plug, define the guest as it was kept,
        remove the rescue files and boot it.
        """
        return self._locked(instanceName, self._unrescue, instanceName)

    @inlineCallbacks
    def _unrescue(self, name):
        directory = self.instanceDirectory(name)
        yield self.connection.run(_thd_powerState, name)
        saved = os.path.join(directory, RESCUE_XML)
        xml = yield self.runInThread(_thd_readOrNone, saved)
        if xml is None:
            raise errors.GuestStateError(f"cannot unrescue {name}: it is not rescued")
        yield self.connection.run(_thd_pullPlug, name)
        yield self.connection.run(_thd_define, xml)
        files = [os.path.join(directory, f) for f in (RESCUE_DISK, RESCUE_KERNEL, RESCUE_RAMDISK)]
        yield self.runInThread(_thd_removeFiles, files + [saved])
        yield self._startAgain(name, "run after its rescue")
        self.log.info("Unrescued {name}", name=name)

    def _transition(self, method, name, allowed, action):
        return self._locked(
            name, self.connection.run, _thd_transition, name, allowed, method, action
        )

    def pause(self, instanceName):
        d = self._transition("pause", instanceName, power.ACTIVE, lambda d: d.suspend())
        return d.addCallback(lambda _: None)

    def unpause(self, instanceName):
        d = self._transition("unpause", instanceName, {power.PAUSED}, lambda d: d.resume())
        return d.addCallback(lambda _: None)

    def suspend(self, instanceName):
        d = self._transition(
            "suspend", instanceName, power.ACTIVE, lambda d: d.managedSave(0)
        )
        return d.addCallback(lambda _: None)

    def resume(self, instanceName):
        return self._locked(instanceName, self._resume, instanceName)

    @inlineCallbacks
    def _resume(self, name):
        yield self.connection.run(
            _thd_transition, name, {power.SUSPENDED}, "resume", lambda d: d.create()
        )
        yield self._waitRunning(name, "resume")

    def snapshot(self, instanceName, destinationPath, live=False):
        """
        Flatten the root disk with C{qemu-img convert -O qcow2} into a file
        beside C{destinationPath}, renamed into place when complete.  A
        running or paused guest is first saved to disk (a managed save, as
        L{suspend} does), so that QEMU has flushed and let go of its disks
        and the copy is consistent, and restored afterwards (running or
        paused, as it was saved), also when the copy failed.  With C{live}
        the guest is left alone and its disk read while QEMU writes it
        (C{qemu-img convert -U}, sharing the image lock).
        """
        return self._locked(instanceName, self._snapshot, instanceName, destinationPath, live)

    @inlineCallbacks
    def _snapshot(self, name, destinationPath, live=False):
        state, xml = yield self.connection.run(_thd_definition, name)
        root = rootDiskOf(ElementTree.fromstring(xml), self._rootTarget()[0])
        if root is None:
            raise errors.VirtError(f"{name} has no root disk to snapshot")
        source, fmt = root
        running = power.ACTIVE | {power.PAUSED}
        saved = state in running and not live
        if saved:
            flags = libvirt.VIR_DOMAIN_SAVE_PAUSED if state == power.PAUSED else 0
            yield self.connection.run(
                _thd_transition, name, running, "snapshot", lambda d: d.managedSave(flags)
            )
        temporary = f"{destinationPath}.part-{uuidModule.uuid4().hex}"
        try:
            yield self.disks.convert(
                source, fmt, temporary, "qcow2", shared=state in running and live
            )
            size = yield self.runInThread(_thd_publish, temporary, destinationPath)
        except BaseException:
            yield self.runInThread(_thd_removeFiles, [temporary])
            raise
        finally:
            if saved:
                yield self.connection.run(_thd_start, name)
                reached, now = yield self._waitFor(name, running, self.spawnTimeout)
                if not reached:
                    raise SpawnTimeout(
                        f"{name} did not run again after its snapshot within "
                        f"{self.spawnTimeout:g} s: it is {power.name(now)}"
                    )
                if state == power.PAUSED and now in power.ACTIVE:
                    # Restored running (some drivers ignore the flag).
                    yield self.connection.run(
                        _thd_transition, name, power.ACTIVE, "pause", lambda d: d.suspend()
                    )
        self.log.info(
            "Snapshot of {name}: {size} bytes of qcow2 in {path}",
            name=name,
            size=size,
            path=destinationPath,
        )
        return {"format": "qcow2", "size": size}

    def getInfo(self, instanceName):
        try:
            checkName(instanceName)
        except errors.VirtError as e:
            return fail(e)
        return self.connection.run(_thd_info, instanceName)

    def getDiagnostics(self, instanceName):
        try:
            checkName(instanceName)
        except errors.VirtError as e:
            return fail(e)
        return self.connection.run(_thd_diagnostics, instanceName)

    def getVncConsole(self, instanceName):
        """
        Read the guest's VNC server from its live definition (with its
        password: C{VIR_DOMAIN_XML_SECURE}).
        """
        try:
            checkName(instanceName)
        except errors.VirtError as e:
            return fail(e)
        return self.connection.run(_thd_vncConsole, instanceName)

    def getConsoleOutput(self, instanceName):
        try:
            path = os.path.join(self.instanceDirectory(instanceName), CONSOLE)
        except errors.VirtError as e:
            return fail(e)
        d = self.connection.run(_thd_lookup, instanceName)
        d.addCallback(lambda _: self.runInThread(_thd_tail, path, CONSOLE_LIMIT))
        return d

    def attachVolume(self, instanceName, connection, mountpoint):
        return self._locked(
            instanceName, self._attachVolume, instanceName, connection, mountpoint
        )

    @inlineCallbacks
    def _attachVolume(self, name, connection, mountpoint):
        disk = yield self._volumeDisk(connection, mountpoint)
        devicePath = connection if isinstance(connection, str) else disk.source
        xml = disk.toXml(self.libvirtType)

        def attach(connection):
            domain = _thd_lookup(connection, name)
            state = _thd_state(domain)
            if state == power.SUSPENDED:
                raise errors.GuestStateError(f"cannot attach a volume to {name}: it is suspended")
            live, persistent = _thd_disks(domain)
            if disk.target in live or disk.target in persistent:
                raise errors.DeviceInUse(f"{name} already has a device at {mountpoint}")
            flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
            if domain.isActive():
                flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
            domain.attachDeviceFlags(xml, flags)

        yield self.connection.run(attach)
        self.log.info(
            "Attached {path} to {name} as {mountpoint}",
            path=devicePath,
            name=name,
            mountpoint=mountpoint,
        )

    def detachVolume(self, instanceName, mountpoint):
        return self._locked(instanceName, self._detachVolume, instanceName, mountpoint)

    @inlineCallbacks
    def _detachVolume(self, name, mountpoint):
        target, _ = targetOf(mountpoint)

        def detach(connection):
            domain = _thd_lookup(connection, name)
            if _thd_state(domain) == power.SUSPENDED:
                raise errors.GuestStateError(
                    f"cannot detach a volume from {name}: it is suspended"
                )
            live, persistent = _thd_disks(domain)
            if target not in live and target not in persistent:
                raise errors.DeviceNotFound(f"{name} has no device at {mountpoint}")
            if target in persistent:
                domain.detachDeviceFlags(
                    ElementTree.tostring(persistent[target], encoding="unicode"),
                    libvirt.VIR_DOMAIN_AFFECT_CONFIG,
                )
            if target in live:
                domain.detachDeviceFlags(
                    ElementTree.tostring(live[target], encoding="unicode"),
                    libvirt.VIR_DOMAIN_AFFECT_LIVE,
                )

        def stillThere(connection):
            domain = _thd_lookup(connection, name)
            live, _ = _thd_disks(domain)
            return target in live

        yield self.connection.run(detach)
        start = self.clock.seconds()
        while (yield self.connection.run(stillThere)):
            if self.clock.seconds() - start >= DETACH_TIMEOUT:
                raise errors.VirtError(
                    f"{name} did not release {mountpoint} within {DETACH_TIMEOUT:g} s"
                )
            yield deferLater(self.clock, self.pollInterval, lambda: None)
        self.log.info("Detached {mountpoint} from {name}", mountpoint=mountpoint, name=name)

    def getHostStats(self):
        return self.connection.run(_thd_hostStats, self.instancesPath)
