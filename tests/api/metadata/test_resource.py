"""
Tests for the metadata service, with a plain HTTP client against a real
listening nova-api over a whole in-process cloud.  The tests reach the
server from 127.0.0.1, so they name the guest they stand for with
C{X-Forwarded-For}, which the server believes because 127.0.0.1 is a
trusted proxy (C{--metadata_trusted_proxies}) unless a test says
otherwise.
"""

import http.client

from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.api.metadata.resource import VERSIONS, Directory, MetadataService, parseTrustedProxies
from nova.config import ConfigError
from tests.api.ec2.cloud import ALICE, CAROL, CloudServerMixin

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH8yKkQx8o3c4LrEXEjzWmWQ6sFfxlbVbmL0gTRcK1QK me@host"
)


def _get(port, path, headers, method="GET"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type"), response.read()
    finally:
        connection.close()


class MetadataTestsBase(CloudServerMixin, TestCase):
    flags = {}

    async def setUp(self):
        await self.startCloud(**self.flags)
        self.client = await self.makeClient()
        await self.inThread(
            self.client.import_key_pair, KeyName="mine", PublicKeyMaterial=PUBLIC_KEY.encode()
        )
        await self.db.securityGroups.create(ALICE.name, ALICE.name, "web", "web servers")
        self.image = await self.addImage(name="base")
        reservation = await self.runAndWait(
            self.client,
            ImageId=self.image.ec2_id,
            KeyName="mine",
            UserData=b"#cloud-config\n\xff\x00binary",
            InstanceType="m1.tiny",
            SecurityGroups=["default", "web"],
        )
        self.reservation = reservation
        self.instanceId = reservation["Instances"][0]["InstanceId"]
        self.instance = await self.instanceRecord(self.instanceId)

    def get(self, path, forwardedFor=None, method="GET"):
        """
        @param forwardedFor: the X-Forwarded-For header; the instance's
            fixed address if L{None}, none at all if C{""}.
        @return: L{Deferred} firing with C{(status, content type, body)}.
        """
        if forwardedFor is None:
            forwardedFor = self.instance.fixed_ip
        headers = {"X-Forwarded-For": forwardedFor} if forwardedFor else {}
        return self.inThread(_get, self.port, path, headers, method)

    async def text(self, path, **kwargs):
        status, contentType, body = await self.get(path, **kwargs)
        self.assertEqual(status, 200, (path, body))
        return body.decode("utf-8")


class MetadataTests(MetadataTestsBase):
    async def test_versions(self):
        """
        C{/} lists the versions, in EC2's format, to any client.
        """
        text = await self.text("/", forwardedFor="")
        self.assertEqual(text, "\n".join(VERSIONS + ("latest",)))
        self.assertIn("2009-04-04", text.split("\n"))

    async def test_listings(self):
        self.assertEqual(await self.text("/latest/"), "meta-data\nuser-data")
        self.assertEqual(await self.text("/latest"), "meta-data\nuser-data")
        listing = await self.text("/latest/meta-data/")
        self.assertEqual(
            listing.split("\n"),
            [
                "ami-id",
                "ami-launch-index",
                "ami-manifest-path",
                "block-device-mapping/",
                "hostname",
                "instance-action",
                "instance-id",
                "instance-type",
                "local-hostname",
                "local-ipv4",
                "mac",
                "placement/",
                "public-hostname",
                "public-keys/",
                "reservation-id",
                "security-groups",
            ],
        )
        self.assertFalse(listing.endswith("\n"))
        self.assertEqual(await self.text("/latest/meta-data"), listing)
        self.assertEqual(await self.text("/latest/meta-data/placement/"), "availability-zone")
        self.assertEqual(await self.text("/latest/meta-data/block-device-mapping/"), "ami\nroot")
        self.assertEqual(await self.text("/latest/meta-data/public-keys/"), "0=mine")
        self.assertEqual(await self.text("/latest/meta-data/public-keys/0/"), "openssh-key")
        self.assertEqual(await self.text("/latest/meta-data/public-keys/0"), "openssh-key")

    async def test_values(self):
        instance = self.instance
        expected = {
            "ami-id": self.image.ec2_id,
            "ami-launch-index": "0",
            "ami-manifest-path": self.image.location,
            "hostname": instance.hostname,
            "instance-action": "none",
            "instance-id": self.instanceId,
            "instance-type": "m1.tiny",
            "local-hostname": instance.hostname,
            "local-ipv4": instance.fixed_ip,
            "mac": instance.mac_address,
            "placement/availability-zone": "nova",
            "public-hostname": instance.hostname,
            "public-keys/0/openssh-key": PUBLIC_KEY,
            "reservation-id": self.reservation["ReservationId"],
            "security-groups": "default\nweb",
            "block-device-mapping/ami": "sda1",
            "block-device-mapping/root": "/dev/sda1",
        }
        for key, value in expected.items():
            self.assertEqual(await self.text(f"/latest/meta-data/{key}"), value, key)
        self.assertEqual(instance.hostname, self.instanceId)
        for version in ("2009-04-04", "1.0", "2007-01-19"):
            self.assertEqual(
                await self.text(f"/{version}/meta-data/instance-id"), self.instanceId
            )

    async def test_userData(self):
        """
        The user data is served byte for byte, as the client gave it.
        """
        status, contentType, body = await self.get("/latest/user-data")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"#cloud-config\n\xff\x00binary")
        self.assertEqual(contentType, "application/octet-stream")

    async def test_notFound(self):
        for path in (
            "/latest/meta-data/nothing",
            "/latest/meta-data/instance-id/more",
            "/latest/other",
            "/2099-01-01/meta-data/",
            "/latest/meta-data/public-keys/1/",
        ):
            status, _, _ = await self.get(path)
            self.assertEqual(status, 404, path)
        status, _, _ = await self.get("/latest/meta-data/", method="POST")
        self.assertEqual(status, 405)

    async def test_unknownAddress(self):
        for address in ("10.0.0.250", "192.0.2.99", "not-an-address"):
            status, _, _ = await self.get("/latest/meta-data/instance-id", forwardedFor=address)
            self.assertEqual(status, 404, address)
        # Without the header the peer itself, 127.0.0.1, is no instance.
        status, _, _ = await self.get("/latest/meta-data/instance-id", forwardedFor="")
        self.assertEqual(status, 404)

    async def test_proxyChain(self):
        """
        Trusted proxies in X-Forwarded-For are skipped from the right; the
        first address that is not one names the guest, so a guest cannot
        claim another's address by sending the header itself.
        """
        fixed = self.instance.fixed_ip
        self.assertEqual(
            await self.text("/latest/meta-data/instance-id", forwardedFor=f"{fixed}, 127.0.0.1"),
            self.instanceId,
        )
        status, _, _ = await self.get(
            "/latest/meta-data/instance-id", forwardedFor=f"{fixed}, 10.0.0.250"
        )
        self.assertEqual(status, 404)

    async def test_notRunning(self):
        await self.inThread(self.client.stop_instances, InstanceIds=[self.instanceId])
        await self.waitForState([self.instanceId], "stopped")
        status, _, _ = await self.get("/latest/meta-data/instance-id")
        self.assertEqual(status, 404)
        await self.inThread(self.client.terminate_instances, InstanceIds=[self.instanceId])
        await self.waitForState([self.instanceId], "terminated")
        status, _, _ = await self.get("/latest/meta-data/instance-id")
        self.assertEqual(status, 404)

    async def test_publicAddress(self):
        netadmin = await self.makeClient(CAROL, project=ALICE.name)
        address = (await self.inThread(netadmin.allocate_address))["PublicIp"]
        await self.inThread(
            netadmin.associate_address, InstanceId=self.instanceId, PublicIp=address
        )
        self.assertIn("public-ipv4", (await self.text("/latest/meta-data/")).split("\n"))
        self.assertEqual(await self.text("/latest/meta-data/public-ipv4"), address)

    async def test_withoutUserDataOrKey(self):
        reservation = await self.runAndWait(self.client, ImageId=self.image.ec2_id)
        record = await self.instanceRecord(reservation["Instances"][0]["InstanceId"])
        self.assertEqual(await self.text("/latest/", forwardedFor=record.fixed_ip), "meta-data")
        status, _, _ = await self.get("/latest/user-data", forwardedFor=record.fixed_ip)
        self.assertEqual(status, 404)
        listing = await self.text("/latest/meta-data/", forwardedFor=record.fixed_ip)
        self.assertNotIn("public-keys/", listing.split("\n"))

    async def test_ec2APIStillServed(self):
        """
        The EC2 API is served beside the metadata on the same port.
        """
        result = await self.inThread(self.client.describe_instances)
        self.assertEqual(len(result["Reservations"]), 1)


