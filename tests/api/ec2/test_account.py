"""
Tests for DescribeAccountAttributes (L{nova.api.ec2.actions.account})
through boto3 against a whole cloud.
"""

from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, CloudServerMixin


def _attributes(result):
    return {
        attribute["AttributeName"]: [v["AttributeValue"] for v in attribute["AttributeValues"]]
        for attribute in result["AccountAttributes"]
    }


class AccountAttributesTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud(quota_instances=12, quota_floating_ips=4)
        self.client = await self.clientFor(ALICE)

    async def test_all(self):
        """
        Without names, the six attributes EC2 has: EC2-Classic, no
        default VPC, the project's quotas, no VPC limits.
        """
        result = await self.inThread(self.client.describe_account_attributes)
        self.assertEqual(
            _attributes(result),
            {
                "supported-platforms": ["EC2"],
                "vpc-max-security-groups-per-interface": ["0"],
                "max-elastic-ips": ["4"],
                "max-instances": ["12"],
                "vpc-max-elastic-ips": ["0"],
                "default-vpc": ["none"],
            },
        )

    async def test_projectQuotas(self):
        """
        A project's quota overrides are its limits; no limit is
        C{unlimited}.
        """
        quotas = self.computeAPI.quotas
        await quotas.setQuota(ALICE.name, "instances", 3)
        await quotas.setQuota(ALICE.name, "floating_ips", None)
        names = ["max-instances", "max-elastic-ips"]
        alice = await self.inThread(
            self.client.describe_account_attributes, AttributeNames=names
        )
        self.assertEqual(
            _attributes(alice), {"max-elastic-ips": ["unlimited"], "max-instances": ["3"]}
        )
        bob = await self.clientFor(BOB)
        other = await self.inThread(bob.describe_account_attributes, AttributeNames=names)
        self.assertEqual(_attributes(other), {"max-elastic-ips": ["4"], "max-instances": ["12"]})

    async def test_byName(self):
        """
        C{AttributeName.N} picks attributes (each once); an unknown name is
        C{InvalidParameterValue}.
        """
        result = await self.inThread(
            self.client.describe_account_attributes,
            AttributeNames=["default-vpc", "supported-platforms", "default-vpc"],
        )
        self.assertEqual(
            [a["AttributeName"] for a in result["AccountAttributes"]],
            ["supported-platforms", "default-vpc"],
        )
        error = await self.expectError(
            "InvalidParameterValue", self.client.describe_account_attributes,
            AttributeNames=["max-colours"],
        )
        self.assertIn("max-colours", error["Message"])

    async def test_awsCLI(self):
        code, result, err = await self.aws(
            "describe-account-attributes", "--attribute-names", "supported-platforms"
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(
            result["AccountAttributes"],
            [{"AttributeName": "supported-platforms",
              "AttributeValues": [{"AttributeValue": "EC2"}]}],
        )
