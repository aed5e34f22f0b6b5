# -*- test-case-name: tests.api.ec2.test_volumes -*-
"""
Volume and snapshot actions: CreateVolume, DeleteVolume, DescribeVolumes,
AttachVolume, DetachVolume, CreateSnapshot, DeleteSnapshot,
DescribeSnapshots, and Cactus's UpdateVolume.

The work is the L{nova.volume.api.VolumeAPI}'s (C{call.backends.volumes}):
volumes and snapshots belong to a project, which alone sees them
(superusers see all).  Creating and deleting answer at once, with the
volume C{creating} or C{deleting} (a snapshot C{pending}); a volume host
does the work.  Attaching and detaching answer once the compute host has
done it.

States are EC2's: a volume is C{creating}, C{available}, C{in-use},
C{deleting} or C{error}; its attachment C{attaching}, C{attached},
C{detaching} (or C{detached}); a snapshot C{pending}, C{completed} or
C{error}.  Volumes are of one type, C{standard}, unencrypted.  C{OwnerId}
is the project's name.

Volumes and snapshots take tags (L{nova.api.ec2.actions.tags}): at
creation through C{TagSpecification.N} (a snapshot's also from
C{CreateSnapshot}), shown by the Describe actions and their C{tag:}
filters, removed when they are deleted.
"""

from nova.api.ec2.actions.paging import paginate
from nova.api.ec2.actions.tags import (
    SNAPSHOT,
    VOLUME,
    deleteTagsOf,
    tagList,
    tagSpecifications,
    tagsOf,
)
from nova.api.ec2.errors import (
    InvalidParameterValue,
    MissingParameter,
    UnsupportedOperation,
)
from nova.api.ec2.filters import applyFilters

VOLUME_TYPE = "standard"


def _attachment(volume):
    """
    @return: the volume's attachment as EC2's C{VolumeAttachment}, or
        L{None} if it is not attached.
    """
    if volume.instance_id is None:
        return None
    return {
        "VolumeId": volume.ec2Id,
        "InstanceId": volume.instanceEc2Id,
        "Device": volume.mountpoint,
        "State": volume.attach_status,
        "AttachTime": volume.attach_time,
        "DeleteOnTermination": False,
    }


def _attachments(volume):
    attachment = _attachment(volume)
    return [] if attachment is None else [attachment]


VOLUME_FILTERS = {
    "volume-id": lambda volume: volume.ec2Id,
    "status": lambda volume: volume.ec2Status,
    "size": lambda volume: volume.size,
    "snapshot-id": lambda volume: volume.snapshotEc2Id,
    "availability-zone": lambda volume: volume.availability_zone,
    "create-time": lambda volume: volume.created_at,
    "volume-type": lambda volume: VOLUME_TYPE,
    "encrypted": lambda volume: False,
    "multi-attach-enabled": lambda volume: False,
    "attachment.instance-id": lambda volume: volume.instanceEc2Id,
    "attachment.status": lambda volume: [a["State"] for a in _attachments(volume)],
    "attachment.device": lambda volume: [a["Device"] for a in _attachments(volume)],
    "attachment.attach-time": lambda volume: [a["AttachTime"] for a in _attachments(volume)],
    "attachment.delete-on-termination": lambda volume: [
        a["DeleteOnTermination"] for a in _attachments(volume)
    ],
}

SNAPSHOT_FILTERS = {
    "snapshot-id": lambda snapshot: snapshot.ec2Id,
    "volume-id": lambda snapshot: snapshot.volumeEc2Id,
    "status": lambda snapshot: snapshot.ec2Status,
    "progress": lambda snapshot: snapshot.progress,
    "start-time": lambda snapshot: snapshot.created_at,
    "volume-size": lambda snapshot: snapshot.volume_size,
    "owner-id": lambda snapshot: snapshot.project_id,
    "description": lambda snapshot: snapshot.display_description,
    "encrypted": lambda snapshot: False,
}

#: CreateVolume parameters for what these volumes cannot be: the value
#: each may have (or L{None}: must be absent).
_UNSUPPORTED_VOLUME_PARAMETERS = {
    "Encrypted": False,
    "KmsKeyId": None,
    "Iops": None,
    "Throughput": None,
    "MultiAttachEnabled": False,
    "OutpostArn": None,
    "Operator": None,
    "VolumeInitializationRate": None,
}


