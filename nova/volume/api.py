# -*- test-case-name: tests.volume.test_api -*-
"""
The volume API that every API (EC2, OpenStack, admin) uses: it checks
what a request may do, writes the database, and casts to the scheduler
and the volume hosts; attaching and detaching it carries out itself, by
calling the compute host of the instance.

Volumes and snapshots are named by their numeric id or their EC2 id
(C{vol-0000000a}, C{snap-0000000a}); every method checks that they belong
to the context's project (admins see all) and answers
L{nova.volume.errors.VolumeNotFound} (EC2: C{InvalidVolume.NotFound}) or
L{nova.volume.errors.SnapshotNotFound} (C{InvalidSnapshot.NotFound}) for
those of other projects.

RPC sent:

  - C{scheduler}: C{createVolume(volumeId, size, availabilityZone)}, which
    picks a volume host and casts C{createVolume(volumeId)} to it;
  - C{volume.<host>}: C{createVolume(volumeId)} (a volume made from a
    snapshot goes straight to the snapshot's host), C{deleteVolume(volumeId)},
    C{createSnapshot(snapshotId)}, C{deleteSnapshot(snapshotId)} (casts);
  - C{compute.<host>}: C{attachVolume(instanceId, mountpoint, connection)}
    and C{detachVolume(instanceId, mountpoint)} (calls).  The connection
    is the volume's export, the JSON form of a
    L{nova.virt.interfaces.VolumeConnection} (a file path, or an iSCSI
    portal, IQN and LUN), the same for every volume driver.
"""

import re

from twisted.internet.defer import DeferredLock, inlineCallbacks, maybeDeferred
from twisted.logger import Logger

from nova import exception
from nova.compute import states
from nova.compute.names import ec2InstanceId, parseInstanceId
from nova.db import volumes as v
from nova.db.instances import IncorrectInstanceState, InstanceNotFound
from nova.db.services import utcnow
from nova.idempotency import checkClientToken, requestHash
from nova.virt.errors import DeviceInUse, DeviceNotFound, VirtError
from nova.virt.interfaces import VolumeConnection
from nova.volume.errors import (
    IdempotentParameterMismatch,
    IncorrectSnapshotState,
    IncorrectVolumeState,
    InvalidAttachmentNotFound,
    InvalidVolumeParameterValue,
    InvalidVolumeZoneMismatch,
    SnapshotInUse,
    SnapshotNotFound,
    VolumeInUse,
    VolumeLimitExceeded,
    VolumeNotFound,
)
from nova.volume.names import ec2SnapshotId, ec2VolumeId, parseSnapshotId, parseVolumeId

#: The largest volume, in GiB (EC2's limit).
MAX_SIZE_GB = 16384

#: The devices a volume may be attached as.
DEVICE = re.compile(r"^/dev/(?:sd|hd|vd|xvd)[a-z]{1,2}$")



def _limit(quota, resource):
    value = quota.get(resource)
    if value is None or value < 0:
        return None
    return value


def parseSize(size):
    """
    @param size: gigabytes, an L{int} or a string of digits.
    @return: the size as an L{int}.
    @raise InvalidVolumeParameterValue: unless it is between 1 and
        L{MAX_SIZE_GB}.
    """
    if isinstance(size, str) and size.strip().isdigit():
        size = int(size.strip())
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE_GB:
        raise InvalidVolumeParameterValue(
            f"Invalid value '{size}' for size: a volume has 1 to {MAX_SIZE_GB} GiB"
        )
    return size


def _thd_abandonVolume(store, db, volume):
    """
    In one transaction: remove a volume that was never sent to a volume
    host, and its tags.
    """
    db.tags.thd_deleteTags(store, [volume.ec2Id], None)
    return db.volumes.thd_delete(store, volume.id)


