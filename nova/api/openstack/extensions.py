# -*- test-case-name: tests.api.openstack.test_extensions -*-
"""
The compute API's extensions (C{/v1.1}, C{/v2}, C{/v2.1}): the list at
C{/extensions}, and floating IPs (C{os-floating-ips}), security groups
(C{os-security-groups}, C{os-security-group-rules}) and volumes
(C{os-volumes}, C{/servers/{id}/os-volume_attachments}).  Key pairs
(C{os-keypairs}) are routed in L{nova.api.openstack.compute}.

Each is a thin translation over a service API (the network API, the
security group API, the volume API), under the EC2 action each request
amounts to in L{nova.auth.policy}.  Floating IPs are named by their
database id, security groups and their rules by theirs, volumes by
their EC2 ids (C{vol-...}).
"""

from nova.api.openstack import faults
from nova.api.openstack.resource import Response, route
from nova.auth import policy
from nova.network.security_groups import formatGroupId

#: The extensions C{/extensions} lists: alias, name, description.
EXTENSIONS = (
    ("os-keypairs", "Keypairs", "Keypair support: create, import, list and delete key pairs."),
    ("os-floating-ips", "FloatingIps", "Floating IPs: allocate, associate and release them."),
    ("os-security-groups", "SecurityGroups", "Security groups and their rules."),
    ("os-volumes", "Volumes", "Volumes: create, list and delete them; attach and detach."),
    ("os-availability-zone", "AvailabilityZone", "The availability zones."),
    ("os-consoles", "Consoles", "VNC consoles: os-getVNCConsole and remote-consoles (novnc)."),
)

#: Where the floating addresses come from.
FLOATING_POOL = "nova"


def _allowed(context, action):
    if not policy.allowed(context, action):
        raise faults.Forbidden(f"Policy doesn't allow {action} to be performed.")


def _isotime(when):
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(call, key):
    body = call.body
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise faults.BadRequest(f"Expecting to find {key} in the request body.")
    return body[key]


