"""
Tests for the instance actions through boto3/botocore, the aws CLI and
boto 2, against a real listening nova-api over a whole in-process cloud
(scheduler, flat network manager, compute services on fake hypervisors).
"""

import base64
from datetime import datetime, timezone

from botocore.exceptions import ClientError
from twisted.trial.unittest import TestCase

from nova.api.ec2.actions import ACTIONS
from nova.compute.firewall import FilterRule
from nova.quota import QuotaEngine
from nova.virt import power
from tests.api.ec2.cloud import (
    ALICE,
    BOB,
    CAROL,
    ERIN,
    SAM,
    CloudServerMixin,
    contextFor,
    waitFor,
)


class InstanceTestsBase(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.client = await self.makeClient()
        self.image = await self.addImage(name="base")

    async def describe(self, client=None, **kwargs):
        result = await self.inThread((client or self.client).describe_instances, **kwargs)
        return [i for r in result["Reservations"] for i in r["Instances"]], result


class RunInstancesTests(InstanceTestsBase):
    async def test_runTwo(self):
        """
        RunInstances answers with the reservation (instances pending); the
        instances then run on the compute hosts with distinct fixed IPs,
        in one reservation, with their key, user data, group and tags.
        """
        await self.inThread(
            self.client.import_key_pair,
            KeyName="mine",
            PublicKeyMaterial=b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH8yKkQx8o3c4LrEXEjzWmWQ6sFfxlbVbmL0gTRcK1QK me@host",
        )
        reservation = await self.inThread(
            self.client.run_instances,
            ImageId=self.image.ec2_id,
            MinCount=2,
            MaxCount=2,
            KeyName="mine",
            UserData="#!/bin/sh\necho hi\n",
            InstanceType="m1.tiny",
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}
            ],
        )
        self.assertRegex(reservation["ReservationId"], r"^r-[0-9a-f]{8}$")
        self.assertEqual(reservation["OwnerId"], ALICE.name)
        self.assertEqual(reservation["Groups"][0]["GroupName"], "default")
        self.assertEqual(len(reservation["Instances"]), 2)
        first = reservation["Instances"][0]
        self.assertEqual(first["State"], {"Code": 0, "Name": "pending"})
        self.assertEqual(first["ImageId"], self.image.ec2_id)
        self.assertEqual(first["KeyName"], "mine")
        self.assertEqual(first["InstanceType"], "m1.tiny")
        self.assertEqual(
            sorted(i["AmiLaunchIndex"] for i in reservation["Instances"]), [0, 1]
        )
        self.assertEqual(first["Tags"], [{"Key": "Name", "Value": "web"}])
        self.assertEqual(first["SecurityGroups"][0]["GroupName"], "default")
        self.assertRegex(first["SecurityGroups"][0]["GroupId"], r"^sg-[0-9a-f]{8}$")
        self.assertIsNotNone(first["LaunchTime"].tzinfo)
        ids = [i["InstanceId"] for i in reservation["Instances"]]
        await self.waitForState(ids, "running")

        instances, result = await self.describe()
        self.assertEqual(len(result["Reservations"]), 1)
        self.assertEqual(result["Reservations"][0]["ReservationId"], reservation["ReservationId"])
        self.assertEqual(sorted(i["InstanceId"] for i in instances), sorted(ids))
        for instance in instances:
            self.assertEqual(instance["State"], {"Code": 16, "Name": "running"})
            self.assertTrue(instance["PrivateIpAddress"].startswith("10.0.0."))
            self.assertEqual(instance["Placement"]["AvailabilityZone"], "nova")
            self.assertEqual(instance["Architecture"], "x86_64")
            self.assertEqual(instance["RootDeviceType"], "instance-store")
            self.assertEqual(instance["Monitoring"], {"State": "disabled"})
            self.assertNotIn("PublicIpAddress", instance)
        self.assertEqual(len({i["PrivateIpAddress"] for i in instances}), 2)
        record = await self.instanceRecord(ids[0])
        self.assertEqual(base64.b64decode(record.user_data), b"#!/bin/sh\necho hi\n")
        self.assertTrue(record.key_data.startswith("ssh-ed25519 "))
        self.assertEqual(
            {h for h, d in self.drivers.items() if d.guests}, {"node1", "node2"}
        )

    async def test_binaryUserData(self):
        """
        User data that is not text is kept byte for byte.
        """
        data = bytes(range(256))
        reservation = await self.runAndWait(self.client, UserData=data)
        [instance] = reservation["Instances"]
        attribute = await self.inThread(
            self.client.describe_instance_attribute,
            InstanceId=instance["InstanceId"],
            Attribute="userData",
        )
        self.assertEqual(base64.b64decode(attribute["UserData"]["Value"]), data)

    async def test_clientToken(self):
        """
        The same ClientToken answers with the same reservation; with other
        parameters it is IdempotentParameterMismatch.
        """
        first = await self.inThread(
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=1, MaxCount=1,
            ClientToken="tok-1",
        )
        again = await self.inThread(
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=1, MaxCount=1,
            ClientToken="tok-1",
        )
        self.assertEqual(first["ReservationId"], again["ReservationId"])
        self.assertEqual(again["Instances"][0]["ClientToken"], "tok-1")
        await self.expectError(
            "IdempotentParameterMismatch",
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=2, MaxCount=2,
            ClientToken="tok-1",
        )
        instances, _ = await self.describe()
        self.assertEqual(len(instances), 1)

    async def test_answerAsDescribed(self):
        """
        What RunInstances answers of the instances it made (their tags,
        groups, image and devices) is what a retry with its client token
        answers, which reads them back.
        """
        await self.db.securityGroups.create(ALICE.name, ALICE.name, "web", "web")
        kwargs = dict(
            ImageId=self.image.ec2_id,
            MinCount=2,
            MaxCount=2,
            SecurityGroups=["web", "default"],
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "tier", "Value": "1"}],
                }
            ],
            ClientToken="tok-answer",
        )
        first = await self.inThread(self.client.run_instances, **kwargs)
        again = await self.inThread(self.client.run_instances, **kwargs)
        self.assertEqual(first["ReservationId"], again["ReservationId"])
        self.assertEqual(first["Groups"], again["Groups"])
        fields = (
            "InstanceId", "ImageId", "KernelId", "RamdiskId", "KeyName", "InstanceType",
            "Placement", "Architecture", "RootDeviceType", "RootDeviceName",
            "BlockDeviceMappings", "VirtualizationType", "Hypervisor", "SecurityGroups",
            "Tags", "PublicIpAddress", "PublicDnsName", "ClientToken",
        )
        for made, read in zip(first["Instances"], again["Instances"]):
            self.assertEqual(
                {field: made.get(field) for field in fields},
                {field: read.get(field) for field in fields},
            )
        self.assertEqual(
            [group["GroupName"] for group in first["Instances"][0]["SecurityGroups"]],
            ["web", "default"],
        )
        self.assertEqual(
            first["Instances"][0]["Tags"],
            [{"Key": "Name", "Value": "web"}, {"Key": "tier", "Value": "1"}],
        )

    async def test_quota(self):
        """
        Past the project's instance quota RunInstances is refused with
        InstanceLimitExceeded; with MaxCount above it, only what fits runs.
        """
        engine = QuotaEngine.fromConfig(self.config, self.db)
        await engine.setQuota(ALICE.name, "instances", 2)
        reservation = await self.inThread(
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=1, MaxCount=5
        )
        self.assertEqual(len(reservation["Instances"]), 2)
        message = (await self.expectError(
            "InstanceLimitExceeded",
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=1, MaxCount=1,
        ))["Message"]
        self.assertIn("quota", message.lower())

    async def test_badParameters(self):
        """
        Unknown images, key pairs, groups, types and zones, and user data
        that is not base64, are refused with EC2's codes before anything
        runs.
        """
        image = self.image.ec2_id
        await self.expectError(
            "InvalidAMIID.NotFound",
            self.client.run_instances, ImageId="ami-0badf00d", MinCount=1, MaxCount=1,
        )
        await self.expectError(
            "InvalidAMIID.Malformed",
            self.client.run_instances, ImageId="nonsense", MinCount=1, MaxCount=1,
        )
        message = (await self.expectError(
            "InvalidKeyPair.NotFound",
            self.client.run_instances, ImageId=image, MinCount=1, MaxCount=1, KeyName="nokey",
        ))["Message"]
        self.assertIn("nokey", message)
        await self.expectError(
            "InvalidGroup.NotFound",
            self.client.run_instances, ImageId=image, MinCount=1, MaxCount=1,
            SecurityGroups=["nogroup"],
        )
        await self.expectError(
            "InvalidGroup.NotFound",
            self.client.run_instances, ImageId=image, MinCount=1, MaxCount=1,
            SecurityGroupIds=["sg-7fffffff"],
        )
        await self.expectError(
            "InvalidParameterValue",
            self.client.run_instances, ImageId=image, MinCount=1, MaxCount=1,
            InstanceType="m9.huge",
        )
        await self.expectError(
            "InvalidParameterValue",
            self.client.run_instances, ImageId=image, MinCount=1, MaxCount=1,
            Placement={"AvailabilityZone": "elsewhere"},
        )
        raw = await self.signedPost(
            {"Action": "RunInstances", "Version": "2016-11-15", "ImageId": image,
             "MinCount": "1", "MaxCount": "1", "UserData": "not*base64!"}
        )
        self.assertEqual((raw.status, raw.errorCode()), (400, "InvalidParameterValue"))
        await self.expectError(
            "InvalidParameterValue",
            self.client.run_instances, ImageId=image, MinCount=1, MaxCount=1,
            UserData=b"x" * (16 * 1024 + 1),
        )
        instances, _ = await self.describe()
        self.assertEqual(instances, [])

    async def test_securityGroupsByNameAndId(self):
        """
        SecurityGroup.N and SecurityGroupId.N both name groups of the
        project; the instance joins them.
        """
        group = await self.db.securityGroups.create(ALICE.name, ALICE.name, "web", "web")
        reservation = await self.inThread(
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=1, MaxCount=1,
            SecurityGroups=["default"], SecurityGroupIds=[group.ec2Id],
        )
        [instance] = reservation["Instances"]
        self.assertEqual(
            sorted(g["GroupName"] for g in instance["SecurityGroups"]), ["default", "web"]
        )
        instanceId = int(instance["InstanceId"][2:], 16)
        members = await self.db.securityGroups.instancesInGroup(group.id)
        self.assertEqual(members, [instanceId])
        await self.waitForState([instance["InstanceId"]], "running")
        await self.inThread(self.client.terminate_instances, InstanceIds=[instance["InstanceId"]])
        self.assertEqual(await self.db.securityGroups.instancesInGroup(group.id), [])

    async def test_floatingAddressIsPublic(self):
        """
        An instance with a floating address associated shows it as its
        PublicIpAddress.
        """
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        netadmin = await self.makeClient(CAROL, project=ALICE.name)
        address = (await self.inThread(netadmin.allocate_address))["PublicIp"]
        await self.inThread(netadmin.associate_address, InstanceId=instanceId, PublicIp=address)
        [instance], _ = await self.describe(InstanceIds=[instanceId])
        self.assertEqual(instance["PublicIpAddress"], address)
        [found], _ = await self.describe(Filters=[{"Name": "ip-address", "Values": [address]}])
        self.assertEqual(found["InstanceId"], instanceId)


