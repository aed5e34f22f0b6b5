"""
Tests for the tag filters through boto3: DescribeTags' C{key}, C{value},
C{resource-id}, C{resource-type}, C{tag:<key>}, C{tag-key} and
C{tag-value}, and C{tag:<key>}, C{tag-key} and C{tag-value} on the
Describe actions whose resources have tags (or, for key pairs and
addresses, which have none, match nothing).
"""

from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, CAROL, CloudServerMixin


def _filter(name, *values):
    return [{"Name": name, "Values": list(values)}]


class TagFilterTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.client = await self.clientFor(ALICE)
        self.group = await self.db.securityGroups.ensureDefault(ALICE.name, ALICE.name)
        self.volumeId = (await self.inThread(self.client.create_volume, Size=1))["VolumeId"]
        await self.inThread(
            self.client.create_tags, Resources=[self.group.ec2Id],
            Tags=[{"Key": "role", "Value": "web"}, {"Key": "env", "Value": "prod"}],
        )
        await self.inThread(
            self.client.create_tags, Resources=[self.volumeId],
            Tags=[{"Key": "role", "Value": "db"}],
        )

    async def describeTags(self, filters):
        result = await self.inThread(self.client.describe_tags, Filters=filters)
        return sorted((t["ResourceId"], t["Key"], t["Value"]) for t in result["Tags"])

    async def test_describeTags(self):
        group, volume = self.group.ec2Id, self.volumeId
        self.assertEqual(
            await self.describeTags(_filter("tag:role", "web")), [(group, "role", "web")]
        )
        self.assertEqual(await self.describeTags(_filter("tag:role", "nothing")), [])
        self.assertEqual(
            await self.describeTags(_filter("tag-key", "env")), [(group, "env", "prod")]
        )
        self.assertEqual(
            await self.describeTags(_filter("tag-value", "d*")), [(volume, "role", "db")]
        )
        self.assertEqual(
            await self.describeTags(_filter("key", "role") + _filter("value", "web", "db")),
            [(group, "role", "web"), (volume, "role", "db")],
        )
        self.assertEqual(
            await self.describeTags(_filter("resource-type", "volume")),
            [(volume, "role", "db")],
        )
        self.assertEqual(
            await self.describeTags(_filter("resource-id", group)),
            [(group, "env", "prod"), (group, "role", "web")],
        )

    async def test_describeActions(self):
        """
        C{tag:<key>}, C{tag-key} and C{tag-value} on volumes and security
        groups.
        """
        groups = self.client.describe_security_groups
        volumes = self.client.describe_volumes
        for describe, listed, idKey, wanted, filters in (
            (groups, "SecurityGroups", "GroupId", [self.group.ec2Id],
             (_filter("tag:role", "web"), _filter("tag-key", "env"), _filter("tag-value", "prod"))),
            (volumes, "Volumes", "VolumeId", [self.volumeId],
             (_filter("tag:role", "db"), _filter("tag-key", "role"), _filter("tag-value", "db"))),
        ):
            for given in filters:
                result = await self.inThread(describe, Filters=given)
                self.assertEqual([item[idKey] for item in result[listed]], wanted, given)
            result = await self.inThread(describe, Filters=_filter("tag-value", "nothing"))
            self.assertEqual(result[listed], [])

    async def test_untaggedResources(self):
        """
        Key pairs and addresses have no tags: the tag filters are accepted
        and match none of them.
        """
        await self.inThread(self.client.create_key_pair, KeyName="k")
        carol = await self.clientFor(CAROL)
        await self.inThread(carol.allocate_address)
        for given in (_filter("tag:Owner", "*"), _filter("tag-key", "*"),
                      _filter("tag-value", "*")):
            keys = await self.inThread(self.client.describe_key_pairs, Filters=given)
            self.assertEqual(keys["KeyPairs"], [], given)
            addresses = await self.inThread(self.client.describe_addresses, Filters=given)
            self.assertEqual(addresses["Addresses"], [], given)
        self.assertEqual(
            len((await self.inThread(self.client.describe_addresses))["Addresses"]), 1
        )
