# -*- test-case-name: tests.test_tags -*-
"""
The tag API: key/value tags on the resources of a project.

Tags go on instances, images, volumes, snapshots and security groups,
each named by the id clients see (C{i-...}, C{ami-...}, C{vol-...},
C{snap-...}, C{sg-...}).  Tags are private to the project owning the
resource: another project (even one that sees a public image) neither
sees nor changes them; superusers see and change every project's.  Both
HTTP APIs reach tags only through L{TagAPI}; what a valid key or value
is, is each API's own rule.
"""

import attr
from twisted.internet.defer import fail, inlineCallbacks

from nova.db.images import ImageNotFound
from nova.db.security_groups import SecurityGroupNotFound
from nova.db.tags import IMAGE, INSTANCE, MAX_TAGS, SECURITY_GROUP, SNAPSHOT, VOLUME
from nova.db.volumes import SnapshotNotFound, VolumeNotFound
from nova.exception import NotAuthorized, NovaError

#: The resource types tags can be put on.
RESOURCE_TYPES = (INSTANCE, IMAGE, VOLUME, SNAPSHOT, SECURITY_GROUP)

@attr.s(frozen=True)
class TaggedResource:
    """
    A resource tags go on, and the project that owns it.

    @ivar resourceId: its id (C{vol-0000002a}).
    @ivar resourceType: one of L{RESOURCE_TYPES}.
    @ivar projectId: its project.
    """

    resourceId = attr.ib()
    resourceType = attr.ib()
    projectId = attr.ib()


def _owned(context, projectId):
    return bool(context.isAdmin) or (projectId is not None and projectId == context.projectId)


def _scope(context):
    """
    @return: the project whose tags C{context} sees; L{None} (every
        project's) for superusers.
    """
    return None if context.isAdmin else context.projectId


def _number(resourceId):
    """
    @return: the database id in a resource id: the hex digits after the
        dash.
    """
    return int(resourceId.partition("-")[2], 16)


