# -*- test-case-name: tests.volume.test_lvm -*-
"""
The LVM volume driver: each volume is a logical volume of
C{--volume_group}, exported to compute hosts as an iSCSI target of the
userspace target daemon tgt (C{tgtd}), administered with C{tgtadm}.

Every command is an argv list run through an injected
L{nova.util.process.IProcessRunner} (prefixed by C{--volume_root_helper}
when nova-volume does not run as root); every name that reaches a command
line (volume group, logical volume, iSCSI qualified name, portal address)
is checked first.

  - a volume: C{lvcreate -L <n>G -n <name> <group>}; removed with
    C{lvremove -f <group>/<name>}, after being overwritten with zeros
    (C{--volume_clear=zero}) so that the next volume made from the same
    extents does not show its data;
  - a snapshot: C{lvcreate -L <n>G --snapshot -n <snapshot> <group>/<volume>},
    a copy-on-write snapshot as large as its volume (so it never fills
    up).  An origin with snapshots cannot be removed: deleting such a
    volume fails with L{VolumeBusy} and changes nothing;
  - a volume from a snapshot: a new logical volume, then C{dd} of the
    snapshot's data into it;
  - an export: target id = the volume's numeric id, IQN =
    C{--iscsi_target_prefix} + the volume's name, LUN 1 backed by the
    logical volume, open to every initiator address (C{ALL}).  Exports are
    checked against C{tgtadm --op show} first, so exporting again (after a
    restart of tgtd, which forgets its targets) is harmless.
"""

import ipaddress
import re

from twisted.internet.defer import inlineCallbacks
from twisted.logger import Logger
from zope.interface import implementer

from nova.config import ConfigError
from nova.util.process import ProcessError, ReactorProcessRunner, runChecked
from nova.volume.errors import VolumeBackendError, VolumeBusy
from nova.volume.interfaces import IVolumeDriver
from nova.volume.names import checkName

#: A volume group name LVM accepts (and that no command can take for an
#: option): letters, digits and C{+_.-}, not starting with C{-}.
VOLUME_GROUP = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$")

#: An iSCSI qualified name (RFC 3720, the C{iqn.} form).
IQN = re.compile(r"^iqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9][a-z0-9.-]*(:[A-Za-z0-9.:_-]+)?$")

_TARGET_LINE = re.compile(r"^Target (\d+): (\S+)\s*$")

#: The logical unit number of a volume in its target (LUN 0 is the
#: target's controller).
LUN = 1


def _checkVolumeGroup(name):
    if not isinstance(name, str) or not VOLUME_GROUP.match(name) or name in (".", ".."):
        raise ValueError(f"unsafe volume group name {name!r}")
    return name


