"""
Tests for the image actions through boto3, the aws CLI and boto 2,
against a real listening nova-api whose image API reaches a real image
service (nova-objectstore's L{ImageManager} over a filesystem object
store) on the bus.
"""

from twisted.trial.unittest import TestCase

from tests.api.ec2.cloud import ALICE, BOB, CloudServerMixin, waitFor


class ImageTestsBase(CloudServerMixin, TestCase):
    async def setUp(self):
        await self.startCloud()
        self.client = await self.makeClient()
        self.bob = await self.makeClient(BOB)
        self.kernel = await self.addImage(imageType="kernel", name="vmlinuz")
        self.ramdisk = await self.addImage(imageType="ramdisk", name="initrd")

    async def register(self, client=None, **kwargs):
        kwargs.setdefault("ImageLocation", "alice-bucket/disk.img")
        kwargs.setdefault("Name", "an image")
        result = await self.inThread((client or self.client).register_image, **kwargs)
        imageId = result["ImageId"]

        async def available():
            return (await self.db.images.get(imageId)).state == "available"

        await waitFor(available)
        return imageId

    async def images(self, client=None, **kwargs):
        result = await self.inThread((client or self.client).describe_images, **kwargs)
        return result["Images"]

    async def ids(self, client=None, **kwargs):
        return sorted(i["ImageId"] for i in await self.images(client, **kwargs))


