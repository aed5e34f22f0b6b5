"""
Tests for the address actions, through boto3/botocore, boto 2 and the aws
CLI against a real listening nova-api, with the real network manager (its
fake driver records the forwards) and compute manager on the in-process
bus.
"""

import attr
from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, CAROL, DAVE, FLOATING, ROOT, CloudServerMixin


class AddressTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.carol = await self.clientFor(CAROL)

    async def addresses(self, client=None, **kwargs):
        result = await self.inThread((client or self.carol).describe_addresses, **kwargs)
        return result["Addresses"]

    async def test_allocateDescribeRelease(self):
        allocated = await self.inThread(self.carol.allocate_address)
        address = allocated["PublicIp"]
        self.assertIn(address, FLOATING)
        self.assertEqual(allocated["Domain"], "standard")
        self.assertNotIn("AllocationId", allocated)
        [info] = await self.addresses()
        self.assertEqual(info["PublicIp"], address)
        self.assertEqual(info["Domain"], "standard")
        self.assertNotIn("InstanceId", info)
        second = (await self.inThread(self.carol.allocate_address, Domain="standard"))["PublicIp"]
        self.assertEqual(
            [a["PublicIp"] for a in await self.addresses(PublicIps=[second])], [second]
        )
        self.assertEqual(
            [a["PublicIp"] for a in await self.addresses(
                Filters=[{"Name": "public-ip", "Values": [address]}])],
            [address],
        )
        self.assertEqual(
            len(await self.addresses(Filters=[{"Name": "domain", "Values": ["standard"]}])), 2
        )
        self.assertEqual(
            await self.addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}]), []
        )
        await self.inThread(self.carol.release_address, PublicIp=address)
        self.assertEqual([a["PublicIp"] for a in await self.addresses()], [second])
        error = await self.expectError(
            "InvalidAddress.NotFound", self.carol.release_address, PublicIp=address
        )
        self.assertIn(address, error["Message"])
        await self.expectError(
            "InvalidAddress.NotFound", self.carol.describe_addresses, PublicIps=[address]
        )
        await self.expectError(
            "InvalidAddress.NotFound", self.carol.release_address, PublicIp="not-an-address"
        )
        await self.expectError(
            "InvalidParameterValue", self.carol.describe_addresses,
            Filters=[{"Name": "allocation-id", "Values": ["x"]}],
        )

    async def test_associate(self):
        """
        An address points at an instance's fixed address; associating it
        elsewhere moves it; disassociating or releasing it removes the
        forward.
        """
        first = await self.runInstance()
        second = await self.runInstance()
        address = (await self.inThread(self.carol.allocate_address))["PublicIp"]
        await self.inThread(
            self.carol.associate_address, PublicIp=address, InstanceId=first.ec2Id
        )
        [info] = await self.addresses()
        self.assertEqual(info["InstanceId"], first.ec2Id)
        self.assertEqual(info["PrivateIpAddress"], first.fixed_ip)
        self.assertEqual(self.networkDriver.floatingForwards, {address: first.fixed_ip})
        byInstance = await self.addresses(
            Filters=[{"Name": "instance-id", "Values": [first.ec2Id]}]
        )
        self.assertEqual([a["PublicIp"] for a in byInstance], [address])
        await self.inThread(
            self.carol.associate_address, PublicIp=address, InstanceId=second.ec2Id
        )
        [info] = await self.addresses()
        self.assertEqual(info["InstanceId"], second.ec2Id)
        self.assertEqual(self.networkDriver.floatingForwards, {address: second.fixed_ip})
        self.assertEqual(
            await self.addresses(Filters=[{"Name": "instance-id", "Values": [first.ec2Id]}]),
            [],
        )
        await self.inThread(self.carol.disassociate_address, PublicIp=address)
        [info] = await self.addresses()
        self.assertNotIn("InstanceId", info)
        self.assertEqual(self.networkDriver.floatingForwards, {})
        await self.expectError(
            "InvalidAssociationID.NotFound", self.carol.disassociate_address, PublicIp=address
        )
        await self.inThread(
            self.carol.associate_address, PublicIp=address, InstanceId=first.ec2Id
        )
        await self.inThread(self.carol.release_address, PublicIp=address)
        self.assertEqual(self.networkDriver.floatingForwards, {})
        self.assertEqual(await self.addresses(), [])

    async def test_associateErrors(self):
        instance = await self.runInstance()
        address = (await self.inThread(self.carol.allocate_address))["PublicIp"]
        await self.expectError(
            "InvalidInstanceID.NotFound", self.carol.associate_address,
            PublicIp=address, InstanceId="i-000000ff",
        )
        await self.expectError(
            "InvalidInstanceID.Malformed", self.carol.associate_address,
            PublicIp=address, InstanceId="instance",
        )
        await self.expectError(
            "InvalidAddress.NotFound", self.carol.associate_address,
            PublicIp="198.51.100.1", InstanceId=instance.ec2Id,
        )
        await self.expectError(
            "MissingParameter", self.carol.associate_address, InstanceId=instance.ec2Id
        )
        await self.expectError("MissingParameter", self.carol.associate_address, PublicIp=address)
        await self.expectError(
            "UnsupportedOperation", self.carol.associate_address,
            AllocationId="eipalloc-1", InstanceId=instance.ec2Id,
        )
        await self.expectError(
            "UnsupportedOperation", self.carol.disassociate_address, AssociationId="eipassoc-1"
        )

    async def test_unsupportedForms(self):
        await self.expectError(
            "UnsupportedOperation", self.carol.allocate_address, Domain="vpc"
        )
        await self.expectError(
            "InvalidParameterValue", self.carol.allocate_address, Domain="moon"
        )
        await self.expectError(
            "UnsupportedOperation", self.carol.allocate_address, Address="192.0.2.101"
        )
        await self.expectError(
            "UnsupportedOperation", self.carol.release_address, AllocationId="eipalloc-1"
        )
        await self.expectError("MissingParameter", self.carol.release_address)
        await self.expectError(
            "UnsupportedOperation", self.carol.describe_addresses, AllocationIds=["eipalloc-1"]
        )
        self.assertEqual(await self.addresses(), [])

    async def test_quota(self):
        for _ in range(self.floatingQuota):
            await self.inThread(self.carol.allocate_address)
        await self.expectError("AddressLimitExceeded", self.carol.allocate_address)
        self.assertEqual(len(await self.addresses()), self.floatingQuota)

    async def test_noMoreAddresses(self):
        self.floatingQuota = 10
        for _ in FLOATING:
            await self.inThread(self.carol.allocate_address)
        await self.expectError("InsufficientAddressCapacity", self.carol.allocate_address)

    async def test_adminAssociatesUnallocated(self):
        """
        A superuser associating an address no project was given (never
        allocated, or released) is refused as anyone else is: the address
        stays unallocated and nothing is forwarded.
        """
        instance = await self.runInstance()
        root = await self.clientFor(ROOT)
        for address in (FLOATING[-1], "198.51.100.1"):
            await self.expectError(
                "InvalidAddress.NotFound", root.associate_address,
                PublicIp=address, InstanceId=instance.ec2Id,
            )
            await self.expectError(
                "InvalidAddress.NotFound", root.disassociate_address, PublicIp=address
            )
            await self.expectError("InvalidAddress.NotFound", root.release_address, PublicIp=address)
            await self.expectError(
                "InvalidAddress.NotFound", root.describe_addresses, PublicIps=[address]
            )
        self.assertEqual(self.networkDriver.floatingForwards, {})
        self.assertIsNone((await self.db.networks.getFloatingIp(FLOATING[-1])).project_id)
        # An allocated address of the project the superuser may use.
        address = (await self.inThread(self.carol.allocate_address))["PublicIp"]
        await self.inThread(root.associate_address, PublicIp=address, InstanceId=instance.ec2Id)
        self.assertEqual(self.networkDriver.floatingForwards, {address: instance.fixed_ip})

    async def test_bindFailure(self):
        """
        When the network host cannot bind the address on its public
        interface, AssociateAddress answers a clear client error at once
        (not InternalError, which clients retry), and the address stays
        unassociated.
        """
        from nova.network.interfaces import NetworkDriverError

        instance = await self.runInstance()
        address = (await self.inThread(self.carol.allocate_address))["PublicIp"]
        calls = len(self.networkDriver.calls)
        self.networkDriver.failNext = NetworkDriverError(
            "ip addr add 192.0.2.101/32 dev eth9 failed: Cannot find device"
        )
        error = await self.expectError(
            "InvalidAddress.Unavailable", self.carol.associate_address,
            PublicIp=address, InstanceId=instance.ec2Id,
        )
        self.assertIn(address, error["Message"])
        self.assertIn("could not be bound", error["Message"])
        self.assertNotIn("eth9", error["Message"])
        binds = [c for c in self.networkDriver.calls[calls:] if c[0] == "bindFloatingIp"]
        self.assertEqual(len(binds), 1)
        [info] = await self.addresses()
        self.assertNotIn("InstanceId", info)
        self.assertEqual(self.networkDriver.floatingForwards, {})
        await self.inThread(
            self.carol.associate_address, PublicIp=address, InstanceId=instance.ec2Id
        )
        self.assertEqual(self.networkDriver.floatingForwards, {address: instance.fixed_ip})

    async def test_projectIsolation(self):
        """
        Another project neither sees nor uses the project's addresses, and
        the project cannot point its addresses at another project's
        instances.
        """
        address = (await self.inThread(self.carol.allocate_address))["PublicIp"]
        bob = await self.clientFor(BOB)
        bobsInstance = await self.runInstance(BOB)
        self.assertEqual(await self.addresses(bob), [])
        await self.expectError(
            "InvalidAddress.NotFound", bob.describe_addresses, PublicIps=[address]
        )
        await self.expectError("InvalidAddress.NotFound", bob.release_address, PublicIp=address)
        await self.expectError(
            "InvalidAddress.NotFound", bob.associate_address,
            PublicIp=address, InstanceId=bobsInstance.ec2Id,
        )
        await self.expectError(
            "InvalidAddress.NotFound", bob.disassociate_address, PublicIp=address
        )
        await self.expectError(
            "InvalidInstanceID.NotFound", self.carol.associate_address,
            PublicIp=address, InstanceId=bobsInstance.ec2Id,
        )
        bobsAddress = (await self.inThread(bob.allocate_address))["PublicIp"]
        self.assertNotEqual(bobsAddress, address)
        self.assertEqual([a["PublicIp"] for a in await self.addresses()], [address])
        # A superuser sees every allocated address.
        root = await self.clientFor(ROOT)
        self.assertEqual(
            sorted(a["PublicIp"] for a in await self.addresses(root)),
            sorted([address, bobsAddress]),
        )

    async def test_roles(self):
        """
        netadmin may change addresses; a developer, and a project manager
        who is not netadmin, may only describe them.
        """
        address = (await self.inThread(self.carol.allocate_address))["PublicIp"]
        instance = await self.runInstance()
        for user in (DAVE, ALICE, BOB):
            client = await self.clientFor(user, project="alice")
            self.assertEqual([a["PublicIp"] for a in await self.addresses(client)], [address])
            await self.expectError("UnauthorizedOperation", client.allocate_address)
            await self.expectError(
                "UnauthorizedOperation", client.release_address, PublicIp=address
            )
            await self.expectError(
                "UnauthorizedOperation", client.associate_address,
                PublicIp=address, InstanceId=instance.ec2Id,
            )
            await self.expectError(
                "UnauthorizedOperation", client.disassociate_address, PublicIp=address
            )
        self.assertEqual(len(await self.addresses()), 1)

    async def test_boto2(self):
        instance = await self.runInstance()
        connection = self.botoFor(CAROL)
        allocated = await self.inThread(connection.allocate_address)
        self.assertIn(allocated.public_ip, FLOATING)
        self.assertEqual(allocated.domain, "standard")
        self.assertTrue(
            await self.inThread(connection.associate_address, instance.ec2Id, allocated.public_ip)
        )
        [address] = await self.inThread(connection.get_all_addresses)
        self.assertEqual(address.public_ip, allocated.public_ip)
        self.assertEqual(address.instance_id, instance.ec2Id)
        self.assertEqual(address.private_ip_address, instance.fixed_ip)
        self.assertTrue(
            await self.inThread(connection.disassociate_address, allocated.public_ip)
        )
        [address] = await self.inThread(
            connection.get_all_addresses, addresses=[allocated.public_ip]
        )
        self.assertIsNone(address.instance_id)
        self.assertTrue(await self.inThread(connection.release_address, allocated.public_ip))
        self.assertEqual(await self.inThread(connection.get_all_addresses), [])

    async def test_awsCLI(self):
        carol = attr.evolve(CAROL, access=f"{CAROL.access}:alice")
        code, allocated, err = await self.aws("allocate-address", user=carol)
        self.assertEqual(code, 0, err)
        self.assertIn(allocated["PublicIp"], FLOATING)
        code, described, err = await self.aws(
            "describe-addresses", "--public-ips", allocated["PublicIp"], user=carol
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(
            described["Addresses"], [{"PublicIp": allocated["PublicIp"], "Domain": "standard",
                                      "Tags": []}]
        )
        code, _, err = await self.aws("release-address", "--public-ip", "198.51.100.9", user=carol)
        self.assertNotEqual(code, 0)
        self.assertIn("InvalidAddress.NotFound", err)
