# -*- test-case-name: tests.volume.test_manager -*-
"""
The volume manager: makes, exports and removes the volumes and snapshots
of this host through an L{IVolumeDriver}, and keeps their rows true to
what the back-end holds.

The API (or the scheduler) has already written the row in the status of
the request (C{creating} or C{deleting}); the manager does the work on
this host and moves the row on: a new volume to C{available} with its
export, a deleted one out of the table, or to C{error} with the reason
in C{status_description}.  A volume whose export cannot be made is
removed again before it goes to C{error}, so nothing half-made stays on
the host.  Requests for one volume (or snapshot) run one at a time.

RPC (topic C{volume.<host>}):

  - C{createVolume(volumeId)}: cast by the scheduler (or by the API, for
    a volume made from a snapshot, to the snapshot's host);
  - C{deleteVolume(volumeId)}, C{createSnapshot(snapshotId)},
    C{deleteSnapshot(snapshotId)}: cast by the API;
  - C{getStats()}: called; the driver's capacity.

Attaching and detaching are bookkeeping of the API (L{nova.volume.api})
and work of the compute host: the export made here is what the compute
host is given.
"""

from twisted.internet.defer import DeferredLock, inlineCallbacks
from twisted.logger import Logger

from nova.db import volumes as v
from nova.db.volumes import SnapshotNotFound, VolumeNotFound, encodeExportInfo
from nova.drivers import loadDriver
from nova.manager import Manager, expose
from nova.volume.errors import VolumeBackendError, VolumeBusy
from nova.volume.flags import VOLUME_DRIVERS
from nova.volume.interfaces import IVolumeDriver, SnapshotSpec, VolumeSpec
from nova.volume.names import Namer, ec2SnapshotId, ec2VolumeId


def volumeDriverFromConfig(config, reactor):
    """
    @return: the L{IVolumeDriver} C{--volume_driver} names, built over
        C{reactor} (its thread pool and process spawning).
    @raise nova.config.ConfigError: for an unknown or broken driver.
    """
    return loadDriver(IVolumeDriver, VOLUME_DRIVERS, config.volume_driver, config, reactor=reactor)


def _reason(prefix, error):
    return f"{prefix}: {error}"[:255]


