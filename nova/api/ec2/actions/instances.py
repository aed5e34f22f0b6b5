# -*- test-case-name: tests.api.ec2.test_instances -*-
"""
Instance actions: RunInstances, DescribeInstances, TerminateInstances,
StopInstances, StartInstances, RebootInstances, GetConsoleOutput,
GetVncConsole (Nova's),
GetPasswordData, DescribeInstanceAttribute, ModifyInstanceAttribute and
DescribeInstanceStatus.

The work is the compute API's (L{nova.compute.api.ComputeAPI}, as
C{call.backends.compute}): it checks quotas and the project, writes the
instances and casts to the scheduler.  This module turns EC2 parameters
into its arguments (key pair, user data, security groups, zone, image
checks through the image service) and its records into EC2's shapes,
with each instance's floating address, security groups, attached volumes
and tags.

User data arrives base64-encoded (boto3, boto 2 and the aws CLI encode
it); it is checked, kept as canonical base64 text, and the metadata
service gives guests the decoded bytes.

ModifyInstanceAttribute changes one attribute per request, given either
as C{Attribute} and C{Value} (the older form; C{Value} is text, user data
base64) or as the attribute's own member (C{InstanceType.Value},
C{UserData.Value} (a blob), C{DisableApiTermination.Value},
C{GroupId.N} ...); none or several is C{InvalidParameterCombination}.
The instance type, kernel, ramdisk and user data change only while the
instance is stopped (C{IncorrectInstanceState}), within the project's
quotas; termination protection (C{disableApiTermination}: while it is
on, TerminateInstances refuses the instance with C{OperationNotPermitted}),
the shutdown behavior (C{stop} or C{terminate}, what a shutdown from
inside the guest does) and the security groups (C{groupSet}: the
project's groups by id, replacing the instance's; the compute hosts
rebuild its filter) change at any time.  C{sourceDestCheck} is refused as
EC2-Classic refused it (C{InvalidParameterCombination}: there is no VPC);
the attributes of EBS, enhanced networking, enclaves and stop protection
are C{UnsupportedOperation}.  RunInstances takes
C{DisableApiTermination} and C{InstanceInitiatedShutdownBehavior} too.
The instance's record changes (what the descriptions, the quotas, the
scheduler and the metadata service see); a guest keeps the hardware,
kernel and ramdisk it was spawned with.
"""

import base64
import binascii
from datetime import datetime, timezone

import attr
from twisted.internet.defer import ensureDeferred, gatherResults, succeed

from nova.api.ec2.actions.paging import paginate
from nova.api.ec2.actions.tags import (
    INSTANCE,
    tagList,
    tagSpecifications,
    tagsOf,
)
from nova.api.ec2.errors import (
    EC2Error,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    UnsupportedOperation,
)
from nova.api.ec2.filters import applyFilters, exactValues
from nova.api.ec2.ids import IMAGE as IMAGE_IDS
from nova.api.ec2.ids import checkId
from nova.compute import states
from nova.compute.api import gatherInOrder, hypervisorType
from nova.compute.blockdevices import isEbsRooted
from nova.compute.errors import InvalidInstanceIDMalformed
from nova.compute.names import ec2InstanceId, parseInstanceId
from nova.network.vpn import visibleInstances
from nova.compute.keypairs import KeyPairNotFound
from nova.image.errors import ImageNotAvailable, ImageNotFound
from nova.image.service import AVAILABLE, KERNEL, RAMDISK, imageTypeOf
from nova.network.security_groups import DEFAULT_GROUP

#: EC2's limit on user data, decoded.
MAX_USER_DATA_BYTES = 16 * 1024

#: The root device instances boot from (instance-store images).
ROOT_DEVICE_NAME = "/dev/sda1"

DEFAULT_ARCHITECTURE = "x86_64"


@attr.s(frozen=True)
class InstanceView:
    """
    An instance with what its EC2 description needs besides its record.

    @ivar record: the L{nova.db.records.InstanceRecord}.
    @ivar tags: its tags (a L{dict}).
    @ivar publicIp: the floating address associated with it, or L{None}.
    @ivar groups: its security groups: C{(name, ec2 id or None)} pairs.
    @ivar image: the L{nova.db.images.ImageRecord} of its image, or
        L{None}.
    @ivar volumes: the L{nova.db.volumes.VolumeRecord}s attached to it.
    @ivar zone: its availability zone.
    @ivar hypervisor: the hypervisor its guest runs on
        (L{nova.compute.api.hypervisorType}).
    @ivar mappings: the L{nova.db.blockdevices.BlockDeviceMapping}s it was
        launched with.
    """

    record = attr.ib()
    tags = attr.ib(factory=dict)
    publicIp = attr.ib(default=None)
    groups = attr.ib(default=())
    image = attr.ib(default=None)
    volumes = attr.ib(default=())
    zone = attr.ib(default=None)
    hypervisor = attr.ib(default=None)
    mappings = attr.ib(default=())

    @property
    def state(self):
        return states.ec2State(self.record.state)

    @property
    def architecture(self):
        if self.image is not None and self.image.architecture:
            return self.image.architecture
        return DEFAULT_ARCHITECTURE

    @property
    def rootDeviceName(self):
        if self.image is not None and self.image.root_device_name:
            return self.image.root_device_name
        return ROOT_DEVICE_NAME


