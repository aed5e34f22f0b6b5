# -*- test-case-name: tests.api.ec2.test_images -*-
"""
Image actions: DescribeImages, RegisterImage, CreateImage,
DeregisterImage, DescribeImageAttribute, ModifyImageAttribute,
ResetImageAttribute and Cactus's UpdateImage.

The work is the image service's (L{nova.image.interfaces.IImageService},
as C{call.backends.images}): registration and deregistration go to
nova-objectstore, the rest reads and writes the database.  A project sees
its own images, public ones and those shared with it; any other image
does not exist for it (C{InvalidAMIID.NotFound}).
"""

from nova.api.ec2.actions.paging import paginate
from nova.api.ec2.actions.tags import (
    IMAGE,
    deleteTagsOf,
    tagList,
    tagSpecifications,
    tagsOf,
)
from nova.api.ec2.errors import (
    EC2Error,
    InvalidParameterCombination,
    InvalidParameterValue,
    InvalidRequest,
    MissingParameter,
)
from nova.api.ec2.filters import applyFilters
from nova.api.ec2.serializer import formatTimestamp
from nova.compute.api import hypervisorType
from nova.compute.blockdevices import isEbsRooted, mappingShapes


class _Described:
    """
    An image record with its tags, for filters.
    """

    __slots__ = ("record", "tags", "hypervisor", "mappings")

    def __init__(self, record, tags, hypervisor, mappings=()):
        self.record = record
        self.tags = tags
        self.hypervisor = hypervisor
        self.mappings = mappings


IMAGE_FILTERS = {
    "image-id": lambda d: d.record.ec2_id,
    "image-type": lambda d: d.record.image_type,
    "state": lambda d: d.record.ec2State,
    "is-public": lambda d: bool(d.record.is_public),
    "name": lambda d: d.record.name,
    "description": lambda d: d.record.description,
    "architecture": lambda d: d.record.architecture,
    "owner-id": lambda d: d.record.project_id,
    "kernel-id": lambda d: d.record.kernel_id,
    "ramdisk-id": lambda d: d.record.ramdisk_id,
    "manifest-location": lambda d: d.record.location,
    "root-device-type": lambda d: _rootDeviceType(d.mappings),
    "root-device-name": lambda d: d.record.root_device_name,
    "virtualization-type": lambda d: _virtualization(d.record),
    "hypervisor": lambda d: d.hypervisor,
    "tag": lambda d: d.tags,
}


def _rootDeviceType(mappings):
    return "ebs" if isEbsRooted(mappings) else "instance-store"


def _virtualization(record):
    return "paravirtual" if record.kernel_id else "hvm"


def imageShape(record, tags, hypervisor, mappings=()):
    """
    @param record: an L{nova.db.images.ImageRecord}.
    @param mappings: its L{nova.db.blockdevices.BlockDeviceMapping}s (an
        EBS-backed image's).
    @param hypervisor: the hypervisor guests run on
        (L{nova.compute.api.hypervisorType}).
    @return: its EC2 C{Image} structure.
    """
    shape = {
        "ImageId": record.ec2_id,
        "ImageLocation": record.location,
        "State": record.ec2State,
        "OwnerId": record.project_id,
        "CreationDate": formatTimestamp(record.created_at),
        "Public": bool(record.is_public),
        "ProductCodes": [],
        "Architecture": record.architecture,
        "ImageType": record.image_type,
        "Name": record.name,
        "Description": record.description,
        "RootDeviceType": _rootDeviceType(mappings),
        "RootDeviceName": record.root_device_name,
        "BlockDeviceMappings": mappingShapes(mappings),
        "Hypervisor": hypervisor,
        "Tags": tagList(tags),
    }
    if record.image_type == "machine":
        shape["KernelId"] = record.kernel_id
        shape["RamdiskId"] = record.ramdisk_id
        shape["VirtualizationType"] = _virtualization(record)
    if record.ec2State == "failed":
        shape["StateReason"] = {
            "Code": "Client.ImageRegistrationFailed",
            "Message": record.state_reason or "registration failed",
        }
    return shape


