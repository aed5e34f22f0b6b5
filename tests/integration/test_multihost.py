"""
Three hosts on one machine (L{tests.integration.multihost}): a controller
and two compute hosts in network namespaces, the real daemons over
RabbitMQ and PostgreSQL, libvirt QEMU guests, FlatDHCP with nova-network's
dnsmasq on the controller and the iptables firewall on each compute host.

Two guests placed on different compute hosts lease their fixed addresses
from the controller's dnsmasq across the hosts' shared L2, read their own
metadata through the controller's DNAT, reach each other (c1's guest
probes port 80 of c2's, see
L{tests.integration.multihost.probingGuest}) exactly while a rule whose
source is their security group admits it, and answer on floating addresses
NATed on the controller exactly while a security group rule (enforced by
each compute host's own iptables) admits port 80.  Then one compute host's
nova-compute is killed and its guest destroyed, as a crash of the machine
would: it shows C{XXX} in C{nova-manage service list}, a new instance goes
to the other host, and when it returns its instance is reconciled (to
C{stopped}: the crash powered its guest off) while the other host's guests
are untouched.  L{VXLANTests} runs the guests' part in vlan mode over
VXLAN.  In L{VolumeTests} a volume exported over iSCSI by the controller
moves from a guest on one compute host, which writes into it, to a guest
on the other, which reads it, and a snapshot of it makes a new volume
with the same data.  In L{CloudpipeTests} C{nova-manage vpn run} boots
the project's cloudpipe VPN on one compute host, and an OpenVPN client in
the outside namespace, with the project's C{nova.zip}, reaches a guest on
the other compute host on its fixed address through the network host's
forward and the tunnel.  Nothing of a run is left behind.
"""

import ipaddress
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from nova.compute import states
from tests.db.backends import freshURI
from tests.integration.multihost import (
    COMPUTES,
    CONTROLLER,
    CONTROLLER_DAEMONS,
    CTL_PUBLIC,
    ISCSI_PORT,
    POSTGRES_PORT,
    MultiHost,
    destroyDomain,
    domainNames,
    listenForwarders,
    parseTargets,
    probingGuest,
)
from tests.integration.processes import Daemon, runManage
from tests.integration.test_cloudpipe import HERE, OPENVPN, PING_SCRIPT, Child, imageDirectory
from tests.integration.test_ec2_e2e import waitUntil
from tests.integration.test_guest_network import fetch, inNamespace
from tests.integration.test_libvirt_ec2 import registerTestGuest
from tests.integration.test_libvirt_guest import guestDirectory, requireLibvirtd
from tests.integration.test_volumes_iscsi import lastDisks
from tests.util import RABBIT, requireCondition, requireServer

FLOATING = ("192.0.2.64", "192.0.2.65")


