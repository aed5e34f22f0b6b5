"""
End to end through the OpenStack API's real clients, as a user of C{make
run}'s cloud would drive it, against nova-all on its embedded defaults
(SQLite, the in-process bus) and against Nova's daemons as separate
processes (nova-api, nova-objectstore, nova-scheduler, nova-network,
nova-compute on the fake hypervisor) over RabbitMQ and PostgreSQL:

  - apache-libcloud's OpenStack 1.1 driver (logging in through v1.0)
    creates a server and sees it ACTIVE with its address, reboots it,
    resizes it and confirms, resizes it and reverts, snapshots it to an
    image, boots a second server from that image and deletes both;
  - the C{openstack} command, with the usual C{OS_*} variables, creates
    a server by image name, flavor and key pair, lists, shows and reboots
    it, gives it a floating address (seen in C{server show}) and deletes
    it;
  - the EC2 API (boto3) shows the same instances, with the same state,
    image, flavor, key pair, addresses and metadata.
"""

import json
import os
import subprocess
import uuid

from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.api.openstack.test_cli import openstackCommand
from tests.db.backends import freshURI
from tests.integration.processes import Daemon, separateDaemons, startDaemons
from tests.integration.test_ec2_e2e import CloudFlowMixin, privateRabbitVhost, waitUntil
from tests.util import requireCondition, workerPort

#: This module's own ports (L{tests.util.workerPort}): EC2 (and the
#: metadata service), S3, the OpenStack API.
EC2_PORT = workerPort(18550)
S3_PORT = workerPort(18551)
OSAPI_PORT = workerPort(18552)

#: The ports of the options every deployment of the test shares.
PORT_FLAGS = (
    f"--ec2_port={EC2_PORT}",
    f"--s3_port={S3_PORT}",
    f"--osapi_port={OSAPI_PORT}",
    "--ec2_listen=127.0.0.1",
    "--s3_listen=127.0.0.1",
    "--osapi_listen=127.0.0.1",
    "--osapi_host=127.0.0.1",
    "--s3_host=127.0.0.1",
    "--ec2_host=127.0.0.1",
    "--report_interval=1",
)

#: The EC2 state each OpenStack status stands for.
EC2_STATE = {"ACTIVE": "running", "SHUTOFF": "stopped"}


