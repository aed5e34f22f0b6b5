"""
Nova's own instance actions in the EC2 API (RescueInstance,
UnrescueInstance, UpdateInstance: not in botocore's model, so through
boto 2 and raw signed requests), and the honest values DescribeInstances,
DescribeImages and DescribeInstanceTypes give (the hypervisor in use, an
instance that failed to spawn shown as C{error}), through boto3.
"""

from twisted.trial.unittest import TestCase

from nova.virt import errors as virtErrors
from nova.virt import power
from tests.api.ec2.cloud import BOB, CloudServerMixin

NAMESPACE = "{http://ec2.amazonaws.com/doc/2016-11-15/}"


class _Base(CloudServerMixin, TestCase):
    flags = {}

    async def setUp(self):
        await self.startCloud(**self.flags)
        self.client = await self.makeClient()

    async def running(self):
        reservation = await self.runAndWait(self.client)
        return reservation["Instances"][0]["InstanceId"]

    async def describeOne(self, instanceId, client=None):
        result = await self.inThread(
            (client or self.client).describe_instances, InstanceIds=[instanceId]
        )
        [reservation] = result["Reservations"]
        [instance] = reservation["Instances"]
        return instance

    def post(self, action, **params):
        return self.signedPost({"Action": action, "Version": "2016-11-15", **params})


class RescueTests(_Base):
    async def test_rescueAndUnrescue(self):
        """
        RescueInstance boots the rescue system in the instance's guest
        (its own image, attached second); DescribeInstances shows it
        running; UnrescueInstance boots the instance's own system again.
        boto 2 sends both as Cactus's clients did.
        """
        instanceId = await self.running()
        connection = self.botoConnection()
        ok = await self.inThread(
            connection.get_status, "RescueInstance", {"InstanceId": instanceId}, verb="POST"
        )
        self.assertTrue(ok)
        record = await self.waitForState([instanceId], "rescued")
        guest = self.guestOf(record[0])
        self.assertEqual((guest.state, guest.rescuedSpec.imageId), (power.RUNNING, record[0].image_id))
        instance = await self.describeOne(instanceId)
        self.assertEqual(instance["State"], {"Code": 16, "Name": "running"})
        # Rescuing a rescued instance changes nothing.
        raw = await self.post("RescueInstance", InstanceId=instanceId)
        self.assertEqual(raw.status, 200, raw.body)
        self.assertEqual(raw.xml().find(f"{NAMESPACE}return").text, "true")
        raw = await self.post("UnrescueInstance", instance_id=instanceId)
        self.assertEqual(raw.status, 200, raw.body)
        await self.waitForState([instanceId], "running")
        self.assertIsNone(self.guestOf(record[0]).rescuedSpec)
        raw = await self.post("UnrescueInstance", InstanceId=instanceId)
        self.assertEqual(raw.errorCode(), "IncorrectInstanceState")

    async def test_refused(self):
        """
        A stopped instance is not rescued; an unknown or malformed id, one
        of another project, a missing id, each is a clear EC2 error.
        """
        instanceId = await self.running()
        await self.inThread(self.client.stop_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "stopped")
        raw = await self.post("RescueInstance", InstanceId=instanceId)
        self.assertEqual(raw.errorCode(), "IncorrectInstanceState")
        raw = await self.post("RescueInstance", InstanceId="i-0000abcd")
        self.assertEqual(raw.errorCode(), "InvalidInstanceID.NotFound")
        raw = await self.post("RescueInstance", InstanceId="bogus")
        self.assertEqual(raw.errorCode(), "InvalidInstanceID.Malformed")
        raw = await self.post("RescueInstance")
        self.assertEqual(raw.errorCode(), "MissingParameter")
        raw = await self.signedPost(
            {"Action": "RescueInstance", "Version": "2016-11-15", "InstanceId": instanceId},
            user=BOB,
        )
        self.assertEqual(raw.errorCode(), "InvalidInstanceID.NotFound")


class UpdateInstanceTests(_Base):
    async def test_update(self):
        instanceId = await self.running()
        connection = self.botoConnection()
        ok = await self.inThread(
            connection.get_status,
            "UpdateInstance",
            {"InstanceId": instanceId, "DisplayName": "web 1", "DisplayDescription": "the front"},
            verb="POST",
        )
        self.assertTrue(ok)
        record = await self.instanceRecord(instanceId)
        self.assertEqual((record.display_name, record.display_description), ("web 1", "the front"))
        raw = await self.post("UpdateInstance", instance_id=instanceId, display_name="web 2")
        self.assertEqual(raw.status, 200, raw.body)
        record = await self.instanceRecord(instanceId)
        self.assertEqual((record.display_name, record.display_description), ("web 2", "the front"))
        raw = await self.post("UpdateInstance", InstanceId=instanceId, DisplayName="x" * 256)
        self.assertEqual(raw.errorCode(), "InvalidParameterValue")
        self.assertEqual((await self.instanceRecord(instanceId)).display_name, "web 2")


class HonestValuesTests(_Base):
    async def test_hypervisorOfTheFakeDriver(self):
        instanceId = await self.running()
        self.assertEqual((await self.describeOne(instanceId))["Hypervisor"], "fake")
        images = await self.inThread(self.client.describe_images)
        self.assertTrue(images["Images"])
        self.assertEqual({i["Hypervisor"] for i in images["Images"]}, {"fake"})
        types = await self.inThread(self.client.describe_instance_types)
        self.assertEqual({t["Hypervisor"] for t in types["InstanceTypes"]}, {"fake"})

    async def test_spawnFailureIsError(self):
        """
        An instance whose guest failed to spawn shows as C{error} with the
        reason in its state reason, until it is terminated.
        """
        for driver in self.drivers.values():
            driver.failOn("spawn", virtErrors.VirtError("no space left for the disk"))
        imageId = (await self.addImage()).ec2_id
        reservation = await self.inThread(
            self.client.run_instances, ImageId=imageId, MinCount=1, MaxCount=1
        )
        instanceId = reservation["Instances"][0]["InstanceId"]
        await self.waitForState([instanceId], "error")
        instance = await self.describeOne(instanceId)
        self.assertEqual(instance["State"], {"Code": 304, "Name": "error"})
        self.assertEqual(instance["StateReason"]["Code"], "Server.InternalError")
        self.assertIn("no space left for the disk", instance["StateReason"]["Message"])
        found = await self.inThread(
            self.client.describe_instances,
            Filters=[{"Name": "instance-state-name", "Values": ["error"]}],
        )
        self.assertEqual(
            [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]], [instanceId]
        )
        await self.inThread(self.client.terminate_instances, InstanceIds=[instanceId])
        await self.waitForState([instanceId], "terminated")
        instance = await self.describeOne(instanceId)
        self.assertEqual(instance["State"], {"Code": 48, "Name": "terminated"})


class LibvirtHypervisorTests(_Base):
    """
    With C{--connection_type=libvirt}, the hypervisor described is
    C{--libvirt_type} (the compute hosts here still run fake drivers:
    the API reads the flags).
    """

    flags = {"connection_type": "libvirt", "libvirt_type": "qemu"}

    async def test_hypervisor(self):
        await self.addImage()
        images = await self.inThread(self.client.describe_images)
        self.assertEqual({i["Hypervisor"] for i in images["Images"]}, {"qemu"})
        types = await self.inThread(self.client.describe_instance_types)
        self.assertEqual({t["Hypervisor"] for t in types["InstanceTypes"]}, {"qemu"})
