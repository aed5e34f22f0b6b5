"""
Tests for L{nova.api.ec2.ids}: a well-formed id (prefix and 8 or 17 hex
digits) that names nothing is the kind's C{NotFound} code; only ids that
are not prefix and hex digits are C{Malformed}.
"""

from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.api.ec2 import ids
from nova.api.ec2.actions import ACTIONS
from nova.api.ec2.errors import EC2Error
from nova.api.ec2.model import loadEC2Model
from tests.api.ec2.cloud import ALICE, CAROL, CloudServerMixin

LONG = "0123456789abcdef0"


class RuleTests(SynchronousTestCase):
    def test_wellFormed(self):
        for value in ("i-00000000", "i-0000002a", "i-0000002A", "i-" + LONG):
            self.assertTrue(ids.isWellFormed(ids.INSTANCE, value), value)
        for value in ("i-0", "i-", "i-0000000g", "i-000000000", "x-00000000", "i00000000",
                      " i-00000000", "i-" + LONG + "0", None, 42):
            self.assertFalse(ids.isWellFormed(ids.INSTANCE, value), value)
        for prefix in ("ami", "aki", "ari"):
            self.assertIs(ids.kindOf(f"{prefix}-0000beef"), ids.IMAGE)
        self.assertIs(ids.kindOf("vol-" + LONG), ids.VOLUME)
        self.assertIs(ids.kindOf("snap-00000001"), ids.SNAPSHOT)
        self.assertIs(ids.kindOf("sg-00000001"), ids.SECURITY_GROUP)
        self.assertIsNone(ids.kindOf("key-00000001"))

    def test_checkId(self):
        self.assertEqual(ids.checkId(ids.VOLUME, "vol-0000000a"), "vol-0000000a")
        for value, code in (
            ("vol-00000000", "InvalidVolume.NotFound"),
            ("vol-" + LONG, "InvalidVolume.NotFound"),
            ("vol-1", "InvalidVolumeID.Malformed"),
            ("volume", "InvalidVolumeID.Malformed"),
        ):
            error = self.assertRaises(EC2Error, ids.checkId, ids.VOLUME, value)
            self.assertEqual(error.ec2Code, code, value)
            self.assertIn(value, str(error))

    def test_parameters(self):
        """
        L{ids.checkIdParameters} checks each id parameter; a list's
        well-formed ids that name nothing are named together.
        """
        ids.checkIdParameters("DescribeInstances", {"InstanceIds": ["i-0000002a"], "Other": "x"})
        ids.checkIdParameters("GetConsoleOutput", {"InstanceId": ""})
        error = self.assertRaises(
            EC2Error, ids.checkIdParameters, "DescribeInstances",
            {"InstanceIds": ["i-00000000", "i-0000002a", "i-" + LONG]},
        )
        self.assertEqual(error.ec2Code, "InvalidInstanceID.NotFound")
        self.assertEqual(str(error), f"The instance IDs 'i-00000000, i-{LONG}' do not exist")
        error = self.assertRaises(
            EC2Error, ids.checkIdParameters, "DescribeInstances",
            {"InstanceIds": ["i-00000000", "i-0"]},
        )
        self.assertEqual(error.ec2Code, "InvalidInstanceID.Malformed")


    def test_parametersAreIds(self):
        """
        Wherever an action of the EC2 API has a parameter
        L{ids.ID_PARAMETERS} names, it is an id (a string) or a list of
        ids.
        """
        model = loadEC2Model()
        checked = 0
        for action in ACTIONS:
            shape = model.inputShape(action)
            for name in ids.ID_PARAMETERS:
                if shape is None or name not in shape.members:
                    continue
                member = shape.members[name]
                if member.type_name == "list":
                    member = member.member
                self.assertEqual(member.type_name, "string", (action, name))
                self.assertIn("Id", member.name, (action, name))
                checked += 1
        self.assertGreater(checked, 30)


class CodesTests(CloudServerMixin, TestCase):
    """
    Through boto3, for each kind of id.
    """

    async def setUp(self):
        await self.startCloud()
        self.client = await self.clientFor(ALICE)

    async def check(self, kind, method, name, plural=True):
        """
        Call C{method} with C{name} set to ids of C{kind}: zeros and 17
        digits are NotFound, a bad one Malformed.
        """
        prefix = kind.prefixes[0]
        for value, code in (
            (f"{prefix}-00000000", kind.notFoundCode),
            (f"{prefix}-{LONG}", kind.notFoundCode),
            (f"{prefix}-0", kind.malformedCode),
            (f"{prefix}-0000000z", kind.malformedCode),
        ):
            error = await self.expectError(
                code, method, **{name: [value] if plural else value}
            )
            self.assertIn(value, error["Message"])

    async def test_describe(self):
        client = self.client
        await self.check(ids.INSTANCE, client.describe_instances, "InstanceIds")
        await self.check(ids.VOLUME, client.describe_volumes, "VolumeIds")
        await self.check(ids.SNAPSHOT, client.describe_snapshots, "SnapshotIds")
        await self.check(ids.IMAGE, client.describe_images, "ImageIds")
        await self.check(ids.SECURITY_GROUP, client.describe_security_groups, "GroupIds")

    async def test_otherActions(self):
        client = self.client
        await self.check(ids.INSTANCE, client.get_console_output, "InstanceId", plural=False)
        await self.check(ids.INSTANCE, client.terminate_instances, "InstanceIds")
        await self.check(ids.VOLUME, client.delete_volume, "VolumeId", plural=False)
        await self.check(ids.SNAPSHOT, client.delete_snapshot, "SnapshotId", plural=False)
        await self.check(ids.IMAGE, client.deregister_image, "ImageId", plural=False)
        netadmin = await self.clientFor(CAROL)
        await self.check(
            ids.SECURITY_GROUP, netadmin.delete_security_group, "GroupId", plural=False
        )

    async def test_existingIdsStillWork(self):
        """
        Ids of the form the cloud makes reach the services as before.
        """
        created = await self.inThread(self.client.create_volume, Size=1)
        [volume] = (
            await self.inThread(self.client.describe_volumes, VolumeIds=[created["VolumeId"]])
        )["Volumes"]
        self.assertEqual(volume["VolumeId"], created["VolumeId"])
        await self.expectError(
            "InvalidVolume.NotFound", self.client.describe_volumes, VolumeIds=["vol-7fffffff"]
        )

    async def test_tags(self):
        """
        CreateTags: a well-formed id naming nothing is its kind's
        NotFound; an id of no kind is InvalidID.
        """
        tags = [{"Key": "k", "Value": "v"}]
        for resourceId, code in (
            ("i-00000000", "InvalidInstanceID.NotFound"),
            ("i-" + LONG, "InvalidInstanceID.NotFound"),
            ("vol-" + LONG, "InvalidVolume.NotFound"),
            ("sg-00000000", "InvalidGroup.NotFound"),
            ("ami-" + LONG, "InvalidAMIID.NotFound"),
            ("i-xyz", "InvalidID"),
        ):
            await self.expectError(
                code, self.client.create_tags, Resources=[resourceId], Tags=tags
            )
