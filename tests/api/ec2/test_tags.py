"""
Tests for tags: the tags table (L{nova.db.tags}) on SQLite, PostgreSQL and
MariaDB, and CreateTags, DeleteTags and DescribeTags through boto3, the
aws CLI and boto 2 against a real listening nova-api.
"""

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from nova.db.tags import TagLimitExceeded
from tests.api.ec2.cloud import ALICE, BOB, CloudServerMixin
from tests.db.backends import BackendTestsMixin, backendCases


class TagStoreMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def setUp(self):
        yield self.setUpDatabase()
        self.tags = self.db.tags

    @defer.inlineCallbacks
    def test_setAndFind(self):
        yield self.tags.setTags(
            [("i-00000001", "instance", "p1"), ("vol-00000002", "volume", "p1")],
            [("Name", "web"), ("env", ""), ("Name", "web2")],
        )
        records = yield self.tags.find(projectId="p1")
        self.assertEqual(
            [(r.resource_id, r.resource_type, r.key, r.value) for r in records],
            [
                ("i-00000001", "instance", "Name", "web2"),
                ("i-00000001", "instance", "env", ""),
                ("vol-00000002", "volume", "Name", "web2"),
                ("vol-00000002", "volume", "env", ""),
            ],
        )
        self.assertEqual((yield self.tags.find(projectId="p2")), [])
        self.assertEqual(
            [r.resource_id for r in (yield self.tags.find(resourceTypes=["volume"], keys=["env"]))],
            ["vol-00000002"],
        )
        yield self.tags.setTags([("i-00000001", "instance", "p1")], [("Name", "db")])
        grouped = yield self.tags.byResource("p1", ["i-00000001", "i-00000009"])
        self.assertEqual(grouped, {"i-00000001": {"Name": "db", "env": ""}})

    @defer.inlineCallbacks
    def test_keysAreCaseSensitive(self):
        yield self.tags.setTags([("i-00000001", "instance", "p1")], [("Name", "a"), ("name", "b")])
        grouped = yield self.tags.byResource(None, ["i-00000001"])
        self.assertEqual(grouped, {"i-00000001": {"Name": "a", "name": "b"}})

    @defer.inlineCallbacks
    def test_limit(self):
        """
        A change that would leave a resource with more than 50 tags
        changes nothing.
        """
        yield self.tags.setTags(
            [("i-00000001", "instance", "p1")], [(f"k{n}", "v") for n in range(49)]
        )
        yield self.assertFailure(
            self.tags.setTags(
                [("i-00000002", "instance", "p1"), ("i-00000001", "instance", "p1")],
                [("x", "1"), ("y", "2")],
            ),
            TagLimitExceeded,
        )
        self.assertEqual((yield self.tags.find(resourceIds=["i-00000002"])), [])
        yield self.tags.setTags([("i-00000001", "instance", "p1")], [("k1", "new"), ("x", "1")])
        self.assertEqual(len((yield self.tags.find(resourceIds=["i-00000001"]))), 50)

    @defer.inlineCallbacks
    def test_delete(self):
        yield self.tags.setTags(
            [("i-00000001", "instance", "p1")], [("a", "1"), ("b", "2"), ("c", "")]
        )
        removed = yield self.tags.deleteTags(["i-00000001"], [("a", "other"), ("b", None)])
        self.assertEqual(removed, 1)
        removed = yield self.tags.deleteTags(["i-00000001"], [("c", "")])
        self.assertEqual(removed, 1)
        self.assertEqual(
            (yield self.tags.byResource("p1", ["i-00000001"])), {"i-00000001": {"a": "1"}}
        )
        self.assertEqual((yield self.tags.deleteTags(["i-00000001"])), 1)
        self.assertEqual((yield self.tags.find()), [])


backendCases(TagStoreMixin, TestCase, globals(), "TagStore")


class TagActionTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.client = await self.makeClient()
        image = await self.addImage(name="base")
        reservation = await self.inThread(
            self.client.run_instances, ImageId=image.ec2_id, MinCount=1, MaxCount=1
        )
        self.image = image
        self.instanceId = reservation["Instances"][0]["InstanceId"]

    async def describeTags(self, client=None, **kwargs):
        result = await self.inThread((client or self.client).describe_tags, **kwargs)
        return [(t["ResourceId"], t["ResourceType"], t["Key"], t["Value"]) for t in result["Tags"]]

    async def test_everyResourceType(self):
        """
        Instances, images, volumes, snapshots and security groups of the
        project take tags; DescribeTags lists them with their types.
        """
        volume = await self.db.volumes.create(ALICE.name, ALICE.name, 1)
        snapshot = await self.db.volumes.createSnapshot(ALICE.name, ALICE.name, volume.id, 1, "h")
        group = await self.db.securityGroups.ensureDefault(ALICE.name, ALICE.name)
        resources = [self.instanceId, self.image.ec2_id, volume.ec2Id, snapshot.ec2Id, group.ec2Id]
        await self.inThread(
            self.client.create_tags, Resources=resources,
            Tags=[{"Key": "Name", "Value": "x"}, {"Key": "empty"}],
        )
        tags = await self.describeTags()
        self.assertEqual(
            sorted(tags),
            sorted(
                [(r, kind, "Name", "x") for r, kind in zip(resources, [
                    "instance", "image", "volume", "snapshot", "security-group"])]
                + [(r, kind, "empty", "") for r, kind in zip(resources, [
                    "instance", "image", "volume", "snapshot", "security-group"])]
            ),
        )
        self.assertEqual(
            await self.db.tags.byResource(ALICE.name, [volume.ec2Id, "vol-7fffffff"]),
            {volume.ec2Id: {"Name": "x", "empty": ""}},
        )
        [instance] = (await self.inThread(self.client.describe_instances))["Reservations"][0][
            "Instances"
        ]
        self.assertEqual(
            instance["Tags"], [{"Key": "Name", "Value": "x"}, {"Key": "empty", "Value": ""}]
        )

    async def test_filtersAndPages(self):
        await self.inThread(
            self.client.create_tags, Resources=[self.instanceId, self.image.ec2_id],
            Tags=[{"Key": "role", "Value": "web"}, {"Key": "env", "Value": "prod"}],
        )

        async def filtered(name, *values):
            return await self.describeTags(Filters=[{"Name": name, "Values": list(values)}])

        self.assertEqual(
            [t[2] for t in await filtered("resource-id", self.instanceId)], ["env", "role"]
        )
        self.assertEqual(
            [t[0] for t in await filtered("resource-type", "image")],
            [self.image.ec2_id, self.image.ec2_id],
        )
        self.assertEqual(len(await filtered("key", "role")), 2)
        self.assertEqual(len(await filtered("value", "p*")), 2)
        await self.expectError(
            "InvalidParameterValue",
            self.client.describe_tags, Filters=[{"Name": "colour", "Values": ["x"]}],
        )
        first = await self.inThread(self.client.describe_tags, MaxResults=5)
        self.assertEqual(len(first["Tags"]), 4)
        self.assertNotIn("NextToken", first)

    async def test_validation(self):
        tags = self.client.create_tags
        resources = [self.instanceId]
        await self.expectError(
            "InvalidParameterValue", tags, Resources=resources, Tags=[{"Key": "aws:x", "Value": "1"}]
        )
        await self.expectError(
            "InvalidParameterValue", tags, Resources=resources, Tags=[{"Key": "AWS:x", "Value": "1"}]
        )
        await self.expectError(
            "InvalidParameterValue", tags, Resources=resources, Tags=[{"Key": "k" * 129, "Value": "1"}]
        )
        await self.expectError(
            "InvalidParameterValue", tags, Resources=resources, Tags=[{"Key": "k", "Value": "v" * 257}]
        )
        await self.inThread(
            tags, Resources=resources, Tags=[{"Key": "k" * 128, "Value": "v" * 256}]
        )
        await self.expectError(
            "TagLimitExceeded", tags, Resources=resources,
            Tags=[{"Key": f"n{i}", "Value": ""} for i in range(50)],
        )
        await self.inThread(
            tags, Resources=resources, Tags=[{"Key": f"n{i}", "Value": ""} for i in range(49)]
        )
        await self.expectError("InvalidID", tags, Resources=["xyz-1"], Tags=[{"Key": "k"}])
        await self.expectError(
            "InvalidInstanceID.NotFound", tags, Resources=["i-0000beef"], Tags=[{"Key": "k"}]
        )
        await self.expectError(
            "InvalidAMIID.NotFound", tags, Resources=["ami-0000beef"], Tags=[{"Key": "k"}]
        )
        await self.expectError(
            "InvalidVolume.NotFound", tags, Resources=["vol-0000beef"], Tags=[{"Key": "k"}]
        )
        await self.expectError(
            "InvalidSnapshot.NotFound", tags, Resources=["snap-0000beef"], Tags=[{"Key": "k"}]
        )
        await self.expectError(
            "InvalidGroup.NotFound", tags, Resources=["sg-0000beef"], Tags=[{"Key": "k"}]
        )
        self.assertEqual(len(await self.describeTags()), 50)

    async def test_otherProjects(self):
        """
        Another project can neither tag nor see tags of alice's resources,
        even of an image it may launch.
        """
        bob = await self.makeClient(BOB)
        await self.db.images.update(self.image.ec2_id, is_public=True)
        await self.inThread(
            self.client.create_tags, Resources=[self.image.ec2_id, self.instanceId],
            Tags=[{"Key": "secret", "Value": "s"}],
        )
        volume = await self.db.volumes.create(ALICE.name, ALICE.name, 1)
        for resource, code in (
            (self.instanceId, "InvalidInstanceID.NotFound"),
            (self.image.ec2_id, "InvalidAMIID.NotFound"),
            (volume.ec2Id, "InvalidVolume.NotFound"),
        ):
            await self.expectError(
                code, bob.create_tags, Resources=[resource], Tags=[{"Key": "k"}]
            )
            await self.expectError(code, bob.delete_tags, Resources=[resource])
        self.assertEqual(await self.describeTags(bob), [])
        [image] = (await self.inThread(bob.describe_images, ImageIds=[self.image.ec2_id]))[
            "Images"
        ]
        self.assertEqual(image["Tags"] if "Tags" in image else [], [])
        self.assertEqual(len(await self.describeTags()), 2)

    async def test_deleteTags(self):
        await self.inThread(
            self.client.create_tags, Resources=[self.instanceId],
            Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}],
        )
        await self.inThread(
            self.client.delete_tags, Resources=[self.instanceId],
            Tags=[{"Key": "a", "Value": "other"}, {"Key": "b"}],
        )
        self.assertEqual([t[2] for t in await self.describeTags()], ["a", "c"])
        await self.inThread(self.client.delete_tags, Resources=[self.instanceId])
        self.assertEqual(await self.describeTags(), [])

    async def test_goneResources(self):
        """
        Tags of a deregistered image or a purged instance are not listed.
        """
        await self.inThread(
            self.client.create_tags, Resources=[self.instanceId, self.image.ec2_id],
            Tags=[{"Key": "k", "Value": "v"}],
        )
        await self.db.instances.update(int(self.instanceId[2:], 16), deleted=True)
        await self.db.images.delete(self.image.ec2_id)
        self.assertEqual(await self.describeTags(), [])

    async def test_roles(self):
        """
        Tagging needs sysadmin or the project manager; describing tags
        does not.
        """
        member = await self.makeClient(BOB, project=ALICE.name)
        await self.expectError(
            "UnauthorizedOperation", member.create_tags,
            Resources=[self.instanceId], Tags=[{"Key": "k"}],
        )
        await self.inThread(member.describe_tags)

    async def test_awsCLIAndBoto2(self):
        code, _, err = await self.aws(
            "create-tags", "--resources", self.instanceId, "--tags", "Key=Name,Value=cli"
        )
        self.assertEqual(code, 0, err)
        code, described, err = await self.aws(
            "describe-tags", "--filters", f"Name=resource-id,Values={self.instanceId}"
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(
            described["Tags"],
            [{"ResourceId": self.instanceId, "ResourceType": "instance", "Key": "Name",
              "Value": "cli"}],
        )
        connection = self.botoConnection()
        await self.inThread(connection.create_tags, [self.instanceId], {"env": "boto"})
        tags = await self.inThread(connection.get_all_tags)
        self.assertEqual(
            sorted((t.res_id, t.name, t.value) for t in tags),
            [(self.instanceId, "Name", "cli"), (self.instanceId, "env", "boto")],
        )
        await self.inThread(connection.delete_tags, [self.instanceId], ["env"])
        reservations = await self.inThread(connection.get_all_reservations)
        self.assertEqual(reservations[0].instances[0].tags, {"Name": "cli"})
