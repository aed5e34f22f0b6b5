# -*- test-case-name: tests.api.openstack -*-
"""
What the OpenStack APIs v1.0 (L{nova.api.openstack.v10}) and v2.1
(L{nova.api.openstack.compute}) do alike: reading request bodies, checking
server names, listing flavors and machine images, and terminating a
server, over the same service APIs.
"""

import hashlib

from nova.api.openstack import faults
from nova.image.errors import ImageNotFound, InvalidImageId
from nova.image.service import MACHINE


def bodyPart(body, key):
    """
    @return: C{body[key]}, a dict.
    @raise faults.BadRequest: when C{body} is not a dict holding a dict
        under C{key}.
    """
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise faults.BadRequest(f"Expecting to find {key} in the request body.")
    return body[key]


def singleAction(body):
    """
    @return: C{(action, argument)}: the one entry of a server action's body.
    @raise faults.BadRequest: unless C{body} is a dict of exactly one entry.
    """
    if not isinstance(body, dict) or len(body) != 1:
        raise faults.BadRequest("There is not exactly one action in the request body.")
    [(action, argument)] = body.items()
    return action, argument


def _goodName(name):
    return isinstance(name, str) and bool(name.strip()) and len(name) <= 255


def checkNewServerName(name):
    """
    @raise faults.BadRequest: unless C{name}, a new server's, is text of 1
        to 255 characters.
    """
    if not _goodName(name):
        raise faults.BadRequest("A server needs a name of 1 to 255 characters.")


def checkServerRename(name):
    """
    @raise faults.BadRequest: unless C{name}, a server's new name, is text
        of 1 to 255 characters.
    """
    if not _goodName(name):
        raise faults.BadRequest("Invalid server name.")


async def liveFlavors(backends, context):
    """
    @return: the instance types (flavors) that are not deleted.
    """
    types = await backends.compute.describeInstanceTypes(context)
    return [t for t in types if not t.deleted]


def flavorById(flavors, flavorId):
    """
    @return: the flavor among C{flavors} whose C{flavorid} reads
        C{flavorId}, or L{None}.
    """
    for itype in flavors:
        if str(itype.flavorid) == flavorId:
            return itype
    return None


async def machineImages(backends, context):
    """
    @return: the machine images the context sees.
    """
    images = await backends.images.describeImages(context)
    return [image for image in images if image.image_type == MACHINE]


async def checkLaunch(backends, context, imageId):
    """
    @return: L{nova.image.service.ImageService.checkLaunch}'s answer for
        image C{imageId}.
    @raise faults.BadRequest: when there is no such image.
    """
    try:
        return await backends.images.checkLaunch(context, imageId)
    except (ImageNotFound, InvalidImageId):
        raise faults.BadRequest(f"Can not find requested image {imageId}.") from None


def hostIdOf(instance):
    """
    @return: the opaque C{hostId} of a server: a digest of its project and
        host, or C{""} when it has no host.
    """
    if not instance.host:
        return ""
    return hashlib.sha224((instance.project_id + instance.host).encode("utf-8")).hexdigest()


async def terminateServer(backends, context, instanceId):
    """
    Terminate instance C{instanceId}, and take it out of its security
    groups when it did stop.
    """
    changes = await backends.compute.terminateInstances(context, [instanceId])
    if backends.configured("securityGroups"):
        for change in changes:
            if change.previousState != change.currentState:
                await backends.securityGroups.removeInstance(context, change.instanceId)


def absoluteLimit(quota, resource):
    """
    @return: the quota of C{resource}, or C{-1} when it has none.
    """
    value = quota.get(resource)
    return -1 if value is None else value