class OpenStackScenarioMixin(CloudFlowMixin):
    """
    The OpenStack clients' scenario; L{startCloud} starts the deployment.
    """

    #: It takes about 35 seconds on an idle machine.
    timeout = 180

    def setUp(self):
        self.command = openstackCommand()
        requireCondition(
            self.command is not None, "python-openstackclient is not installed (the test extra)"
        )

    @defer.inlineCallbacks
    def test_scenario(self):
        self.state = os.path.abspath(self.mktemp())
        self.home = os.path.abspath(self.mktemp())
        os.makedirs(self.home)
        self.ec2URL = f"http://127.0.0.1:{EC2_PORT}/services/Cloud"
        self.s3URL = f"http://127.0.0.1:{S3_PORT}"
        self.osapiURL = f"http://127.0.0.1:{OSAPI_PORT}"
        daemons = yield self.startCloud()
        yield deferToThread(self.runScenario)
        for daemon in reversed(daemons):
            code = yield daemon.stop()
            self.assertIn(code, (0, -15))
            self.assertNotIn("Traceback", daemon.log(), daemon.name)

    def prepareCloud(self):
        CloudFlowMixin.prepareCloud(self)
        # The libcloud and CLI servers, the server booted from the
        # snapshot, and a terminating one may all count at once.
        self.manage("project", "quota", "alice", "instances", "5")

    def runScenario(self):
        self.ec2 = self.client("ec2", self.aliceKeys)
        imageId = self.registerImage("cirros")
        self.libcloudScenario(imageId)
        self.cliScenario()

    def registerImage(self, name):
        """
        Upload a disk image through S3 and register it through EC2 as
        alice, and wait until it is available.

        @return: its EC2 id (the OpenStack APIs' image id too).
        """
        s3 = self.client("s3", self.aliceKeys)
        s3.create_bucket(Bucket="images")
        s3.put_object(Bucket="images", Key="disk.img", Body=b"\xeb\x63\x90" + os.urandom(4093))
        imageId = self.ec2.register_image(ImageLocation="images/disk.img", Name=name)["ImageId"]

        def available():
            [image] = self.ec2.describe_images(ImageIds=[imageId])["Images"]
            self.assertNotEqual(image["State"], "failed", image)
            return image["State"] == "available"

        waitUntil(available, what=f"{imageId} to be available")
        return imageId

    # -- EC2 -----------------------------------------------------------

    def ec2Instance(self, fixedAddress):
        """
        @return: the EC2 description of the instance (not terminated) whose
            private address is C{fixedAddress}.
        """
        found = [
            instance
            for reservation in self.ec2.describe_instances()["Reservations"]
            for instance in reservation["Instances"]
            if instance.get("PrivateIpAddress") == fixedAddress
            and instance["State"]["Name"] != "terminated"
        ]
        self.assertEqual(len(found), 1, found)
        return found[0]

    def assertSameInstance(self, server, status, image, flavor, key=None, metadata=None):
        """
        The EC2 API shows the server as the same instance, in the state its
        status stands for.

        @param server: C{(fixed address, floating address or None)}.
        """
        fixed, floating = server
        instance = self.ec2Instance(fixed)
        self.assertEqual(instance["State"]["Name"], EC2_STATE[status], instance)
        self.assertEqual(instance["ImageId"], image)
        self.assertEqual(instance["InstanceType"], flavor)
        if key is not None:
            self.assertEqual(instance["KeyName"], key)
        if floating is not None:
            self.assertEqual(instance["PublicIpAddress"], floating)
        if metadata is not None:
            tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
            self.assertEqual({k: tags.get(k) for k in metadata}, metadata)
        return instance

    def waitForReboots(self, fixedAddress, count):
        """
        Wait until the EC2 API's console output of the instance whose
        private address is C{fixedAddress} tells of C{count} reboots (the
        fake hypervisor writes a line on each).
        """
        instanceId = self.ec2Instance(fixedAddress)["InstanceId"]

        def rebooted():
            output = self.ec2.get_console_output(InstanceId=instanceId).get("Output") or ""
            return output.count("reboot: Restarting system") == count

        waitUntil(rebooted, timeout=30, step=0.2, what=f"{instanceId} to reboot")

    def waitAllTerminated(self):
        """
        Wait until the EC2 API shows every instance terminated (so that
        their fixed addresses are free, and name no other instance).
        """

        def terminated():
            states = [
                i["State"]["Name"]
                for r in self.ec2.describe_instances()["Reservations"]
                for i in r["Instances"]
            ]
            for state in states:
                self.assertIn(state, ("shutting-down", "terminated"))
            return set(states) == {"terminated"}

        waitUntil(terminated, timeout=30, step=0.2, what="the instances to terminate")

    # -- libcloud ------------------------------------------------------

    def libcloudScenario(self, imageId):
        access, _ = self.aliceKeys
        driver = get_driver(Provider.OPENSTACK)(
            "alice",
            access,
            secure=False,
            api_version="1.1",
            ex_force_auth_url=self.osapiURL,
            ex_force_auth_version="1.0",
            ex_force_base_url=f"{self.osapiURL}/v1.1",
        )
        sizes = {size.name: size for size in driver.list_sizes()}
        [image] = [i for i in driver.list_images() if i.id == imageId]
        self.assertEqual(image.name, "cirros")
        driver.create_key_pair("K")

        def details(nodeId, status):
            node = driver.ex_get_node_details(nodeId)
            self.assertNotEqual(node.state, NodeState.ERROR, node.extra.get("fault"))
            return node if status(node) else None

        def waitActive(nodeId, flavor):
            return waitUntil(
                lambda: details(
                    nodeId,
                    lambda n: n.state == NodeState.RUNNING
                    and n.extra["vm_state"] == "active"
                    and n.extra["task_state"] is None
                    and n.extra["flavorId"] == sizes[flavor].id
                    and n.private_ips,
                ),
                timeout=30,
                step=0.1,
                what=f"server {nodeId} ACTIVE as {flavor}",
            )

        def waitResized(nodeId, flavor):
            return waitUntil(
                lambda: details(
                    nodeId,
                    lambda n: n.extra["vm_state"] == "resized"
                    and n.extra["task_state"] is None
                    and n.extra["flavorId"] == sizes[flavor].id,
                ),
                timeout=30,
                step=0.1,
                what=f"server {nodeId} VERIFY_RESIZE as {flavor}",
            )

        node = driver.create_node(
            name="web", size=sizes["m1.tiny"], image=image, ex_keyname="K",
            ex_metadata={"made-by": "libcloud"},
        )
        node = waitActive(node.id, "m1.tiny")
        [fixed] = node.private_ips
        self.assertTrue(fixed.startswith("10.20.0."), fixed)
        self.assertEqual(node.extra["key_name"], "K")
        self.assertSameInstance(
            (fixed, None), "ACTIVE", imageId, "m1.tiny", "K", {"made-by": "libcloud"}
        )

        self.waitForReboots(fixed, 0)
        self.assertTrue(driver.reboot_node(node))
        waitActive(node.id, "m1.tiny")
        self.waitForReboots(fixed, 1)

        # Resize and confirm: the server keeps the new flavor.
        self.assertTrue(driver.ex_resize(node, sizes["m1.small"]))
        waitResized(node.id, "m1.small")
        self.assertTrue(driver.ex_confirm_resize(node))
        waitActive(node.id, "m1.small")
        self.assertSameInstance((fixed, None), "ACTIVE", imageId, "m1.small")

        # Resize and revert: back to the flavor it had.
        self.assertTrue(driver.ex_resize(node, sizes["m1.medium"]))
        waitResized(node.id, "m1.medium")
        self.assertTrue(driver.ex_revert_resize(node))
        waitActive(node.id, "m1.small")
        self.assertSameInstance((fixed, None), "ACTIVE", imageId, "m1.small")

        # Snapshot it to an image, and boot that image.
        snapshot = driver.create_image(node, "web-snapshot")
        self.assertTrue(snapshot.id.startswith("ami-"), snapshot.id)
        snapshot = waitUntil(
            lambda: (lambda i: i if i.extra["status"] == "ACTIVE" else None)(
                driver.get_image(snapshot.id)
            ),
            timeout=30,
            step=0.2,
            what=f"the snapshot {snapshot.id} to be ACTIVE",
        )
        self.assertEqual(snapshot.name, "web-snapshot")
        [described] = self.ec2.describe_images(ImageIds=[snapshot.id])["Images"]
        self.assertEqual((described["Name"], described["State"]), ("web-snapshot", "available"))
        second = driver.create_node(name="from-snapshot", size=sizes["m1.tiny"], image=snapshot)
        second = waitActive(second.id, "m1.tiny")
        self.assertEqual(second.extra["imageId"], snapshot.id)
        self.assertSameInstance((second.private_ips[0], None), "ACTIVE", snapshot.id, "m1.tiny")

        self.assertTrue(driver.destroy_node(node))
        self.assertTrue(driver.destroy_node(second))
        waitUntil(
            lambda: not driver.list_nodes(), timeout=30, step=0.2, what="both servers to be gone"
        )
        # EC2 shows them terminated.
        self.waitAllTerminated()

    # -- the openstack command -----------------------------------------

    def environment(self):
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("OS_") and key != "HOME"
        }
        env.update(
            HOME=self.home,
            OS_AUTH_URL=f"{self.osapiURL}/v3",
            OS_USERNAME="alice",
            OS_PASSWORD=self.aliceKeys[1],
            OS_PROJECT_NAME="alice",
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
        )
        return env

    def openstack(self, *args, json_=True):
        """
        Run C{openstack ARGS} (with C{-f json} when C{json_}).

        @return: its decoded JSON output, or its text.
        """
        argv = [self.command, *args]
        if json_:
            argv += ["-f", "json"]
        result = subprocess.run(
            argv, env=self.environment(), capture_output=True, text=True, timeout=60
        )
        self.assertEqual(
            result.returncode,
            0,
            f"openstack {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}",
        )
        return json.loads(result.stdout) if json_ else result.stdout

    def addresses(self, shown):
        """
        @return: the addresses of C{openstack server show -f json}'s
            C{addresses} field (network name -> addresses).
        """
        self.assertIsInstance(shown["addresses"], dict, shown)
        return [a for values in shown["addresses"].values() for a in values]

    def cliScenario(self):
        name = f"cli-{uuid.uuid4().hex[:6]}"
        server = self.openstack(
            "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
            "--key-name", "K", "--wait", name,
        )
        self.assertEqual((server["name"], server["status"]), (name, "ACTIVE"))
        self.assertEqual(server["key_name"], "K")
        servers = self.openstack("server", "list")
        self.assertEqual([(s["Name"], s["Status"]) for s in servers], [(name, "ACTIVE")])
        self.assertEqual((servers[0]["Image"], servers[0]["Flavor"]), ("cirros", "m1.tiny"))
        shown = self.openstack("server", "show", name)
        self.assertEqual((shown["id"], shown["status"]), (server["id"], "ACTIVE"))
        [fixed] = self.addresses(shown)
        self.assertTrue(fixed.startswith("10.20.0."), fixed)
        imageId = self.openstack("image", "show", "cirros")["id"]
        self.assertSameInstance((fixed, None), "ACTIVE", imageId, "m1.tiny", "K")

        self.waitForReboots(fixed, 0)
        self.openstack("server", "reboot", "--wait", name, json_=False)
        self.assertEqual(self.openstack("server", "show", name)["status"], "ACTIVE")
        self.waitForReboots(fixed, 1)

        created = self.openstack("floating", "ip", "create", "nova")
        floating = created["floating_ip_address"]
        self.openstack("server", "add", "floating", "ip", name, floating, json_=False)
        shown = self.openstack("server", "show", name)
        self.assertEqual(sorted(self.addresses(shown)), sorted([fixed, floating]))
        self.assertSameInstance((fixed, floating), "ACTIVE", imageId, "m1.tiny", "K")

        self.openstack("server", "delete", "--wait", name, json_=False)
        self.assertEqual(self.openstack("server", "list"), [])
        self.waitAllTerminated()


