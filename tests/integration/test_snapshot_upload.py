"""
A snapshot made on a compute host of its own: each daemon in its own
process (over RabbitMQ, in a virtual host of the test's, and PostgreSQL),
with the fake virt driver.  nova-compute runs with
C{--snapshot_upload_user} and sends the disk to nova-objectstore over S3
(L{nova.compute.snapshots.S3Uploader}), signed as an administrator
acting in a service project; the image becomes available and launches,
and its object is readable by the instance's project.
"""

import os

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.db.backends import freshURI
from tests.integration.processes import separateDaemons, startDaemons
from tests.integration.test_ec2_e2e import (
    CloudFlowMixin,
    freePort,
    privateRabbitVhost,
    waitUntil,
)


class StandaloneSnapshotTests(CloudFlowMixin, TestCase):
    def setUp(self):
        self.vhost = privateRabbitVhost(self, "nova-snap-")

    def prepare(self):
        self.manage("db", "sync")
        self.manage("network", "create", "10.21.0.0/24", "1", "256")
        self.createUser("uploader", admin=True)
        self.manage("project", "create", "service", "uploader")
        self.aliceKeys = self.createUser("alice")
        self.manage("project", "create", "alice", "alice")

    def flow(self):
        s3 = self.client("s3", self.aliceKeys)
        ec2 = self.client("ec2", self.aliceKeys)
        imageId = self.uploadAndRegister(s3, ec2)

        def launch(image):
            [instance] = ec2.run_instances(
                ImageId=image, MinCount=1, MaxCount=1, InstanceType="m1.tiny"
            )["Instances"]
            instanceId = instance["InstanceId"]

            def running():
                [r] = ec2.describe_instances(InstanceIds=[instanceId])["Reservations"]
                state = r["Instances"][0]["State"]["Name"]
                self.assertNotIn(state, ("terminated", "shutting-down"))
                return state == "running"

            waitUntil(running, what=f"{instanceId} running")
            return instanceId

        def settled(image):
            def state():
                [found] = ec2.describe_images(ImageIds=[image])["Images"]
                return found if found["State"] != "pending" else None

            return waitUntil(state, timeout=60, what=f"{image} to settle")

        first = launch(imageId)
        snapshot = ec2.create_image(InstanceId=first, Name="made on c1")["ImageId"]
        made = settled(snapshot)
        self.assertEqual(made["State"], "available", made)
        self.assertTrue(made["ImageLocation"].startswith("nova-snapshots/alice/"), made)
        second = launch(snapshot)
        ec2.terminate_instances(InstanceIds=[first, second])
        # The store keeps the object where its project alone may read it.
        bucket, _, key = made["ImageLocation"].partition("/")
        self.assertTrue(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    @defer.inlineCallbacks
    def test_snapshotUploadedOverS3(self):
        state = os.path.abspath(self.mktemp())
        ec2Port, s3Port = freePort(), freePort()
        self.flags = [
            f"--state_path={state}",
            f"--sql_connection={freshURI(self, 'postgres')}",
            "--rpc_backend=amqp",
            f"--rabbit_virtual_host={self.vhost}",
            f"--ec2_port={ec2Port}",
            f"--s3_port={s3Port}",
            "--ec2_listen=127.0.0.1",
            "--s3_listen=127.0.0.1",
            "--osapi_port=0",
            "--osapi_listen=127.0.0.1",
            "--s3_host=127.0.0.1",
            "--report_interval=1",
        ]
        self.ec2URL = f"http://127.0.0.1:{ec2Port}/services/Cloud"
        self.s3URL = f"http://127.0.0.1:{s3Port}"
        yield deferToThread(self.prepare)
        daemons = separateDaemons(self, self.flags, ["--snapshot_upload_user=uploader:service"])
        yield startDaemons(daemons, timeout=90)
        yield deferToThread(self.flow)
        for daemon in reversed(daemons):
            code = yield daemon.stop()
            self.assertIn(code, (0, -15))
            self.assertNotIn("Traceback", daemon.log(), daemon.name)