class VolumeManager(Manager):
    """
    Makes and removes volumes and snapshots on this host.

    @ivar driver: the L{IVolumeDriver}.
    @ivar volumeNamer: names volumes (C{--volume_name_template}).
    @ivar snapshotNamer: names snapshots (C{--snapshot_name_template}).
    """

    log = Logger()

    def __init__(self, config, db, rpc, clock, driver=None):
        """
        @param clock: the reactor (in production), also used to build the
            default driver.
        @param driver: an L{IVolumeDriver}; by default the one
            C{--volume_driver} names.
        @raise nova.config.ConfigError: for an unknown driver or a bad
            name template.
        """
        Manager.__init__(self, config, db, rpc, clock)
        self.volumeNamer = Namer("volume_name_template", config.volume_name_template)
        self.snapshotNamer = Namer("snapshot_name_template", config.snapshot_name_template)
        if driver is None:
            driver = volumeDriverFromConfig(config, clock)
        self.driver = driver
        self.zone = config.node_availability_zone
        self._locks = {}

    # -- helpers ---------------------------------------------------------

    def volumeSpec(self, volume):
        """
        @param volume: a L{nova.db.volumes.VolumeRecord}.
        @return: the L{VolumeSpec} the driver gets.
        """
        return VolumeSpec(volume.id, self.volumeNamer.name(volume.id), volume.size)

    def snapshotSpec(self, snapshot):
        """
        @param snapshot: a L{nova.db.volumes.SnapshotRecord}.
        @return: the L{SnapshotSpec} the driver gets.
        """
        return SnapshotSpec(
            snapshot.id,
            self.snapshotNamer.name(snapshot.id),
            self.volumeNamer.name(snapshot.volume_id),
            snapshot.volume_size,
        )

    def _locked(self, key, fn, *args):
        """
        Run C{fn(*args)} once no other request for C{key} runs.
        """
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = DeferredLock()
        d = lock.run(fn, *args)

        def forget(result):
            if not lock.locked and not lock.waiting:
                self._locks.pop(key, None)
            return result

        return d.addBoth(forget)

    @inlineCallbacks
    def _volumeError(self, volumeId, fromStatuses, reason):
        self.log.warn("volume {id} failed: {reason}", id=ec2VolumeId(volumeId), reason=reason)
        try:
            yield self.db.volumes.transition(
                volumeId, fromStatuses, v.ERROR, status_description=reason[:255]
            )
        except (v.IncorrectVolumeState, VolumeNotFound):
            pass

    @inlineCallbacks
    def _snapshotError(self, snapshotId, fromStatuses, reason):
        self.log.warn(
            "snapshot {id} failed: {reason}", id=ec2SnapshotId(snapshotId), reason=reason
        )
        try:
            yield self.db.volumes.transitionSnapshot(
                snapshotId, fromStatuses, v.ERROR, status_description=reason[:255]
            )
        except (v.IncorrectSnapshotState, SnapshotNotFound):
            pass

    @inlineCallbacks
    def _undo(self, what, d):
        """
        Wait for C{d}, an undo step of a failed operation: its own failure
        is logged, never raised over the original one.
        """
        try:
            yield d
        except Exception as e:
            self.log.error("could not {what}: {error}", what=what, error=e)

    # -- volumes ---------------------------------------------------------

    @expose
    def createVolume(self, context, volumeId):
        """
        Make the C{creating} volume C{volumeId} on this host and export
        it: it becomes C{available}, or C{error} with nothing left on the
        host.  A volume in any other status, or claimed by another host,
        is left alone.

        @return: L{Deferred} firing with C{None}; failing with the reason
            the volume went to C{error}.
        """
        return self._locked(("volume", volumeId), self._createVolume, volumeId)

    @inlineCallbacks
    def _createVolume(self, volumeId):
        try:
            volume = yield self.db.volumes.get(volumeId)
        except VolumeNotFound:
            self.log.info("not creating {id}: it is gone", id=ec2VolumeId(volumeId))
            return None
        if volume.status != v.CREATING or volume.host not in (None, self.host):
            self.log.info(
                "not creating {id}: it is {status} on {host}",
                id=volume.ec2Id, status=volume.status, host=volume.host,
            )
            return None
        volume = yield self.db.volumes.transition(
            volumeId, {v.CREATING}, v.CREATING, host=self.host, availability_zone=self.zone
        )
        spec = self.volumeSpec(volume)
        try:
            if volume.snapshot_id is not None:
                snapshot = yield self.db.volumes.getSnapshot(volume.snapshot_id)
                if snapshot.status != v.AVAILABLE or snapshot.host != self.host:
                    raise VolumeBackendError(
                        f"snapshot {snapshot.ec2Id} is {snapshot.status} on {snapshot.host}, "
                        f"not available on {self.host}"
                    )
                location = yield self.driver.createVolumeFromSnapshot(
                    spec, self.snapshotSpec(snapshot)
                )
            else:
                location = yield self.driver.createVolume(spec)
        except Exception as e:
            yield self._volumeError(volumeId, {v.CREATING}, _reason("creation failed", e))
            raise
        try:
            export = yield self.driver.exportVolume(spec)
        except Exception as e:
            yield self._undo(f"remove {spec.name}", self.driver.deleteVolume(spec))
            yield self._volumeError(volumeId, {v.CREATING}, _reason("export failed", e))
            raise
        yield self.db.volumes.transition(
            volumeId,
            {v.CREATING},
            v.AVAILABLE,
            provider_location=location,
            export_info=encodeExportInfo(export),
            status_description=None,
        )
        self.log.info("volume {id} ({size} GiB) is available", id=volume.ec2Id, size=volume.size)
        return None

    @expose
    def deleteVolume(self, context, volumeId):
        """
        Remove the export and the data of the C{deleting} volume
        C{volumeId}, then its row.  If the back-end cannot remove it now
        (L{VolumeBusy}), it is exported again and goes back to
        C{available}, with the reason in C{status_description}.

        @return: L{Deferred} firing with C{None}; failing with the reason
            the volume went to C{error}.
        """
        return self._locked(("volume", volumeId), self._deleteVolume, volumeId)

    @inlineCallbacks
    def _deleteVolume(self, volumeId):
        try:
            volume = yield self.db.volumes.get(volumeId)
        except VolumeNotFound:
            return None
        if volume.status != v.DELETING or volume.host != self.host:
            self.log.info(
                "not deleting {id}: it is {status} on {host}",
                id=volume.ec2Id, status=volume.status, host=volume.host,
            )
            return None
        spec = self.volumeSpec(volume)
        try:
            yield self.driver.removeExport(spec)
            yield self.driver.deleteVolume(spec)
        except VolumeBusy as e:
            self.log.info("volume {id} stays: {reason}", id=volume.ec2Id, reason=e)
            try:
                export = yield self.driver.exportVolume(spec)
            except Exception as e2:
                yield self._volumeError(volumeId, {v.DELETING}, _reason("export failed", e2))
                raise
            yield self.db.volumes.transition(
                volumeId,
                {v.DELETING},
                v.AVAILABLE,
                export_info=encodeExportInfo(export),
                status_description=str(e)[:255],
            )
            return None
        except Exception as e:
            yield self._volumeError(volumeId, {v.DELETING}, _reason("deletion failed", e))
            raise
        yield self.db.volumes.delete(volumeId)
        self.log.info("volume {id} deleted", id=volume.ec2Id)
        return None

    # -- snapshots -------------------------------------------------------

    @expose
    def createSnapshot(self, context, snapshotId):
        """
        Take the C{creating} snapshot C{snapshotId} of its volume: it
        becomes C{available}, or C{error}.

        @return: L{Deferred} firing with C{None}; failing with the reason
            the snapshot went to C{error}.
        """
        return self._createSnapshotLocked(snapshotId)

    @inlineCallbacks
    def _createSnapshotLocked(self, snapshotId):
        try:
            snapshot = yield self.db.volumes.getSnapshot(snapshotId)
        except SnapshotNotFound:
            return None
        result = yield self._locked(
            ("volume", snapshot.volume_id), self._createSnapshot, snapshotId
        )
        return result

    @inlineCallbacks
    def _createSnapshot(self, snapshotId):
        try:
            snapshot = yield self.db.volumes.getSnapshot(snapshotId)
        except SnapshotNotFound:
            return None
        if snapshot.status != v.CREATING or snapshot.host != self.host:
            self.log.info(
                "not taking {id}: it is {status} on {host}",
                id=snapshot.ec2Id, status=snapshot.status, host=snapshot.host,
            )
            return None
        try:
            volume = yield self.db.volumes.get(snapshot.volume_id)
            if volume.host != self.host:
                raise VolumeBackendError(f"volume {volume.ec2Id} is on {volume.host}")
            location = yield self.driver.createSnapshot(
                self.snapshotSpec(snapshot), self.volumeSpec(volume)
            )
        except Exception as e:
            yield self._snapshotError(snapshotId, {v.CREATING}, _reason("snapshot failed", e))
            raise
        yield self.db.volumes.transitionSnapshot(
            snapshotId, {v.CREATING}, v.AVAILABLE, provider_location=location,
            status_description=None,
        )
        self.log.info("snapshot {id} of {volume} is available", id=snapshot.ec2Id, volume=volume.ec2Id)
        return None

    @expose
    def deleteSnapshot(self, context, snapshotId):
        """
        Remove the C{deleting} snapshot C{snapshotId} and its row.

        @return: L{Deferred} firing with C{None}; failing with the reason
            the snapshot went to C{error}.
        """
        return self._locked(("snapshot", snapshotId), self._deleteSnapshot, snapshotId)

    @inlineCallbacks
    def _deleteSnapshot(self, snapshotId):
        try:
            snapshot = yield self.db.volumes.getSnapshot(snapshotId)
        except SnapshotNotFound:
            return None
        if snapshot.status != v.DELETING or snapshot.host != self.host:
            self.log.info(
                "not deleting {id}: it is {status} on {host}",
                id=snapshot.ec2Id, status=snapshot.status, host=snapshot.host,
            )
            return None
        try:
            yield self.driver.deleteSnapshot(self.snapshotSpec(snapshot))
        except Exception as e:
            yield self._snapshotError(snapshotId, {v.DELETING}, _reason("deletion failed", e))
            raise
        yield self.db.volumes.deleteSnapshot(snapshotId)
        self.log.info("snapshot {id} deleted", id=snapshot.ec2Id)
        return None

    # -- host ------------------------------------------------------------

    @expose
    def getStats(self, context):
        """
        @return: L{Deferred} firing with the driver's statistics
            (C{driver}, C{total_gb}, C{free_gb}) and C{host}.
        """
        d = self.driver.getStats()
        return d.addCallback(lambda stats: dict(stats, host=self.host))

    @inlineCallbacks
    def initHost(self):
        """
        Check the back-end, then settle what a restart interrupted:
        volumes and snapshots this host was making go to C{error}, those
        it was deleting are deleted, and every volume it holds is exported
        again (tgtd forgets its targets when it restarts).
        """
        yield self.driver.checkForSetupError()
        yield self.reconcile()

    @inlineCallbacks
    def reconcile(self):
        """
        The work of L{initHost} after the back-end check.

        @return: L{Deferred} firing with C{None}; failures of single
            volumes are logged.
        """
        volumes = yield self.db.volumes.list(host=self.host)
        for volume in volumes:
            if volume.status == v.CREATING:
                yield self._volumeError(
                    volume.id, {v.CREATING}, "nova-volume restarted while creating it"
                )
            elif volume.status == v.DELETING:
                yield self._undo(
                    f"delete {volume.ec2Id} again", self.deleteVolume(None, volume.id)
                )
            elif volume.status in (v.AVAILABLE, v.ATTACHING, v.IN_USE, v.DETACHING):
                yield self._undo(f"export {volume.ec2Id} again", self._reexport(volume))
        snapshots = yield self.db.volumes.listSnapshots(host=self.host)
        for snapshot in snapshots:
            if snapshot.status == v.CREATING:
                yield self._snapshotError(
                    snapshot.id, {v.CREATING}, "nova-volume restarted while taking it"
                )
            elif snapshot.status == v.DELETING:
                yield self._undo(
                    f"delete {snapshot.ec2Id} again", self.deleteSnapshot(None, snapshot.id)
                )

    @inlineCallbacks
    def _reexport(self, volume):
        export = yield self.driver.exportVolume(self.volumeSpec(volume))
        if export != volume.exportInfo:
            yield self.db.volumes.update(volume.id, export_info=encodeExportInfo(export))
