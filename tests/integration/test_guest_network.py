"""
A real guest on real networking, driven through the EC2 API: C{nova-all}
with the libvirt driver (QEMU), the FlatDHCP network manager, the linux_net
driver and the iptables firewall, and boto3 as the user.

The test builds a small host of its own and never touches the machine's own
interfaces, routes or C{/etc/resolv.conf}:

  - C{ng-<id>-srv}: a network namespace that is the cloud host's network
    stack.  C{nova-all} runs inside it (C{ip netns exec}), so its bridge,
    dnsmasq, iptables chains, floating addresses and the EC2/metadata
    listener all live there.  Its C{pub0} is the public interface.
  - C{ng-<id>-pub}: the outside world, joined to C{pub0} by a veth pair.
    The user's boto3 client and the HTTP requests to the guest's floating
    address run in a thread that joined this namespace.
  - C{ngb<id>}: a bridge (no address) in the root namespace, where libvirtd
    plugs the guest's tap; a veth pair joins it to the srv namespace's
    C{eth1}, the C{--flat_interface} nova bridges into its own C{ngb<id>}.

The guest leases its fixed address from nova's dnsmasq, reads its
instance id and user-data from the metadata service through the
169.254.169.254 DNAT, and serves a page on port 80 (busybox httpd).  From
the public namespace the page answers on the floating address exactly while
a security group rule admits port 80.  Terminating the instance removes its
firewall chain and NAT rules, unbinds the floating address and frees the
fixed address (dnsmasq's release reaches nova through nova-dhcpbridge).
"""

import ctypes
import glob
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config as BotoConfig
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from tests.integration.processes import Daemon, runManage
from tests.integration.test_ec2_e2e import waitUntil
from tests.integration.libvirtcloud import availableMachineImage, registerTestGuest
from tests.integration.test_libvirt_guest import (
    domainNames,
    guestDirectory,
    requireLibvirtd,
    undefineDomains,
)
from tests.util import makeTraversable, requireCondition

CLONE_NEWNET = 0x40000000
FIXED_RANGE = "10.61.0.0/24"
SRV_PUBLIC = "192.0.2.1"
OUTSIDE = "192.0.2.100"
FLOATING = "192.0.2.64"


def run(*argv, check=True, timeout=60):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def inNamespace(name, function, *args):
    """
    Call C{function(*args)} in a new thread that first joins the network
    namespace C{name}; sockets it opens belong to that namespace.  The
    thread ends with the call, so no other code ever runs in it.

    @return: L{Deferred} firing with the result.
    """
    d = Deferred()
    libc = ctypes.CDLL(None, use_errno=True)

    def work():
        try:
            fd = os.open(os.path.join("/run/netns", name), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, f"setns {name}: {os.strerror(error)}")
            finally:
                os.close(fd)
            result = function(*args)
        except BaseException:
            failure = Failure()
            reactor.callFromThread(d.errback, failure)
        else:
            reactor.callFromThread(d.callback, result)

    threading.Thread(target=work, name=f"netns-{name}", daemon=True).start()
    return d