INSTANCE_FILTERS = {
    "instance-id": lambda v: v.record.ec2Id,
    "instance-state-name": lambda v: v.state[1],
    "instance-state-code": lambda v: v.state[0],
    "image-id": lambda v: v.record.image_id,
    "kernel-id": lambda v: v.record.kernel_id,
    "ramdisk-id": lambda v: v.record.ramdisk_id,
    "key-name": lambda v: v.record.key_name,
    "private-ip-address": lambda v: v.record.fixed_ip,
    "ip-address": lambda v: v.publicIp,
    "private-dns-name": lambda v: v.record.fixed_ip,
    "dns-name": lambda v: v.publicIp,
    "availability-zone": lambda v: v.zone,
    "instance-type": lambda v: v.record.instance_type,
    "reservation-id": lambda v: v.record.reservation_id,
    "owner-id": lambda v: v.record.project_id,
    "launch-index": lambda v: v.record.launch_index,
    "launch-time": lambda v: v.record.launched_at or v.record.created_at,
    "architecture": lambda v: v.architecture,
    "root-device-type": lambda v: "ebs" if isEbsRooted(v.mappings) else "instance-store",
    "root-device-name": lambda v: v.rootDeviceName,
    "group-name": lambda v: [name for name, _ in v.groups],
    "instance.group-name": lambda v: [name for name, _ in v.groups],
    "group-id": lambda v: [gid for _, gid in v.groups],
    "instance.group-id": lambda v: [gid for _, gid in v.groups],
    "block-device-mapping.volume-id": lambda v: [vol.ec2Id for vol in v.volumes],
    "block-device-mapping.device-name": lambda v: [vol.mountpoint for vol in v.volumes],
    "block-device-mapping.delete-on-termination": lambda v: [
        m.deleteOnTermination for m in v.mappings if m.volumeId is not None
    ],
    "monitoring-state": lambda v: "disabled",
    "tag": lambda v: v.tags,
}

STATUS_FILTERS = {
    "availability-zone": lambda s: s["AvailabilityZone"],
    "instance-state-name": lambda s: s["InstanceState"]["Name"],
    "instance-state-code": lambda s: s["InstanceState"]["Code"],
    "instance-status.status": lambda s: s["InstanceStatus"]["Status"],
    "instance-status.reachability": lambda s: [
        d["Status"] for d in s["InstanceStatus"].get("Details", ())
    ],
    "system-status.status": lambda s: s["SystemStatus"]["Status"],
    "system-status.reachability": lambda s: [
        d["Status"] for d in s["SystemStatus"].get("Details", ())
    ],
}


def _stateShape(state):
    code, name = states.ec2State(state)
    return {"Code": code, "Name": name}


async def instanceViews(call, instances):
    """
    Gather what the EC2 descriptions of C{instances} need, with one query
    per kind of data.

    @param instances: L{nova.db.records.InstanceRecord}s.
    @return: a L{list} of L{InstanceView}s in the same order.
    """
    if not instances:
        return []
    backends = call.backends
    context = call.context

    ids = [i.id for i in instances]
    # The reads are independent: they run at once.
    reads = [
        tagsOf(call, [i.ec2Id for i in instances]),
        backends.network.floatingIpsByInstance(context)
        if backends.configured("network")
        else succeed({}),
        backends.securityGroups.visibleGroups(context)
        if backends.configured("securityGroups")
        else succeed([]),
        backends.compute.imagesOfInstances(context, instances),
        backends.volumes.describeVolumes(context)
        if backends.configured("volumes")
        else succeed([]),
        backends.compute.blockDevices.instanceMappings(ids),
    ]
    tags, floating, groups, images, volumes, mappings = await gatherResults(
        [ensureDeferred(read) for read in reads], consumeErrors=True
    ).addErrback(lambda failure: failure.value.subFailure)
    return _views(call, instances, tags, floating, groups, images, volumes, mappings)


