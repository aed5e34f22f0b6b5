# -*- test-case-name: tests.api.ec2.test_ebs -*-
"""
EBS-backed images and instances that boot from volumes.

An EBS-backed image has no data of its own: it is a root device name and a
block device mapping whose root device is made from a snapshot
(L{BlockDeviceAPI.registerImage}).  Launching it copies the image's
mappings, overridden by those of the request, to each instance
(L{BlockDeviceAPI.launchMappings}, stored by the compute API); the compute
host makes each EBS volume from its snapshot (or empty) through the
volume API on a volume host before the guest boots, records it as
attached, and boots the guest with the root volume as its first disk
(C{vda}) and no local root disk (L{BlockDeviceHost.prepare}).  When the
instance terminates, the volumes whose mapping says C{DeleteOnTermination}
are deleted (L{BlockDeviceHost.release}).
"""

import re

from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import Logger

from nova import exception
from nova.compute.errors import InvalidParameterValue, OperationNotPermitted
from nova.db.blockdevices import BlockDeviceMapping, BlockDeviceStore
from nova.db.images import AVAILABLE as IMAGE_AVAILABLE
from nova.db.images import MACHINE
from nova.db.services import utcnow
from nova.db.volumes import ATTACHED, ATTACHING, AVAILABLE, ERROR, IN_USE
from nova.virt.interfaces import VolumeConnection
from nova.volume.api import DEVICE, MAX_SIZE_GB
from nova.volume.names import ec2SnapshotId, ec2VolumeId, parseSnapshotId

#: How long a compute host waits for the volumes of an instance to be made
#: before the instance goes to C{error} (seconds).
VOLUME_WAIT_SECONDS = 600

#: How often it looks (seconds).
VOLUME_POLL_SECONDS = 0.2

#: The mount point the root volume is given to the virt driver as: the
#: guest's first disk.
ROOT_MOUNTPOINT = "/dev/vda"

_DEVICE_NAME = re.compile(r"^/dev/(?:sd|hd|vd|xvd)[a-z]{1,2}[0-9]{0,2}$")
_VIRTUAL_NAME = re.compile(r"^ephemeral[0-9]{1,2}$")

#: The most mappings an image or a request may have.
MAX_MAPPINGS = 16


class InvalidBlockDeviceMapping(exception.Invalid):
    """A block device mapping that cannot be honoured."""

    code = "InvalidBlockDeviceMapping"
    ec2Code = "InvalidBlockDeviceMapping"


def _bool(value, what):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidParameterValue(f"Invalid value {value!r} for {what}: use true or false")


def _size(value):
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = None
    if size is None or isinstance(value, bool) or not 1 <= size <= MAX_SIZE_GB:
        raise InvalidParameterValue(
            f"Invalid value {value!r} for VolumeSize: use 1 to {MAX_SIZE_GB} GiB"
        )
    return size


def sameDevice(a, b):
    """
    @return: whether two device names name the same device
        (C{/dev/sda} and C{/dev/sda1} do: a disk and its first partition).
    """
    return a.rstrip("0123456789") == b.rstrip("0123456789") if a and b else False


