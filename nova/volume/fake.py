# -*- test-case-name: tests.volume.test_drivers -*-
"""
The fake volume driver: volumes, snapshots and exports live in
L{dict}s.  It is selectable in production (C{--volume_driver=fake}) and is
what the tests of the volume manager and API run on.
"""

from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from nova.volume.errors import VolumeBackendError, VolumeBusy
from nova.volume.interfaces import IVolumeDriver

GIB = 1 << 30


@implementer(IVolumeDriver)
class FakeVolumeDriver:
    """
    An L{IVolumeDriver} in memory, as strict as the real ones: a volume
    or snapshot made twice, a snapshot of a missing volume, an export of
    a missing volume, or the deletion of a volume with snapshots fail.

    Tests read the state and make calls fail with C{failNext} (the next
    call of any method) or L{failOn} (the next call of one method).

    @ivar volumes: name -> size in GiB.
    @ivar snapshots: name -> C{(volume name, size)}.
    @ivar exports: volume name -> export L{dict} (an iSCSI connection
        with no target behind it).
    @ivar calls: every call, as C{(method name, arguments...)}.
    @ivar capacityGb: the total capacity L{getStats} reports.
    """

    name = "fake"

    def __init__(self, capacityGb=1000):
        self.capacityGb = capacityGb
        self.volumes = {}
        self.snapshots = {}
        self.exports = {}
        self.calls = []
        self.failNext = None
        self.failures = {}

    @classmethod
    def fromConfig(cls, config, reactor=None):
        """
        @return: a L{FakeVolumeDriver} (it has no flags).
        """
        return cls()

    def failOn(self, method, error):
        """
        Make the next call of C{method} fail with C{error}.
        """
        self.failures[method] = error

    def _run(self, method, action, *args):
        self.calls.append((method,) + args)
        error = None
        if self.failNext is not None:
            error, self.failNext = self.failNext, None
        else:
            error = self.failures.pop(method, None)
        if error is not None:
            return fail(error)
        try:
            return succeed(action(*args))
        except VolumeBackendError as e:
            return fail(e)

    def _location(self, name):
        return f"fake://{name}"

    def checkForSetupError(self):
        return self._run("checkForSetupError", lambda: None)

    def createVolume(self, volume):
        def action(volume):
            if volume.name in self.volumes:
                raise VolumeBackendError(f"volume {volume.name} exists")
            self.volumes[volume.name] = volume.size
            return self._location(volume.name)

        return self._run("createVolume", action, volume)

    def deleteVolume(self, volume):
        def action(volume):
            dependents = sorted(
                name for name, (origin, _) in self.snapshots.items() if origin == volume.name
            )
            if dependents and volume.name in self.volumes:
                raise VolumeBusy(f"volume {volume.name} has snapshots {', '.join(dependents)}")
            self.volumes.pop(volume.name, None)

        return self._run("deleteVolume", action, volume)

    def createSnapshot(self, snapshot, volume):
        def action(snapshot, volume):
            if volume.name not in self.volumes:
                raise VolumeBackendError(f"no volume {volume.name}")
            if snapshot.name in self.snapshots:
                raise VolumeBackendError(f"snapshot {snapshot.name} exists")
            self.snapshots[snapshot.name] = (volume.name, volume.size)
            return self._location(snapshot.name)

        return self._run("createSnapshot", action, snapshot, volume)

    def deleteSnapshot(self, snapshot):
        def action(snapshot):
            self.snapshots.pop(snapshot.name, None)

        return self._run("deleteSnapshot", action, snapshot)

    def createVolumeFromSnapshot(self, volume, snapshot):
        def action(volume, snapshot):
            if snapshot.name not in self.snapshots:
                raise VolumeBackendError(f"no snapshot {snapshot.name}")
            if volume.name in self.volumes:
                raise VolumeBackendError(f"volume {volume.name} exists")
            if volume.size < snapshot.size:
                raise VolumeBackendError(
                    f"volume {volume.name} ({volume.size} GiB) is smaller than "
                    f"snapshot {snapshot.name} ({snapshot.size} GiB)"
                )
            self.volumes[volume.name] = volume.size
            return self._location(volume.name)

        return self._run("createVolumeFromSnapshot", action, volume, snapshot)

    def exportVolume(self, volume):
        def action(volume):
            if volume.name not in self.volumes:
                raise VolumeBackendError(f"no volume {volume.name}")
            export = {
                "type": "iscsi",
                "portal": "127.0.0.1:3260",
                "iqn": f"iqn.2010-10.org.openstack:{volume.name}",
                "lun": 1,
            }
            self.exports[volume.name] = export
            return dict(export)

        return self._run("exportVolume", action, volume)

    def removeExport(self, volume):
        def action(volume):
            self.exports.pop(volume.name, None)

        return self._run("removeExport", action, volume)

    def getStats(self):
        def action():
            used = sum(self.volumes.values()) + sum(s for _, s in self.snapshots.values())
            return {
                "driver": self.name,
                "total_gb": float(self.capacityGb),
                "free_gb": float(max(0, self.capacityGb - used)),
            }

        return self._run("getStats", action)
