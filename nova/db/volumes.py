# -*- test-case-name: tests.db.test_volumes -*-
"""
The volumes and snapshots tables.

A volume's C{status} moves C{creating} -> C{available} -> C{attaching} ->
C{in-use} -> C{detaching} -> C{available} -> C{deleting} (and the row is
removed), or to C{error} with the reason in C{status_description}.  Its
attachment (one instance at most) is kept on the row: C{instance_id},
C{mountpoint}, C{attach_status} (C{detached}, C{attaching}, C{attached},
C{detaching}) and C{attach_time}.  A snapshot's C{status} moves
C{creating} -> C{available} -> C{deleting}, or to C{error}.

Every change of status is a compare-and-set: one conditional C{UPDATE},
so two requests never both move a volume out of the same status.
"""

import json

import attr
from storm.expr import And, Count, Sum, Update
from storm.locals import DateTime, Int, Unicode
from twisted.internet.defer import fail

from nova import exception
from nova.db.services import utcnow
from nova.db.store import readOnly
from nova.db.tags import MAX_TAGS, SNAPSHOT, VOLUME, thd_setTags

# Volume statuses.
CREATING = "creating"
AVAILABLE = "available"
ATTACHING = "attaching"
IN_USE = "in-use"
DETACHING = "detaching"
DELETING = "deleting"
ERROR = "error"

VOLUME_STATUSES = frozenset({CREATING, AVAILABLE, ATTACHING, IN_USE, DETACHING, DELETING, ERROR})

#: Statuses of a volume attached (or being attached or detached).
ATTACHED_STATUSES = frozenset({ATTACHING, IN_USE, DETACHING})

# Attachment statuses, as EC2 names them.
DETACHED = "detached"
ATTACH_ATTACHING = "attaching"
ATTACHED = "attached"
ATTACH_DETACHING = "detaching"

# Snapshot statuses (C{creating}, C{available}, C{deleting} and C{error}
# are shared with volumes).
SNAPSHOT_STATUSES = frozenset({CREATING, AVAILABLE, DELETING, ERROR})

#: EC2's name of each volume status: an attaching or detaching volume is
#: C{in-use}, its attachment says the rest.
EC2_VOLUME_STATUS = {
    CREATING: "creating",
    AVAILABLE: "available",
    ATTACHING: "in-use",
    IN_USE: "in-use",
    DETACHING: "in-use",
    DELETING: "deleting",
    ERROR: "error",
}

#: EC2's name of each snapshot status.
EC2_SNAPSHOT_STATUS = {
    CREATING: "pending",
    AVAILABLE: "completed",
    DELETING: "completed",
    ERROR: "error",
}


class VolumeNotFound(exception.NotFound):
    """Volume not found."""

    code = "VolumeNotFound"
    ec2Code = "InvalidVolume.NotFound"


class SnapshotNotFound(exception.NotFound):
    """Snapshot not found."""

    code = "SnapshotNotFound"
    ec2Code = "InvalidSnapshot.NotFound"


class IncorrectVolumeState(exception.Invalid):
    """The volume is not in a state that allows the request."""

    code = "IncorrectVolumeState"
    ec2Code = "IncorrectState"


class IncorrectSnapshotState(exception.Invalid):
    """The snapshot is not in a state that allows the request."""

    code = "IncorrectSnapshotState"
    ec2Code = "IncorrectState"


class VolumeDeviceInUse(exception.Invalid):
    """The instance already has a volume at that device."""

    code = "VolumeDeviceInUse"
    ec2Code = "InvalidParameterValue"


def _ec2Volume(volumeId):
    return "vol-%08x" % (volumeId,)


def _ec2Snapshot(snapshotId):
    return "snap-%08x" % (snapshotId,)


class VolumeRow:
    __storm_table__ = "volumes"
    id = Int(primary=True)
    project_id = Unicode()
    user_id = Unicode()
    host = Unicode()
    size = Int()
    availability_zone = Unicode()
    status = Unicode()
    status_description = Unicode()
    attach_status = Unicode()
    instance_id = Int()
    mountpoint = Unicode()
    attach_time = DateTime()
    snapshot_id = Int()
    display_name = Unicode()
    display_description = Unicode()
    provider_location = Unicode()
    export_info = Unicode()
    client_token = Unicode()
    request_hash = Unicode()
    created_at = DateTime()
    updated_at = DateTime()