def parseMappings(shapes, rootDeviceName=None, requireSource=True):
    """
    Check EC2 C{BlockDeviceMapping} structures (C{DeviceName} with one of
    C{Ebs} (C{SnapshotId}, C{VolumeSize}, C{DeleteOnTermination}),
    C{VirtualName} (C{ephemeralN}) or C{NoDevice}).

    @param rootDeviceName: the root device, whose mapping is marked
        C{isRoot}.
    @param requireSource: whether an EBS mapping must give a
        C{SnapshotId} or a C{VolumeSize} (a launch's mapping of a device
        its image maps need not: see L{merge}).
    @return: a L{list} of L{BlockDeviceMapping}s.
    @raise InvalidParameterValue: or L{InvalidBlockDeviceMapping}, for what
        is malformed.
    """
    if shapes is None:
        return []
    if not isinstance(shapes, (list, tuple)):
        raise InvalidParameterValue("BlockDeviceMapping must be a list")
    if len(shapes) > MAX_MAPPINGS:
        raise InvalidBlockDeviceMapping(f"At most {MAX_MAPPINGS} block device mappings")
    mappings, seen = [], set()
    for shape in shapes:
        if not isinstance(shape, dict):
            raise InvalidParameterValue("A block device mapping must be a structure")
        device = shape.get("DeviceName")
        if not device:
            raise InvalidBlockDeviceMapping("A block device mapping needs a DeviceName")
        if not isinstance(device, str) or not _DEVICE_NAME.match(device):
            raise InvalidBlockDeviceMapping(
                f"Invalid device name {device!r}: use /dev/sdX, /dev/vdX, /dev/xvdX or /dev/hdX"
            )
        if device in seen:
            raise InvalidBlockDeviceMapping(f"The device {device} is mapped twice")
        seen.add(device)
        ebs, virtual = shape.get("Ebs"), shape.get("VirtualName")
        noDevice = "NoDevice" in shape
        if sum(1 for given in (ebs is not None, virtual is not None, noDevice) if given) != 1:
            raise InvalidBlockDeviceMapping(
                f"The mapping of {device} must give exactly one of Ebs, VirtualName and NoDevice"
            )
        isRoot = sameDevice(device, rootDeviceName) if rootDeviceName else False
        if noDevice:
            mappings.append(BlockDeviceMapping(device, isRoot=isRoot, noDevice=True))
        elif virtual is not None:
            if not isinstance(virtual, str) or not _VIRTUAL_NAME.match(virtual):
                raise InvalidBlockDeviceMapping(
                    f"Invalid virtual name {virtual!r}: use ephemeral0 to ephemeral23"
                )
            mappings.append(BlockDeviceMapping(device, isRoot=isRoot, virtualName=virtual))
        else:
            if not isinstance(ebs, dict):
                raise InvalidParameterValue(f"The Ebs of {device} must be a structure")
            snapshotId = ebs.get("SnapshotId")
            if snapshotId is not None:
                try:
                    snapshotId = parseSnapshotId(snapshotId)
                except exception.NovaError:
                    raise InvalidParameterValue(f"Invalid snapshot id {snapshotId!r}")
            size = ebs.get("VolumeSize")
            if size is not None:
                size = _size(size)
            if snapshotId is None and size is None and requireSource:
                raise InvalidBlockDeviceMapping(
                    f"The EBS mapping of {device} needs a SnapshotId or a VolumeSize"
                )
            deleteOnTermination = _bool(
                ebs.get("DeleteOnTermination", True), "Ebs.DeleteOnTermination"
            )
            mappings.append(
                BlockDeviceMapping(
                    device,
                    isRoot=isRoot,
                    snapshotId=snapshotId,
                    volumeSize=size,
                    deleteOnTermination=deleteOnTermination,
                )
            )
    return mappings


def mappingShapes(mappings, volumes=None):
    """
    @param mappings: L{BlockDeviceMapping}s (an image's, or an instance's
        without volumes made yet).
    @return: their EC2 C{BlockDeviceMapping} structures, as an image
        describes them.
    """
    shapes = []
    for mapping in mappings:
        shape = {"DeviceName": mapping.deviceName}
        if mapping.noDevice:
            shape["NoDevice"] = ""
        elif mapping.virtualName is not None:
            shape["VirtualName"] = mapping.virtualName
        else:
            ebs = {"DeleteOnTermination": mapping.deleteOnTermination}
            if mapping.snapshotId is not None:
                ebs["SnapshotId"] = ec2SnapshotId(mapping.snapshotId)
            if mapping.volumeSize is not None:
                ebs["VolumeSize"] = mapping.volumeSize
            shape["Ebs"] = ebs
        shapes.append(shape)
    return shapes


def isEbsRooted(mappings):
    """
    @return: whether C{mappings} boot from an EBS volume.
    """
    return any(m.isRoot and m.isEbs for m in mappings)


def merge(imageMappings, requested):
    """
    The mappings an instance launches with: the image's, each replaced by
    the request's mapping of the same device (C{NoDevice} removing it),
    then the request's other mappings.  The root mapping of an EBS-backed
    image may change its size and C{DeleteOnTermination}, never its
    snapshot.
    """
    byDevice = {m.deviceName: m for m in requested}
    merged = []
    for mapping in imageMappings:
        wanted = byDevice.pop(mapping.deviceName, None)
        if wanted is None:
            merged.append(mapping)
            continue
        if mapping.isRoot and mapping.isEbs:
            if wanted.noDevice or not wanted.isEbs:
                raise InvalidBlockDeviceMapping(
                    f"The root device {mapping.deviceName} of the image cannot be removed"
                )
            if wanted.snapshotId is not None and wanted.snapshotId != mapping.snapshotId:
                raise InvalidBlockDeviceMapping(
                    f"The snapshot of the root device {mapping.deviceName} cannot be changed"
                )
            merged.append(
                BlockDeviceMapping(
                    mapping.deviceName,
                    isRoot=True,
                    snapshotId=mapping.snapshotId,
                    volumeSize=wanted.volumeSize or mapping.volumeSize,
                    deleteOnTermination=wanted.deleteOnTermination,
                )
            )
        elif not wanted.noDevice:
            merged.append(wanted)
    for mapping in requested:
        if mapping.deviceName not in byDevice or mapping.noDevice:
            continue
        if mapping.isEbs and mapping.snapshotId is None and mapping.volumeSize is None:
            raise InvalidBlockDeviceMapping(
                f"The EBS mapping of {mapping.deviceName} needs a SnapshotId or a VolumeSize"
            )
        merged.append(mapping)
    return merged


