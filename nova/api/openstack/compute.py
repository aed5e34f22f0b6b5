# -*- test-case-name: tests.api.openstack.test_compute -*-
"""
The OpenStack compute API v2.1 (also served as v2 and v1.1): servers
(with their actions and metadata), flavors, images (compute's image
proxy, with their metadata), key pairs, limits and availability zones,
and the extensions of L{nova.api.openstack.extensions}, over the same
service APIs as the EC2 API.  Lists page with C{limit} and C{marker}.

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
import re
import secrets

from twisted.internet.defer import maybeDeferred

from nova.api.openstack import faults
from nova.api.openstack.common import (
    absoluteLimit,
    bodyPart,
    checkLaunch,
    checkNewServerName,
    checkServerRename,
    flavorById,
    hostIdOf,
    liveFlavors,
    machineImages,
    singleAction,
    terminateServer,
)
from nova.api.openstack.extensions import ExtensionRoutes
from nova.api.openstack.resource import Response, Router, header, route
from nova.api.openstack.servermeta import (
    IMAGE,
    INSTANCE,
    checkMetadata,
    checkPersonality,
    checkQuota,
    deleteMetadataKey,
    instanceOwner,
    metadataOf,
    setMetadata,
    setOwnedMetadata,
)
from nova.auth import policy
from nova.compute import states
from nova.compute.keypairs import KeyPairNotFound
from nova.compute.states import SHUTTING_DOWN, TERMINATED
from nova.image.errors import ImageNotFound, InvalidImageId
from nova.image.service import AVAILABLE, FAILED
from nova.network.errors import SecurityGroupNotFound

MIN_VERSION = "2.1"
MAX_VERSION = "2.1"

#: The server actions that freeze or save a guest and bring it back: the
#: compute API's method, and the EC2 action whose policy applies.
GUEST_ACTIONS = {
    "pause": ("pauseInstance", "StopInstances"),
    "unpause": ("unpauseInstance", "StartInstances"),
    "suspend": ("suspendInstance", "StopInstances"),
    "resume": ("resumeInstance", "StartInstances"),
}

#: The console types C{os-getVNCConsole} and C{remote-consoles} serve.
CONSOLE_TYPES = ("novnc",)

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
    states.RESIZING: ("RESIZE", "active", "resize_migrating"),
    states.RESIZED: ("VERIFY_RESIZE", "resized", None),
    states.REVERTING: ("REVERT_RESIZE", "resized", "resize_reverting"),
    states.REBUILDING: ("REBUILD", "active", "rebuilding"),
    states.RESCUING: ("RESCUE", "active", "rescuing"),
    states.RESCUED: ("RESCUE", "rescued", None),
    states.UNRESCUING: ("RESCUE", "rescued", "unrescuing"),
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


def v11VersionEntry(base):
    """
    The v1.1 API's version description, at C{/v1.1/} and in the versions
    list at C{/}.  Cactus answered C{v1.1} as C{CURRENT}; the API was
    since renamed v2 and v2.1 is the current one, so it is listed as
    C{DEPRECATED} (its resources are those of v2.1, without
    microversions).
    """
    return {
        "id": "v1.1",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/v1.1/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=1.1"}
        ],
    }


def versionEntry(base, legacy=False, mount="v2.1"):
    """
    The compute API's version description.

    @param legacy: for C{/v2} and C{/v1.1}: no microversions.
    @param mount: C{v2.1}, C{v2} or C{v1.1} (whose document is
        L{v11VersionEntry}).
    """
    if mount == "v1.1":
        return v11VersionEntry(base)
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


class ComputeRouter(ExtensionRoutes, Router):
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

    # -- paging ----------------------------------------------------------

    def _paged(self, call, items, key):
        """
        @return: the page of C{items} the query asks for: those after the
            one whose C{key} is C{marker}, at most C{limit} (itself at
            most C{--osapi_max_limit}) of them.
        @raise faults.BadRequest: for an unknown marker or a bad limit.
        """
        marker = call.queryValue("marker")
        if marker is not None:
            keys = [key(item) for item in items]
            if marker not in keys:
                raise faults.BadRequest(f"marker [{marker}] not found")
            items = items[keys.index(marker) + 1 :]
        limit = call.queryValue("limit")
        maxLimit = self.config.osapi_max_limit
        if limit is None:
            return items[:maxLimit]
        try:
            count = int(limit)
        except ValueError:
            count = -1
        if count < 0:
            raise faults.BadRequest("limit must be an integer 0 or greater.")
        return items[: min(count, maxLimit)]

    def _pageLinks(self, call, collection, page, key):
        """
        @return: C{{"<collection>_links": [next link]}} when the page is
            full (there may be more), else C{{}}.
        """
        limit = call.queryValue("limit")
        if not page or limit is None or not limit.isdigit() or len(page) < int(limit):
            return {}
        path = call.request.path.decode("utf-8", "replace")
        href = f"{call.baseURL()}{path}?limit={int(limit)}&marker={key(page[-1])}"
        return {f"{collection}_links": [{"rel": "next", "href": href}]}

    # -- version ---------------------------------------------------------

    @route("GET", "", public=True)
    async def version(self, call):
        return Response({"version": versionEntry(call.baseURL(), self.legacy, self.mount)})

    # -- flavors ---------------------------------------------------------

    async def _flavors(self, call):
        return await liveFlavors(self.backends, call.context)

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
        flavors = self._paged(call, await self._flavors(call), lambda f: str(f.flavorid))
        return Response(
            {
                "flavors": [self._flavorView(call, f, False) for f in flavors],
                **self._pageLinks(call, "flavors", flavors, lambda f: str(f.flavorid)),
            }
        )

    @route("GET", "flavors/detail")
    async def listFlavorsDetail(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        flavors = self._paged(call, await self._flavors(call), lambda f: str(f.flavorid))
        return Response(
            {
                "flavors": [self._flavorView(call, f) for f in flavors],
                **self._pageLinks(call, "flavors", flavors, lambda f: str(f.flavorid)),
            }
        )

    async def _flavor(self, call, flavorRef):
        return flavorById(await self._flavors(call), _lastSegment(flavorRef))

    @route("GET", "flavors/{id}")
    async def showFlavor(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        itype = await self._flavor(call, call.args["id"])
        if itype is None:
            raise faults.ItemNotFound(f"Flavor {call.args['id']} could not be found.")
        return Response({"flavor": self._flavorView(call, itype)})

    # -- images (compute's proxy) ---------------------------------------

    def _imageView(self, call, image, detail=True, metadata=None):
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
                        **(metadata or {}).get(image.ec2_id, {}),
                    },
                    "OS-EXT-IMG-SIZE:size": image.size,
                }
            )
        return view

    async def _images(self, call):
        return await machineImages(self.backends, call.context)

    @route("GET", "images")
    async def listImages(self, call):
        checkAllowed(call.context, "DescribeImages")
        images = self._paged(call, await self._images(call), lambda i: i.ec2_id)
        return Response(
            {
                "images": [self._imageView(call, i, False) for i in images],
                **self._pageLinks(call, "images", images, lambda i: i.ec2_id),
            }
        )

    @route("GET", "images/detail")
    async def listImagesDetail(self, call):
        checkAllowed(call.context, "DescribeImages")
        images = self._paged(call, await self._images(call), lambda i: i.ec2_id)
        metadata = await metadataOf(self.backends, call.context, [i.ec2_id for i in images])
        return Response(
            {
                "images": [self._imageView(call, i, metadata=metadata) for i in images],
                **self._pageLinks(call, "images", images, lambda i: i.ec2_id),
            }
        )

    @route("GET", "images/{id}")
    async def showImage(self, call):
        checkAllowed(call.context, "DescribeImages")
        try:
            image = await self.backends.images.getImage(call.context, call.args["id"])
        except (ImageNotFound, InvalidImageId):
            raise faults.ItemNotFound("Image not found.") from None
        metadata = await metadataOf(self.backends, call.context, [image.ec2_id])
        return Response({"image": self._imageView(call, image, metadata=metadata)})

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

    async def _serverExtras(self, call, instances):
        """
        @return: C{(floating addresses by instance id, flavor ids by type
            name, metadata by EC2 id)}: what the views of C{instances}
            need besides the records, read once.
        """
        floating = {}
        if self.backends.configured("network"):
            floating = await self.backends.network.floatingIpsByInstance(call.context)
        flavors = {t.name: str(t.flavorid) for t in await self._flavors(call)}
        metadata = await metadataOf(self.backends, call.context, [i.ec2Id for i in instances])
        return floating, flavors, metadata

    def _serverView(self, call, instance, extras, detail=True):
        view = {
            "id": instance.uuid,
            "name": instance.display_name or instance.hostname or instance.ec2Id,
            "links": self.link(call, "servers", instance.uuid),
        }
        if not detail:
            return view
        floating, flavors, metadata = extras
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
        hostId = hostIdOf(instance)
        zone = instance.availability_zone or self.config.node_availability_zone
        view.update(
            {
                "status": status,
                "tenant_id": instance.project_id,
                "user_id": instance.user_id,
                "metadata": metadata.get(instance.ec2Id, {}),
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
                "config_drive": "True" if instance.config_drive else "",
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
        instances = self._paged(
            call, self._filtered(call, await self._instances(call)), lambda i: i.uuid
        )
        return Response(
            {
                "servers": [self._serverView(call, i, None, detail=False) for i in instances],
                **self._pageLinks(call, "servers", instances, lambda i: i.uuid),
            }
        )

    @route("GET", "servers/detail")
    async def listServersDetail(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instances = self._paged(
            call, self._filtered(call, await self._instances(call)), lambda i: i.uuid
        )
        extras = await self._serverExtras(call, instances)
        return Response(
            {
                "servers": [self._serverView(call, i, extras) for i in instances],
                **self._pageLinks(call, "servers", instances, lambda i: i.uuid),
            }
        )

    @route("GET", "servers/{id}")
    async def showServer(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instance = await self._instance(call, call.args["id"])
        extras = await self._serverExtras(call, [instance])
        return Response({"server": self._serverView(call, instance, extras)})

    @route("PUT", "servers/{id}")
    async def updateServer(self, call):
        checkAllowed(call.context, "UpdateInstance")
        changes = bodyPart(call.body, "server")
        unknown = set(changes) - {"name"}
        if unknown:
            raise faults.BadRequest(
                f"Additional properties are not allowed ({', '.join(sorted(unknown))})."
            )
        instance = await self._instance(call, call.args["id"])
        if "name" in changes:
            name = changes["name"]
            checkServerRename(name)
            instance = await self.backends.compute.renameInstance(
                call.context, instance.id, name
            )
        extras = await self._serverExtras(call, [instance])
        return Response({"server": self._serverView(call, instance, extras)})

    @route("DELETE", "servers/{id}")
    async def deleteServer(self, call):
        checkAllowed(call.context, "TerminateInstances")
        instance = await self._instance(call, call.args["id"])
        await terminateServer(self.backends, call.context, instance.id)
        return Response(None, 204)

    @route("POST", "servers/{id}/action")
    async def serverAction(self, call):
        action, argument = singleAction(call.body)
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
        elif action == "resize":
            checkAllowed(call.context, "ModifyInstanceAttribute")
            instance = await self._instance(call, call.args["id"])
            flavorRef = argument.get("flavorRef") if isinstance(argument, dict) else None
            itype = await self._flavor(call, flavorRef)
            if itype is None:
                raise faults.BadRequest(f"Flavor {flavorRef!r} could not be found.")
            await compute.resizeInstance(call.context, instance.id, itype.name)
        elif action in ("confirmResize", "revertResize"):
            checkAllowed(call.context, "ModifyInstanceAttribute")
            instance = await self._instance(call, call.args["id"])
            await getattr(compute, action)(call.context, instance.id)
            return Response(None, 204 if action == "confirmResize" else 202)
        elif action == "rebuild":
            checkAllowed(call.context, "UpdateInstance")
            instance = await self._instance(call, call.args["id"])
            imageId = _lastSegment(argument.get("imageRef") if isinstance(argument, dict) else None)
            if imageId is None:
                raise faults.BadRequest("A rebuild needs an imageRef.")
            metadata = None
            if isinstance(argument, dict) and "metadata" in argument:
                metadata = checkMetadata(argument["metadata"])
                await checkQuota(self.backends, instance.project_id, len(metadata))
            try:
                await compute.rebuildInstance(call.context, instance.id, imageId)
            except (ImageNotFound, InvalidImageId):
                raise faults.BadRequest(f"Can not find requested image {imageId}.") from None
            if metadata is not None:
                await setOwnedMetadata(
                    self.backends, call.context, instanceOwner(instance), metadata, replace=True
                )
            instance = await self._instance(call, call.args["id"])
            extras = await self._serverExtras(call, [instance])
            view = self._serverView(call, instance, extras)
            view["adminPass"] = generatePassword()
            return Response({"server": view}, 202)
        elif action == "createImage":
            checkAllowed(call.context, "CreateImage")
            instance = await self._instance(call, call.args["id"])
            name = argument.get("name") if isinstance(argument, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise faults.BadRequest("createImage needs a name.")
            metadata = checkMetadata(argument.get("metadata"))
            await checkQuota(self.backends, instance.project_id, len(metadata))
            imageId = await compute.createImage(call.context, instance.id, name)
            if metadata:
                await setMetadata(self.backends, call.context, IMAGE, imageId, metadata)
            location = f"{call.baseURL()}/{self.mount}/images/{imageId}"
            return Response(None, 202, {"Location": location})
        elif action == "changePassword":
            instance = await self._instance(call, call.args["id"])
            raise faults.NotImplementedFault(
                "Changing the admin password needs a guest agent, which this cloud lacks."
            )
        elif action in ("addFloatingIp", "removeFloatingIp"):
            instance = await self._instance(call, call.args["id"])
            await getattr(self, action)(call, instance, argument)
        elif action in GUEST_ACTIONS:
            # Pausing keeps the guest in memory, suspending saves it to
            # disk: either way it goes on where it stopped.
            method, allowedAs = GUEST_ACTIONS[action]
            checkAllowed(call.context, allowedAs)
            instance = await self._instance(call, call.args["id"])
            await getattr(compute, method)(call.context, instance.id)
        elif action == "os-getVNCConsole":
            consoleType = argument.get("type") if isinstance(argument, dict) else None
            url = await self._vncConsoleURL(call, consoleType)
            return Response({"console": {"type": consoleType, "url": url}})
        else:
            raise faults.BadRequest(f"The action {action!r} is not supported.")
        return Response(None, 202)

    # -- consoles ----------------------------------------------------------

    async def _vncConsoleURL(self, call, consoleType):
        """
        Open the VNC console of the server C{call.args["id"]}
        (L{nova.compute.api.ComputeAPI.getVncConsole}).

        @param consoleType: what the request asked for; only C{novnc} is
            served (a bad request otherwise).
        @return: the websocket URL of nova-api's proxy, with its token.
        """
        if consoleType not in CONSOLE_TYPES:
            raise faults.BadRequest(
                f"Invalid console type {consoleType!r}: this cloud serves "
                f"{', '.join(CONSOLE_TYPES)}."
            )
        checkAllowed(call.context, "GetVncConsole")
        instance = await self._instance(call, call.args["id"])
        console = await self.backends.compute.getVncConsole(call.context, instance.id)
        return console["url"]

    @route("POST", "servers/{id}/remote-consoles")
    async def createRemoteConsole(self, call):
        """
        The newer form of C{os-getVNCConsole}: C{{"remote_console":
        {"protocol": "vnc", "type": "novnc"}}}, answered in kind (with
        C{url}) whatever microversion was asked for.
        """
        wanted = call.body.get("remote_console") if isinstance(call.body, dict) else None
        if not isinstance(wanted, dict):
            raise faults.BadRequest("Expecting to find remote_console in the request body.")
        protocol = wanted.get("protocol")
        if protocol != "vnc":
            raise faults.BadRequest(
                f"Invalid console protocol {protocol!r}: this cloud serves vnc."
            )
        url = await self._vncConsoleURL(call, wanted.get("type"))
        view = {"protocol": "vnc", "type": wanted["type"], "url": url}
        return Response({"remote_console": view})

    # -- server and image metadata ----------------------------------------

    async def _metadataTarget(self, call, kind):
        """
        @return: the EC2 id of the server or image C{call.args["id"]}
            names, after checking the context may see it.
        """
        if kind == INSTANCE:
            return (await self._instance(call, call.args["id"])).ec2Id
        try:
            image = await self.backends.images.getImage(call.context, call.args["id"])
        except (ImageNotFound, InvalidImageId):
            raise faults.ItemNotFound("Image not found.") from None
        return image.ec2_id

    async def _listMetadata(self, call, kind):
        resourceId = await self._metadataTarget(call, kind)
        found = await metadataOf(self.backends, call.context, [resourceId])
        return Response({"metadata": found[resourceId]})

    async def _setMetadata(self, call, kind, replace):
        body = call.body
        if not isinstance(body, dict) or "metadata" not in body:
            raise faults.BadRequest("Expecting to find metadata in the request body.")
        metadata = checkMetadata(body["metadata"])
        resourceId = await self._metadataTarget(call, kind)
        result = await setMetadata(
            self.backends, call.context, kind, resourceId, metadata, replace
        )
        return Response({"metadata": result})

    async def _showMetadataKey(self, call, kind):
        resourceId = await self._metadataTarget(call, kind)
        found = (await metadataOf(self.backends, call.context, [resourceId]))[resourceId]
        key = call.args["key"]
        if key not in found:
            raise faults.ItemNotFound(f"Metadata item {key} was not found.")
        return Response({"meta": {key: found[key]}})

    async def _setMetadataKey(self, call, kind):
        key = call.args["key"]
        meta = checkMetadata(bodyPart(call.body, "meta"))
        if list(meta) != [key]:
            raise faults.BadRequest("The body's meta must hold exactly the key of the URL.")
        resourceId = await self._metadataTarget(call, kind)
        await setMetadata(self.backends, call.context, kind, resourceId, meta)
        return Response({"meta": meta})

    async def _deleteMetadataKey(self, call, kind):
        resourceId = await self._metadataTarget(call, kind)
        await deleteMetadataKey(self.backends, call.context, kind, resourceId, call.args["key"])
        return Response(None, 204)

    @route("GET", "servers/{id}/metadata")
    async def listServerMetadata(self, call):
        checkAllowed(call.context, "DescribeInstances")
        return await self._listMetadata(call, INSTANCE)

    @route("POST", "servers/{id}/metadata")
    async def updateServerMetadata(self, call):
        checkAllowed(call.context, "CreateTags")
        return await self._setMetadata(call, INSTANCE, replace=False)

    @route("PUT", "servers/{id}/metadata")
    async def replaceServerMetadata(self, call):
        checkAllowed(call.context, "CreateTags")
        return await self._setMetadata(call, INSTANCE, replace=True)

    @route("GET", "servers/{id}/metadata/{key}")
    async def showServerMetadataKey(self, call):
        checkAllowed(call.context, "DescribeInstances")
        return await self._showMetadataKey(call, INSTANCE)

    @route("PUT", "servers/{id}/metadata/{key}")
    async def setServerMetadataKey(self, call):
        checkAllowed(call.context, "CreateTags")
        return await self._setMetadataKey(call, INSTANCE)

    @route("DELETE", "servers/{id}/metadata/{key}")
    async def deleteServerMetadataKey(self, call):
        checkAllowed(call.context, "DeleteTags")
        return await self._deleteMetadataKey(call, INSTANCE)

    @route("GET", "images/{id}/metadata")
    async def listImageMetadata(self, call):
        checkAllowed(call.context, "DescribeImages")
        return await self._listMetadata(call, IMAGE)

    @route("POST", "images/{id}/metadata")
    async def updateImageMetadata(self, call):
        checkAllowed(call.context, "CreateTags")
        return await self._setMetadata(call, IMAGE, replace=False)

    @route("PUT", "images/{id}/metadata")
    async def replaceImageMetadata(self, call):
        checkAllowed(call.context, "CreateTags")
        return await self._setMetadata(call, IMAGE, replace=True)

    @route("GET", "images/{id}/metadata/{key}")
    async def showImageMetadataKey(self, call):
        checkAllowed(call.context, "DescribeImages")
        return await self._showMetadataKey(call, IMAGE)

    @route("PUT", "images/{id}/metadata/{key}")
    async def setImageMetadataKey(self, call):
        checkAllowed(call.context, "CreateTags")
        return await self._setMetadataKey(call, IMAGE)

    @route("DELETE", "images/{id}/metadata/{key}")
    async def deleteImageMetadataKey(self, call):
        checkAllowed(call.context, "DeleteTags")
        return await self._deleteMetadataKey(call, IMAGE)

    @route("POST", "servers")
    async def createServer(self, call):
        checkAllowed(call.context, "RunInstances")
        server = bodyPart(call.body, "server")
        context = call.context
        backends = self.backends
        name = server.get("name")
        checkNewServerName(name)
        imageId = _lastSegment(server.get("imageRef"))
        if imageId is None:
            raise faults.BadRequest("imageRef is required (booting from volumes is not supported).")
        itype = await self._flavor(call, server.get("flavorRef"))
        if itype is None:
            raise faults.BadRequest(f"Flavor {server.get('flavorRef')!r} could not be found.")
        minCount, maxCount = _counts(server)
        metadata = checkMetadata(server.get("metadata"))
        await checkQuota(backends, context.projectId, len(metadata))
        configDrive = server.get("config_drive", False)
        if configDrive in ("true", "True"):
            configDrive = True
        elif configDrive in (None, "", "false", "False"):
            configDrive = False
        if not isinstance(configDrive, bool):
            raise faults.BadRequest("config_drive must be true or false.")
        personality = []
        if server.get("personality") is not None:
            quota = await maybeDeferred(backends.compute.quotas.getQuota, context.projectId)
            personality = checkPersonality(server["personality"], quota)
        launch = await checkLaunch(backends, context, imageId)
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
        _, instances, _ = await backends.compute.runInstances(
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
            configDrive=configDrive,
            personality=personality,
        )
        named = []
        for index, instance in enumerate(instances):
            displayName = name if len(instances) == 1 else f"{name}-{index + 1}"
            named.append(
                await backends.compute.renameInstance(context, instance.id, displayName)
            )
            if metadata:
                await setOwnedMetadata(backends, context, instanceOwner(named[-1]), metadata)
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
        keypair = bodyPart(call.body, "keypair")
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
            return absoluteLimit(quota, resource)

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

