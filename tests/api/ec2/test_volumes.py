"""
Tests for the volume and snapshot actions, through boto3/botocore, boto 2
and the aws CLI against a real listening nova-api, with the real
scheduler, the volume manager on the file driver (in a temporary
directory) and the compute manager on the fake hypervisor on the
in-process bus.
"""

import os

import attr
from botocore.exceptions import ClientError
from twisted.trial.unittest import TestCase

from nova.virt.errors import GuestStateError
from tests.api.ec2.cloud import ALICE, BOB, CAROL, DAVE, ROOT, SAM, CloudServerMixin


class VolumeTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.alice = await self.clientFor(ALICE)

    async def volume(self, volumeId, client=None):
        [volume] = (
            await self.inThread((client or self.alice).describe_volumes, VolumeIds=[volumeId])
        )["Volumes"]
        return volume

    async def waitVolume(self, volumeId, state, client=None):
        async def check():
            volume = await self.volume(volumeId, client)
            return volume if volume["State"] == state else None

        return await self.waitFor(check)

    async def waitGone(self, describe, **kwargs):
        async def check():
            try:
                await self.inThread(describe, **kwargs)
            except Exception as e:
                return e
            return None

        return await self.waitFor(check)

    async def availableVolume(self, client=None, **kwargs):
        kwargs.setdefault("Size", 1)
        created = await self.inThread((client or self.alice).create_volume, **kwargs)
        return await self.waitVolume(created["VolumeId"], "available", client)

    async def completedSnapshot(self, volumeId, client=None, **kwargs):
        client = client or self.alice
        created = await self.inThread(client.create_snapshot, VolumeId=volumeId, **kwargs)

        async def check():
            [snapshot] = (
                await self.inThread(client.describe_snapshots, SnapshotIds=[created["SnapshotId"]])
            )["Snapshots"]
            return snapshot if snapshot["State"] == "completed" else None

        return created, await self.waitFor(check)

    def volumePath(self, volumeId):
        return os.path.join(self.volumesPath, "volume-" + volumeId[4:])

    async def test_lifecycle(self):
        """
        A volume is created (creating, then available), attached to a
        running instance (in-use, attached), detached and deleted.
        """
        created = await self.inThread(
            self.alice.create_volume, Size=1, AvailabilityZone="nova"
        )
        volumeId = created["VolumeId"]
        self.assertRegex(volumeId, r"^vol-[0-9a-f]{8}$")
        self.assertEqual(created["State"], "creating")
        self.assertEqual(created["Size"], 1)
        self.assertEqual(created["AvailabilityZone"], "nova")
        self.assertEqual(created["Attachments"], [])
        self.assertEqual(created["VolumeType"], "standard")
        self.assertFalse(created["Encrypted"])
        self.assertIsNotNone(created["CreateTime"].tzinfo)
        available = await self.waitVolume(volumeId, "available")
        self.assertEqual(available["OwnerId"], "alice")
        self.assertNotIn("SnapshotId", available)
        self.assertEqual(os.stat(self.volumePath(volumeId)).st_size, 1 << 30)

        instance = await self.runInstance()
        attachment = await self.inThread(
            self.alice.attach_volume, VolumeId=volumeId, InstanceId=instance.ec2Id,
            Device="/dev/vdb",
        )
        self.assertEqual(
            (attachment["VolumeId"], attachment["InstanceId"], attachment["Device"],
             attachment["State"]),
            (volumeId, instance.ec2Id, "/dev/vdb", "attached"),
        )
        self.assertIsNotNone(attachment["AttachTime"])
        guest = self.guestOf(instance)
        self.assertEqual(guest.volumes, {"/dev/vdb": self.volumePath(volumeId)})
        inUse = await self.volume(volumeId)
        self.assertEqual(inUse["State"], "in-use")
        [described] = inUse["Attachments"]
        self.assertEqual(described["InstanceId"], instance.ec2Id)
        self.assertEqual(described["State"], "attached")
        self.assertFalse(described["DeleteOnTermination"])

        await self.expectError("VolumeInUse", self.alice.delete_volume, VolumeId=volumeId)
        await self.expectError(
            "VolumeInUse", self.alice.attach_volume,
            VolumeId=volumeId, InstanceId=instance.ec2Id, Device="/dev/vdc",
        )
        await self.expectError(
            "InvalidAttachment.NotFound", self.alice.detach_volume,
            VolumeId=volumeId, InstanceId="i-000000ff",
        )
        detached = await self.inThread(
            self.alice.detach_volume, VolumeId=volumeId, InstanceId=instance.ec2Id
        )
        self.assertEqual(
            (detached["VolumeId"], detached["InstanceId"], detached["Device"], detached["State"]),
            (volumeId, instance.ec2Id, "/dev/vdb", "detached"),
        )
        self.assertEqual(guest.volumes, {})
        again = await self.volume(volumeId)
        self.assertEqual((again["State"], again["Attachments"]), ("available", []))
        await self.expectError("IncorrectState", self.alice.detach_volume, VolumeId=volumeId)

        await self.inThread(self.alice.delete_volume, VolumeId=volumeId)
        error = await self.waitGone(self.alice.describe_volumes, VolumeIds=[volumeId])
        self.assertEqual(error.response["Error"]["Code"], "InvalidVolume.NotFound")
        self.assertFalse(os.path.exists(self.volumePath(volumeId)))
        self.assertEqual(
            (await self.inThread(self.alice.describe_volumes))["Volumes"], []
        )

    async def test_describeFilters(self):
        first = await self.availableVolume(Size=1)
        second = await self.availableVolume(Size=2)
        instance = await self.runInstance()
        await self.inThread(
            self.alice.attach_volume, VolumeId=second["VolumeId"], InstanceId=instance.ec2Id,
            Device="/dev/vdc",
        )

        async def ids(*filters, **kwargs):
            result = await self.inThread(
                self.alice.describe_volumes,
                Filters=[{"Name": n, "Values": list(v)} for n, v in filters], **kwargs,
            )
            return sorted(v["VolumeId"] for v in result["Volumes"])

        both = sorted([first["VolumeId"], second["VolumeId"]])
        self.assertEqual(await ids(("status", ["available"])), [first["VolumeId"]])
        self.assertEqual(await ids(("status", ["in-use"])), [second["VolumeId"]])
        self.assertEqual(await ids(("size", ["2"])), [second["VolumeId"]])
        self.assertEqual(await ids(("volume-id", [first["VolumeId"]])), [first["VolumeId"]])
        self.assertEqual(await ids(("availability-zone", ["nova"])), both)
        self.assertEqual(await ids(("availability-zone", ["elsewhere"])), [])
        self.assertEqual(
            await ids(("attachment.instance-id", [instance.ec2Id])), [second["VolumeId"]]
        )
        self.assertEqual(await ids(("attachment.status", ["attached"])), [second["VolumeId"]])
        self.assertEqual(await ids(("attachment.device", ["/dev/vdc"])), [second["VolumeId"]])
        self.assertEqual(await ids(("volume-type", ["standard"])), both)
        self.assertEqual(
            await ids(("status", ["available", "in-use"]), ("size", ["1"])), [first["VolumeId"]]
        )
        self.assertEqual(
            await ids(VolumeIds=[second["VolumeId"]]), [second["VolumeId"]]
        )
        await self.expectError(
            "InvalidParameterValue", self.alice.describe_volumes,
            Filters=[{"Name": "colour", "Values": ["x"]}],
        )
        await self.expectError(
            "InvalidVolume.NotFound", self.alice.describe_volumes, VolumeIds=["vol-000000ff"]
        )
        await self.expectError(
            "InvalidVolumeID.Malformed", self.alice.describe_volumes, VolumeIds=["volume"]
        )

    async def test_snapshots(self):
        """
        A snapshot is pending, then completed; a volume made from it holds
        its data; it is deleted.
        """
        volume = await self.availableVolume(Size=1)
        with open(self.volumePath(volume["VolumeId"]), "r+b") as f:
            f.write(b"snapshot me")
        created, snapshot = await self.completedSnapshot(
            volume["VolumeId"], Description="before the upgrade"
        )
        self.assertRegex(created["SnapshotId"], r"^snap-[0-9a-f]{8}$")
        self.assertEqual(created["State"], "pending")
        self.assertEqual(created["VolumeId"], volume["VolumeId"])
        self.assertEqual(created["Description"], "before the upgrade")
        self.assertEqual(created["VolumeSize"], 1)
        self.assertEqual(created["OwnerId"], "alice")
        self.assertEqual(snapshot["Progress"], "100%")
        snapshotId = created["SnapshotId"]

        async def ids(**kwargs):
            result = await self.inThread(self.alice.describe_snapshots, **kwargs)
            return [s["SnapshotId"] for s in result["Snapshots"]]

        self.assertEqual(await ids(OwnerIds=["self"]), [snapshotId])
        self.assertEqual(await ids(OwnerIds=["alice"]), [snapshotId])
        self.assertEqual(await ids(OwnerIds=["amazon"]), [])
        self.assertEqual(await ids(RestorableByUserIds=["self"]), [snapshotId])
        for name, value in (
            ("volume-id", volume["VolumeId"]),
            ("status", "completed"),
            ("description", "before*"),
            ("volume-size", "1"),
            ("owner-id", "alice"),
            ("progress", "100%"),
        ):
            self.assertEqual(
                await ids(Filters=[{"Name": name, "Values": [value]}]), [snapshotId], name
            )
        self.assertEqual(await ids(Filters=[{"Name": "status", "Values": ["pending"]}]), [])

        copy = await self.availableVolume(SnapshotId=snapshotId, Size=2)
        self.assertEqual(copy["SnapshotId"], snapshotId)
        self.assertEqual(copy["Size"], 2)
        with open(self.volumePath(copy["VolumeId"]), "rb") as f:
            self.assertEqual(f.read(11), b"snapshot me")
        fromSnapshot = await self.inThread(
            self.alice.describe_volumes, Filters=[{"Name": "snapshot-id", "Values": [snapshotId]}]
        )
        self.assertEqual([v["VolumeId"] for v in fromSnapshot["Volumes"]], [copy["VolumeId"]])
        sized = await self.availableVolume(SnapshotId=snapshotId)
        self.assertEqual(sized["Size"], 1)
        await self.expectError(
            "InvalidParameterValue", self.alice.create_volume, SnapshotId=snapshotId, Size=0
        )

        await self.inThread(self.alice.delete_snapshot, SnapshotId=snapshotId)
        error = await self.waitGone(self.alice.describe_snapshots, SnapshotIds=[snapshotId])
        self.assertEqual(error.response["Error"]["Code"], "InvalidSnapshot.NotFound")
        await self.expectError(
            "InvalidSnapshot.NotFound", self.alice.delete_snapshot, SnapshotId=snapshotId
        )
        await self.expectError(
            "InvalidSnapshot.NotFound", self.alice.create_volume, SnapshotId=snapshotId
        )
        await self.expectError(
            "InvalidSnapshotID.Malformed", self.alice.describe_snapshots, SnapshotIds=["snap"]
        )

    async def test_snapshotPages(self):
        volume = await self.availableVolume()
        snapshotIds = []
        for _ in range(6):
            created = await self.inThread(
                self.alice.create_snapshot, VolumeId=volume["VolumeId"]
            )
            snapshotIds.append(created["SnapshotId"])
        first = await self.inThread(self.alice.describe_snapshots, MaxResults=5)
        self.assertEqual([s["SnapshotId"] for s in first["Snapshots"]], snapshotIds[:5])
        second = await self.inThread(
            self.alice.describe_snapshots, MaxResults=5, NextToken=first["NextToken"]
        )
        self.assertEqual([s["SnapshotId"] for s in second["Snapshots"]], snapshotIds[5:])
        self.assertNotIn("NextToken", second)
        await self.expectError(
            "InvalidParameterCombination", self.alice.describe_snapshots,
            MaxResults=5, SnapshotIds=snapshotIds[:1],
        )

    async def test_errors(self):
        await self.expectError("MissingParameter", self.alice.create_volume)
        await self.expectError("InvalidParameterValue", self.alice.create_volume, Size=0)
        await self.expectError("InvalidParameterValue", self.alice.create_volume, Size=16385)
        error = await self.expectError(
            "InvalidParameterValue", self.alice.create_volume, Size=1, AvailabilityZone="mars"
        )
        self.assertEqual(error["Message"], "Invalid availability zone: [mars]")
        await self.expectError(
            "UnsupportedOperation", self.alice.create_volume, Size=1, VolumeType="io1"
        )
        await self.expectError(
            "UnsupportedOperation", self.alice.create_volume, Size=1, Encrypted=True
        )
        await self.expectError(
            "InvalidVolume.NotFound", self.alice.delete_volume, VolumeId="vol-000000ff"
        )
        await self.expectError(
            "InvalidVolume.NotFound", self.alice.create_snapshot, VolumeId="vol-000000ff"
        )
        volume = await self.availableVolume()
        volumeId = volume["VolumeId"]
        instance = await self.runInstance()
        await self.expectError(
            "InvalidInstanceID.NotFound", self.alice.attach_volume,
            VolumeId=volumeId, InstanceId="i-000000ff", Device="/dev/vdb",
        )
        await self.expectError(
            "InvalidParameterValue", self.alice.attach_volume,
            VolumeId=volumeId, InstanceId=instance.ec2Id, Device="vdb",
        )
        await self.expectError(
            "IncorrectState", self.alice.detach_volume, VolumeId=volumeId
        )
        self.assertEqual((await self.volume(volumeId))["State"], "available")

    async def test_errorState(self):
        """
        A volume in error shows EC2's error state and may be deleted.
        """
        volume = await self.availableVolume()
        number = int(volume["VolumeId"][4:], 16)
        await self.db.volumes.update(number, status="error", status_description="broken")
        self.assertEqual((await self.volume(volume["VolumeId"]))["State"], "error")
        await self.inThread(self.alice.delete_volume, VolumeId=volume["VolumeId"])
        await self.waitGone(self.alice.describe_volumes, VolumeIds=[volume["VolumeId"]])

    async def test_forceDetach(self):
        """
        When the compute host refuses to detach, the volume stays attached
        unless the detach is forced.
        """
        volume = await self.availableVolume()
        volumeId = volume["VolumeId"]
        instance = await self.runInstance()
        await self.inThread(
            self.alice.attach_volume, VolumeId=volumeId, InstanceId=instance.ec2Id,
            Device="/dev/vdb",
        )
        self.drivers[instance.host].failOn("detachVolume", GuestStateError("the guest is busy"))
        await self.expectError(
            "IncorrectInstanceState", self.alice.detach_volume, VolumeId=volumeId
        )
        self.assertEqual((await self.volume(volumeId))["State"], "in-use")
        self.drivers[instance.host].failOn("detachVolume", GuestStateError("the guest is busy"))
        detached = await self.inThread(
            self.alice.detach_volume, VolumeId=volumeId, Force=True
        )
        self.assertEqual(detached["State"], "detached")
        self.assertEqual((await self.volume(volumeId))["State"], "available")

    async def test_quota(self):
        """
        A project has at most quota_volumes (3) volumes and quota_gigabytes
        (10) gigabytes.
        """
        await self.expectError("VolumeLimitExceeded", self.alice.create_volume, Size=11)
        for size in (1, 1, 1):
            await self.inThread(self.alice.create_volume, Size=size)
        error = await self.expectError("VolumeLimitExceeded", self.alice.create_volume, Size=1)
        self.assertIn("volumes", error["Message"])

    async def test_clientToken(self):
        """
        The same ClientToken answers with the same volume, created and
        counted once; with other parameters it is
        IdempotentParameterMismatch (400).  Tokens are per project.
        """
        first = await self.inThread(
            self.alice.create_volume, Size=1, AvailabilityZone="nova", ClientToken="vtok-1"
        )
        again = await self.inThread(
            self.alice.create_volume, Size=1, AvailabilityZone="nova", ClientToken="vtok-1"
        )
        self.assertEqual(again["VolumeId"], first["VolumeId"])
        with self.assertRaises(ClientError) as caught:
            await self.inThread(
                self.alice.create_volume, Size=2, AvailabilityZone="nova", ClientToken="vtok-1"
            )
        self.assertEqual(
            (caught.exception.response["Error"]["Code"],
             caught.exception.response["ResponseMetadata"]["HTTPStatusCode"]),
            ("IdempotentParameterMismatch", 400),
        )
        described = (await self.inThread(self.alice.describe_volumes))["Volumes"]
        self.assertEqual([v["VolumeId"] for v in described], [first["VolumeId"]])
        bob = await self.clientFor(BOB)
        bobs = await self.inThread(bob.create_volume, Size=1, ClientToken="vtok-1")
        self.assertNotEqual(bobs["VolumeId"], first["VolumeId"])
        await self.expectError(
            "InvalidParameterValue", self.alice.create_volume, Size=1, ClientToken="t" * 65
        )
        # Without a token boto3 makes a new one for each call.
        await self.inThread(self.alice.create_volume, Size=1)
        await self.inThread(self.alice.create_volume, Size=1)
        described = (await self.inThread(self.alice.describe_volumes))["Volumes"]
        self.assertEqual(len(described), 3)

    async def test_tags(self):
        created = await self.inThread(
            self.alice.create_volume, Size=1,
            TagSpecifications=[{"ResourceType": "volume",
                                "Tags": [{"Key": "Name", "Value": "data"}]}],
        )
        self.assertEqual(created["Tags"], [{"Key": "Name", "Value": "data"}])
        await self.availableVolume()
        await self.waitVolume(created["VolumeId"], "available")
        tagged = await self.inThread(
            self.alice.describe_volumes, Filters=[{"Name": "tag:Name", "Values": ["data"]}]
        )
        self.assertEqual([v["VolumeId"] for v in tagged["Volumes"]], [created["VolumeId"]])
        self.assertEqual(tagged["Volumes"][0]["Tags"], [{"Key": "Name", "Value": "data"}])
        _, snapshot = await self.completedSnapshot(
            created["VolumeId"],
            TagSpecifications=[{"ResourceType": "snapshot",
                                "Tags": [{"Key": "kind", "Value": "nightly"}]}],
        )
        self.assertEqual(snapshot["Tags"], [{"Key": "kind", "Value": "nightly"}])
        bykey = await self.inThread(
            self.alice.describe_snapshots, Filters=[{"Name": "tag-key", "Values": ["kind"]}]
        )
        self.assertEqual(len(bykey["Snapshots"]), 1)
        await self.expectError(
            "InvalidParameterValue", self.alice.create_volume, Size=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}],
        )
        await self.inThread(self.alice.delete_volume, VolumeId=created["VolumeId"])
        self.assertEqual(await self.db.tags.byResource(None, [created["VolumeId"]]), {})

    async def test_projectIsolation(self):
        """
        Another project neither sees nor uses the project's volumes and
        snapshots.
        """
        volume = await self.availableVolume()
        volumeId = volume["VolumeId"]
        created, _ = await self.completedSnapshot(volumeId)
        bob = await self.clientFor(BOB)
        bobsInstance = await self.runInstance(BOB)
        self.assertEqual((await self.inThread(bob.describe_volumes))["Volumes"], [])
        self.assertEqual((await self.inThread(bob.describe_snapshots))["Snapshots"], [])
        self.assertEqual(
            (await self.inThread(bob.describe_snapshots, OwnerIds=["alice"]))["Snapshots"], []
        )
        await self.expectError(
            "InvalidVolume.NotFound", bob.describe_volumes, VolumeIds=[volumeId]
        )
        await self.expectError("InvalidVolume.NotFound", bob.delete_volume, VolumeId=volumeId)
        await self.expectError(
            "InvalidVolume.NotFound", bob.attach_volume,
            VolumeId=volumeId, InstanceId=bobsInstance.ec2Id, Device="/dev/vdb",
        )
        await self.expectError("InvalidVolume.NotFound", bob.create_snapshot, VolumeId=volumeId)
        await self.expectError(
            "InvalidSnapshot.NotFound", bob.create_volume, SnapshotId=created["SnapshotId"]
        )
        await self.expectError(
            "InvalidSnapshot.NotFound", bob.delete_snapshot, SnapshotId=created["SnapshotId"]
        )
        await self.expectError(
            "InvalidInstanceID.NotFound", self.alice.attach_volume,
            VolumeId=volumeId, InstanceId=bobsInstance.ec2Id, Device="/dev/vdb",
        )
        self.assertEqual((await self.volume(volumeId))["State"], "available")
        root = await self.clientFor(ROOT)
        self.assertEqual(
            [v["VolumeId"] for v in (await self.inThread(root.describe_volumes))["Volumes"]],
            [volumeId],
        )

    async def test_roles(self):
        """
        sysadmin (and the project manager) may create volumes; netadmin and
        developer members, and members without roles, may only describe.
        """
        sam = await self.clientFor(SAM)
        volume = await self.availableVolume(sam)
        self.assertEqual(volume["OwnerId"], "alice")
        for user in (CAROL, DAVE, BOB):
            client = await self.clientFor(user, project="alice")
            described = (await self.inThread(client.describe_volumes))["Volumes"]
            self.assertEqual([v["VolumeId"] for v in described], [volume["VolumeId"]])
            self.assertEqual((await self.inThread(client.describe_snapshots))["Snapshots"], [])
            await self.expectError("UnauthorizedOperation", client.create_volume, Size=1)
            await self.expectError(
                "UnauthorizedOperation", client.delete_volume, VolumeId=volume["VolumeId"]
            )
            await self.expectError(
                "UnauthorizedOperation", client.create_snapshot, VolumeId=volume["VolumeId"]
            )
            await self.expectError(
                "UnauthorizedOperation", client.attach_volume,
                VolumeId=volume["VolumeId"], InstanceId="i-00000001", Device="/dev/vdb",
            )
            await self.expectError(
                "UnauthorizedOperation", client.detach_volume, VolumeId=volume["VolumeId"]
            )
        await self.inThread(sam.delete_volume, VolumeId=volume["VolumeId"])

    async def test_boto2(self):
        """
        boto 2's volume and snapshot calls work and parse what the server
        writes.
        """
        connection = self.botoConnection(ALICE)
        volume = await self.inThread(connection.create_volume, 1, "nova")
        self.assertEqual(volume.status, "creating")
        self.assertEqual(volume.size, 1)
        self.assertEqual(volume.zone, "nova")

        async def status():
            [described] = await self.inThread(connection.get_all_volumes, volume_ids=[volume.id])
            return described if described.status == "available" else None

        await self.waitFor(status)
        instance = await self.runInstance()
        self.assertEqual(
            await self.inThread(connection.attach_volume, volume.id, instance.ec2Id, "/dev/vdb"),
            "attached",
        )
        [described] = await self.inThread(connection.get_all_volumes)
        self.assertEqual(described.status, "in-use")
        self.assertEqual(described.attach_data.instance_id, instance.ec2Id)
        self.assertEqual(described.attach_data.device, "/dev/vdb")
        self.assertEqual(described.attach_data.status, "attached")
        snapshot = await self.inThread(connection.create_snapshot, volume.id, "from boto")
        self.assertEqual(snapshot.status, "pending")
        self.assertEqual(snapshot.description, "from boto")
        [listed] = await self.inThread(connection.get_all_snapshots, owner="self")
        self.assertEqual(listed.id, snapshot.id)
        self.assertEqual(listed.volume_id, volume.id)
        self.assertEqual(
            await self.inThread(connection.detach_volume, volume.id, instance.ec2Id, "/dev/vdb"),
            "detached",
        )
        await self.waitFor(status)

        async def completed():
            [described] = await self.inThread(
                connection.get_all_snapshots, snapshot_ids=[snapshot.id]
            )
            return described.status == "completed"

        await self.waitFor(completed)
        self.assertTrue(await self.inThread(connection.delete_snapshot, snapshot.id))
        self.assertTrue(await self.inThread(connection.delete_volume, volume.id))

    async def test_updateVolume(self):
        """
        Cactus's UpdateVolume (not in botocore's model), through boto 2:
        a volume's display name and description change; another
        project's volume is not found.
        """
        from boto.exception import EC2ResponseError

        volumeId = (await self.availableVolume())["VolumeId"]
        connection = self.botoFor(ALICE)
        self.assertTrue(await self.inThread(
            connection.get_status, "UpdateVolume",
            {"VolumeId": volumeId, "DisplayName": "data", "DisplayDescription": "the data"},
            verb="POST",
        ))
        record = await self.volumeAPI.getVolume(self.contextOf(ALICE), volumeId)
        self.assertEqual((record.display_name, record.display_description), ("data", "the data"))
        # Cactus's clients also sent the names as Python's.
        self.assertTrue(await self.inThread(
            connection.get_status, "UpdateVolume",
            {"VolumeId": volumeId, "display_description": "more data"}, verb="POST",
        ))
        record = await self.volumeAPI.getVolume(self.contextOf(ALICE), volumeId)
        self.assertEqual((record.display_name, record.display_description), ("data", "more data"))
        self.assertEqual((await self.volume(volumeId))["State"], "available")

        async def expect(code, connection, params):
            with self.assertRaises(EC2ResponseError) as caught:
                await self.inThread(connection.get_status, "UpdateVolume", params, verb="POST")
            self.assertEqual(caught.exception.error_code, code)

        bob = self.botoFor(BOB)
        await expect("InvalidVolume.NotFound", bob, {"VolumeId": volumeId, "DisplayName": "x"})
        await expect("InvalidVolumeID.Malformed", connection, {"VolumeId": "vol-x"})
        await expect("MissingParameter", connection, {"DisplayName": "x"})
        await expect(
            "InvalidParameterValue", connection, {"VolumeId": volumeId, "DisplayName": "n" * 256}
        )
        record = await self.volumeAPI.getVolume(self.contextOf(ALICE), volumeId)
        self.assertEqual(record.display_name, "data")

    def contextOf(self, user):
        from tests.api.ec2.cloud import contextFor

        return contextFor(user)

    async def test_awsCLI(self):
        code, created, err = await self.aws(
            "create-volume", "--size", "1", "--availability-zone", "nova"
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(created["State"], "creating")
        await self.waitVolume(created["VolumeId"], "available")
        code, described, err = await self.aws(
            "describe-volumes", "--filters", "Name=status,Values=available"
        )
        self.assertEqual(code, 0, err)
        self.assertEqual([v["VolumeId"] for v in described["Volumes"]], [created["VolumeId"]])
        dave = attr.evolve(DAVE, access=f"{DAVE.access}:alice")
        code, _, err = await self.aws("create-volume", "--size", "1", user=dave)
        self.assertNotEqual(code, 0)
        self.assertIn("UnauthorizedOperation", err)