class TgtExporter:
    """
    Exports volumes as iSCSI targets of tgtd, through C{tgtadm}: target id
    = the volume's numeric id, IQN = the prefix + the volume's name, LUN 1
    backed by a block device or file, open to every initiator address.
    It serves the LVM driver and the file driver with
    C{--volume_export=iscsi}.

    @ivar portal: C{address:port} of this host's iSCSI portal.
    @ivar targetPrefix: the IQN prefix.
    """

    log = Logger()

    def __init__(
        self,
        runner,
        iscsiAddress="127.0.0.1",
        iscsiPort=3260,
        targetPrefix="iqn.2010-10.org.openstack:",
        rootHelper=(),
        commandTimeout=120.0,
    ):
        """
        @raise ValueError: for a portal address that is not an IP address,
            a port out of range, or a target prefix that does not make
            IQNs.
        """
        self.runner = runner
        address = ipaddress.ip_address(iscsiAddress)
        if not 0 < int(iscsiPort) < 65536:
            raise ValueError(f"bad iSCSI port {iscsiPort!r}")
        host = f"[{address}]" if address.version == 6 else str(address)
        self.portal = f"{host}:{int(iscsiPort)}"
        if not IQN.match(targetPrefix + "volume-00000001"):
            raise ValueError(f"iSCSI target prefix {targetPrefix!r} does not make valid IQNs")
        self.targetPrefix = targetPrefix
        self.rootHelper = tuple(rootHelper)
        self.commandTimeout = commandTimeout

    @classmethod
    def fromConfig(cls, config, runner):
        """
        @return: a L{TgtExporter} over the C{--iscsi_*} flags and
            C{--volume_root_helper}.
        @raise ValueError: for a flag value it refuses.
        """
        return cls(
            runner,
            iscsiAddress=config.iscsi_ip_address,
            iscsiPort=config.iscsi_port,
            targetPrefix=config.iscsi_target_prefix,
            rootHelper=config.volume_root_helper,
            commandTimeout=config.volume_command_timeout,
        )

    def iqn(self, name):
        """
        @return: the iSCSI qualified name of volume C{name}'s target.
        """
        return self.targetPrefix + checkName(name)

    @inlineCallbacks
    def _run(self, *argv):
        try:
            out, err = yield runChecked(
                self.runner, self.rootHelper + argv, timeout=self.commandTimeout
            )
        except ProcessError as e:
            raise VolumeBackendError(str(e)) from e
        return out.decode("utf-8", "replace")

    @inlineCallbacks
    def targets(self):
        """
        @return: L{Deferred} firing with a L{dict} from target id to IQN of
            tgtd's targets.
        """
        out = yield self._run("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show")
        targets = {}
        for line in out.splitlines():
            match = _TARGET_LINE.match(line)
            if match:
                targets[int(match.group(1))] = match.group(2)
        return targets

    @inlineCallbacks
    def check(self):
        """
        @return: L{Deferred} failing with L{VolumeBackendError} if tgtd
            does not answer.
        """
        try:
            yield self.targets()
        except VolumeBackendError as e:
            raise VolumeBackendError(f"the iSCSI target daemon (tgtd) does not answer: {e}")

    def connection(self, volume):
        """
        @return: the export of C{volume}: an iSCSI volume connection
            (L{nova.virt.interfaces.VolumeConnection}).
        """
        return {"type": "iscsi", "portal": self.portal, "iqn": self.iqn(volume.name), "lun": LUN}

    @inlineCallbacks
    def export(self, volume, backingStore):
        """
        Export C{backingStore} (a block device or file) as C{volume}'s
        target, unless tgtd exports it already.

        @return: L{Deferred} firing with the export; failing with
            L{VolumeBackendError}, no target left behind.
        """
        tid, iqn = str(volume.id), self.iqn(volume.name)
        targets = yield self.targets()
        existing = targets.get(volume.id)
        if existing == iqn:
            return self.connection(volume)
        if existing is not None:
            raise VolumeBackendError(
                f"iSCSI target {tid} is {existing}, not {iqn}: cannot export {volume.name}"
            )
        yield self._run(
            "tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "new",
            "--tid", tid, "--targetname", iqn,
        )
        try:
            yield self._run(
                "tgtadm", "--lld", "iscsi", "--mode", "logicalunit", "--op", "new",
                "--tid", tid, "--lun", str(LUN), "--backing-store", backingStore,
            )
            yield self._run(
                "tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "bind",
                "--tid", tid, "--initiator-address", "ALL",
            )
        except VolumeBackendError:
            try:
                yield self._run(
                    "tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete",
                    "--force", "--tid", tid,
                )
            except VolumeBackendError as e:
                self.log.warn(
                    "could not remove the half-made iSCSI target {tid}: {error}", tid=tid, error=e
                )
            raise
        return self.connection(volume)

    @inlineCallbacks
    def remove(self, volume):
        """
        Remove C{volume}'s target; one that does not exist is not an
        error.

        @return: L{Deferred} firing with C{None}.
        """
        tid, iqn = str(volume.id), self.iqn(volume.name)
        targets = yield self.targets()
        existing = targets.get(volume.id)
        if existing is None:
            return None
        if existing != iqn:
            raise VolumeBackendError(
                f"iSCSI target {tid} is {existing}, not {iqn}: not removing it"
            )
        yield self._run(
            "tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete",
            "--force", "--tid", tid,
        )
        return None