async def launchedViews(call, instances, groups, image, tags, mappings):
    """
    The EC2 descriptions of instances RunInstances has just made, from
    what the request read and wrote, as L{instanceViews} would read them:
    the request's tags, groups and image, no public address and no volume
    yet.  Only block device mappings, when there are any, are read.

    @param groups: the L{nova.db.security_groups.SecurityGroupRecord}s the
        instances joined.
    @param image: the L{nova.db.images.ImageRecord} they run.
    @param tags: the C{(key, value)} pairs they were tagged with.
    @param mappings: the block device mappings they were launched with.
    @return: a L{list} of L{InstanceView}s in the same order.
    """
    found = {}
    if mappings:
        found = await call.backends.compute.blockDevices.instanceMappings([i.id for i in instances])
    tagged = {instance.ec2Id: dict(tags) for instance in instances} if tags else {}
    return _views(call, instances, tagged, {}, groups, {image.ec2_id: image}, (), found)


def _views(call, instances, tags, floating, groups, images, volumes, mappings):
    """
    @return: the L{InstanceView}s of C{instances}, from what
        L{instanceViews} reads.
    """
    groupIds = {(group.project_id, group.name): group.ec2Id for group in groups}
    attached = {}
    for volume in volumes:
        if volume.instance_id is not None and volume.attach_status == "attached":
            attached.setdefault(volume.instance_id, []).append(volume)
    defaultZone = call.backends.config.node_availability_zone
    hypervisor = hypervisorType(call.backends.config)
    views = []
    for instance in instances:
        names = tuple(
            (name, groupIds.get((instance.project_id, name)))
            for name in instance.securityGroups
        )
        views.append(
            InstanceView(
                record=instance,
                tags=tags.get(instance.ec2Id, {}),
                publicIp=floating.get(instance.id),
                groups=names,
                image=images.get(instance.image_id),
                volumes=tuple(attached.get(instance.id, ())),
                zone=instance.availability_zone or defaultZone,
                hypervisor=hypervisor,
                mappings=tuple(mappings.get(instance.id, ())),
            )
        )
    return views


def _groupShapes(groups):
    shapes = []
    for name, groupId in groups:
        shape = {"GroupName": name}
        if groupId is not None:
            shape["GroupId"] = groupId
        shapes.append(shape)
    return shapes


def instanceShape(view):
    """
    @return: the EC2 C{Instance} structure of an L{InstanceView}.
    """
    record = view.record
    shape = {
        "InstanceId": record.ec2Id,
        "ImageId": record.image_id,
        "State": _stateShape(record.state),
        "PrivateDnsName": record.fixed_ip or "",
        # As EC2: no public name without a public (floating) address.
        "PublicDnsName": view.publicIp or "",
        "StateTransitionReason": "",
        "KeyName": record.key_name,
        "AmiLaunchIndex": record.launch_index,
        "ProductCodes": [],
        "InstanceType": record.instance_type,
        "LaunchTime": record.launched_at or record.created_at,
        "Placement": {"AvailabilityZone": view.zone, "GroupName": "", "Tenancy": "default"},
        "KernelId": record.kernel_id,
        "RamdiskId": record.ramdisk_id,
        "Monitoring": {"State": "disabled"},
        "PrivateIpAddress": record.fixed_ip,
        "PublicIpAddress": view.publicIp,
        "Architecture": view.architecture,
        "RootDeviceType": "ebs" if isEbsRooted(view.mappings) else "instance-store",
        "RootDeviceName": view.rootDeviceName,
        "BlockDeviceMappings": [
            {
                "DeviceName": volume.mountpoint,
                "Ebs": {
                    "VolumeId": volume.ec2Id,
                    "Status": "attached",
                    "AttachTime": volume.attach_time,
                    "DeleteOnTermination": any(
                        m.volumeId == volume.id and m.deleteOnTermination
                        for m in view.mappings
                    ),
                },
            }
            for volume in view.volumes
        ],
        "VirtualizationType": "paravirtual" if record.kernel_id else "hvm",
        "Hypervisor": view.hypervisor,
        "SecurityGroups": _groupShapes(view.groups),
        "Tags": tagList(view.tags),
        "EbsOptimized": False,
    }
    if record.state == states.ERROR:
        shape["StateReason"] = {
            "Code": "Server.InternalError",
            "Message": record.state_description or "Server.InternalError",
        }
        shape["StateTransitionReason"] = record.state_description or ""
    elif record.state in (states.SHUTTING_DOWN, states.TERMINATED, states.STOPPING, states.STOPPED):
        shape["StateReason"] = {
            "Code": "Client.UserInitiatedShutdown",
            "Message": "Client.UserInitiatedShutdown: User initiated shutdown",
        }
        shape["StateTransitionReason"] = "User initiated"
    return shape


