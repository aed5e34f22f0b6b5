"""
Tests for CreateImage through boto3, against a real listening nova-api,
compute hosts on fake hypervisors whose snapshots go into the image
service's filesystem object store, and the image service on the bus.
"""

import os

from twisted.trial.unittest import TestCase

from nova.compute.snapshots import SNAPSHOT_BUCKET, ObjectStoreUploader
from nova.context import adminContext
from nova.virt import errors
from tests.api.ec2.cloud import ALICE, BOB, CloudServerMixin, waitFor
from tests.image.support import runInThread


class CreateImageTests(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        directory = os.path.abspath(self.mktemp())
        for manager in self.computeManagers.values():
            manager.imageUploader = ObjectStoreUploader(self.store, runInThread, directory)
        self.client = await self.makeClient()
        self.kernel = await self.addImage(imageType="kernel", name="vmlinuz")
        self.ramdisk = await self.addImage(imageType="ramdisk", name="initrd")
        self.source = await self.addImage(
            name="source",
            architecture="i386",
            kernel_id=self.kernel.ec2_id,
            ramdisk_id=self.ramdisk.ec2_id,
        )

    async def running(self, client=None):
        reservation = await self.runAndWait(client or self.client, ImageId=self.source.ec2_id)
        return reservation["Instances"][0]["InstanceId"]

    async def waitForImage(self, imageId, state="available"):
        async def reached():
            return (await self.db.images.get(imageId)).state == state

        await waitFor(reached)
        [image] = (await self.inThread(self.client.describe_images, ImageIds=[imageId]))["Images"]
        return image

    async def test_createImage(self):
        """
        CreateImage answers the new image's id at once; the image, with the
        source image's kernel, ramdisk and architecture, becomes available
        once the instance's disk is stored, and launches; the instance
        keeps running.
        """
        instanceId = await self.running()
        result = await self.inThread(
            self.client.create_image,
            InstanceId=instanceId,
            Name="web server",
            Description="imaged",
            NoReboot=True,
            TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]}],
        )
        imageId = result["ImageId"]
        self.assertRegex(imageId, r"^ami-[0-9a-f]{8}$")
        image = await self.waitForImage(imageId)
        self.assertEqual(
            (image["Name"], image["Description"], image["OwnerId"], image["ImageType"]),
            ("web server", "imaged", ALICE.name, "machine"),
        )
        self.assertEqual(
            (image["KernelId"], image["RamdiskId"], image["Architecture"]),
            (self.kernel.ec2_id, self.ramdisk.ec2_id, "i386"),
        )
        self.assertEqual(image["Tags"], [{"Key": "k", "Value": "v"}])
        self.assertTrue(image["ImageLocation"].startswith(f"{SNAPSHOT_BUCKET}/{ALICE.name}/"))
        record = await self.instanceRecord(instanceId)
        self.assertEqual(record.state, "running")
        disk = self.drivers[record.host].diskOf(self.computeManagers[record.host].instanceName(record))
        stored = await self.db.images.get(imageId)
        self.assertEqual(stored.size, len(disk))
        with open(self.imageService.storage.imagePath(imageId), "rb") as f:
            self.assertEqual(f.read(), disk)
        launched = await self.runAndWait(self.client, ImageId=imageId)
        self.assertEqual(launched["Instances"][0]["ImageId"], imageId)

    async def test_noRebootReachesTheDriver(self):
        """
        C{NoReboot} asks the host's driver for a live copy; without it
        (EC2's default) the guest is stopped cleanly for the copy.
        """
        instanceId = await self.running()
        record = await self.instanceRecord(instanceId)
        driver = self.drivers[record.host]
        name = self.computeManagers[record.host].instanceName(record)
        for noReboot in (True, False):
            result = await self.inThread(
                self.client.create_image,
                InstanceId=instanceId,
                Name=f"copy {noReboot}",
                NoReboot=noReboot,
            )
            await self.waitForImage(result["ImageId"])
        result = await self.inThread(self.client.create_image, InstanceId=instanceId, Name="plain")
        await self.waitForImage(result["ImageId"])
        self.assertEqual(driver.snapshotsTaken, [(name, True), (name, False), (name, False)])

    async def test_snapshotFails(self):
        """
        An image whose snapshot fails is failed, with the reason.
        """
        instanceId = await self.running()
        record = await self.instanceRecord(instanceId)
        self.drivers[record.host].failOn("snapshot", errors.VirtError("disk gone"))
        result = await self.inThread(
            self.client.create_image, InstanceId=instanceId, Name="broken"
        )
        image = await self.waitForImage(result["ImageId"], "failed")
        self.assertEqual(image["State"], "failed")
        self.assertIn("disk gone", image["StateReason"]["Message"])

    async def test_errors(self):
        instanceId = await self.running()
        await self.expectError(
            "InvalidParameterValue", self.client.create_image, InstanceId=instanceId, Name="no*stars"
        )
        bob = await self.makeClient(BOB)
        await self.expectError(
            "InvalidInstanceID.NotFound", bob.create_image, InstanceId=instanceId, Name="mine now"
        )
        await self.inThread(self.client.terminate_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "terminated")
        await self.expectError(
            "IncorrectInstanceState", self.client.create_image, InstanceId=instanceId, Name="gone"
        )
        described = await self.inThread(self.client.describe_images, Owners=["self"])
        self.assertEqual(
            sorted(i["Name"] for i in described["Images"]), ["initrd", "source", "vmlinuz"]
        )

    async def test_locked(self):
        """
        An instance an administrator locked is not imaged by its owners;
        its StopInstances is OperationNotPermitted too.
        """
        instanceId = await self.running()
        await self.computeAPI.lockInstance(adminContext(), instanceId)
        for call, kwargs in (
            (self.client.create_image, {"InstanceId": instanceId, "Name": "locked"}),
            (self.client.stop_instances, {"InstanceIds": [instanceId]}),
        ):
            error = await self.expectError("OperationNotPermitted", call, **kwargs)
            self.assertIn("is locked by an administrator", error["Message"])