def _volumeInfo(volume, tags=None):
    return {
        "VolumeId": volume.ec2Id,
        "Size": volume.size,
        "SnapshotId": volume.snapshotEc2Id,
        "AvailabilityZone": volume.availability_zone,
        "State": volume.ec2Status,
        "CreateTime": volume.created_at,
        "Attachments": _attachments(volume),
        "VolumeType": VOLUME_TYPE,
        "Encrypted": False,
        "MultiAttachEnabled": False,
        "OwnerId": volume.project_id,
        "Tags": tagList(tags),
    }


def _snapshotInfo(snapshot, tags=None):
    return {
        "SnapshotId": snapshot.ec2Id,
        "VolumeId": snapshot.volumeEc2Id,
        "State": snapshot.ec2Status,
        "StateMessage": snapshot.status_description if snapshot.status == "error" else None,
        "StartTime": snapshot.created_at,
        "Progress": snapshot.progress,
        "OwnerId": snapshot.project_id,
        "Description": snapshot.display_description or "",
        "VolumeSize": snapshot.volume_size,
        "Encrypted": False,
        "Tags": tagList(tags),
    }


async def _checkZone(call, zone):
    """
    @raise InvalidParameterValue: unless an enabled volume service is in
        availability zone C{zone}.
    """
    zones = await call.backends.hosts.zoneNames(
        call.context, binary="nova-volume", enabledOnly=True
    )
    if zone not in zones:
        raise InvalidParameterValue(f"Invalid availability zone: [{zone}]")


async def createVolume(call):
    """
    Create a volume of C{Size} GiB, empty or from C{SnapshotId}, in
    C{AvailabilityZone} (any zone with a volume host if not given), within
    the project's quotas (C{VolumeLimitExceeded}).  The same C{ClientToken}
    again answers with the same volume (C{IdempotentParameterMismatch} if
    the parameters differ).
    """
    params = call.params
    for name, allowed in _UNSUPPORTED_VOLUME_PARAMETERS.items():
        if params.get(name, allowed) != allowed:
            raise UnsupportedOperation(f"The parameter {name} is not supported.")
    volumeType = params.get("VolumeType", VOLUME_TYPE)
    if volumeType != VOLUME_TYPE:
        raise UnsupportedOperation(
            f"The volume type {volumeType} is not supported: volumes are {VOLUME_TYPE}."
        )
    pairs = tagSpecifications(params, (VOLUME,)).get(VOLUME, [])
    size, snapshotId = params.get("Size"), params.get("SnapshotId")
    if size is None and snapshotId is None:
        raise MissingParameter("Size")
    zone = params.get("AvailabilityZone") or params.get("AvailabilityZoneId")
    if zone is not None:
        await _checkZone(call, zone)
    volume = await call.backends.volumes.createVolume(
        call.context,
        size=size,
        snapshotId=snapshotId,
        availabilityZone=zone,
        clientToken=params.get("ClientToken"),
        # Written with the volume, in one transaction.
        tags=pairs,
    )
    return _volumeInfo(volume, dict(pairs))


async def deleteVolume(call):
    """
    Delete an available volume (C{VolumeInUse} while attached).
    """
    volume = await call.backends.volumes.deleteVolume(call.context, call.params["VolumeId"])
    await deleteTagsOf(call, [volume.ec2Id])


async def updateVolume(call):
    """
    Cactus's C{UpdateVolume}: change a volume's display name
    (C{DisplayName}) and description (C{DisplayDescription}), each at most
    255 characters; an absent one is left as it is.
    """
    params = call.params
    await call.backends.volumes.updateVolume(
        call.context,
        params["VolumeId"],
        displayName=params.get("DisplayName"),
        displayDescription=params.get("DisplayDescription"),
    )
    return True


async def describeVolumes(call):
    """
    List the project's volumes, by id and filters (C{volume-id},
    C{status}, C{size}, C{snapshot-id}, C{availability-zone},
    C{create-time}, C{volume-type}, C{encrypted}, C{attachment.*}, tags),
    in pages with C{MaxResults}.
    """
    params = call.params
    volumes = await call.backends.volumes.describeVolumes(
        call.context, params.get("VolumeIds") or None
    )
    tags = await tagsOf(call, [v.ec2Id for v in volumes])
    table = dict(VOLUME_FILTERS, tag=lambda volume: tags.get(volume.ec2Id))
    volumes = applyFilters(params.get("Filters"), volumes, table)
    page, nextToken = paginate(
        call, volumes, lambda volume: volume.id, maximum=500, exclusive=("VolumeIds",)
    )
    return {
        "Volumes": [_volumeInfo(volume, tags.get(volume.ec2Id)) for volume in page],
        "NextToken": nextToken,
    }