class RegisterTests(ImageTestsBase):
    async def test_registerDescribeDeregister(self):
        imageId = await self.register(
            Name="my image",
            Description="plain disk",
            Architecture="i386",
            KernelId=self.kernel.ec2_id,
            RamdiskId=self.ramdisk.ec2_id,
            TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "os", "Value": "linux"}]}],
        )
        self.assertRegex(imageId, r"^ami-[0-9a-f]{8}$")
        [image] = await self.images(ImageIds=[imageId])
        self.assertEqual(image["ImageLocation"], "alice-bucket/disk.img")
        self.assertEqual(image["State"], "available")
        self.assertEqual(image["OwnerId"], ALICE.name)
        self.assertEqual(image["Name"], "my image")
        self.assertEqual(image["Description"], "plain disk")
        self.assertEqual(image["Architecture"], "i386")
        self.assertEqual(image["ImageType"], "machine")
        self.assertEqual(image["KernelId"], self.kernel.ec2_id)
        self.assertEqual(image["RamdiskId"], self.ramdisk.ec2_id)
        self.assertFalse(image["Public"])
        self.assertEqual(image["RootDeviceType"], "instance-store")
        self.assertRegex(image["CreationDate"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(image["Tags"], [{"Key": "os", "Value": "linux"}])
        self.assertEqual(
            await self.ids(),
            sorted([imageId, self.kernel.ec2_id, self.ramdisk.ec2_id]),
        )

        answer = await self.inThread(self.client.deregister_image, ImageId=imageId)
        self.assertTrue(answer["Return"])
        await self.expectError("InvalidAMIID.NotFound", self.client.describe_images, ImageIds=[imageId])
        tags = await self.inThread(self.client.describe_tags)
        self.assertEqual(tags["Tags"], [])

    async def test_registerErrors(self):
        raw = await self.signedPost({"Action": "RegisterImage", "Version": "2016-11-15"})
        self.assertEqual(raw.errorCode(), "MissingParameter")
        await self.expectError(
            "InvalidManifest", self.client.register_image, Name="img", ImageLocation="alice-bucket/none.img"
        )
        await self.expectError(
            "InvalidParameterValue", self.client.register_image, Name="img", ImageLocation="no-key"
        )
        await self.expectError(
            "AuthFailure", self.client.register_image, Name="img", ImageLocation="bob-bucket/disk.img"
        )
        await self.expectError(
            "InvalidAMIID.NotFound",
            self.client.register_image,
            Name="img",
            ImageLocation="alice-bucket/disk.img",
            KernelId="aki-0000beef",
        )
        member = await self.makeClient(BOB, project=ALICE.name)
        await self.expectError(
            "UnauthorizedOperation", member.register_image, Name="img", ImageLocation="alice-bucket/disk.img"
        )
        await self.expectError(
            "InvalidAMIID.NotFound", self.client.deregister_image, ImageId="ami-0000beef"
        )
        await self.expectError(
            "InvalidAMIID.Malformed", self.client.deregister_image, ImageId="true"
        )

    async def test_deregisterOthers(self):
        imageId = await self.register()
        await self.expectError("InvalidAMIID.NotFound", self.bob.deregister_image, ImageId=imageId)
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId,
            LaunchPermission={"Add": [{"Group": "all"}]},
        )
        await self.expectError("AuthFailure", self.bob.deregister_image, ImageId=imageId)
        self.assertEqual(await self.ids(self.bob, ImageIds=[imageId]), [imageId])


class SharingTests(ImageTestsBase):
    async def test_privateImagesAreInvisible(self):
        imageId = await self.register()
        self.assertEqual(await self.ids(self.bob), [])
        await self.expectError("InvalidAMIID.NotFound", self.bob.describe_images, ImageIds=[imageId])
        await self.expectError(
            "InvalidAMIID.NotFound",
            self.bob.run_instances, ImageId=imageId, MinCount=1, MaxCount=1,
        )

    async def test_public(self):
        imageId = await self.register()
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId,
            LaunchPermission={"Add": [{"Group": "all"}]},
        )
        [image] = await self.images(self.bob)
        self.assertEqual(image["ImageId"], imageId)
        self.assertTrue(image["Public"])
        attribute = await self.inThread(
            self.client.describe_image_attribute, ImageId=imageId, Attribute="launchPermission"
        )
        self.assertEqual(attribute["LaunchPermissions"], [{"Group": "all"}])
        await self.expectError(
            "AuthFailure", self.bob.describe_image_attribute, ImageId=imageId,
            Attribute="launchPermission",
        )
        self.assertEqual(await self.ids(self.bob, ExecutableUsers=["all"]), [imageId])
        self.assertEqual(await self.ids(self.bob, Owners=["self"]), [])
        self.assertEqual(await self.ids(self.bob, Owners=[ALICE.name]), [imageId])
        reservation = await self.inThread(
            self.bob.run_instances, ImageId=imageId, MinCount=1, MaxCount=1
        )
        self.assertEqual(reservation["Instances"][0]["ImageId"], imageId)
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId,
            LaunchPermission={"Remove": [{"Group": "all"}]},
        )
        self.assertEqual(await self.ids(self.bob), [])

    async def test_sharedWithProject(self):
        """
        Launch permissions for a project, in both forms clients send.
        """
        imageId = await self.register()
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId, Attribute="launchPermission",
            OperationType="add", UserIds=[BOB.name],
        )
        self.assertEqual(await self.ids(self.bob), [imageId])
        self.assertEqual(await self.ids(self.bob, ExecutableUsers=["self"]), [imageId])
        self.assertEqual(await self.ids(self.bob, ExecutableUsers=["all"]), [])
        attribute = await self.inThread(
            self.client.describe_image_attribute, ImageId=imageId, Attribute="launchPermission"
        )
        self.assertEqual(attribute["LaunchPermissions"], [{"UserId": BOB.name}])
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId,
            LaunchPermission={"Remove": [{"UserId": BOB.name}]},
        )
        self.assertEqual(await self.ids(self.bob), [])
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId,
            LaunchPermission={"Add": [{"UserId": BOB.name}, {"Group": "all"}]},
        )
        await self.inThread(
            self.client.reset_image_attribute, ImageId=imageId, Attribute="launchPermission"
        )
        attribute = await self.inThread(
            self.client.describe_image_attribute, ImageId=imageId, Attribute="launchPermission"
        )
        self.assertEqual(attribute["LaunchPermissions"], [])
        self.assertEqual(await self.ids(self.bob), [])

    async def test_attributes(self):
        imageId = await self.register(Description="first", KernelId=self.kernel.ec2_id)

        async def attribute(name):
            return await self.inThread(
                self.client.describe_image_attribute, ImageId=imageId, Attribute=name
            )

        self.assertEqual((await attribute("description"))["Description"], {"Value": "first"})
        self.assertEqual((await attribute("kernel"))["KernelId"], {"Value": self.kernel.ec2_id})
        self.assertEqual((await attribute("ramdisk"))["RamdiskId"], {})
        self.assertEqual((await attribute("productCodes"))["ProductCodes"], [])
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId, Description={"Value": "second"}
        )
        self.assertEqual((await attribute("description"))["Description"], {"Value": "second"})
        await self.inThread(
            self.client.modify_image_attribute, ImageId=imageId, Attribute="description",
            Value="third",
        )
        self.assertEqual((await attribute("description"))["Description"], {"Value": "third"})
        await self.expectError(
            "InvalidParameterValue", self.client.modify_image_attribute, ImageId=imageId,
            LaunchPermission={"Add": [{"Group": "everyone"}]},
        )
        await self.expectError(
            "InvalidParameterValue", self.client.reset_image_attribute, ImageId=imageId,
            Attribute="kernel",
        )