def reservationShapes(views):
    """
    Group instance views into EC2 reservations, in the order of their
    first instances.
    """
    reservations = {}
    for view in views:
        record = view.record
        reservation = reservations.get(record.reservation_id)
        if reservation is None:
            reservation = reservations[record.reservation_id] = {
                "ReservationId": record.reservation_id,
                "OwnerId": record.project_id,
                "Groups": _groupShapes(view.groups),
                "Instances": [],
            }
        reservation["Instances"].append(instanceShape(view))
    return list(reservations.values())


# -- RunInstances --------------------------------------------------------


def decodeUserData(text):
    """
    Check user data as EC2 takes it: base64 of at most 16 KiB.

    @param text: the C{UserData} parameter.
    @return: the canonical base64 text to keep, or L{None} for none.
    @raise InvalidParameterValue: if it is not base64 or too large.
    """
    if text is None:
        return None
    compact = "".join(text.split())
    if not compact:
        return None
    try:
        data = base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidParameterValue("Invalid BASE64 encoding of user data.") from None
    return encodeUserData(data)


def encodeUserData(data):
    """
    Check user data given as bytes (a blob, such as
    ModifyInstanceAttribute's C{UserData.Value}, which the framework has
    decoded): at most 16 KiB.

    @return: the canonical base64 text to keep, or L{None} for none.
    @raise InvalidParameterValue: if it is too large.
    """
    if not data:
        return None
    if len(data) > MAX_USER_DATA_BYTES:
        raise InvalidParameterValue(
            f"User data is limited to {MAX_USER_DATA_BYTES} bytes (got {len(data)})."
        )
    return base64.b64encode(data).decode("ascii")


async def _keyData(call, keyName):
    if keyName is None:
        return None
    try:
        record = await call.backends.keyPairs.getKeyPair(call.context, keyName)
    except KeyPairNotFound:
        raise KeyPairNotFound(f"The key pair '{keyName}' does not exist") from None
    return record.public_key


async def _securityGroups(call):
    """
    The security groups an instance joins: C{SecurityGroup.N} names and
    C{SecurityGroupId.N} ids, each existing in the caller's project;
    C{default} if none is given.

    @return: a L{list} of L{nova.db.security_groups.SecurityGroupRecord}s.
    """
    params = call.params
    context = call.context
    securityGroups = call.backends.securityGroups
    names = list(params.get("SecurityGroups") or ())
    ids = list(params.get("SecurityGroupIds") or ())
    if not names and not ids:
        names = [DEFAULT_GROUP]
    chosen = {}
    # The project's default group is made if it has none, whatever the
    # groups asked for.
    for group in await securityGroups.groupsNamed(context, names or [DEFAULT_GROUP]):
        if group.name in names:
            chosen[group.id] = group
    for group in await securityGroups.groupsByIds(context, ids):
        chosen[group.id] = group
    return list(chosen.values())


async def _zone(call):
    """
    @return: the availability zone (or, for superusers, C{zone:host})
        asked for, checked against the zones the host API names;
        L{None} if none is given.
    """
    placement = call.params.get("Placement") or {}
    zone = placement.get("AvailabilityZone")
    if not zone:
        return None
    name, colon, host = zone.partition(":")
    if colon and not call.context.isAdmin:
        raise InvalidParameterValue(f"Invalid availability zone: [{zone}]")
    if name not in await call.backends.hosts.zoneNames(call.context):
        raise InvalidParameterValue(f"Invalid availability zone: [{name}]")
    return zone


