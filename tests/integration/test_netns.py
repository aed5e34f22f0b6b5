"""
The real network driver and iptables firewall on real kernel objects,
inside network namespaces the tests make (and delete), never on the host's
own interfaces:

  - C{nt-<id>-srv}: the network (and compute) host.  L{LinuxNetDriver}
    runs every command there (C{--network_namespace}); so does the
    L{IptablesFirewallDriver}.  Its C{pub0} is the public interface.
  - C{nt-<id>-pub}: the outside, joined to C{pub0} by a veth pair.
  - C{nt-<id>-g1}, C{nt-<id>-g2}: stand-in guests, each joined to the
    bridge C{br100} of the srv namespace by a veth pair (as libvirt joins
    a guest's tap), with the MAC address of its instance.

A FlatDHCP network manager (real database on SQLite, in-process bus) and a
compute manager (fake hypervisor, iptables firewall) drive it: the guests
get their fixed addresses by DHCP from nova's dnsmasq (busybox udhcpc with
a script that only sets the address and route), dnsmasq's lease callback
runs the real C{nova-dhcpbridge}, a small HTTP server stands in for the
metadata service behind C{169.254.169.254}, floating addresses answer from
the public namespace, and security group rules open and close ports for
real packets.

Needs root, C{ip netns}, dnsmasq, iptables, busybox (udhcpc), nsenter and
curl; skips without them
(fails under C{NOVA_TEST_REQUIRE_SERVICES=1}).  Every test cleans up its
namespaces, processes and C{/etc/netns/<name>} directories, even when it
fails.  Every command and connection has a timeout.
"""

import os
import shutil
import signal
import sys
import tempfile
import uuid

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nova.compute.firewall import IptablesFirewallDriver
from nova.compute.manager import ComputeManager
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.api import inlineDatabase
from nova.manager import ManagerDispatcher
from nova.network.linux_net import LinuxNetDriver
from nova.network.manager import FlatDHCPManager
from nova.network.security_groups import SecurityGroupAPI
from nova.rpc.local import LocalRPC
from nova.service import DrainingDispatcher
from nova.util.process import ReactorProcessRunner, runChecked
from nova.virt.fake import FakeVirtDriver
from tests.util import RABBIT, portOpen, requireCondition, requireServer

CTX = RequestContext(userId="alice", projectId="proj")

FLOATING = "192.0.2.50"
SRV_PUBLIC = "192.0.2.1"
PUB = "192.0.2.100"
METADATA_PORT = 8775

HTTP_SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s %s\\n" % (sys.argv[3], self.path, self.client_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""

UDHCPC_SCRIPT = """#!/bin/sh
# Sets only the address and the default route: never resolv.conf.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    ;;
esac
exit 0
"""

DHCPBRIDGE_WRAPPER = """#!/bin/sh
# What dnsmasq runs: note the call, then run the real nova-dhcpbridge in
# the test's own network namespace (where RabbitMQ answers).
echo "$* FLAGFILE=$FLAGFILE" >> {log}
exec nsenter --net=/proc/{pid}/ns/net -- {bridge} "$@" >> {log}.out 2>&1
"""


def _have(command):
    return shutil.which(command) is not None


def _netnsWorks():
    if os.geteuid() != 0 or not _have("ip"):
        return False
    return os.path.isdir("/run/netns") or os.access("/run", os.W_OK)


class _Background(ProcessProtocol):
    def __init__(self):
        self.ended = Deferred()
        self.output = []

    def outReceived(self, data):
        self.output.append(data)

    errReceived = outReceived

    def processEnded(self, reason):
        self.ended.callback(None)


