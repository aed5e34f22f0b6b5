"""
The cloudpipe image of C{tools/build-cloudpipe-image.sh} under real QEMU
(software emulation), with the files nova makes for a project's VPN
(L{nova.network.cloudpipe.vpnFiles}, signed by a real certificate
authority in a temporary directory) as its user data on a config drive.

QEMU's user-mode network stands for the project network (10.0.0.0/26, the
gateway 10.0.0.1, the guest given the VPN address 10.0.0.2 by DHCP) and
forwards a UDP port of this host to the guest's OpenVPN port, as the
network host's DNAT does.  The tests check that the guest boots, runs
autorun.sh and that OpenVPN answers there (L{nova.network.vpn.vpnPing});
then that an OpenVPN client, started in a network namespace of the test
with the configuration and certificates of C{nova.zip}, connects and
reaches addresses of the project network through the bridged tunnel.

L{VpnRunTests} does it through nova: C{nova-manage vpn run} launches the
registered image on a real libvirt guest in a vlan network, and the
credentials of C{nova-manage project zipfile} take an OpenVPN client to a
stand-in project guest on the network's bridge.

They skip when QEMU, libvirtd, RabbitMQ or the image's tools are missing
(and fail instead under C{NOVA_TEST_REQUIRE_SERVICES=1}).  Namespaces,
veth pairs, bridges, domains and the RabbitMQ virtual host have names
unique to the run and are removed at the end; QEMU and OpenVPN are killed.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.auth.ca import CertificateAuthority
from nova.config import configFromFlags
from nova.network.cloudpipe import userData, vpnFiles
from nova.network.vpn import CLIENT_CONFIG_NAME, credentialsConfig, vpnPing
from nova.virt.configdrive import thd_writeImage
from tests.network.util import networkRecord
from tests.util import makeTraversable, requireCondition, workerPort

HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(HERE, "tools", "build-cloudpipe-image.sh")
QEMU = shutil.which("qemu-system-x86_64")
OPENVPN = shutil.which("openvpn")
RUN = uuid.uuid4().hex[:6]
#: This host's UDP port forwarded to the guest's OpenVPN (18900-18999).
PORT = workerPort(18900 + int(RUN, 16) % 100)
#: The veth pair between this host (.1) and the client's namespace (.2).
OUTSIDE = "10.255.189.1"
INSIDE = "10.255.189.2"

NETWORK = dict(
    cidr="10.0.0.0/26",
    netmask="255.255.255.192",
    gateway="10.0.0.1",
    broadcast="10.0.0.63",
    dhcp_start="10.0.0.3",
    vlan=100,
    bridge="br100",
    vpn_private_address="10.0.0.2",
    vpn_public_port=PORT,
    project_id="proj1",
)

_imageDirectory = []


def imageDirectory():
    """
    Build the cloudpipe image (once per process; the script returns at
    once when it is built already).

    @return: the directory holding C{vmlinuz} and C{initrd.img}.
    """
    if not _imageDirectory:
        try:
            result = subprocess.run(["bash", BUILD], capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            requireCondition(False, f"building the cloudpipe image failed: {e}")
        requireCondition(
            result.returncode == 0,
            f"building the cloudpipe image failed: {result.stderr.strip()[-500:]}",
        )
        _imageDirectory.append(result.stdout.strip().splitlines()[-1])
    return _imageDirectory[0]


class Child(ProcessProtocol):
    """
    A process of the test: its output kept, its end a L{Deferred}.
    """

    def __init__(self):
        self.output = []
        self.ended = Deferred()

    def outReceived(self, data):
        self.output.append(data)

    errReceived = outReceived

    def processEnded(self, reason):
        self.ended.callback(None)

    def text(self):
        return b"".join(self.output).decode("utf-8", "replace")


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def shQuiet(*argv):
    subprocess.run(argv, capture_output=True, timeout=30)


class CloudpipeImageTests(TestCase):
    timeout = 900

    async def setUp(self):
        requireCondition(QEMU is not None, "qemu-system-x86_64 is missing (run `make services`)")
        requireCondition(os.geteuid() == 0, "the cloudpipe test needs root (namespaces)")
        self.images = await deferToThread(imageDirectory)
        self.tmp = os.path.abspath(self.mktemp())
        os.makedirs(self.tmp)
        self.authority = CertificateAuthority(
            os.path.join(self.tmp, "ca"), reactor, useProjectCA=True
        )
        self.config = configFromFlags(
            network_manager="vlan", cnt_vpn_clients=3, vpn_image_id="ami-0000c10d"
        )
        self.network = networkRecord(**NETWORK)
        self.namespace = f"novacp-{RUN}"
        self.veth = f"ncp{RUN}"
        self.addCleanup(self._removeNetwork)
        # The veth pair first: QEMU's forward listens on this host's end.
        await deferToThread(self._makeNetwork)

    def _makeNetwork(self):
        sh("ip", "netns", "add", self.namespace)
        sh("ip", "link", "add", self.veth + "a", "type", "veth", "peer", "name", self.veth + "b")
        sh("ip", "link", "set", self.veth + "b", "netns", self.namespace)
        sh("ip", "addr", "add", OUTSIDE + "/30", "dev", self.veth + "a")
        sh("ip", "link", "set", self.veth + "a", "up")
        inNs = ("ip", "netns", "exec", self.namespace)
        sh(*inNs, "ip", "addr", "add", INSIDE + "/30", "dev", self.veth + "b")
        sh(*inNs, "ip", "link", "set", self.veth + "b", "up")
        sh(*inNs, "ip", "link", "set", "lo", "up")

    def _removeNetwork(self):
        shQuiet("ip", "link", "del", self.veth + "a")
        shQuiet("ip", "netns", "del", self.namespace)

    def spawn(self, argv):
        child = Child()
        process = reactor.spawnProcess(child, argv[0], argv, env=os.environ.copy())

        async def stop():
            if not child.ended.called:
                try:
                    process.signalProcess("KILL")
                except OSError:
                    pass
                await child.ended

        self.addCleanup(lambda: Deferred.fromCoroutine(stop()))
        return child

    async def bootCloudpipe(self):
        """
        Boot the image with the project's VPN files as its user data.

        @return: the path of its serial console's file.
        """
        files = await deferToThread(vpnFiles, self.config, self.authority, self.network)
        import base64

        drive = os.path.join(self.tmp, "config.iso")
        zipData = base64.b64decode(userData(files))
        await deferToThread(thd_writeImage, {"openstack/latest/user_data": zipData}, drive)
        console = os.path.join(self.tmp, "console.log")
        netdev = (
            "user,id=n0,net=10.0.0.0/26,host=10.0.0.1,dhcpstart=10.0.0.2,"
            f"hostfwd=udp:{OUTSIDE}:{PORT}-10.0.0.2:1194"
        )
        self.qemu = self.spawn(
            [
                QEMU, "-accel", "tcg", "-m", "256", "-no-reboot",
                "-display", "none", "-monitor", "none", "-nodefaults",
                "-kernel", os.path.join(self.images, "vmlinuz"),
                "-initrd", os.path.join(self.images, "initrd.img"),
                "-append", "console=ttyS0 panic=-1 quiet",
                "-drive", f"file={drive},if=virtio,format=raw,readonly=on",
                "-netdev", netdev, "-device", "e1000,netdev=n0",
                "-serial", f"file:{console}",
            ]
        )
        return console

    async def waitForConsole(self, console, line, timeout=400):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.qemu.ended.called:
                self.fail(f"QEMU ended: {self.qemu.text()}")
            if os.path.exists(console):
                with open(console, errors="replace") as f:
                    text = f.read()
                if line in text.splitlines():
                    return text
            await deferLater(reactor, 0.5)
        with open(console, errors="replace") as f:
            self.fail(f"no {line!r} on the console:\n{f.read()[-3000:]}")

    async def test_vpnListensAndBridges(self):
        console = await self.bootCloudpipe()
        text = await self.waitForConsole(console, "NOVA READY")
        self.assertIn("NOVA NET 10.0.0.2", text.splitlines(), text[-3000:])
        self.assertIn("NOVA AUTORUN 0", text.splitlines(), text[-3000:])
        self.assertIn("NOVA OPENVPN 1194", text.splitlines(), text[-3000:])
        # OpenVPN answers a client's hard reset through the forward.
        session = await vpnPing(reactor, OUTSIDE, PORT, timeout=5.0)
        self.assertIsNotNone(session)
        # Nothing answers on a port without a server.
        elsewhere = workerPort(18900 + (PORT - workerPort(18900) + 50) % 100)
        self.assertIsNone(await vpnPing(reactor, OUTSIDE, elsewhere, timeout=1.0))

        requireCondition(OPENVPN is not None, "openvpn is missing (run `make services`)")
        # The client: nova.zip's certificate files and nova-vpn.conf.
        privateKey, certificate, _ = await deferToThread(
            self.authority.signUserCertificate, "alice", "proj1"
        )
        client = os.path.join(self.tmp, "client")
        os.makedirs(client)
        for name, text_ in (
            ("pk.pem", privateKey),
            ("cert.pem", certificate),
            ("cacert.pem", self.authority.projectCertificatePEM("proj1")),
            (CLIENT_CONFIG_NAME, credentialsConfig(self.authority, "proj1", (OUTSIDE, PORT))),
        ):
            with open(os.path.join(client, name), "w") as f:
                f.write(text_)
        os.chmod(os.path.join(client, "pk.pem"), 0o600)
        openvpn = self.spawn(
            [shutil.which("ip"), "netns", "exec", self.namespace, OPENVPN,
             "--cd", client, "--config", "nova-vpn.conf", "--verb", "3"]
        )
        deadline = time.monotonic() + 120
        while "Initialization Sequence Completed" not in openvpn.text():
            if openvpn.ended.called or time.monotonic() > deadline:
                self.fail(f"the OpenVPN client did not connect:\n{openvpn.text()[-3000:]}")
            await deferLater(reactor, 0.5)
        # Through the tunnel and the cloudpipe's bridge: the VPN address and
        # the project network's gateway beyond it.
        for address in ("10.0.0.2", "10.0.0.1"):
            result = await deferToThread(
                subprocess.run,
                ["ip", "netns", "exec", self.namespace, "busybox", "ping", "-c", "1", "-W", "5", address],
                capture_output=True, text=True, timeout=60,
            )
            self.assertEqual(result.returncode, 0, f"{address}: {result.stdout}{result.stderr}")
        # The client took an address of the pool kept for VPN clients.
        shown = subprocess.run(
            ["ip", "netns", "exec", self.namespace, "ip", "-4", "-o", "addr", "show"],
            capture_output=True, text=True, timeout=30,
        ).stdout
        self.assertRegex(shown, r"inet 10\.0\.0\.6[0-2]/26")


PING_SCRIPT = """
import socket, sys
from nova.network.vpn import parseServerReset, resetPacket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for attempt in range(5):
    s.sendto(resetPacket(0x1234), (sys.argv[1], int(sys.argv[2])))
    try:
        data = s.recv(2048)
    except socket.timeout:
        continue
    if parseServerReset(data, 0x1234) is not None:
        print("ANSWERED")
        break