class TagAPI:
    """
    Read and change the tags of a project's resources.

    @ivar db: the L{nova.db.api.NovaDatabase} (its tags, images, volumes
        and security groups).
    @ivar compute: the L{nova.compute.api.ComputeAPI}, which says which
        instances a context sees.
    """

    def __init__(self, db, compute=None):
        """
        @param compute: the compute API; L{None} in an API without one
            (then instances cannot be tagged).
        """
        self.db = db
        self.compute = compute

    def _computeAPI(self):
        if self.compute is None:
            raise NovaError("this API has no compute service: instances cannot be tagged")
        return self.compute

    @inlineCallbacks
    def ownerOf(self, context, resourceType, resourceId):
        """
        Find a resource C{context} may tag, and its project.

        @param resourceType: one of L{RESOURCE_TYPES}.
        @param resourceId: a well-formed id of that type.
        @return: L{Deferred} firing with a L{TaggedResource}; failing with
            the resource's own L{nova.exception.NotFound}
            (L{nova.db.instances.InstanceNotFound}, L{ImageNotFound},
            L{VolumeNotFound}, L{SnapshotNotFound},
            L{SecurityGroupNotFound}) if it does not exist or belongs to
            another project; with C{ValueError} for a type not in
            L{RESOURCE_TYPES}.
        """
        if resourceType == INSTANCE:
            instance = yield self._computeAPI().getInstance(context, resourceId)
            return TaggedResource(resourceId, resourceType, instance.project_id)
        if resourceType == IMAGE:
            found = self.db.images.get(resourceId)
            notFound, message = ImageNotFound, f"The image id '[{resourceId}]' does not exist"
        elif resourceType == VOLUME:
            found = self.db.volumes.get(_number(resourceId))
            notFound, message = VolumeNotFound, f"The volume '{resourceId}' does not exist."
        elif resourceType == SNAPSHOT:
            found = self.db.volumes.getSnapshot(_number(resourceId))
            notFound, message = SnapshotNotFound, f"The snapshot '{resourceId}' does not exist."
        elif resourceType == SECURITY_GROUP:
            found = self.db.securityGroups.get(_number(resourceId))
            notFound = SecurityGroupNotFound
            message = f"The security group '{resourceId}' does not exist"
        else:
            raise ValueError(f"tags do not go on {resourceType!r}")
        try:
            record = yield found
        except notFound:
            record = None
        if record is None or not _owned(context, record.project_id):
            raise notFound(message)
        return TaggedResource(resourceId, resourceType, record.project_id)

    def _checkOwned(self, context, resources):
        for resource in resources:
            if not _owned(context, resource.projectId):
                raise NotAuthorized(
                    f"{resource.resourceId} belongs to another project"
                )

    def createTags(self, context, resources, pairs):
        """
        Add tags to resources, or overwrite their values.

        @param resources: L{TaggedResource}s, from L{ownerOf} or of
            resources the caller just made.
        @param pairs: C{(key, value)} pairs.
        @return: L{Deferred} firing with L{None}; failing with
            L{nova.db.tags.TagLimitExceeded} if a resource would have more than
            L{MAX_TAGS} tags, or L{NotAuthorized} for a resource of
            another project.
        """
        try:
            self._checkOwned(context, resources)
        except NotAuthorized as error:
            return fail(error)
        return self.db.tags.setTags(
            [(r.resourceId, r.resourceType, r.projectId) for r in resources], pairs
        )

    def deleteTags(self, context, resources, pairs=None):
        """
        Remove tags from resources.

        @param resources: L{TaggedResource}s, from L{ownerOf}.
        @param pairs: C{(key, value)} pairs: a tag goes if its key matches
            and the value does or is L{None}; every tag if L{None} or
            empty.
        @return: L{Deferred} firing with the number of tags removed;
            failing with L{NotAuthorized} for a resource of another
            project.
        """
        try:
            self._checkOwned(context, resources)
        except NotAuthorized as error:
            return fail(error)
        return self.db.tags.deleteTags([r.resourceId for r in resources], pairs or None)

    def forgetResources(self, context, resourceIds):
        """
        Remove every tag of resources the caller has just deleted
        (deregistered images, deleted volumes, snapshots and security
        groups): their tags go with them, whoever removed them.

        @param resourceIds: the ids of the deleted resources.
        @return: L{Deferred} firing with the number of tags removed.
        """
        return self.db.tags.deleteTags(list(resourceIds))

    @inlineCallbacks
    def tagsOf(self, context, resourceIds):
        """
        The tags of resources, as C{context} sees them: its project's
        tags (every project's for superusers).

        @param resourceIds: resource ids.
        @return: L{Deferred} firing with a L{dict} from each resource id
            that has tags to a L{dict} of its tags.
        """
        resourceIds = list(resourceIds)
        if not resourceIds:
            return {}
        tags = yield self.db.tags.byResource(_scope(context), resourceIds)
        return tags

    @inlineCallbacks
    def describeTags(self, context, select=None):
        """
        The tags of the resources C{context} sees, leaving out those of
        resources that are gone.

        @param select: L{None}, or called with the project's
            L{nova.db.tags.TagRecord}s and returning those wanted (an
            API's filters), before the resources are looked up: only the
            kinds of resource still wanted are read.
        @return: L{Deferred} firing with a L{list} of
            L{nova.db.tags.TagRecord}s.
        """
        projectId = _scope(context)
        if projectId is None and not context.isAdmin:
            return []
        records = yield self.db.tags.find(projectId=projectId)
        if select is not None:
            records = select(records)
        if records:
            existing = yield self._existing(context, {r.resource_type for r in records})
            records = [record for record in records if record.resource_id in existing]
        return records

    @inlineCallbacks
    def _existing(self, context, kinds):
        """
        @return: L{Deferred} firing with the ids of the resources of the
            given types C{context} sees.
        """
        db = self.db
        projectId = _scope(context)
        ids = set()
        if INSTANCE in kinds:
            instances = yield self._computeAPI().describeInstances(context)
            ids.update(instance.ec2Id for instance in instances)
        if IMAGE in kinds:
            owners = None if projectId is None else [projectId]
            ids.update(image.ec2_id for image in (yield db.images.find(owners=owners)))
        if VOLUME in kinds:
            ids.update(volume.ec2Id for volume in (yield db.volumes.list(projectId=projectId)))
        if SNAPSHOT in kinds:
            ids.update(s.ec2Id for s in (yield db.volumes.listSnapshots(projectId=projectId)))
        if SECURITY_GROUP in kinds:
            ids.update(group.ec2Id for group in (yield db.securityGroups.list(projectId)))
        return ids