class BlockDeviceAPI:
    """
    The block device mappings of images and instances, for the APIs.

    @ivar store: the L{BlockDeviceStore}.
    @ivar images: the image service (its C{getImage} and
        C{checkReferences}).
    @ivar volumes: the volume API (its C{getSnapshot}).
    """

    def __init__(self, db, images, volumes, store=None):
        self.db = db
        self.images = images
        self.volumes = volumes
        self.store = store if store is not None else BlockDeviceStore(db.transactor, db.clock)

    @inlineCallbacks
    def _checkSnapshots(self, context, mappings):
        checked = []
        for mapping in mappings:
            if mapping.snapshotId is None:
                checked.append(mapping)
                continue
            snapshot = yield self.volumes.getSnapshot(context, mapping.snapshotId)
            if snapshot.status != AVAILABLE:
                raise InvalidBlockDeviceMapping(
                    f"The snapshot {snapshot.ec2Id} is {snapshot.ec2Status}, not completed"
                )
            if mapping.volumeSize is not None and mapping.volumeSize < snapshot.volume_size:
                raise InvalidBlockDeviceMapping(
                    f"Volume of {mapping.volumeSize} GiB is smaller than snapshot "
                    f"{snapshot.ec2Id} ({snapshot.volume_size} GiB)"
                )
            checked.append(mapping)
        return checked

    @inlineCallbacks
    def registerImage(
        self,
        context,
        rootDeviceName,
        mappings,
        name=None,
        description=None,
        architecture=None,
        kernelId=None,
        ramdiskId=None,
        tags=(),
    ):
        """
        Register an EBS-backed machine image of the context's project: it
        is C{available} at once, with its C{tags} (C{(key, value)} pairs).

        @param mappings: EC2 C{BlockDeviceMapping} structures; the one of
            C{rootDeviceName} must be an EBS volume from a completed
            snapshot the project may see.
        @return: L{Deferred} firing with the image's
            L{nova.db.images.ImageRecord}; failing with
            L{InvalidBlockDeviceMapping}, L{InvalidParameterValue},
            L{nova.volume.errors.SnapshotNotFound} or what the image
            service's C{checkReferences} fails with.
        """
        if context.projectId is None:
            raise exception.NotAuthorized("Registering an image needs a project")
        if not isinstance(rootDeviceName, str) or not _DEVICE_NAME.match(rootDeviceName):
            raise InvalidParameterValue(f"Invalid root device name {rootDeviceName!r}")
        if not name or not isinstance(name, str) or len(name) > 128:
            raise InvalidParameterValue("An EBS-backed image needs a Name of 1 to 128 characters")
        parsed = parseMappings(mappings, rootDeviceName)
        roots = [m for m in parsed if m.isRoot]
        if len(roots) != 1 or not roots[0].isEbs or roots[0].snapshotId is None:
            raise InvalidBlockDeviceMapping(
                f"The root device {rootDeviceName} must be mapped to an EBS snapshot"
            )
        parsed = yield self._checkSnapshots(context, parsed)
        yield self.images.checkReferences(context, kernelId, ramdiskId)
        record = yield self.db.images.create(
            MACHINE,
            context.projectId,
            context.userId or "",
            f"{context.projectId}/{name}",
            IMAGE_AVAILABLE,
            name=name,
            description=description,
            architecture=architecture or "x86_64",
            kernel_id=kernelId,
            ramdisk_id=ramdiskId,
            root_device_name=rootDeviceName,
            disk_format=None,
            tags=tags,
        )
        yield self.store.setImageMappings(record.ec2_id, parsed)
        return record

    @inlineCallbacks
    def launchMappings(self, context, image, requested=None):
        """
        The mappings instances of C{image} launch with (L{merge}).

        @param image: the L{nova.db.images.ImageRecord}.
        @param requested: the request's EC2 C{BlockDeviceMapping}
            structures, or L{None}.
        @return: L{Deferred} firing with a L{list} of
            L{BlockDeviceMapping}s (empty for an instance-store image
            launched without any).
        """
        found = yield self.store.imageMappings([image.ec2_id])
        imageMappings = found.get(image.ec2_id, [])
        wanted = parseMappings(
            requested, image.root_device_name if imageMappings else None, requireSource=False
        )
        for mapping in wanted:
            if not imageMappings and mapping.isRoot:
                raise InvalidBlockDeviceMapping(
                    f"The root device of instance-store image {image.ec2_id} cannot be mapped"
                )
        wanted = yield self._checkSnapshots(context, wanted)
        return merge(imageMappings, wanted)

    @inlineCallbacks
    def isEbsInstance(self, instance):
        """
        @param instance: an L{nova.db.records.InstanceRecord}.
        @return: L{Deferred} firing with whether it boots from a volume.
        """
        found = yield self.store.instanceMappings([instance.id])
        return isEbsRooted(found.get(instance.id, ()))

    @inlineCallbacks
    def refuseEbs(self, instance, action):
        """
        Refuse an action this cloud does not do to an EBS-backed instance
        (its guest has no local root disk).

        @param action: what is refused (C{"rebuilt"}, C{"rescued"}, ...).
        @return: L{Deferred} firing with C{None}; failing with
            L{nova.compute.errors.OperationNotPermitted}.
        """
        if (yield self.isEbsInstance(instance)):
            raise OperationNotPermitted(
                f"The instance '{instance.ec2Id}' boots from a volume: it cannot be {action}."
            )

    @inlineCallbacks
    def createImage(self, context, instance, name, description=None, mappings=None, tags=()):
        """
        Make an EBS-backed image of an EBS-backed instance: a snapshot of
        each of its volumes (taken at once, whatever state the instance is
        in), and an image mapping each device to its snapshot as the
        instance maps it (size and C{DeleteOnTermination}), with its
        instance stores and suppressed devices.  The image is C{available}
        at once; launching it fails until its snapshots are completed.

        @param instance: the instance's L{nova.db.records.InstanceRecord}.
        @param mappings: EC2 C{BlockDeviceMapping} structures that replace
            or add to the instance's (L{merge}), or L{None}.
        @return: L{Deferred} firing with the image's
            L{nova.db.images.ImageRecord}.
        """
        if not name or not isinstance(name, str) or len(name) > 128:
            raise InvalidParameterValue("An image needs a Name of 1 to 128 characters")
        found = yield self.store.instanceMappings([instance.id])
        current = found.get(instance.id, [])
        source = yield self.db.images.find(ec2Ids=[instance.image_id])
        rootDeviceName = source[0].root_device_name if source else None
        rootDeviceName = rootDeviceName or next(m.deviceName for m in current if m.isRoot)
        imageMappings = []
        for mapping in current:
            if mapping.isEbs and mapping.volumeId is not None:
                volume = yield self.db.volumes.get(mapping.volumeId)
                snapshot = yield self.volumes.createSnapshot(
                    context,
                    mapping.volumeId,
                    description=f"Created by CreateImage({instance.ec2Id}) for {name}"[:255],
                )
                mapping = BlockDeviceMapping(
                    mapping.deviceName,
                    isRoot=mapping.isRoot,
                    snapshotId=snapshot.id,
                    volumeSize=volume.size,
                    deleteOnTermination=mapping.deleteOnTermination,
                )
            imageMappings.append(
                BlockDeviceMapping(
                    mapping.deviceName,
                    isRoot=mapping.isRoot,
                    snapshotId=mapping.snapshotId,
                    volumeSize=mapping.volumeSize,
                    deleteOnTermination=mapping.deleteOnTermination,
                    noDevice=mapping.noDevice,
                    virtualName=mapping.virtualName,
                )
            )
        wanted = parseMappings(mappings, rootDeviceName, requireSource=False)
        imageMappings = merge(imageMappings, wanted)
        record = yield self.db.images.create(
            MACHINE,
            context.projectId,
            context.userId or "",
            f"{context.projectId}/{name}",
            IMAGE_AVAILABLE,
            name=name,
            description=description,
            architecture=source[0].architecture if source else "x86_64",
            kernel_id=instance.kernel_id,
            ramdisk_id=instance.ramdisk_id,
            root_device_name=rootDeviceName,
            disk_format=None,
            tags=tags,
        )
        yield self.store.setImageMappings(record.ec2_id, imageMappings)
        return record

    def imageMappings(self, imageIds):
        """
        @return: L{Deferred} firing with a L{dict} from image id to its
            L{BlockDeviceMapping}s.
        """
        return self.store.imageMappings(imageIds)

    def instanceMappings(self, instanceIds):
        """
        @param instanceIds: instance numbers.
        @return: L{Deferred} firing with a L{dict} from instance number to
            its L{BlockDeviceMapping}s.
        """
        return self.store.instanceMappings(instanceIds)


