# -*- test-case-name: tests.virt.test_fake -*-
"""
The virt driver interface: what the compute manager asks of a hypervisor.

A driver knows guests by name (the instance name built from
C{--instance_name_template}, such as C{instance-0000002a}) and nothing of
Nova's database: the compute manager hands it an L{InstanceSpec}.  Every
method returns a L{Deferred}; the failures are those of
L{nova.virt.errors}.
"""

import base64
import ipaddress
import json
import os
import re

import attr
from zope.interface import Interface

from nova.virt.errors import VirtError


#: The counters of one disk, and of one network card, in
#: L{IVirtDriver.getDiagnostics}.
DISK_COUNTERS = ("read_bytes", "read_requests", "write_bytes", "write_requests", "errors")
INTERFACE_COUNTERS = (
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_drop",
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_drop",
)


#: The kinds of L{VolumeConnection}.
VOLUME_CONNECTION_TYPES = ("file", "iscsi")

_CONNECTION_IQN = re.compile(r"^[A-Za-z0-9.:_-]{1,223}$")
_CONNECTION_PORTAL = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[0-9.]+):(?P<port>[0-9]{1,5})$")
_LEGACY_ISCSI_PATH = re.compile(
    r"^/dev/disk/by-path/ip-(?P<portal>\S+:[0-9]+)-iscsi-(?P<iqn>\S+)-lun-(?P<lun>[0-9]+)$"
)
_ISCSI_URL = re.compile(r"^iscsi://(?P<portal>[^/\s]+)/(?P<iqn>[^/\s]+)/(?P<lun>[0-9]+)$")


def _connectionError(message):
    return VirtError(f"bad volume connection: {message}")


