"""
A real guest through the EC2 API: nova-all with the libvirt driver (QEMU
software emulation), the test guest's kernel, ramdisk and machine image
bundled, uploaded and registered with C{nova-manage image register}, and
boto3 running, rebooting and terminating instances.

The instances join a bridge the test makes (with no address on this host)
and removes afterwards; their domains have names unique to the run.
"""

import os
import time
import uuid

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

# registerTestGuest and run are imported from here too.
from tests.integration.libvirtcloud import (
    LibvirtCloudMixin,
    availableMachineImage,
    registerTestGuest,
    run,
)
from tests.integration.test_ec2_e2e import waitUntil


class LibvirtEC2Tests(LibvirtCloudMixin, TestCase):
    timeout = 600

    def setUp(self):
        self.setUpLibvirtCloud()

    def prepare(self):
        self.manage("db", "sync")
        self.manage("network", "create", "10.50.0.0/24", "1", "256")
        self.access, self.secret = f"guest-{self.run}", uuid.uuid4().hex
        self.manage("user", "admin", "admin", self.access, self.secret)
        self.manage("project", "create", "admin", "admin")
        registerTestGuest(self.manage, self.guest, "admin", "admin")

    def flow(self):
        ec2 = self.client()
        machine = availableMachineImage(ec2)
        self.assertTrue(machine.get("KernelId", "").startswith("aki-"), machine)
        self.assertTrue(machine.get("RamdiskId", "").startswith("ari-"), machine)

        started = time.monotonic()
        reservation = ec2.run_instances(
            ImageId=machine["ImageId"], MinCount=2, MaxCount=2, InstanceType="m1.tiny"
        )
        ids = [i["InstanceId"] for i in reservation["Instances"]]

        def states():
            return {
                i["InstanceId"]: i["State"]["Name"]
                for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
                for i in r["Instances"]
            }

        def running():
            current = states()
            for state in current.values():
                self.assertNotIn(state, ("terminated", "shutting-down"), current)
            return set(current.values()) == {"running"}

        waitUntil(running, timeout=120, what="the instances to run")

        def console(instanceId):
            return ec2.get_console_output(InstanceId=instanceId).get("Output", "")

        for instanceId in ids:
            waitUntil(
                lambda: "NOVA TEST GUEST" in console(instanceId),
                timeout=max(5.0, 60 - (time.monotonic() - started)) + 30,
                step=1,
                what=f"the banner of {instanceId}",
            )
        self.assertEqual(len(self.domains()), 2)
        base = os.path.join(self.state, "instances", "_base")
        self.assertTrue(os.path.isdir(base), base)
        cached = [name for name in os.listdir(base) if name.startswith("ami-")]
        self.assertEqual(len(cached), 1, os.listdir(base))

        ec2.reboot_instances(InstanceIds=ids[:1])
        waitUntil(
            lambda: "NOVA BOOT 2" in console(ids[0]),
            timeout=120,
            step=1,
            what="a second boot on the console",
        )

        ec2.terminate_instances(InstanceIds=ids)
        waitUntil(
            lambda: set(states().values()) == {"terminated"},
            timeout=120,
            what="the instances to terminate",
        )
        waitUntil(lambda: self.domains() == [], timeout=60, what="no domains left")
        left = [
            name
            for name in os.listdir(os.path.join(self.state, "instances"))
            if name != "_base"
        ]
        self.assertEqual(left, [])

    @defer.inlineCallbacks
    def test_bootRebootTerminate(self):
        daemon = yield self.startNovaAll()
        yield deferToThread(self.flow)
        code = yield daemon.stop()
        self.assertIn(code, (0, -15))
        self.assertNotIn("Traceback", daemon.log())

    @defer.inlineCallbacks
    def test_createImage(self):
        daemon = yield self.startNovaAll()
        yield deferToThread(self.imageFlow)
        code = yield daemon.stop()
        self.assertIn(code, (0, -15))
        self.assertNotIn("Traceback", daemon.log())

    @defer.inlineCallbacks
    def test_rescueUnrescue(self):
        daemon = yield self.startNovaAll()
        yield deferToThread(self.rescueFlow)
        code = yield daemon.stop()
        self.assertIn(code, (0, -15))
        self.assertNotIn("Traceback", daemon.log())

    def novaAction(self, action, **params):
        """
        Call one of Nova's own EC2 actions (not in botocore's model),
        signed with botocore's SigV4 signer as boto3 signs.

        @return: C{(status, body)}.
        """
        import urllib.error
        import urllib.parse
        import urllib.request

        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        url = f"http://127.0.0.1:{self.ec2Port}/services/Cloud"
        body = urllib.parse.urlencode({"Action": action, "Version": "2016-11-15", **params})
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        SigV4Auth(Credentials(self.access, self.secret), "ec2", "nova").add_auth(request)
        prepared = request.prepare()
        try:
            with urllib.request.urlopen(
                urllib.request.Request(
                    url, data=body.encode(), headers=dict(prepared.headers), method="POST"
                ),
                timeout=30,
            ) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def rescueFlow(self):
        """
        RescueInstance boots a fresh copy of the instance's image (its
        boot counter starts again) with the instance's own disk second;
        UnrescueInstance boots the instance's own disk again, whose
        counter goes on.  DescribeInstances names the hypervisor in use.
        """
        ec2 = self.client()
        machine = availableMachineImage(ec2)
        self.assertEqual(machine["Hypervisor"], "qemu")
        [instance] = ec2.run_instances(
            ImageId=machine["ImageId"], MinCount=1, MaxCount=1, InstanceType="m1.tiny"
        )["Instances"]
        instanceId = instance["InstanceId"]

        def console():
            return ec2.get_console_output(InstanceId=instanceId).get("Output", "")

        def described():
            [reservation] = ec2.describe_instances(InstanceIds=[instanceId])["Reservations"]
            return reservation["Instances"][0]

        def ready(count):
            return lambda: console().count("NOVA READY") >= count

        waitUntil(ready(1), timeout=180, step=1, what="the guest to be ready")
        self.assertEqual(described()["Hypervisor"], "qemu")
        status, body = self.novaAction("RescueInstance", InstanceId=instanceId)
        self.assertEqual(status, 200, body)
        self.assertIn("<return>true</return>", body)
        waitUntil(ready(2), timeout=180, step=1, what="the rescue system to be ready")
        rescued = console().rsplit("NOVA BOOT", 1)[1]
        self.assertTrue(rescued.startswith(" 1 "), rescued[:80])
        self.assertIn("NOVA DISKS vda vdb", rescued)
        waitUntil(lambda: described()["State"]["Name"] == "running", what="running, rescued")
        status, body = self.novaAction("RescueInstance", InstanceId="i-7fffffff")
        self.assertEqual(status, 400, body)
        self.assertIn("InvalidInstanceID.NotFound", body)
        status, body = self.novaAction("UnrescueInstance", InstanceId=instanceId)
        self.assertEqual(status, 200, body)
        waitUntil(ready(3), timeout=180, step=1, what="the guest to be ready again")
        again = console().rsplit("NOVA BOOT", 1)[1]
        self.assertTrue(again.startswith(" 2 "), again[:80])
        self.assertNotIn("vdb", again)
        ec2.terminate_instances(InstanceIds=[instanceId])
        waitUntil(lambda: self.domains() == [], timeout=120, what="no domains left")

    def imageFlow(self):
        """
        CreateImage of a running guest: the guest runs on (without a
        reboot), and an instance of the new image boots from the copied
        disk, whose boot counter says so.
        """
        ec2 = self.client()
        machine = availableMachineImage(ec2)
        [first] = ec2.run_instances(
            ImageId=machine["ImageId"], MinCount=1, MaxCount=1, InstanceType="m1.tiny"
        )["Instances"]

        def console(instanceId):
            return ec2.get_console_output(InstanceId=instanceId).get("Output", "")

        def state(instanceId):
            [reservation] = ec2.describe_instances(InstanceIds=[instanceId])["Reservations"]
            return reservation["Instances"][0]["State"]["Name"]

        waitUntil(
            lambda: "NOVA READY" in console(first["InstanceId"]),
            timeout=180,
            step=1,
            what="the first guest to be ready",
        )
        imageId = ec2.create_image(
            InstanceId=first["InstanceId"], Name="snapshot of the test guest", NoReboot=True
        )["ImageId"]

        def imageState():
            return ec2.describe_images(ImageIds=[imageId])["Images"][0]["State"]

        waitUntil(lambda: imageState() != "pending", timeout=180, step=1, what="the snapshot")
        [image] = ec2.describe_images(ImageIds=[imageId])["Images"]
        self.assertEqual(image["State"], "available", image)
        self.assertEqual(
            (image["KernelId"], image["RamdiskId"]), (machine["KernelId"], machine["RamdiskId"])
        )
        self.assertEqual(state(first["InstanceId"]), "running")
        self.assertNotIn("NOVA BOOT 2", console(first["InstanceId"]))
        [second] = ec2.run_instances(
            ImageId=imageId, MinCount=1, MaxCount=1, InstanceType="m1.tiny"
        )["Instances"]
        waitUntil(
            lambda: "NOVA BOOT 2" in console(second["InstanceId"]),
            timeout=180,
            step=1,
            what="the copied disk's second boot on the console",
        )
        ec2.terminate_instances(InstanceIds=[first["InstanceId"], second["InstanceId"]])
        waitUntil(lambda: self.domains() == [], timeout=120, what="no domains left")