async def attachVolume(call):
    """
    Attach an available volume to a running instance of the project as
    C{Device}; answers once attached.
    """
    params = call.params
    volume = await call.backends.volumes.attachVolume(
        call.context, params["VolumeId"], params["InstanceId"], params["Device"]
    )
    return _attachment(volume)


async def detachVolume(call):
    """
    Detach a volume (checking C{InstanceId} and C{Device} if given;
    C{Force} detaches even if the compute host fails); answers once
    detached.
    """
    params = call.params
    volumes = call.backends.volumes
    before = await volumes.getVolume(call.context, params["VolumeId"])
    volume = await volumes.detachVolume(
        call.context,
        params["VolumeId"],
        instanceId=params.get("InstanceId"),
        device=params.get("Device"),
        force=params.get("Force", False),
    )
    return {
        "VolumeId": volume.ec2Id,
        "InstanceId": before.instanceEc2Id,
        "Device": before.mountpoint,
        "State": volume.attach_status,
        "AttachTime": before.attach_time,
        "DeleteOnTermination": False,
    }


async def createSnapshot(call):
    """
    Take a snapshot of a volume; it is C{pending} until its volume host
    has made it.
    """
    params = call.params
    for name in ("OutpostArn", "Location"):
        if params.get(name):
            raise UnsupportedOperation(f"The parameter {name} is not supported.")
    pairs = tagSpecifications(params, (SNAPSHOT,)).get(SNAPSHOT, [])
    snapshot = await call.backends.volumes.createSnapshot(
        call.context,
        params["VolumeId"],
        description=params.get("Description"),
        # Written with the snapshot, in one transaction.
        tags=pairs,
    )
    return _snapshotInfo(snapshot, dict(pairs))


async def deleteSnapshot(call):
    """
    Delete a completed snapshot (C{InvalidSnapshot.InUse} while a volume
    is being made from it).
    """
    snapshot = await call.backends.volumes.deleteSnapshot(
        call.context, call.params["SnapshotId"]
    )
    await deleteTagsOf(call, [snapshot.ec2Id])


def _ownedBy(context, snapshot, owners):
    """
    Does C{snapshot} belong to one of C{owners} (C{self}, or project
    names)?  Snapshots here have no other owners (such as C{amazon}).
    """
    for owner in owners:
        if owner == "self":
            if snapshot.project_id == context.projectId:
                return True
        elif owner == snapshot.project_id:
            return True
    return False


async def describeSnapshots(call):
    """
    List the snapshots the project sees, by id, C{OwnerId.N} (C{self} or
    a project), C{RestorableBy.N} and filters (C{snapshot-id},
    C{volume-id}, C{status}, C{progress}, C{start-time}, C{volume-size},
    C{owner-id}, C{description}, C{encrypted}, tags), in pages with
    C{MaxResults}.
    """
    params = call.params
    context = call.context
    snapshots = await call.backends.volumes.describeSnapshots(
        context, params.get("SnapshotIds") or None
    )
    owners = params.get("OwnerIds")
    if owners:
        snapshots = [s for s in snapshots if _ownedBy(context, s, owners)]
    restorable = params.get("RestorableByUserIds")
    if restorable:
        # A snapshot is restorable by its own project only.
        snapshots = [s for s in snapshots if _ownedBy(context, s, restorable)]
    tags = await tagsOf(call, [s.ec2Id for s in snapshots])
    table = dict(SNAPSHOT_FILTERS, tag=lambda snapshot: tags.get(snapshot.ec2Id))
    snapshots = applyFilters(params.get("Filters"), snapshots, table)
    page, nextToken = paginate(
        call, snapshots, lambda snapshot: snapshot.id, exclusive=("SnapshotIds",)
    )
    return {
        "Snapshots": [_snapshotInfo(s, tags.get(s.ec2Id)) for s in page],
        "NextToken": nextToken,
    }