def _images(call):
    images = call.backends.images
    if images is None:
        raise EC2Error(
            "ServiceUnavailable", "The image service is not available.", 503
        )
    return images


async def describeImages(call):
    """
    The images the caller may see: by id, owner (C{self} or project ids),
    who may launch them (C{self}, C{all} or a project id), and filters.
    """
    params = call.params
    context = call.context
    records = await _images(call).describeImages(
        context,
        imageIds=params.get("ImageIds") or None,
        owners=params.get("Owners") or None,
        executableBy=params.get("ExecutableUsers") or None,
    )
    tags = await tagsOf(call, [r.ec2_id for r in records])
    hypervisor = hypervisorType(call.backends.config)
    mappings = {}
    if call.backends.configured("compute"):
        mappings = await call.backends.compute.blockDevices.imageMappings(
            [r.ec2_id for r in records]
        )
    described = [
        _Described(
            record, tags.get(record.ec2_id, {}), hypervisor, mappings.get(record.ec2_id, ())
        )
        for record in records
    ]
    described = applyFilters(params.get("Filters"), described, IMAGE_FILTERS)
    page, nextToken = paginate(call, described, lambda d: d.record.ec2_id, exclusive=("ImageIds",))
    return {
        "Images": [imageShape(d.record, d.tags, d.hypervisor, d.mappings) for d in page],
        "NextToken": nextToken,
    }


async def registerImage(call):
    """
    Register an image from a bundle manifest (or a plain image object) in
    the object store, C{bucket/key}.  The answer comes at once; the image
    is C{pending} until it is decrypted and stored.
    """
    params = call.params
    location = params.get("ImageLocation")
    if params.get("BlockDeviceMappings") and location:
        raise EC2Error(
            "UnsupportedOperation",
            "Images with both an ImageLocation and block device mappings are not supported.",
        )
    if params.get("BlockDeviceMappings"):
        return await _registerEbsImage(call)
    if not location:
        raise MissingParameter("ImageLocation")
    wantedTags = tagSpecifications(params, (IMAGE,))
    record = await _images(call).registerImage(
        call.context,
        location,
        name=params.get("Name"),
        description=params.get("Description"),
        architecture=params.get("Architecture"),
        kernelId=params.get("KernelId"),
        ramdiskId=params.get("RamdiskId"),
        rootDeviceName=params.get("RootDeviceName"),
        # Written with the image, in one transaction.
        tags=wantedTags.get(IMAGE, ()),
    )
    return {"ImageId": record.ec2_id}


async def _registerEbsImage(call):
    """
    Register an EBS-backed image: C{RootDeviceName} and a
    C{BlockDeviceMapping} whose root device is made from a snapshot
    (L{nova.compute.blockdevices.BlockDeviceAPI.registerImage}).
    """
    params = call.params
    rootDeviceName = params.get("RootDeviceName")
    if not rootDeviceName:
        raise MissingParameter("RootDeviceName")
    if not params.get("Name"):
        raise MissingParameter("Name")
    wantedTags = tagSpecifications(params, (IMAGE,))
    record = await call.backends.compute.blockDevices.registerImage(
        call.context,
        rootDeviceName,
        params["BlockDeviceMappings"],
        name=params.get("Name"),
        description=params.get("Description"),
        architecture=params.get("Architecture"),
        kernelId=params.get("KernelId"),
        ramdiskId=params.get("RamdiskId"),
        tags=wantedTags.get(IMAGE, ()),
    )
    return {"ImageId": record.ec2_id}