class DescribeTests(ImageTestsBase):
    async def test_filters(self):
        machine = await self.register(Name="web-server", Architecture="i386")
        await self.inThread(
            self.client.create_tags, Resources=[machine], Tags=[{"Key": "role", "Value": "web"}]
        )
        pending = await self.addImage(state="pending", name="coming")

        async def ids(name, *values):
            return await self.ids(Filters=[{"Name": name, "Values": list(values)}])

        self.assertEqual(await ids("image-type", "kernel"), [self.kernel.ec2_id])
        self.assertEqual(await ids("image-type", "machine"), sorted([machine, pending.ec2_id]))
        self.assertEqual(await ids("state", "pending"), [pending.ec2_id])
        self.assertEqual(await ids("name", "web-*"), [machine])
        self.assertEqual(await ids("architecture", "i386"), [machine])
        self.assertEqual(await ids("is-public", "true"), [])
        self.assertEqual(len(await ids("owner-id", ALICE.name)), 4)
        self.assertEqual(await ids("tag:role", "web"), [machine])
        self.assertEqual(await ids("tag-key", "role"), [machine])
        await self.expectError(
            "InvalidParameterValue", self.client.describe_images,
            Filters=[{"Name": "colour", "Values": ["x"]}],
        )
        await self.expectError(
            "InvalidAMIID.Malformed", self.client.describe_images, ImageIds=["bad-id"]
        )

    async def test_runChecksImages(self):
        """
        RunInstances takes available machine images only, and an instance
        gets its image's kernel and ramdisk unless given others.
        """
        imageId = await self.register(KernelId=self.kernel.ec2_id, RamdiskId=self.ramdisk.ec2_id)
        reservation = await self.inThread(
            self.client.run_instances, ImageId=imageId, MinCount=1, MaxCount=1
        )
        [instance] = reservation["Instances"]
        self.assertEqual(instance["KernelId"], self.kernel.ec2_id)
        self.assertEqual(instance["RamdiskId"], self.ramdisk.ec2_id)
        await self.expectError(
            "InvalidAMIID.NotFound",
            self.client.run_instances, ImageId=self.kernel.ec2_id, MinCount=1, MaxCount=1,
        )
        pending = await self.addImage(state="pending")
        await self.expectError(
            "InvalidAMIID.Unavailable",
            self.client.run_instances, ImageId=pending.ec2_id, MinCount=1, MaxCount=1,
        )
        await self.expectError(
            "InvalidAMIID.NotFound",
            self.client.run_instances, ImageId=imageId, MinCount=1, MaxCount=1,
            KernelId="aki-0000beef",
        )

    async def test_awsCLIAndBoto2(self):
        code, registered, err = await self.aws(
            "register-image", "--image-location", "alice-bucket/disk.img", "--name", "cli"
        )
        self.assertEqual(code, 0, err)
        imageId = registered["ImageId"]
        code, described, err = await self.aws("describe-images", "--image-ids", imageId)
        self.assertEqual(code, 0, err)
        self.assertEqual(described["Images"][0]["Name"], "cli")
        code, _, err = await self.aws(
            "modify-image-attribute", "--image-id", imageId,
            "--launch-permission", '{"Add": [{"Group": "all"}]}',
        )
        self.assertEqual(code, 0, err)

        connection = self.botoConnection()
        images = await self.inThread(connection.get_all_images, image_ids=[imageId])
        self.assertEqual(images[0].location, "alice-bucket/disk.img")
        self.assertTrue(images[0].is_public)
        attribute = await self.inThread(
            connection.get_image_attribute, imageId, "launchPermission"
        )
        self.assertEqual(attribute.attrs["groups"], ["all"])
        await self.inThread(
            connection.modify_image_attribute, imageId, "launchPermission", "remove",
            groups=["all"],
        )
        self.assertFalse((await self.inThread(connection.get_image, imageId)).is_public)
        newId = await self.inThread(
            connection.register_image, name="boto", image_location="alice-bucket/disk.img"
        )
        self.assertRegex(newId, r"^ami-[0-9a-f]{8}$")
        self.assertTrue(await self.inThread(connection.deregister_image, newId))
        ids = sorted(i.id for i in await self.inThread(connection.get_all_images))
        self.assertEqual(ids, sorted([imageId, self.kernel.ec2_id, self.ramdisk.ec2_id]))


