# -*- test-case-name: tests.virt.test_fake -*-
"""
The fake virt driver: guests live in a L{dict}, with honest power states
and a console that tells what happened to them.  It is the embedded
default (C{--connection_type=fake}) and what the tests of the compute
manager run on.
"""

import os

import attr
from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from nova.virt import errors, power
from nova.virt.interfaces import (
    DISK_COUNTERS,
    INTERFACE_COUNTERS,
    IVirtDriver,
    VolumeConnection,
)


@attr.s
class FakeGuest:
    """
    One guest of a L{FakeVirtDriver}.

    @ivar spec: the L{nova.virt.interfaces.InstanceSpec} it was spawned
        from, with the vCPUs, memory, kernel and ramdisk of the last
        L{FakeVirtDriver.updateGuest}.
    @ivar state: its power state.
    @ivar networkInfo: the network description given to C{spawn}.
    @ivar volumes: a L{dict} from mount point to the attached volume's
        L{nova.virt.interfaces.VolumeConnection.url} (its path, or
        C{iscsi://<portal>/<iqn>/<lun>}).
    @ivar console: the lines written to its console so far.
    @ivar boots: how many times it booted.
    @ivar resizedFrom: the spec it had before a resize that awaits
        confirmation, or C{None}.
    @ivar rescuedSpec: while it is rescued, the spec of the rescue system
        (the guest's own is C{spec}); C{None} otherwise.
    """

    spec = attr.ib()
    state = attr.ib(default=power.NOSTATE)
    networkInfo = attr.ib(default=None)
    volumes = attr.ib(factory=dict)
    console = attr.ib(factory=list)
    boots = attr.ib(default=0)
    cpuTime = attr.ib(default=0)
    resizedFrom = attr.ib(default=None)
    rescuedSpec = attr.ib(default=None)