async def createImage(call):
    """
    Make a machine image of the caller's project from an instance-store
    instance's root disk (C{Name}, C{Description}, C{NoReboot}; the compute
    API's C{createImage}).  The answer comes at once; the image is
    C{pending} until the instance's host has copied the disk and
    nova-objectstore has stored it, then C{available} (or C{failed}, with
    the reason).  The instance is never rebooted: by default a running
    one is cleanly stopped for the copy (its memory saved to disk) and
    restored; with C{NoReboot} its disk is copied while it runs on.
    """
    params = call.params
    compute = call.backends.compute
    instance = await compute.getInstance(call.context, params["InstanceId"])
    if await compute.blockDevices.isEbsInstance(instance):
        # An EBS-backed instance: its volumes are snapshotted.
        wantedTags = tagSpecifications(params, (IMAGE,))
        record = await compute.blockDevices.createImage(
            call.context,
            instance,
            params["Name"],
            description=params.get("Description"),
            mappings=params.get("BlockDeviceMappings"),
            tags=wantedTags.get(IMAGE, ()),
        )
        return {"ImageId": record.ec2_id}
    if params.get("BlockDeviceMappings"):
        raise EC2Error(
            "UnsupportedOperation", "Images with block device mappings are not supported."
        )
    wantedTags = tagSpecifications(params, (IMAGE,))
    imageId = await call.backends.compute.createImage(
        call.context,
        params["InstanceId"],
        params["Name"],
        description=params.get("Description"),
        noReboot=params.get("NoReboot", False),
        tags=wantedTags.get(IMAGE, ()),
    )
    return {"ImageId": imageId}


async def deregisterImage(call):
    """
    Remove an image of the caller's project (and its tags).
    """
    imageId = call.params.get("ImageId")
    if not imageId:
        raise MissingParameter("ImageId")
    images = _images(call)
    # Malformed, unknown and invisible ids are answered here, without a
    # round trip to nova-objectstore.
    await images.getImage(call.context, imageId)
    await images.deregisterImage(call.context, imageId)
    await deleteTagsOf(call, [imageId])
    return {"Return": True}


async def updateImage(call):
    """
    Cactus's C{UpdateImage}: change the name (C{DisplayName}) and the
    description (C{Description}) of an image the caller's project owns
    (each at most 255 characters; an absent one is left as it is).  An
    image the caller may only see is C{AuthFailure}, as for
    ModifyImageAttribute.
    """
    params = call.params
    await _images(call).updateImage(
        call.context,
        params["ImageId"],
        name=params.get("DisplayName"),
        description=params.get("Description"),
    )
    return True


_PLAIN_ATTRIBUTES = {
    "description": "Description",
    "kernel": "KernelId",
    "ramdisk": "RamdiskId",
}

#: The attributes EC2 has (botocore's C{ImageAttributeName}) that images
#: here never have a value for, with their member in the answer.
_EMPTY_ATTRIBUTES = {
    "productCodes": ("ProductCodes", []),
    "blockDeviceMapping": ("BlockDeviceMappings", []),
    "sriovNetSupport": ("SriovNetSupport", {}),
    "bootMode": ("BootMode", {}),
    "tpmSupport": ("TpmSupport", {}),
    "uefiData": ("UefiData", {}),
    "lastLaunchedTime": ("LastLaunchedTime", {}),
    "imdsSupport": ("ImdsSupport", {}),
    "deregistrationProtection": ("DeregistrationProtection", {}),
}