@attr.s(frozen=True)
class VolumeConnection:
    """
    How a compute host reaches a volume: the one shape of the export
    every volume driver makes, that the volume API hands to compute's
    C{attachVolume} and that every virt driver attaches.  As JSON (a
    volume's C{export_info}, the C{connection} argument of the RPC) it is
    one of::

        {"type": "file", "path": "/var/lib/nova/volumes/volume-0000000a",
         "format": "raw"}
        {"type": "iscsi", "portal": "10.0.0.2:3260",
         "iqn": "iqn.2010-10.org.openstack:volume-0000000a", "lun": 1}

    A C{file} connection is a path on the compute host (a file, or a
    block device such as C{/dev/nova-volumes/volume-0000000a}) in C{raw}
    or C{qcow2} format.  An C{iscsi} connection is a logical unit of a
    target, which the hypervisor reaches with its own initiator (QEMU's
    C{iscsi://} block driver under libvirt), so the compute host needs
    no kernel initiator.

    @ivar type: C{file} or C{iscsi}.
    @ivar path: the file or block device (C{file}).
    @ivar format: C{raw} or C{qcow2} (C{file}; C{iscsi} is always raw).
    @ivar portal: C{address:port} of the target's portal (C{iscsi}).
    @ivar iqn: the target's iSCSI qualified name (C{iscsi}).
    @ivar lun: the logical unit number (C{iscsi}).
    """

    type = attr.ib()
    path = attr.ib(default=None)
    format = attr.ib(default="raw")
    portal = attr.ib(default=None)
    iqn = attr.ib(default=None)
    lun = attr.ib(default=None)

    def __attrs_post_init__(self):
        if self.type not in VOLUME_CONNECTION_TYPES:
            raise _connectionError(f"type {self.type!r} is not one of {VOLUME_CONNECTION_TYPES}")
        if self.format not in ("raw", "qcow2"):
            raise _connectionError(f"format {self.format!r} is not raw or qcow2")
        if self.type == "file":
            if not isinstance(self.path, str) or not os.path.isabs(self.path) or "\0" in self.path:
                raise _connectionError(f"path {self.path!r} is not an absolute path")
            return
        if not isinstance(self.portal, str):
            raise _connectionError(f"portal {self.portal!r} is not address:port")
        match = _CONNECTION_PORTAL.match(self.portal)
        try:
            ipaddress.ip_address(match.group("host").strip("[]") if match else "")
        except ValueError:
            raise _connectionError(f"portal {self.portal!r} is not address:port")
        if not 0 < int(match.group("port")) < 65536:
            raise _connectionError(f"portal {self.portal!r} has a bad port")
        if not isinstance(self.iqn, str) or not _CONNECTION_IQN.match(self.iqn):
            raise _connectionError(f"{self.iqn!r} is not an iSCSI qualified name")
        if isinstance(self.lun, bool) or not isinstance(self.lun, int) or not 0 <= self.lun < 16384:
            raise _connectionError(f"lun {self.lun!r} is not a logical unit number")
        if self.format != "raw":
            raise _connectionError("an iSCSI logical unit is raw")

    @classmethod
    def fromDict(cls, value):
        """
        Read a connection from its JSON form.  The keys of earlier
        releases' exports (C{devicePath}, C{targetPortal}, C{targetIqn},
        C{targetLun}, and the C{fake} type) are read too.

        @raise nova.virt.errors.VirtError: for anything that is not a
            connection.
        """
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise _connectionError(f"{value!r} is not a mapping")
        kind = value.get("type")
        if kind == "iscsi":
            return cls(
                "iscsi",
                portal=value.get("portal", value.get("targetPortal")),
                iqn=value.get("iqn", value.get("targetIqn")),
                lun=value.get("lun", value.get("targetLun")),
            )
        if kind in ("file", "fake"):
            return cls(
                "file",
                path=value.get("path", value.get("devicePath")),
                format=value.get("format") or "raw",
            )
        raise _connectionError(f"type {kind!r} is not one of {VOLUME_CONNECTION_TYPES}")

    @classmethod
    def fromPath(cls, devicePath, volumeFormat="raw"):
        """
        Read a connection given as one string: C{iscsi://<portal>/<iqn>/<lun>},
        the path the kernel initiator gives a logical unit
        (C{/dev/disk/by-path/ip-<portal>-iscsi-<iqn>-lun-<n>}), or any
        other absolute path (a C{file} connection of C{volumeFormat}).

        @raise nova.virt.errors.VirtError: for anything else.
        """
        if not isinstance(devicePath, str):
            raise _connectionError(f"{devicePath!r} is not a device path")
        match = _ISCSI_URL.match(devicePath) or _LEGACY_ISCSI_PATH.match(devicePath)
        if match is not None:
            portal = match.group("portal")
            if ":" not in portal.rsplit("]", 1)[-1]:
                portal += ":3260"
            return cls("iscsi", portal=portal, iqn=match.group("iqn"), lun=int(match.group("lun")))
        return cls("file", path=devicePath, format=volumeFormat)

    @classmethod
    def coerce(cls, value):
        """
        @param value: a L{VolumeConnection}, its JSON form, or a path
            (see L{fromPath}).
        @return: a L{VolumeConnection}.
        @raise nova.virt.errors.VirtError: for anything else.
        """
        if isinstance(value, str):
            return cls.fromPath(value)
        return cls.fromDict(value)

    def toDict(self):
        """
        @return: the JSON form.
        """
        if self.type == "file":
            return {"type": "file", "path": self.path, "format": self.format}
        return {"type": "iscsi", "portal": self.portal, "iqn": self.iqn, "lun": self.lun}

    @property
    def url(self):
        """
        The connection as one string: the path of a C{file} connection,
        C{iscsi://<portal>/<iqn>/<lun>} for a logical unit.
        """
        if self.type == "file":
            return self.path
        return f"iscsi://{self.portal}/{self.iqn}/{self.lun}"