class LifeCycleTests(InstanceTestsBase):
    async def test_consoleOutput(self):
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        output = await self.inThread(self.client.get_console_output, InstanceId=instanceId)
        self.assertEqual(output["InstanceId"], instanceId)
        self.assertIsNotNone(output["Timestamp"].tzinfo)
        # botocore decodes the base64 Output.
        text = output["Output"]
        self.assertIn("Linux version", text)
        record = await self.instanceRecord(instanceId)
        self.assertIn(record.fixed_ip, text)
        raw = await self.signedPost(
            {"Action": "GetConsoleOutput", "Version": "2016-11-15", "InstanceId": instanceId}
        )
        namespace = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
        wire = raw.xml().find(f"{namespace}output").text
        self.assertEqual(base64.b64decode(wire).decode("utf-8"), text)

    async def test_rebootStopStartTerminate(self):
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        answer = await self.inThread(self.client.reboot_instances, InstanceIds=[instanceId])
        self.assertEqual(answer["ResponseMetadata"]["HTTPStatusCode"], 200)
        await self.waitForState([instanceId], "running")

        stopping = await self.inThread(self.client.stop_instances, InstanceIds=[instanceId])
        [change] = stopping["StoppingInstances"]
        self.assertEqual(change["InstanceId"], instanceId)
        self.assertEqual(change["PreviousState"], {"Code": 16, "Name": "running"})
        self.assertEqual(change["CurrentState"], {"Code": 64, "Name": "stopping"})
        await self.waitForState([instanceId], "stopped")
        await self.expectError(
            "IncorrectInstanceState", self.client.reboot_instances, InstanceIds=[instanceId]
        )

        starting = await self.inThread(self.client.start_instances, InstanceIds=[instanceId])
        self.assertEqual(
            starting["StartingInstances"][0]["CurrentState"], {"Code": 0, "Name": "pending"}
        )
        await self.waitForState([instanceId], "running")

        terminating = await self.inThread(
            self.client.terminate_instances, InstanceIds=[instanceId]
        )
        [change] = terminating["TerminatingInstances"]
        self.assertEqual(change["CurrentState"], {"Code": 32, "Name": "shutting-down"})
        await self.waitForState([instanceId], "terminated")
        [instance], _ = await self.describe()
        self.assertEqual(instance["State"], {"Code": 48, "Name": "terminated"})
        self.assertEqual(instance["StateReason"]["Code"], "Client.UserInitiatedShutdown")
        again = await self.inThread(self.client.terminate_instances, InstanceIds=[instanceId])
        self.assertEqual(
            again["TerminatingInstances"][0]["PreviousState"]["Name"], "terminated"
        )
        self.assertEqual(sum(len(d.guests) for d in self.drivers.values()), 0)

    def _holdReboots(self, instance):
        """
        Make the next reboot on the instance's host wait for the returned
        L{Deferred}.
        """
        from twisted.internet.defer import Deferred

        driver = self.drivers[instance.host]
        reboot = driver.reboot
        release = Deferred()

        def slowReboot(name):
            driver.reboot = reboot
            return release.addCallback(lambda _: reboot(name))

        driver.reboot = slowReboot
        return release

    async def test_stopOrTerminateRightAfterReboot(self):
        """
        EC2 has no rebooting state: a rebooting instance is running (code
        16), and StopInstances or TerminateInstances sent while it
        reboots are accepted; they take effect once the reboot is done.
        """
        reservation = await self.runAndWait(self.client, count=2)
        first, second = [i["InstanceId"] for i in reservation["Instances"]]
        releases = [self._holdReboots(await self.instanceRecord(i)) for i in (first, second)]
        await self.inThread(self.client.reboot_instances, InstanceIds=[first, second])
        instances, _ = await self.describe(InstanceIds=[first, second])
        self.assertEqual(
            [i["State"] for i in instances], [{"Code": 16, "Name": "running"}] * 2
        )
        stopping = await self.inThread(self.client.stop_instances, InstanceIds=[first])
        [change] = stopping["StoppingInstances"]
        self.assertEqual(change["PreviousState"], {"Code": 16, "Name": "running"})
        self.assertEqual(change["CurrentState"], {"Code": 64, "Name": "stopping"})
        terminating = await self.inThread(
            self.client.terminate_instances, InstanceIds=[second]
        )
        [change] = terminating["TerminatingInstances"]
        self.assertEqual(change["PreviousState"], {"Code": 16, "Name": "running"})
        self.assertEqual(change["CurrentState"], {"Code": 32, "Name": "shutting-down"})
        for release in releases:
            release.callback(None)
        await self.waitForState([first], "stopped")
        await self.waitForState([second], "terminated")

    async def test_passwordData(self):
        """
        GetPasswordData answers, for a Linux guest, the instance, a
        timestamp and empty password data, as EC2 does.
        """
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        before = datetime.now(timezone.utc).replace(microsecond=0)
        answer = await self.inThread(self.client.get_password_data, InstanceId=instanceId)
        self.assertEqual(answer["InstanceId"], instanceId)
        self.assertEqual(answer["PasswordData"], "")
        self.assertGreaterEqual(answer["Timestamp"], before)
        await self.expectError(
            "InvalidInstanceID.NotFound",
            self.client.get_password_data, InstanceId="i-0000abcd",
        )
        await self.expectError(
            "InvalidInstanceID.Malformed", self.client.get_password_data, InstanceId="x-1"
        )

    async def test_unknownInstances(self):
        message = (await self.expectError(
            "InvalidInstanceID.NotFound",
            self.client.describe_instances, InstanceIds=["i-0000abcd", "i-0000abce"],
        ))["Message"]
        self.assertIn("i-0000abcd", message)
        self.assertIn("i-0000abce", message)
        await self.expectError(
            "InvalidInstanceID.Malformed",
            self.client.terminate_instances, InstanceIds=["x-1"],
        )
        await self.expectError(
            "InvalidInstanceID.NotFound",
            self.client.get_console_output, InstanceId="i-0000abcd",
        )