async def runInstances(call):
    """
    Launch C{MinCount} to C{MaxCount} instances of an image, as many as
    the project's quota allows.
    """
    params = call.params
    context = call.context
    backends = call.backends
    imageId = params.get("ImageId")
    if not imageId:
        raise MissingParameter("ImageId")
    if context.projectId is None:
        raise EC2Error("AuthFailure", "RunInstances needs a project.", 403)
    userData = decodeUserData(params.get("UserData"))
    wantedTags = tagSpecifications(params, (INSTANCE,))
    kernelId, ramdiskId = params.get("KernelId"), params.get("RamdiskId")

    async def images():
        if not backends.configured("images"):
            if params.get("BlockDeviceMappings"):
                raise UnsupportedOperation("Block device mappings need the image service.")
            return kernelId, ramdiskId, (), None
        launch = await backends.images.checkLaunch(context, imageId, kernelId, ramdiskId)
        mappings = await backends.compute.blockDevices.launchMappings(
            context, launch.image, params.get("BlockDeviceMappings")
        )
        return launch.kernelId, launch.ramdiskId, mappings, launch.image

    keyName = params.get("KeyName")
    # The checks are independent: they run at once (the first failure, in
    # this order, answers).
    (kernelId, ramdiskId, mappings, image), keyData, groups, zone = await gatherInOrder(
        [
            ensureDeferred(images()),
            ensureDeferred(_keyData(call, keyName)),
            ensureDeferred(_securityGroups(call)),
            ensureDeferred(_zone(call)),
        ]
    )
    instanceTags = wantedTags.get(INSTANCE, ())
    reservationId, instances, created = await backends.compute.runInstances(
        context,
        imageId,
        params["MinCount"],
        params["MaxCount"],
        instanceType=params.get("InstanceType"),
        keyName=keyName,
        keyData=keyData,
        userData=userData,
        securityGroups=[group.name for group in groups],
        kernelId=kernelId,
        ramdiskId=ramdiskId,
        availabilityZone=zone,
        clientToken=params.get("ClientToken"),
        disableApiTermination=params.get("DisableApiTermination", False),
        shutdownBehavior=params.get("InstanceInitiatedShutdownBehavior"),
        blockDeviceMappings=mappings,
        # Written with the instances, in one transaction.
        tags=instanceTags,
    )
    if created and image is not None:
        views = await launchedViews(call, instances, groups, image, instanceTags, mappings)
    else:
        # Made before, with this client token (or launched without the
        # image service): read as they are now.
        views = await instanceViews(call, instances)
    [reservation] = reservationShapes(views)
    token = params.get("ClientToken")
    if token is not None:
        for shape in reservation["Instances"]:
            shape["ClientToken"] = token
    return reservation


# -- DescribeInstances ----------------------------------------------------


def _instanceNumbers(ec2Ids):
    """
    @param ec2Ids: the values an C{instance-id} filter allows, or L{None}.
    @return: the numeric ids of those that are instance ids (others match
        no instance), or L{None}.
    """
    if ec2Ids is None:
        return None
    numbers = set()
    for value in ec2Ids:
        try:
            numbers.add(parseInstanceId(value))
        except InvalidInstanceIDMalformed:
            pass
    return numbers


async def describeInstances(call):
    """
    The instances the caller may see (recently terminated ones too), by
    id and filters, grouped into reservations, in pages of C{MaxResults}
    instances.
    """
    params = call.params
    filters = params.get("Filters")
    instances = await call.backends.compute.describeInstances(
        call.context,
        params.get("InstanceIds") or None,
        within=_instanceNumbers(exactValues(filters, "instance-id")),
    )
    # Cloudpipe VPN instances are the admins' to see (as in Cactus).
    instances = visibleInstances(call.backends.config, call.context, instances)
    views = await instanceViews(call, instances)
    views = applyFilters(filters, views, INSTANCE_FILTERS)
    page, nextToken = paginate(call, views, lambda view: view.record.id)
    return {"Reservations": reservationShapes(page), "NextToken": nextToken}


async def describeInstancesV6(call):
    """
    Cactus's C{DescribeInstancesV6}: L{describeInstances} with each
    instance's IPv6 DNS name (C{dnsNameV6}).  This cloud gives instances
    no IPv6 address, so it is empty.
    """
    result = await describeInstances(call)
    for reservation in result["Reservations"]:
        for instance in reservation["Instances"]:
            instance["DnsNameV6"] = ""
    return result


# -- state changes --------------------------------------------------------


def _changeShapes(changes):
    return [
        {
            "InstanceId": ec2InstanceId(change.instanceId),
            "CurrentState": _stateShape(change.currentState),
            "PreviousState": _stateShape(change.previousState),
        }
        for change in changes
    ]


def _instanceIds(call):
    ids = call.params.get("InstanceIds") or []
    if not ids:
        raise MissingParameter("InstanceId")
    return ids


async def terminateInstances(call):
    """
    Terminate instances: they leave their security groups at once.
    """
    changes = await call.backends.compute.terminateInstances(call.context, _instanceIds(call))
    securityGroups = call.backends.securityGroups
    for change in changes:
        if change.previousState != change.currentState:
            await securityGroups.removeInstance(call.context, change.instanceId)
    return {"TerminatingInstances": _changeShapes(changes)}


async def stopInstances(call):
    """
    Stop running instances.
    """
    changes = await call.backends.compute.stopInstances(call.context, _instanceIds(call))
    return {"StoppingInstances": _changeShapes(changes)}


async def startInstances(call):
    """
    Start stopped instances.
    """
    changes = await call.backends.compute.startInstances(call.context, _instanceIds(call))
    return {"StartingInstances": _changeShapes(changes)}