@implementer(IVirtDriver)
class FakeVirtDriver:
    """
    An L{IVirtDriver} in memory.

    Tests read C{guests} and C{calls} and make the next call fail by
    setting C{failNext} to an exception (any method), or with L{failOn}
    (one method).

    @ivar guests: a L{dict} from name to L{FakeGuest}.
    @ivar calls: every call as C{(method name, arguments...)}.
    @ivar failNext: an exception the next call fails with, or C{None}.
    @ivar failures: a L{dict} from method name to the exception its next
        call fails with.
    @ivar host: the host name given to L{initHost}, or C{None}.
    @ivar snapshotsTaken: C{(name, live)} of each L{snapshot} asked for.
    """

    hypervisorType = "fake"

    def __init__(self, vcpus=16, memoryMb=32768, localGb=1024):
        self.vcpus = vcpus
        self.memoryMb = memoryMb
        self.localGb = localGb
        self.guests = {}
        self.calls = []
        self.failNext = None
        self.failures = {}
        self.host = None
        self.snapshotsTaken = []

    @classmethod
    def fromConfig(cls, config):
        """
        @return: a L{FakeVirtDriver} (it has no flags).
        """
        return cls()

    def failOn(self, method, error):
        """
        Make the next call of C{method} fail with C{error}.
        """
        self.failures[method] = error

    def _enter(self, method, *args):
        """
        Record a call and consume an injected failure.

        @return: the exception to fail with, or C{None}.
        """
        self.calls.append((method,) + args)
        if self.failNext is not None:
            error, self.failNext = self.failNext, None
            return error
        return self.failures.pop(method, None)

    def _guest(self, name):
        guest = self.guests.get(name)
        if guest is None:
            raise errors.GuestNotFound(f"no guest named {name}")
        return guest

    def _run(self, method, action, *args):
        error = self._enter(method, *args)
        if error is not None:
            return fail(error)
        try:
            return succeed(action(*args))
        except errors.VirtError as e:
            return fail(e)

    def _say(self, guest, line):
        guest.console.append(line)

    def _boot(self, guest):
        guest.boots += 1
        guest.state = power.RUNNING
        spec = guest.rescuedSpec or guest.spec
        self._say(guest, f"[    0.000000] Linux version 6.1.0-fake (nova@fake) boot {guest.boots}")
        self._say(
            guest,
            f"[    0.000000] Memory: {spec.memoryMb * 1024}K available, {spec.vcpus} CPU(s)",
        )
        if guest.networkInfo and guest.networkInfo.get("address"):
            self._say(guest, f"eth0: leased {guest.networkInfo['address']}")
        self._say(guest, f"{spec.name} login: ")

    def initHost(self, host):
        def action(host):
            self.host = host

        return self._run("initHost", action, host)

    def listInstances(self):
        return self._run("listInstances", lambda: sorted(self.guests))

    def spawn(self, instance, networkInfo=None, blockDevices=()):
        def action(instance, networkInfo, blockDevices):
            if instance.name in self.guests:
                raise errors.GuestExists(f"guest {instance.name} exists")
            guest = FakeGuest(spec=instance, networkInfo=networkInfo)
            for connection, mountpoint in blockDevices:
                guest.volumes[mountpoint] = VolumeConnection.coerce(connection).url
            self.guests[instance.name] = guest
            self._boot(guest)

        return self._run("spawn", action, instance, networkInfo, tuple(blockDevices))

    def destroy(self, instanceName):
        def action(name):
            self._guest(name)
            del self.guests[name]

        return self._run("destroy", action, instanceName)

    def reboot(self, instanceName):
        def action(name):
            guest = self._guest(name)
            if guest.state not in power.ACTIVE:
                raise errors.GuestStateError(
                    f"cannot reboot {name}: it is {power.name(guest.state)}"
                )
            self._say(guest, "reboot: Restarting system")
            self._boot(guest)

        return self._run("reboot", action, instanceName)

    def powerOff(self, instanceName):
        def action(name):
            guest = self._guest(name)
            if guest.state in power.OFF:
                return
            if guest.state == power.SUSPENDED:
                raise errors.GuestStateError(f"cannot power off {name}: it is suspended")
            self._say(guest, "reboot: Power down")
            guest.state = power.SHUTOFF

        return self._run("powerOff", action, instanceName)

    def powerOn(self, instanceName):
        def action(name):
            guest = self._guest(name)
            if guest.state in power.ACTIVE:
                return
            if guest.state not in power.OFF:
                raise errors.GuestStateError(
                    f"cannot power on {name}: it is {power.name(guest.state)}"
                )
            self._boot(guest)

        return self._run("powerOn", action, instanceName)

    def updateGuest(self, instance):
        def action(instance):
            name = instance.name
            guest = self._guest(name)
            spec = attr.evolve(
                guest.spec,
                vcpus=instance.vcpus,
                memoryMb=instance.memoryMb,
                kernelId=instance.kernelId,
                ramdiskId=instance.ramdiskId,
            )
            if spec == guest.spec:
                return
            if guest.state not in power.OFF:
                raise errors.GuestStateError(
                    f"cannot update {name}: it is {power.name(guest.state)}"
                )
            guest.spec = spec

        return self._run("updateGuest", action, instance)

    def _settledGuest(self, method, name):
        """
        @return: the guest C{name}, if it is neither rescued nor awaits
            the confirmation of a resize.
        @raise errors.GuestStateError: otherwise.
        """
        guest = self._guest(name)
        if guest.rescuedSpec is not None:
            raise errors.GuestStateError(f"cannot {method} {name}: it is rescued")
        if guest.resizedFrom is not None:
            raise errors.GuestStateError(
                f"cannot {method} {name}: its resize awaits confirmation"
            )
        return guest

    def resize(self, instance):
        def action(instance):
            name = instance.name
            guest = self._settledGuest("resize", name)
            if guest.state not in power.ACTIVE | power.OFF:
                raise errors.GuestStateError(
                    f"cannot resize {name}: it is {power.name(guest.state)}"
                )
            wasRunning = guest.state in power.ACTIVE
            guest.resizedFrom = guest.spec
            guest.spec = attr.evolve(guest.spec, vcpus=instance.vcpus, memoryMb=instance.memoryMb)
            if wasRunning:
                self._say(guest, "reboot: Power down")
                guest.state = power.SHUTOFF
                self._boot(guest)

        return self._run("resize", action, instance)

    def _resized(self, method, name):
        guest = self._guest(name)
        if guest.resizedFrom is None:
            raise errors.GuestStateError(f"cannot {method} {name}: no resize awaits confirmation")
        return guest

    def confirmResize(self, instanceName):
        def action(name):
            self._resized("confirm the resize of", name).resizedFrom = None

        return self._run("confirmResize", action, instanceName)

    def revertResize(self, instanceName):
        def action(name):
            guest = self._resized("revert the resize of", name)
            guest.spec, guest.resizedFrom = guest.resizedFrom, None
            if guest.state in power.ACTIVE:
                self._say(guest, "reboot: Power down")
                guest.state = power.SHUTOFF
                self._boot(guest)

        return self._run("revertResize", action, instanceName)

    def rebuild(self, instance, networkInfo=None):
        def action(instance, networkInfo):
            old = self._settledGuest("rebuild", instance.name)
            guest = FakeGuest(
                spec=instance,
                networkInfo=networkInfo,
                console=old.console,
                cpuTime=old.cpuTime,
            )
            self._say(guest, f"rebuilt from {instance.imageId}")
            self.guests[instance.name] = guest
            self._boot(guest)

        return self._run("rebuild", action, instance, networkInfo)

    def rescue(self, instance):
        def action(instance):
            name = instance.name
            guest = self._settledGuest("rescue", name)
            if guest.state not in power.ACTIVE | power.OFF:
                raise errors.GuestStateError(
                    f"cannot rescue {name}: it is {power.name(guest.state)}"
                )
            guest.rescuedSpec = attr.evolve(
                guest.spec,
                imageId=instance.imageId,
                kernelId=instance.kernelId,
                ramdiskId=instance.ramdiskId,
            )
            self._say(guest, f"rescue: booting {instance.imageId}, own disk at vdb")
            self._boot(guest)

        return self._run("rescue", action, instance)

    def unrescue(self, instanceName):
        def action(name):
            guest = self._guest(name)
            if guest.rescuedSpec is None:
                raise errors.GuestStateError(f"cannot unrescue {name}: it is not rescued")
            guest.rescuedSpec = None
            self._say(guest, "rescue: done")
            self._boot(guest)

        return self._run("unrescue", action, instanceName)

    def _change(self, method, name, fromStates, toState, line):
        def action(name):
            guest = self._guest(name)
            if guest.state not in fromStates:
                raise errors.GuestStateError(
                    f"cannot {method} {name}: it is {power.name(guest.state)}"
                )
            self._say(guest, line)
            guest.state = toState

        return self._run(method, action, name)

    def pause(self, instanceName):
        return self._change("pause", instanceName, power.ACTIVE, power.PAUSED, "paused")

    def unpause(self, instanceName):
        return self._change(
            "unpause", instanceName, {power.PAUSED}, power.RUNNING, "unpaused"
        )

    def suspend(self, instanceName):
        return self._change(
            "suspend", instanceName, power.ACTIVE, power.SUSPENDED, "PM: suspend to disk"
        )

    def resume(self, instanceName):
        return self._change(
            "resume", instanceName, {power.SUSPENDED}, power.RUNNING, "PM: resumed from disk"
        )

    def diskOf(self, name):
        """
        @return: the bytes of the fake root disk of the guest C{name}: what
            L{snapshot} writes.
        @raise errors.GuestNotFound: if there is no such guest.
        """
        guest = self._guest(name)
        return f"FAKE DISK {name} image={guest.spec.imageId} boots={guest.boots}\n".encode()

    def snapshot(self, instanceName, destinationPath, live=False):
        """
        Write the guest's fake root disk (L{diskOf}), a raw file.  Unlike
        the rest of the fake this touches the file system, in the calling
        thread: the file is tiny.  A fake guest has nothing to stop, so
        C{live} changes nothing but is recorded (L{snapshotsTaken}).
        """
        self.snapshotsTaken.append((instanceName, bool(live)))

        def action(name, destinationPath):
            data = self.diskOf(name)
            temporary = destinationPath + ".part"
            try:
                with open(temporary, "wb") as f:
                    f.write(data)
                os.replace(temporary, destinationPath)
            except OSError as e:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise errors.VirtError(f"cannot write {destinationPath}: {e.strerror or e}")
            return {"format": "raw", "size": len(data)}

        return self._run("snapshot", action, instanceName, destinationPath)

    def getInfo(self, instanceName):
        def action(name):
            guest = self._guest(name)
            return {
                "state": guest.state,
                "memory_mb": guest.spec.memoryMb,
                "vcpus": guest.spec.vcpus,
                "cpu_time": guest.cpuTime,
            }

        return self._run("getInfo", action, instanceName)

    def getDiagnostics(self, instanceName):
        """
        The fake's guests do no I/O: their disks (C{vda} for an image,
        C{vdb} for local storage, and their volumes) and their network
        card (by MAC) count zero, as does their CPU time.
        """

        def action(name):
            guest = self._guest(name)
            spec = guest.spec
            diagnostics = {
                "state": guest.state,
                "cpu_time": guest.cpuTime,
                "vcpus": spec.vcpus,
                "memory_mb": spec.memoryMb,
                "memory": {},
                "disks": {},
                "interfaces": {},
            }
            if guest.state not in power.ACTIVE | {power.PAUSED}:
                return diagnostics
            diagnostics["memory"] = {"actual": spec.memoryMb * 1024}
            targets = []
            if spec.imageId:
                targets.append("vda")
            if spec.localGb:
                targets.append("vdb")
            targets.extend(m.rsplit("/", 1)[-1] for m in guest.volumes)
            diagnostics["disks"] = {t: dict.fromkeys(DISK_COUNTERS, 0) for t in targets}
            mac = (guest.networkInfo or {}).get("mac") or spec.macAddress
            if guest.networkInfo and mac:
                diagnostics["interfaces"] = {mac.lower(): dict.fromkeys(INTERFACE_COUNTERS, 0)}
            return diagnostics

        return self._run("getDiagnostics", action, instanceName)

    def getConsoleOutput(self, instanceName):
        def action(name):
            guest = self._guest(name)
            return "".join(line + "\n" for line in guest.console)

        return self._run("getConsoleOutput", action, instanceName)

    def getVncConsole(self, instanceName):
        """
        Fake guests have no VNC server: fails with
        L{errors.ConsoleUnavailable} (or L{errors.GuestNotFound}).
        """

        def action(name):
            self._guest(name)
            raise errors.ConsoleUnavailable(
                f"{name} has no VNC console: the fake driver serves none"
            )

        return self._run("getVncConsole", action, instanceName)

    def attachVolume(self, instanceName, connection, mountpoint):
        def action(name, connection, mountpoint):
            # As strict as the real driver: the connection must be one.
            url = VolumeConnection.coerce(connection).url
            guest = self._guest(name)
            if mountpoint in guest.volumes:
                raise errors.DeviceInUse(f"{name} already has a device at {mountpoint}")
            guest.volumes[mountpoint] = url
            self._say(guest, f"virtio_blk: attached {mountpoint}")

        return self._run("attachVolume", action, instanceName, connection, mountpoint)

    def detachVolume(self, instanceName, mountpoint):
        def action(name, mountpoint):
            guest = self._guest(name)
            if mountpoint not in guest.volumes:
                raise errors.DeviceNotFound(f"{name} has no device at {mountpoint}")
            del guest.volumes[mountpoint]
            self._say(guest, f"virtio_blk: detached {mountpoint}")

        return self._run("detachVolume", action, instanceName, mountpoint)

    def getHostStats(self):
        def action():
            guests = list(self.guests.values())
            return {
                "vcpus": self.vcpus,
                "memory_mb": self.memoryMb,
                "local_gb": self.localGb,
                "vcpus_used": sum(g.spec.vcpus for g in guests),
                "memory_mb_used": sum(g.spec.memoryMb for g in guests),
                "local_gb_used": sum(g.spec.localGb for g in guests),
                "hypervisor_type": self.hypervisorType,
            }

        return self._run("getHostStats", action)
