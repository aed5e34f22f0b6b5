"""
A whole cloud on real QEMU for integration tests: nova-all with the
libvirt driver (QEMU software emulation) booting the test guest, whose
kernel, ramdisk and machine image C{nova-manage image register} bundles,
uploads and registers.

The guests join a bridge the test makes (with no address on this host)
and removes afterwards; their domains have names unique to the run.
"""

import os
import subprocess
import uuid

import boto3
from botocore.config import Config as BotoConfig
from twisted.internet import defer
from twisted.internet.threads import deferToThread

from tests.integration.processes import Daemon, runManage
from tests.integration.test_ec2_e2e import freePort, waitUntil
from tests.integration.test_libvirt_guest import (
    domainNames,
    guestDirectory,
    requireLibvirtd,
    undefineDomains,
)
from tests.util import makeTraversable, requireCondition


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


def availableMachineImage(ec2):
    """
    @param ec2: a boto3 EC2 client.
    @return: the one machine image its user owns, once it is available
        (blocking).
    """
    machines = [
        image
        for image in ec2.describe_images(Owners=["self"])["Images"]
        if image["ImageType"] == "machine"
    ]
    if len(machines) != 1:
        raise AssertionError(f"not exactly one machine image: {machines}")
    [machine] = machines
    waitUntil(
        lambda: ec2.describe_images(ImageIds=[machine["ImageId"]])["Images"][0]["State"]
        == "available",
        what="the machine image",
    )
    return machine


class LibvirtCloudMixin:
    """
    A L{twisted.trial.unittest.TestCase} mixin: nova-all on a state
    directory, bridge and domain names of the test's own.

    @cvar bridgePrefix: the start of the bridge's name (three letters).
    @cvar domainPrefix: the start of the domains' names.
    @cvar computeHost: nova-all's C{--host}.
    @cvar openstackAPI: whether the OpenStack API listens (on
        C{self.osPort}).
    @ivar run: six hex digits unique to the run.
    """

    bridgePrefix = "nvb"
    domainPrefix = "nt"
    computeHost = "libvirthost"
    openstackAPI = False

    def setUpLibvirtCloud(self):
        """
        Skip without libvirtd or root; make the bridge and the state
        directory, and clean up the bridge and the run's domains.
        """
        requireLibvirtd()
        requireCondition(os.geteuid() == 0, "needs root to make a bridge")
        self.guest = guestDirectory()
        self.run = uuid.uuid4().hex[:6]
        self.bridge = f"{self.bridgePrefix}{self.run}"
        run("ip", "link", "add", "name", self.bridge, "type", "bridge")
        self.addCleanup(subprocess.run, ["ip", "link", "del", self.bridge], capture_output=True)
        run("ip", "link", "set", self.bridge, "up")
        self.addCleanup(self.undefineLeftovers)
        # QEMU runs as another user: the state directory must be traversable.
        self.state = os.path.abspath(self.mktemp())
        os.makedirs(self.state)
        makeTraversable(os.path.dirname(self.state), self.state)

    def undefineLeftovers(self):
        return deferToThread(undefineDomains, f"{self.domainPrefix}{self.run}-")

    def domains(self):
        return domainNames(f"{self.domainPrefix}{self.run}-")

    def manage(self, *argv):
        code, out, err = runManage(*self.flags, *argv, timeout=300)
        self.assertEqual(code, 0, f"nova-manage {' '.join(argv)}: {err}")
        return out

    def client(self):
        return boto3.client(
            "ec2",
            endpoint_url=f"http://127.0.0.1:{self.ec2Port}/services/Cloud",
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            region_name="nova",
            config=BotoConfig(retries={"max_attempts": 1}),
        )

    @defer.inlineCallbacks
    def startNovaAll(self, *extraFlags):
        """
        Run C{self.prepare} (in a thread) with nova-manage, then nova-all,
        and wait for its compute service.

        @return: a L{Deferred} firing with the
            L{tests.integration.processes.Daemon}.
        """
        with open(os.path.join(self.guest, "cmdline")) as f:
            cmdline = f.read().strip()
        self.ec2Port, self.s3Port = freePort(), freePort()
        self.osPort = freePort() if self.openstackAPI else 0
        self.flags = [
            f"--state_path={self.state}",
            f"--host={self.computeHost}",
            f"--ec2_port={self.ec2Port}",
            f"--s3_port={self.s3Port}",
            "--ec2_listen=127.0.0.1",
            "--s3_listen=127.0.0.1",
            f"--osapi_port={self.osPort}",
            "--osapi_listen=127.0.0.1",
            "--connection_type=libvirt",
            "--libvirt_type=qemu",
            f"--libvirt_cmdline={cmdline}",
            f"--flat_network_bridge={self.bridge}",
            f"--instance_name_template={self.domainPrefix}{self.run}-%08x",
            *extraFlags,
        ]
        yield deferToThread(self.prepare)
        daemon = Daemon(self, "nova-all", *self.flags).start()
        yield daemon.waitForLog(
            rf"nova-compute on {self.computeHost} consumes compute", timeout=60
        )
        return daemon
