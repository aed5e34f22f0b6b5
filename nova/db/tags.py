# -*- test-case-name: tests.api.ec2.test_tags -*-
"""
The tags table: key/value tags on EC2 resources, named by their EC2 ids
(C{i-0000002a}, C{ami-1a2b3c4d}, C{vol-00000001}, C{snap-00000001},
C{sg-00000001}).

A tag belongs to the project that owns its resource; a key is unique per
resource.  At most L{MAX_TAGS} tags per resource (EC2's limit).
"""

import attr
from storm.expr import And, Or
from storm.locals import DateTime, Int, Unicode
from twisted.internet.defer import inlineCallbacks

from nova import exception
from nova.db.services import utcnow
from nova.db.store import readOnly

#: EC2's limit of tags on one resource.
MAX_TAGS = 50

#: The resource types tags are put on (the C{resource_type} column).
INSTANCE = "instance"
IMAGE = "image"
VOLUME = "volume"
SNAPSHOT = "snapshot"
SECURITY_GROUP = "security-group"

#: Attempts at a tag change that lost a race on the unique index.
_ATTEMPTS = 3


class TagLimitExceeded(exception.Invalid):
    """A resource would have more tags than allowed."""

    code = "TagLimitExceeded"
    ec2Code = "TagLimitExceeded"


class TagRow:
    __storm_table__ = "tags"
    id = Int(primary=True)
    resource_id = Unicode()
    resource_type = Unicode()
    project_id = Unicode()
    tag_key = Unicode()
    tag_value = Unicode()
    created_at = DateTime()


@attr.s(frozen=True)
class TagRecord:
    """
    One tag.

    @ivar resource_id: the resource's EC2 id.
    @ivar resource_type: EC2's resource type (C{instance}, C{image},
        C{volume}, C{snapshot}, C{security-group}).
    @ivar project_id: the project owning the resource.
    @ivar key: the tag's key.
    @ivar value: its value (possibly empty).
    """

    resource_id = attr.ib()
    resource_type = attr.ib()
    project_id = attr.ib()
    key = attr.ib()
    value = attr.ib()
    created_at = attr.ib()

    @classmethod
    def fromRow(cls, row):
        return cls(
            resource_id=row.resource_id,
            resource_type=row.resource_type,
            project_id=row.project_id,
            key=row.tag_key,
            value=row.tag_value,
            created_at=row.created_at,
        )


def thd_setTags(store, resources, wanted, limit, now):
    """
    Set tags on resources in the transaction C{store} is in (for the
    transactions that make a resource and its tags at once).

    @param resources: C{(resourceId, resourceType, projectId)} triples.
    @param wanted: a L{dict} of the tags.
    @param limit: the most tags a resource may have.
    @raise TagLimitExceeded: if a resource would have more.
    """
    for resourceId, resourceType, projectId in resources:
        rows = {
            row.tag_key: row
            for row in store.find(TagRow, TagRow.resource_id == resourceId)
        }
        added = [key for key in wanted if key not in rows]
        if len(rows) + len(added) > limit:
            raise TagLimitExceeded(
                f"The maximum number of tags ({limit}) for resource "
                f"'{resourceId}' has been reached."
            )
        for key, value in wanted.items():
            row = rows.get(key)
            if row is None:
                row = TagRow()
                row.resource_id = resourceId
                row.resource_type = resourceType
                row.project_id = projectId
                row.tag_key = key
                row.created_at = now
                store.add(row)
            row.tag_value = value
    store.flush()


class TagStore:
    """
    Rows of the tags table.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    @inlineCallbacks
    def setTags(self, resources, tags, limit=MAX_TAGS):
        """
        Add tags to resources, or change the values of keys they have, in
        one transaction: all or none.

        @param resources: C{(resourceId, resourceType, projectId)} triples.
        @param tags: C{(key, value)} pairs; a later pair with the same key
            wins.
        @param limit: the most tags one resource may have afterwards.
        @return: L{Deferred} firing with C{None}; failing with
            L{TagLimitExceeded}.
        """
        resources = [tuple(resource) for resource in resources]
        wanted = dict(tags)
        for attempt in range(_ATTEMPTS):
            try:
                yield self.transactor.transact(
                    self.thd_setTags, resources, wanted, limit, utcnow(self.clock)
                )
            except exception.DatabaseError:
                # A concurrent request added one of these keys first: the
                # next attempt sees its row and updates it.
                if attempt == _ATTEMPTS - 1:
                    raise
            else:
                return None

    def thd_setTags(self, store, resources, wanted, limit, now):
        thd_setTags(store, resources, wanted, limit, now)


    def deleteTags(self, resourceIds, tags=None):
        """
        Remove tags from resources, as EC2's DeleteTags does.

        @param tags: C{(key, value)} pairs: a tag goes if its key matches
            and C{value} is L{None} or equal to its value.  L{None} or
            empty: every tag of the resources goes.
        @return: L{Deferred} firing with the number of tags removed.
        """
        return self.transactor.transact(
            self.thd_deleteTags, list(resourceIds), None if not tags else list(tags)
        )

    def thd_deleteTags(self, store, resourceIds, tags):
        if not resourceIds:
            return 0
        conditions = [TagRow.resource_id.is_in(resourceIds)]
        if tags is not None:
            which = []
            for key, value in tags:
                if value is None:
                    which.append(TagRow.tag_key == key)
                else:
                    which.append(And(TagRow.tag_key == key, TagRow.tag_value == value))
            conditions.append(Or(*which))
        result = store.find(TagRow, *conditions)
        count = result.count()
        result.remove()
        return count

    def find(self, projectId=None, resourceIds=None, resourceTypes=None, keys=None):
        """
        @param projectId: only tags of this project's resources.
        @param resourceIds: only tags of these resources.
        @param resourceTypes: only tags of resources of these types.
        @param keys: only tags with these keys.
        @return: L{Deferred} firing with a L{list} of L{TagRecord}s, by
            resource id and key.
        """
        return self.transactor.transact(
            self.thd_find,
            projectId,
            None if resourceIds is None else list(resourceIds),
            None if resourceTypes is None else list(resourceTypes),
            None if keys is None else list(keys),
        )

    @readOnly
    def thd_find(self, store, projectId, resourceIds, resourceTypes, keys):
        conditions = []
        if projectId is not None:
            conditions.append(TagRow.project_id == projectId)
        for column, values in (
            (TagRow.resource_id, resourceIds),
            (TagRow.resource_type, resourceTypes),
            (TagRow.tag_key, keys),
        ):
            if values is not None:
                if not values:
                    return []
                conditions.append(column.is_in(values))
        rows = store.find(TagRow, *conditions).order_by(TagRow.resource_id, TagRow.tag_key)
        return [TagRecord.fromRow(row) for row in rows]

    def byResource(self, projectId, resourceIds):
        """
        @param projectId: only tags of this project (L{None}: any).
        @return: L{Deferred} firing with a L{dict} from each of
            C{resourceIds} that has tags to a L{dict} of its tags.
        """
        d = self.find(projectId=projectId, resourceIds=resourceIds)

        def group(records):
            tags = {}
            for record in records:
                tags.setdefault(record.resource_id, {})[record.key] = record.value
            return tags

        return d.addCallback(group)

