"""
Tests for DescribeRegions and DescribeAvailabilityZones through real
clients.
"""

from botocore.exceptions import ClientError
from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from nova.db.services import ServiceStore
from tests.api.ec2.support import ROOT, APIServerMixin


class _PastClock:
    def __init__(self, secondsAgo):
        self.secondsAgo = secondsAgo

    def seconds(self):
        return reactor.seconds() - self.secondsAgo


class RegionsTests(APIServerMixin, TestCase):
    async def setUp(self):
        await self.startServer(ec2_host="cloud.example.com", ec2_port=8773)

    async def test_oneRegion(self):
        client = await self.makeClient()
        result = await self.inThread(client.describe_regions)
        self.assertEqual(
            result["Regions"],
            [
                {
                    "RegionName": "nova",
                    "Endpoint": "http://cloud.example.com:8773/services/Cloud",
                    "OptInStatus": "opt-in-not-required",
                }
            ],
        )

    async def test_byNameAndFilter(self):
        client = await self.makeClient()
        named = await self.inThread(client.describe_regions, RegionNames=["nova"])
        self.assertEqual([r["RegionName"] for r in named["Regions"]], ["nova"])
        filtered = await self.inThread(
            client.describe_regions, Filters=[{"Name": "region-name", "Values": ["us-*"]}]
        )
        self.assertEqual(filtered["Regions"], [])
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.describe_regions, RegionNames=["us-east-1"])
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValue")

    async def test_boto2(self):
        connection = self.botoConnection()
        [region] = await self.inThread(connection.get_all_regions)
        self.assertEqual(region.name, "nova")
        self.assertEqual(region.endpoint, "http://cloud.example.com:8773/services/Cloud")

    async def test_awsCLI(self):
        code, result, err = await self.aws("describe-regions")
        self.assertEqual(code, 0, err)
        self.assertEqual([r["RegionName"] for r in result["Regions"]], ["nova"])


class ZonesTests(APIServerMixin, TestCase):
    async def setUp(self):
        await self.startServer()
        now = self.db.services
        past = ServiceStore(self.db.transactor, _PastClock(3600))
        await now.register("host-a", "nova-compute", "compute", "nova")
        await now.register("host-a", "nova-network", "network", "nova")
        await past.register("host-b", "nova-compute", "compute", "nova")
        await past.register("host-c", "nova-compute", "compute", "east")
        await now.register("host-d", "nova-volume", "volume", "west", disabled=True)

    async def test_states(self):
        """
        A zone is available while an enabled service in it reports.
        """
        client = await self.makeClient()
        result = await self.inThread(client.describe_availability_zones)
        zones = {z["ZoneName"]: z for z in result["AvailabilityZones"]}
        self.assertEqual(
            {name: zone["State"] for name, zone in zones.items()},
            {"nova": "available", "east": "unavailable", "west": "unavailable"},
        )
        self.assertEqual(zones["nova"]["RegionName"], "nova")
        self.assertEqual(zones["nova"]["ZoneType"], "availability-zone")
        self.assertEqual(zones["nova"]["Messages"], [])

    async def test_byNameAndFilters(self):
        client = await self.makeClient()
        named = await self.inThread(client.describe_availability_zones, ZoneNames=["east"])
        self.assertEqual([z["ZoneName"] for z in named["AvailabilityZones"]], ["east"])
        available = await self.inThread(
            client.describe_availability_zones,
            Filters=[{"Name": "state", "Values": ["available"]}],
        )
        self.assertEqual([z["ZoneName"] for z in available["AvailabilityZones"]], ["nova"])
        with self.assertRaises(ClientError) as caught:
            await self.inThread(client.describe_availability_zones, ZoneNames=["north"])
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValue")
        self.assertEqual(
            caught.exception.response["Error"]["Message"], "Invalid availability zone: [north]"
        )

    async def test_verboseForSuperusers(self):
        """
        C{verbose} lists each zone's hosts and their services, with
        C{:-)} for services that report and C{XXX} for those that stopped.
        """
        client = await self.makeClient(ROOT, project="alice")
        result = await self.inThread(
            client.describe_availability_zones, ZoneNames=["verbose"]
        )
        entries = [(z["ZoneName"], z.get("State", "")) for z in result["AvailabilityZones"]]
        names = [name for name, _ in entries]
        self.assertEqual(
            names,
            [
                "nova",
                "|- host-a",
                "| |- nova-compute",
                "| |- nova-network",
                "|- host-b",
                "| |- nova-compute",
                "east",
                "|- host-c",
                "| |- nova-compute",
                "west",
                "|- host-d",
                "| |- nova-volume",
            ],
        )
        states = dict(zip(range(len(entries)), [state for _, state in entries]))
        self.assertRegex(states[2], r"\Aenabled :-\) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\Z")
        self.assertRegex(states[5], r"\Aenabled XXX ")
        self.assertRegex(states[11], r"\Adisabled :-\) ")

    async def test_verboseIgnoredForMembers(self):
        client = await self.makeClient()
        result = await self.inThread(
            client.describe_availability_zones, ZoneNames=["verbose"]
        )
        self.assertEqual(
            sorted(z["ZoneName"] for z in result["AvailabilityZones"]), ["east", "nova", "west"]
        )

    async def test_boto2(self):
        connection = self.botoConnection()
        zones = await self.inThread(connection.get_all_zones)
        self.assertEqual(
            sorted((z.name, z.state) for z in zones),
            [("east", "unavailable"), ("nova", "available"), ("west", "unavailable")],
        )
        verbose = await self.inThread(
            self.botoConnection(ROOT).get_all_zones, ["verbose"]
        )
        self.assertIn("|- host-a", [z.name for z in verbose])

    async def test_awsCLI(self):
        code, result, err = await self.aws(
            "describe-availability-zones", "--zone-names", "nova"
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(
            [(z["ZoneName"], z["State"]) for z in result["AvailabilityZones"]],
            [("nova", "available")],
        )