class UpdateImageTests(ImageTestsBase):
    """
    Cactus's UpdateImage (not in botocore's model), through boto 2.
    """

    async def test_updateImage(self):
        """
        The owner changes an image's name (DisplayName) and description;
        a field not given is left as it is.
        """
        image = await self.addImage(name="old", description="before")
        connection = self.botoConnection()
        self.assertTrue(await self.inThread(
            connection.get_status, "UpdateImage",
            {"ImageId": image.ec2_id, "DisplayName": "new", "Description": "after"}, verb="POST",
        ))
        [described] = await self.images(ImageIds=[image.ec2_id])
        self.assertEqual((described["Name"], described["Description"]), ("new", "after"))
        # Cactus's clients also sent the names as Python's.
        self.assertTrue(await self.inThread(
            connection.get_status, "UpdateImage",
            {"ImageId": image.ec2_id, "display_name": "newer"}, verb="POST",
        ))
        [described] = await self.images(ImageIds=[image.ec2_id])
        self.assertEqual((described["Name"], described["Description"]), ("newer", "after"))

    async def test_updateImageErrors(self):
        """
        Another project's image is not found (or, public, not the caller's
        to change); ids and values are checked.
        """
        from boto.exception import EC2ResponseError

        image = await self.addImage(name="mine")
        bob = self.botoConnection(BOB)

        async def expect(code, connection, params):
            with self.assertRaises(EC2ResponseError) as caught:
                await self.inThread(connection.get_status, "UpdateImage", params, verb="POST")
            self.assertEqual(caught.exception.error_code, code)

        await expect("InvalidAMIID.NotFound", bob, {"ImageId": image.ec2_id, "DisplayName": "x"})
        await self.db.images.update(image.ec2_id, is_public=True)
        await expect("AuthFailure", bob, {"ImageId": image.ec2_id, "DisplayName": "x"})
        mine = self.botoConnection()
        await expect("InvalidAMIID.Malformed", mine, {"ImageId": "ami-x", "DisplayName": "x"})
        await expect("MissingParameter", mine, {"DisplayName": "x"})
        await expect(
            "InvalidParameterValue", mine, {"ImageId": image.ec2_id, "Description": "d" * 256}
        )
        self.assertEqual((await self.db.images.get(image.ec2_id)).name, "mine")
