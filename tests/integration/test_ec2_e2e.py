"""
End to end through real clients: boto3 and the aws CLI against Nova's
daemons as processes, first nova-all on the embedded defaults, then the
separate daemons (nova-api, nova-objectstore, nova-scheduler, two
nova-compute, nova-network, nova-volume) over RabbitMQ and PostgreSQL.

The cloud is driven as a user would: upload and register an image, import a
key, open a port, run two instances, see them running with fixed IPs,
associate a floating IP, attach a volume, read console output and metadata,
terminate; quotas and roles refuse what they must.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.db.backends import freshURI
from tests.integration.processes import Daemon, runManage, startDaemons
from tests.util import RABBIT, requireCondition, requireServer

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def freePort():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitUntil(check, timeout=60.0, step=0.25, what="condition"):
    """
    Call C{check} until it returns a true value (blocking; runs in a
    thread).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def privateRabbitVhost(testCase, prefix):
    """
    Make a RabbitMQ virtual host of the test's own (the guest user may use
    it), deleted at the test's cleanup; skip without RabbitMQ.

    @return: its name, C{prefix} and a random tail.
    """
    requireServer("RabbitMQ", *RABBIT)
    requireCondition(shutil.which("rabbitmqctl"), "rabbitmqctl is not installed")
    vhost = prefix + uuid.uuid4().hex[:8]
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    testCase.addCleanup(
        subprocess.run, ["rabbitmqctl", "delete_vhost", vhost], capture_output=True
    )
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return vhost


