"""
Launching at scale costs the same per instance whatever the count: nova-all
on its embedded defaults (SQLite file, the in-process bus, the fake
hypervisor) runs in this process, boto3 launches and terminates instances
through its EC2 API, and the test counts the database transactions and RPC
messages each launch took.  A cost per instance that grows with the count
(a refresh of every member for every new member, a read per row, ...)
fails it; nothing here is timed.
"""

import os
import uuid

import boto3
from botocore.config import Config as BotoConfig
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.all.tap import Options, makeService
from nova.service import waitReady
from tests.util import ManageMixin

#: The bounds per instance launched and terminated (measured: 26.6
#: transactions and 6.03 messages at 30 instances, 26.1 and 6.00 at 300).
TRANSACTIONS_PER_INSTANCE = 30
MESSAGES_PER_INSTANCE = 8


class LaunchScaleTests(ManageMixin, TestCase):
    """
    One RunInstances of many instances, until all run, then one
    TerminateInstances, until all are terminated.
    """

    timeout = 600

    @defer.inlineCallbacks
    def startCloud(self, count):
        """
        Start nova-all with a project that may run C{count} instances, an
        image, and a security group whose rule admits its own members (so
        that every launch changes what reaches every member).

        @return: L{Deferred} firing with C{(top service, ec2 client)}.
        """
        self.state = os.path.abspath(self.mktemp())
        access, secret = "scale-" + uuid.uuid4().hex[:8], uuid.uuid4().hex
        for argv in (
            ("db", "sync"),
            ("network", "create", "10.44.0.0/22", "1", "1024"),
            ("user", "create", "scale", access, secret),
            ("project", "create", "scale", "scale"),
            ("role", "add", "scale", "netadmin"),
            ("role", "add", "scale", "netadmin", "scale"),
            ("project", "quota", "scale", "instances", str(count)),
            ("project", "quota", "scale", "cores", str(count)),
        ):
            code, out, err = yield self.manage(*argv)
            self.assertEqual(code, 0, err)
        options = Options()
        options.parseOptions(
            [
                f"--state_path={self.state}",
                "--host=scale",
                "--ec2_port=0",
                "--ec2_listen=127.0.0.1",
                "--s3_port=0",
                "--s3_listen=127.0.0.1",
                "--osapi_port=0",
                "--osapi_listen=127.0.0.1",
            ]
        )
        top = makeService(options)
        # Stopped even when it fails to start: its thread pools would keep
        # the test process alive.
        self.addCleanup(top.stopService)
        top.startService()
        yield waitReady(top.novaServices)
        ec2Port = top.getServiceNamed("ec2-api")._port.getHost().port
        s3Port = top.getServiceNamed("s3")._port.getHost().port
        credentials = dict(
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="nova",
            config=BotoConfig(retries={"max_attempts": 1}),
        )
        ec2 = boto3.client(
            "ec2", endpoint_url=f"http://127.0.0.1:{ec2Port}/services/Cloud", **credentials
        )
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3Port}", **credentials)
        self.addCleanup(self.closeClients, top, [ec2, s3])

        def prepare():
            s3.create_bucket(Bucket="scale")
            s3.put_object(Bucket="scale", Key="disk.img", Body=b"\0" * 4096)
            ec2.authorize_security_group_ingress(
                GroupName="default",
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "UserIdGroupPairs": [{"GroupName": "default"}],
                    }
                ],
            )
            return ec2.register_image(ImageLocation="scale/disk.img", Name="scale")["ImageId"]

        self.imageId = yield deferToThread(prepare)
        yield self.waitFor(ec2, lambda: self.imageState(ec2) == "available", "the image")
        return top, ec2

    @defer.inlineCallbacks
    def closeClients(self, top, clients):
        """
        Close the clients' connections, and wait until the cloud's web
        servers have seen them closed.
        """
        for client in clients:
            client.close()
        for _ in range(100):
            if not any(
                type(selectable).__name__.endswith("Channel") for selectable in reactor.getReaders()
            ):
                return
            yield deferLater(reactor, 0.05, lambda: None)

    def imageState(self, ec2):
        return ec2.describe_images(ImageIds=[self.imageId])["Images"][0]["State"]

    @defer.inlineCallbacks
    def waitFor(self, ec2, check, what, attempts=600):
        """
        Run C{check} (blocking, with C{ec2}) in a thread every half second
        until it returns true, at most C{attempts} times.
        """
        for _ in range(attempts):
            done = yield deferToThread(check)
            if done:
                return
            yield deferLater(reactor, 0.5, lambda: None)
        self.fail(f"timed out waiting for {what}")

    @defer.inlineCallbacks
    def launchAndTerminate(self, count):
        """
        @return: L{Deferred} firing with the transactions and the RPC
            messages per instance that a launch and termination of
            C{count} instances took.
        """
        top, ec2 = yield self.startCloud(count)
        transactions = top.db.transactor.count
        messages = sum(top.rpc.counts.values())
        reservation = yield deferToThread(
            ec2.run_instances,
            ImageId=self.imageId,
            MinCount=count,
            MaxCount=count,
            InstanceType="m1.tiny",
        )
        ids = [instance["InstanceId"] for instance in reservation["Instances"]]
        self.assertEqual(len(ids), count)
        reservationId = reservation["ReservationId"]
        polls = 0

        @defer.inlineCallbacks
        def waitUntilAll(state):
            # Read the database directly, one transaction a poll, so that
            # the polls can be taken off the count.
            nonlocal polls
            for _ in range(3000):
                polls += 1
                instances = yield top.db.instances.list(reservationId=reservationId)
                found = [instance.state for instance in instances]
                self.assertNotIn("error", found)
                if found.count(state) == count:
                    return
                yield deferLater(reactor, 0.2, lambda: None)
            self.fail(f"timed out waiting for {count} instances to be {state}")

        yield waitUntilAll("running")
        yield deferToThread(ec2.terminate_instances, InstanceIds=ids)
        yield waitUntilAll("terminated")
        return (
            (top.db.transactor.count - transactions - polls) / count,
            (sum(top.rpc.counts.values()) - messages) / count,
        )

    @defer.inlineCallbacks
    def test_costPerInstanceDoesNotGrow(self):
        """
        300 instances cost no more per instance than 30, and both stay
        under fixed bounds.
        """
        smallTransactions, smallMessages = yield self.launchAndTerminate(30)
        largeTransactions, largeMessages = yield self.launchAndTerminate(300)
        self.assertLessEqual(smallTransactions, TRANSACTIONS_PER_INSTANCE)
        self.assertLessEqual(largeTransactions, TRANSACTIONS_PER_INSTANCE)
        self.assertLessEqual(smallMessages, MESSAGES_PER_INSTANCE)
        self.assertLessEqual(largeMessages, MESSAGES_PER_INSTANCE)
        # The requests themselves (RunInstances, TerminateInstances) cost
        # a few transactions whatever the count, fewer per instance for
        # more instances; the heartbeats add a few per second of the run.
        self.assertLessEqual(largeTransactions, smallTransactions + 1)
        self.assertLessEqual(largeMessages, smallMessages + 0.5)
