# -*- test-case-name: tests.api.openstack.test_v10 -*-
"""
The OpenStack API v1.0 (Cactus's, Rackspace Cloud Servers' shape) at
C{/v1.0}: authentication by C{X-Auth-User} and C{X-Auth-Key}; servers,
their actions and addresses; images; flavors; limits (with rate limits,
L{nova.api.openstack.limits}); the admin resources C{/users} and
C{/accounts}; JSON or XML (L{nova.api.openstack.xml}) in both directions.

Servers are named by their numeric instance id, flavors by their
C{flavorid}, images by their EC2 ids (C{ami-...}).  Who may do what
follows L{nova.auth.policy} under the EC2 action each request amounts to,
as in the v2.1 API (L{nova.api.openstack.compute}).
"""

import base64
import binascii
import hmac
from datetime import datetime, timezone

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
from nova.api.openstack.compute import (
    STATUSES,
    checkAllowed,
    generatePassword,
    isotime,
)
from nova.api.openstack.limits import RateLimiter
from nova.api.openstack.resource import Response, Router, _write, header, route
from nova.api.openstack.servermeta import (
    checkMetadata,
    checkPersonality,
    checkQuota,
    instanceOwner,
    metadataOf,
    setOwnedMetadata,
)
from nova.api.openstack.xml import MalformedXML, fromXML, toXML
from nova.api.web import writeResponse
from nova.auth import interfaces as authInterfaces
from nova.compute.errors import InstanceNotFound
from nova.compute.states import TERMINATED
from nova.image.errors import ImageNotFound, InvalidImageId
from nova.image.service import AVAILABLE, FAILED
from nova.util.outage import outageOf

XML = b"application/xml"

#: Fault names of v1.0 where they differ from the later APIs'.
_V10_FAULT_NAMES = {
    "computeFault": "cloudServersFault",
    "methodNotAllowed": "badMethod",
    "unsupportedMediaType": "badMediaType",
}

#: The admin-only server actions (C{POST /servers/{id}/<action>}) and the
#: compute API method and policy action of each.
ADMIN_ACTIONS = {
    "pause": ("pauseInstance", "PauseInstance"),
    "unpause": ("unpauseInstance", "UnpauseInstance"),
    "suspend": ("suspendInstance", "SuspendInstance"),
    "resume": ("resumeInstance", "ResumeInstance"),
    "rescue": ("rescueInstance", "RescueInstance"),
    "unrescue": ("unrescueInstance", "UnrescueInstance"),
    "reset_network": ("resetNetwork", "ResetNetwork"),
    "inject_network_info": ("injectNetworkInfo", "InjectNetworkInfo"),
    "lock": ("lockInstance", "LockInstance"),
    "unlock": ("unlockInstance", "UnlockInstance"),
}


def v10VersionEntry(base):
    """
    The v1.0 API's entry in the versions list at C{/}.
    """
    return {
        "id": "v1.0",
        "status": "DEPRECATED",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/v1.0/"}],
        "media-types": [
            {"base": "application/xml", "type": "application/vnd.openstack.compute-v1.0+xml"},
            {"base": "application/json", "type": "application/vnd.openstack.compute-v1.0+json"},
        ],
    }


class ServerCapacityUnavailable(faults.Fault):
    name, status = "serverCapacityUnavailable", 503


def _reason(status):
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _int(text, what, minimum=0):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise faults.BadRequest(f"{what} must be an integer.") from None
    if value < minimum:
        raise faults.BadRequest(f"{what} must be at least {minimum}.")
    return value


def _changesSince(text):
    """
    @return: the naive UTC L{datetime} of a C{changes-since} value (ISO
        8601, or epoch seconds).
    """
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), timezone.utc).replace(tzinfo=None)
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise faults.BadRequest(f"Invalid changes-since value {text!r}.") from None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def _numericId(text):
    return text.isdigit() and len(text) < 19


