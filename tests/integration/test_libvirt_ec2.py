"""
A real guest through the EC2 API: nova-all with the libvirt driver (QEMU
software emulation), the test guest's kernel, ramdisk and machine image
bundled, uploaded and registered with C{nova-manage image register}, and
boto3 running, rebooting and terminating instances.

The instances join a bridge the test makes (with no address on this host)
and removes afterwards; their domains have names unique to the run.
"""

import os
import subprocess
import time
import uuid

import boto3
from botocore.config import Config as BotoConfig
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.integration.processes import Daemon, runManage
from tests.integration.test_ec2_e2e import freePort, waitUntil
from tests.integration.test_libvirt_guest import (
    domainNames,
    guestDirectory,
    requireLibvirtd,
    undefineDomains,
)
from tests.util import requireCondition


def registerTestGuest(manage, guest, user, project):
    """
    Bundle, upload and register the test guest's kernel, ramdisk and
    machine image with C{manage} (a test's nova-manage runner).
    """
    manage(
        "image",
        "register",
        os.path.join(guest, "vmlinuz"),
        os.path.join(guest, "initrd.img"),
        os.path.join(guest, "root.img"),
        user,
        project,
    )


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


class LibvirtEC2Tests(TestCase):
    timeout = 600

    def setUp(self):
        requireLibvirtd()
        requireCondition(os.geteuid() == 0, "needs root to make a bridge")
        self.guest = guestDirectory()
        self.run = uuid.uuid4().hex[:6]
        self.bridge = f"nvb{self.run}"
        run("ip", "link", "add", "name", self.bridge, "type", "bridge")
        self.addCleanup(subprocess.run, ["ip", "link", "del", self.bridge], capture_output=True)
        run("ip", "link", "set", self.bridge, "up")
        self.addCleanup(self.undefineLeftovers)
        # QEMU runs as another user: the state directory must be traversable.
        self.state = os.path.abspath(self.mktemp())
        os.makedirs(self.state)
        for path in (os.path.dirname(self.state), self.state):
            os.chmod(path, 0o755)

    def undefineLeftovers(self):
        return deferToThread(undefineDomains, f"nt{self.run}-")

    def domains(self):
        return domainNames(f"nt{self.run}-")

    def manage(self, *argv):
        code, out, err = runManage(*self.flags, *argv, timeout=300)
        self.assertEqual(code, 0, f"nova-manage {' '.join(argv)}: {err}")
        return out

    def prepare(self):
        self.manage("db", "sync")
        self.manage("network", "create", "10.50.0.0/24", "1", "256")
        self.access, self.secret = f"guest-{self.run}", uuid.uuid4().hex
        self.manage("user", "admin", "admin", self.access, self.secret)
        self.manage("project", "create", "admin", "admin")
        registerTestGuest(self.manage, self.guest, "admin", "admin")

    def flow(self):
        ec2 = self.client()
        machines = [
            image
            for image in ec2.describe_images(Owners=["self"])["Images"]
            if image["ImageType"] == "machine"
        ]
        self.assertEqual(len(machines), 1, machines)
        machine = machines[0]
        waitUntil(
            lambda: ec2.describe_images(ImageIds=[machine["ImageId"]])["Images"][0]["State"]
            == "available",
            what="the machine image",
        )
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

    def client(self):
        return boto3.client(
            "ec2",
            endpoint_url=f"http://127.0.0.1:{self.ec2Port}/services/Cloud",
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            region_name="nova",
            config=BotoConfig(retries={"max_attempts": 1}),
        )

    def imageFlow(self):
        """
        CreateImage of a running guest: the guest runs on (without a
        reboot), and an instance of the new image boots from the copied
        disk, whose boot counter says so.
        """
        ec2 = self.client()
        [machine] = [
            image
            for image in ec2.describe_images(Owners=["self"])["Images"]
            if image["ImageType"] == "machine"
        ]
        waitUntil(
            lambda: ec2.describe_images(ImageIds=[machine["ImageId"]])["Images"][0]["State"]
            == "available",
            what="the machine image",
        )
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

    @defer.inlineCallbacks
    def startNovaAll(self):
        with open(os.path.join(self.guest, "cmdline")) as f:
            cmdline = f.read().strip()
        self.ec2Port, self.s3Port = freePort(), freePort()
        self.flags = [
            f"--state_path={self.state}",
            "--host=libvirthost",
            f"--ec2_port={self.ec2Port}",
            f"--s3_port={self.s3Port}",
            "--ec2_listen=127.0.0.1",
            "--s3_listen=127.0.0.1",
            "--osapi_port=0",
            "--osapi_listen=127.0.0.1",
            "--connection_type=libvirt",
            "--libvirt_type=qemu",
            f"--libvirt_cmdline={cmdline}",
            f"--flat_network_bridge={self.bridge}",
            f"--instance_name_template=nt{self.run}-%08x",
        ]
        yield deferToThread(self.prepare)
        daemon = Daemon(self, "nova-all", *self.flags).start()
        yield daemon.waitForLog(r"nova-compute on libvirthost consumes compute", timeout=60)
        return daemon
