# -*- test-case-name: tests.api.ec2.test_tags -*-
"""
Tags: CreateTags, DeleteTags, DescribeTags, and the helpers other actions
use to show tags (L{tagsOf}, L{tagList}) and to read the tags of what they
create (L{tagSpecifications}; the service layers write those tags in the
transaction that makes the resource).

Tags can be put on instances (C{i-}), images (C{ami-}, C{aki-},
C{ari-}), volumes (C{vol-}), snapshots (C{snap-}) and security groups
(C{sg-}) of the caller's project; a resource of another project does not
exist for the caller (its C{NotFound} code).  EC2's rules: at most 50
tags per resource, keys of 1 to 128 characters, values of at most 256,
and keys starting with C{aws:} are reserved.  Tags are private to the
project owning the resource: another project that sees a public image
does not see its tags.  The tags and who owns what are the tag API's
(L{nova.tags.TagAPI}); this module checks EC2's ids and rules.
"""

from nova.api.ec2 import ids
from nova.api.ec2.actions.paging import paginate
from nova.api.ec2.errors import (
    EC2Error,
    InvalidParameterValue,
    MissingParameter,
    UnsupportedOperation,
)
from nova.api.ec2.filters import applyFilters
from nova.tags import (
    IMAGE,
    INSTANCE,
    MAX_TAGS,
    RESOURCE_TYPES,
    SECURITY_GROUP,
    SNAPSHOT,
    VOLUME,
)

MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
RESERVED_PREFIX = "aws:"

__all__ = [
    "INSTANCE", "IMAGE", "VOLUME", "SNAPSHOT", "SECURITY_GROUP", "RESOURCE_TYPES",
    "resourceTypeOf", "resourceProject", "checkTags", "tagSpecifications",
    "tagsOf", "tagList", "deleteTagsOf", "createTags", "deleteTags",
    "describeTags",
]

#: The resource type of each kind of id (L{nova.api.ec2.ids}).
_TYPE_OF_KIND = {
    ids.INSTANCE: INSTANCE,
    ids.IMAGE: IMAGE,
    ids.VOLUME: VOLUME,
    ids.SNAPSHOT: SNAPSHOT,
    ids.SECURITY_GROUP: SECURITY_GROUP,
}

#: DescribeTags' filters: C{key}, C{value}, C{resource-id},
#: C{resource-type}, and through the C{"tag"} entry C{tag:<key>} (a tag
#: with that key and one of the values), C{tag-key} and C{tag-value} (the
#: same as C{key} and C{value}).
TAG_FILTERS = {
    "resource-id": lambda tag: tag.resource_id,
    "resource-type": lambda tag: tag.resource_type,
    "key": lambda tag: tag.key,
    "value": lambda tag: tag.value,
    "tag": lambda tag: {tag.key: tag.value},
}


class InvalidID(EC2Error):
    """
    A resource id of no kind tags can be put on.
    """

    code = "EC2.InvalidID"

    def __init__(self, resourceId):
        super().__init__("InvalidID", f"The ID '{resourceId[:100]}' is not valid")


def resourceTypeOf(resourceId):
    """
    @return: the EC2 resource type of C{resourceId} (one of
        L{RESOURCE_TYPES}).
    @raise InvalidID: if it is not a well-formed id of a resource tags go
        on.
    @raise UnsupportedOperation: for a key pair id.
    """
    if not isinstance(resourceId, str):
        raise InvalidID(repr(resourceId))
    kind = ids.kindOf(resourceId)
    if kind is not None:
        return _TYPE_OF_KIND[kind]
    if resourceId.startswith("key-"):
        raise UnsupportedOperation("Tags are not supported for key pairs.")
    raise InvalidID(resourceId)


async def resourceProject(call, resourceId):
    """
    Find the project owning a resource the caller may tag.

    @return: a L{nova.tags.TaggedResource}.
    @raise InvalidID: for an id of no taggable kind.
    @raise nova.exception.NotFound: the resource's own not-found error
        (C{InvalidInstanceID.NotFound}, C{InvalidAMIID.NotFound},
        C{InvalidVolume.NotFound}, C{InvalidSnapshot.NotFound},
        C{InvalidGroup.NotFound}) if it does not exist or belongs to
        another project.
    """
    kind = resourceTypeOf(resourceId)
    idKind = ids.kindOf(resourceId)
    if not ids.isMadeHere(idKind, resourceId):
        raise ids.notFound(idKind, [resourceId])
    return await call.backends.tags.ownerOf(call.context, kind, resourceId)