def fetch(url, seconds=3.0):
    """
    @return: the body of C{url}, or C{None} if it cannot be fetched within
        C{seconds} (no proxy is ever used).
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=seconds) as response:
            return response.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError):
        return None


class GuestNetworkTests(TestCase):
    timeout = 600

    def setUp(self):
        requireLibvirtd()
        requireCondition(os.geteuid() == 0, "needs root for network namespaces")
        for command in ("ip", "dnsmasq", "dhcp_release", "iptables-save", "iptables-restore"):
            requireCondition(shutil.which(command) is not None, f"{command} is not installed")
        self.guest = guestDirectory()
        tag = uuid.uuid4().hex[:5]
        self.tag = tag
        self.srv, self.pub = f"ng-{tag}-srv", f"ng-{tag}-pub"
        self.bridge = f"ngb{tag}"
        self.namespaces = []
        self.addCleanup(self.tearDownHost)
        self.addCleanup(self.undefineLeftovers)

        # QEMU runs as another user and dnsmasq as nobody: the state
        # directory must be traversable.
        self.state = os.path.abspath(self.mktemp())
        os.makedirs(self.state)
        makeTraversable(os.path.dirname(self.state), self.state)

        for name in (self.srv, self.pub):
            run("ip", "netns", "add", name)
            self.namespaces.append(name)
            # A resolver or DHCP client in the namespace must never touch
            # the host's /etc/resolv.conf.
            os.makedirs(f"/etc/netns/{name}", exist_ok=True)
            open(f"/etc/netns/{name}/resolv.conf", "w").close()
            self.inNs(name, "ip", "link", "set", "dev", "lo", "up")

        # The guests' side: a bridge here (no address), joined to the host.
        run("ip", "link", "add", "name", self.bridge, "type", "bridge")
        run("ip", "link", "add", f"ngv{tag}a", "type", "veth", "peer", "name", f"ngv{tag}b")
        run("ip", "link", "set", f"ngv{tag}a", "master", self.bridge)
        run("ip", "link", "set", f"ngv{tag}b", "netns", self.srv)
        self.inNs(self.srv, "ip", "link", "set", "dev", f"ngv{tag}b", "name", "eth1")
        self.inNs(self.srv, "ip", "link", "set", "dev", "eth1", "up")
        run("ip", "link", "set", f"ngv{tag}a", "up")
        run("ip", "link", "set", self.bridge, "up")

        # The public side.
        run("ip", "link", "add", f"ngp{tag}a", "type", "veth", "peer", "name", f"ngp{tag}b")
        run("ip", "link", "set", f"ngp{tag}a", "netns", self.srv)
        run("ip", "link", "set", f"ngp{tag}b", "netns", self.pub)
        self.inNs(self.srv, "ip", "link", "set", "dev", f"ngp{tag}a", "name", "pub0")
        self.inNs(self.srv, "ip", "addr", "add", f"{SRV_PUBLIC}/24", "dev", "pub0")
        self.inNs(self.srv, "ip", "link", "set", "dev", "pub0", "up")
        self.inNs(self.pub, "ip", "link", "set", "dev", f"ngp{tag}b", "name", "eth0")
        self.inNs(self.pub, "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
        self.inNs(self.pub, "ip", "link", "set", "dev", "eth0", "up")

    def inNs(self, name, *argv, check=True):
        return run("ip", "netns", "exec", name, *argv, check=check).stdout

    def undefineLeftovers(self):
        return deferToThread(undefineDomains, f"ng{self.tag}-")

    def tearDownHost(self):
        # Every process left in the namespaces (dnsmasq above all) goes
        # first: deleting a namespace does not stop them.
        for name in self.namespaces:
            pids = run("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
        run("ip", "link", "del", f"ngv{self.tag}a", check=False)
        run("ip", "link", "del", self.bridge, check=False)
        for name in self.namespaces:
            run("ip", "netns", "del", name, check=False)
            shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)

    def domains(self):
        return domainNames(f"ng{self.tag}-")

    def manage(self, *argv):
        code, out, err = runManage(f"--flagfile={self.flagfile}", *argv, timeout=300)
        self.assertEqual(code, 0, f"nova-manage {' '.join(argv)}: {err}")
        return out

    def fixedIp(self, address):
        """
        @return: C{(instance_id, allocated, leased)} of a fixed address, read
            from the cloud's database.
        """
        [path] = glob.glob(os.path.join(self.state, "nova.sqlite"))
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            row = connection.execute(
                "SELECT instance_id, allocated, leased FROM fixed_ips WHERE address = ?", (address,)
            ).fetchone()
        finally:
            connection.close()
        return (row[0], bool(row[1]), bool(row[2]))

    def writeFlagfile(self):
        with open(os.path.join(self.guest, "cmdline")) as f:
            cmdline = f.read().strip()
        self.flagfile = os.path.join(self.state, "nova.conf")
        flags = [
            f"--state_path={self.state}",
            "--host=cloudhost",
            "--ec2_listen=0.0.0.0",
            "--ec2_port=8773",
            "--s3_listen=127.0.0.1",
            "--connection_type=libvirt",
            "--libvirt_type=qemu",
            f"--libvirt_cmdline={cmdline}",
            f"--instance_name_template=ng{self.tag}-%08x",
            "--network_manager=flatdhcp",
            "--network_driver=linux_net",
            "--firewall_driver=iptables",
            f"--fixed_range={FIXED_RANGE}",
            f"--flat_network_bridge={self.bridge}",
            "--flat_interface=eth1",
            "--public_interface=pub0",
            f"--routing_source_ip={SRV_PUBLIC}",
            f"--ec2_dmz_host={SRV_PUBLIC}",
            # dnsmasq runs nova-dhcpbridge with the same flags: it updates
            # this database (the cloud runs on the in-process bus).
            f"--dhcpbridge_flagfile={self.flagfile}",
        ]
        with open(self.flagfile, "w") as f:
            f.write("\n".join(flags) + "\n")
        os.chmod(self.flagfile, 0o644)

    def prepare(self):
        self.manage("db", "sync")
        self.manage("network", "create", FIXED_RANGE, "1", "256")
        self.manage("floating", "create", "cloudhost", f"{FLOATING}/32")
        self.access, self.secret = f"net-{self.tag}", uuid.uuid4().hex
        self.manage("user", "admin", "admin", self.access, self.secret)
        self.manage("project", "create", "admin", "admin")
        registerTestGuest(self.manage, self.guest, "admin", "admin")

    def srvRules(self, table):
        return self.inNs(self.srv, "iptables-save", "-t", table)

    def flow(self):
        """
        The user's side, run from the public namespace.
        """
        ec2 = boto3.client(
            "ec2",
            endpoint_url=f"http://{SRV_PUBLIC}:8773/services/Cloud",
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            region_name="nova",
            config=BotoConfig(retries={"max_attempts": 1}, proxies={}),
        )
        machine = availableMachineImage(ec2)
        public = ec2.allocate_address()["PublicIp"]
        self.assertEqual(public, FLOATING)
        reservation = ec2.run_instances(
            ImageId=machine["ImageId"],
            MinCount=1,
            MaxCount=1,
            InstanceType="m1.tiny",
            UserData="hello from the user",
        )
        [instance] = reservation["Instances"]
        instanceId = instance["InstanceId"]

        def described():
            [r] = ec2.describe_instances(InstanceIds=[instanceId])["Reservations"]
            return r["Instances"][0]

        def running():
            state = described()["State"]["Name"]
            self.assertNotIn(state, ("terminated", "shutting-down", "error"))
            return state == "running"

        waitUntil(running, timeout=120, what="the instance to run")
        fixed = described()["PrivateIpAddress"]

        def console():
            return ec2.get_console_output(InstanceId=instanceId).get("Output", "")

        waitUntil(lambda: "NOVA READY" in console(), timeout=120, step=1, what="the guest to be ready")
        output = console()
        # Its fixed address, leased from nova's dnsmasq (nova-dhcpbridge
        # told the database), and its metadata through the DNAT.
        self.assertIn(f"NOVA NET {fixed}\n", output.replace("\r", ""))
        self.assertIn(f"NOVA INSTANCE-ID {instanceId}", output)
        self.assertIn("NOVA USER-DATA hello from the user", output)
        self.assertIn("NOVA HTTPD 80", output)
        waitUntil(lambda: self.fixedIp(fixed)[2], timeout=30, what="the lease to reach the database")

        # The floating address, from outside: closed until a rule opens it.
        ec2.associate_address(InstanceId=instanceId, PublicIp=public)
        waitUntil(
            lambda: described().get("PublicIpAddress") == public, what="the floating address"
        )
        self.assertIn(f"-d {public}/32", self.srvRules("nat"))
        url = f"http://{public}/"
        self.assertIsNone(fetch(url), "port 80 answered without a rule")

        permission = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ec2.authorize_security_group_ingress(GroupName="default", IpPermissions=[permission])
        body = waitUntil(lambda: fetch(url), timeout=30, step=0.5, what="port 80 to open")
        self.assertEqual(body, f"NOVA GUEST {instanceId}\n")
        # Only port 80 is open.
        self.assertIsNone(fetch(f"http://{public}:8080/", seconds=2))

        ec2.revoke_security_group_ingress(GroupName="default", IpPermissions=[permission])
        waitUntil(lambda: fetch(url) is None, timeout=30, step=0.5, what="port 80 to close")
        # ...and it stays closed.
        time.sleep(1)
        self.assertIsNone(fetch(url))

        ec2.authorize_security_group_ingress(GroupName="default", IpPermissions=[permission])
        waitUntil(lambda: fetch(url), timeout=30, step=0.5, what="port 80 to open again")

        # Terminate: the domain, its rules, the floating forward and the
        # fixed address all go.
        ec2.terminate_instances(InstanceIds=[instanceId])
        waitUntil(
            lambda: described()["State"]["Name"] == "terminated",
            timeout=120,
            what="the instance to terminate",
        )
        waitUntil(lambda: self.domains() == [], timeout=60, what="no domain left")
        self.assertIsNone(fetch(url))
        [address] = ec2.describe_addresses(PublicIps=[public])["Addresses"]
        self.assertNotIn("InstanceId", address)
        self.assertNotIn(f"{public}", self.srvRules("nat"))
        filterRules = self.srvRules("filter")
        self.assertNotIn(f"-d {fixed}/32", filterRules)
        self.assertNotIn("nova-compute-inst-", filterRules)
        self.assertNotIn(public, self.inNs(self.srv, "ip", "-4", "-o", "addr", "show", "dev", "pub0"))
        waitUntil(
            lambda: self.fixedIp(fixed) == (None, False, False),
            timeout=30,
            what="the fixed address to be freed",
        )
        hosts = glob.glob(os.path.join(self.state, "networks", f"nova-{self.bridge}.conf"))
        self.assertEqual(len(hosts), 1, os.listdir(os.path.join(self.state, "networks")))

        def hostsEmpty():
            with open(hosts[0]) as f:
                return f.read() == ""

        # nova-dhcpbridge frees the address in the database, then rewrites
        # the hosts file: the file follows shortly.
        waitUntil(hostsEmpty, timeout=30, what="the hosts file to forget the address")
        ec2.release_address(PublicIp=public)

    @inlineCallbacks
    def test_guestOnTheNetwork(self):
        self.writeFlagfile()
        yield deferToThread(self.prepare)
        daemon = Daemon(
            self, "nova-all", f"--flagfile={self.flagfile}", prefix=("ip", "netns", "exec", self.srv)
        ).start()
        yield daemon.waitForLog(r"nova-compute on cloudhost consumes compute", timeout=60)
        yield inNamespace(self.pub, self.flow)
        code = yield daemon.stop()
        self.assertIn(code, (0, -15))
        self.assertNotIn("Traceback", daemon.log())