class SnapshotRow:
    __storm_table__ = "snapshots"
    id = Int(primary=True)
    project_id = Unicode()
    user_id = Unicode()
    volume_id = Int()
    volume_size = Int()
    host = Unicode()
    status = Unicode()
    status_description = Unicode()
    display_name = Unicode()
    display_description = Unicode()
    provider_location = Unicode()
    created_at = DateTime()
    updated_at = DateTime()


def _fromRow(cls, row):
    return cls(**{f.name: getattr(row, f.name) for f in attr.fields(cls)})


@attr.s(frozen=True)
class VolumeRecord:
    """
    One volume.

    @ivar size: gigabytes (GiB).
    @ivar host: the volume host that holds it, once scheduled.
    @ivar status: one of L{VOLUME_STATUSES}.
    @ivar status_description: why it is in C{error} (or why a request
        left it as it was).
    @ivar attach_status: C{detached}, C{attaching}, C{attached} or
        C{detaching}.
    @ivar instance_id: the numeric id of the instance it is attached to.
    @ivar mountpoint: the device the instance sees it as (C{/dev/vdb}).
    @ivar snapshot_id: the snapshot it was created from, if any.
    @ivar provider_location: where the back-end keeps it on its host (a
        file or block device path).
    @ivar export_info: JSON text of what a compute host needs to attach
        it (see L{exportInfo}).
    @ivar client_token: the client token of the request that created it,
        unique in its project, or C{None}.
    @ivar request_hash: the digest of that request's parameters
        (L{nova.idempotency.requestHash}), or C{None} without a token.
    """

    id = attr.ib()
    project_id = attr.ib()
    user_id = attr.ib()
    host = attr.ib()
    size = attr.ib()
    availability_zone = attr.ib()
    status = attr.ib()
    status_description = attr.ib()
    attach_status = attr.ib()
    instance_id = attr.ib()
    mountpoint = attr.ib()
    attach_time = attr.ib()
    snapshot_id = attr.ib()
    display_name = attr.ib()
    display_description = attr.ib()
    provider_location = attr.ib()
    export_info = attr.ib()
    client_token = attr.ib()
    request_hash = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()

    fromModel = classmethod(_fromRow)

    @property
    def ec2Id(self):
        """
        @return: the EC2 volume id, C{vol-} and eight hex digits.
        """
        return _ec2Volume(self.id)

    @property
    def ec2Status(self):
        """
        @return: the status EC2 shows (C{creating}, C{available},
            C{in-use}, C{deleting} or C{error}).
        """
        return EC2_VOLUME_STATUS[self.status]

    @property
    def snapshotEc2Id(self):
        """
        @return: the EC2 id of the snapshot it was made from, or C{None}.
        """
        return None if self.snapshot_id is None else _ec2Snapshot(self.snapshot_id)

    @property
    def instanceEc2Id(self):
        """
        @return: the EC2 id of the instance it is attached to, or C{None}.
        """
        return None if self.instance_id is None else "i-%08x" % (self.instance_id,)

    @property
    def exportInfo(self):
        """
        @return: the L{dict} the back-end gave when it exported the volume
            (see L{nova.volume.interfaces.IVolumeDriver.exportVolume}), or
            C{None} before that.
        """
        if not self.export_info:
            return None
        return json.loads(self.export_info)


@attr.s(frozen=True)
class SnapshotRecord:
    """
    One snapshot.

    @ivar volume_id: the volume it was taken of (which may since be
        deleted).
    @ivar volume_size: that volume's size when it was taken, in GiB.
    @ivar host: the volume host that holds it.
    @ivar status: one of L{SNAPSHOT_STATUSES}.
    """

    id = attr.ib()
    project_id = attr.ib()
    user_id = attr.ib()
    volume_id = attr.ib()
    volume_size = attr.ib()
    host = attr.ib()
    status = attr.ib()
    status_description = attr.ib()
    display_name = attr.ib()
    display_description = attr.ib()
    provider_location = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()

    fromModel = classmethod(_fromRow)

    @property
    def ec2Id(self):
        """
        @return: the EC2 snapshot id, C{snap-} and eight hex digits.
        """
        return _ec2Snapshot(self.id)

    @property
    def volumeEc2Id(self):
        """
        @return: the EC2 id of the volume it was taken of.
        """
        return _ec2Volume(self.volume_id)

    @property
    def ec2Status(self):
        """
        @return: the status EC2 shows (C{pending}, C{completed} or
            C{error}).
        """
        return EC2_SNAPSHOT_STATUS[self.status]

    @property
    def progress(self):
        """
        @return: EC2's progress text: C{100%} once completed, else C{0%}.
        """
        return "100%" if self.status in (AVAILABLE, DELETING) else "0%"