async def describeImageAttribute(call):
    """
    One attribute of an image: C{launchPermission} (owners only),
    C{description}, C{kernel}, C{ramdisk}, C{blockDeviceMapping} (an
    EBS-backed image's); the other attributes EC2 names (C{productCodes},
    C{bootMode} ...) are empty.
    An attribute EC2 does not name is C{InvalidRequest}, as EC2 answers.
    """
    params = call.params
    imageId, attribute = params.get("ImageId"), params.get("Attribute")
    if not imageId:
        raise MissingParameter("ImageId")
    if not attribute:
        raise MissingParameter("Attribute")
    images = _images(call)
    context = call.context
    result = {"ImageId": imageId}
    if attribute == "launchPermission":
        permission = await images.describeImageAttribute(context, imageId, attribute)
        result["LaunchPermissions"] = [{"Group": group} for group in permission.groups] + [
            {"UserId": project} for project in permission.projects
        ]
    elif attribute in _PLAIN_ATTRIBUTES:
        value = await images.describeImageAttribute(context, imageId, attribute)
        result[_PLAIN_ATTRIBUTES[attribute]] = {} if value is None else {"Value": value}
    elif attribute == "blockDeviceMapping" and call.backends.configured("compute"):
        record = await images.getImage(context, imageId)
        found = await call.backends.compute.blockDevices.imageMappings([record.ec2_id])
        result["BlockDeviceMappings"] = mappingShapes(found.get(record.ec2_id, ()))
    elif attribute in _EMPTY_ATTRIBUTES:
        await images.getImage(context, imageId)
        member, empty = _EMPTY_ATTRIBUTES[attribute]
        result[member] = empty
    else:
        raise InvalidRequest(
            f"The request received was invalid: {attribute[:100]!r} is not an image attribute."
        )
    return result


def _permissionChanges(params):
    """
    The launch permission changes a ModifyImageAttribute request asks
    for, in either form clients send: C{LaunchPermission.Add.N.Group} /
    C{.UserId} (and C{Remove}), or C{Attribute=launchPermission} with
    C{OperationType}, C{UserGroup.N} and C{UserId.N}.

    @return: a L{list} of C{(operation, groups, projects)}.
    """
    changes = []
    structured = params.get("LaunchPermission")
    if structured:
        for operation, key in (("add", "Add"), ("remove", "Remove")):
            entries = structured.get(key) or []
            groups = [e["Group"] for e in entries if e.get("Group")]
            projects = [e["UserId"] for e in entries if e.get("UserId")]
            if groups or projects:
                changes.append((operation, groups, projects))
    groups = list(params.get("UserGroups") or ())
    projects = list(params.get("UserIds") or ())
    if groups or projects:
        if structured:
            raise InvalidParameterCombination(
                "LaunchPermission cannot be used with UserGroup or UserId"
            )
        operation = params.get("OperationType")
        if operation not in ("add", "remove"):
            raise MissingParameter("OperationType")
        changes.append((operation, groups, projects))
    return changes


async def modifyImageAttribute(call):
    """
    Share an image (launch permission group C{all}, or projects) or stop
    sharing it, or change its description.
    """
    params = call.params
    imageId = params.get("ImageId")
    if not imageId:
        raise MissingParameter("ImageId")
    images = _images(call)
    context = call.context
    attribute = params.get("Attribute")
    description = params.get("Description")
    if description is not None or attribute == "description":
        value = description.get("Value") if description is not None else params.get("Value")
        if value is None:
            raise MissingParameter("Description")
        await images.modifyImageAttribute(context, imageId, "description", value=value)
        return None
    if attribute not in (None, "launchPermission"):
        raise InvalidParameterValue(
            f"Value ({attribute}) for parameter attribute is invalid. "
            "Only launchPermission and description can be modified."
        )
    changes = _permissionChanges(params)
    if not changes:
        raise MissingParameter("LaunchPermission")
    await images.getImage(context, imageId)
    for operation, groups, projects in changes:
        await images.modifyImageAttribute(
            context,
            imageId,
            "launchPermission",
            operation=operation,
            userIds=projects,
            userGroups=groups,
        )
    return None


async def resetImageAttribute(call):
    """
    Reset an image's launch permission: private, shared with no project.
    """
    params = call.params
    imageId, attribute = params.get("ImageId"), params.get("Attribute")
    if not imageId:
        raise MissingParameter("ImageId")
    if attribute != "launchPermission":
        raise InvalidParameterValue(
            f"Value ({attribute}) for parameter attribute is invalid. "
            "Only launchPermission can be reset."
        )
    await _images(call).resetImageAttribute(call.context, imageId, attribute)
    return None