class OpenStackNovaAllTests(OpenStackScenarioMixin, TestCase):
    """
    The scenario on nova-all on its embedded defaults: an SQLite file,
    the in-process bus, the fake drivers.
    """

    @defer.inlineCallbacks
    def startCloud(self):
        self.networkHost = "allhost"
        self.sqlConnection = f"sqlite:{self.state}/nova.sqlite"
        self.flags = [f"--state_path={self.state}", *PORT_FLAGS]
        yield deferToThread(self.prepareCloud)
        daemon = Daemon(self, "nova-all", *self.flags, "--host=allhost", name="nova-all").start()
        yield daemon.waitForLog(r"nova-compute on allhost consumes", timeout=60)
        yield daemon.waitForLog(r"nova-api on allhost started", timeout=60)
        return [daemon]


class OpenStackSeparateDaemonsTests(OpenStackScenarioMixin, TestCase):
    """
    The scenario on separate daemons over RabbitMQ and PostgreSQL.
    """

    def setUp(self):
        OpenStackScenarioMixin.setUp(self)
        self.vhost = privateRabbitVhost(self, "nova-os-e2e-")

    @defer.inlineCallbacks
    def startCloud(self):
        self.sqlConnection = freshURI(self, "postgres")
        self.networkHost = "net1"
        self.flags = [
            f"--state_path={self.state}",
            f"--sql_connection={self.sqlConnection}",
            "--rpc_backend=amqp",
            f"--rabbit_virtual_host={self.vhost}",
            "--scheduler_driver=simple",
            *PORT_FLAGS,
        ]
        yield deferToThread(self.prepareCloud)
        # nova-compute sends snapshots to nova-objectstore over S3, signing
        # as boss.
        daemons = separateDaemons(self, self.flags, ["--snapshot_upload_user=boss:boss"])
        yield startDaemons(daemons)
        return daemons