class VolumeAPI:
    """
    Creates, deletes, attaches and snapshots volumes on behalf of API
    requests.

    @ivar quotas: an object whose C{getQuota(projectId)} returns (or fires
        a L{Deferred} with) a L{dict} of the project's limits, such as
        L{nova.quota.QuotaEngine}; the keys used are C{volumes} and
        C{gigabytes}, a missing key, C{None} or a negative limit meaning
        unlimited.
    """

    log = Logger()
    schedulerTopic = "scheduler"

    def __init__(self, config, db, rpc, clock, quotas):
        self.config = config
        self.db = db
        self.rpc = rpc
        self.clock = clock
        self.quotas = quotas
        self._createLock = DeferredLock()

    # -- lookups ---------------------------------------------------------

    def _visible(self, context, record):
        return context.isAdmin or record.project_id == context.projectId

    @inlineCallbacks
    def getVolume(self, context, volumeId):
        """
        @param volumeId: a numeric or EC2 id.
        @return: L{Deferred} firing with the L{nova.db.volumes.VolumeRecord};
            failing with L{VolumeNotFound} if there is none the context may
            see, or L{nova.volume.errors.InvalidVolumeIDMalformed}.
        """
        number = parseVolumeId(volumeId)
        try:
            volume = yield self.db.volumes.get(number)
        except VolumeNotFound:
            volume = None
        if volume is None or not self._visible(context, volume):
            raise VolumeNotFound(f"The volume '{ec2VolumeId(number)}' does not exist.")
        return volume

    @inlineCallbacks
    def describeVolumes(self, context, volumeIds=None):
        """
        The volumes the context may see: its project's (all, for admins).

        @param volumeIds: numeric or EC2 ids to restrict to; any unknown id
            fails the request.
        @return: L{Deferred} firing with a L{list} of
            L{nova.db.volumes.VolumeRecord} by id; failing with
            L{VolumeNotFound} naming the unknown ids.
        """
        projectId = None if context.isAdmin else context.projectId
        if not volumeIds:
            volumes = yield self.db.volumes.list(projectId=projectId)
            return volumes
        numbers = [parseVolumeId(volumeId) for volumeId in volumeIds]
        volumes = yield self.db.volumes.list(projectId=projectId, volumeIds=numbers)
        missing = sorted(set(numbers) - {volume.id for volume in volumes})
        if missing:
            names = ", ".join(ec2VolumeId(n) for n in missing)
            raise VolumeNotFound(f"The volume '{names}' does not exist.")
        return volumes

    @inlineCallbacks
    def getSnapshot(self, context, snapshotId):
        """
        @param snapshotId: a numeric or EC2 id.
        @return: L{Deferred} firing with the
            L{nova.db.volumes.SnapshotRecord}; failing with
            L{SnapshotNotFound} if there is none the context may see, or
            L{nova.volume.errors.InvalidSnapshotIDMalformed}.
        """
        number = parseSnapshotId(snapshotId)
        try:
            snapshot = yield self.db.volumes.getSnapshot(number)
        except SnapshotNotFound:
            snapshot = None
        if snapshot is None or not self._visible(context, snapshot):
            raise SnapshotNotFound(f"The snapshot '{ec2SnapshotId(number)}' does not exist.")
        return snapshot

    @inlineCallbacks
    def describeSnapshots(self, context, snapshotIds=None):
        """
        The snapshots the context may see.

        @param snapshotIds: numeric or EC2 ids to restrict to; any unknown
            id fails the request.
        @return: L{Deferred} firing with a L{list} of
            L{nova.db.volumes.SnapshotRecord} by id; failing with
            L{SnapshotNotFound} naming the unknown ids.
        """
        projectId = None if context.isAdmin else context.projectId
        if not snapshotIds:
            snapshots = yield self.db.volumes.listSnapshots(projectId=projectId)
            return snapshots
        numbers = [parseSnapshotId(snapshotId) for snapshotId in snapshotIds]
        snapshots = yield self.db.volumes.listSnapshots(projectId=projectId, snapshotIds=numbers)
        missing = sorted(set(numbers) - {snapshot.id for snapshot in snapshots})
        if missing:
            names = ", ".join(ec2SnapshotId(n) for n in missing)
            raise SnapshotNotFound(f"The snapshot '{names}' does not exist.")
        return snapshots

    # -- create and delete -----------------------------------------------

    @inlineCallbacks
    def createVolume(
        self,
        context,
        size=None,
        snapshotId=None,
        availabilityZone=None,
        displayName=None,
        displayDescription=None,
        clientToken=None,
        tags=(),
    ):
        """
        Create a volume, empty or from a snapshot, within the project's
        quotas.  Its tags (C{tags}: C{(key, value)} pairs the API checked)
        are written with it, in one transaction.  The answer comes at once, with the volume C{creating}; a
        volume host makes it.

        @param size: gigabytes (1 to L{MAX_SIZE_GB}); with C{snapshotId},
            by default the snapshot's size, and never less.
        @param snapshotId: a numeric or EC2 snapshot id, or C{None}.
        @param availabilityZone: the zone asked for, or C{None}.
        @param clientToken: an idempotency token (at most 64 ASCII
            characters): the same token in the same project answers with
            the volume the first request made (as it is now), creating
            nothing and counting nothing against the quotas.
        @return: L{Deferred} firing with the new
            L{nova.db.volumes.VolumeRecord}; failing with
            L{VolumeLimitExceeded} when the project has too many volumes or
            gigabytes, L{InvalidVolumeParameterValue} for a bad size or
            token, L{IdempotentParameterMismatch} for a token used before
            with other parameters, L{SnapshotNotFound} or
            L{IncorrectSnapshotState}.
        """
        if context.projectId is None:
            raise exception.NotAuthorized("A volume belongs to a project: the request has none.")
        digest = None
        if clientToken is not None:
            checkClientToken(clientToken, InvalidVolumeParameterValue)
            digest = requestHash(
                size=None if size is None else parseSize(size),
                snapshotId=None if snapshotId is None else parseSnapshotId(snapshotId),
                availabilityZone=availabilityZone,
                displayName=displayName,
                displayDescription=displayDescription,
            )
            volume = yield self._replay(context, clientToken, digest)
            if volume is not None:
                return volume
        snapshot = None
        if snapshotId is not None:
            snapshot = yield self.getSnapshot(context, snapshotId)
            if snapshot.status != v.AVAILABLE:
                raise IncorrectSnapshotState(
                    f"The snapshot '{snapshot.ec2Id}' is {snapshot.ec2Status}, not completed."
                )
            if size is None:
                size = snapshot.volume_size
        if size is None:
            raise InvalidVolumeParameterValue("The request must give a size or a snapshot.")
        size = parseSize(size)
        if snapshot is not None and size < snapshot.volume_size:
            raise InvalidVolumeParameterValue(
                f"Invalid value '{size}' for size: snapshot {snapshot.ec2Id} has "
                f"{snapshot.volume_size} GiB"
            )
        volume, created = yield self._createLock.run(
            self._createWithinQuota,
            context,
            size,
            snapshot,
            availabilityZone,
            displayName,
            displayDescription,
            clientToken,
            digest,
            tuple(tags),
        )
        if not created:
            return volume
        try:
            if snapshot is not None:
                yield self.rpc.cast(
                    context, f"volume.{snapshot.host}", "createVolume", {"volumeId": volume.id}
                )
            else:
                yield self.rpc.cast(
                    context,
                    self.schedulerTopic,
                    "createVolume",
                    {"volumeId": volume.id, "size": size, "availabilityZone": availabilityZone},
                )
        except exception.RPCError as e:
            # Nothing was sent: the request made nothing (a retry with its
            # client token makes the volume anew).  If the row cannot be
            # removed either, it goes to error; failing that, the
            # scheduler's sweep of stuck work puts it there later.
            try:
                yield self.db.transactor.transact(_thd_abandonVolume, self.db, volume)
            except exception.NovaError:
                try:
                    yield self.db.volumes.setError(volume.id, f"could not be scheduled: {e}")
                except exception.NovaError:
                    pass
            raise
        return volume

    @inlineCallbacks
    def _replay(self, context, clientToken, digest):
        """
        @return: L{Deferred} firing with the project's volume made with
            C{clientToken}, or C{None}; failing with
            L{IdempotentParameterMismatch} if it was made with other
            parameters.
        """
        volume = yield self.db.volumes.findByClientToken(context.projectId, clientToken)
        if volume is not None and volume.request_hash != digest:
            raise IdempotentParameterMismatch(
                f"client token {clientToken!r} was used with different parameters"
            )
        return volume

    @inlineCallbacks
    def _createWithinQuota(
        self,
        context,
        size,
        snapshot,
        availabilityZone,
        displayName,
        displayDescription,
        clientToken,
        digest,
        tags=(),
    ):
        """
        @return: L{Deferred} firing with C{(volume, created)}: the volume,
            and whether it is new (else another request with
            C{clientToken} made it).
        """
        projectId = context.projectId
        if clientToken is not None:
            # A request with this token may have been waiting for the lock.
            volume = yield self._replay(context, clientToken, digest)
            if volume is not None:
                return volume, False
        quota = yield maybeDeferred(self.quotas.getQuota, projectId)
        usage = yield self.db.volumes.usageByProject(projectId)
        volumes, gigabytes = _limit(quota, "volumes"), _limit(quota, "gigabytes")
        if volumes is not None and usage["volumes"] + 1 > volumes:
            raise VolumeLimitExceeded(
                f"Quota exceeded for volumes: {usage['volumes']} of {volumes} in use"
            )
        if gigabytes is not None and usage["gigabytes"] + size > gigabytes:
            raise VolumeLimitExceeded(
                f"Quota exceeded for gigabytes: requested {size}, "
                f"{usage['gigabytes']} of {gigabytes} in use"
            )
        try:
            volume = yield self.db.volumes.create(
                projectId,
                context.userId,
                size,
                availabilityZone=availabilityZone,
                snapshotId=None if snapshot is None else snapshot.id,
                displayName=displayName,
                displayDescription=displayDescription,
                host=None if snapshot is None else snapshot.host,
                clientToken=clientToken,
                requestHash=digest,
                tags=tags,
            )
        except exception.DatabaseError:
            if clientToken is None:
                raise
            # Another API server with this token won the race: answer as it.
            volume = yield self._replay(context, clientToken, digest)
            if volume is None:
                raise
            return volume, False
        return volume, True

    @inlineCallbacks
    def updateVolume(self, context, volumeId, displayName=None, displayDescription=None):
        """
        Change a volume's display name and description (Cactus's
        C{UpdateVolume}), whatever its status.  L{None} leaves a field as
        it is.

        @return: L{Deferred} firing with the L{nova.db.volumes.VolumeRecord};
            failing with L{VolumeNotFound} or L{InvalidVolumeParameterValue}
            (a value of more than 255 characters).
        """
        fields = {}
        for value, field in (
            (displayName, "display_name"),
            (displayDescription, "display_description"),
        ):
            if value is None:
                continue
            if not isinstance(value, str) or len(value) > 255:
                raise InvalidVolumeParameterValue(
                    f"The {field.replace('_', ' ')} must be text of at most 255 characters."
                )
            fields[field] = value
        volume = yield self.getVolume(context, volumeId)
        if not fields:
            return volume
        return (yield self.db.volumes.update(volume.id, **fields))

    @inlineCallbacks
    def deleteVolume(self, context, volumeId):
        """
        Delete an available volume (or one in error).  The answer comes at
        once, with the volume C{deleting}; its host removes it.

        @return: L{Deferred} firing with the
            L{nova.db.volumes.VolumeRecord} as it is now; failing with
            L{VolumeInUse} for an attached volume, L{IncorrectVolumeState}
            for one being created, deleted or snapshotted, or
            L{VolumeNotFound}.
        """
        volume = yield self.getVolume(context, volumeId)
        if volume.instance_id is not None or volume.status in v.ATTACHED_STATUSES:
            raise VolumeInUse(
                f"Volume {volume.ec2Id} is currently attached to {volume.instanceEc2Id}"
            )
        if volume.status not in (v.AVAILABLE, v.ERROR):
            raise IncorrectVolumeState(
                f"The volume '{volume.ec2Id}' is {volume.status}; cannot delete it."
            )
        taking = yield self.db.volumes.listSnapshots(volumeId=volume.id, statuses={v.CREATING})
        if taking:
            raise IncorrectVolumeState(
                f"The volume '{volume.ec2Id}' has a snapshot in progress ({taking[0].ec2Id})."
            )
        volume = yield self.db.volumes.transition(
            volume.id, {v.AVAILABLE, v.ERROR}, v.DELETING, action="delete it",
            status_description=None,
        )
        if volume.host is None:
            yield self.db.volumes.delete(volume.id)
            return volume
        yield self.rpc.cast(context, f"volume.{volume.host}", "deleteVolume", {"volumeId": volume.id})
        return volume

    # -- attach and detach -----------------------------------------------

    @inlineCallbacks
    def _getInstance(self, context, instanceId):
        number = parseInstanceId(instanceId)
        try:
            instance = yield self.db.instances.get(number)
        except InstanceNotFound:
            instance = None
        if instance is None or instance.deleted or not self._visible(context, instance):
            raise InstanceNotFound(f"The instance ID '{ec2InstanceId(number)}' does not exist")
        return instance

    @inlineCallbacks
    def attachVolume(self, context, volumeId, instanceId, device):
        """
        Attach an available volume to a running instance of the same
        project as C{device}: the volume goes C{attaching}, the instance's
        compute host attaches its export, and the volume is C{in-use}.  If
        the compute host refuses, the volume is C{available} again (with
        the reason in C{status_description}); if it does not answer, the
        volume goes to C{error} with its attachment kept, since the guest
        may have it (L{detachVolume} clears that).

        @param device: C{/dev/sdX}, C{/dev/vdX}, C{/dev/xvdX} or
            C{/dev/hdX}.
        @return: L{Deferred} firing with the L{nova.db.volumes.VolumeRecord}
            once attached; failing with L{VolumeNotFound},
            L{nova.db.instances.InstanceNotFound}, L{IncorrectVolumeState},
            L{VolumeInUse}, L{IncorrectInstanceState},
            L{InvalidVolumeParameterValue} (a bad device),
            L{nova.volume.errors.VolumeDeviceInUse},
            L{InvalidVolumeZoneMismatch}, or what the compute host failed
            with.
        """
        volume = yield self.getVolume(context, volumeId)
        instance = yield self._getInstance(context, instanceId)
        if not isinstance(device, str) or not DEVICE.match(device):
            raise InvalidVolumeParameterValue(
                f"Invalid value '{device}' for unixDevice: use /dev/sdX, /dev/vdX, "
                "/dev/xvdX or /dev/hdX"
            )
        if volume.status in v.ATTACHED_STATUSES or volume.instance_id is not None:
            raise VolumeInUse(
                f"Volume {volume.ec2Id} is already attached to {volume.instanceEc2Id}"
            )
        if volume.status != v.AVAILABLE:
            raise IncorrectVolumeState(
                f"The volume '{volume.ec2Id}' is {volume.status}, not available."
            )
        if volume.project_id != instance.project_id:
            raise InvalidVolumeParameterValue(
                f"Volume {volume.ec2Id} and instance {instance.ec2Id} belong to different projects"
            )
        if instance.state != states.RUNNING or instance.host is None:
            raise IncorrectInstanceState(
                f"The instance '{instance.ec2Id}' is {instance.state}, not running."
            )
        if (
            volume.availability_zone is not None
            and instance.availability_zone is not None
            and volume.availability_zone != instance.availability_zone
        ):
            raise InvalidVolumeZoneMismatch(
                f"Volume {volume.ec2Id} is in zone {volume.availability_zone}, "
                f"instance {instance.ec2Id} in {instance.availability_zone}"
            )
        try:
            connection = VolumeConnection.fromDict(volume.exportInfo)
        except VirtError as e:
            raise IncorrectVolumeState(f"The volume '{volume.ec2Id}' has no usable export ({e}).")
        volume = yield self.db.volumes.beginAttach(volume.id, instance.id, device)
        args = {"instanceId": instance.id, "mountpoint": device, "connection": connection.toDict()}
        try:
            yield self.rpc.call(context, f"compute.{instance.host}", "attachVolume", args)
        except exception.RPCTimeout as e:
            yield self.db.volumes.transition(
                volume.id, {v.ATTACHING}, v.ERROR,
                status_description=f"no answer from {instance.host} while attaching: {e}"[:255],
            )
            raise
        except Exception as e:
            self.log.info(
                "attaching {volume} to {instance} failed: {error}",
                volume=volume.ec2Id, instance=instance.ec2Id, error=e,
            )
            yield self.db.volumes.transition(
                volume.id, {v.ATTACHING}, v.AVAILABLE,
                status_description=f"attach failed: {e}"[:255],
                **v.DETACHED_FIELDS,
            )
            raise
        volume = yield self.db.volumes.transition(
            volume.id, {v.ATTACHING}, v.IN_USE,
            attach_status=v.ATTACHED, attach_time=utcnow(self.clock),
        )
        return volume

    @inlineCallbacks
    def detachVolume(self, context, volumeId, instanceId=None, device=None, force=False):
        """
        Detach a volume from its instance: the volume goes C{detaching},
        the compute host detaches it (if the instance is running; a guest
        that no longer has the device counts as detached), and the volume
        is C{available}.  A volume in C{error} that kept its attachment is
        detached the same way.

        @param instanceId: if given, the instance the volume must be
            attached to.
        @param device: if given, the device it must be attached as.
        @param force: detach in the database even if the compute host
            fails.
        @return: L{Deferred} firing with the L{nova.db.volumes.VolumeRecord}
            once detached; failing with L{VolumeNotFound},
            L{IncorrectVolumeState} (not attached, or busy),
            L{InvalidAttachmentNotFound}, or what the compute host failed
            with (the volume then stays C{in-use}).
        """
        volume = yield self.getVolume(context, volumeId)
        if volume.instance_id is None or volume.status not in (v.IN_USE, v.ERROR):
            raise IncorrectVolumeState(
                f"Volume '{volume.ec2Id}' is in the '{volume.ec2Status}' state"
                + ("" if volume.instance_id is None else f" ({volume.status})")
                + "; it cannot be detached."
            )
        if instanceId is not None and parseInstanceId(instanceId) != volume.instance_id:
            raise InvalidAttachmentNotFound(
                f"Volume {volume.ec2Id} is not attached to {ec2InstanceId(parseInstanceId(instanceId))}"
            )
        if device is not None and device != volume.mountpoint:
            raise InvalidAttachmentNotFound(
                f"Volume {volume.ec2Id} is not attached as {device}"
            )
        fromStatus, fromAttach = volume.status, volume.attach_status
        volume = yield self.db.volumes.transition(
            volume.id, {fromStatus}, v.DETACHING, action="detach it",
            attach_status=v.ATTACH_DETACHING,
        )
        try:
            instance = yield self.db.instances.get(volume.instance_id)
        except InstanceNotFound:
            instance = None
        running = (
            instance is not None
            and instance.state == states.RUNNING
            and instance.host is not None
        )
        if running:
            try:
                yield self.rpc.call(
                    context,
                    f"compute.{instance.host}",
                    "detachVolume",
                    {"instanceId": instance.id, "mountpoint": volume.mountpoint},
                )
            except DeviceNotFound:
                pass
            except Exception as e:
                if not force:
                    yield self.db.volumes.transition(
                        volume.id, {v.DETACHING}, fromStatus, attach_status=fromAttach,
                    )
                    raise
                self.log.warn(
                    "forced detach of {volume}: the compute host failed: {error}",
                    volume=volume.ec2Id, error=e,
                )
        volume = yield self.db.volumes.transition(
            volume.id, {v.DETACHING}, v.AVAILABLE, status_description=None,
            **v.DETACHED_FIELDS,
        )
        return volume

    @inlineCallbacks
    def reattachVolume(self, context, volumeId):
        """
        Attach an C{in-use} volume to its instance again, as it is
        recorded (mount point and export): for a compute host that
        restarted and whose guests lost their volumes (C{nova-manage
        volume reattach}).  A guest that still has the device is left as
        it is.

        @return: L{Deferred} firing with the L{nova.db.volumes.VolumeRecord};
            failing with L{VolumeNotFound}, L{IncorrectVolumeState} (not
            in use), L{IncorrectInstanceState} (its instance is not
            running), or what the compute host failed with.
        """
        volume = yield self.getVolume(context, volumeId)
        if volume.status != v.IN_USE or volume.instance_id is None:
            raise IncorrectVolumeState(
                f"Volume '{volume.ec2Id}' is {volume.status}, not in-use; there is nothing "
                "to reattach."
            )
        try:
            instance = yield self.db.instances.get(volume.instance_id)
        except InstanceNotFound:
            instance = None
        if instance is None or instance.state != states.RUNNING or instance.host is None:
            raise IncorrectInstanceState(
                f"The instance '{volume.instanceEc2Id}' of volume {volume.ec2Id} is "
                f"{instance.state if instance is not None else 'gone'}, not running."
            )
        try:
            connection = VolumeConnection.fromDict(volume.exportInfo)
        except VirtError as e:
            raise IncorrectVolumeState(f"The volume '{volume.ec2Id}' has no usable export ({e}).")
        try:
            yield self.rpc.call(
                context,
                f"compute.{instance.host}",
                "attachVolume",
                {"instanceId": instance.id, "mountpoint": volume.mountpoint,
                 "connection": connection.toDict()},
            )
        except DeviceInUse:
            self.log.info(
                "{volume} is still attached to {instance}", volume=volume.ec2Id,
                instance=instance.ec2Id,
            )
        return volume

    @inlineCallbacks
    def forceDeleteVolume(self, context, volumeId):
        """
        Delete a volume whatever its status (C{nova-manage volume
        delete}): an attached one is detached first (in the database even
        if its compute host fails), one stuck in another status is put in
        C{error} first, then it is deleted as L{deleteVolume} does.

        @return: L{Deferred} firing with the
            L{nova.db.volumes.VolumeRecord} as it is now (C{deleting}, or
            gone from the database if it never reached a host); failing
            with L{VolumeNotFound}, or L{IncorrectVolumeState} while a
            snapshot of it is being taken.
        """
        volume = yield self.getVolume(context, volumeId)
        if volume.instance_id is not None and volume.status in (v.IN_USE, v.ERROR):
            volume = yield self.detachVolume(context, volume.id, force=True)
        elif volume.instance_id is not None or volume.status not in (v.AVAILABLE, v.ERROR):
            volume = yield self.db.volumes.update(
                volume.id, status=v.ERROR,
                status_description=f"deleted by an administrator while {volume.status}"[:255],
                **v.DETACHED_FIELDS,
            )
        volume = yield self.deleteVolume(context, volume.id)
        return volume

    @inlineCallbacks
    def detachAllFromInstance(self, context, instanceId):
        """
        Record that an instance's guest is gone (terminated): every volume
        attached to it becomes C{available}, without asking its compute
        host.  Volumes busy attaching or detaching are left alone.

        @param instanceId: a numeric or EC2 instance id.
        @return: L{Deferred} firing with the L{list} of the
            L{nova.db.volumes.VolumeRecord}s detached.
        """
        number = parseInstanceId(instanceId)
        attached = yield self.db.volumes.list(instanceId=number, statuses={v.IN_USE, v.ERROR})
        detached = []
        for volume in attached:
            try:
                volume = yield self.db.volumes.transition(
                    volume.id, {volume.status}, v.AVAILABLE, status_description=None,
                    **v.DETACHED_FIELDS,
                )
            except (IncorrectVolumeState, VolumeNotFound):
                continue
            detached.append(volume)
        return detached

    # -- snapshots -------------------------------------------------------

    @inlineCallbacks
    def createSnapshot(self, context, volumeId, description=None, displayName=None, tags=()):
        """
        Take a snapshot of a volume (available or in use: a snapshot of an
        attached volume holds what was on its disk, as after a crash).  The
        answer comes at once, with the snapshot C{creating} (EC2:
        C{pending}); its tags (C{(key, value)} pairs the API checked) are
        written with it, in one transaction.

        @return: L{Deferred} firing with the new
            L{nova.db.volumes.SnapshotRecord}; failing with
            L{VolumeNotFound} or L{IncorrectVolumeState}.
        """
        volume = yield self.getVolume(context, volumeId)
        if volume.status not in (v.AVAILABLE, v.IN_USE) or volume.host is None:
            raise IncorrectVolumeState(
                f"The volume '{volume.ec2Id}' is {volume.status}; cannot snapshot it."
            )
        snapshot = yield self.db.volumes.createSnapshot(
            volume.project_id,
            context.userId or volume.user_id,
            volume.id,
            volume.size,
            volume.host,
            displayName=displayName,
            displayDescription=description,
            tags=tags,
        )
        try:
            yield self.rpc.cast(
                context, f"volume.{volume.host}", "createSnapshot", {"snapshotId": snapshot.id}
            )
        except exception.RPCError as e:
            yield self.db.volumes.updateSnapshot(
                snapshot.id, status=v.ERROR, status_description=f"could not be sent: {e}"[:255]
            )
            raise
        return snapshot

    @inlineCallbacks
    def deleteSnapshot(self, context, snapshotId):
        """
        Delete a completed snapshot (or one in error).  The answer comes at
        once; the snapshot's host removes it.

        @return: L{Deferred} firing with the
            L{nova.db.volumes.SnapshotRecord} as it is now; failing with
            L{SnapshotNotFound}, L{IncorrectSnapshotState}, or
            L{SnapshotInUse} while a volume is being made from it.
        """
        snapshot = yield self.getSnapshot(context, snapshotId)
        if snapshot.status not in (v.AVAILABLE, v.ERROR):
            raise IncorrectSnapshotState(
                f"The snapshot '{snapshot.ec2Id}' is {snapshot.status}; cannot delete it."
            )
        users = yield self.db.volumes.list(snapshotId=snapshot.id, statuses={v.CREATING})
        if users:
            raise SnapshotInUse(
                f"The snapshot '{snapshot.ec2Id}' is in use by {users[0].ec2Id}"
            )
        snapshot = yield self.db.volumes.transitionSnapshot(
            snapshot.id, {v.AVAILABLE, v.ERROR}, v.DELETING, action="delete it",
        )
        if snapshot.host is None:
            yield self.db.volumes.deleteSnapshot(snapshot.id)
            return snapshot
        yield self.rpc.cast(
            context, f"volume.{snapshot.host}", "deleteSnapshot", {"snapshotId": snapshot.id}
        )
        return snapshot
