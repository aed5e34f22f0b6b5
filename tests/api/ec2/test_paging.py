"""
Tests for C{MaxResults} on the paged Describe actions
(L{nova.api.ec2.actions.paging}): as EC2 does, a value above an action's
maximum is taken as the maximum, one below its minimum is refused.
"""

import attr
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.api.ec2.actions.paging import decodeToken, paginate
from nova.api.ec2.errors import InvalidParameterValue
from tests.api.ec2.cloud import ALICE, CloudServerMixin


@attr.s(frozen=True)
class _Call:
    action = attr.ib()
    params = attr.ib()


class PaginateTests(SynchronousTestCase):
    def test_clampedToMaximum(self):
        """
        A C{MaxResults} above the maximum gives pages of the maximum.
        """
        call = _Call("DescribeVolumes", {"MaxResults": 1000})
        page, token = paginate(call, [4, 2, 5, 1, 3], lambda n: n, maximum=3)
        self.assertEqual(page, [1, 2, 3])
        self.assertEqual(decodeToken("DescribeVolumes", token), 3)

    def test_belowMinimum(self):
        call = _Call("DescribeVolumes", {"MaxResults": 4})
        error = self.assertRaises(InvalidParameterValue, paginate, call, [1], lambda n: n)
        self.assertEqual(error.ec2Code, "InvalidParameterValue")
        self.assertIn("(4)", str(error))


class MaxResultsTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.client = await self.clientFor(ALICE)

    async def test_describeVolumes(self):
        """
        DescribeVolumes takes C{MaxResults=1000} (what the aws CLI sends),
        answering pages of at most 500.
        """
        volumeIds = []
        for _ in range(2):
            created = await self.inThread(self.client.create_volume, Size=1)
            volumeIds.append(created["VolumeId"])
        result = await self.inThread(self.client.describe_volumes, MaxResults=1000)
        self.assertEqual(sorted(v["VolumeId"] for v in result["Volumes"]), sorted(volumeIds))
        self.assertNotIn("NextToken", result)

    async def test_describeTags(self):
        """
        DescribeTags takes C{MaxResults=1100}, above its maximum of 1000.
        """
        group = await self.db.securityGroups.ensureDefault(ALICE.name, ALICE.name)
        await self.inThread(
            self.client.create_tags, Resources=[group.ec2Id], Tags=[{"Key": "a", "Value": "1"}]
        )
        result = await self.inThread(self.client.describe_tags, MaxResults=1100)
        self.assertEqual(
            [(t["ResourceId"], t["Key"]) for t in result["Tags"]], [(group.ec2Id, "a")]
        )
        self.assertNotIn("NextToken", result)

    async def test_belowMinimum(self):
        """
        A C{MaxResults} below the action's minimum (5) is
        C{InvalidParameterValue}.
        """
        for describe in (self.client.describe_volumes, self.client.describe_tags):
            error = await self.expectError("InvalidParameterValue", describe, MaxResults=4)
            self.assertIn("maxResults", error["Message"])

    async def test_everyPagedAction(self):
        """
        Every paged Describe action takes a C{MaxResults} far above its
        maximum (botocore checks only the minimums it knows).
        """
        for name in (
            "describe_instances", "describe_instance_status", "describe_images",
            "describe_security_groups", "describe_snapshots", "describe_tags",
            "describe_volumes", "describe_instance_types",
        ):
            result = await self.inThread(getattr(self.client, name), MaxResults=100000)
            self.assertEqual(result["ResponseMetadata"]["HTTPStatusCode"], 200, name)

    async def test_awsCLI(self):
        """
        C{aws ec2 describe-volumes}, which sends C{MaxResults=1000}, works.
        """
        created = await self.inThread(self.client.create_volume, Size=1)
        code, result, err = await self.aws("describe-volumes", user=ALICE)
        self.assertEqual(code, 0, err)
        self.assertEqual([v["VolumeId"] for v in result["Volumes"]], [created["VolumeId"]])