_VOLUME_FIELDS = frozenset(f.name for f in attr.fields(VolumeRecord)) - {
    "id",
    "client_token",
    "request_hash",
    "created_at",
    "updated_at",
}
_SNAPSHOT_FIELDS = frozenset(f.name for f in attr.fields(SnapshotRecord)) - {
    "id",
    "created_at",
    "updated_at",
}

#: The columns a detach (or a failed attach) clears.
DETACHED_FIELDS = {
    "attach_status": DETACHED,
    "instance_id": None,
    "mountpoint": None,
    "attach_time": None,
}


def _checkFields(fields, allowed, what):
    unknown = set(fields) - allowed
    if unknown:
        raise exception.Invalid(f"unknown {what} fields {sorted(unknown)}")


def encodeExportInfo(info):
    """
    @return: C{info} as the JSON text kept in C{export_info}.
    """
    return None if info is None else json.dumps(info, sort_keys=True)


def _compareAndSet(store, rowClass, rowId, fromStatuses, fields):
    """
    Set C{fields} on row C{rowId} if its status is one of C{fromStatuses},
    in one conditional UPDATE.

    @return: C{True} if the row was changed.
    """
    changes = {}
    for name, value in fields.items():
        column = getattr(rowClass, name)
        changes[column] = None if value is None else column.variable_factory(value=value)
    result = store.execute(
        Update(
            changes,
            And(rowClass.id == rowId, rowClass.status.is_in(sorted(fromStatuses))),
            rowClass,
        )
    )
    changed = result.rowcount == 1
    store.invalidate()
    return changed


@attr.s(frozen=True)
class _Kind:
    """
    What differs between volumes and snapshots for the operations they
    share (get, update, transition, delete).
    """

    name = attr.ib()
    row = attr.ib()
    record = attr.ib()
    fields = attr.ib()
    statuses = attr.ib()
    notFound = attr.ib()
    incorrectState = attr.ib()
    ec2Id = attr.ib()

    def thd_row(self, store, rowId):
        """
        @return: the row C{rowId}.
        @raise VolumeNotFound: (or L{SnapshotNotFound}) if there is none.
        """
        row = store.get(self.row, rowId)
        if row is None:
            raise self.notFound(f"The {self.name} '{self.ec2Id(rowId)}' does not exist.")
        return row


_VOLUME = _Kind(
    "volume", VolumeRow, VolumeRecord, _VOLUME_FIELDS, VOLUME_STATUSES,
    VolumeNotFound, IncorrectVolumeState, _ec2Volume,
)
_SNAPSHOT = _Kind(
    "snapshot", SnapshotRow, SnapshotRecord, _SNAPSHOT_FIELDS, SNAPSHOT_STATUSES,
    SnapshotNotFound, IncorrectSnapshotState, _ec2Snapshot,
)