async def rebootInstances(call):
    """
    Reboot running instances.
    """
    await call.backends.compute.rebootInstances(call.context, _instanceIds(call))
    return True


def _parseTimestamp(text):
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except (TypeError, ValueError):
            continue
    return None


async def getConsoleOutput(call):
    """
    An instance's console output, base64-encoded as EC2 gives it.
    """
    instanceId = call.params.get("InstanceId")
    if not instanceId:
        raise MissingParameter("InstanceId")
    result = await call.backends.compute.getConsoleOutput(call.context, instanceId)
    output = result.get("output") or ""
    if isinstance(output, str):
        output = output.encode("utf-8", "replace")
    timestamp = _parseTimestamp(result.get("timestamp"))
    if timestamp is None:
        timestamp = datetime.fromtimestamp(call.backends.clock.seconds(), timezone.utc)
    return {
        "InstanceId": result.get("instanceId") or instanceId,
        "Timestamp": timestamp,
        "Output": base64.b64encode(output).decode("ascii"),
    }


async def getVncConsole(call):
    """
    Nova's extension (Cactus): open an instance's VNC console.  The answer
    names the websocket URL, with its short-lived token, that noVNC opens
    through nova-api's proxy, and the VNC password to give there
    (L{nova.compute.api.ComputeAPI.getVncConsole}).  An instance that is
    not running is C{IncorrectInstanceState}; one whose hypervisor serves
    no VNC console, C{UnsupportedOperation}.
    """
    result = await call.backends.compute.getVncConsole(call.context, call.params["InstanceId"])
    return {
        "InstanceId": result["instanceId"],
        "Type": result["type"],
        "Url": result["url"],
        "Token": result["token"],
        "Password": result.get("password") or "",
        "Expires": result["expires"],
    }


async def getPasswordData(call):
    """
    An instance's encrypted administrator password, as EC2 gives it for
    Windows guests.  Nova's guests are Linux, which have none: as EC2
    answers for them, C{PasswordData} is empty and C{Timestamp} is now.
    Another project's instance is C{InvalidInstanceID.NotFound}.
    """
    instance = await call.backends.compute.getInstance(
        call.context, call.params["InstanceId"]
    )
    return {
        "InstanceId": instance.ec2Id,
        "Timestamp": datetime.fromtimestamp(call.backends.clock.seconds(), timezone.utc),
        "PasswordData": "",
    }


# -- attributes and status -----------------------------------------------


def _value(value):
    return {} if value is None else {"Value": value}


_ATTRIBUTES = {
    "instanceType": ("InstanceType", lambda v: _value(v.record.instance_type)),
    "kernel": ("KernelId", lambda v: _value(v.record.kernel_id)),
    "ramdisk": ("RamdiskId", lambda v: _value(v.record.ramdisk_id)),
    "userData": ("UserData", lambda v: _value(v.record.user_data)),
    "disableApiTermination": (
        "DisableApiTermination",
        lambda v: {"Value": bool(v.record.disable_api_termination)},
    ),
    "disableApiStop": ("DisableApiStop", lambda v: {"Value": False}),
    "instanceInitiatedShutdownBehavior": (
        "InstanceInitiatedShutdownBehavior",
        lambda v: _value(v.record.shutdown_behavior),
    ),
    "rootDeviceName": ("RootDeviceName", lambda v: _value(v.rootDeviceName)),
    "groupSet": ("Groups", lambda v: _groupShapes(v.groups)),
    "blockDeviceMapping": (
        "BlockDeviceMappings",
        lambda v: instanceShape(v)["BlockDeviceMappings"],
    ),
    "productCodes": ("ProductCodes", lambda v: []),
    "sourceDestCheck": ("SourceDestCheck", lambda v: {"Value": True}),
    "ebsOptimized": ("EbsOptimized", lambda v: {"Value": False}),
    "enaSupport": ("EnaSupport", lambda v: {"Value": False}),
    "sriovNetSupport": ("SriovNetSupport", lambda v: {}),
}


async def describeInstanceAttribute(call):
    """
    One attribute of an instance.
    """
    params = call.params
    attribute = params.get("Attribute")
    instanceId = params.get("InstanceId")
    if not instanceId:
        raise MissingParameter("InstanceId")
    if not attribute:
        raise MissingParameter("Attribute")
    if attribute not in _ATTRIBUTES:
        raise InvalidParameterValue(
            f"Value ({attribute}) for parameter attribute is invalid. Unknown attribute."
        )
    instance = await call.backends.compute.getInstance(call.context, instanceId)
    [view] = await instanceViews(call, [instance])
    member, value = _ATTRIBUTES[attribute]
    return {"InstanceId": instance.ec2Id, member: value(view)}