class TerminatedTTLTests(InstanceTestsBase):
    async def setUp(self):
        await self.startCloud(terminated_instance_ttl=2)
        self.client = await self.makeClient()
        self.image = await self.addImage(name="base")

    async def test_terminatedVisibleForAWhile(self):
        """
        A terminated instance is listed until --terminated_instance_ttl
        has passed since its termination.
        """
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        await self.inThread(self.client.terminate_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "terminated")
        record = await self.instanceRecord(instanceId)
        self.assertIsNotNone(record.terminated_at)
        instances, _ = await self.describe()
        self.assertEqual([i["State"]["Name"] for i in instances], ["terminated"])

        async def gone():
            return (await self.describe())[0] == []

        await waitFor(gone, timeout=10)
        await self.expectError(
            "InvalidInstanceID.NotFound", self.client.describe_instances, InstanceIds=[instanceId]
        )


class IsolationTests(InstanceTestsBase):
    async def test_otherProjectCannotSeeOrTouch(self):
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        bob = await self.makeClient(BOB)
        instances, _ = await self.describe(bob)
        self.assertEqual(instances, [])
        for function, kwargs in (
            (bob.describe_instances, {"InstanceIds": [instanceId]}),
            (bob.terminate_instances, {"InstanceIds": [instanceId]}),
            (bob.stop_instances, {"InstanceIds": [instanceId]}),
            (bob.reboot_instances, {"InstanceIds": [instanceId]}),
            (bob.get_console_output, {"InstanceId": instanceId}),
            (bob.get_password_data, {"InstanceId": instanceId}),
            (bob.describe_instance_attribute, {"InstanceId": instanceId, "Attribute": "userData"}),
            (bob.create_tags, {"Resources": [instanceId], "Tags": [{"Key": "k", "Value": "v"}]}),
        ):
            await self.expectError("InvalidInstanceID.NotFound", function, **kwargs)
        self.assertEqual((await self.instanceRecord(instanceId)).state, "running")

    async def test_roleMatrix(self):
        """
        A member with no role or netadmin only may describe instances but
        not run them; sysadmin and the project manager may.
        """
        image = self.image.ec2_id
        developer = await self.makeClient(ERIN, project=ALICE.name)
        netadmin = await self.makeClient(CAROL, project=ALICE.name)
        bobInAlice = await self.makeClient(BOB, project=ALICE.name)
        for client in (developer, netadmin, bobInAlice):
            await self.expectError(
                "UnauthorizedOperation",
                client.run_instances, ImageId=image, MinCount=1, MaxCount=1,
            )
            await self.inThread(client.describe_instances)
        reservation = await self.inThread(
            self.client.run_instances, ImageId=image, MinCount=1, MaxCount=1
        )
        instanceId = reservation["Instances"][0]["InstanceId"]
        await self.expectError(
            "UnauthorizedOperation", developer.terminate_instances, InstanceIds=[instanceId]
        )
        instances, _ = await self.describe(developer)
        self.assertEqual([i["InstanceId"] for i in instances], [instanceId])
        bob = await self.makeClient(BOB)
        bobImage = await self.addImage(BOB.name)
        mine = await self.inThread(
            bob.run_instances, ImageId=bobImage.ec2_id, MinCount=1, MaxCount=1
        )
        self.assertEqual(mine["OwnerId"], BOB.name)