class VolumeStore:
    """
    Rows of the volumes and snapshots tables.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    # -- volumes ---------------------------------------------------------

    def create(
        self,
        projectId,
        userId,
        size,
        availabilityZone=None,
        snapshotId=None,
        displayName=None,
        displayDescription=None,
        host=None,
        clientToken=None,
        requestHash=None,
        tags=(),
    ):
        """
        Add a volume in status C{creating}, detached, and its C{tags}
        (C{(key, value)} pairs), in one transaction.

        @param clientToken: the client's idempotency token, or C{None}.
        @param requestHash: the digest of the request's parameters, kept
            to compare a request with the same token against.
        @return: L{Deferred} firing with the new L{VolumeRecord}; failing
            with L{nova.exception.DatabaseError} if the project has a
            volume made with C{clientToken} already.
        """
        return self.transactor.transact(
            self.thd_create,
            projectId,
            userId,
            size,
            availabilityZone,
            snapshotId,
            displayName,
            displayDescription,
            host,
            clientToken,
            requestHash,
            utcnow(self.clock),
            tuple(tags),
        )

    def thd_create(
        self,
        store,
        projectId,
        userId,
        size,
        availabilityZone,
        snapshotId,
        displayName,
        displayDescription,
        host,
        clientToken,
        requestHash,
        now,
        tags=(),
    ):
        row = VolumeRow()
        row.project_id, row.user_id = projectId, userId
        row.size = int(size)
        row.availability_zone = availabilityZone
        row.snapshot_id = snapshotId
        row.display_name, row.display_description = displayName, displayDescription
        row.host = host
        row.client_token, row.request_hash = clientToken, requestHash
        row.status = CREATING
        row.attach_status = DETACHED
        row.created_at = row.updated_at = now
        store.add(row)
        store.flush()
        record = VolumeRecord.fromModel(row)
        if tags:
            thd_setTags(store, [(record.ec2Id, VOLUME, projectId)], dict(tags), MAX_TAGS, now)
        return record

    def get(self, volumeId):
        """
        @return: L{Deferred} firing with the L{VolumeRecord}; failing with
            L{VolumeNotFound}.
        """
        return self.transactor.transact(self.thd_get, volumeId)

    @readOnly
    def thd_get(self, store, volumeId):
        return VolumeRecord.fromModel(_VOLUME.thd_row(store, volumeId))

    def findByClientToken(self, projectId, clientToken):
        """
        @return: L{Deferred} firing with the L{VolumeRecord} of the
            project's volume made with C{clientToken}, or C{None}.
        """
        return self.transactor.transact(self.thd_findByClientToken, projectId, clientToken)

    @readOnly
    def thd_findByClientToken(self, store, projectId, clientToken):
        row = store.find(
            VolumeRow,
            VolumeRow.project_id == projectId,
            VolumeRow.client_token == clientToken,
        ).one()
        return None if row is None else VolumeRecord.fromModel(row)

    def list(
        self,
        projectId=None,
        host=None,
        volumeIds=None,
        instanceId=None,
        statuses=None,
        snapshotId=None,
    ):
        """
        @param volumeIds: only these ids.
        @param instanceId: only the volumes attached to this instance.
        @param statuses: only volumes in one of these statuses.
        @param snapshotId: only the volumes made from this snapshot.
        @return: L{Deferred} firing with a L{list} of L{VolumeRecord} by id.
        """
        return self.transactor.transact(
            self.thd_list,
            projectId,
            host,
            None if volumeIds is None else list(volumeIds),
            instanceId,
            None if statuses is None else sorted(statuses),
            snapshotId,
        )

    @readOnly
    def thd_list(
        self, store, projectId, host, volumeIds, instanceId, statuses, snapshotId=None
    ):
        conditions = []
        if projectId is not None:
            conditions.append(VolumeRow.project_id == projectId)
        if host is not None:
            conditions.append(VolumeRow.host == host)
        if volumeIds is not None:
            if not volumeIds:
                return []
            conditions.append(VolumeRow.id.is_in(volumeIds))
        if instanceId is not None:
            conditions.append(VolumeRow.instance_id == instanceId)
        if statuses is not None:
            conditions.append(VolumeRow.status.is_in(statuses))
        if snapshotId is not None:
            conditions.append(VolumeRow.snapshot_id == snapshotId)
        rows = store.find(VolumeRow, *conditions).order_by(VolumeRow.id)
        return [VolumeRecord.fromModel(row) for row in rows]

    def update(self, volumeId, **fields):
        """
        Change columns of one volume, whatever its status.

        @return: L{Deferred} firing with the updated L{VolumeRecord};
            failing with L{VolumeNotFound}.
        """
        return self._update(_VOLUME, volumeId, fields)

    def transition(self, volumeId, fromStatuses, toStatus, action=None, **fields):
        """
        Move a volume to C{toStatus} (and set C{fields}) if, and only if,
        its status is one of C{fromStatuses}.

        @param action: what is being done, for the error message.
        @return: L{Deferred} firing with the updated L{VolumeRecord};
            failing with L{IncorrectVolumeState} or L{VolumeNotFound}.
        """
        return self._transition(_VOLUME, volumeId, fromStatuses, toStatus, action, fields)

    def setError(self, volumeId, reason):
        """
        Put a volume in C{error}, whatever its status (for a scheduler that
        found no host for it, for instance).

        @return: L{Deferred} firing with the updated L{VolumeRecord};
            failing with L{VolumeNotFound}.
        """
        return self.update(volumeId, status=ERROR, status_description=str(reason)[:255])

    def beginAttach(self, volumeId, instanceId, mountpoint):
        """
        Move an C{available} volume to C{attaching} for C{instanceId} at
        C{mountpoint}, unless another volume of that instance holds (or is
        taking) that mount point.

        @return: L{Deferred} firing with the updated L{VolumeRecord};
            failing with L{IncorrectVolumeState}, L{VolumeDeviceInUse} or
            L{VolumeNotFound}.
        """
        return self.transactor.transact(
            self.thd_beginAttach, volumeId, instanceId, mountpoint, utcnow(self.clock)
        )

    def thd_beginAttach(self, store, volumeId, instanceId, mountpoint, now):
        holder = store.find(
            VolumeRow,
            VolumeRow.instance_id == instanceId,
            VolumeRow.mountpoint == mountpoint,
            VolumeRow.status.is_in(sorted(ATTACHED_STATUSES)),
            VolumeRow.id != volumeId,
        ).any()
        if holder is not None:
            raise VolumeDeviceInUse(
                f"Invalid value '{mountpoint}' for unixDevice. Attachment point "
                f"{mountpoint} is already in use by {_ec2Volume(holder.id)}"
            )
        return self._thd_transition(
            store,
            _VOLUME,
            volumeId,
            frozenset({AVAILABLE}),
            ATTACHING,
            "attach it",
            {
                "attach_status": ATTACH_ATTACHING,
                "instance_id": instanceId,
                "mountpoint": mountpoint,
                "attach_time": None,
                "status_description": None,
            },
            now,
        )

    def delete(self, volumeId):
        """
        Remove a volume's row.

        @return: L{Deferred} firing with C{None}; failing with
            L{VolumeNotFound}.
        """
        return self.transactor.transact(self.thd_delete, volumeId)

    def thd_delete(self, store, volumeId):
        store.remove(_VOLUME.thd_row(store, volumeId))

    def usageByProject(self, projectId):
        """
        @return: L{Deferred} firing with a L{dict}: C{volumes} (how many
            the project has, whatever their status) and C{gigabytes} (their
            sizes added up).
        """
        return self.transactor.transact(self.thd_usageByProject, projectId)

    @readOnly
    def thd_usageByProject(self, store, projectId):
        count, gigabytes = store.find(
            (Count(VolumeRow.id), Sum(VolumeRow.size)), VolumeRow.project_id == projectId
        ).one()
        return {"volumes": int(count or 0), "gigabytes": int(gigabytes or 0)}

    def gigabytesByHost(self):
        """
        @return: L{Deferred} firing with a L{dict} from volume host to the
            gigabytes of the volumes it holds (for the schedulers).
        """
        return self.transactor.transact(self.thd_gigabytesByHost)

    @readOnly
    def thd_gigabytesByHost(self, store):
        result = store.find(
            (VolumeRow.host, Sum(VolumeRow.size)),
            VolumeRow.host != None,  # noqa: E711
        ).group_by(VolumeRow.host)
        return {host: int(size or 0) for host, size in result}

    # -- snapshots -------------------------------------------------------

    def createSnapshot(
        self,
        projectId,
        userId,
        volumeId,
        volumeSize,
        host,
        displayName=None,
        displayDescription=None,
        tags=(),
    ):
        """
        Add a snapshot in status C{creating}, and its C{tags}, in one
        transaction.

        @return: L{Deferred} firing with the new L{SnapshotRecord}.
        """
        return self.transactor.transact(
            self.thd_createSnapshot,
            projectId,
            userId,
            volumeId,
            volumeSize,
            host,
            displayName,
            displayDescription,
            utcnow(self.clock),
            tuple(tags),
        )

    def thd_createSnapshot(
        self,
        store,
        projectId,
        userId,
        volumeId,
        volumeSize,
        host,
        displayName,
        displayDescription,
        now,
        tags=(),
    ):
        row = SnapshotRow()
        row.project_id, row.user_id = projectId, userId
        row.volume_id, row.volume_size = volumeId, int(volumeSize)
        row.host = host
        row.display_name, row.display_description = displayName, displayDescription
        row.status = CREATING
        row.created_at = row.updated_at = now
        store.add(row)
        store.flush()
        record = SnapshotRecord.fromModel(row)
        if tags:
            thd_setTags(store, [(record.ec2Id, SNAPSHOT, projectId)], dict(tags), MAX_TAGS, now)
        return record

    def getSnapshot(self, snapshotId):
        """
        @return: L{Deferred} firing with the L{SnapshotRecord}; failing
            with L{SnapshotNotFound}.
        """
        return self.transactor.transact(self.thd_getSnapshot, snapshotId)

    @readOnly
    def thd_getSnapshot(self, store, snapshotId):
        return SnapshotRecord.fromModel(_SNAPSHOT.thd_row(store, snapshotId))

    def listSnapshots(self, projectId=None, host=None, snapshotIds=None, volumeId=None, statuses=None):
        """
        @return: L{Deferred} firing with a L{list} of L{SnapshotRecord} by
            id, filtered by the given fields.
        """
        return self.transactor.transact(
            self.thd_listSnapshots,
            projectId,
            host,
            None if snapshotIds is None else list(snapshotIds),
            volumeId,
            None if statuses is None else sorted(statuses),
        )

    @readOnly
    def thd_listSnapshots(self, store, projectId, host, snapshotIds, volumeId, statuses):
        conditions = []
        if projectId is not None:
            conditions.append(SnapshotRow.project_id == projectId)
        if host is not None:
            conditions.append(SnapshotRow.host == host)
        if snapshotIds is not None:
            if not snapshotIds:
                return []
            conditions.append(SnapshotRow.id.is_in(snapshotIds))
        if volumeId is not None:
            conditions.append(SnapshotRow.volume_id == volumeId)
        if statuses is not None:
            conditions.append(SnapshotRow.status.is_in(statuses))
        rows = store.find(SnapshotRow, *conditions).order_by(SnapshotRow.id)
        return [SnapshotRecord.fromModel(row) for row in rows]

    def updateSnapshot(self, snapshotId, **fields):
        """
        Change columns of one snapshot, whatever its status.

        @return: L{Deferred} firing with the updated L{SnapshotRecord};
            failing with L{SnapshotNotFound}.
        """
        return self._update(_SNAPSHOT, snapshotId, fields)

    def transitionSnapshot(self, snapshotId, fromStatuses, toStatus, action=None, **fields):
        """
        Move a snapshot to C{toStatus} (and set C{fields}) if, and only if,
        its status is one of C{fromStatuses}.

        @return: L{Deferred} firing with the updated L{SnapshotRecord};
            failing with L{IncorrectSnapshotState} or L{SnapshotNotFound}.
        """
        return self._transition(_SNAPSHOT, snapshotId, fromStatuses, toStatus, action, fields)

    def deleteSnapshot(self, snapshotId):
        """
        Remove a snapshot's row.

        @return: L{Deferred} firing with C{None}; failing with
            L{SnapshotNotFound}.
        """
        return self.transactor.transact(self.thd_deleteSnapshot, snapshotId)

    def thd_deleteSnapshot(self, store, snapshotId):
        store.remove(_SNAPSHOT.thd_row(store, snapshotId))

    # -- shared by volumes and snapshots ------------------------------------

    def _update(self, kind, rowId, fields):
        try:
            _checkFields(fields, kind.fields, kind.name)
        except exception.Invalid as e:
            return fail(e)
        return self.transactor.transact(self._thd_update, kind, rowId, fields, utcnow(self.clock))

    def _thd_update(self, store, kind, rowId, fields, now):
        row = kind.thd_row(store, rowId)
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = now
        store.flush()
        return kind.record.fromModel(row)

    def _transition(self, kind, rowId, fromStatuses, toStatus, action, fields):
        try:
            _checkFields(fields, kind.fields, kind.name)
            if toStatus not in kind.statuses:
                raise exception.Invalid(f"no {kind.name} status {toStatus!r}")
        except exception.Invalid as e:
            return fail(e)
        return self.transactor.transact(
            self._thd_transition,
            kind,
            rowId,
            frozenset(fromStatuses),
            toStatus,
            action,
            fields,
            utcnow(self.clock),
        )

    def _thd_transition(self, store, kind, rowId, fromStatuses, toStatus, action, fields, now):
        values = dict(fields, status=toStatus, updated_at=now)
        if not _compareAndSet(store, kind.row, rowId, fromStatuses, values):
            current = kind.record.fromModel(kind.thd_row(store, rowId))
            raise kind.incorrectState(
                f"The {kind.name} '{current.ec2Id}' is {current.status}; cannot "
                f"{action or 'become ' + toStatus}."
            )
        return kind.record.fromModel(kind.thd_row(store, rowId))
