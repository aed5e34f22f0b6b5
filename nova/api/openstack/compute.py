# -*- test-case-name: tests.api.openstack.test_compute -*-
"""
The OpenStack compute API v2.1 (also served as v2 and v1.1): servers,
flavors, images (compute's image proxy), key pairs, limits and
availability zones, over the same service APIs as the EC2 API.

Servers are instances, named by their C{uuid}; their state maps to
OpenStack's status (L{STATUSES}); flavors are instance types, named by
their C{flavorid}; images are the image service's machine images, named
by their EC2 ids (C{ami-...}).  Who may do what follows
L{nova.auth.policy}, under the EC2 action each request amounts to
(creating a server is C{RunInstances}...).

Microversions: the API is 2.1 exactly (the version document says
C{min_version} and C{version} 2.1), so clients negotiate 2.1.  A request
asking for 2.1 or C{latest} (in C{OpenStack-API-Version: compute X} or
C{X-OpenStack-Nova-API-Version: X}) is served as 2.1; any other version
is answered 406, as Nova does for versions outside its range.  Every
answer of the v2.1 endpoint names the version it speaks.
"""

import base64
import binascii
import hashlib
import re
import secrets

from twisted.internet.defer import maybeDeferred

from nova.api.openstack import faults
from nova.api.openstack.resource import Response, Router, header, route
from nova.auth import policy
from nova.compute import states
from nova.db.images import AVAILABLE, FAILED, MACHINE, InvalidImageId, ImageNotFound
from nova.db.instances import SHUTTING_DOWN, TERMINATED
from nova.db.keypairs import KeyPairNotFound
from nova.db.security_groups import SecurityGroupNotFound

MIN_VERSION = "2.1"
MAX_VERSION = "2.1"

#: The network name a server's addresses are listed under.
NETWORK_LABEL = "private"

#: OpenStack's status, vm_state and task_state for each of our states.
STATUSES = {
    states.PENDING: ("BUILD", "building", "spawning"),
    states.RUNNING: ("ACTIVE", "active", None),
    states.REBOOTING: ("REBOOT", "active", "rebooting"),
    states.STOPPING: ("ACTIVE", "active", "powering-off"),
    states.STOPPED: ("SHUTOFF", "stopped", None),
    SHUTTING_DOWN: ("DELETED", "deleted", "deleting"),
    TERMINATED: ("DELETED", "deleted", None),
    states.ERROR: ("ERROR", "error", None),
    states.PAUSING: ("ACTIVE", "active", "pausing"),
    states.PAUSED: ("PAUSED", "paused", None),
    states.UNPAUSING: ("PAUSED", "paused", "unpausing"),
    states.SUSPENDING: ("ACTIVE", "active", "suspending"),
    states.SUSPENDED: ("SUSPENDED", "suspended", None),
    states.RESUMING: ("SUSPENDED", "suspended", "resuming"),
}

#: What the admin password of a new server looks like (it is not set in
#: the guest: this release has no guest agent).
_PASSWORD_LENGTH = 12

_UUID = re.compile(r"\A[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\Z")


def isotime(when):
    """
    @param when: a naive UTC L{datetime}, or L{None}.
    @return: C{2011-01-01T00:00:00Z}, or L{None}.
    """
    if when is None:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _lastSegment(ref):
    """
    @return: the id in a reference: an id, or a URL ending in one.
    """
    if not isinstance(ref, str) or not ref.strip():
        return None
    return ref.rstrip("/").rsplit("/", 1)[-1]


def checkAllowed(context, action):
    """
    @raise faults.Forbidden: unless L{nova.auth.policy} allows C{action}.
    """
    if not policy.allowed(context, action):
        raise faults.Forbidden(f"Policy doesn't allow {action} to be performed.")


def parseVersion(text):
    """
    @return: C{(major, minor)} of C{2.1}, or L{None} if malformed.
    """
    found = re.match(r"\A\s*(\d+)\.(\d+)\s*\Z", text)
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2))