"""


class VpnRunTests(TestCase):
    """
    C{nova-manage vpn run} against C{nova-all} (libvirt with QEMU, the vlan
    network manager over the recording network driver, RabbitMQ in a
    virtual host of the test's own): the cloudpipe image registered as
    C{--vpn_image_id} boots as the project's VPN with nova's files as its
    user data (on a config drive), and OpenVPN answers on the network's
    VPN address, from a namespace of the test plugged into the project
    bridge (which the test makes, the network driver being a recording one).
    """

    timeout = 900

    def setUp(self):
        from tests.integration.test_libvirt_guest import requireLibvirtd
        from tests.util import RABBIT, requireServer

        requireLibvirtd()
        requireServer("RabbitMQ", *RABBIT)
        requireCondition(shutil.which("rabbitmqctl"), "rabbitmqctl is not installed")
        requireCondition(os.geteuid() == 0, "needs root to make a bridge")
        self.images = imageDirectory()
        self.run_ = uuid.uuid4().hex[:6]
        self.vlan = 3900 + int(self.run_, 16) % 90
        self.bridge = f"br{self.vlan}"
        self.namespace = f"novacpr-{self.run_}"
        self.veth = f"ncr{self.run_}"
        self.vhost = f"nova-cloudpipe-{self.run_}"
        sh("rabbitmqctl", "add_vhost", self.vhost)
        self.addCleanup(shQuiet, "rabbitmqctl", "delete_vhost", self.vhost)
        sh("rabbitmqctl", "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        sh("ip", "link", "add", "name", self.bridge, "type", "bridge")
        self.addCleanup(shQuiet, "ip", "link", "del", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        sh("ip", "netns", "add", self.namespace)
        self.addCleanup(shQuiet, "ip", "netns", "del", self.namespace)
        sh("ip", "link", "add", self.veth + "a", "type", "veth", "peer", "name", self.veth + "b")
        self.addCleanup(shQuiet, "ip", "link", "del", self.veth + "a")
        sh("ip", "link", "set", self.veth + "a", "master", self.bridge)
        sh("ip", "link", "set", self.veth + "a", "up")
        sh("ip", "link", "set", self.veth + "b", "netns", self.namespace)
        inNs = ("ip", "netns", "exec", self.namespace)
        # The client's side: one address, and a route to the VPN's only, so
        # that the rest of the project network is reached through the
        # tunnel.
        sh(*inNs, "ip", "addr", "add", "10.62.0.5/32", "dev", self.veth + "b")
        sh(*inNs, "ip", "link", "set", self.veth + "b", "up")
        sh(*inNs, "ip", "link", "set", "lo", "up")
        sh(*inNs, "ip", "route", "add", "10.62.0.2/32", "dev", self.veth + "b")
        # A stand-in for a project guest on the bridge: 10.62.0.10.
        self.guestNs = f"novacpg-{self.run_}"
        self.guestVeth = f"ncg{self.run_}"
        sh("ip", "netns", "add", self.guestNs)
        self.addCleanup(shQuiet, "ip", "netns", "del", self.guestNs)
        sh("ip", "link", "add", self.guestVeth + "a", "type", "veth", "peer", "name", self.guestVeth + "b")
        self.addCleanup(shQuiet, "ip", "link", "del", self.guestVeth + "a")
        sh("ip", "link", "set", self.guestVeth + "a", "master", self.bridge)
        sh("ip", "link", "set", self.guestVeth + "a", "up")
        sh("ip", "link", "set", self.guestVeth + "b", "netns", self.guestNs)
        inGuest = ("ip", "netns", "exec", self.guestNs)
        sh(*inGuest, "ip", "addr", "add", "10.62.0.10/26", "dev", self.guestVeth + "b")
        sh(*inGuest, "ip", "link", "set", self.guestVeth + "b", "up")
        self.addCleanup(self.undefineLeftovers)
        # QEMU runs as another user: the state directory must be traversable.
        self.state = os.path.abspath(self.mktemp())
        os.makedirs(self.state)
        makeTraversable(os.path.dirname(self.state), self.state)

    def undefineLeftovers(self):
        from tests.integration.test_libvirt_guest import undefineDomains

        return deferToThread(undefineDomains, f"ncp{self.run_}-")

    def manage(self, *argv):
        from tests.integration.processes import runManage

        code, out, err = runManage(*self.flags, *argv, timeout=300)
        self.assertEqual(code, 0, f"nova-manage {' '.join(argv)}: {out}{err}")
        return out

    async def test_vpnRun(self):
        from tests.integration.processes import Daemon
        from tests.integration.test_ec2_e2e import freePort

        with open(os.path.join(self.images, "cmdline")) as f:
            cmdline = f.read().strip()
        self.ec2Port, self.s3Port = freePort(), freePort()
        base = [
            f"--state_path={self.state}",
            "--host=cphost",
            "--rpc_backend=amqp",
            f"--rabbit_virtual_host={self.vhost}",
            f"--ec2_port={self.ec2Port}",
            f"--s3_port={self.s3Port}",
            "--ec2_listen=127.0.0.1",
            "--s3_listen=127.0.0.1",
            "--s3_host=127.0.0.1",
            "--osapi_port=0",
            "--osapi_listen=127.0.0.1",
            "--connection_type=libvirt",
            "--libvirt_type=qemu",
            f"--libvirt_cmdline={cmdline}",
            f"--instance_name_template=ncp{self.run_}-%08x",
            "--network_manager=vlan",
            "--network_driver=fake",
            "--force_config_drive",
            "--cnt_vpn_clients=3",
            "--vpn_ip=10.62.0.2",
        ]
        self.flags = base

        def prepare():
            self.manage("db", "sync")
            # The VPN's public port is 1194 and --vpn_ip its private
            # address: the recording network driver forwards nothing, so
            # clients reach it on the bridge.
            self.manage("network", "create", "10.62.0.0/26", "1", "64", str(self.vlan), "1194")
            self.manage("user", "admin", "alice", f"cp-{self.run_}", "secret")
            self.manage("project", "create", "proj1", "alice")
            return self.manage(
                "image", "register",
                os.path.join(self.images, "vmlinuz"),
                os.path.join(self.images, "initrd.img"),
                os.path.join(self.images, "root.img"),
                "proj1", "alice",
            )

        registered = await deferToThread(prepare)
        [machine] = [
            line.split()[0] for line in registered.splitlines() if line.startswith("ami-")
        ]
        self.flags = base + [f"--vpn_image_id={machine}"]
        daemon = Daemon(self, "nova-all", *self.flags).start()
        await daemon.waitForLog(r"nova-compute on cphost consumes compute", timeout=120)

        import boto3
        from botocore.config import Config as BotoConfig

        ec2 = boto3.client(
            "ec2",
            endpoint_url=f"http://127.0.0.1:{self.ec2Port}/services/Cloud",
            aws_access_key_id=f"cp-{self.run_}:proj1",
            aws_secret_access_key="secret",
            region_name="nova",
            config=BotoConfig(retries={"max_attempts": 1}),
        )

        async def until(check, what, timeout=300):
            deadline = time.monotonic() + timeout
            while True:
                value = await deferToThread(check)
                if value:
                    return value
                if time.monotonic() > deadline:
                    self.fail(f"timed out waiting for {what}")
                await deferLater(reactor, 1.0)

        await until(
            lambda: ec2.describe_images(ImageIds=[machine])["Images"][0]["State"] == "available",
            "the cloudpipe image",
        )
        out = await deferToThread(self.manage, "vpn", "run", "proj1")
        [instanceId] = [word for word in out.split() if word.startswith("i-")]

        def console():
            return ec2.get_console_output(InstanceId=instanceId).get("Output", "")

        try:
            text = await until(
                lambda: "NOVA READY" in console() and console(), "NOVA READY", 400
            )
        except self.failureException:
            output = await deferToThread(console)
            self.fail(f"no NOVA READY:\n{output[-2000:]}\n{daemon.log()[-4000:]}")
        lines = text.splitlines()
        self.assertIn("NOVA AUTORUN 0", lines, text[-3000:])
        self.assertIn("NOVA OPENVPN 1194", lines, text[-3000:])
        self.assertIn("NOVA USER-DATA", text)
        result = await deferToThread(
            subprocess.run,
            ["ip", "netns", "exec", self.namespace, sys.executable, "-c", PING_SCRIPT,
             "10.62.0.2", "1194"],
            capture_output=True, text=True, timeout=60, cwd=HERE,
        )
        self.assertIn("ANSWERED", result.stdout, result.stderr)
        listed = await deferToThread(self.manage, "vpn", "list")
        self.assertIn(instanceId, listed)
        self.assertIn("10.62.0.2:1194", listed)

        # nova.zip with nova-vpn.conf: an OpenVPN client in the namespace
        # connects and reaches the project network through the tunnel.
        requireCondition(OPENVPN is not None, "openvpn is missing (run `make services`)")
        client = os.path.join(self.state, "client")
        os.makedirs(client)
        zipPath = os.path.join(client, "nova.zip")
        await deferToThread(self.manage, "project", "zipfile", "proj1", "alice", zipPath)
        import zipfile

        with zipfile.ZipFile(zipPath) as archive:
            archive.extractall(client)
        openvpn = Child()
        process = reactor.spawnProcess(
            openvpn, shutil.which("ip"),
            ["ip", "netns", "exec", self.namespace, OPENVPN, "--cd", client,
             "--config", "nova-vpn.conf", "--verb", "3"],
            env=os.environ.copy(),
        )

        async def stopClient():
            if not openvpn.ended.called:
                try:
                    process.signalProcess("KILL")
                except OSError:
                    pass
                await openvpn.ended

        self.addCleanup(lambda: Deferred.fromCoroutine(stopClient()))
        deadline = time.monotonic() + 120
        while "Initialization Sequence Completed" not in openvpn.text():
            if openvpn.ended.called or time.monotonic() > deadline:
                self.fail(f"the OpenVPN client did not connect:\n{openvpn.text()[-3000:]}")
            await deferLater(reactor, 0.5)
        result = await deferToThread(
            subprocess.run,
            ["ip", "netns", "exec", self.namespace, "busybox", "ping", "-c", "1", "-W", "5",
             "10.62.0.10"],
            capture_output=True, text=True, timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        route = subprocess.run(
            ["ip", "netns", "exec", self.namespace, "ip", "route", "get", "10.62.0.10"],
            capture_output=True, text=True, timeout=30,
        ).stdout
        self.assertNotIn(self.veth, route)
        await stopClient()
        await deferToThread(ec2.terminate_instances, InstanceIds=[instanceId])
        code = await daemon.stop()
        self.assertIn(code, (0, -15))
