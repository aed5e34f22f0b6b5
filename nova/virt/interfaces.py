# -*- test-case-name: tests.virt.test_fake -*-
"""
The virt driver interface: what the compute manager asks of a hypervisor.

A driver knows guests by name (the instance name built from
C{--instance_name_template}, such as C{instance-0000002a}) and nothing of
Nova's database: the compute manager hands it an L{InstanceSpec}.  Every
method returns a L{Deferred}; the failures are those of
L{nova.virt.errors}.
"""

import attr
from zope.interface import Interface


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
        @param blockDevices: a sequence of C{(devicePath, mountpoint)} to
            attach at boot.
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

    def snapshot(instanceName, destinationPath):
        """
        Write a copy of the guest's root disk to C{destinationPath}: one
        self-contained file (no backing file), as a machine image is.  The
        guest ends in the power state it had: a running guest may be
        stopped for the copy (its memory saved) and is then restored; a
        paused, suspended or stopped one is copied as it is.

        @param destinationPath: the file to write; its directory must
            exist.  It is written whole or not at all.
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

    def attachVolume(instanceName, devicePath, mountpoint):
        """
        Attach the block device at C{devicePath} on this host to the guest
        as C{mountpoint} (such as C{/dev/vdb}).

        @return: L{Deferred} firing with C{None}; failing with
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