class ExtensionRoutes:
    """
    The routes of the extensions, mixed into
    L{nova.api.openstack.compute.ComputeRouter}.
    """

    # -- the list ----------------------------------------------------------

    @staticmethod
    def _extensionView(alias, name, description):
        return {
            "alias": alias,
            "name": name,
            "description": description,
            "namespace": f"http://docs.openstack.org/compute/ext/{alias}/api/v1.1",
            "updated": "2011-03-25T00:00:00Z",
            "links": [],
        }

    @route("GET", "extensions")
    async def listExtensions(self, call):
        return Response({"extensions": [self._extensionView(*e) for e in EXTENSIONS]})

    @route("GET", "extensions/{alias}")
    async def showExtension(self, call):
        for extension in EXTENSIONS:
            if extension[0] == call.args["alias"]:
                return Response({"extension": self._extensionView(*extension)})
        raise faults.ItemNotFound(f"Extension {call.args['alias']} could not be found.")

    # -- floating IPs ------------------------------------------------------

    async def _floatingViews(self, call, records):
        uuids = {}
        if any(r.instance_id for r in records):
            for instance in await self.backends.compute.describeInstances(call.context):
                uuids[instance.id] = instance.uuid
        return [
            {
                "id": record.id,
                "ip": record.address,
                "fixed_ip": record.fixed_address,
                "instance_id": uuids.get(record.instance_id),
                "pool": FLOATING_POOL,
            }
            for record in records
        ]

    async def _floatingRecord(self, call, floatingId):
        for record in await self.backends.network.describeFloatingIps(call.context):
            if str(record.id) == floatingId:
                return record
        raise faults.ItemNotFound(f"Floating IP {floatingId} could not be found.")

    @route("GET", "os-floating-ips")
    async def listFloatingIps(self, call):
        _allowed(call.context, "DescribeAddresses")
        records = await self.backends.network.describeFloatingIps(call.context)
        return Response({"floating_ips": await self._floatingViews(call, records)})

    @route("GET", "os-floating-ip-pools")
    async def listFloatingIpPools(self, call):
        _allowed(call.context, "DescribeAddresses")
        return Response({"floating_ip_pools": [{"name": FLOATING_POOL}]})

    @route("GET", "os-floating-ips/{id}")
    async def showFloatingIp(self, call):
        _allowed(call.context, "DescribeAddresses")
        record = await self._floatingRecord(call, call.args["id"])
        [view] = await self._floatingViews(call, [record])
        return Response({"floating_ip": view})

    @route("POST", "os-floating-ips")
    async def allocateFloatingIp(self, call):
        _allowed(call.context, "AllocateAddress")
        pool = call.body.get("pool") if isinstance(call.body, dict) else None
        if pool not in (None, FLOATING_POOL):
            raise faults.ItemNotFound(f"Floating IP pool {pool} not found.")
        address = await self.backends.network.allocateFloatingIp(call.context)
        [record] = await self.backends.network.describeFloatingIps(call.context, [address])
        [view] = await self._floatingViews(call, [record])
        return Response({"floating_ip": view})

    @route("DELETE", "os-floating-ips/{id}")
    async def releaseFloatingIp(self, call):
        _allowed(call.context, "ReleaseAddress")
        record = await self._floatingRecord(call, call.args["id"])
        if record.instance_id is not None:
            await self.backends.network.disassociateFloatingIp(call.context, record.address)
        await self.backends.network.releaseFloatingIp(call.context, record.address)
        return Response(None, 202)

    async def addFloatingIp(self, call, instance, argument):
        """
        The C{addFloatingIp} server action.
        """
        _allowed(call.context, "AssociateAddress")
        address = argument.get("address") if isinstance(argument, dict) else None
        if not isinstance(address, str) or not address:
            raise faults.BadRequest("addFloatingIp needs an address.")
        await self.backends.network.associateFloatingIp(call.context, address, instance.id)

    async def removeFloatingIp(self, call, instance, argument):
        """
        The C{removeFloatingIp} server action.
        """
        _allowed(call.context, "DisassociateAddress")
        address = argument.get("address") if isinstance(argument, dict) else None
        if not isinstance(address, str) or not address:
            raise faults.BadRequest("removeFloatingIp needs an address.")
        [record] = await self.backends.network.describeFloatingIps(call.context, [address])
        if record.instance_id != instance.id:
            raise faults.Conflict(f"Floating IP {address} is not associated with this server.")
        await self.backends.network.disassociateFloatingIp(call.context, address)

    # -- security groups ---------------------------------------------------

    @staticmethod
    def _ruleView(rule, groupNames):
        view = {
            "id": rule.id,
            "parent_group_id": rule.parent_group_id,
            "ip_protocol": None if rule.protocol == "-1" else rule.protocol,
            "from_port": rule.from_port,
            "to_port": rule.to_port,
            "ip_range": {"cidr": rule.cidr} if rule.cidr else {},
            "group": {},
        }
        if rule.group_id is not None:
            view["group"] = {
                "name": rule.source_group_name or groupNames.get(rule.group_id),
                "tenant_id": rule.source_project_id,
            }
        return view

    def _groupView(self, group, groupNames):
        return {
            "id": group.id,
            "name": group.name,
            "description": group.description,
            "tenant_id": group.project_id,
            "rules": [self._ruleView(rule, groupNames) for rule in group.rules],
        }

    async def _groups(self, call):
        return await self.backends.securityGroups.describe(call.context)

    async def _group(self, call, groupId):
        for group in await self._groups(call):
            if str(group.id) == str(groupId):
                return group
        raise faults.ItemNotFound(f"Security group {groupId} not found.")

    @route("GET", "os-security-groups")
    async def listSecurityGroups(self, call):
        _allowed(call.context, "DescribeSecurityGroups")
        groups = await self._groups(call)
        names = {g.id: g.name for g in groups}
        return Response({"security_groups": [self._groupView(g, names) for g in groups]})

    @route("GET", "os-security-groups/{id}")
    async def showSecurityGroup(self, call):
        _allowed(call.context, "DescribeSecurityGroups")
        groups = await self._groups(call)
        group = await self._group(call, call.args["id"])
        return Response({"security_group": self._groupView(group, {g.id: g.name for g in groups})})

    @route("POST", "os-security-groups")
    async def createSecurityGroup(self, call):
        _allowed(call.context, "CreateSecurityGroup")
        wanted = _body(call, "security_group")
        name, description = wanted.get("name"), wanted.get("description")
        if not isinstance(name, str) or not isinstance(description, str):
            raise faults.BadRequest("A security group needs a name and a description.")
        group = await self.backends.securityGroups.create(call.context, name, description)
        return Response({"security_group": self._groupView(group, {})})

    @route("DELETE", "os-security-groups/{id}")
    async def deleteSecurityGroup(self, call):
        _allowed(call.context, "DeleteSecurityGroup")
        group = await self._group(call, call.args["id"])
        await self.backends.securityGroups.delete(call.context, groupId=formatGroupId(group.id))
        return Response(None, 202)

    @staticmethod
    def _permission(protocol, fromPort, toPort, cidr=None, sourceId=None):
        permission = {"protocol": protocol or "-1", "fromPort": fromPort, "toPort": toPort}
        if sourceId is not None:
            permission["groups"] = [{"groupId": formatGroupId(sourceId)}]
        else:
            permission["cidrs"] = [cidr or "0.0.0.0/0"]
        return permission

    @route("POST", "os-security-group-rules")
    async def createSecurityGroupRule(self, call):
        _allowed(call.context, "AuthorizeSecurityGroupIngress")
        wanted = _body(call, "security_group_rule")
        parent = await self._group(call, wanted.get("parent_group_id"))
        sourceId = wanted.get("group_id")
        if sourceId is not None:
            sourceId = (await self._group(call, sourceId)).id

        def port(name):
            value = wanted.get(name)
            if value is None:
                return None
            try:
                return int(value)
            except (TypeError, ValueError):
                raise faults.BadRequest(f"{name} must be an integer.") from None

        permission = self._permission(
            wanted.get("ip_protocol"),
            port("from_port"),
            port("to_port"),
            wanted.get("cidr"),
            sourceId,
        )
        before = {rule.id for rule in parent.rules}
        group = await self.backends.securityGroups.authorizeIngress(
            call.context, [permission], groupId=formatGroupId(parent.id)
        )
        groups = await self._groups(call)
        names = {g.id: g.name for g in groups}
        added = [rule for rule in group.rules if rule.id not in before]
        if not added:
            raise faults.BadRequest("The rule was not added.")
        return Response({"security_group_rule": self._ruleView(added[0], names)})

    @route("DELETE", "os-security-group-rules/{id}")
    async def deleteSecurityGroupRule(self, call):
        _allowed(call.context, "RevokeSecurityGroupIngress")
        for group in await self._groups(call):
            for rule in group.rules:
                if str(rule.id) == call.args["id"]:
                    permission = self._permission(
                        rule.protocol, rule.from_port, rule.to_port, rule.cidr, rule.group_id
                    )
                    await self.backends.securityGroups.revokeIngress(
                        call.context, [permission], groupId=formatGroupId(group.id)
                    )
                    return Response(None, 202)
        raise faults.ItemNotFound(f"Security group rule {call.args['id']} not found.")

    # -- volumes -----------------------------------------------------------

    def _volumeView(self, volume, uuids):
        attachments = []
        if volume.instance_id is not None:
            attachments.append(
                {
                    "id": volume.ec2Id,
                    "volumeId": volume.ec2Id,
                    "serverId": uuids.get(volume.instance_id),
                    "device": volume.mountpoint,
                }
            )
        return {
            "id": volume.ec2Id,
            "status": volume.status,
            "size": volume.size,
            "availabilityZone": volume.availability_zone,
            "createdAt": _isotime(volume.created_at),
            "displayName": volume.display_name,
            "displayDescription": volume.display_description,
            "volumeType": None,
            "snapshotId": None,
            "metadata": {},
            "attachments": attachments,
        }

    async def _uuids(self, call):
        instances = await self.backends.compute.describeInstances(call.context)
        return {instance.id: instance.uuid for instance in instances}

    async def _volume(self, call, volumeId):
        for volume in await self.backends.volumes.describeVolumes(call.context):
            if volume.ec2Id == volumeId:
                return volume
        raise faults.ItemNotFound(f"Volume {volumeId} could not be found.")

    @route("GET", "os-volumes")
    @route("GET", "os-volumes/detail")
    async def listVolumes(self, call):
        _allowed(call.context, "DescribeVolumes")
        volumes = await self.backends.volumes.describeVolumes(call.context)
        uuids = await self._uuids(call)
        return Response({"volumes": [self._volumeView(v, uuids) for v in volumes]})

    @route("GET", "os-volumes/{id}")
    async def showVolume(self, call):
        _allowed(call.context, "DescribeVolumes")
        volume = await self._volume(call, call.args["id"])
        return Response({"volume": self._volumeView(volume, await self._uuids(call))})

    @route("POST", "os-volumes")
    async def createVolume(self, call):
        _allowed(call.context, "CreateVolume")
        wanted = _body(call, "volume")
        try:
            size = int(wanted.get("size"))
        except (TypeError, ValueError):
            raise faults.BadRequest("A volume needs a size in gigabytes.") from None
        name = wanted.get("display_name") or wanted.get("name")
        description = wanted.get("display_description") or wanted.get("description")
        for value in (name, description):
            if value is not None and not isinstance(value, str):
                raise faults.BadRequest("A volume's name and description are text.")
        volume = await self.backends.volumes.createVolume(
            call.context,
            size=size,
            availabilityZone=wanted.get("availability_zone") or None,
            displayName=name,
            displayDescription=description,
        )
        return Response({"volume": self._volumeView(volume, {})})

    @route("DELETE", "os-volumes/{id}")
    async def deleteVolume(self, call):
        _allowed(call.context, "DeleteVolume")
        volume = await self._volume(call, call.args["id"])
        await self.backends.volumes.deleteVolume(call.context, volume.id)
        return Response(None, 202)

    @staticmethod
    def _attachmentView(volume, serverId):
        return {
            "id": volume.ec2Id,
            "volumeId": volume.ec2Id,
            "serverId": serverId,
            "device": volume.mountpoint,
        }

    @route("GET", "servers/{id}/os-volume_attachments")
    async def listAttachments(self, call):
        _allowed(call.context, "DescribeVolumes")
        instance = await self._instance(call, call.args["id"])
        volumes = await self.backends.volumes.describeVolumes(call.context)
        return Response(
            {
                "volumeAttachments": [
                    self._attachmentView(v, instance.uuid)
                    for v in volumes
                    if v.instance_id == instance.id
                ]
            }
        )

    @route("POST", "servers/{id}/os-volume_attachments")
    async def attachVolume(self, call):
        _allowed(call.context, "AttachVolume")
        wanted = _body(call, "volumeAttachment")
        instance = await self._instance(call, call.args["id"])
        volume = await self._volume(call, str(wanted.get("volumeId")))
        device = wanted.get("device")
        if device in (None, "", "auto"):
            device = await self._freeDevice(call, instance)
        if not isinstance(device, str):
            raise faults.BadRequest("device must be text, such as /dev/vdb.")
        volume = await self.backends.volumes.attachVolume(
            call.context, volume.id, instance.id, device
        )
        return Response({"volumeAttachment": self._attachmentView(volume, instance.uuid)})

    async def _freeDevice(self, call, instance):
        used = {
            v.mountpoint
            for v in await self.backends.volumes.describeVolumes(call.context)
            if v.instance_id == instance.id
        }
        for letter in "bcdefghijklmnopqrstuvwxyz":
            if f"/dev/vd{letter}" not in used:
                return f"/dev/vd{letter}"
        raise faults.Conflict("The server has no free device name.")

    @route("DELETE", "servers/{id}/os-volume_attachments/{volumeId}")
    async def detachVolume(self, call):
        _allowed(call.context, "DetachVolume")
        instance = await self._instance(call, call.args["id"])
        volume = await self._volume(call, call.args["volumeId"])
        if volume.instance_id != instance.id:
            raise faults.ItemNotFound(
                f"Volume {volume.ec2Id} is not attached to server {instance.uuid}."
            )
        await self.backends.volumes.detachVolume(call.context, volume.id, instanceId=instance.id)
        return Response(None, 202)
