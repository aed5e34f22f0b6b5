"""
Tests for L{nova.tags.TagAPI}: each method, and that a project's tags are
neither visible nor changeable from another project (superusers see and
change all).
"""

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

from nova.compute.api import ComputeAPI
from nova.config import configFromFlags
from nova.db.images import ImageNotFound
from nova.db.instances import InstanceNotFound
from nova.db.security_groups import SecurityGroupNotFound
from nova.db.tags import TagLimitExceeded
from nova.db.volumes import SnapshotNotFound, VolumeNotFound
from nova.exception import NotAuthorized
from nova.tags import (
    IMAGE,
    INSTANCE,
    SECURITY_GROUP,
    SNAPSHOT,
    VOLUME,
    TagAPI,
    TaggedResource,
)
from tests.util import ADMIN, ALICE, BOB, START, createInstance, makeDatabase


class TagAPITests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = db = makeDatabase(self, self.clock)
        compute = ComputeAPI(configFromFlags(), db, None, self.clock)
        self.api = TagAPI(db, compute)
        project = ALICE.projectId
        self.instance = createInstance(self, db)
        self.image = self.ok(db.images.create("machine", project, "alice", "b/m.xml"))
        self.volume = self.ok(db.volumes.create(project, "alice", 1))
        self.snapshot = self.ok(db.volumes.createSnapshot(project, "alice", self.volume.id, 1, "h"))
        self.group = self.ok(db.securityGroups.ensureDefault(project, "alice"))
        self.resources = [
            (INSTANCE, self.instance.ec2Id),
            (IMAGE, self.image.ec2_id),
            (VOLUME, self.volume.ec2Id),
            (SNAPSHOT, self.snapshot.ec2Id),
            (SECURITY_GROUP, self.group.ec2Id),
        ]

    def ok(self, d):
        return self.successResultOf(d)

    def owned(self, context=ALICE):
        return [self.ok(self.api.ownerOf(context, kind, rid)) for kind, rid in self.resources]

    def test_ownerOf(self):
        """
        Every kind of resource is found with its project.
        """
        for (kind, resourceId), found in zip(self.resources, self.owned()):
            self.assertEqual(found, TaggedResource(resourceId, kind, ALICE.projectId))

    def test_ownerOfAnotherProject(self):
        """
        Another project's resources are not found, with each kind's own
        error; a superuser finds them.
        """
        errors = [InstanceNotFound, ImageNotFound, VolumeNotFound, SnapshotNotFound,
                  SecurityGroupNotFound]
        for (kind, resourceId), error in zip(self.resources, errors):
            self.failureResultOf(self.api.ownerOf(BOB, kind, resourceId), error)
        self.assertEqual(
            [r.projectId for r in self.owned(ADMIN)], [ALICE.projectId] * len(self.resources)
        )

    def test_ownerOfMissing(self):
        failure = self.failureResultOf(self.api.ownerOf(ALICE, VOLUME, "vol-7fffffff"), VolumeNotFound)
        self.assertEqual(failure.value.args[0], "The volume 'vol-7fffffff' does not exist.")
        self.failureResultOf(self.api.ownerOf(ALICE, IMAGE, "ami-7fffffff"), ImageNotFound)
        self.failureResultOf(self.api.ownerOf(ALICE, "key-pair", "k"), ValueError)

    def test_createTagsAndTagsOf(self):
        resources = self.owned()
        self.ok(self.api.createTags(ALICE, resources, [("Name", "x"), ("empty", "")]))
        tags = self.ok(self.api.tagsOf(ALICE, [rid for _, rid in self.resources] + ["vol-7fffffff"]))
        self.assertEqual(tags, {rid: {"Name": "x", "empty": ""} for _, rid in self.resources})
        self.assertEqual(self.ok(self.api.tagsOf(ALICE, [])), {})

    def test_createTagsLimit(self):
        [volume] = [r for r in self.owned() if r.resourceType == VOLUME]
        pairs = [(f"k{n}", "v") for n in range(51)]
        self.failureResultOf(self.api.createTags(ALICE, [volume], pairs), TagLimitExceeded)

    def test_createTagsAnotherProject(self):
        """
        Resources of another project cannot be tagged, even when the
        caller names their project; a superuser may.
        """
        resources = self.owned()
        self.failureResultOf(self.api.createTags(BOB, resources, [("a", "b")]), NotAuthorized)
        self.assertEqual(self.ok(self.api.tagsOf(ADMIN, [self.volume.ec2Id])), {})
        self.ok(self.api.createTags(ADMIN, resources, [("a", "b")]))
        self.assertEqual(
            self.ok(self.api.tagsOf(ALICE, [self.volume.ec2Id])), {self.volume.ec2Id: {"a": "b"}}
        )

    def test_tagsOfAnotherProject(self):
        """
        Another project does not see a project's tags (even on a resource
        it can see); a superuser does.
        """
        self.ok(self.api.createTags(ALICE, self.owned(), [("a", "b")]))
        ids = [rid for _, rid in self.resources]
        self.assertEqual(self.ok(self.api.tagsOf(BOB, ids)), {})
        self.assertEqual(len(self.ok(self.api.tagsOf(ADMIN, ids))), len(ids))

    def test_deleteTags(self):
        resources = self.owned()
        self.ok(self.api.createTags(ALICE, resources, [("a", "1"), ("b", "2"), ("c", "3")]))
        self.assertEqual(self.ok(self.api.deleteTags(ALICE, resources, [("a", None)])), 5)
        self.assertEqual(self.ok(self.api.deleteTags(ALICE, resources, [("b", "other")])), 0)
        self.ok(self.api.deleteTags(ALICE, resources))
        self.assertEqual(self.ok(self.api.tagsOf(ALICE, [rid for _, rid in self.resources])), {})

    def test_deleteTagsAnotherProject(self):
        resources = self.owned()
        self.ok(self.api.createTags(ALICE, resources, [("a", "1")]))
        self.failureResultOf(self.api.deleteTags(BOB, resources), NotAuthorized)
        self.assertEqual(len(self.ok(self.api.tagsOf(ALICE, [r.resourceId for r in resources]))), 5)

    def test_forgetResources(self):
        resources = self.owned()
        self.ok(self.api.createTags(ALICE, resources, [("a", "1"), ("b", "2")]))
        self.assertEqual(self.ok(self.api.forgetResources(ALICE, [self.volume.ec2Id])), 2)
        self.assertNotIn(
            self.volume.ec2Id, self.ok(self.api.tagsOf(ALICE, [self.volume.ec2Id]))
        )

    def test_describeTags(self):
        """
        The project's tags, without those of resources that are gone, and
        only those C{select} keeps.
        """
        self.ok(self.api.createTags(ALICE, self.owned(), [("a", "1")]))
        records = self.ok(self.api.describeTags(ALICE))
        self.assertEqual(
            sorted(r.resource_id for r in records), sorted(rid for _, rid in self.resources)
        )
        self.ok(self.db.volumes.delete(self.volume.id))
        records = self.ok(self.api.describeTags(ALICE))
        self.assertNotIn(self.volume.ec2Id, [r.resource_id for r in records])
        seen = []

        def select(records):
            seen.append(len(records))
            return [r for r in records if r.resource_type == IMAGE]

        records = self.ok(self.api.describeTags(ALICE, select))
        self.assertEqual([r.resource_id for r in records], [self.image.ec2_id])
        self.assertEqual(seen, [5])

    def test_describeTagsAnotherProject(self):
        self.ok(self.api.createTags(ALICE, self.owned(), [("a", "1")]))
        self.assertEqual(self.ok(self.api.describeTags(BOB)), [])
        self.assertEqual(len(self.ok(self.api.describeTags(ADMIN))), 5)
        noProject = ALICE.__class__(userId="alice", projectId=None)
        self.assertEqual(self.ok(self.api.describeTags(noProject)), [])

    def test_instancesNeedCompute(self):
        """
        Without a compute API, instances cannot be tagged.
        """
        api = TagAPI(self.db)
        self.failureResultOf(api.ownerOf(ALICE, INSTANCE, self.instance.ec2Id))
        self.ok(api.ownerOf(ALICE, VOLUME, self.volume.ec2Id))