class UntrustedProxyTests(MetadataTestsBase):
    flags = {"metadata_trusted_proxies": ""}

    async def test_forwardedForIgnored(self):
        """
        With no trusted proxy, X-Forwarded-For is ignored: the peer
        (127.0.0.1) is no instance.
        """
        status, _, _ = await self.get("/latest/meta-data/instance-id")
        self.assertEqual(status, 404)


class TrustedNetworkTests(MetadataTestsBase):
    flags = {"metadata_trusted_proxies": "10.9.0.0/16,127.0.0.0/8"}

    async def test_cidr(self):
        self.assertEqual(
            await self.text(
                "/latest/meta-data/instance-id",
                forwardedFor=f"{self.instance.fixed_ip}, 10.9.1.1",
            ),
            self.instanceId,
        )


class UnitTests(SynchronousTestCase):
    def test_parseTrustedProxies(self):
        self.assertEqual(parseTrustedProxies(""), ())
        self.assertEqual(
            [str(n) for n in parseTrustedProxies("127.0.0.1, 10.0.0.0/8")],
            ["127.0.0.1/32", "10.0.0.0/8"],
        )
        self.assertEqual(
            [str(n) for n in parseTrustedProxies(("::1",))], ["::1/128"]
        )
        self.assertRaises(ConfigError, parseTrustedProxies, "localhost")

    def test_listing(self):
        tree = Directory(
            {"a": "x", "b": Directory({}), "0": Directory({"k": "v"})}, {"0": "0=name"}
        )
        self.assertEqual(tree.listing(), "a\nb/\n0=name")