def alive(pid):
    """
    @return: whether process C{pid} runs (a zombie does not).
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def admits(rules, source, port):
    """
    @param rules: the output of C{iptables-save -t filter}.
    @return: whether a compute host's chains accept TCP port C{port} from
        C{source} through the chain of a source group (which holds the
        group's members) that an instance's chain sends that port to.
    """
    groups = re.findall(rf"^-A (nova-compute-sg-[0-9a-f]+) -s {re.escape(source)}/32 -j ACCEPT$", rules, re.M)
    return any(f"-p tcp -m tcp --dport {port} -j {chain}\n" in rules for chain in groups)


def rabbitmqctl(*argv):
    subprocess.run(["rabbitmqctl", *argv], check=True, capture_output=True, timeout=120)


class MultiHostMixin:
    """
    A three-host deployment in L{mode} for each test, removed after it.
    """

    timeout = 900
    mode = "flat"

    def setUp(self):
        requireLibvirtd()
        requireCondition(os.geteuid() == 0, "needs root for network namespaces")
        requireServer("RabbitMQ", *RABBIT)
        requireServer("PostgreSQL", "127.0.0.1", 5432)
        for command in (
            "ip", "dnsmasq", "dhcp_release", "iptables-save", "iptables-restore", "rabbitmqctl",
            "tgtd", "tgtadm",
        ):
            requireCondition(shutil.which(command) is not None, f"{command} is not installed")
        self.guest = guestDirectory()
        self.vhost = "nova-mh-" + uuid.uuid4().hex[:8]
        rabbitmqctl("add_vhost", self.vhost)
        self.addCleanup(rabbitmqctl, "delete_vhost", self.vhost)
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        # The test reads the database on loopback; the hosts through the
        # forwarder on the management bridge.
        self.sqlLocal = freshURI(self, "postgres")
        self.hosts = MultiHost(self.mktemp(), mode=self.mode)
        self.hosts.sqlConnection = self.sqlLocal.replace(
            "127.0.0.1:5432", f"{self.hosts.mgmtRoot}:{POSTGRES_PORT}"
        )
        self.hosts.rabbitVhost = self.vhost
        self.addCleanup(deferToThread, self.hosts.down)
        self.daemons = {}
        return deferToThread(self.hosts.up).addCallback(lambda _: self.listen())

    def listen(self):
        for port in listenForwarders(reactor, self.hosts.mgmtRoot):
            self.addCleanup(port.stopListening)

    # -- helpers ---------------------------------------------------------

    def manage(self, *argv):
        code, out, err = runManage(f"--flagfile={self.hosts.flagfile(CONTROLLER)}", *argv, timeout=300)
        self.assertEqual(code, 0, f"nova-manage {' '.join(argv)}: {err}")
        return out

    def prepare(self):
        with open(os.path.join(self.guest, "cmdline")) as f:
            self.hosts.writeFlagfiles(f.read().strip())
        self.manage("db", "sync")
        self.manage("network", "create", *self.hosts.networkCreateArgs())
        for address in FLOATING:
            self.manage("floating", "create", CONTROLLER, f"{address}/32")
        self.access, self.secret = f"mh-{self.hosts.tag}", uuid.uuid4().hex
        self.manage("user", "admin", "admin", self.access, self.secret)
        self.manage("project", "create", "admin", "admin")
        # The test guest, also probing the addresses its user data names.
        registerTestGuest(self.manage, probingGuest(self.guest, self.mktemp()), "admin", "admin")

    def startDaemon(self, host, plugin):
        prefix, command = self.hosts.daemonArgv(host, plugin)
        daemon = Daemon(self, plugin, *command[1:], name=f"{host}-{plugin}", prefix=prefix)
        self.daemons[(host, plugin)] = daemon.start()
        return daemon

    @inlineCallbacks
    def pollInThread(self, predicate, timeout, what):
        """
        Call C{predicate} in a thread until it returns a true value (it
        may block: nova-manage reaches PostgreSQL through the forwarder,
        which runs in this reactor).
        """
        deadline = reactor.seconds() + timeout
        while True:
            value = yield deferToThread(predicate)
            if value:
                return value
            if reactor.seconds() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            yield deferLater(reactor, 0.5, lambda: None)

    def serviceStates(self):
        out = self.manage("service", "list")
        return {(row[0], row[1]): row[5] for row in (line.split() for line in out.splitlines()[1:])}

    def instanceRow(self, ec2Id):
        """
        @return: C{(host, state)} of an instance, read from the database
            (over PostgreSQL's unix socket when it has one: this also runs
            in threads that joined the outside namespace).
        """
        import psycopg2

        name = self.sqlLocal.rsplit("/", 1)[1]
        server = "/var/run/postgresql" if os.path.isdir("/var/run/postgresql") else "127.0.0.1"
        connection = psycopg2.connect(host=server, port=5432, user="postgres", dbname=name)
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT host, state FROM instances WHERE id = %s", (int(ec2Id[2:], 16),))
            return cursor.fetchone()
        finally:
            connection.close()

    def rules(self, host, table="filter"):
        return self.hosts.inNs(host, "iptables-save", "-t", table)

    def ec2(self):
        return boto3.client(
            "ec2",
            endpoint_url=f"http://{CTL_PUBLIC}:8773/services/Cloud",
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            region_name="nova",
            config=BotoConfig(retries={"max_attempts": 1}, proxies={}),
        )

    def described(self, ec2, instanceId):
        [r] = ec2.describe_instances(InstanceIds=[instanceId])["Reservations"]
        return r["Instances"][0]

    def waitReady(self, ec2, instanceId):
        """
        Wait until the guest of C{instanceId} runs and tells it is ready.

        @return: its console output.
        """

        def running():
            state = self.described(ec2, instanceId)["State"]["Name"]
            self.assertNotIn(state, ("terminated", "shutting-down"), instanceId)
            return state == "running"

        waitUntil(running, timeout=180, step=0.5, what=f"{instanceId} to run")

        def console():
            output = ec2.get_console_output(InstanceId=instanceId).get("Output", "")
            return output.replace("\r", "") if "NOVA READY" in output else None

        return waitUntil(console, timeout=180, step=1, what=f"{instanceId} to be ready")

    def domainOf(self, host, instanceId):
        return f"{self.hosts.namePrefix(host)}{int(instanceId[2:], 16):08x}"

    def launch(self, ec2, machine, zone=None, probe=None, extra=""):
        """
        @param probe: an address the guest probes on port 80, or C{None}.
        @param extra: more lines of user data (see
            L{tests.integration.multihost.VOLUME}).
        """
        options = {"Placement": {"AvailabilityZone": zone}} if zone else {}
        userData = f"placed at {zone or 'any host'}\n"
        if probe:
            userData += f"probe {probe}\n"
        userData += extra
        reservation = ec2.run_instances(
            ImageId=machine,
            MinCount=1,
            MaxCount=1,
            InstanceType="m1.tiny",
            UserData=userData,
            **options,
        )
        return reservation["Instances"][0]["InstanceId"]

    # -- the user's side, from the public namespace ------------------------

    def guestsOnTwoHosts(self):
        ec2 = self.ec2()
        waitUntil(
            lambda: self._images(ec2),
            timeout=60,
            step=0.5,
            what="the EC2 API and the machine image",
        )
        machine = self._images(ec2)
        # c2's guest first: c1's probes its address.
        self.instances = {"c2": self.launch(ec2, machine, zone="nova:c2")}
        target = waitUntil(
            lambda: self.described(ec2, self.instances["c2"]).get("PrivateIpAddress"),
            timeout=60,
            what="c2's guest's fixed address",
        )
        self.instances["c1"] = self.launch(ec2, machine, zone="nova:c1", probe=target)
        addresses = {}
        for host, instanceId in self.instances.items():
            output = self.waitReady(ec2, instanceId)
            fixed = self.described(ec2, instanceId)["PrivateIpAddress"]
            addresses[host] = fixed
            # Its address from the controller's dnsmasq (over the hosts'
            # shared L2), and its own metadata through the controller.
            self.assertIn(f"NOVA NET {fixed}\n", output)
            self.assertIn(f"NOVA INSTANCE-ID {instanceId}\n", output)
            self.assertIn(f"NOVA USER-DATA placed at nova:{host}\n", output)
            self.assertEqual(self.instanceRow(instanceId)[0], host)
            self.assertEqual(domainNames(self.hosts.namePrefix(host)), [self.domainOf(host, instanceId)])
        self.assertNotEqual(addresses["c1"], addresses["c2"])
        # Each compute host filters for its own instance only.
        for host, other in (("c1", "c2"), ("c2", "c1")):
            rules = self.rules(host)
            self.assertIn(f"-d {addresses[host]}/32", rules)
            self.assertNotIn(f"-d {addresses[other]}/32", rules)

        # Guest to guest across the hosts: c1's guest reaches port 80 of
        # c2's exactly while a rule admits the members of their group.
        def probed():
            output = ec2.get_console_output(InstanceId=self.instances["c1"]).get("Output", "")
            states = [
                line.split()[-1]
                for line in output.replace("\r", "").splitlines()
                if line.startswith(f"NOVA PROBE {target} ")
            ]
            return states[-1] if states else None

        waitUntil(lambda: probed() == "closed", timeout=30, step=1, what="the first probe")
        pair = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupName": "default"}]}
        ec2.authorize_security_group_ingress(GroupName="default", IpPermissions=[pair])
        waitUntil(lambda: probed() == "open", timeout=30, step=1, what="the group's rule to open port 80")
        # (c2's own chains for its guest admit c1's guest to port 80.)
        self.assertTrue(admits(self.rules("c2"), addresses["c1"], 80), self.rules("c2"))
        ec2.revoke_security_group_ingress(GroupName="default", IpPermissions=[pair])
        waitUntil(lambda: probed() == "closed", timeout=30, step=1, what="port 80 to close again")

        # Floating addresses, NATed on the controller, filtered on each
        # compute host: closed until a rule opens port 80.
        for host, public in zip(COMPUTES, FLOATING):
            self.assertEqual(ec2.allocate_address()["PublicIp"], public)
            ec2.associate_address(InstanceId=self.instances[host], PublicIp=public)
        for host, public in zip(COMPUTES, FLOATING):
            waitUntil(
                lambda: self.described(ec2, self.instances[host]).get("PublicIpAddress") == public,
                what=f"{public} on {host}'s instance",
            )
            self.assertIn(f"-d {public}/32", self.rules(CONTROLLER, "nat"))
            self.assertNotIn(public, self.rules(host, "nat"))
            self.assertIsNone(fetch(f"http://{public}/"), "port 80 answered without a rule")
        permission = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ec2.authorize_security_group_ingress(GroupName="default", IpPermissions=[permission])
        for host, public in zip(COMPUTES, FLOATING):
            body = waitUntil(
                lambda: fetch(f"http://{public}/"), timeout=30, step=0.5, what=f"port 80 of {host}'s guest"
            )
            self.assertEqual(body, f"NOVA GUEST {self.instances[host]}\n")
            self.assertIsNone(fetch(f"http://{public}:8080/", seconds=2))
        ec2.revoke_security_group_ingress(GroupName="default", IpPermissions=[permission])
        for host, public in zip(COMPUTES, FLOATING):
            waitUntil(
                lambda: fetch(f"http://{public}/", seconds=1) is None,
                timeout=30,
                step=0.5,
                what=f"port 80 of {host}'s guest to close",
            )
        for public in FLOATING:
            ec2.disassociate_address(PublicIp=public)
            ec2.release_address(PublicIp=public)

    def _images(self, ec2):
        """
        @return: the id of the available machine image, or C{None} (also
            while the EC2 API does not answer yet).
        """
        try:
            images = ec2.describe_images(Owners=["self"])["Images"]
        except (BotoCoreError, ClientError):
            # The API is not answering yet: polled again.
            return None
        machines = [i for i in images if i["ImageType"] == "machine" and i["State"] == "available"]
        return machines[0]["ImageId"] if machines else None

    def launchWhileC1IsDown(self):
        ec2 = self.ec2()
        instanceId = self.launch(ec2, self._images(ec2))
        self.waitReady(ec2, instanceId)
        self.assertEqual(self.instanceRow(instanceId)[0], "c2")
        self.assertIn(self.domainOf("c2", instanceId), domainNames(self.hosts.namePrefix("c2")))
        self.instances["c2-late"] = instanceId

    def terminateAll(self):
        ec2 = self.ec2()
        ids = list(self.instances.values())
        ec2.terminate_instances(InstanceIds=ids)
        for instanceId in ids:
            waitUntil(
                lambda: self.described(ec2, instanceId)["State"]["Name"] == "terminated",
                timeout=120,
                step=0.5,
                what=f"{instanceId} to terminate",
            )
        waitUntil(lambda: domainNames(f"mh{self.hosts.tag}") == [], timeout=60, what="no domain left")
        for host in COMPUTES:
            self.assertNotIn("nova-compute-inst-", self.rules(host))

    @inlineCallbacks
    def startAll(self):
        yield deferToThread(self.prepare)
        for plugin in CONTROLLER_DAEMONS:
            self.startDaemon(CONTROLLER, plugin)
        for host in COMPUTES:
            self.startDaemon(host, "nova-compute")
        for (host, plugin), daemon in list(self.daemons.items()):
            if plugin in ("nova-network", "nova-scheduler", "nova-compute", "nova-volume"):
                yield daemon.waitForLog(rf"{plugin} on {host} consumes", timeout=90)

    @inlineCallbacks
    def stopAllAndRemove(self):
        """
        Terminate the instances, stop the daemons, remove the deployment
        and check that nothing of it is left: namespaces (with their
        iptables rules and dnsmasq), bridges, links, domains.
        """
        yield inNamespace(self.hosts.namespace("pub"), self.terminateAll)
        for (host, plugin), daemon in list(self.daemons.items()):
            code = yield daemon.stop()
            self.assertIn(code, (0, -15), f"{host} {plugin}")
            self.assertNotIn("Traceback", daemon.log(), f"{host} {plugin}")
        # (dnsmasq is what is still running in them.)
        pids = [
            int(pid)
            for name in self.hosts.namespaces()
            for pid in subprocess.run(
                ["ip", "netns", "pids", name], capture_output=True, text=True
            ).stdout.split()
        ]
        self.assertNotEqual(pids, [])
        yield deferToThread(self.hosts.down)
        left = yield deferToThread(self.hosts.leftovers)
        self.assertEqual(left, [])
        yield self.pollInThread(
            lambda: not [pid for pid in pids if alive(pid)], 10, what="their processes to end"
        )
        rootRules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
        self.assertNotIn(self.hosts.fixedRange.split("/")[0].rsplit(".", 1)[0], rootRules)


class FlatDHCPTests(MultiHostMixin, TestCase):
    """
    FlatDHCP: the hosts' C{eth1} share one L2 segment.
    """

    @inlineCallbacks
    def test_guestsAcrossHostsAndAComputeHostFailure(self):
        yield self.startAll()
        yield inNamespace(self.hosts.namespace("pub"), self.guestsOnTwoHosts)

        # c1 crashes: its nova-compute dies, and its guest with it.
        self.daemons[("c1", "nova-compute")].kill()
        yield deferToThread(destroyDomain, self.domainOf("c1", self.instances["c1"]))
        yield self.pollInThread(
            lambda: self.serviceStates().get(("c1", "nova-compute")) == "XXX",
            60,
            what="c1 to show XXX",
        )
        states_ = yield deferToThread(self.serviceStates)
        self.assertEqual(states_[("c2", "nova-compute")], ":-)")
        yield inNamespace(self.hosts.namespace("pub"), self.launchWhileC1IsDown)

        # c1 returns: its instance whose guest was powered off by the crash
        # (the domain is persistent) is stopped, and c2's guests are not
        # taken for c1's orphans.
        c2Domains = yield deferToThread(domainNames, self.hosts.namePrefix("c2"))
        self.assertEqual(len(c2Domains), 2)
        del self.daemons[("c1", "nova-compute")]
        returned = self.startDaemon("c1", "nova-compute")
        yield returned.waitForLog(r"nova-compute on c1 consumes", timeout=90)
        yield self.pollInThread(
            lambda: self.instanceRow(self.instances["c1"])[1] == states.STOPPED,
            60,
            what="c1's instance to be reconciled",
        )
        yield self.pollInThread(
            lambda: self.serviceStates().get(("c1", "nova-compute")) == ":-)",
            60,
            what="c1 to show :-) again",
        )
        self.assertEqual((yield deferToThread(domainNames, self.hosts.namePrefix("c2"))), c2Domains)
        for instanceId in (self.instances["c2"], self.instances["c2-late"]):
            self.assertEqual(self.instanceRow(instanceId), ("c2", states.RUNNING))

        yield self.stopAllAndRemove()


class VXLANTests(MultiHostMixin, TestCase):
    """
    vlan mode with C{--vlan_backend=vxlan}: the project network crosses
    the hosts as a VXLAN over their management interfaces (802.1Q, which
    this kernel lacks, is the only difference from VLANs).
    """

    mode = "vxlan"

    @inlineCallbacks
    def test_guestsAcrossHosts(self):
        yield self.startAll()
        yield inNamespace(self.hosts.namespace("pub"), self.guestsOnTwoHosts)
        for host in (CONTROLLER,) + COMPUTES:
            links = self.hosts.inNs(host, "ip", "-o", "link", "show", "master", self.hosts.bridge)
            self.assertIn(f"vxlan{self.hosts.vlan}", links, host)
        yield self.stopAllAndRemove()


def volumeReads(output):
    """
    @return: what the guest read from its volumes' first sectors
        (C{NOVA VOLUME READ}), in order.
    """
    prefix = "NOVA VOLUME READ "
    return [line[len(prefix):] for line in output.splitlines() if line.startswith(prefix)]


class VolumeTests(MultiHostMixin, TestCase):
    """
    Volumes across hosts: nova-volume on the controller keeps each volume
    in a file exported as an iSCSI target of the controller's tgtd on its
    management address; the guests' QEMU initiator reaches it.  A guest on
    c1 writes a marker into a volume, the volume moves to a guest on c2,
    which reads the marker, and a volume made from a snapshot of it holds
    the marker too (read by c1's guest).
    """

    def setUp(self):
        out = subprocess.run(["qemu-img", "--help"], capture_output=True, text=True).stdout
        requireCondition(" iscsi" in out, "QEMU has no iSCSI block driver (qemu-block-extra)")
        return super().setUp()

    @inlineCallbacks
    def test_volumeMovesBetweenHosts(self):
        yield self.startAll()
        yield inNamespace(self.hosts.namespace("pub"), self.volumeAcrossHosts)
        volumes = os.path.join(self.hosts.hostState(CONTROLLER), "volumes")
        self.assertEqual(os.listdir(volumes), [])
        self.assertEqual(self.hosts.targets(), {})
        yield self.stopAllAndRemove()

    def volumeState(self, ec2, volumeId):
        [volume] = ec2.describe_volumes(VolumeIds=[volumeId])["Volumes"]
        attached = [a["InstanceId"] for a in volume.get("Attachments", []) if a.get("State") == "attached"]
        return volume["State"], attached

    def waitVolume(self, ec2, volumeId, state, instanceId=None):
        want = (state, [instanceId] if instanceId else [])
        waitUntil(
            lambda: self.volumeState(ec2, volumeId) == want,
            timeout=60,
            step=0.5,
            what=f"{volumeId} to be {state} {instanceId or ''}",
        )

    def consoleUntil(self, ec2, instanceId, predicate, what):
        """
        @return: the console output of C{instanceId} once C{predicate}
            holds for it.
        """

        def check():
            output = ec2.get_console_output(InstanceId=instanceId).get("Output", "").replace("\r", "")
            return output if predicate(output) else None

        return waitUntil(check, timeout=60, step=1, what=what)

    def checkIscsiDisk(self, host, instanceId, iqn):
        """
        The domain of C{instanceId} on C{host} has the volume as a network
        disk C{vdb} that QEMU reaches at the controller's portal.
        """
        import libvirt

        connection = libvirt.open("qemu:///system")
        try:
            xml = connection.lookupByName(self.domainOf(host, instanceId)).XMLDesc(0).replace('"', "'")
        finally:
            connection.close()
        [disk] = [d for d in re.findall(r"<disk .*?</disk>", xml, re.S) if "dev='vdb'" in d]
        self.assertIn("protocol='iscsi'", disk)
        self.assertIn(f"name='{iqn}/1'", disk)
        self.assertIn(f"<host name='{self.hosts.mgmtAddress(CONTROLLER)}' port='{ISCSI_PORT}'", disk)

    def sessionsOf(self, tid):
        """
        @return: the initiators' addresses of the sessions of the
            controller's target C{tid}.
        """
        out = self.hosts.tgtadm("--mode", "conn", "--op", "show", "--tid", str(tid)).stdout
        return re.findall(r"IP Address: (\S+)", out)

    def volumeAcrossHosts(self):
        ec2 = self.ec2()
        waitUntil(lambda: self._images(ec2), timeout=60, step=0.5, what="the EC2 API and the machine image")
        machine = self._images(ec2)
        marker = f"mh{self.hosts.tag}-{uuid.uuid4().hex[:8]}"
        self.instances = {
            "c1": self.launch(ec2, machine, zone="nova:c1", extra=f"volume write {marker}\n"),
            "c2": self.launch(ec2, machine, zone="nova:c2", extra="volume\n"),
        }
        c1, c2 = self.instances["c1"], self.instances["c2"]
        volume = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
        self.waitVolume(ec2, volume, "available")
        # Its export: a target of the controller's tgtd, whose portal every
        # host reaches on the management network (a compute machine's own
        # initiator would connect from there).
        [(tid, iqn)] = self.hosts.targets().items()
        self.assertEqual(iqn, f"{self.hosts.targetPrefix()}volume-{int(volume[4:], 16):08x}")
        host, port = self.hosts.portal().split(":")
        for compute in COMPUTES:
            self.hosts.inNs(compute, "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}")
        for instanceId in (c1, c2):
            self.assertIn("NOVA USER-DATA volume", self.waitReady(ec2, instanceId))

        # c1's guest writes the marker into the volume.
        ec2.attach_volume(VolumeId=volume, InstanceId=c1, Device="/dev/vdb")
        self.waitVolume(ec2, volume, "in-use", c1)
        self.assertEqual(self.instanceRow(c1)[0], "c1")
        output = self.consoleUntil(
            ec2,
            c1,
            lambda out: volumeReads(out) and lastDisks(out) == ["vda", "vdb"],
            "c1's guest to read the volume",
        )
        self.assertIn(f"NOVA VOLUME WROTE {marker}\n", output)
        self.assertEqual(volumeReads(output), [f"NOVAVOLUME {marker}"])
        self.checkIscsiDisk("c1", c1, iqn)
        # (QEMU, in the root namespace with libvirtd, logs in from the
        # management bridge.)
        self.assertEqual(self.sessionsOf(tid), [self.hosts.mgmtRoot])

        ec2.detach_volume(VolumeId=volume, InstanceId=c1)
        self.waitVolume(ec2, volume, "available")
        self.consoleUntil(ec2, c1, lambda out: lastDisks(out) == ["vda"], "the volume to leave c1's guest")
        waitUntil(lambda: self.sessionsOf(tid) == [], timeout=30, what="c1's iSCSI session to end")

        # c2's guest reads it.
        ec2.attach_volume(VolumeId=volume, InstanceId=c2, Device="/dev/vdb")
        self.waitVolume(ec2, volume, "in-use", c2)
        output = self.consoleUntil(ec2, c2, volumeReads, "c2's guest to read the volume")
        self.assertEqual(volumeReads(output), [f"NOVAVOLUME {marker}"])
        self.assertNotIn("NOVA VOLUME WROTE", output)
        self.checkIscsiDisk("c2", c2, iqn)

        # A snapshot of it makes a new volume with the marker, which c1's
        # guest reads.
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        waitUntil(
            lambda: ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["State"] == "completed",
            timeout=60,
            step=0.5,
            what=f"{snapshot} to complete",
        )
        copy = ec2.create_volume(SnapshotId=snapshot, AvailabilityZone="nova")["VolumeId"]
        self.waitVolume(ec2, copy, "available")
        copyIqn = f"{self.hosts.targetPrefix()}volume-{int(copy[4:], 16):08x}"
        self.assertEqual(sorted(self.hosts.targets().values()), sorted([iqn, copyIqn]))
        ec2.attach_volume(VolumeId=copy, InstanceId=c1, Device="/dev/vdb")
        self.waitVolume(ec2, copy, "in-use", c1)
        output = self.consoleUntil(
            ec2, c1, lambda out: len(volumeReads(out)) == 2, "c1's guest to read the new volume"
        )
        self.assertEqual(volumeReads(output), [f"NOVAVOLUME {marker}"] * 2)
        self.assertEqual(output.count("NOVA VOLUME WROTE"), 1)
        self.checkIscsiDisk("c1", c1, copyIqn)

        # Detached and deleted, nothing of them is left on the controller.
        for volumeId, instanceId in ((volume, c2), (copy, c1)):
            ec2.detach_volume(VolumeId=volumeId, InstanceId=instanceId)
        for volumeId in (volume, copy):
            self.waitVolume(ec2, volumeId, "available")
        ec2.delete_snapshot(SnapshotId=snapshot)
        for volumeId in (volume, copy):
            ec2.delete_volume(VolumeId=volumeId)
        waitUntil(
            lambda: not [
                v for v in ec2.describe_volumes()["Volumes"] if v["VolumeId"] in (volume, copy)
            ] and not ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"],
            timeout=60,
            step=0.5,
            what="the volumes and the snapshot to be deleted",
        )


#: Addresses kept for VPN clients at the top of the project network.
VPN_CLIENTS = 3


class CloudpipeTests(MultiHostMixin, TestCase):
    """
    Cloudpipe end to end, in vlan mode over VXLAN: the cloudpipe image
    (C{make cloudpipe-image}) is registered and is every daemon's
    C{--vpn_image_id}; a project guest runs on c1 and C{nova-manage vpn
    run} boots the project's VPN guest, which the simple scheduler puts on
    c2 (the host with fewer cores in use).  The controller forwards UDP
    C{--vpn_ip} (the public address C{--routing_source_ip}) at the
    network's VPN port to the VPN guest's OpenVPN, so an OpenVPN client
    started in the outside namespace with the configuration and
    certificates of the project's C{nova.zip} joins the project network,
    and from there reaches port 80 of the guest on c1 on its fixed address
    exactly while a security group rule admits the VPN clients' addresses.
    """

    mode = "vxlan"

    def setUp(self):
        requireCondition(OPENVPN is not None, "openvpn is missing (run `make services`)")
        self.cloudpipe = imageDirectory()
        d = super().setUp()
        self.hosts.extraFlags.append(f"--cnt_vpn_clients={VPN_CLIENTS}")
        return d

    def prepare(self):
        """
        Also register the cloudpipe image and make it the daemons'
        C{--vpn_image_id}.
        """
        super().prepare()
        registered = self.manage(
            "image", "register",
            *(os.path.join(self.cloudpipe, name) for name in ("vmlinuz", "initrd.img", "root.img")),
            "admin", "admin",
        )
        [self.vpnImage] = [line.split()[0] for line in registered.splitlines() if line.startswith("ami-")]
        self.hosts.extraFlags.append(f"--vpn_image_id={self.vpnImage}")
        with open(os.path.join(self.guest, "cmdline")) as f:
            self.hosts.writeFlagfiles(f.read().strip())

    def guestMachine(self, ec2):
        """
        @return: the id of the available test guest's machine image (not
            the cloudpipe's), or C{None}.
        """
        try:
            images = ec2.describe_images(Owners=["self"])["Images"]
        except Exception:
            return None
        states_ = {i["ImageId"]: i["State"] for i in images if i["ImageType"] == "machine"}
        if states_.get(self.vpnImage) != "available":
            return None
        machines = [i for i, state in states_.items() if i != self.vpnImage and state == "available"]
        return machines[0] if machines else None

    def guestOnC1(self):
        """
        Launch the project guest on c1 and wait until it is ready.

        @return: its fixed address.
        """
        ec2 = self.ec2()
        machine = waitUntil(lambda: self.guestMachine(ec2), timeout=60, step=0.5, what="the machine images")
        self.instances = {"c1": self.launch(ec2, machine, zone="nova:c1")}
        self.waitReady(ec2, self.instances["c1"])
        self.assertEqual(self.instanceRow(self.instances["c1"])[0], "c1")
        return self.described(ec2, self.instances["c1"])["PrivateIpAddress"]

    def vpnBoots(self, vpnId):
        """
        Wait until the VPN guest has run its autorun and OpenVPN listens.

        @return: its fixed address (the network's VPN address).
        """
        ec2 = self.ec2()
        vpn = self.described(ec2, vpnId)
        self.assertEqual(vpn["ImageId"], self.vpnImage)
        self.assertEqual(vpn["KeyName"], "admin-vpn")
        output = self.waitReady(ec2, vpnId)
        address = self.described(ec2, vpnId)["PrivateIpAddress"]
        lines = output.splitlines()
        self.assertIn(f"NOVA NET {address}", lines, output[-3000:])
        # Its user data (the zip of its autorun and OpenVPN files) from the
        # metadata service, through the controller.
        self.assertRegex(output, r"(?m)^NOVA USER-DATA [0-9]+ metadata$")
        self.assertIn("NOVA AUTORUN 0", lines, output[-3000:])
        self.assertIn("NOVA OPENVPN 1194", lines, output[-3000:])
        return address

    def openVpnAnswers(self, address, port):
        """
        @return: whether an OpenVPN server answers a client's hard reset
            on UDP C{address:port} (from the calling thread's namespace).
        """
        result = subprocess.run(
            [sys.executable, "-c", PING_SCRIPT, address, str(port)],
            capture_output=True, text=True, timeout=60, cwd=HERE,
        )
        return "ANSWERED" in result.stdout

    def throughTheTunnel(self, guestAddress, pool):
        """
        From the outside namespace, with the client connected: port 80 of
        the guest on its fixed address goes through the tunnel, and
        answers exactly while a rule admits the VPN clients' addresses.
        """
        route = subprocess.run(
            ["ip", "route", "get", guestAddress], capture_output=True, text=True, timeout=30
        ).stdout
        self.assertIn("dev tap", route)
        url = f"http://{guestAddress}/"
        self.assertIsNone(fetch(url, seconds=3), "port 80 answered without a rule")
        ec2 = self.ec2()
        permission = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": pool}]}
        ec2.authorize_security_group_ingress(GroupName="default", IpPermissions=[permission])
        body = waitUntil(lambda: fetch(url), timeout=30, step=0.5, what="port 80 through the VPN")
        self.assertEqual(body, f"NOVA GUEST {self.instances['c1']}\n")
        self.assertIn(f"-s {pool} -p tcp -m tcp --dport 80 -j ACCEPT", self.rules("c1"))
        ec2.revoke_security_group_ingress(GroupName="default", IpPermissions=[permission])
        waitUntil(lambda: fetch(url, seconds=1) is None, timeout=30, step=0.5, what="port 80 to close again")

    @inlineCallbacks
    def startClient(self, directory):
        """
        Start C{openvpn --config nova-vpn.conf} in the outside namespace
        from C{directory} and wait until it is connected.

        @return: the L{Child} and its process transport.
        """
        client = Child()
        process = reactor.spawnProcess(
            client, shutil.which("ip"),
            ["ip", "netns", "exec", self.hosts.namespace("pub"), OPENVPN,
             "--cd", directory, "--config", "nova-vpn.conf", "--verb", "3"],
            env=os.environ.copy(),
        )

        def stop():
            if not client.ended.called:
                try:
                    process.signalProcess("KILL")
                except OSError:
                    pass
            return client.ended

        self.addCleanup(stop)
        deadline = reactor.seconds() + 120
        while "Initialization Sequence Completed" not in client.text():
            if client.ended.called or reactor.seconds() > deadline:
                self.fail(f"the OpenVPN client did not connect:\n{client.text()[-3000:]}")
            yield deferLater(reactor, 0.5, lambda: None)
        return client, process

    @inlineCallbacks
    def test_vpnReachesAGuestOnAnotherHost(self):
        yield self.startAll()
        pub = self.hosts.namespace("pub")
        guestAddress = yield inNamespace(pub, self.guestOnC1)

        out = yield deferToThread(self.manage, "vpn", "run", "admin")
        [vpnId] = re.findall(r"\bi-[0-9a-f]+", out)
        self.instances["vpn"] = vpnId
        vpnAddress = yield inNamespace(pub, self.vpnBoots, vpnId)
        # The scheduler chose the other compute host.
        row = yield deferToThread(self.instanceRow, vpnId)
        self.assertEqual(row[0], "c2")
        self.assertEqual(
            (yield deferToThread(domainNames, self.hosts.namePrefix("c2"))), [self.domainOf("c2", vpnId)]
        )

        # The project's credentials name the controller's public address
        # and the network's VPN port, which the controller forwards to the
        # VPN guest's OpenVPN.
        client = os.path.join(self.hosts.base, "vpn-client")
        os.makedirs(client)
        zipPath = os.path.join(client, "nova.zip")
        yield deferToThread(self.manage, "project", "zipfile", "admin", "admin", zipPath)
        with zipfile.ZipFile(zipPath) as archive:
            archive.extractall(client)
        with open(os.path.join(client, "nova-vpn.conf")) as f:
            [remote] = [line.split()[1:] for line in f.read().splitlines() if line.startswith("remote ")]
        public, port = remote[0], int(remote[1])
        self.assertEqual(public, CTL_PUBLIC)
        nat = self.rules(CONTROLLER, "nat")
        self.assertIn(
            f"-d {public}/32 -p udp -m udp --dport {port} -j DNAT --to-destination {vpnAddress}:1194", nat
        )
        for host in COMPUTES:
            self.assertNotIn("--dport 1194", self.rules(host, "nat"))
        listed = yield deferToThread(self.manage, "vpn", "list")
        self.assertIn(f"{public}:{port}", listed)
        self.assertIn(vpnId, listed)
        answers = yield inNamespace(pub, self.openVpnAnswers, public, port)
        self.assertTrue(answers, "OpenVPN does not answer on the forwarded port")
        # Before the client connects, the outside has no way to the fixed
        # addresses.
        self.assertIsNone((yield inNamespace(pub, fetch, f"http://{guestAddress}/", 1)))

        # The OpenVPN client, with nova.zip, in the outside namespace.
        os.chmod(os.path.join(client, "pk.pem"), 0o600)
        openvpn, process = yield self.startClient(client)
        network = ipaddress.IPv4Network(self.hosts.fixedRange)
        last = network.broadcast_address - 1
        first = last - (VPN_CLIENTS - 1)
        shown = self.hosts.inNs("pub", "ip", "-4", "-o", "addr", "show")
        [mine] = [
            ipaddress.IPv4Address(word.split("/")[0])
            for line in shown.splitlines()
            if " tap" in line
            for word in line.split()
            if word.startswith(str(network.network_address).rsplit(".", 1)[0] + ".")
        ]
        self.assertTrue(first <= mine <= last, f"{mine} is not a VPN client address")
        pool = str(ipaddress.IPv4Network(f"{first}/30", strict=False))
        self.assertEqual(pool, f"{first}/30")
        yield inNamespace(pub, self.throughTheTunnel, guestAddress, pool)

        process.signalProcess("TERM")
        yield openvpn.ended
        self.assertNotIn(" tap", self.hosts.inNs("pub", "ip", "-o", "link", "show"))
        yield self.stopAllAndRemove()


class ParseTargetsTests(TestCase):
    """
    L{parseTargets} reads tgtadm's list of targets.
    """

    def test_targets(self):
        text = (
            "Target 1: iqn.2010-10.org.openstack.mh1a2b:volume-00000001\n"
            "    System information:\n"
            "        Driver: iscsi\n"
            "    LUN information:\n"
            "        LUN: 1\n"
            "            Backing store path: /srv/volume-00000001\n"
            "Target 12: iqn.2010-10.org.openstack.mh1a2b:volume-0000000c\n"
            "    ACL information:\n"
            "        ALL\n"
        )
        self.assertEqual(
            parseTargets(text),
            {
                1: "iqn.2010-10.org.openstack.mh1a2b:volume-00000001",
                12: "iqn.2010-10.org.openstack.mh1a2b:volume-0000000c",
            },
        )

    def test_none(self):
        self.assertEqual(parseTargets(""), {})