#: ModifyInstanceAttribute: each attribute EC2 modifies, with the member
#: of the structured form that names it (C{InstanceType.Value},
#: C{GroupId.N} ...).
_MODIFY_MEMBERS = {
    "instanceType": "InstanceType",
    "kernel": "Kernel",
    "ramdisk": "Ramdisk",
    "userData": "UserData",
    "disableApiTermination": "DisableApiTermination",
    "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
    "groupSet": "Groups",
    "sourceDestCheck": "SourceDestCheck",
    "blockDeviceMapping": "BlockDeviceMappings",
    "ebsOptimized": "EbsOptimized",
    "sriovNetSupport": "SriovNetSupport",
    "enaSupport": "EnaSupport",
    "enclaveOptions": "EnclaveOptions",
    "disableApiStop": "DisableApiStop",
}

#: Attributes EC2 modifies that instances here do not have (no EBS, no
#: enhanced networking, no enclaves, no stop protection).
_UNSUPPORTED_MODIFICATIONS = frozenset(
    {
        "blockDeviceMapping",
        "ebsOptimized",
        "sriovNetSupport",
        "enaSupport",
        "enclaveOptions",
        "disableApiStop",
    }
)

#: The attributes whose structured member is a boolean.
_BOOLEAN_ATTRIBUTES = frozenset({"disableApiTermination", "sourceDestCheck"})


def _modifiedAttribute(params):
    """
    The one attribute a ModifyInstanceAttribute request changes, in either
    form: C{Attribute} and C{Value}, or the attribute's own member.

    @return: C{(attribute, value, legacy)}: the attribute's name, the
        value given (L{None} when the member carries no C{Value}), and
        whether it came as C{Value} (text).
    @raise InvalidParameterCombination: for no attribute or several.
    @raise MissingParameter: for C{Value} without C{Attribute}, or
        C{Attribute} without a value.
    """
    attribute = params.get("Attribute")
    value = params.get("Value")
    structured = [name for name, member in _MODIFY_MEMBERS.items() if member in params]
    named = set(structured)
    if attribute is not None:
        named.add(attribute)
    if len(named) > 1:
        raise InvalidParameterCombination(
            "Fields for multiple attribute types specified: " + ", ".join(sorted(named))
        )
    if not named:
        if value is not None:
            raise MissingParameter("Attribute")
        raise InvalidParameterCombination("No attributes specified.")
    [name] = named
    if value is not None:
        if attribute is None:
            raise MissingParameter("Attribute")
        if structured:
            raise InvalidParameterCombination(
                f"Value and {_MODIFY_MEMBERS[name]} both give the attribute {name}."
            )
        return name, value, True
    if not structured:
        raise MissingParameter("Value")
    given = params[_MODIFY_MEMBERS[name]]
    if name == "groupSet" or not isinstance(given, dict):
        return name, given, False
    return name, given.get("Value"), False


def _booleanValue(name, text):
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise InvalidParameterValue(f"Value ({text}) for parameter {name} is invalid. Expected a boolean.")


async def _bootImageId(call, imageId, imageType):
    """
    Check a kernel or ramdisk as RunInstances checks C{KernelId} and
    C{RamdiskId}: an image of that type, available and visible to the
    caller.

    @return: C{imageId}.
    @raise ImageNotFound: C{InvalidAMIID.NotFound}, also for an image of
        another type.
    @raise EC2Error: C{InvalidAMIID.Malformed} for an id that is not an
        image id (L{nova.api.ec2.ids}).
    """
    checkId(IMAGE_IDS, imageId)
    if imageTypeOf(imageId) != imageType:
        raise ImageNotFound(f"The image id '[{imageId}]' does not exist")
    if call.backends.configured("images"):
        record = await call.backends.images.getImage(call.context, imageId)
        if record.state != AVAILABLE:
            raise ImageNotAvailable(f"Image {imageId} is not available (state {record.state})")
    return imageId