class DescribeTests(InstanceTestsBase):
    async def test_filters(self):
        await self.inThread(self.client.create_key_pair, KeyName="k1")
        web = await self.runAndWait(
            self.client, count=2, KeyName="k1", InstanceType="m1.tiny",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
        )
        db = await self.runAndWait(self.client, count=1, InstanceType="m1.small")
        webIds = sorted(i["InstanceId"] for i in web["Instances"])
        dbId = db["Instances"][0]["InstanceId"]
        dbRecord = await self.instanceRecord(dbId)

        async def ids(*filters):
            instances, _ = await self.describe(
                Filters=[{"Name": n, "Values": list(v)} for n, v in filters]
            )
            return sorted(i["InstanceId"] for i in instances)

        allIds = sorted(webIds + [dbId])
        self.assertEqual(await ids(("instance-state-name", ["running"])), allIds)
        self.assertEqual(await ids(("instance-state-code", ["16"])), allIds)
        self.assertEqual(await ids(("instance-state-name", ["pending"])), [])
        self.assertEqual(await ids(("instance-id", [dbId])), [dbId])
        # The listing is narrowed to the ids the filter allows; whatever
        # it allows, every filter still applies.
        self.assertEqual(await ids(("instance-id", webIds + ["i-0000ffff", "vol-1"])), webIds)
        self.assertEqual(await ids(("instance-id", [dbId.upper()])), [])
        self.assertEqual(await ids(("instance-id", ["i-*"])), allIds)
        self.assertEqual(await ids(("instance-id", webIds), ("instance-id", [dbId])), [])
        self.assertEqual(
            await ids(("instance-id", allIds), ("instance-id", [dbId, webIds[0]])),
            sorted([dbId, webIds[0]]),
        )
        self.assertEqual(await ids(("instance-id", allIds), ("key-name", ["k1"])), webIds)
        instances, _ = await self.describe(
            InstanceIds=webIds, Filters=[{"Name": "instance-id", "Values": [dbId, webIds[1]]}]
        )
        self.assertEqual([i["InstanceId"] for i in instances], [webIds[1]])
        await self.expectError(
            "InvalidInstanceID.NotFound",
            self.client.describe_instances,
            InstanceIds=["i-0000ffff"],
            Filters=[{"Name": "instance-id", "Values": [dbId]}],
        )
        self.assertEqual(await ids(("image-id", [self.image.ec2_id])), [])
        self.assertEqual(await ids(("key-name", ["k1"])), webIds)
        self.assertEqual(await ids(("instance-type", ["m1.small"])), [dbId])
        self.assertEqual(await ids(("private-ip-address", [dbRecord.fixed_ip])), [dbId])
        self.assertEqual(await ids(("reservation-id", [web["ReservationId"]])), webIds)
        self.assertEqual(await ids(("availability-zone", ["nova"])), allIds)
        self.assertEqual(await ids(("tag:role", ["web"])), webIds)
        self.assertEqual(await ids(("tag:role", ["w*"])), webIds)
        self.assertEqual(await ids(("tag-key", ["role"])), webIds)
        self.assertEqual(await ids(("tag-value", ["web"])), webIds)
        self.assertEqual(
            await ids(("tag:role", ["web"]), ("instance-type", ["m1.small"])), []
        )
        self.assertEqual(await ids(("group-name", ["default"])), allIds)
        await self.expectError(
            "InvalidParameterValue",
            self.client.describe_instances, Filters=[{"Name": "colour", "Values": ["red"]}],
        )
        _, result = await self.describe()
        self.assertEqual(
            sorted(r["ReservationId"] for r in result["Reservations"]),
            sorted([web["ReservationId"], db["ReservationId"]]),
        )

    async def test_pagination(self):
        reservation = await self.inThread(
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=7, MaxCount=7
        )
        ids = sorted(i["InstanceId"] for i in reservation["Instances"])
        first, result = await self.describe(MaxResults=5)
        self.assertEqual(len(first), 5)
        token = result["NextToken"]
        second, result = await self.describe(MaxResults=5, NextToken=token)
        self.assertNotIn("NextToken", result)
        self.assertEqual(sorted(i["InstanceId"] for i in first + second), ids)
        paginator = self.client.get_paginator("describe_instances")
        pages = await self.inThread(lambda: list(paginator.paginate(MaxResults=5)))
        self.assertEqual(len(pages), 2)
        await self.expectError(
            "InvalidParameterCombination",
            self.client.describe_instances, InstanceIds=ids[:1], MaxResults=5,
        )
        await self.expectError(
            "InvalidParameterValue", self.client.describe_instances, MaxResults=2
        )
        await self.expectError(
            "InvalidPaginationToken", self.client.describe_instances, NextToken="garbage"
        )

    async def test_instanceAttribute(self):
        group = await self.db.securityGroups.create(ALICE.name, ALICE.name, "web", "web")
        reservation = await self.runAndWait(
            self.client, UserData="hello", InstanceType="m1.tiny",
            SecurityGroups=["web"],
        )
        instanceId = reservation["Instances"][0]["InstanceId"]

        async def attribute(name):
            result = await self.inThread(
                self.client.describe_instance_attribute, InstanceId=instanceId, Attribute=name
            )
            self.assertEqual(result["InstanceId"], instanceId)
            return result

        self.assertEqual((await attribute("instanceType"))["InstanceType"], {"Value": "m1.tiny"})
        self.assertEqual(
            base64.b64decode((await attribute("userData"))["UserData"]["Value"]), b"hello"
        )
        self.assertEqual(
            (await attribute("disableApiTermination"))["DisableApiTermination"], {"Value": False}
        )
        self.assertEqual(
            (await attribute("instanceInitiatedShutdownBehavior"))[
                "InstanceInitiatedShutdownBehavior"
            ],
            {"Value": "stop"},
        )
        self.assertEqual(
            (await attribute("rootDeviceName"))["RootDeviceName"], {"Value": "/dev/sda1"}
        )
        self.assertEqual(
            (await attribute("groupSet"))["Groups"],
            [{"GroupName": "web", "GroupId": group.ec2Id}],
        )
        self.assertEqual((await attribute("kernel"))["KernelId"], {})
        raw = await self.signedPost(
            {"Action": "DescribeInstanceAttribute", "Version": "2016-11-15",
             "InstanceId": instanceId, "Attribute": "colour"}
        )
        self.assertEqual(raw.errorCode(), "InvalidParameterValue")

    async def test_instanceStatus(self):
        running = await self.runAndWait(self.client)
        runningId = running["Instances"][0]["InstanceId"]
        stopped = await self.runAndWait(self.client)
        stoppedId = stopped["Instances"][0]["InstanceId"]
        await self.inThread(self.client.stop_instances, InstanceIds=[stoppedId])
        await self.waitForState([stoppedId], "stopped")
        result = await self.inThread(self.client.describe_instance_status)
        [status] = result["InstanceStatuses"]
        self.assertEqual(status["InstanceId"], runningId)
        self.assertEqual(status["InstanceStatus"]["Status"], "ok")
        self.assertEqual(status["SystemStatus"]["Status"], "ok")
        self.assertEqual(status["AvailabilityZone"], "nova")
        every = await self.inThread(
            self.client.describe_instance_status, IncludeAllInstances=True
        )
        byId = {s["InstanceId"]: s for s in every["InstanceStatuses"]}
        self.assertEqual(byId[stoppedId]["InstanceState"]["Name"], "stopped")
        self.assertEqual(byId[stoppedId]["InstanceStatus"]["Status"], "not-applicable")

    async def test_instanceTypes(self):
        result = await self.inThread(self.client.describe_instance_types)
        byName = {t["InstanceType"]: t for t in result["InstanceTypes"]}
        self.assertEqual(
            sorted(byName), ["m1.large", "m1.medium", "m1.small", "m1.tiny", "m1.xlarge"]
        )
        tiny, small = byName["m1.tiny"], byName["m1.small"]
        self.assertEqual(tiny["VCpuInfo"]["DefaultVCpus"], 1)
        self.assertEqual(tiny["MemoryInfo"]["SizeInMiB"], 512)
        self.assertFalse(tiny["InstanceStorageSupported"])
        self.assertNotIn("InstanceStorageInfo", tiny)
        self.assertEqual(small["InstanceStorageInfo"]["TotalSizeInGB"], 20)
        self.assertEqual(byName["m1.xlarge"]["VCpuInfo"]["DefaultVCpus"], 8)
        named = await self.inThread(
            self.client.describe_instance_types, InstanceTypes=["m1.small"]
        )
        self.assertEqual([t["InstanceType"] for t in named["InstanceTypes"]], ["m1.small"])
        filtered = await self.inThread(
            self.client.describe_instance_types,
            Filters=[{"Name": "vcpu-info.default-vcpus", "Values": ["1"]}],
        )
        self.assertEqual(
            sorted(t["InstanceType"] for t in filtered["InstanceTypes"]), ["m1.small", "m1.tiny"]
        )
        await self.expectError(
            "InvalidParameterValue", self.client.describe_instance_types, InstanceTypes=["m9.huge"]
        )


