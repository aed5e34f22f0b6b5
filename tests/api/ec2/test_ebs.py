"""
Tests for EBS-backed images and instances that boot from volumes, through
boto3 against a real listening nova-api, with the real scheduler, the
volume manager on the file driver (in a temporary directory) and compute
managers on the fake hypervisor on the in-process bus.
"""

import os

from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, CloudServerMixin

ROOT_DATA = b"an EBS root file system"


class EbsTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.alice = await self.clientFor(ALICE)

    def volumePath(self, volumeId):
        return os.path.join(self.volumesPath, "volume-" + volumeId[4:])

    async def volumes(self, **kwargs):
        return (await self.inThread(self.alice.describe_volumes, **kwargs))["Volumes"]

    async def waitVolume(self, volumeId, state):
        async def check():
            [volume] = await self.volumes(VolumeIds=[volumeId])
            return volume if volume["State"] == state else None

        return await self.waitFor(check)

    async def rootSnapshot(self):
        """
        @return: the id of a completed snapshot of a 1 GiB volume that
            starts with L{ROOT_DATA}.
        """
        created = await self.inThread(self.alice.create_volume, Size=1)
        await self.waitVolume(created["VolumeId"], "available")
        with open(self.volumePath(created["VolumeId"]), "r+b") as f:
            f.write(ROOT_DATA)
        snapshot = await self.inThread(self.alice.create_snapshot, VolumeId=created["VolumeId"])

        async def check():
            [found] = (
                await self.inThread(
                    self.alice.describe_snapshots, SnapshotIds=[snapshot["SnapshotId"]]
                )
            )["Snapshots"]
            return found if found["State"] == "completed" else None

        await self.waitFor(check)
        return snapshot["SnapshotId"]

    async def ebsImage(self, snapshotId, **kwargs):
        registered = await self.inThread(
            self.alice.register_image,
            Name="ebs-root",
            RootDeviceName="/dev/sda1",
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshotId}}],
            **kwargs,
        )
        return registered["ImageId"]

    async def describeInstance(self, instanceId):
        [reservation] = (
            await self.inThread(self.alice.describe_instances, InstanceIds=[instanceId])
        )["Reservations"]
        return reservation["Instances"][0]

    async def test_registerEbsImage(self):
        """
        RegisterImage with a root device mapped to a snapshot makes an
        available EBS-backed image that DescribeImages shows with its
        mapping.
        """
        snapshotId = await self.rootSnapshot()
        imageId = await self.ebsImage(snapshotId, Description="boots from a volume")
        self.assertRegex(imageId, r"^ami-[0-9a-f]{8}$")
        [image] = (await self.inThread(self.alice.describe_images, ImageIds=[imageId]))["Images"]
        self.assertEqual(image["State"], "available")
        self.assertEqual(image["RootDeviceType"], "ebs")
        self.assertEqual(image["RootDeviceName"], "/dev/sda1")
        self.assertEqual(image["Name"], "ebs-root")
        self.assertEqual(
            image["BlockDeviceMappings"],
            [
                {
                    "DeviceName": "/dev/sda1",
                    "Ebs": {"SnapshotId": snapshotId, "DeleteOnTermination": True},
                }
            ],
        )
        attribute = await self.inThread(
            self.alice.describe_image_attribute, ImageId=imageId, Attribute="blockDeviceMapping"
        )
        self.assertEqual(attribute["BlockDeviceMappings"], image["BlockDeviceMappings"])
        filtered = await self.inThread(
            self.alice.describe_images,
            Filters=[{"Name": "root-device-type", "Values": ["ebs"]}],
        )
        self.assertEqual([i["ImageId"] for i in filtered["Images"]], [imageId])

    async def test_registerErrors(self):
        """
        A root device not mapped to a snapshot, an unknown or another
        project's snapshot, a mapping with two kinds and a missing
        RootDeviceName are refused with EC2 errors.
        """
        snapshotId = await self.rootSnapshot()
        await self.expectError(
            "InvalidBlockDeviceMapping",
            self.alice.register_image,
            Name="bad-image",
            RootDeviceName="/dev/sda1",
            BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"SnapshotId": snapshotId}}],
        )
        await self.expectError(
            "InvalidSnapshot.NotFound",
            self.alice.register_image,
            Name="bad-image",
            RootDeviceName="/dev/sda1",
            BlockDeviceMappings=[
                {"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": "snap-0000ffff"}}
            ],
        )
        bob = await self.clientFor(BOB)
        await self.expectError(
            "InvalidSnapshot.NotFound",
            bob.register_image,
            Name="bad-image",
            RootDeviceName="/dev/sda1",
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshotId}}],
        )
        await self.expectError(
            "InvalidBlockDeviceMapping",
            self.alice.register_image,
            Name="bad-image",
            RootDeviceName="/dev/sda1",
            BlockDeviceMappings=[
                {
                    "DeviceName": "/dev/sda1",
                    "Ebs": {"SnapshotId": snapshotId},
                    "VirtualName": "ephemeral0",
                }
            ],
        )
        await self.expectError(
            "MissingParameter",
            self.alice.register_image,
            Name="bad-image",
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshotId}}],
        )

    async def test_bootFromVolume(self):
        """
        An instance of an EBS-backed image boots from a volume made from
        the image's snapshot, given to the hypervisor as its first disk with
        no local root disk; DescribeInstances shows it as an C{ebs} root;
        Stop and Start keep the volume; it cannot be rescued; terminating
        deletes the volume.
        """
        snapshotId = await self.rootSnapshot()
        imageId = await self.ebsImage(snapshotId)
        reservation = await self.runAndWait(self.alice, ImageId=imageId)
        instanceId = reservation["Instances"][0]["InstanceId"]
        answered = reservation["Instances"][0]
        self.assertEqual((answered["RootDeviceType"], answered["RootDeviceName"]), ("ebs", "/dev/sda1"))
        described = await self.describeInstance(instanceId)
        self.assertEqual(described["RootDeviceType"], "ebs")
        self.assertEqual(described["RootDeviceName"], "/dev/sda1")
        [mapping] = described["BlockDeviceMappings"]
        self.assertEqual(mapping["DeviceName"], "/dev/sda1")
        self.assertEqual(mapping["Ebs"]["Status"], "attached")
        self.assertIs(mapping["Ebs"]["DeleteOnTermination"], True)
        volumeId = mapping["Ebs"]["VolumeId"]

        [volume] = await self.volumes(VolumeIds=[volumeId])
        self.assertEqual(volume["State"], "in-use")
        self.assertEqual(volume["SnapshotId"], snapshotId)
        self.assertEqual(volume["Attachments"][0]["InstanceId"], instanceId)
        self.assertEqual(volume["Attachments"][0]["Device"], "/dev/sda1")
        with open(self.volumePath(volumeId), "rb") as f:
            self.assertEqual(f.read(len(ROOT_DATA)), ROOT_DATA)

        guest = self.guestOf(await self.instanceRecord(instanceId))
        self.assertEqual(guest.volumes, {"/dev/vda": self.volumePath(volumeId)})
        self.assertIsNone(guest.spec.imageId)

        await self.inThread(self.alice.stop_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "stopped")
        [volume] = await self.volumes(VolumeIds=[volumeId])
        self.assertEqual(volume["State"], "in-use")
        await self.inThread(self.alice.start_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "running")
        guest = self.guestOf(await self.instanceRecord(instanceId))
        self.assertEqual(guest.volumes, {"/dev/vda": self.volumePath(volumeId)})

        # Its guest has no local root disk to rescue.
        raw = await self.signedPost(
            {"Action": "RescueInstance", "Version": "2016-11-15", "InstanceId": instanceId}
        )
        self.assertEqual(raw.errorCode(), "OperationNotPermitted")
        self.assertEqual((await self.describeInstance(instanceId))["State"]["Name"], "running")

        await self.inThread(self.alice.terminate_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "terminated")

        async def gone():
            remaining = [v["VolumeId"] for v in await self.volumes()]
            return volumeId not in remaining or None

        await self.waitFor(gone)
        self.assertFalse(os.path.exists(self.volumePath(volumeId)))

    async def test_runInstancesMappings(self):
        """
        RunInstances' BlockDeviceMapping changes the root volume's size and
        DeleteOnTermination, adds an empty volume, maps an instance store
        and suppresses a device; on termination the root volume is kept
        (detached) and the added one deleted.
        """
        snapshotId = await self.rootSnapshot()
        imageId = await self.ebsImage(snapshotId)
        reservation = await self.runAndWait(
            self.alice,
            ImageId=imageId,
            BlockDeviceMappings=[
                {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 2, "DeleteOnTermination": False}},
                {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1}},
                {"DeviceName": "/dev/sdc", "VirtualName": "ephemeral0"},
                {"DeviceName": "/dev/sdd", "NoDevice": ""},
            ],
        )
        instanceId = reservation["Instances"][0]["InstanceId"]
        described = await self.describeInstance(instanceId)
        self.assertEqual(described["RootDeviceType"], "ebs")
        mappings = {m["DeviceName"]: m["Ebs"] for m in described["BlockDeviceMappings"]}
        self.assertEqual(sorted(mappings), ["/dev/sda1", "/dev/sdb"])
        self.assertIs(mappings["/dev/sda1"]["DeleteOnTermination"], False)
        self.assertIs(mappings["/dev/sdb"]["DeleteOnTermination"], True)
        rootId, dataId = mappings["/dev/sda1"]["VolumeId"], mappings["/dev/sdb"]["VolumeId"]
        [root] = await self.volumes(VolumeIds=[rootId])
        self.assertEqual(root["Size"], 2)
        [data] = await self.volumes(VolumeIds=[dataId])
        self.assertEqual(data["Size"], 1)
        self.assertNotIn("SnapshotId", data)

        guest = self.guestOf(await self.instanceRecord(instanceId))
        self.assertEqual(
            guest.volumes,
            {"/dev/vda": self.volumePath(rootId), "/dev/sdb": self.volumePath(dataId)},
        )

        async def matching(name, value):
            result = await self.inThread(
                self.alice.describe_instances, Filters=[{"Name": name, "Values": [value]}]
            )
            return [i["InstanceId"] for r in result["Reservations"] for i in r["Instances"]]

        plain = await self.runAndWait(self.alice)
        plainId = plain["Instances"][0]["InstanceId"]
        self.assertEqual(await matching("root-device-type", "ebs"), [instanceId])
        self.assertEqual(await matching("root-device-type", "instance-store"), [plainId])
        self.assertEqual(
            await matching("block-device-mapping.delete-on-termination", "false"), [instanceId]
        )
        self.assertEqual(
            await matching("block-device-mapping.volume-id", dataId), [instanceId]
        )

        await self.inThread(self.alice.terminate_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "terminated")

        async def settled():
            found = {v["VolumeId"]: v for v in await self.volumes()}
            return found if dataId not in found else None

        found = await self.waitFor(settled)
        self.assertEqual(found[rootId]["State"], "available")
        self.assertEqual(found[rootId]["Attachments"], [])

    async def test_createImageOfEbsInstance(self):
        """
        CreateImage of an EBS-backed instance snapshots its root volume and
        registers an EBS-backed image of that snapshot, which launches an
        instance whose root volume holds the same data.
        """
        snapshotId = await self.rootSnapshot()
        imageId = await self.ebsImage(snapshotId)
        reservation = await self.runAndWait(
            self.alice,
            ImageId=imageId,
            BlockDeviceMappings=[
                {"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": False}}
            ],
        )
        instanceId = reservation["Instances"][0]["InstanceId"]
        [mapping] = (await self.describeInstance(instanceId))["BlockDeviceMappings"]
        rootId = mapping["Ebs"]["VolumeId"]
        self.assertIs(mapping["Ebs"]["DeleteOnTermination"], False)
        with open(self.volumePath(rootId), "r+b") as f:
            f.write(b"changed by the instance")

        created = await self.inThread(
            self.alice.create_image, InstanceId=instanceId, Name="from-ebs", NoReboot=True
        )
        [image] = (
            await self.inThread(self.alice.describe_images, ImageIds=[created["ImageId"]])
        )["Images"]
        self.assertEqual(image["RootDeviceType"], "ebs")
        self.assertEqual(image["RootDeviceName"], "/dev/sda1")
        [imageMapping] = image["BlockDeviceMappings"]
        self.assertEqual(imageMapping["DeviceName"], "/dev/sda1")
        self.assertEqual(imageMapping["Ebs"]["VolumeSize"], 1)
        self.assertIs(imageMapping["Ebs"]["DeleteOnTermination"], False)
        newSnapshot = imageMapping["Ebs"]["SnapshotId"]
        self.assertNotEqual(newSnapshot, snapshotId)

        async def completed():
            [found] = (
                await self.inThread(self.alice.describe_snapshots, SnapshotIds=[newSnapshot])
            )["Snapshots"]
            return found if found["State"] == "completed" else None

        found = await self.waitFor(completed)
        self.assertEqual(found["VolumeId"], rootId)

        second = await self.runAndWait(self.alice, ImageId=created["ImageId"])
        secondId = second["Instances"][0]["InstanceId"]
        [mapping] = (await self.describeInstance(secondId))["BlockDeviceMappings"]
        with open(self.volumePath(mapping["Ebs"]["VolumeId"]), "rb") as f:
            self.assertEqual(f.read(23), b"changed by the instance")

    async def test_clientTokenCoversMappings(self):
        """
        A RunInstances retried with its client token answers with the
        first reservation; the same token with other mappings is
        C{IdempotentParameterMismatch}.
        """
        snapshotId = await self.rootSnapshot()
        imageId = await self.ebsImage(snapshotId)
        request = dict(
            ImageId=imageId,
            MinCount=1,
            MaxCount=1,
            ClientToken="ebs-token-1",
            BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1}}],
        )
        first = await self.inThread(self.alice.run_instances, **request)
        again = await self.inThread(self.alice.run_instances, **request)
        self.assertEqual(first["ReservationId"], again["ReservationId"])
        request["BlockDeviceMappings"] = [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}}]
        await self.expectError("IdempotentParameterMismatch", self.alice.run_instances, **request)
        await self.waitForState([first["Instances"][0]["InstanceId"]], "running")

    async def test_volumeBeyondQuota(self):
        """
        An instance whose volumes the project's volume quota cannot hold
        goes to C{error}, saying why, and DescribeInstances shows the
        reason.
        """
        snapshotId = await self.rootSnapshot()
        imageId = await self.ebsImage(snapshotId)
        reservation = await self.inThread(
            self.alice.run_instances,
            ImageId=imageId,
            MinCount=1,
            MaxCount=1,
            BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 50}}],
        )
        instanceId = reservation["Instances"][0]["InstanceId"]
        [record] = await self.waitForState([instanceId], "error")
        self.assertIn("spawn failed", record.state_description)
        described = await self.describeInstance(instanceId)
        self.assertEqual(described["StateReason"]["Code"], "Server.InternalError")
        self.assertIn("gigabytes", described["StateReason"]["Message"].lower())

    async def test_runInstancesMappingErrors(self):
        """
        A changed root snapshot, a removed root device, a malformed virtual
        or device name, a bad size and a new EBS device with neither
        snapshot nor size are refused before anything launches.
        """
        snapshotId = await self.rootSnapshot()
        imageId = await self.ebsImage(snapshotId)
        other = await self.rootSnapshot()
        bad = "InvalidBlockDeviceMapping"
        for mappings, code in [
            ([{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": other}}], bad),
            ([{"DeviceName": "/dev/sda1", "NoDevice": ""}], bad),
            ([{"DeviceName": "/dev/sdc", "VirtualName": "swap"}], bad),
            ([{"DeviceName": "sdc", "Ebs": {"VolumeSize": 1}}], bad),
            ([{"DeviceName": "/dev/sdc", "Ebs": {"VolumeSize": 0}}], "InvalidParameterValue"),
            ([{"DeviceName": "/dev/sdc", "Ebs": {"DeleteOnTermination": True}}], bad),
        ]:
            await self.expectError(
                code,
                self.alice.run_instances,
                ImageId=imageId,
                MinCount=1,
                MaxCount=1,
                BlockDeviceMappings=mappings,
            )
        self.assertEqual(
            (await self.inThread(self.alice.describe_instances))["Reservations"], []
        )