def checkTags(tags, requireValue=False):
    """
    Check tags as CreateTags (or a C{TagSpecification}) gives them.

    @param tags: a L{list} of C{{"Key": ..., "Value": ...}}.
    @param requireValue: if false, a missing value is the empty string.
    @return: a L{list} of C{(key, value)} pairs.
    @raise InvalidParameterValue: for a key or value EC2 refuses.
    @raise MissingParameter: for a tag without a key.
    """
    pairs = []
    for tag in tags:
        key = tag.get("Key")
        if key is None:
            raise MissingParameter("Tag.Key")
        value = tag.get("Value")
        if value is None:
            if requireValue:
                raise MissingParameter("Tag.Value")
            value = ""
        if not key:
            raise InvalidParameterValue("Tag keys cannot be empty")
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidParameterValue(
                f"Tag key exceeds the maximum length of {MAX_KEY_LENGTH} characters"
            )
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidParameterValue(
                f"Tag keys starting with '{RESERVED_PREFIX}' are reserved for internal use"
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidParameterValue(
                f"Tag value exceeds the maximum length of {MAX_VALUE_LENGTH} characters"
            )
        pairs.append((key, value))
    if len(dict(pairs)) > MAX_TAGS:
        raise EC2Error(
            "TagLimitExceeded",
            f"The maximum number of tags ({MAX_TAGS}) for a resource has been reached.",
        )
    return pairs


def tagSpecifications(params, resourceTypes):
    """
    The tags a C{TagSpecification.N} parameter asks for, by resource type.

    @param params: the action's parameters (C{TagSpecifications}).
    @param resourceTypes: the resource types the action creates.
    @return: a L{dict} from resource type to C{(key, value)} pairs.
    @raise InvalidParameterValue: for another resource type, a type
        given twice, or bad tags.
    """
    wanted = {}
    for spec in params.get("TagSpecifications", ()):
        resourceType = spec.get("ResourceType")
        if resourceType is None:
            raise MissingParameter("TagSpecification.ResourceType")
        if resourceType not in resourceTypes:
            raise InvalidParameterValue(
                f"'{resourceType}' is not a valid taggable resource type for this operation."
            )
        if resourceType in wanted:
            raise InvalidParameterValue(
                f"The tag specification for resource type '{resourceType}' is given twice."
            )
        wanted[resourceType] = checkTags(spec.get("Tags", ()))
    return wanted


def tagsOf(call, resourceIds):
    """
    The tags of resources, as the caller sees them (its project's; every
    project's for superusers).

    @param resourceIds: EC2 ids.
    @return: L{Deferred} firing with a L{dict} from each resource id that
        has tags to a L{dict} of its tags.
    """
    return call.backends.tags.tagsOf(call.context, resourceIds)


def tagList(tags):
    """
    @param tags: a L{dict} of tags, or L{None}.
    @return: EC2's tag set: C{[{"Key": ..., "Value": ...}]}, by key.
    """
    return [{"Key": key, "Value": value} for key, value in sorted((tags or {}).items())]


def deleteTagsOf(call, resourceIds):
    """
    Remove every tag of resources the caller deleted (deregistered
    images, deleted volumes, snapshots and security groups).

    @return: L{Deferred} firing with the number of tags removed.
    """
    return call.backends.tags.forgetResources(call.context, resourceIds)


async def _checkedResources(call):
    resources = call.params.get("Resources") or []
    if not resources:
        raise MissingParameter("ResourceId")
    return [await resourceProject(call, resourceId) for resourceId in dict.fromkeys(resources)]


async def createTags(call):
    """
    Add or overwrite tags on resources of the caller's project.
    """
    tags = call.params.get("Tags") or []
    if not tags:
        raise MissingParameter("Tag")
    pairs = checkTags(tags)
    resources = await _checkedResources(call)
    await call.backends.tags.createTags(call.context, resources, pairs)
    return None


async def deleteTags(call):
    """
    Remove tags from resources of the caller's project: the keys named
    (only where the value matches, if a value is given), or every tag if
    none is named.
    """
    pairs = []
    for tag in call.params.get("Tags") or []:
        key = tag.get("Key")
        if key is None:
            raise MissingParameter("Tag.Key")
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidParameterValue(
                f"Tag keys starting with '{RESERVED_PREFIX}' are reserved for internal use"
            )
        pairs.append((key, tag.get("Value")))
    resources = await _checkedResources(call)
    await call.backends.tags.deleteTags(call.context, resources, pairs)
    return None


async def describeTags(call):
    """
    The tags of the caller's project's resources; filters C{resource-id},
    C{resource-type}, C{key}, C{value}, C{tag:<key>}, C{tag-key} and
    C{tag-value}.
    """
    context = call.context
    if context.projectId is None and not context.isAdmin:
        return {"Tags": []}
    filters = call.params.get("Filters")
    records = await call.backends.tags.describeTags(
        context, lambda records: applyFilters(filters, records, TAG_FILTERS)
    )
    page, nextToken = paginate(
        call, records, lambda record: [record.resource_id, record.key], exclusive=()
    )
    return {
        "Tags": [
            {
                "ResourceId": record.resource_id,
                "ResourceType": record.resource_type,
                "Key": record.key,
                "Value": record.value,
            }
            for record in page
        ],
        "NextToken": nextToken,
    }