class ModifyInstanceAttributeTests(InstanceTestsBase):
    async def attribute(self, instanceId, name, client=None):
        result = await self.inThread(
            (client or self.client).describe_instance_attribute,
            InstanceId=instanceId,
            Attribute=name,
        )
        self.assertEqual(result["InstanceId"], instanceId)
        return result

    async def modify(self, instanceId, client=None, **kwargs):
        answer = await self.inThread(
            (client or self.client).modify_instance_attribute, InstanceId=instanceId, **kwargs
        )
        self.assertEqual(answer["ResponseMetadata"]["HTTPStatusCode"], 200)

    async def stopped(self, **kw):
        reservation = await self.runAndWait(self.client, **kw)
        instanceId = reservation["Instances"][0]["InstanceId"]
        await self.inThread(self.client.stop_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "stopped")
        return instanceId

    async def test_whileStopped(self):
        """
        A stopped instance's type, user data, kernel and ramdisk change
        and are described as changed; it starts again.
        """
        instanceId = await self.stopped(InstanceType="m1.tiny", UserData="old")
        await self.modify(instanceId, InstanceType={"Value": "m1.small"})
        self.assertEqual(
            (await self.attribute(instanceId, "instanceType"))["InstanceType"], {"Value": "m1.small"}
        )
        [instance], _ = await self.describe(InstanceIds=[instanceId])
        self.assertEqual(instance["InstanceType"], "m1.small")
        record = await self.instanceRecord(instanceId)
        self.assertEqual((record.vcpus, record.memory_mb, record.local_gb), (1, 2048, 20))

        # botocore base64-encodes the UserData.Value blob.
        await self.modify(instanceId, UserData={"Value": b"#!/bin/sh\necho new\n"})
        userData = (await self.attribute(instanceId, "userData"))["UserData"]["Value"]
        self.assertEqual(base64.b64decode(userData), b"#!/bin/sh\necho new\n")

        kernel = await self.addImage(imageType="kernel")
        ramdisk = await self.addImage(imageType="ramdisk")
        await self.modify(instanceId, Kernel={"Value": kernel.ec2_id})
        await self.modify(instanceId, Ramdisk={"Value": ramdisk.ec2_id})
        self.assertEqual(
            (await self.attribute(instanceId, "kernel"))["KernelId"], {"Value": kernel.ec2_id}
        )
        self.assertEqual(
            (await self.attribute(instanceId, "ramdisk"))["RamdiskId"], {"Value": ramdisk.ec2_id}
        )
        [instance], _ = await self.describe(InstanceIds=[instanceId])
        self.assertEqual((instance["KernelId"], instance["RamdiskId"]), (kernel.ec2_id, ramdisk.ec2_id))

        await self.inThread(self.client.start_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "running")

    async def test_badValues(self):
        """
        Unknown types, kernels and ramdisks, and user data that is too
        large, are refused with EC2's codes and change nothing.
        """
        instanceId = await self.stopped(InstanceType="m1.tiny")
        kernel = await self.addImage(imageType="kernel")
        bobsKernel = await self.addImage(BOB.name, imageType="kernel")
        await self.expectError(
            "InvalidParameterValue",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            InstanceType={"Value": "m9.huge"},
        )
        for value in ("aki-0badf00d", self.image.ec2_id, bobsKernel.ec2_id):
            await self.expectError(
                "InvalidAMIID.NotFound",
                self.client.modify_instance_attribute, InstanceId=instanceId, Kernel={"Value": value},
            )
        await self.expectError(
            "InvalidAMIID.NotFound",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            Ramdisk={"Value": kernel.ec2_id},
        )
        await self.expectError(
            "InvalidAMIID.Malformed",
            self.client.modify_instance_attribute, InstanceId=instanceId, Kernel={"Value": "vmlinuz"},
        )
        await self.expectError(
            "InvalidParameterValue",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            UserData={"Value": b"x" * (16 * 1024 + 1)},
        )
        await self.expectError(
            "InvalidParameterValue",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            InstanceInitiatedShutdownBehavior={"Value": "hibernate"},
        )
        record = await self.instanceRecord(instanceId)
        self.assertEqual(
            (record.instance_type, record.kernel_id, record.user_data, record.shutdown_behavior),
            ("m1.tiny", None, None, "stop"),
        )

    async def test_refusedWhileRunning(self):
        """
        The type, user data, kernel and ramdisk of a running instance are
        IncorrectInstanceState (HTTP 400).
        """
        reservation = await self.runAndWait(self.client, InstanceType="m1.tiny")
        instanceId = reservation["Instances"][0]["InstanceId"]
        kernel = await self.addImage(imageType="kernel")
        for kwargs in (
            {"InstanceType": {"Value": "m1.small"}},
            {"UserData": {"Value": b"data"}},
            {"Kernel": {"Value": kernel.ec2_id}},
            {"Attribute": "instanceType", "Value": "m1.small"},
        ):
            with self.assertRaises(ClientError) as caught:
                await self.inThread(
                    self.client.modify_instance_attribute, InstanceId=instanceId, **kwargs
                )
            response = caught.exception.response
            self.assertEqual(response["Error"]["Code"], "IncorrectInstanceState")
            self.assertEqual(
                response["Error"]["Message"],
                f"The instance '{instanceId}' is not in the 'stopped' state.",
            )
            self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(
            (await self.attribute(instanceId, "instanceType"))["InstanceType"], {"Value": "m1.tiny"}
        )

    async def test_terminationProtection(self):
        """
        With disableApiTermination on, TerminateInstances is
        OperationNotPermitted and terminates none of the instances it
        names; turned off (in the Attribute/Value form), it terminates.
        """
        reservation = await self.runAndWait(self.client, count=2)
        first, second = (i["InstanceId"] for i in reservation["Instances"])
        await self.modify(second, DisableApiTermination={"Value": True})
        self.assertEqual(
            (await self.attribute(second, "disableApiTermination"))["DisableApiTermination"],
            {"Value": True},
        )
        with self.assertRaises(ClientError) as caught:
            await self.inThread(self.client.terminate_instances, InstanceIds=[first, second])
        response = caught.exception.response
        self.assertEqual(response["Error"]["Code"], "OperationNotPermitted")
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(
            response["Error"]["Message"],
            f"The instance '{second}' may not be terminated. Modify its "
            f"'disableApiTermination' instance attribute and try again.",
        )
        instances, _ = await self.describe()
        self.assertEqual({i["State"]["Name"] for i in instances}, {"running"})
        await self.modify(second, Attribute="disableApiTermination", Value="false")
        self.assertEqual(
            (await self.attribute(second, "disableApiTermination"))["DisableApiTermination"],
            {"Value": False},
        )
        await self.inThread(self.client.terminate_instances, InstanceIds=[first, second])
        await self.waitForState([first, second], "terminated")

    async def test_runInstancesAttributes(self):
        """
        RunInstances takes DisableApiTermination and
        InstanceInitiatedShutdownBehavior.
        """
        reservation = await self.runAndWait(
            self.client, DisableApiTermination=True, InstanceInitiatedShutdownBehavior="terminate"
        )
        instanceId = reservation["Instances"][0]["InstanceId"]
        self.assertEqual(
            (await self.attribute(instanceId, "disableApiTermination"))["DisableApiTermination"],
            {"Value": True},
        )
        self.assertEqual(
            (await self.attribute(instanceId, "instanceInitiatedShutdownBehavior"))[
                "InstanceInitiatedShutdownBehavior"
            ],
            {"Value": "terminate"},
        )
        await self.expectError(
            "OperationNotPermitted", self.client.terminate_instances, InstanceIds=[instanceId]
        )
        await self.expectError(
            "InvalidParameterValue",
            self.client.run_instances, ImageId=self.image.ec2_id, MinCount=1, MaxCount=1,
            InstanceInitiatedShutdownBehavior="hibernate",
        )

    async def test_shutdownBehavior(self):
        """
        The shutdown behavior is kept and described; with terminate, a
        guest that powers itself off is terminated at the next power-state
        sync, and leaves its groups.
        """
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        await self.modify(instanceId, InstanceInitiatedShutdownBehavior={"Value": "terminate"})
        self.assertEqual(
            (await self.attribute(instanceId, "instanceInitiatedShutdownBehavior"))[
                "InstanceInitiatedShutdownBehavior"
            ],
            {"Value": "terminate"},
        )
        await self.modify(instanceId, Attribute="instanceInitiatedShutdownBehavior", Value="stop")
        self.assertEqual(
            (await self.instanceRecord(instanceId)).shutdown_behavior, "stop"
        )
        await self.modify(instanceId, Attribute="instanceInitiatedShutdownBehavior", Value="terminate")
        record = await self.instanceRecord(instanceId)
        self.guestOf(record).state = power.SHUTOFF
        await self.computeManagers[record.host].periodicTasks(contextFor(ALICE))
        await self.waitForState([instanceId], "terminated")
        [instance], _ = await self.describe(InstanceIds=[instanceId])
        self.assertEqual(instance["State"]["Name"], "terminated")
        groups = await self.db.securityGroups.list(ALICE.name)
        [default] = [g for g in groups if g.name == "default"]
        self.assertNotIn(record.id, await self.db.securityGroups.instancesInGroup(default.id))

    async def test_groupSet(self):
        """
        GroupId.N replaces the instance's groups: DescribeInstances and
        DescribeInstanceAttribute show them, and the compute host rebuilds
        the instance's filter.
        """
        web = await self.db.securityGroups.create(ALICE.name, ALICE.name, "web", "web")
        admin = await self.db.securityGroups.create(ALICE.name, ALICE.name, "admin", "admin")
        netadmin = await self.makeClient(CAROL, project=ALICE.name)
        await self.inThread(
            netadmin.authorize_security_group_ingress, GroupId=web.ec2Id,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        record = await self.instanceRecord(instanceId)
        firewall = self.computeManagers[record.host].firewall
        port80 = FilterRule("tcp", 80, 80, "0.0.0.0/0")
        self.assertNotIn(port80, firewall.filters[record.id].rules)

        await self.modify(instanceId, Groups=[web.ec2Id, admin.ec2Id])
        [instance], result = await self.describe(InstanceIds=[instanceId])
        self.assertEqual(
            instance["SecurityGroups"],
            [{"GroupName": "web", "GroupId": web.ec2Id}, {"GroupName": "admin", "GroupId": admin.ec2Id}],
        )
        self.assertEqual(
            (await self.attribute(instanceId, "groupSet"))["Groups"],
            [{"GroupName": "web", "GroupId": web.ec2Id}, {"GroupName": "admin", "GroupId": admin.ec2Id}],
        )
        self.assertEqual(await self.db.securityGroups.instancesInGroup(web.id), [record.id])
        await self.waitFor(lambda: port80 in firewall.filters[record.id].rules)

        await self.modify(instanceId, Groups=[admin.ec2Id])
        [instance], _ = await self.describe(
            Filters=[{"Name": "instance.group-id", "Values": [admin.ec2Id]}]
        )
        self.assertEqual([g["GroupName"] for g in instance["SecurityGroups"]], ["admin"])
        self.assertEqual(await self.db.securityGroups.instancesInGroup(web.id), [])
        await self.waitFor(lambda: port80 not in firewall.filters[record.id].rules)

        bobs = await self.db.securityGroups.create(BOB.name, BOB.name, "web", "web")
        for ids in (["sg-7fffffff"], [bobs.ec2Id], [admin.ec2Id, "sg-00000000"]):
            await self.expectError(
                "InvalidGroup.NotFound",
                self.client.modify_instance_attribute, InstanceId=instanceId, Groups=ids,
            )
        await self.expectError(
            "InvalidGroupId.Malformed",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            Groups=[admin.ec2Id, "sg-nonsense"],
        )
        self.assertEqual(
            [g["GroupName"] for g in (await self.attribute(instanceId, "groupSet"))["Groups"]],
            ["admin"],
        )

    async def test_requestForms(self):
        """
        The Attribute/Value form and the structured members both work;
        none, several, or both forms for one attribute are
        InvalidParameterCombination; attributes that cannot change are
        InvalidParameterValue or UnsupportedOperation.
        """
        instanceId = await self.stopped(InstanceType="m1.tiny")
        await self.modify(instanceId, Attribute="instanceType", Value="m1.medium")
        self.assertEqual((await self.instanceRecord(instanceId)).instance_type, "m1.medium")
        await self.modify(instanceId, Attribute="instanceType", InstanceType={"Value": "m1.small"})
        self.assertEqual((await self.instanceRecord(instanceId)).instance_type, "m1.small")
        data = base64.b64encode(b"legacy form").decode("ascii")
        await self.modify(instanceId, Attribute="userData", Value=data)
        self.assertEqual((await self.instanceRecord(instanceId)).user_data, data)
        raw = await self.signedPost(
            {"Action": "ModifyInstanceAttribute", "Version": "2016-11-15",
             "InstanceId": instanceId, "DisableApiTermination.Value": "true"}
        )
        self.assertEqual(raw.status, 200)
        self.assertTrue((await self.instanceRecord(instanceId)).disable_api_termination)
        namespace = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
        self.assertEqual(raw.xml().find(f"{namespace}return").text, "true")

        message = (await self.expectError(
            "InvalidParameterCombination",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            InstanceType={"Value": "m1.small"}, DisableApiTermination={"Value": False},
        ))["Message"]
        self.assertEqual(
            message, "Fields for multiple attribute types specified: disableApiTermination, instanceType"
        )
        message = (await self.expectError(
            "InvalidParameterCombination",
            self.client.modify_instance_attribute, InstanceId=instanceId,
        ))["Message"]
        self.assertEqual(message, "No attributes specified.")
        await self.expectError(
            "InvalidParameterCombination",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            Attribute="kernel", InstanceType={"Value": "m1.small"},
        )
        await self.expectError(
            "InvalidParameterCombination",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            Attribute="instanceType", Value="m1.small", InstanceType={"Value": "m1.small"},
        )
        await self.expectError(
            "MissingParameter",
            self.client.modify_instance_attribute, InstanceId=instanceId, Attribute="instanceType",
        )
        await self.expectError(
            "MissingParameter",
            self.client.modify_instance_attribute, InstanceId=instanceId, Value="m1.small",
        )
        await self.expectError(
            "InvalidParameterValue",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            Attribute="disableApiTermination", Value="maybe",
        )
        for attribute in ("productCodes", "rootDeviceName"):
            await self.expectError(
                "InvalidParameterValue",
                self.client.modify_instance_attribute, InstanceId=instanceId,
                Attribute=attribute, Value="x",
            )
        raw = await self.signedPost(
            {"Action": "ModifyInstanceAttribute", "Version": "2016-11-15",
             "InstanceId": instanceId, "Attribute": "colour", "Value": "red"}
        )
        self.assertEqual((raw.status, raw.errorCode()), (400, "InvalidParameterValue"))
        await self.expectError(
            "UnsupportedOperation",
            self.client.modify_instance_attribute, InstanceId=instanceId, EnaSupport={"Value": True},
        )
        await self.expectError(
            "UnsupportedOperation",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            Attribute="disableApiStop", Value="true",
        )
        # There is no VPC: EC2-Classic's answer.
        await self.expectError(
            "InvalidParameterCombination",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            SourceDestCheck={"Value": False},
        )
        await self.expectError(
            "InvalidParameterCombination",
            self.client.modify_instance_attribute, InstanceId=instanceId,
            Attribute="groupSet", Value="sg-00000001",
        )

    async def test_whoMay(self):
        """
        Another project's instance is not found; a member without an
        instance role (or netadmin only) may not modify; sysadmin may.
        """
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        bob = await self.makeClient(BOB)
        await self.expectError(
            "InvalidInstanceID.NotFound",
            bob.modify_instance_attribute, InstanceId=instanceId,
            DisableApiTermination={"Value": True},
        )
        await self.expectError(
            "InvalidInstanceID.NotFound",
            self.client.modify_instance_attribute, InstanceId="i-0000abcd",
            DisableApiTermination={"Value": True},
        )
        for user in (ERIN, CAROL):
            client = await self.makeClient(user, project=ALICE.name)
            await self.expectError(
                "UnauthorizedOperation",
                client.modify_instance_attribute, InstanceId=instanceId,
                DisableApiTermination={"Value": True},
            )
        self.assertFalse((await self.instanceRecord(instanceId)).disable_api_termination)
        sysadmin = await self.makeClient(SAM, project=ALICE.name)
        await self.modify(instanceId, sysadmin, DisableApiTermination={"Value": True})
        self.assertTrue((await self.instanceRecord(instanceId)).disable_api_termination)

    async def test_otherClients(self):
        """
        The aws CLI's modify-instance-attribute, in both forms, and boto
        2's modify_instance_attribute.
        """
        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        code, _, err = await self.aws(
            "modify-instance-attribute", "--instance-id", instanceId, "--disable-api-termination"
        )
        self.assertEqual(code, 0, err)
        self.assertTrue((await self.instanceRecord(instanceId)).disable_api_termination)
        code, _, err = await self.aws(
            "modify-instance-attribute", "--instance-id", instanceId,
            "--attribute", "instanceInitiatedShutdownBehavior", "--value", "terminate",
        )
        self.assertEqual(code, 0, err)
        self.assertEqual((await self.instanceRecord(instanceId)).shutdown_behavior, "terminate")
        code, described, err = await self.aws(
            "describe-instance-attribute", "--instance-id", instanceId,
            "--attribute", "disableApiTermination",
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(described["DisableApiTermination"], {"Value": True})
        connection = self.botoConnection()
        done = await self.inThread(
            connection.modify_instance_attribute, instanceId, "disableApiTermination", False
        )
        self.assertTrue(done)
        attribute = await self.inThread(
            connection.get_instance_attribute, instanceId, "disableApiTermination"
        )
        self.assertEqual(attribute["disableApiTermination"], False)
        web = await self.db.securityGroups.create(ALICE.name, ALICE.name, "web", "web")
        await self.inThread(
            connection.modify_instance_attribute, instanceId, "groupSet", [web.ec2Id]
        )
        [instance] = await self.inThread(connection.get_only_instances, instance_ids=[instanceId])
        self.assertEqual([g.name for g in instance.groups], ["web"])


class DescribeInstancesV6Tests(InstanceTestsBase):
    async def test_describeInstancesV6(self):
        """
        Cactus's DescribeInstancesV6 (not in botocore's model) answers as
        DescribeInstances, each instance with an empty dnsNameV6 (there
        is no IPv6); boto 2 reads it.
        """
        from boto.ec2.instance import Reservation

        reservation = await self.runAndWait(self.client)
        instanceId = reservation["Instances"][0]["InstanceId"]
        await self.runAndWait(await self.makeClient(BOB), ImageId=(await self.addImage(BOB.name)).ec2_id)
        connection = self.botoConnection()
        [found] = await self.inThread(
            connection.get_list, "DescribeInstancesV6", {}, [("item", Reservation)], verb="POST"
        )
        [instance] = found.instances
        self.assertEqual(instance.id, instanceId)
        self.assertEqual(instance.state, "running")
        self.assertEqual(instance.dnsNameV6, "")
        self.assertEqual(instance.private_ip_address, (await self.instanceRecord(instanceId)).fixed_ip)
        raw = await self.signedPost(
            {"Action": "DescribeInstancesV6", "Version": "2016-11-15", "InstanceId.1": instanceId}
        )
        self.assertEqual(raw.status, 200, raw.body)
        namespace = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
        items = raw.xml().findall(f".//{namespace}instancesSet/{namespace}item")
        self.assertEqual(len(items), 1)
        self.assertEqual(items[0].find(f"{namespace}dnsNameV6").text, None)
        self.assertEqual(items[0].find(f"{namespace}instanceId").text, instanceId)
        raw = await self.signedPost(
            {"Action": "DescribeInstancesV6", "Version": "2016-11-15", "InstanceId.1": "i-0000abcd"}
        )
        self.assertEqual(raw.errorCode(), "InvalidInstanceID.NotFound")


class OtherClientsTests(InstanceTestsBase):
    async def test_awsCLI(self):
        """
        The aws CLI runs, describes and terminates instances.
        """
        code, ran, err = await self.aws(
            "run-instances", "--image-id", self.image.ec2_id, "--count", "1",
            "--instance-type", "m1.tiny", "--user-data", "from the cli",
        )
        self.assertEqual(code, 0, err)
        instanceId = ran["Instances"][0]["InstanceId"]
        await self.waitForState([instanceId], "running")
        code, described, err = await self.aws(
            "describe-instances", "--filters", "Name=instance-state-name,Values=running"
        )
        self.assertEqual(code, 0, err)
        [instance] = described["Reservations"][0]["Instances"]
        self.assertEqual(instance["InstanceId"], instanceId)
        self.assertEqual(instance["State"]["Name"], "running")
        record = await self.instanceRecord(instanceId)
        self.assertEqual(base64.b64decode(record.user_data), b"from the cli")
        code, terminated, err = await self.aws("terminate-instances", "--instance-ids", instanceId)
        self.assertEqual(code, 0, err)
        self.assertEqual(
            terminated["TerminatingInstances"][0]["CurrentState"]["Name"], "shutting-down"
        )
        code, _, err = await self.aws("describe-instances", "--instance-ids", "i-0000ffff")
        self.assertNotEqual(code, 0)
        self.assertIn("InvalidInstanceID.NotFound", err)

    async def test_boto2(self):
        """
        boto 2 runs instances (its user data encoding), reads reservations,
        console output (sent as InstanceId.1) and terminates.
        """
        connection = self.botoConnection()
        reservation = await self.inThread(
            connection.run_instances, self.image.ec2_id, min_count=2, max_count=2,
            instance_type="m1.tiny", user_data="boto two",
        )
        self.assertEqual(len(reservation.instances), 2)
        ids = [i.id for i in reservation.instances]
        await self.waitForState(ids, "running")
        reservations = await self.inThread(connection.get_all_reservations)
        self.assertEqual(len(reservations), 1)
        self.assertEqual(reservations[0].id, reservation.id)
        states = {i.id: i.state for i in reservations[0].instances}
        self.assertEqual(states, {i: "running" for i in ids})
        instances = await self.inThread(connection.get_only_instances, instance_ids=ids[:1])
        self.assertTrue(instances[0].private_ip_address.startswith("10.0.0."))
        self.assertEqual(instances[0].instance_type, "m1.tiny")
        output = await self.inThread(connection.get_console_output, ids[0])
        self.assertIn("Linux version", output.output.decode("utf-8"))
        record = await self.instanceRecord(ids[0])
        self.assertEqual(base64.b64decode(record.user_data), b"boto two")
        terminated = await self.inThread(connection.terminate_instances, ids)
        self.assertEqual(sorted(i.id for i in terminated), sorted(ids))
        await self.waitForState(ids, "terminated")


def _wireNames(model, shape, prefix="", depth=0):
    """
    @return: the wire names of a structure's scalar members, a list's
        first element standing for every element (C{Filter.1.Name}).
    """
    names = []
    for wire, (_, member) in model.inputMembers(shape).items():
        name = prefix + wire
        while member.type_name == "list":
            name += ".1"
            member = member.member
        if member.type_name == "structure":
            if depth < 3:
                names.extend(_wireNames(model, member, name + ".", depth + 1))
        else:
            names.append(name)
    return names


class FuzzTests(CloudServerMixin, TestCase):
    """
    Random and hostile values, under the parameter names each action
    takes, signed, to the instance, image, tag and instance type actions:
    each gets an EC2 answer, never HTTP 500, and the server logs no error.
    """

    timeout = 300

    async def setUp(self):
        await self.startCloud()
        self.image = await self.addImage(name="base")

    async def test_signedRandomParameters(self):
        import random
        import xml.etree.ElementTree as ET

        from nova.api.ec2.model import loadEC2Model
        from tests.api.ec2.fuzzing import randomValue

        model = loadEC2Model()
        actions = sorted(
            name for name in ACTIONS
            if ACTIONS[name].__module__.rsplit(".", 1)[-1]
            in ("instances", "images", "tags", "instance_types")
        )
        self.assertIn("RunInstances", actions)
        wireNames = {a: _wireNames(model, model.inputShape(a)) for a in actions}
        rng = random.Random(2012)
        seen = []
        for _ in range(400):
            action = rng.choice(actions)
            params = {"Action": action}
            if action == "RunInstances" and rng.random() < 0.5:
                params.update(ImageId=self.image.ec2_id, MinCount="1", MaxCount="1")
            for _ in range(rng.randint(0, 4)):
                value = randomValue(rng) if rng.random() < 0.7 else rng.choice(
                    ["1", "true", "i-00000001", self.image.ec2_id, "default", "m1.tiny", "nova"]
                )
                params[rng.choice(wireNames[action])] = value
            response = await self.signedPost(params)
            self.assertLess(response.status, 500, (params, response.body[:300]))
            seen.append((action, response.status))
            root = ET.fromstring(response.body)
            if response.status != 200:
                self.assertEqual(root.tag, "Response", response.body)
        self.assertGreater(sum(1 for _, status in seen if status == 200), 15)
        self.assertEqual(self.flushLoggedErrors(), [])