@implementer(IVolumeDriver)
class LVMVolumeDriver:
    """
    Volumes as LVM logical volumes, exported over iSCSI with tgt.

    @ivar runner: the L{nova.util.process.IProcessRunner}.
    @ivar volumeGroup: the volume group.
    @ivar portal: C{address:port} of this host's iSCSI portal.
    @ivar targetPrefix: the IQN prefix.
    @ivar rootHelper: the argv put before every command.
    @ivar clear: C{zero} or C{none}.
    """

    name = "lvm"
    log = Logger()

    def __init__(
        self,
        runner,
        volumeGroup,
        iscsiAddress="127.0.0.1",
        iscsiPort=3260,
        targetPrefix="iqn.2010-10.org.openstack:",
        rootHelper=(),
        clear="zero",
        commandTimeout=120.0,
    ):
        """
        @raise ValueError: for an unsafe volume group, a portal address
            that is not an IP address, a port out of range, or a target
            prefix that does not make IQNs.
        """
        self.runner = runner
        self.volumeGroup = _checkVolumeGroup(volumeGroup)
        self.tgt = TgtExporter(
            runner, iscsiAddress, iscsiPort, targetPrefix, rootHelper, commandTimeout
        )
        self.portal = self.tgt.portal
        self.targetPrefix = targetPrefix
        self.rootHelper = tuple(rootHelper)
        if clear not in ("zero", "none"):
            raise ValueError(f"volume clear mode {clear!r} is not zero or none")
        self.clear = clear
        self.commandTimeout = commandTimeout

    @classmethod
    def fromConfig(cls, config, reactor):
        """
        @return: an L{LVMVolumeDriver} over C{--volume_group}, the
            C{--iscsi_*} flags, C{--volume_root_helper} and
            C{--volume_clear}, running commands with a
            L{ReactorProcessRunner}.
        @raise nova.config.ConfigError: for a flag value the driver
            refuses.
        """
        runner = ReactorProcessRunner(reactor, timeout=config.volume_command_timeout)
        try:
            return cls(
                runner,
                config.volume_group,
                iscsiAddress=config.iscsi_ip_address,
                iscsiPort=config.iscsi_port,
                targetPrefix=config.iscsi_target_prefix,
                rootHelper=config.volume_root_helper,
                clear=config.volume_clear,
                commandTimeout=config.volume_command_timeout,
            )
        except ValueError as e:
            raise ConfigError(f"lvm volume driver: {e}")

    # -- helpers ---------------------------------------------------------

    def devicePath(self, name):
        """
        @return: the block device of logical volume C{name}.
        """
        return f"/dev/{self.volumeGroup}/{checkName(name)}"

    def iqn(self, name):
        """
        @return: the iSCSI qualified name of volume C{name}'s target.
        """
        return self.tgt.iqn(name)

    @inlineCallbacks
    def _run(self, *argv, timeout=None):
        """
        Run a command that must succeed.

        @return: L{Deferred} firing with its standard output (L{str});
            failing with L{VolumeBackendError}.
        """
        try:
            out, err = yield runChecked(
                self.runner,
                self.rootHelper + argv,
                timeout=self.commandTimeout if timeout is None else timeout,
            )
        except ProcessError as e:
            raise VolumeBackendError(str(e)) from e
        return out.decode("utf-8", "replace")

    def _copyTimeout(self, sizeGb):
        return self.commandTimeout + 60.0 * sizeGb

    @inlineCallbacks
    def _logicalVolumes(self):
        """
        @return: L{Deferred} firing with a L{dict} from each logical volume
            of the group to its origin (C{""} for one that is not a
            snapshot).
        """
        out = yield self._run(
            "lvs", "--noheadings", "--separator", ":", "-o", "lv_name,origin", self.volumeGroup
        )
        volumes = {}
        for line in out.splitlines():
            line = line.strip()
            if not line:
                continue
            name, _, origin = line.partition(":")
            volumes[name.strip()] = origin.strip()
        return volumes

    def _targets(self):
        return self.tgt.targets()

    def _zero(self, name, sizeGb):
        return self._run(
            "dd",
            "if=/dev/zero",
            f"of={self.devicePath(name)}",
            "bs=1M",
            f"count={sizeGb * 1024}",
            "oflag=direct",
            timeout=self._copyTimeout(sizeGb),
        )

    @inlineCallbacks
    def _cleanUp(self, what, *argv):
        """
        Run a command that undoes part of a failed operation; its own
        failure is logged, and the original failure is what the caller
        sees.
        """
        try:
            yield self._run(*argv)
        except VolumeBackendError as e:
            self.log.warn("could not {what}: {error}", what=what, error=e)

    # -- IVolumeDriver ---------------------------------------------------

    @inlineCallbacks
    def checkForSetupError(self):
        try:
            yield self._run("vgs", "--noheadings", "-o", "vg_name", self.volumeGroup)
        except VolumeBackendError as e:
            raise VolumeBackendError(f"volume group {self.volumeGroup} is not usable: {e}")
        yield self.tgt.check()

    @inlineCallbacks
    def createVolume(self, volume):
        yield self._run(
            "lvcreate", "-L", f"{volume.size}G", "-n", checkName(volume.name), self.volumeGroup
        )
        return self.devicePath(volume.name)

    @inlineCallbacks
    def deleteVolume(self, volume):
        volumes = yield self._logicalVolumes()
        if volume.name not in volumes:
            return None
        dependents = sorted(name for name, origin in volumes.items() if origin == volume.name)
        if dependents:
            raise VolumeBusy(
                f"logical volume {volume.name} has snapshots ({', '.join(dependents)}); "
                "delete them first"
            )
        if self.clear == "zero":
            yield self._zero(volume.name, volume.size)
        yield self._run("lvremove", "-f", f"{self.volumeGroup}/{volume.name}")
        return None

    @inlineCallbacks
    def createSnapshot(self, snapshot, volume):
        yield self._run(
            "lvcreate",
            "-L",
            f"{volume.size}G",
            "--snapshot",
            "-n",
            checkName(snapshot.name),
            f"{self.volumeGroup}/{checkName(volume.name)}",
        )
        return self.devicePath(snapshot.name)

    @inlineCallbacks
    def deleteSnapshot(self, snapshot):
        volumes = yield self._logicalVolumes()
        if snapshot.name not in volumes:
            return None
        if self.clear == "zero":
            yield self._zero(snapshot.name, snapshot.size)
        yield self._run("lvremove", "-f", f"{self.volumeGroup}/{snapshot.name}")
        return None

    @inlineCallbacks
    def createVolumeFromSnapshot(self, volume, snapshot):
        if volume.size < snapshot.size:
            raise VolumeBackendError(
                f"volume {volume.name} ({volume.size} GiB) is smaller than snapshot "
                f"{snapshot.name} ({snapshot.size} GiB)"
            )
        location = yield self.createVolume(volume)
        try:
            yield self._run(
                "dd",
                f"if={self.devicePath(snapshot.name)}",
                f"of={location}",
                "bs=1M",
                f"count={snapshot.size * 1024}",
                "oflag=direct",
                timeout=self._copyTimeout(snapshot.size),
            )
        except VolumeBackendError:
            yield self._cleanUp(
                f"remove {volume.name} after a failed copy",
                "lvremove", "-f", f"{self.volumeGroup}/{volume.name}",
            )
            raise
        return location

    def exportVolume(self, volume):
        return self.tgt.export(volume, self.devicePath(volume.name))

    def removeExport(self, volume):
        return self.tgt.remove(volume)

    @inlineCallbacks
    def getStats(self):
        out = yield self._run(
            "vgs", "--noheadings", "--nosuffix", "--units", "g", "--separator", ":",
            "-o", "vg_size,vg_free", self.volumeGroup,
        )
        try:
            size, free = (float(x) for x in out.strip().split(":"))
        except ValueError:
            raise VolumeBackendError(f"cannot read the size of {self.volumeGroup}: {out!r}")
        return {"driver": self.name, "total_gb": size, "free_gb": free}