class V10Router(Router):
    """
    The v1.0 API.

    @ivar limiter: the L{RateLimiter} of this server.
    """

    def __init__(self, config, backends, tokens, clock):
        Router.__init__(self, config, backends, tokens)
        self.limiter = RateLimiter(clock)

    # -- formats -----------------------------------------------------------

    def routedPath(self, request, path):
        wanted = "json"
        for suffix in ("json", "xml"):
            if path.endswith("." + suffix):
                path = path[: -len(suffix) - 1]
                request.osapiFormat = suffix
                return path
        accept = (header(request, "accept") or "").lower()
        if "xml" in accept and ("json" not in accept or accept.find("xml") < accept.find("json")):
            wanted = "xml"
        request.osapiFormat = wanted
        return path

    def decode(self, request, data):
        contentType = (header(request, "content-type") or "").lower()
        if "xml" in contentType or (not contentType and data.lstrip().startswith(b"<")):
            try:
                return fromXML(data)
            except MalformedXML as e:
                raise faults.BadRequest(f"Malformed request body: {e}") from None
        if contentType and "json" not in contentType:
            raise faults.UnsupportedMediaType(f"Unsupported Content-Type {contentType}.")
        return Router.decode(self, request, data)

    def faultBody(self, fault):
        name = _V10_FAULT_NAMES.get(fault.name, fault.name)
        return {
            name: {
                "code": fault.status,
                "message": fault.message,
                "details": _reason(fault.status),
            }
        }

    def write(self, request, status, body, headers, lost):
        if getattr(request, "osapiFormat", "json") != "xml" or body is None:
            _write(request, status, body, headers, lost)
            return
        if lost:
            return
        for name, value in headers.items():
            request.setHeader(name.encode("latin-1"), str(value).encode("latin-1"))
        writeResponse(request, status, XML, toXML(body), lost)

    async def admit(self, call, method, path):
        if call.context is None:
            return
        query = call.request.uri.partition(b"?")[2].decode("utf-8", "replace")
        wait = self.limiter.check(
            call.context.userId, method, "/" + path + ("?" + query if query else "")
        )
        if wait is not None:
            raise faults.OverLimit(
                "This request was rate-limited.", {"Retry-After": str(wait)}
            )

    # -- authentication ----------------------------------------------------

    @route("GET", "", public=True)
    async def authenticateUser(self, call):
        """
        C{GET /v1.0} with C{X-Auth-User} and C{X-Auth-Key} (the user's
        access key), and C{X-Auth-Project-Id} optionally.
        """
        request = call.request
        userName = header(request, "x-auth-user")
        key = header(request, "x-auth-key")
        refused = faults.Unauthorized("The request you have made requires authentication.")
        if not userName or not key:
            raise refused
        authManager = self.backends.authManager
        try:
            user = await authManager.getUser(userName)
        except authInterfaces.UserNotFound:
            raise refused from None
        remote = getattr(request.getClientAddress(), "host", None)
        if await authManager._isLocked(user.accessKey, remote):
            raise refused
        if not hmac.compare_digest(key.encode("utf-8"), user.accessKey.encode("utf-8")):
            await authManager.recordFailedSignature(user.accessKey, remote)
            authManager.log.warn(
                "OpenStack API v1.0 login of {user} from {remoteAddress} failed: wrong key",
                user=user.name,
                remoteAddress=remote,
            )
            raise refused
        projectName = header(request, "x-auth-project-id")
        if not projectName:
            projects = await authManager.getProjects(user.name)
            if not projects:
                raise refused
            projectName = sorted(p.name for p in projects)[0]
        try:
            context = await authManager.contextFor(user, projectName, remoteAddress=remote)
        except (authInterfaces.NotProjectMember, authInterfaces.ProjectNotFound):
            raise refused from None
        record = await self.tokens.create(
            user.name, context.projectId, self.config.auth_token_ttl
        )
        base = call.baseURL()
        return Response(
            None,
            204,
            {
                "X-Auth-Token": record.token,
                "X-Server-Management-Url": f"{base}/v1.0",
                "X-Storage-Url": f"http://{self.config.s3_host}:{self.config.s3_port}",
                "X-CDN-Management-Url": "",
                "Cache-Control": "no-store",
            },
        )

    # -- paging ------------------------------------------------------------

    def _page(self, call, items):
        """
        @return: the C{offset}/C{limit} page of C{items}; C{limit} is at
            most C{--osapi_max_limit}.
        """
        offset = _int(call.queryValue("offset", "0"), "offset")
        maxLimit = self.config.osapi_max_limit
        limit = min(_int(call.queryValue("limit", str(maxLimit)), "limit"), maxLimit)
        return items[offset : offset + limit]

    # -- flavors -----------------------------------------------------------

    async def _flavors(self, call):
        return await liveFlavors(self.backends, call.context)

    @staticmethod
    def _flavorId(itype):
        flavorId = str(itype.flavorid)
        return int(flavorId) if _numericId(flavorId) else flavorId

    def _flavorView(self, itype, detail):
        view = {"id": self._flavorId(itype), "name": itype.name}
        if detail:
            view.update({"ram": itype.memory_mb, "disk": itype.local_gb, "vcpus": itype.vcpus})
        return view

    @route("GET", "flavors")
    async def listFlavors(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        flavors = self._page(call, await self._flavors(call))
        return Response({"flavors": [self._flavorView(f, False) for f in flavors]})

    @route("GET", "flavors/detail")
    async def listFlavorsDetail(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        flavors = self._page(call, await self._flavors(call))
        return Response({"flavors": [self._flavorView(f, True) for f in flavors]})

    async def _flavor(self, call, flavorId):
        return flavorById(await self._flavors(call), str(flavorId))

    @route("GET", "flavors/{id}")
    async def showFlavor(self, call):
        checkAllowed(call.context, "DescribeInstanceTypes")
        itype = await self._flavor(call, call.args["id"])
        if itype is None:
            raise faults.ItemNotFound(f"Flavor {call.args['id']} could not be found.")
        return Response({"flavor": self._flavorView(itype, True)})

    # -- images ------------------------------------------------------------

    def _imageView(self, image, detail):
        view = {"id": image.ec2_id, "name": image.name or image.ec2_id}
        if detail:
            status = {AVAILABLE: "ACTIVE", FAILED: "FAILED"}.get(image.state, "SAVING")
            view.update(
                {
                    "status": status,
                    "progress": 100 if status == "ACTIVE" else 0,
                    "created": isotime(image.created_at),
                    "updated": isotime(image.updated_at or image.created_at),
                }
            )
        return view

    async def _images(self, call):
        return await machineImages(self.backends, call.context)

    @route("GET", "images")
    async def listImages(self, call):
        checkAllowed(call.context, "DescribeImages")
        images = self._page(call, await self._images(call))
        return Response({"images": [self._imageView(i, False) for i in images]})

    @route("GET", "images/detail")
    async def listImagesDetail(self, call):
        checkAllowed(call.context, "DescribeImages")
        images = self._page(call, await self._images(call))
        return Response({"images": [self._imageView(i, True) for i in images]})

    async def _image(self, call, imageId):
        try:
            return await self.backends.images.getImage(call.context, imageId)
        except (ImageNotFound, InvalidImageId):
            raise faults.ItemNotFound(f"Image {imageId} could not be found.") from None

    @route("GET", "images/{id}")
    async def showImage(self, call):
        checkAllowed(call.context, "DescribeImages")
        image = await self._image(call, call.args["id"])
        return Response({"image": self._imageView(image, True)})

    @route("POST", "images")
    async def createImage(self, call):
        """
        A snapshot of a server: C{{"image": {"serverId": ..., "name": ...}}}.
        """
        checkAllowed(call.context, "CreateImage")
        wanted = bodyPart(call.body, "image")
        name = wanted.get("name")
        if not isinstance(name, str) or not name.strip():
            raise faults.BadRequest("An image needs a name.")
        instance = await self._instance(call, str(wanted.get("serverId", "")))
        imageId = await self.backends.compute.createImage(call.context, instance.id, name)
        image = await self._image(call, imageId)
        view = self._imageView(image, True)
        view["serverId"] = instance.id
        return Response({"image": view}, 202)

    @route("DELETE", "images/{id}")
    async def deleteImage(self, call):
        checkAllowed(call.context, "DeregisterImage")
        await self._image(call, call.args["id"])
        await self.backends.images.deregisterImage(call.context, call.args["id"])
        return Response(None, 204)

    # -- servers -----------------------------------------------------------

    async def _instance(self, call, serverId):
        """
        @return: the L{nova.db.records.InstanceRecord} of server C{serverId}
            (its numeric id) that the context sees and that is not
            terminated.
        @raise faults.ItemNotFound: otherwise.
        """
        notFound = faults.ItemNotFound(f"Server {serverId} could not be found.")
        if not _numericId(serverId or ""):
            raise notFound
        try:
            instance = await self.backends.compute.getInstance(call.context, int(serverId))
        except InstanceNotFound:
            raise notFound from None
        if instance.state == TERMINATED:
            raise notFound
        return instance

    async def _floating(self, call):
        if self.backends.configured("network"):
            return await self.backends.network.floatingIpsByInstance(call.context)
        return {}

    @staticmethod
    def _addresses(instance, floating):
        return {
            "public": [floating[instance.id]] if floating.get(instance.id) else [],
            "private": [instance.fixed_ip] if instance.fixed_ip else [],
        }

    def _serverView(self, instance, floating, flavors, detail=True, metadata=None):
        view = {
            "id": instance.id,
            "name": instance.display_name or instance.hostname or instance.ec2Id,
        }
        if not detail:
            return view
        hostId = hostIdOf(instance)
        status = STATUSES.get(instance.state, ("UNKNOWN",))[0]
        flavorId = flavors.get(instance.instance_type, instance.instance_type)
        view.update(
            {
                "imageId": instance.image_id,
                "flavorId": flavorId,
                "status": status,
                "progress": 100 if status == "ACTIVE" else 0,
                "hostId": hostId,
                "metadata": (metadata or {}).get(instance.ec2Id, {}),
                "addresses": self._addresses(instance, floating),
            }
        )
        return view

    async def _listed(self, call):
        instances = await self.backends.compute.describeInstances(call.context)
        since = call.queryValue("changes-since")
        if since is None:
            return [i for i in instances if i.state != TERMINATED]
        when = _changesSince(since)
        return [i for i in instances if (i.updated_at or i.created_at) >= when]

    @route("GET", "servers")
    async def listServers(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instances = self._page(call, await self._listed(call))
        return Response({"servers": [self._serverView(i, None, None, False) for i in instances]})

    @route("GET", "servers/detail")
    async def listServersDetail(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instances = self._page(call, await self._listed(call))
        floating = await self._floating(call)
        flavors = {t.name: self._flavorId(t) for t in await self._flavors(call)}
        metadata = await metadataOf(self.backends, call.context, [i.ec2Id for i in instances])
        if call.queryValue("changes-since") is not None:
            return Response(
                {
                    "servers": [
                        dict(
                            self._serverView(i, floating, flavors, metadata=metadata),
                            status="DELETED" if i.state == TERMINATED else
                            STATUSES.get(i.state, ("UNKNOWN",))[0],
                        )
                        for i in instances
                    ]
                }
            )
        views = [self._serverView(i, floating, flavors, metadata=metadata) for i in instances]
        return Response({"servers": views})

    async def _shown(self, call, instance, status=200, **extra):
        floating = await self._floating(call)
        flavors = {t.name: self._flavorId(t) for t in await self._flavors(call)}
        metadata = await metadataOf(self.backends, call.context, [instance.ec2Id])
        view = self._serverView(instance, floating, flavors, metadata=metadata)
        view.update(extra)
        return Response({"server": view}, status)

    @route("GET", "servers/{id}")
    async def showServer(self, call):
        checkAllowed(call.context, "DescribeInstances")
        return await self._shown(call, await self._instance(call, call.args["id"]))

    @route("POST", "servers")
    async def createServer(self, call):
        checkAllowed(call.context, "RunInstances")
        server = bodyPart(call.body, "server")
        context = call.context
        backends = self.backends
        name = server.get("name")
        checkNewServerName(name)
        imageId = server.get("imageId")
        if imageId is None or not str(imageId).strip():
            raise faults.BadRequest("imageId is required.")
        itype = await self._flavor(call, server.get("flavorId"))
        if itype is None:
            raise faults.BadRequest(f"Flavor {server.get('flavorId')!r} could not be found.")
        quota = await maybeDeferred(backends.compute.quotas.getQuota, context.projectId)
        metadata = checkMetadata(server.get("metadata"))
        await checkQuota(backends, context.projectId, len(metadata))
        personality = self._checkPersonality(server.get("personality"), quota)
        launch = await checkLaunch(backends, context, str(imageId))
        await backends.securityGroups.ensureDefault(context)
        try:
            _, instances, _ = await backends.compute.runInstances(
                context,
                launch.imageId,
                1,
                1,
                instanceType=itype.name,
                securityGroups=["default"],
                kernelId=launch.kernelId,
                ramdiskId=launch.ramdiskId,
                personality=personality,
            )
        except Exception as e:
            if outageOf(e) is not None:
                # The database or the broker is out: serviceUnavailable.
                raise
            fault = faults.faultFor(e)
            if isinstance(fault, faults.ServiceUnavailable):
                raise ServerCapacityUnavailable(fault.message) from None
            if isinstance(fault, faults.Forbidden) and "Quota" in fault.message:
                raise faults.OverLimit(fault.message) from None
            raise
        instance = await backends.compute.renameInstance(context, instances[0].id, name)
        if metadata:
            await setOwnedMetadata(backends, context, instanceOwner(instance), metadata)
        response = await self._shown(call, instance, 202, adminPass=generatePassword())
        response.headers["Location"] = f"{call.baseURL()}/v1.0/servers/{instance.id}"
        return response

    @staticmethod
    def _checkPersonality(personality, quota):
        """
        Check the personality files against the project's C{injected_files}
        and C{injected_file_content_bytes} quotas
        (L{nova.api.openstack.servermeta.checkPersonality}).

        @return: the files, for L{nova.compute.api.ComputeAPI.runInstances}.
        """
        return checkPersonality(personality, quota)

    @route("PUT", "servers/{id}")
    async def updateServer(self, call):
        checkAllowed(call.context, "UpdateInstance")
        changes = bodyPart(call.body, "server")
        instance = await self._instance(call, call.args["id"])
        if "adminPass" in changes:
            raise faults.NotImplementedFault(
                "Changing the admin password needs a guest agent, which this cloud lacks."
            )
        if "name" not in changes:
            raise faults.BadRequest("Nothing to update: give a name.")
        name = changes["name"]
        checkServerRename(name)
        await self.backends.compute.renameInstance(call.context, instance.id, name)
        return Response(None, 204)

    @route("DELETE", "servers/{id}")
    async def deleteServer(self, call):
        checkAllowed(call.context, "TerminateInstances")
        instance = await self._instance(call, call.args["id"])
        await terminateServer(self.backends, call.context, instance.id)
        return Response(None, 202)

    def _computeMethod(self, name, what):
        method = getattr(self.backends.compute, name, None)
        if method is None:
            raise faults.NotImplementedFault(f"{what} is not supported by this cloud yet.")
        return method

    @route("POST", "servers/{id}/action")
    async def serverAction(self, call):
        action, argument = singleAction(call.body)
        if not isinstance(argument, dict):
            argument = {}
        context = call.context
        compute = self.backends.compute
        if action == "reboot":
            if str(argument.get("type", "")).upper() not in ("SOFT", "HARD"):
                raise faults.BadRequest("A reboot's type is SOFT or HARD.")
            checkAllowed(context, "RebootInstances")
            instance = await self._instance(call, call.args["id"])
            await compute.rebootInstances(context, [instance.id])
        elif action == "resize":
            checkAllowed(context, "ModifyInstanceAttribute")
            instance = await self._instance(call, call.args["id"])
            itype = await self._flavor(call, argument.get("flavorId"))
            if itype is None:
                raise faults.BadRequest(f"Flavor {argument.get('flavorId')!r} could not be found.")
            method = self._computeMethod("resizeInstance", "Resizing")
            await method(context, instance.id, itype.name)
        elif action in ("confirmResize", "revertResize"):
            checkAllowed(context, "ModifyInstanceAttribute")
            instance = await self._instance(call, call.args["id"])
            method = self._computeMethod(action, "Confirming or reverting a resize")
            await method(context, instance.id)
            return Response(None, 204)
        elif action == "rebuild":
            checkAllowed(context, "UpdateInstance")
            instance = await self._instance(call, call.args["id"])
            imageId = argument.get("imageId")
            if imageId is None or not str(imageId).strip():
                raise faults.BadRequest("A rebuild needs an imageId.")
            await self._image(call, str(imageId))
            method = self._computeMethod("rebuildInstance", "Rebuilding")
            await method(context, instance.id, str(imageId))
        else:
            raise faults.BadRequest(f"The action {action!r} is not supported.")
        return Response(None, 202)

    # -- addresses ---------------------------------------------------------

    @route("GET", "servers/{id}/ips")
    async def serverIps(self, call):
        checkAllowed(call.context, "DescribeInstances")
        instance = await self._instance(call, call.args["id"])
        return Response({"addresses": self._addresses(instance, await self._floating(call))})

    @route("GET", "servers/{id}/ips/{network}")
    async def serverIpsOf(self, call):
        checkAllowed(call.context, "DescribeInstances")
        network = call.args["network"]
        if network not in ("public", "private"):
            raise faults.ItemNotFound(f"No network {network}.")
        instance = await self._instance(call, call.args["id"])
        addresses = self._addresses(instance, await self._floating(call))
        return Response({network: addresses[network]})

    # -- admin actions -----------------------------------------------------

    def _checkAdminAPI(self):
        if not self.config.allow_admin_api:
            raise faults.ItemNotFound("The resource could not be found.")

    @route("POST", "servers/{id}/{action}")
    async def adminAction(self, call):
        self._checkAdminAPI()
        action = call.args["action"]
        if action not in ADMIN_ACTIONS:
            raise faults.ItemNotFound("The resource could not be found.")
        methodName, policyAction = ADMIN_ACTIONS[action]
        checkAllowed(call.context, policyAction)
        instance = await self._instance(call, call.args["id"])
        method = self._computeMethod(methodName, f"The action {action}")
        await method(call.context, instance.id)
        return Response(None, 202)

    @route("GET", "servers/{id}/diagnostics")
    async def diagnostics(self, call):
        self._checkAdminAPI()
        checkAllowed(call.context, "GetDiagnostics")
        instance = await self._instance(call, call.args["id"])
        result = await self.backends.compute.getDiagnostics(call.context, instance.id)
        return Response({"diagnostics": result})

    # -- what v1.0 describes but this cloud does not do -------------------

    @route("GET", "servers/{id}/backup_schedule")
    @route("POST", "servers/{id}/backup_schedule")
    @route("DELETE", "servers/{id}/backup_schedule")
    @route("GET", "shared_ip_groups")
    @route("POST", "shared_ip_groups")
    @route("GET", "shared_ip_groups/detail")
    @route("GET", "shared_ip_groups/{id}")
    @route("DELETE", "shared_ip_groups/{id}")
    @route("PUT", "servers/{id}/ips/public/{address}")
    @route("DELETE", "servers/{id}/ips/public/{address}")
    async def notImplemented(self, call):
        raise faults.NotImplementedFault("This resource is not implemented.")

    # -- limits ------------------------------------------------------------

    @route("GET", "limits")
    async def limits(self, call):
        context = call.context
        quota = await maybeDeferred(self.backends.compute.quotas.getQuota, context.projectId)

        def limit(resource):
            return absoluteLimit(quota, resource)

        absolute = {
            "maxTotalInstances": limit("instances"),
            "maxTotalCores": limit("cores"),
            "maxTotalRAMSize": limit("ram"),
            "maxTotalVolumes": limit("volumes"),
            "maxTotalVolumeGigabytes": limit("gigabytes"),
            "maxTotalFloatingIps": limit("floating_ips"),
            "maxServerMeta": limit("metadata_items"),
            "maxImageMeta": limit("metadata_items"),
            "maxPersonality": limit("injected_files"),
            "maxPersonalitySize": limit("injected_file_content_bytes"),
        }
        return Response(
            {"limits": {"rate": self.limiter.describe(context.userId), "absolute": absolute}}
        )

    # -- admin resources: users and accounts (projects) -------------------

    def _checkSuperuser(self, call):
        self._checkAdminAPI()
        if not call.context.isAdmin:
            raise faults.Forbidden("Only administrators may manage users and accounts.")

    @staticmethod
    def _userView(user, includeSecret):
        """
        @param includeSecret: whether the view holds the user's secret
            key (C{secret}).
        """
        view = {
            "id": user.name,
            "name": user.name,
            "admin": user.isAdmin,
            "access": user.accessKey,
        }
        if includeSecret:
            view["secret"] = user.secretKey
        return view

    @staticmethod
    def _includeSecrets(call):
        """
        @return: whether a C{GET} of users may answer their secret keys:
            only when a cloud admin (a superuser) asks with
            C{include_secrets=true} (as C{IncludeSecrets=true} in the EC2
            admin API).
        @raise faults.BadRequest: for a value other than C{true} or
            C{false} (or C{1}, C{0}).
        """
        value = call.queryValue("include_secrets")
        if value is None:
            return False
        value = value.strip().lower()
        if value not in ("true", "1", "false", "0"):
            raise faults.BadRequest("include_secrets must be true or false.")
        return value in ("true", "1") and bool(call.context.isAdmin)

    @route("GET", "users")
    async def listUsers(self, call):
        """
        The users, without their secret keys unless a cloud admin asks
        with C{include_secrets=true}.
        """
        self._checkSuperuser(call)
        includeSecrets = self._includeSecrets(call)
        users = await self.backends.authManager.getUsers()
        return Response({"users": [self._userView(u, includeSecrets) for u in users]})

    @route("GET", "users/{id}")
    async def showUser(self, call):
        """
        The user, without its secret key unless a cloud admin asks with
        C{include_secrets=true}.
        """
        self._checkSuperuser(call)
        includeSecrets = self._includeSecrets(call)
        try:
            user = await self.backends.authManager.getUser(call.args["id"])
        except authInterfaces.UserNotFound:
            raise faults.ItemNotFound(f"User {call.args['id']} could not be found.") from None
        return Response({"user": self._userView(user, includeSecrets)})

    @route("POST", "users")
    async def createUser(self, call):
        """
        Create a user; the answer holds its new secret key (the creator
        needs it to hand it on).
        """
        self._checkSuperuser(call)
        wanted = bodyPart(call.body, "user")
        name = wanted.get("name")
        if not isinstance(name, str) or not name.strip():
            raise faults.BadRequest("A user needs a name.")
        admin = str(wanted.get("admin", False)).lower() in ("true", "1")
        user = await self.backends.authManager.createUser(
            name, wanted.get("access") or None, wanted.get("secret") or None, admin
        )
        return Response({"user": self._userView(user, True)})

    @route("DELETE", "users/{id}")
    async def deleteUser(self, call):
        self._checkSuperuser(call)
        await self.backends.authManager.deleteUser(call.args["id"])
        return Response(None, 202)

    @staticmethod
    def _accountView(project):
        return {
            "id": project.name,
            "name": project.name,
            "description": project.description,
            "manager": project.managerId,
        }

    @route("GET", "accounts/{id}")
    async def showAccount(self, call):
        self._checkSuperuser(call)
        try:
            project = await self.backends.authManager.getProject(call.args["id"])
        except authInterfaces.ProjectNotFound:
            raise faults.ItemNotFound(f"Account {call.args['id']} could not be found.") from None
        return Response({"account": self._accountView(project)})

    @route("PUT", "accounts/{id}")
    async def putAccount(self, call):
        """
        Create the account (project) C{id}, or change its manager and
        description.
        """
        self._checkSuperuser(call)
        wanted = bodyPart(call.body, "account")
        manager = wanted.get("manager")
        description = wanted.get("description")
        authManager = self.backends.authManager
        name = call.args["id"]
        try:
            await authManager.getProject(name)
        except authInterfaces.ProjectNotFound:
            if not isinstance(manager, str) or not manager:
                raise faults.BadRequest("A new account needs a manager.") from None
            project = await authManager.createProject(name, manager, description or name)
        else:
            await authManager.modifyProject(name, manager=manager, description=description)
            project = await authManager.getProject(name)
        return Response({"account": self._accountView(project)})

    @route("DELETE", "accounts/{id}")
    async def deleteAccount(self, call):
        self._checkSuperuser(call)
        await self.backends.authManager.deleteProject(call.args["id"])
        return Response(None, 202)