class BlockDeviceHost:
    """
    What a compute host does with the EBS volumes of its instances.

    @ivar volumes: the volume API (C{createVolume}, C{deleteVolume}).
    """

    log = Logger()

    def __init__(self, db, volumes, clock, store=None, waitSeconds=VOLUME_WAIT_SECONDS):
        self.db = db
        self.volumes = volumes
        self.clock = clock
        self.store = store if store is not None else BlockDeviceStore(db.transactor, db.clock)
        self.waitSeconds = waitSeconds

    @inlineCallbacks
    def _waitAvailable(self, volumeId):
        deadline = self.clock.seconds() + self.waitSeconds
        while True:
            volume = yield self.db.volumes.get(volumeId)
            if volume.status == AVAILABLE:
                return volume
            if volume.status == ERROR:
                raise InvalidBlockDeviceMapping(
                    f"Volume {volume.ec2Id} could not be made: {volume.status_description}"
                )
            if self.clock.seconds() >= deadline:
                raise InvalidBlockDeviceMapping(
                    f"Volume {volume.ec2Id} was not made within {self.waitSeconds} s"
                )
            yield deferLater(self.clock, VOLUME_POLL_SECONDS, lambda: None)

    @inlineCallbacks
    def prepare(self, context, instance):
        """
        Make the EBS volumes of an instance about to boot (each once: a
        volume already made is used again), record them as attached to it,
        and say what the guest boots with.

        @param instance: its L{nova.db.records.InstanceRecord}.
        @return: L{Deferred} firing with C{(blockDevices, ebsRoot)}: the
            C{(connection, mountpoint)} pairs for
            L{nova.virt.interfaces.IVirtDriver.spawn} (the root volume
            first, as L{ROOT_MOUNTPOINT}) and whether the root device is a
            volume (then the guest has no local root disk).
        """
        found = yield self.store.instanceMappings([instance.id])
        mappings = found.get(instance.id, [])
        blockDevices = []
        ebsRoot = False
        for mapping in sorted(mappings, key=lambda m: not m.isRoot):
            if not mapping.isEbs:
                continue
            if mapping.volumeId is None:
                volume = yield self.volumes.createVolume(
                    context,
                    size=mapping.volumeSize,
                    snapshotId=mapping.snapshotId,
                    availabilityZone=instance.availability_zone,
                    displayName=f"{instance.ec2Id} {mapping.deviceName}",
                )
                mapping = yield self.store.setVolume(mapping.id, volume.id)
                self.log.info(
                    "{volume} made for {device} of {instance}",
                    volume=ec2VolumeId(volume.id),
                    device=mapping.deviceName,
                    instance=instance.ec2Id,
                )
            volume = yield self.db.volumes.get(mapping.volumeId)
            if volume.instance_id is None:
                volume = yield self._waitAvailable(mapping.volumeId)
                yield self.db.volumes.beginAttach(volume.id, instance.id, mapping.deviceName)
                volume = yield self.db.volumes.transition(
                    volume.id,
                    {ATTACHING},
                    IN_USE,
                    attach_status=ATTACHED,
                    attach_time=utcnow(self.clock),
                )
            connection = VolumeConnection.fromDict(volume.exportInfo)
            if mapping.isRoot:
                ebsRoot = True
                blockDevices.append((connection.toDict(), ROOT_MOUNTPOINT))
            elif DEVICE.match(mapping.deviceName):
                blockDevices.append((connection.toDict(), mapping.deviceName))
            else:
                blockDevices.append(
                    (connection.toDict(), mapping.deviceName.rstrip("0123456789"))
                )
        return blockDevices, ebsRoot

    @inlineCallbacks
    def release(self, context, instanceId):
        """
        The instance terminated and its volumes are detached: delete those
        whose mapping says C{DeleteOnTermination}.  Failures are logged.

        @param instanceId: the instance's number.
        @return: L{Deferred} firing with the L{list} of the numbers of the
            volumes deleted.
        """
        found = yield self.store.instanceMappings([instanceId])
        deleted = []
        for mapping in found.get(instanceId, []):
            if mapping.volumeId is None or not mapping.deleteOnTermination:
                continue
            try:
                yield self.volumes.deleteVolume(context, mapping.volumeId)
            except exception.NovaError as e:
                self.log.warn(
                    "deleting {volume} of terminated i-{id:08x} failed: {error}",
                    volume=ec2VolumeId(mapping.volumeId),
                    id=instanceId,
                    error=e,
                )
                continue
            deleted.append(mapping.volumeId)
        return deleted