class NetnsMixin:
    """
    Builds the namespaces, the managers and guest 1 for each test.
    """

    timeout = 180

    async def asyncSetUp(self):
        requireCondition(os.geteuid() == 0, "network namespace tests need root")
        requireCondition(_netnsWorks(), "`ip netns` is not available")
        for command in ("dnsmasq", "iptables-save", "iptables-restore", "busybox", "nsenter", "curl"):
            requireCondition(_have(command), f"{command} is not installed")
        tag = uuid.uuid4().hex[:6]
        self.tag = tag
        self.srv, self.pub = f"nt-{tag}-srv", f"nt-{tag}-pub"
        self.guests = {}
        self.namespaces = []
        self.etcNetns = []
        self.background = []
        # dnsmasq reads its hosts file as nobody: keep the files where
        # nobody can reach them (trial's own temporary directories are
        # private).
        self.work = tempfile.mkdtemp(prefix=f"nova-nt-{tag}-")
        os.chmod(self.work, 0o755)
        self.runner = ReactorProcessRunner(reactor, timeout=30)
        self.addCleanup(lambda: ensureDeferred(self.tearDownAll()))

        await self.makeNamespace(self.srv)
        await self.makeNamespace(self.pub)
        await self.sh("ip", "link", "add", f"nt{tag}p0", "type", "veth", "peer", "name", f"nt{tag}p1")
        await self.sh("ip", "link", "set", f"nt{tag}p0", "netns", self.srv)
        await self.sh("ip", "link", "set", f"nt{tag}p1", "netns", self.pub)
        await self.ns(self.srv, "ip", "link", "set", "dev", f"nt{tag}p0", "name", "pub0")
        await self.ns(self.srv, "ip", "addr", "add", f"{SRV_PUBLIC}/24", "dev", "pub0")
        await self.ns(self.srv, "ip", "link", "set", "dev", "pub0", "up")
        await self.ns(self.pub, "ip", "link", "set", "dev", f"nt{tag}p1", "name", "eth0")
        await self.ns(self.pub, "ip", "addr", "add", f"{PUB}/24", "dev", "eth0")
        await self.ns(self.pub, "ip", "link", "set", "dev", "eth0", "up")

        self.dhcpLog = os.path.join(self.work, "dhcpbridge.log")
        self.flagfile = os.path.join(self.work, "dhcpbridge.conf")
        self.rabbit = portOpen(*RABBIT)
        self.exchange = f"nova-nt-{tag}"
        self.bridgeHost = f"nt-{tag}"
        with open(self.flagfile, "w") as f:
            f.write(f"--host={self.bridgeHost}\n")
            if self.rabbit:
                f.write(f"--rpc_backend=amqp\n--control_exchange={self.exchange}\n")
                f.write(f"--rabbit_host={RABBIT[0]}\n--rabbit_port={RABBIT[1]}\n")
        wrapper = os.path.join(self.work, "dhcpbridge")
        bridge = os.path.join(os.path.dirname(sys.executable), "nova-dhcpbridge")
        with open(wrapper, "w") as f:
            f.write(DHCPBRIDGE_WRAPPER.format(log=self.dhcpLog, pid=os.getpid(), bridge=bridge))
        os.chmod(wrapper, 0o755)
        self.udhcpcScript = os.path.join(self.work, "udhcpc.script")
        with open(self.udhcpcScript, "w") as f:
            f.write(UDHCPC_SCRIPT)
        os.chmod(self.udhcpcScript, 0o755)
        self.serverScript = os.path.join(self.work, "server.py")
        with open(self.serverScript, "w") as f:
            f.write(HTTP_SERVER)

        self.networksPath = os.path.join(self.work, "networks")
        self.config = configFromFlags(
            host="nethost",
            network_manager="flatdhcp",
            network_driver="linux_net",
            network_namespace=self.srv,
            networks_path=self.networksPath,
            fixed_range="10.0.0.0/24",
            flat_network_bridge="br100",
            flat_interface="",
            flat_network_dns="10.0.0.1",
            public_interface="pub0",
            routing_source_ip=SRV_PUBLIC,
            ec2_dmz_host=SRV_PUBLIC,
            ec2_port=METADATA_PORT,
            dhcpbridge=wrapper,
            dhcpbridge_flagfile=self.flagfile,
            firewall_driver="iptables",
        )
        self.db = inlineDatabase("sqlite:", reactor)
        await self.db.sync()
        self.rpc = LocalRPC(reactor, 30)
        plans = FlatDHCPManager.planNetworks(self.config, "10.0.0.0/24", 1, 128)
        [self.network] = await self.db.networks.createNetworks(plans)
        await self.db.networks.createFloatingIps("nethost", [FLOATING])
        self.driver = LinuxNetDriver.fromConfig(self.config, reactor)
        self.netManager = FlatDHCPManager(
            self.config, self.db, self.rpc, reactor, driver=self.driver,
            floatingQuota=lambda projectId: 10,
        )
        await self.netManager.initHost()
        self.dispatchers = [DrainingDispatcher(ManagerDispatcher(self.netManager))]
        await self.rpc.serve("network", "nethost", self.dispatchers[-1])
        self.firewall = IptablesFirewallDriver.fromConfig(self.config, reactor)
        self.compute = ComputeManager(
            self.config, self.db, self.rpc, reactor, FakeVirtDriver(), firewall=self.firewall
        )
        await self.compute.initHost()
        self.dispatchers.append(DrainingDispatcher(ManagerDispatcher(self.compute)))
        await self.rpc.serve("compute", "nethost", self.dispatchers[-1])
        self.securityGroups = SecurityGroupAPI(self.db, self.rpc)
        await self.securityGroups.ensureDefault(CTX)

        await self.startServer(self.srv, SRV_PUBLIC, METADATA_PORT, "metadata")
        self.guest1 = await self.launchGuest("g1", "02:16:3e:00:00:01")

    # -- helpers ---------------------------------------------------------

    async def sh(self, *argv, timeout=20, okCodes=(0,)):
        out, err = await runChecked(self.runner, list(argv), timeout=timeout, okCodes=okCodes)
        return out.decode("utf-8", "replace")

    async def ns(self, namespace, *argv, timeout=20, okCodes=(0,)):
        return await self.sh("ip", "netns", "exec", namespace, *argv, timeout=timeout, okCodes=okCodes)

    async def makeNamespace(self, name):
        await self.sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        # A DHCP client or resolver run in the namespace must never touch
        # the host's /etc/resolv.conf.
        directory = os.path.join("/etc/netns", name)
        os.makedirs(directory, exist_ok=True)
        self.etcNetns.append(directory)
        open(os.path.join(directory, "resolv.conf"), "w").close()
        await self.ns(name, "ip", "link", "set", "dev", "lo", "up")

    def spawn(self, *argv):
        protocol = _Background()
        transport = reactor.spawnProcess(
            protocol, argv[0], list(argv), env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        )
        self.background.append((transport, protocol))
        return protocol

    async def poll(self, check, timeout=15.0, step=0.2, what="a condition"):
        deadline = reactor.seconds() + timeout
        while True:
            value = await check()
            if value:
                return value
            if reactor.seconds() > deadline:
                self.fail(f"timed out waiting for {what}")
            await deferLater(reactor, step, lambda: None)

    async def fetch(self, namespace, url, seconds=2):
        """
        @return: the body of C{url} fetched from C{namespace}, or C{None}
            if it could not be fetched within C{seconds}.
        """
        out, err, code = await self.runner.run(
            ["ip", "netns", "exec", namespace, "curl", "-s", "-f", "--noproxy", "*",
             "--connect-timeout", str(seconds), "-m", str(seconds + 1), url],
            timeout=seconds + 10,
        )
        return out.decode("utf-8", "replace") if code == 0 else None

    async def startServer(self, namespace, address, port, name):
        self.spawn(shutil.which("ip"), "netns", "exec", namespace, sys.executable, self.serverScript,
                   address, str(port), name)
        host = "127.0.0.1" if address == "0.0.0.0" else address

        async def answers():
            return await self.fetch(namespace, f"http://{host}:{port}/ready", seconds=1)

        await self.poll(answers, what=f"the {name} server on {address}:{port}")

    async def launchGuest(self, short, mac):
        """
        Run an instance (network allocation, firewall, fake hypervisor),
        then plug a namespace with the instance's MAC into br100 and let it
        ask for its address by DHCP.

        @return: the instance record, its fixed address set.
        """
        name = f"nt-{self.tag}-{short}"
        await self.makeNamespace(name)
        instance = await self.db.instances.create(
            reservation_id="r-00000001", project_id="proj", user_id="alice",
            instance_type="m1.tiny", vcpus=1, memory_mb=64, local_gb=0,
            hostname=f"guest-{short}", mac_address=mac, state="pending",
        )
        await self.securityGroups.addInstance(CTX, instance.id, ["default"])
        await self.compute.runInstance(CTX, instance.id)
        instance = await self.db.instances.get(instance.id)
        self.assertEqual(instance.state, "running")
        host, guest = f"nt{self.tag}{short}h", f"nt{self.tag}{short}g"
        await self.sh("ip", "link", "add", host, "type", "veth", "peer", "name", guest)
        await self.sh("ip", "link", "set", host, "netns", self.srv)
        await self.sh("ip", "link", "set", guest, "netns", name)
        await self.ns(self.srv, "ip", "link", "set", "dev", host, "master", "br100")
        await self.ns(self.srv, "ip", "link", "set", "dev", host, "up")
        await self.ns(name, "ip", "link", "set", "dev", guest, "name", "eth0")
        await self.ns(name, "ip", "link", "set", "dev", "eth0", "address", mac)
        await self.ns(name, "ip", "link", "set", "dev", "eth0", "up")
        await self.ns(
            name, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "10", "-T", "1",
            "-s", self.udhcpcScript, timeout=30,
        )
        self.guests[short] = name
        return instance

    async def guestAddress(self, short):
        out = await self.ns(self.guests[short], "ip", "-4", "-o", "addr", "show", "dev", "eth0")
        return out.split()[3] if out.split() else None

    async def authorize(self, permission, revoke=False):
        method = self.securityGroups.revokeIngress if revoke else self.securityGroups.authorizeIngress
        await method(CTX, [permission], groupName="default")

    async def waitForRule(self, fragment):
        """
        Wait until the srv namespace's filter table holds a rule with
        C{fragment} (the fanout of a security group change was applied).
        """

        async def present():
            return fragment in await self.ns(self.srv, "iptables-save", "-t", "filter")

        await self.poll(present, what=f"a rule with {fragment!r}")

    async def tearDownAll(self):
        # Runs even when set-up failed half way: everything is looked up
        # with getattr.  First let work the managers still do (a security
        # group refresh cast by fanout, say) finish: deliveries are
        # scheduled a turn of the reactor after they are sent.
        for _ in range(3):
            await deferLater(reactor, 0, lambda: None)
            for dispatcher in getattr(self, "dispatchers", ()):
                await dispatcher.drain()
        for transport, protocol in self.background:
            try:
                transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass
        for transport, protocol in self.background:
            if not protocol.ended.called:
                timeout = reactor.callLater(5, protocol.ended.callback, None)
                await protocol.ended
                if timeout.active():
                    timeout.cancel()
        networksPath = getattr(self, "networksPath", None)
        if networksPath and os.path.isdir(networksPath):
            for name in os.listdir(networksPath):
                if name.endswith(".pid"):
                    try:
                        with open(os.path.join(networksPath, name)) as f:
                            os.kill(int(f.read().strip()), signal.SIGTERM)
                    except (ValueError, ProcessLookupError, FileNotFoundError):
                        pass
        for name in reversed(self.namespaces):
            await self.runner.run(["ip", "netns", "del", name], timeout=20)
        for directory in self.etcNetns:
            shutil.rmtree(directory, ignore_errors=True)
        if getattr(self, "db", None) is not None:
            self.db.transactor.close()
        if getattr(self, "work", None):
            shutil.rmtree(self.work, ignore_errors=True)