def requestedVersion(request):
    """
    @return: the microversion a request asks for (L{str}), or L{None}.
    """
    value = header(request, "openstack-api-version")
    if value:
        for part in value.split(","):
            words = part.strip().split(None, 1)
            if len(words) == 2 and words[0].lower() == "compute":
                return words[1].strip()
    return header(request, "x-openstack-nova-api-version") or None


def versionEntry(base, legacy=False, mount="v2.1"):
    """
    The compute API's version description.

    @param legacy: for C{/v2} and C{/v1.1}: no microversions.
    """
    if legacy:
        return {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/{mount}/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}
            ],
        }
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base}/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
        ],
    }


def generatePassword(length=_PASSWORD_LENGTH):
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


class ComputeRouter(Router):
    """
    One mount of the compute API.

    @ivar mount: C{v2.1}, C{v2} or C{v1.1}.
    @ivar legacy: whether microversion headers are ignored (C{/v2},
        C{/v1.1}).
    """

    def __init__(self, config, backends, tokens, mount="v2.1"):
        Router.__init__(self, config, backends, tokens)
        self.mount = mount
        self.legacy = mount != "v2.1"

    def prepare(self, call):
        if self.legacy:
            return {}
        headers = {
            "OpenStack-API-Version": f"compute {MAX_VERSION}",
            "X-OpenStack-Nova-API-Version": MAX_VERSION,
            "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
        }
        wanted = requestedVersion(call.request)
        if wanted is None or wanted.lower() == "latest":
            return headers
        version = parseVersion(wanted)
        if version is None:
            raise faults.BadRequest(
                f"API Version String {wanted} is of invalid format. Must be of format "
                "MajorNum.MinorNum.",
                headers,
            )
        if not (parseVersion(MIN_VERSION) <= version <= parseVersion(MAX_VERSION)):
            raise faults.NotAcceptable(
                f"Version {wanted} is not supported by the API. Minimum is {MIN_VERSION} "
                f"and maximum is {MAX_VERSION}.",
                headers,
            )
        return headers

    def link(self, call, *segments):
        """
        @return: the C{self} and C{bookmark} links of a resource.
        """
        base = call.baseURL()
        path = "/".join(segments)
        return [
            {"rel": "self", "href": f"{base}/{self.mount}/{path}"},
            {"rel": "bookmark", "href": f"{base}/{path}"},
        ]

    # -- version ---------------------------------------------------------

    @route("GET", "", public=True)
    async def version(self, call):
        return Response({"version": versionEntry(call.baseURL(), self.legacy, self.mount)})

    # -- flavors ---------------------------------------------------------

    async def _flavors(self, call):
        types = await self.backends.compute.describeInstanceTypes(call.context)
        return [t for t in types if not t.deleted]

    def _flavorView(self, call, itype, detail=True):
        flavorId = str(itype.flavorid)
        view = {"id": flavorId, "name": itype.name, "links": self.link(call, "flavors", flavorId)}
        if detail:
            view.update(
                {
                    "ram": itype.memory_mb,
                    "vcpus": itype.vcpus,
                    "disk": itype.local_gb,
                    "swap": itype.swap or 0,
                    "OS-FLV-EXT-DATA:ephemeral": 0,
                    "OS-FLV-DISABLED:disabled": False,
                    "os-flavor-access:is_public": True,
                    "rxtx_factor": 1.0,
                }
            )
        return view

    @route("GET", "flavors")
    async def listFlavors(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        flavors = await self._flavors(call)
        return Response({"flavors": [self._flavorView(call, f, False) for f in flavors]})

    @route("GET", "flavors/detail")
    async def listFlavorsDetail(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        flavors = await self._flavors(call)
        return Response({"flavors": [self._flavorView(call, f) for f in flavors]})

    async def _flavor(self, call, flavorRef):
        flavorId = _lastSegment(flavorRef)
        for itype in await self._flavors(call):
            if str(itype.flavorid) == flavorId:
                return itype
        return None

    @route("GET", "flavors/{id}")
    async def showFlavor(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        itype = await self._flavor(call, call.args["id"])
        if itype is None:
            raise faults.ItemNotFound(f"Flavor {call.args['id']} could not be found.")
        return Response({"flavor": self._flavorView(call, itype)})

    # -- images (compute's proxy) ---------------------------------------

    def _imageView(self, call, image, detail=True):
        view = {
            "id": image.ec2_id,
            "name": image.name or image.ec2_id,
            "links": self.link(call, "images", image.ec2_id),
        }
        if detail:
            status = {AVAILABLE: "ACTIVE", FAILED: "ERROR"}.get(image.state, "SAVING")
            view.update(
                {
                    "status": status,
                    "progress": 100 if status == "ACTIVE" else 0,
                    "minDisk": 0,
                    "minRam": 0,
                    "created": isotime(image.created_at),
                    "updated": isotime(image.updated_at or image.created_at),
                    "metadata": {
                        "architecture": image.architecture,
                        "kernel_id": image.kernel_id,
                        "ramdisk_id": image.ramdisk_id,
                        "image_type": image.image_type,
                    },
                    "OS-EXT-IMG-SIZE:size": image.size,
                }
            )
        return view

    async def _images(self, call):
        images = await self.backends.images.describeImages(call.context)
        return [image for image in images if image.image_type == MACHINE]

    @route("GET", "images")
    async def listImages(self, call):
        checkAllowed(call.context, "DescribeImages")
        images = await self._images(call)
        return Response({"images": [self._imageView(call, i, False) for i in images]})

    @route("GET", "images/detail")
    async def listImagesDetail(self, call):
        checkAllowed(call.context, "DescribeImages")
        images = await self._images(call)
        return Response({"images": [self._imageView(call, i) for i in images]})

    @route("GET", "images/{id}")
    async def showImage(self, call):
        checkAllowed(call.context, "DescribeImages")
        try:
            image = await self.backends.images.getImage(call.context, call.args["id"])
        except (ImageNotFound, InvalidImageId):
            raise faults.ItemNotFound("Image not found.") from None
        return Response({"image": self._imageView(call, image)})

    # -- servers ---------------------------------------------------------

    async def _instances(self, call):
        instances = await self.backends.compute.describeInstances(call.context)
        return [i for i in instances if i.state != TERMINATED]

    async def _instance(self, call, serverId):
        """
        @return: the L{nova.db.records.InstanceRecord} of server C{serverId}
            (its uuid) that the context sees.
        @raise faults.ItemNotFound: otherwise.
        """
        notFound = faults.ItemNotFound(f"Instance {serverId} could not be found.")
        if not _UUID.match(serverId or ""):
            raise notFound
        for instance in await self._instances(call):
            if instance.uuid == serverId:
                return instance
        raise notFound

    async def _serverExtras(self, call):
        """
        @return: C{(floating addresses by instance id, flavor ids by type
            name)}: what server views need besides the records, read once.
        """
        floating = {}
        if self.backends.configured("network"):
            floating = await self.backends.network.floatingIpsByInstance(call.context)
        flavors = {t.name: str(t.flavorid) for t in await self._flavors(call)}
        return floating, flavors

    def _serverView(self, call, instance, extras, detail=True):
        view = {
            "id": instance.uuid,
            "name": instance.display_name or instance.hostname or instance.ec2Id,
            "links": self.link(call, "servers", instance.uuid),
        }
        if not detail:
            return view
        floating, flavors = extras
        status, vmState, taskState = STATUSES.get(instance.state, ("UNKNOWN", None, None))
        addresses = []
        if instance.fixed_ip:
            addresses.append(
                {
                    "version": 4,
                    "addr": instance.fixed_ip,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": instance.mac_address,
                }
            )
        if floating.get(instance.id):
            addresses.append(
                {
                    "version": 4,
                    "addr": floating[instance.id],
                    "OS-EXT-IPS:type": "floating",
                    "OS-EXT-IPS-MAC:mac_addr": instance.mac_address,
                }
            )
        flavorId = flavors.get(instance.instance_type, instance.instance_type)
        hostId = ""
        if instance.host:
            hostId = hashlib.sha224(
                (instance.project_id + instance.host).encode("utf-8")
            ).hexdigest()
        zone = instance.availability_zone or self.config.node_availability_zone
        view.update(
            {
                "status": status,
                "tenant_id": instance.project_id,
                "user_id": instance.user_id,
                "metadata": {},
                "hostId": hostId,
                "image": {
                    "id": instance.image_id,
                    "links": [
                        {"rel": "bookmark", "href": f"{call.baseURL()}/images/{instance.image_id}"}
                    ],
                }
                if instance.image_id
                else "",
                "flavor": {
                    "id": flavorId,
                    "links": [{"rel": "bookmark", "href": f"{call.baseURL()}/flavors/{flavorId}"}],
                },
                "created": isotime(instance.created_at),
                "updated": isotime(instance.updated_at or instance.created_at),
                "addresses": {NETWORK_LABEL: addresses} if addresses else {},
                "accessIPv4": "",
                "accessIPv6": "",
                "progress": 100 if status == "ACTIVE" else 0,
                "key_name": instance.key_name,
                "config_drive": "",
                "security_groups": [{"name": name} for name in instance.securityGroups],
                "OS-DCF:diskConfig": "MANUAL",
                "OS-EXT-AZ:availability_zone": zone,
                "OS-EXT-STS:vm_state": vmState,
                "OS-EXT-STS:task_state": taskState,
                "OS-EXT-STS:power_state": instance.power_state or 0,
                "OS-SRV-USG:launched_at": isotime(instance.launched_at),
                "OS-SRV-USG:terminated_at": isotime(instance.terminated_at),
                "os-extended-volumes:volumes_attached": [],
                "locked": bool(instance.locked),
            }
        )
        if instance.state == states.ERROR and instance.state_description:
            view["fault"] = {
                "code": 500,
                "message": instance.state_description,
                "created": isotime(instance.updated_at or instance.created_at),
            }
        return view

    def _filtered(self, call, instances):
        name = call.queryValue("name")
        status = call.queryValue("status")
        if name:
            try:
                pattern = re.compile(name)
            except re.error:
                raise faults.BadRequest(f"Invalid name filter {name!r}.") from None
            instances = [
                i for i in instances
                if pattern.search(i.display_name or i.hostname or i.ec2Id)
            ]
        if status:
            wanted = status.upper()
            instances = [i for i in instances if STATUSES.get(i.state, ("",))[0] == wanted]
        image = call.queryValue("image")
        if image:
            instances = [i for i in instances if i.image_id == _lastSegment(image)]
        return instances

    @route("GET", "servers")
    async def listServers(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instances = self._filtered(call, await self._instances(call))
        return Response(
            {"servers": [self._serverView(call, i, None, detail=False) for i in instances]}
        )

    @route("GET", "servers/detail")
    async def listServersDetail(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instances = self._filtered(call, await self._instances(call))
        extras = await self._serverExtras(call)
        return Response({"servers": [self._serverView(call, i, extras) for i in instances]})

    @route("GET", "servers/{id}")
    async def showServer(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instance = await self._instance(call, call.args["id"])
        extras = await self._serverExtras(call)
        return Response({"server": self._serverView(call, instance, extras)})

    @route("PUT", "servers/{id}")
    async def updateServer(self, call):
        checkAllowed(call.context, "UpdateInstance")
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
            raise faults.BadRequest("Expecting to find server in the request body.")
        changes = body["server"]
        unknown = set(changes) - {"name"}
        if unknown:
            raise faults.BadRequest(
                f"Additional properties are not allowed ({', '.join(sorted(unknown))})."
            )
        instance = await self._instance(call, call.args["id"])
        if "name" in changes:
            name = changes["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > 255:
                raise faults.BadRequest("Invalid server name.")
            instance = await self.backends.compute.renameInstance(
                call.context, instance.id, name
            )
        extras = await self._serverExtras(call)
        return Response({"server": self._serverView(call, instance, extras)})

    @route("DELETE", "servers/{id}")
    async def deleteServer(self, call):
        checkAllowed(call.context, "TerminateInstances")
        instance = await self._instance(call, call.args["id"])
        changes = await self.backends.compute.terminateInstances(call.context, [instance.id])
        if self.backends.configured("securityGroups"):
            for change in changes:
                if change.previousState != change.currentState:
                    await self.backends.securityGroups.removeInstance(
                        call.context, change.instanceId
                    )
        return Response(None, 204)

    @route("POST", "servers/{id}/action")
    async def serverAction(self, call):
        body = call.body
        if not isinstance(body, dict) or len(body) != 1:
            raise faults.BadRequest("There is not exactly one action in the request body.")
        [(action, argument)] = body.items()
        compute = self.backends.compute
        if action == "reboot":
            if not isinstance(argument, dict) or argument.get("type", "").upper() not in (
                "SOFT",
                "HARD",
            ):
                raise faults.BadRequest("A reboot's type is SOFT or HARD.")
            checkAllowed(call.context, "RebootInstances")
            instance = await self._instance(call, call.args["id"])
            await compute.rebootInstances(call.context, [instance.id])
        elif action == "os-start":
            checkAllowed(call.context, "StartInstances")
            instance = await self._instance(call, call.args["id"])
            await compute.startInstances(call.context, [instance.id])
        elif action == "os-stop":
            checkAllowed(call.context, "StopInstances")
            instance = await self._instance(call, call.args["id"])
            await compute.stopInstances(call.context, [instance.id])
        else:
            raise faults.BadRequest(f"The action {action!r} is not supported.")
        return Response(None, 202)

    @route("POST", "servers")
    async def createServer(self, call):
        checkAllowed(call.context, "RunInstances")
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
            raise faults.BadRequest("Expecting to find server in the request body.")
        server = body["server"]
        context = call.context
        backends = self.backends
        name = server.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise faults.BadRequest("A server needs a name of 1 to 255 characters.")
        imageId = _lastSegment(server.get("imageRef"))
        if imageId is None:
            raise faults.BadRequest("imageRef is required (booting from volumes is not supported).")
        itype = await self._flavor(call, server.get("flavorRef"))
        if itype is None:
            raise faults.BadRequest(f"Flavor {server.get('flavorRef')!r} could not be found.")
        minCount, maxCount = _counts(server)
        try:
            launch = await backends.images.checkLaunch(context, imageId)
        except (ImageNotFound, InvalidImageId):
            raise faults.BadRequest(f"Can not find requested image {imageId}.") from None
        keyName = server.get("key_name")
        keyData = None
        if keyName is not None:
            if not isinstance(keyName, str):
                raise faults.BadRequest("key_name must be text.")
            try:
                record = await backends.keyPairs.getKeyPair(context, keyName)
            except KeyPairNotFound:
                raise faults.BadRequest(f"Invalid key_name provided: {keyName}.") from None
            keyData = record.public_key
        groups = await self._securityGroups(call, server.get("security_groups"))
        userData = _userData(server.get("user_data"))
        zone = server.get("availability_zone") or None
        if zone is not None:
            if not isinstance(zone, str):
                raise faults.BadRequest("availability_zone must be text.")
            zoneName, colon, _ = zone.partition(":")
            if colon and not context.isAdmin:
                raise faults.BadRequest(f"Invalid availability zone {zone}.")
            if zoneName not in await backends.hosts.zoneNames(context):
                raise faults.BadRequest(f"The requested availability zone {zone} is not available.")
        networks = server.get("networks")
        if networks not in (None, [], "auto"):
            raise faults.BadRequest(
                "Choosing networks is not supported: each server gets a fixed address "
                "on its project's network."
            )
        _, instances = await backends.compute.runInstances(
            context,
            launch.imageId,
            minCount,
            maxCount,
            instanceType=itype.name,
            keyName=keyName,
            keyData=keyData,
            userData=userData,
            securityGroups=groups,
            kernelId=launch.kernelId,
            ramdiskId=launch.ramdiskId,
            availabilityZone=zone,
        )
        named = []
        for index, instance in enumerate(instances):
            displayName = name if len(instances) == 1 else f"{name}-{index + 1}"
            named.append(
                await backends.compute.renameInstance(context, instance.id, displayName)
            )
        first = named[0]
        view = {
            "id": first.uuid,
            "links": self.link(call, "servers", first.uuid),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": group} for group in groups],
            "adminPass": generatePassword(),
        }
        headers = {"Location": f"{call.baseURL()}/{self.mount}/servers/{first.uuid}"}
        if server.get("return_reservation_id") in (True, "True", "true"):
            return Response({"reservation_id": first.reservation_id}, 202, headers)
        return Response({"server": view}, 202, headers)

    async def _securityGroups(self, call, given):
        """
        @return: the names of the groups a new server joins (C{default}
            if none is given), each existing in the project.
        """
        securityGroups = self.backends.securityGroups
        await securityGroups.ensureDefault(call.context)
        if given is None:
            return ["default"]
        if not isinstance(given, list) or not all(
            isinstance(g, dict) and isinstance(g.get("name"), str) for g in given
        ):
            raise faults.BadRequest("security_groups is a list of {\"name\": ...}.")
        names = list(dict.fromkeys(g["name"] for g in given)) or ["default"]
        for name in names:
            try:
                await securityGroups.groupNamed(call.context, name)
            except SecurityGroupNotFound:
                raise faults.BadRequest(f"Security group {name} not found.") from None
        return names

    # -- key pairs -------------------------------------------------------

    def _keyPairView(self, record, privateKey=None, detail=False):
        view = {
            "name": record.name,
            "public_key": record.public_key,
            "fingerprint": record.fingerprint,
        }
        if detail:
            view.update(
                {
                    "user_id": record.user_id,
                    "created_at": isotime(record.created_at),
                    "deleted": False,
                    "deleted_at": None,
                    "updated_at": None,
                    "id": record.id,
                }
            )
        if privateKey is not None:
            view["private_key"] = privateKey
            view["user_id"] = record.user_id
        return view

    @route("GET", "os-keypairs")
    async def listKeyPairs(self, call):
        checkAllowed(call.context, "DescribeKeyPairs")
        records = await self.backends.keyPairs.describeKeyPairs(call.context)
        return Response(
            {"keypairs": [{"keypair": self._keyPairView(r)} for r in records]}
        )

    @route("GET", "os-keypairs/{name}")
    async def showKeyPair(self, call):
        checkAllowed(call.context, "DescribeKeyPairs")
        try:
            record = await self.backends.keyPairs.getKeyPair(call.context, call.args["name"])
        except KeyPairNotFound:
            raise faults.ItemNotFound(f"Keypair {call.args['name']} not found.") from None
        return Response({"keypair": self._keyPairView(record, detail=True)})

    @route("POST", "os-keypairs")
    async def createKeyPair(self, call):
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("keypair"), dict):
            raise faults.BadRequest("Expecting to find keypair in the request body.")
        keypair = body["keypair"]
        name = keypair.get("name")
        if not isinstance(name, str) or not name.strip():
            raise faults.BadRequest("A keypair needs a name.")
        keyPairs = self.backends.keyPairs
        publicKey = keypair.get("public_key")
        if publicKey is not None:
            checkAllowed(call.context, "ImportKeyPair")
            if not isinstance(publicKey, str):
                raise faults.BadRequest("public_key must be text.")
            from nova.auth.crypto import InvalidKeyFormat

            try:
                record = await keyPairs.importKeyPair(call.context, name, publicKey)
            except InvalidKeyFormat as e:
                raise faults.BadRequest(f"Keypair data is invalid: {e}") from None
            return Response({"keypair": self._keyPairView(record)}, 200)
        checkAllowed(call.context, "CreateKeyPair")
        created = await keyPairs.createKeyPair(call.context, name)
        record = await keyPairs.getKeyPair(call.context, created.name)
        return Response({"keypair": self._keyPairView(record, created.privateKey)}, 200)

    @route("DELETE", "os-keypairs/{name}")
    async def deleteKeyPair(self, call):
        checkAllowed(call.context, "DeleteKeyPair")
        deleted = await self.backends.keyPairs.deleteKeyPair(call.context, call.args["name"])
        if not deleted:
            raise faults.ItemNotFound(f"Keypair {call.args['name']} not found.")
        return Response(None, 202)

    # -- limits and zones ------------------------------------------------

    @route("GET", "limits")
    async def limits(self, call):
        context = call.context
        quota = await maybeDeferred(self.backends.compute.quotas.getQuota, context.projectId)
        instances = [
            i for i in await self.backends.compute.describeInstances(context)
            if i.project_id == context.projectId and i.state != TERMINATED
        ]
        keyPairs = await self.backends.keyPairs.describeKeyPairs(context)
        groups = []
        floating = []
        if self.backends.configured("securityGroups"):
            groups = [
                g for g in await self.backends.securityGroups.visibleGroups(context)
                if g.project_id == context.projectId
            ]
        if self.backends.configured("network"):
            floating = [
                f for f in await self.backends.network.describeFloatingIps(context)
                if f.project_id == context.projectId
            ]

        def limit(resource):
            value = quota.get(resource)
            return -1 if value is None else value

        absolute = {
            "maxTotalInstances": limit("instances"),
            "maxTotalCores": limit("cores"),
            "maxTotalRAMSize": limit("ram"),
            "maxTotalKeypairs": -1,
            "maxServerMeta": limit("metadata_items"),
            "maxImageMeta": limit("metadata_items"),
            "maxPersonality": limit("injected_files"),
            "maxPersonalitySize": limit("injected_file_content_bytes"),
            "maxSecurityGroups": -1,
            "maxSecurityGroupRules": -1,
            "maxTotalFloatingIps": limit("floating_ips"),
            "maxServerGroups": -1,
            "maxServerGroupMembers": -1,
            "totalInstancesUsed": len(instances),
            "totalCoresUsed": sum(i.vcpus or 0 for i in instances),
            "totalRAMUsed": sum(i.memory_mb or 0 for i in instances),
            "totalSecurityGroupsUsed": len(groups),
            "totalFloatingIpsUsed": len(floating),
            "totalServerGroupsUsed": 0,
            "totalKeyPairsUsed": len(keyPairs),
        }
        return Response({"limits": {"rate": [], "absolute": absolute}})

    @route("GET", "os-availability-zone")
    async def availabilityZones(self, call):
        zones = await self.backends.hosts.describeAvailabilityZones(call.context)
        return Response(
            {
                "availabilityZoneInfo": [
                    {"zoneName": zone.name, "zoneState": {"available": zone.available}, "hosts": None}
                    for zone in zones
                ]
            }
        )


def _counts(server):
    """
    @return: C{(min_count, max_count)} of a create request (1 and 1 by
        default).
    """
    try:
        minCount = int(server.get("min_count", 1))
        maxCount = int(server.get("max_count", minCount))
    except (TypeError, ValueError):
        raise faults.BadRequest("min_count and max_count must be integers.") from None
    if minCount < 1 or maxCount < minCount:
        raise faults.BadRequest("min_count must be at least 1 and at most max_count.")
    return minCount, maxCount


def _userData(text):
    """
    @return: the user data as kept (canonical base64 text), or L{None}.
    @raise faults.BadRequest: if it is not base64 or larger than 64 KiB
        encoded.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise faults.BadRequest("user_data must be base64 text.")
    compact = "".join(text.split())
    if not compact:
        return None
    if len(compact) > 65535:
        raise faults.BadRequest("user_data is larger than 65535 bytes (base64).")
    try:
        data = base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise faults.BadRequest("user_data is not valid base64.") from None
    return base64.b64encode(data).decode("ascii") if data else None