class CloudFlowMixin:
    """
    The user's flow, against a cloud whose endpoints and flags the test
    case sets up.
    """

    timeout = 400

    def manage(self, *argv):
        code, out, err = runManage(*self.flags, *argv)
        self.assertEqual(code, 0, f"nova-manage {' '.join(argv)}: {err}")
        return out

    def createUser(self, name, *roles, admin=False):
        access, secret = f"{name}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        self.manage("user", "admin" if admin else "create", name, access, secret)
        return access, secret

    def prepareCloud(self):
        self.manage("db", "sync")
        self.manage("network", "create", "10.20.0.0/24", "1", "256")
        self.manage("floating", "create", self.networkHost, "192.0.2.8/29")
        self.adminKeys = self.createUser("boss", admin=True)
        self.manage("project", "create", "boss", "boss")
        self.aliceKeys = self.createUser("alice")
        self.manage("project", "create", "alice", "alice", "Alice's project")
        # Security groups and addresses need netadmin, globally and in the project.
        self.manage("role", "add", "alice", "netadmin")
        self.manage("role", "add", "alice", "netadmin", "alice")
        self.devKeys = self.createUser("dev")
        self.manage("project", "add", "alice", "dev")
        self.manage("role", "add", "dev", "developer")
        self.manage("role", "add", "dev", "developer", "alice")
        self.manage("project", "quota", "alice", "instances", "3")

    def client(self, service, keys, project=None):
        access, secret = keys
        if project:
            access = f"{access}:{project}"
        endpoint = self.ec2URL if service == "ec2" else self.s3URL
        return boto3.client(
            service,
            endpoint_url=endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="nova",
            config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def expectError(self, code, function, **kwargs):
        try:
            function(**kwargs)
        except ClientError as e:
            self.assertEqual(e.response["Error"]["Code"], code, e.response)
            return e
        self.fail(f"expected {code}")

    def uploadAndRegister(self, s3, ec2):
        s3.create_bucket(Bucket="images")
        disk = b"\xeb\x63\x90" + os.urandom(4093) + b"NOVA TEST DISK" * 100
        s3.put_object(Bucket="images", Key="disk.img", Body=disk)
        imageId = ec2.register_image(ImageLocation="images/disk.img", Name="test disk")["ImageId"]
        self.assertTrue(imageId.startswith("ami-"), imageId)

        def available():
            [image] = ec2.describe_images(ImageIds=[imageId])["Images"]
            self.assertNotEqual(image["State"], "failed", image)
            return image["State"] == "available"

        waitUntil(available, what=f"{imageId} to be available")
        return imageId

    def runFlow(self, expectTwoHosts):
        s3 = self.client("s3", self.aliceKeys)
        ec2 = self.client("ec2", self.aliceKeys)
        imageId = self.uploadAndRegister(s3, ec2)

        key = ed25519.Ed25519PrivateKey.generate().public_key()
        openssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        imported = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=openssh)
        self.assertEqual(imported["KeyName"], "laptop")
        ec2.authorize_security_group_ingress(
            GroupName="default", IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
        )
        [group] = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
        self.assertEqual(
            [(p["IpProtocol"], p["FromPort"], p["ToPort"]) for p in group["IpPermissions"]],
            [("tcp", 22, 22)],
        )

        # A developer-only member may look but not launch.
        dev = self.client("ec2", self.devKeys, project="alice")
        self.assertEqual(len(dev.describe_images(ImageIds=[imageId])["Images"]), 1)
        self.expectError(
            "UnauthorizedOperation", dev.run_instances, ImageId=imageId, MinCount=1, MaxCount=1
        )

        reservation = ec2.run_instances(
            ImageId=imageId,
            MinCount=2,
            MaxCount=2,
            InstanceType="m1.tiny",
            KeyName="laptop",
            # boto3 base64-encodes UserData itself.
            UserData="#!/bin/sh\necho hello\n",
        )
        ids = [i["InstanceId"] for i in reservation["Instances"]]
        self.assertEqual(len(ids), 2)

        def running():
            instances = [
                i
                for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
                for i in r["Instances"]
            ]
            for i in instances:
                self.assertNotIn(i["State"]["Name"], ("terminated", "shutting-down"), i)
            if all(i["State"]["Name"] == "running" for i in instances):
                return instances
            return None

        instances = waitUntil(running, what="two instances running")
        addresses = [i["PrivateIpAddress"] for i in instances]
        self.assertEqual(len(set(addresses)), 2)
        for address in addresses:
            self.assertTrue(address.startswith("10.20.0."), address)
        if expectTwoHosts:
            hosts = self.instanceHosts(ids)
            self.assertEqual(len(set(hosts)), 2, hosts)

        # Quota: alice may run 3 instances; two are running.
        self.expectError(
            "InstanceLimitExceeded", ec2.run_instances, ImageId=imageId, MinCount=2, MaxCount=2
        )

        # Another project sees none of it.
        bob = self.createUser("bob")
        self.manage("project", "create", "bob", "bob")
        bobEc2 = self.client("ec2", bob)
        self.assertEqual(bobEc2.describe_instances()["Reservations"], [])
        self.expectError("InvalidInstanceID.NotFound", bobEc2.terminate_instances, InstanceIds=ids[:1])

        public = ec2.allocate_address()["PublicIp"]
        ec2.associate_address(InstanceId=ids[0], PublicIp=public)
        [described] = ec2.describe_addresses(PublicIps=[public])["Addresses"]
        self.assertEqual(described["InstanceId"], ids[0])

        zone = instances[0]["Placement"]["AvailabilityZone"]
        volumeId = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
        waitUntil(
            lambda: ec2.describe_volumes(VolumeIds=[volumeId])["Volumes"][0]["State"] == "available",
            what="the volume to be available",
        )
        ec2.attach_volume(VolumeId=volumeId, InstanceId=ids[0], Device="/dev/vdb")
        waitUntil(
            lambda: ec2.describe_volumes(VolumeIds=[volumeId])["Volumes"][0]["State"] == "in-use",
            what="the volume to be in use",
        )

        console = ec2.get_console_output(InstanceId=ids[0])
        self.assertEqual(console["InstanceId"], ids[0])
        self.assertTrue(console.get("Output"), console)

        metadata = self.readMetadata(addresses[0], "latest/meta-data/instance-id")
        self.assertEqual(metadata, ids[0])
        userData = self.readMetadata(addresses[0], "latest/user-data")
        self.assertEqual(userData, "#!/bin/sh\necho hello\n")
        keys = self.readMetadata(addresses[0], "latest/meta-data/public-keys/0/openssh-key")
        self.assertEqual(keys.split()[:2], openssh.decode().split()[:2])

        # The aws CLI sees the same cloud.
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=self.aliceKeys[0],
            AWS_SECRET_ACCESS_KEY=self.aliceKeys[1],
            AWS_DEFAULT_REGION="nova",
        )
        result = subprocess.run(
            [AWS, "ec2", "describe-instances", "--endpoint-url", self.ec2URL, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        listed = {
            i["InstanceId"]
            for r in json.loads(result.stdout)["Reservations"]
            for i in r["Instances"]
        }
        self.assertEqual(listed, set(ids))
        result = subprocess.run(
            [AWS, "s3", "ls", "s3://images/", "--endpoint-url", self.s3URL],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("disk.img", result.stdout)

        ec2.detach_volume(VolumeId=volumeId)
        waitUntil(
            lambda: ec2.describe_volumes(VolumeIds=[volumeId])["Volumes"][0]["State"] == "available",
            what="the volume to be detached",
        )
        ec2.disassociate_address(PublicIp=public)
        ec2.release_address(PublicIp=public)
        ec2.terminate_instances(InstanceIds=ids)

        def terminated():
            states = {
                i["State"]["Name"]
                for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
                for i in r["Instances"]
            }
            return states == {"terminated"}

        waitUntil(terminated, what="the instances to terminate")
        ec2.delete_volume(VolumeId=volumeId)

    def readMetadata(self, fixedAddress, path):
        request = urllib.request.Request(
            f"{self.metadataURL}/{path}", headers={"X-Forwarded-For": fixedAddress}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode("utf-8")

    def instanceHosts(self, ids):
        """
        @return: the compute host of each instance, read from the database
            (EC2 does not show hosts).
        """
        from twisted.internet import reactor

        from nova.db.api import inlineDatabase

        db = inlineDatabase(self.sqlConnection, reactor)
        try:
            hosts = []
            for ec2Id in ids:
                record = db.instances.get(int(ec2Id[2:], 16)).result
                hosts.append(record.host)
            return hosts
        finally:
            db.transactor.close()


class NovaAllTests(CloudFlowMixin, TestCase):
    """
    nova-all on its embedded defaults: SQLite, the in-process bus, fake
    drivers, the file volume driver.
    """

    @defer.inlineCallbacks
    def test_flow(self):
        state = os.path.abspath(self.mktemp())
        self.ec2Port, self.s3Port = freePort(), freePort()
        self.networkHost = "allhost"
        self.sqlConnection = f"sqlite:{state}/nova.sqlite"
        self.flags = [
            f"--state_path={state}",
            f"--host={self.networkHost}",
            f"--ec2_port={self.ec2Port}",
            f"--s3_port={self.s3Port}",
            "--ec2_listen=127.0.0.1",
            "--s3_listen=127.0.0.1",
            "--osapi_port=0",
            "--osapi_listen=127.0.0.1",
            "--metadata_trusted_proxies=127.0.0.1",
            "--report_interval=1",
        ]
        self.ec2URL = f"http://127.0.0.1:{self.ec2Port}/services/Cloud"
        self.s3URL = f"http://127.0.0.1:{self.s3Port}"
        self.metadataURL = f"http://127.0.0.1:{self.ec2Port}"
        yield deferToThread(self.prepareCloud)
        daemon = Daemon(self, "nova-all", *self.flags).start()
        yield daemon.waitForLog(r"nova-volume on allhost consumes volume", timeout=60)
        yield daemon.waitForLog(r"nova-objectstore on allhost consumes objectstore", timeout=60)
        yield deferToThread(self.runFlow, False)
        code = yield daemon.stop()
        self.assertIn(code, (0, -15))
        self.assertNotIn("Traceback", daemon.log())


class SeparateDaemonsTests(CloudFlowMixin, TestCase):
    """
    Each daemon in its own process, over RabbitMQ and PostgreSQL, with two
    compute hosts and the simple scheduler.
    """

    def setUp(self):
        self.vhost = privateRabbitVhost(self, "nova-e2e-")

    @defer.inlineCallbacks
    def test_flow(self):
        state = os.path.abspath(self.mktemp())
        self.sqlConnection = freshURI(self, "postgres")
        self.ec2Port, self.s3Port = freePort(), freePort()
        self.networkHost = "net1"
        self.flags = [
            f"--state_path={state}",
            f"--sql_connection={self.sqlConnection}",
            "--rpc_backend=amqp",
            f"--rabbit_virtual_host={self.vhost}",
            f"--ec2_port={self.ec2Port}",
            f"--s3_port={self.s3Port}",
            "--ec2_listen=127.0.0.1",
            "--s3_listen=127.0.0.1",
            "--osapi_port=0",
            "--osapi_listen=127.0.0.1",
            "--s3_host=127.0.0.1",
            "--metadata_trusted_proxies=127.0.0.1",
            "--scheduler_driver=simple",
            "--report_interval=1",
        ]
        self.ec2URL = f"http://127.0.0.1:{self.ec2Port}/services/Cloud"
        self.s3URL = f"http://127.0.0.1:{self.s3Port}"
        self.metadataURL = f"http://127.0.0.1:{self.ec2Port}"
        yield deferToThread(self.prepareCloud)
        daemons = [
            Daemon(self, "nova-objectstore", *self.flags, "--host=store", name="objectstore"),
            Daemon(self, "nova-network", *self.flags, "--host=net1", name="network"),
            Daemon(self, "nova-scheduler", *self.flags, "--host=ctl", name="scheduler"),
            Daemon(self, "nova-volume", *self.flags, "--host=vol1", name="volume"),
            Daemon(self, "nova-compute", *self.flags, "--host=c1", name="c1"),
            Daemon(self, "nova-compute", *self.flags, "--host=c2", name="c2"),
            Daemon(self, "nova-api", *self.flags, "--host=api", name="api"),
        ]
        yield startDaemons(daemons, timeout=90)
        yield deferToThread(self.runFlow, True)
        for daemon in reversed(daemons):
            code = yield daemon.stop()
            self.assertIn(code, (0, -15))
            self.assertNotIn("Traceback", daemon.log(), daemon.name)