async def modifyInstanceAttribute(call):
    """
    Change one attribute of an instance: C{instanceType}, C{kernel},
    C{ramdisk} and C{userData} while it is stopped; C{disableApiTermination},
    C{instanceInitiatedShutdownBehavior} and C{groupSet} (the project's
    groups by id, which replace its groups) at any time.
    """
    params = call.params
    instanceId = params.get("InstanceId")
    if not instanceId:
        raise MissingParameter("InstanceId")
    name, value, legacy = _modifiedAttribute(params)
    if name not in _MODIFY_MEMBERS:
        reason = "This attribute cannot be modified." if name in _ATTRIBUTES else "Unknown attribute."
        raise InvalidParameterValue(
            f"Value ({name}) for parameter attribute is invalid. {reason}"
        )
    compute = call.backends.compute
    instance = await compute.getInstance(call.context, instanceId)
    if name in _UNSUPPORTED_MODIFICATIONS:
        raise UnsupportedOperation(f"The attribute {name} is not supported on this cloud's instances.")
    if name == "sourceDestCheck":
        # Instances here are EC2-Classic instances: no VPC.
        raise InvalidParameterCombination(
            "You may only modify the sourceDestCheck attribute for VPC instances"
        )
    if name == "groupSet":
        if legacy:
            raise InvalidParameterCombination("The attribute groupSet takes GroupId.N, not Value.")
        await _modifyGroups(call, instance, value)
        return True
    if value is None:
        raise MissingParameter(f"{_MODIFY_MEMBERS[name]}.Value")
    if name in _BOOLEAN_ATTRIBUTES and legacy:
        value = _booleanValue(name, value)
    if name == "userData":
        value = decodeUserData(value) if legacy else encodeUserData(value)
        await compute.modifyInstance(call.context, instance.id, userData=value)
    elif name in ("kernel", "ramdisk"):
        imageType = KERNEL if name == "kernel" else RAMDISK
        imageId = await _bootImageId(call, value, imageType)
        await compute.modifyInstance(call.context, instance.id, **{name + "Id": imageId})
    elif name == "instanceType":
        await compute.modifyInstance(call.context, instance.id, instanceType=value)
    elif name == "disableApiTermination":
        await compute.modifyInstance(call.context, instance.id, disableApiTermination=value)
    else:
        await compute.modifyInstance(call.context, instance.id, shutdownBehavior=value)
    return True


async def _modifyGroups(call, instance, groupIds):
    """
    Replace an instance's security groups with the groups of its project
    that C{groupIds} name; the compute hosts rebuild the filters.
    """
    ids = list(dict.fromkeys(groupIds or ()))
    if not ids:
        raise MissingParameter("GroupId")
    # An admin may change another project's instance: its groups are its
    # project's.
    context = attr.evolve(call.context, projectId=instance.project_id)
    groups = await call.backends.securityGroups.groupsByIds(context, ids)
    names = [group.name for group in groups]
    await call.backends.compute.modifyInstance(context, instance.id, securityGroups=names)
    await call.backends.securityGroups.setInstanceGroups(context, instance.id, names)


def _statusShape(view):
    record = view.record
    running = record.state in (states.RUNNING, states.REBOOTING)
    if running:
        status = {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
    else:
        status = {"Status": "not-applicable"}
    return {
        "InstanceId": record.ec2Id,
        "AvailabilityZone": view.zone,
        "InstanceState": _stateShape(record.state),
        "InstanceStatus": status,
        "SystemStatus": dict(status),
        "Events": [],
    }


# -- Nova's own: rescue and update ---------------------------------------


async def rescueInstance(call):
    """
    Nova's C{RescueInstance}: boot the instance's rescue image (the
    C{--rescue_image_id} flag, by default its own image) with its root
    disk attached second; it shows as C{pending}, then C{running}.  Only
    a running instance is rescued (C{IncorrectInstanceState} otherwise).
    """
    await call.backends.compute.rescueInstance(call.context, call.params["InstanceId"])
    return True


async def unrescueInstance(call):
    """
    Nova's C{UnrescueInstance}: boot a rescued instance from its own disk
    again.
    """
    await call.backends.compute.unrescueInstance(call.context, call.params["InstanceId"])
    return True


async def updateInstance(call):
    """
    Nova's C{UpdateInstance}: change an instance's display name
    (C{DisplayName}) and description (C{DisplayDescription}), each at most
    255 characters; an absent one is left as it is.
    """
    params = call.params
    await call.backends.compute.updateInstance(
        call.context,
        params["InstanceId"],
        displayName=params.get("DisplayName"),
        displayDescription=params.get("DisplayDescription"),
    )
    return True


async def describeInstanceStatus(call):
    """
    The status of running instances (of every visible one with
    C{IncludeAllInstances}); checks always pass for a running instance.
    """
    params = call.params
    instances = await call.backends.compute.describeInstances(
        call.context, params.get("InstanceIds") or None
    )
    if not params.get("IncludeAllInstances", False):
        instances = [i for i in instances if i.state in (states.RUNNING, states.REBOOTING)]
    views = await instanceViews(call, instances)
    statuses = applyFilters(
        params.get("Filters"), [_statusShape(view) for view in views], STATUS_FILTERS
    )
    page, nextToken = paginate(call, statuses, lambda s: int(s["InstanceId"][2:], 16))
    return {"InstanceStatuses": page, "NextToken": nextToken}
