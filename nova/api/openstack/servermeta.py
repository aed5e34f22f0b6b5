# -*- test-case-name: tests.api.openstack.test_metadata -*-
"""
Server and image metadata of the OpenStack APIs.

A server's (or image's) metadata is its tags (L{nova.tags.TagAPI}): the
same key/value pairs EC2's C{DescribeTags} shows on the instance
(C{i-...}) or image (C{ami-...}), private to the owning project.  The
OpenStack APIs' rules for them are these: a key is 1 to 255 characters, a
value at most 255, and a server or image has at most the project's
C{metadata_items} quota of them (and never more than the tag store's
L{nova.db.tags.MAX_TAGS}).
"""

import base64
import binascii

from twisted.internet.defer import maybeDeferred

from nova.api.openstack import faults
from nova.tags import IMAGE, INSTANCE, MAX_TAGS, TaggedResource

__all__ = [
    "IMAGE",
    "INSTANCE",
    "checkMetadata",
    "checkPersonality",
    "checkQuota",
    "deleteMetadataKey",
    "instanceOwner",
    "metadataOf",
    "setMetadata",
    "setOwnedMetadata",
]


#: Cactus's limits on personality files (C{--quota_max_injected_*}), for
#: the quotas a project's quota engine does not name.
PERSONALITY_LIMITS = {
    "injected_files": 5,
    "injected_file_content_bytes": 10 * 1024,
    "injected_file_path_bytes": 255,
}


def checkPersonality(personality, quota):
    """
    Check a server's personality files against the project's
    C{injected_files}, C{injected_file_content_bytes} and
    C{injected_file_path_bytes} quotas, Cactus's defaults
    (L{PERSONALITY_LIMITS}) where the quota engine has none; a negative
    or L{None} quota is no limit.

    @param personality: what the request gave: L{None}, or a L{list} of
        C{{"path": <absolute path>, "contents": <base64>}}.
    @param quota: the project's quotas, a L{dict}.
    @return: the files, a L{list} of C{{"path", "contents"}} L{dict}s.
    @raise faults.BadRequest: for a malformed list, a relative path or
        contents that are not base64.
    @raise faults.OverLimit: for too many files, or one too large.
    """
    if personality is None:
        return []
    if not isinstance(personality, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(
            f.get("contents"), str
        )
        for f in personality
    ):
        raise faults.BadRequest("personality is a list of {path, contents}.")
    limits = {**PERSONALITY_LIMITS, **quota}
    maxFiles = limits["injected_files"]
    if maxFiles is not None and maxFiles >= 0 and len(personality) > maxFiles:
        raise faults.OverLimit(f"Personality file limit exceeded ({maxFiles}).")
    maxBytes = limits["injected_file_content_bytes"]
    maxPath = limits["injected_file_path_bytes"]
    files = []
    for item in personality:
        path = item["path"]
        if maxPath is not None and maxPath >= 0 and len(path.encode("utf-8")) > maxPath:
            raise faults.OverLimit(f"Personality file path too long ({maxPath} bytes).")
        parts = path.split("/")
        if not path.startswith("/") or "\0" in path or ".." in parts or not parts[-1]:
            raise faults.BadRequest(f"Personality path {path!r} is not an absolute file path.")
        try:
            data = base64.b64decode(item["contents"].encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise faults.BadRequest(f"Personality content for {path} is not base64.") from None
        if maxBytes is not None and maxBytes >= 0 and len(data) > maxBytes:
            raise faults.OverLimit(f"Personality content limit exceeded ({maxBytes} bytes).")
        files.append({"path": path, "contents": item["contents"]})
    return files


def checkMetadata(metadata):
    """
    @return: C{metadata} as a L{dict} of L{str} (values given as numbers
        become text).
    @raise faults.BadRequest: if it is not a map of text keys of 1 to 255
        characters to values of at most 255.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise faults.BadRequest("metadata must be a map of keys to values.")
    checked = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255 or not key.strip():
            raise faults.BadRequest("Metadata keys are 1 to 255 characters.")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise faults.BadRequest(f"The value of metadata key {key!r} must be text.")
        value = str(value)
        if len(value) > 255:
            raise faults.BadRequest(f"The value of metadata key {key!r} is over 255 characters.")
        checked[key] = value
    return checked


async def metadataOf(backends, context, resourceIds):
    """
    @param resourceIds: EC2 ids (C{i-...}, C{ami-...}).
    @return: a L{dict} from each id to its metadata (a L{dict}; empty if
        it has none).
    """
    resourceIds = list(resourceIds)
    found = {}
    if resourceIds and backends.configured("tags"):
        found = await backends.tags.tagsOf(context, resourceIds)
    return {resourceId: dict(found.get(resourceId, {})) for resourceId in resourceIds}


async def checkQuota(backends, projectId, count):
    """
    @raise faults.OverLimit: if a resource of C{projectId} may not have
        C{count} metadata items.
    """
    quota = await maybeDeferred(backends.compute.quotas.getQuota, projectId)
    limit = quota.get("metadata_items")
    if limit is None or limit < 0 or limit > MAX_TAGS:
        limit = MAX_TAGS
    if count > limit:
        raise faults.OverLimit(f"Maximum number of metadata items exceeds {limit}.")


async def setMetadata(backends, context, resourceType, resourceId, metadata, replace=False):
    """
    Add C{metadata} to a resource's (changing the values of keys it has),
    or with C{replace} make it the resource's whole metadata.

    @param resourceType: L{INSTANCE} or L{IMAGE}.
    @param metadata: checked by L{checkMetadata}.
    @return: the resource's metadata afterwards (a L{dict}).
    @raise faults.OverLimit: past the project's C{metadata_items} quota.
    """
    tags = backends.tags
    owner = await tags.ownerOf(context, resourceType, resourceId)
    return await setOwnedMetadata(backends, context, owner, metadata, replace)


async def setOwnedMetadata(backends, context, owner, metadata, replace=False):
    """
    L{setMetadata} for a L{TaggedResource} the caller has (one it just
    made, or from L{nova.tags.TagAPI.ownerOf}).
    """
    tags = backends.tags
    current = (await metadataOf(backends, context, [owner.resourceId]))[owner.resourceId]
    wanted = dict(metadata) if replace else {**current, **metadata}
    await checkQuota(backends, owner.projectId, len(wanted))
    if replace:
        gone = [(key, None) for key in current if key not in wanted]
        if gone:
            await tags.deleteTags(context, [owner], gone)
    if metadata:
        await tags.createTags(context, [owner], sorted(metadata.items()))
    return wanted


async def deleteMetadataKey(backends, context, resourceType, resourceId, key):
    """
    Remove one key of a resource's metadata.

    @raise faults.ItemNotFound: if it has no such key.
    """
    tags = backends.tags
    owner = await tags.ownerOf(context, resourceType, resourceId)
    removed = await tags.deleteTags(context, [owner], [(key, None)])
    if not removed:
        raise faults.ItemNotFound(f"Metadata item {key} was not found.")


def instanceOwner(instance):
    """
    @return: the L{TaggedResource} of an instance record.
    """
    return TaggedResource(instance.ec2Id, INSTANCE, instance.project_id)