class NetnsTests(NetnsMixin, TestCase):
    def setUp(self):
        return ensureDeferred(self.asyncSetUp())

    async def test_dhcpGivesTheFixedAddress(self):
        """
        The guest's DHCP request is answered by nova's dnsmasq with the
        instance's fixed address, and dnsmasq calls nova-dhcpbridge with
        the lease and the flagfile.
        """
        self.assertEqual(self.guest1.fixed_ip, "10.0.0.2")
        self.assertEqual(await self.guestAddress("g1"), "10.0.0.2/25")
        out = await self.ns(self.guests["g1"], "ip", "route", "show", "default")
        self.assertIn("via 10.0.0.1", out)

        def logged():
            try:
                with open(self.dhcpLog) as f:
                    return f.read()
            except FileNotFoundError:
                return ""

        async def called():
            return "add 02:16:3e:00:00:01 10.0.0.2" in logged()

        await self.poll(called, what="dnsmasq to run nova-dhcpbridge")
        self.assertIn("add 02:16:3e:00:00:01 10.0.0.2 guest-g1 FLAGFILE=" + self.flagfile, logged())
        with open(os.path.join(self.networksPath, "nova-br100.conf")) as f:
            self.assertEqual(f.read(), "02:16:3e:00:00:01,guest-g1,10.0.0.2\n")

    async def test_dhcpbridgeReachesNetworkService(self):
        """
        nova-dhcpbridge, run by dnsmasq, casts leaseFixedIp over RabbitMQ
        to this host's network topic, and the network manager marks the
        address leased.
        """
        requireServer("RabbitMQ", *RABBIT)
        from nova.rpc.amqp import AMQPRPC

        config = configFromFlags(
            rpc_backend="amqp", control_exchange=self.exchange, rabbit_host=RABBIT[0],
            rabbit_port=RABBIT[1], rpc_call_timeout=10.0,
        )
        amqp = AMQPRPC(config, reactor)
        amqp.startService()
        self.addCleanup(lambda: ensureDeferred(self.deleteBrokerObjects()))
        self.addCleanup(amqp.stopService)
        # Only this host's queue: the cast goes to network.<host> on this
        # test's own exchange.
        await amqp.serve(f"network.{self.bridgeHost}", "x", ManagerDispatcher(self.netManager))
        second = await self.launchGuest("g2", "02:16:3e:00:00:02")

        async def leased():
            record = await self.db.networks.getFixedIp(second.fixed_ip)
            return record.leased

        try:
            await self.poll(leased, timeout=30, what="the lease to reach the network manager")
        except self.failureException as e:
            logs = []
            for path in (self.dhcpLog, self.dhcpLog + ".out"):
                if os.path.exists(path):
                    with open(path) as f:
                        logs.append(f"{path}:\n{f.read()}")
            self.fail(f"{e}\n" + "\n".join(logs))

    async def deleteBrokerObjects(self):
        from tests.rpc.test_amqp import bareClient, closeBare

        client, channel = await bareClient()
        topic = f"network.{self.bridgeHost}"
        for name in (topic, f"{topic}.x"):
            await channel.queue_delete(queue=name)
        await channel.exchange_delete(exchange=f"{topic}_fanout")
        await channel.exchange_delete(exchange=self.exchange)
        await closeBare(client)

    async def test_metadata(self):
        """
        The guest reaches the metadata service through 169.254.169.254,
        which sees the guest's own fixed address (no source NAT).
        """
        body = await self.fetch(self.guests["g1"], "http://169.254.169.254/latest/meta-data/instance-id", 5)
        self.assertEqual(body, "metadata /latest/meta-data/instance-id 10.0.0.2\n")

    async def test_floatingIpAndFirewall(self):
        """
        A floating address associated by the network manager reaches the
        guest from the public namespace once the default group admits the
        port; revoking the rule closes it again; the guest's own traffic
        leaves from the floating address, and from the routing address
        once disassociated.
        """
        guest = self.guests["g1"]
        await self.startServer(guest, "0.0.0.0", 8080, "guest1")
        await self.startServer(self.pub, PUB, 8081, "outside")
        self.assertEqual(await self.netManager.allocateFloatingIp(CTX), FLOATING)
        fixed = await self.netManager.associateFloatingIp(CTX, FLOATING, self.guest1.id)
        self.assertEqual(fixed, "10.0.0.2")
        out = await self.ns(self.srv, "ip", "-4", "-o", "addr", "show", "dev", "pub0")
        self.assertIn(f"{FLOATING}/32", out)
        url = f"http://{FLOATING}:8080/hello"
        # Default deny: the default group has no rules.
        self.assertIsNone(await self.fetch(self.pub, url))
        await self.authorize({"protocol": "tcp", "fromPort": 8080, "toPort": 8080, "cidrs": ["0.0.0.0/0"]})
        body = await self.poll(lambda: self.fetch(self.pub, url), what="the port to open")
        self.assertEqual(body, f"guest1 /hello {PUB}\n")
        # Outgoing traffic of the guest leaves from its floating address.
        self.assertEqual(
            await self.fetch(guest, f"http://{PUB}:8081/out", 5), f"outside /out {FLOATING}\n"
        )
        await self.authorize(
            {"protocol": "tcp", "fromPort": 8080, "toPort": 8080, "cidrs": ["0.0.0.0/0"]}, revoke=True
        )

        async def closed():
            return await self.fetch(self.pub, url) is None

        await self.poll(closed, what="the port to close")
        # A rule for another port does not open this one.
        await self.authorize({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrs": ["0.0.0.0/0"]})
        await self.waitForRule("-p tcp -m tcp --dport 22 -j ACCEPT")
        self.assertIsNone(await self.fetch(self.pub, url))
        await self.netManager.disassociateFloatingIp(CTX, FLOATING)
        out = await self.ns(self.srv, "ip", "-4", "-o", "addr", "show", "dev", "pub0")
        self.assertNotIn(FLOATING, out)
        self.assertEqual(
            await self.fetch(guest, f"http://{PUB}:8081/out", 5), f"outside /out {SRV_PUBLIC}\n"
        )

    async def test_restartConverges(self):
        """
        A new driver (nova-network restarted) rebuilding the same state
        leaves the nat and filter tables as they were, and dnsmasq running.
        """
        await self.netManager.allocateFloatingIp(CTX)
        await self.netManager.associateFloatingIp(CTX, FLOATING, self.guest1.id)
        before = await self.ns(self.srv, "iptables-save")
        pidFile = os.path.join(self.networksPath, "nova-br100.pid")
        with open(pidFile) as f:
            pid = f.read().strip()
        driver = LinuxNetDriver.fromConfig(self.config, reactor)
        manager = FlatDHCPManager(
            self.config, self.db, self.rpc, reactor, driver=driver, floatingQuota=lambda p: 10
        )
        await manager.initHost()
        after = await self.ns(self.srv, "iptables-save")
        strip = lambda text: sorted(
            line for line in text.splitlines() if line and not line.startswith("#")
        )
        self.assertEqual(strip(after), strip(before))
        with open(pidFile) as f:
            self.assertEqual(f.read().strip(), pid)
        self.assertEqual(
            await self.fetch(self.guests["g1"], "http://169.254.169.254/x", 5), "metadata /x 10.0.0.2\n"
        )

    async def test_vxlanUnderBridge(self):
        """
        vlan mode's VXLAN backend: a VXLAN interface over the public
        interface, enslaved to its bridge with the gateway address; asking
        again changes nothing.
        """
        driver = self.driver
        for _ in range(2):
            name = await driver.ensureVxlan(4242, "pub0")
            self.assertEqual(name, "vxlan4242")
            await driver.ensureBridge("br4242", name, "10.9.0.1/24")
        out = await self.ns(self.srv, "ip", "-d", "-o", "link", "show", "dev", "vxlan4242")
        self.assertIn("vxlan id 4242", out)
        self.assertIn("dstport 4789", out)
        self.assertIn("master br4242", out)
        out = await self.ns(self.srv, "ip", "-4", "-o", "addr", "show", "dev", "br4242")
        self.assertEqual(out.count("inet "), 1)
        self.assertIn("10.9.0.1/24", out)

    async def test_bridgedTrafficBetweenGuests(self):
        """
        With br_netfilter, guests on one bridge reach each other only once
        a rule admits it: the default group naming itself as source.
        """
        value = await self.ns(self.srv, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables", okCodes=(0, 1))
        requireCondition(value.strip() == "1", "br_netfilter does not call iptables for bridged frames")
        await self.launchGuest("g2", "02:16:3e:00:00:02")
        await self.startServer(self.guests["g1"], "0.0.0.0", 8080, "guest1")
        url = "http://10.0.0.2:8080/peer"
        self.assertIsNone(await self.fetch(self.guests["g2"], url))
        await self.authorize({"protocol": "-1", "groups": [{"groupName": "default"}]})
        body = await self.poll(lambda: self.fetch(self.guests["g2"], url), what="the peers to connect")
        self.assertEqual(body, "guest1 /peer 10.0.0.3\n")