@attr.s(frozen=True)
class InstanceSpec:
    """
    What a driver needs to build a guest.

    @ivar name: the guest's name on the hypervisor.
    @ivar uuid: the instance's UUID.
    @ivar vcpus: virtual CPUs.
    @ivar memoryMb: memory in MiB.
    @ivar localGb: size of the local (ephemeral) disk in GiB; 0 for none.
    @ivar imageId: the machine image (C{ami-...}), or C{None}.
    @ivar kernelId: the kernel image (C{aki-...}), or C{None}.
    @ivar ramdiskId: the ramdisk image (C{ari-...}), or C{None}.
    @ivar macAddress: the MAC address of the guest's network interface.
    @ivar keyData: the public key to inject, or C{None}.
    @ivar keyName: the name of that key pair, or C{None}.
    @ivar hostname: the guest's host name, or C{None}.
    @ivar displayName: the instance's display name, or C{None}.
    @ivar userData: the user data (base64 text, as the EC2 API keeps
        it), or C{None}.
    @ivar launchIndex: its index in its reservation.
    @ivar reservationId: its reservation (C{r-...}), or C{None}.
    @ivar availabilityZone: its availability zone, or C{None}.
    @ivar ec2Id: its EC2 id (C{i-...}), or C{None}.
    @ivar instanceType: its instance type's name, or C{None}.
    @ivar userId: its owner, or C{None}: images are fetched as that user.
    @ivar projectId: its project, or C{None}.
    @ivar configDrive: whether it asked for a config drive.
    @ivar personality: the files to hand the guest on its config drive,
        a L{tuple} of C{(path, contents)} (L{str}, L{bytes}).
    """

    name = attr.ib()
    uuid = attr.ib(default=None)
    vcpus = attr.ib(default=1)
    memoryMb = attr.ib(default=512)
    localGb = attr.ib(default=0)
    imageId = attr.ib(default=None)
    kernelId = attr.ib(default=None)
    ramdiskId = attr.ib(default=None)
    macAddress = attr.ib(default=None)
    keyData = attr.ib(default=None)
    keyName = attr.ib(default=None)
    hostname = attr.ib(default=None)
    displayName = attr.ib(default=None)
    userData = attr.ib(default=None, repr=False)
    launchIndex = attr.ib(default=0)
    reservationId = attr.ib(default=None)
    availabilityZone = attr.ib(default=None)
    ec2Id = attr.ib(default=None)
    instanceType = attr.ib(default=None)
    userId = attr.ib(default=None)
    projectId = attr.ib(default=None)
    configDrive = attr.ib(default=False)
    personality = attr.ib(default=(), repr=False)

    @classmethod
    def fromRecord(cls, name, record):
        """
        @param name: the guest's name.
        @param record: a L{nova.db.records.InstanceRecord}.
        @return: the L{InstanceSpec} of that instance.
        """
        return cls(
            name=name,
            uuid=record.uuid,
            vcpus=record.vcpus,
            memoryMb=record.memory_mb,
            localGb=record.local_gb,
            imageId=record.image_id,
            kernelId=record.kernel_id,
            ramdiskId=record.ramdisk_id,
            macAddress=record.mac_address,
            keyData=record.key_data,
            keyName=record.key_name,
            hostname=record.hostname,
            displayName=record.display_name,
            userData=record.user_data,
            launchIndex=record.launch_index or 0,
            reservationId=record.reservation_id,
            availabilityZone=record.availability_zone,
            ec2Id=record.ec2Id,
            instanceType=record.instance_type,
            userId=record.user_id,
            projectId=record.project_id,
            configDrive=bool(record.config_drive),
            personality=_personalityFiles(record.personality),
        )


def _personalityFiles(stored):
    """
    @param stored: an instance's C{personality}: JSON text of C{path} and
        base64 C{contents}, or L{None}.
    @return: a L{tuple} of C{(path, contents)}, the contents decoded.
    """
    if not stored:
        return ()
    return tuple(
        (item["path"], base64.b64decode(item["contents"])) for item in json.loads(stored)
    )