class InstanceLookupTests(SynchronousTestCase):
    """
    L{MetadataService.instanceAt} over a database without a network
    service's rows, and with them.
    """

    def setUp(self):
        from twisted.internet import task

        from nova.config import configFromFlags
        from nova.db.api import inlineDatabase

        clock = task.Clock()
        clock.advance(1_700_000_000)
        self.db = inlineDatabase("sqlite:", clock)
        self.successResultOf(self.db.sync())
        self.addCleanup(self.db.transactor.close)
        self.service = MetadataService(configFromFlags(), self.db)

    def addInstance(self, address, state="running"):
        return self.successResultOf(
            self.db.instances.create(
                reservation_id="r-00000001", project_id="p", user_id="u",
                instance_type="m1.tiny", vcpus=1, memory_mb=512, local_gb=0,
                fixed_ip=address, state=state,
            )
        )

    def lookup(self, address):
        return self.successResultOf(ensureDeferred(self.service.instanceAt(address)))

    def test_withoutNetworks(self):
        """
        With no networks of its own, the instance is found by its address
        column; only a running one.
        """
        running = self.addInstance("172.16.0.5")
        self.addInstance("172.16.0.6", state="stopped")
        self.assertEqual(self.lookup("172.16.0.5").id, running.id)
        self.assertIsNone(self.lookup("172.16.0.6"))
        self.assertIsNone(self.lookup("172.16.0.7"))
        self.assertIsNone(self.lookup("garbage"))

    def test_withNetworks(self):
        """
        With networks, an address without a fixed address row is no
        guest's, whatever an instance's column says.
        """
        from nova.config import configFromFlags
        from nova.network.manager import managerClass

        plans = managerClass("flat").planNetworks(configFromFlags(), "10.1.0.0/28", 1, 16)
        self.successResultOf(self.db.networks.createNetworks(plans))
        self.addInstance("172.16.0.5")
        self.assertIsNone(self.lookup("172.16.0.5"))
        self.assertIsNone(self.lookup("10.1.0.5"))
