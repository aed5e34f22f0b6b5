"""
Tests for C{--region_list} (Cactus's list of C{name=host} regions) and
DescribeRegions through boto3.
"""

from botocore.exceptions import ClientError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.api.ec2.actions.zones import regionList
from nova.api.ec2.apis import mountEC2
from nova.api.root import APIRoot
from nova.config import ConfigError, configFromFlags, parseFlags
from tests.api.ec2.support import APIServerMixin


class RegionListTests(SynchronousTestCase):
    def test_parsed(self):
        """
        The flag is comma-separated C{name=host} pairs; each endpoint is
        this API's scheme, port and path on the host, or the URL given.
        """
        config, _ = parseFlags(
            ["--region_list=nova=127.0.0.1,other=10.0.0.2,far=https://ec2.example.com/x",
             "--ec2_port=8773"]
        )
        self.assertEqual(
            regionList(config),
            [
                ("nova", "http://127.0.0.1:8773/services/Cloud"),
                ("other", "http://10.0.0.2:8773/services/Cloud"),
                ("far", "https://ec2.example.com/x"),
            ],
        )

    def test_default(self):
        config = configFromFlags(ec2_host="cloud.example.com", ec2_port=8773)
        self.assertEqual(
            regionList(config), [("nova", "http://cloud.example.com:8773/services/Cloud")]
        )

    def test_malformed(self):
        """
        An entry that is not C{name=host}, or a name listed twice, stops
        nova-api from being built, naming the flag.
        """
        for value in (("nova",), ("=10.0.0.1",), ("nova=",), ("a b=10.0.0.1",),
                      ("nova=10.0.0.1", "nova=10.0.0.2")):
            config = configFromFlags(region_list=value)
            error = self.assertRaises(ConfigError, regionList, config)
            self.assertIn("--region_list", str(error))
            self.assertRaises(ConfigError, mountEC2, APIRoot(config), config, None, None)


class DescribeRegionsTests(APIServerMixin, TestCase):
    async def setUp(self):
        await self.startServer(
            ec2_port=8773, region_list=("nova=127.0.0.1", "other=10.0.0.2")
        )

    async def test_listed(self):
        client = await self.makeClient()
        result = await self.inThread(client.describe_regions)
        self.assertEqual(
            [(r["RegionName"], r["Endpoint"]) for r in result["Regions"]],
            [
                ("nova", "http://127.0.0.1:8773/services/Cloud"),
                ("other", "http://10.0.0.2:8773/services/Cloud"),
            ],
        )

    async def test_byNameAndFilter(self):
        client = await self.makeClient()
        named = await self.inThread(client.describe_regions, RegionNames=["other"])
        self.assertEqual([r["RegionName"] for r in named["Regions"]], ["other"])
        filtered = await self.inThread(
            client.describe_regions,
            Filters=[{"Name": "endpoint", "Values": ["*10.0.0.2*"]}],
        )
        self.assertEqual([r["RegionName"] for r in filtered["Regions"]], ["other"])
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.describe_regions, RegionNames=["elsewhere"])
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValue")