class IVirtDriver(Interface):
    """
    Runs guests on one host.

    Power states are those of L{nova.virt.power}.  Unless said otherwise a
    method fails with L{nova.virt.errors.GuestNotFound} when the named guest
    does not exist, with L{nova.virt.errors.GuestStateError} when its power
    state does not allow the operation, and with
    L{nova.virt.errors.VirtError} for anything else the hypervisor refuses.
    """

    def initHost(host):
        """
        Prepare the hypervisor connection for this host; called once when
        nova-compute starts, before any other method.

        @param host: this host's name.
        @return: L{Deferred} firing with C{None}.
        """

    def listInstances():
        """
        @return: L{Deferred} firing with a L{list} of the names (L{str}) of
            every guest defined on this host, running or not.
        """

    def spawn(instance, networkInfo=None, blockDevices=()):
        """
        Create and boot a guest.  When the Deferred fires the guest exists
        and its power state is C{RUNNING}; when it fails nothing of the
        guest is left behind.

        @param instance: an L{InstanceSpec}.
        @param networkInfo: a L{dict} describing the guest's network
            (C{address}, C{bridge}, C{netmask}, C{gateway}, C{dns} ...), or
            C{None}.
        @param blockDevices: a sequence of C{(connection, mountpoint)} to
            attach at boot (a connection as L{attachVolume} takes it).
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.GuestExists} if a guest of that name exists.
        """

    def destroy(instanceName):
        """
        Stop the guest at once and remove it and its disks.

        @return: L{Deferred} firing with C{None}.
        """

    def reboot(instanceName):
        """
        Restart a running guest.

        @return: L{Deferred} firing with C{None} when the guest runs again.
        """

    def powerOff(instanceName):
        """
        Stop a guest, keeping it defined (power state C{SHUTOFF}).  Powering
        off a guest that is off already succeeds.

        @return: L{Deferred} firing with C{None}.
        """

    def powerOn(instanceName):
        """
        Boot a guest that is off.  Powering on a running guest succeeds.

        @return: L{Deferred} firing with C{None} once it runs.
        """

    def updateGuest(instance):
        """
        Make a guest that is off match the spec's vCPUs, memory, kernel
        and ramdisk before it is powered on (the compute manager calls it
        on every start, with the instance's current record).  A guest that
        already matches is left as it is, whatever its power state; one
        that differs and is not off (running, paused, suspended) is
        refused with L{nova.virt.errors.GuestStateError} and left as it
        is.  Its disks are not touched: the root disk keeps its size and
        the ephemeral disk the size it was made with, whatever the spec's
        C{localGb}; its image, network card and volumes stay too.

        @param instance: an L{InstanceSpec} naming the guest.
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.GuestNotFound} if there is no such guest,
            L{nova.virt.errors.GuestStateError} as said, or
            L{nova.virt.errors.VirtError} (such as an image that cannot be
            fetched), leaving the guest's definition as it was.
        """

    def resize(instance):
        """
        Give a guest the spec's vCPUs and memory, keeping its old
        definition and a copy of its root disk aside until
        L{confirmResize} drops them or L{revertResize} restores them.  A
        running guest is shut down for the change and boots again with the
        new resources; one that is off stays off.  Its disks, image,
        kernel, network card and volumes are not otherwise changed.

        @param instance: an L{InstanceSpec} naming the guest.
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.GuestNotFound}, or
            L{nova.virt.errors.GuestStateError} for a guest that is
            paused, suspended or rescued, or already awaits the
            confirmation of a resize (it is left as it was).
        """

    def confirmResize(instanceName):
        """
        Drop what L{resize} kept aside: the guest keeps its new resources.

        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.GuestStateError} if no resize awaits
            confirmation.
        """

    def revertResize(instanceName):
        """
        Give the guest back the definition and root disk L{resize} kept
        aside (changes written to the disk since are lost).  A guest that
        runs is shut down and boots again as it was; one that is off stays
        off.

        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.GuestStateError} if no resize awaits
            confirmation.
        """

    def rebuild(instance, networkInfo=None):
        """
        Replace a guest with a new one of the same name, made from the
        spec (its image, kernel and ramdisk, a new empty ephemeral disk)
        as L{spawn} makes it: the root disk starts afresh from the image;
        the guest keeps its name, UUID and MAC address.  When the Deferred
        fires the guest runs.

        @param instance: an L{InstanceSpec} naming an existing guest.
        @param networkInfo: as for L{spawn}.
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.GuestNotFound} if there is no such guest,
            or L{nova.virt.errors.GuestStateError} for a rescued guest or
            one that awaits the confirmation of a resize.
        """

    def rescue(instance):
        """
        Boot a rescue system in a guest's place: the spec's image (and its
        kernel and ramdisk) becomes the first disk and the guest's own root
        disk the second, so that it can be repaired from outside; the
        guest's definition is kept aside for L{unrescue}.  The guest keeps
        its name, UUID and network card, and runs (power state C{RUNNING})
        when the Deferred fires.

        @param instance: an L{InstanceSpec} naming the guest, whose
            C{imageId}, C{kernelId} and C{ramdiskId} are those of the
            rescue system.
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.GuestNotFound},
            L{nova.virt.errors.GuestStateError} for a guest that is
            paused, suspended, rescued already, or awaits the confirmation
            of a resize, or L{nova.virt.errors.VirtError} (the guest is
            then restored as it was).
        """

    def unrescue(instanceName):
        """
        Stop the rescue system and boot the guest from its own definition
        and disks again.

        @return: L{Deferred} firing with C{None} once it runs; failing
            with L{nova.virt.errors.GuestStateError} if it is not rescued.
        """

    def pause(instanceName):
        """
        Freeze a running guest in memory (power state C{PAUSED}).

        @return: L{Deferred} firing with C{None}.
        """

    def unpause(instanceName):
        """
        Let a paused guest run again.

        @return: L{Deferred} firing with C{None}.
        """

    def suspend(instanceName):
        """
        Save a running guest's memory to disk and stop it (power state
        C{SUSPENDED}).

        @return: L{Deferred} firing with C{None}.
        """

    def resume(instanceName):
        """
        Restore a suspended guest.

        @return: L{Deferred} firing with C{None} once it runs.
        """

    def snapshot(instanceName, destinationPath, live=False):
        """
        Write a copy of the guest's root disk to C{destinationPath}: one
        self-contained file (no backing file), as a machine image is.  The
        guest ends in the power state it had: a running guest may be
        stopped for the copy (its memory saved) and is then restored; a
        paused, suspended or stopped one is copied as it is.

        @param destinationPath: the file to write; its directory must
            exist.  It is written whole or not at all.
        @param live: copy a running guest's disk while it runs on (EC2's
            C{NoReboot}): nothing stops it, and the copy may catch its
            file systems mid-write.
        @return: L{Deferred} firing with a L{dict}: C{format} (C{qcow2} or
            C{raw}) and C{size} (bytes of the file); failing with
            L{nova.virt.errors.GuestNotFound}, or
            L{nova.virt.errors.VirtError} for a guest without a root disk
            (one booted from its kernel alone) or a copy that failed.
        """

    def getInfo(instanceName):
        """
        @return: L{Deferred} firing with a L{dict}: C{state} (a power
            state), C{memory_mb}, C{vcpus} and C{cpu_time} (nanoseconds of
            CPU used).
        """

    def getDiagnostics(instanceName):
        """
        What an administrator looks at when a guest misbehaves: its
        counters as the hypervisor keeps them.

        @return: L{Deferred} firing with a L{dict} (JSON-safe):
            C{state} (a power state), C{cpu_time} (nanoseconds of CPU
            used), C{vcpus}, C{memory_mb} (its memory size), C{memory}
            (L{dict} of memory figures in KiB the hypervisor gives, such
            as C{actual}, C{rss}, C{available}, C{unused}; possibly
            empty), C{disks} (L{dict} from the guest's device name, such as
            C{vda}, to a L{dict} of C{read_bytes}, C{read_requests},
            C{write_bytes}, C{write_requests} and C{errors}) and
            C{interfaces} (L{dict} from the card's MAC address, lower
            case, to a L{dict} of C{rx_bytes}, C{rx_packets},
            C{rx_errors}, C{rx_drop}, C{tx_bytes}, C{tx_packets},
            C{tx_errors} and C{tx_drop}).  Counters are L{int}s, or
            C{None} where the hypervisor does not count that.  A guest
            that is not executing (off or suspended) has no C{memory},
            C{disks} or C{interfaces} figures: those are empty.
        """

    def getConsoleOutput(instanceName):
        """
        @return: L{Deferred} firing with the text the guest wrote to its
            serial console (L{str}; possibly empty).
        """

    def getVncConsole(instanceName):
        """
        Where the guest's graphical console is served.

        @return: L{Deferred} firing with a L{dict}: C{host} (the address
            of this host its VNC server listens on), C{port} (L{int}) and
            C{password} (L{str}, or C{None} for none); failing with
            L{nova.virt.errors.ConsoleUnavailable} when the guest has no
            VNC server (the driver offers none, or the guest is not
            running).
        """

    def attachVolume(instanceName, connection, mountpoint):
        """
        Attach a volume to the guest as C{mountpoint} (such as
        C{/dev/vdb}).

        @param connection: a L{VolumeConnection}, its JSON form, or a path
            on this host (read with L{VolumeConnection.fromPath}).
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.VirtError} for a bad connection,
            L{nova.virt.errors.DeviceInUse} if the guest already uses that
            mount point.
        """

    def detachVolume(instanceName, mountpoint):
        """
        Detach the device the guest has at C{mountpoint}.

        @return: L{Deferred} firing with C{None}; failing with
            L{nova.virt.errors.DeviceNotFound} if there is none.
        """

    def getHostStats():
        """
        @return: L{Deferred} firing with a L{dict} of the host's capacity
            and use: C{vcpus}, C{memory_mb}, C{local_gb} (totals),
            C{vcpus_used}, C{memory_mb_used}, C{local_gb_used} and
            C{hypervisor_type} (L{str}).
        """
