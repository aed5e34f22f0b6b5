"""
Three Nova hosts on one machine, each its own network namespace: a
controller and two compute hosts running the real daemons over RabbitMQ
and PostgreSQL, with libvirt QEMU guests, the linux_net driver in FlatDHCP
mode, the iptables firewall and volumes exported over iSCSI by the
controller's tgtd.  Integration tests use L{MultiHost}; people
try it with C{tools/multihost.sh up|down} (C{python -m
tests.integration.multihost}), and docs/multihost.md walks through it.

Every name starts with C{mh} and the run's tag (four hex digits), so runs
never meet and C{down} removes exactly what C{up} made::

  root namespace                      namespace mh-TAG-ctl (controller)
  --------------                      nova-api objectstore scheduler
  mhTAGm  management bridge,  <-veth-> mgmt0 10.N.1.1   network volume
          address 10.N.1.254          eth1 -> bridge mhbTAG 10.N.0.1,
          (forwards RabbitMQ and            dnsmasq, metadata DNAT
           PostgreSQL from loopback)  pub0 192.0.2.1  <-veth-> mh-TAG-pub
  mhTAGf  the guests' shared L2   <-veth-> (ctl eth1, c1 fl0, c2 fl0)   eth0 192.0.2.100
  mhbTAG1 guest bridge of c1      <-veth-> mh-TAG-c1 eth1  } bridge mhbTAG with
  mhbTAG2 guest bridge of c2      <-veth-> mh-TAG-c2 eth1  } eth1 and fl0, and
                                           (nova-compute, iptables filter)

libvirtd runs in the root namespace and plugs a guest's tap into its
compute host's own bridge there (C{--libvirt_bridge_template={bridge}1}
on c1); the veth pair carries the guest's frames into the compute host's
namespace, where nova-compute's bridge (C{--flat_network_bridge}, with
C{--flat_interface=eth1}) and its iptables chains are, as they would be on
a compute machine whose NIC is C{eth1}.  C{fl0} stands for that NIC's
cable to the other hosts.  Each compute host names its guests with its own
C{--instance_name_template}, so that one host's start-up reconciliation
never takes the other's guests (they share one libvirtd) for orphans.

Volumes: nova-volume on the controller keeps raw files under its state
(the file volume driver; LVM needs the kernel's device-mapper) and exports
each as an iSCSI target (C{--volume_export=iscsi}) of the controller's own
tgtd, whose portal is C{mgmt0}'s address (port 3260 of the controller's
namespace).  That tgtd and the controller's daemons see the directory
C{BASE/ctl-tgtd} as C{/var/run/tgtd} (a bind mount in the mount namespace
each C{ip netns exec} makes), so C{tgtadm} with its default control
socket reaches the controller's tgtd, never the machine's.  The guests'
iSCSI initiator is QEMU's own, so the sessions come from the root
namespace, where libvirtd runs QEMU, over the management bridge
(C{10.N.1.254}), as a compute machine's QEMU would over its management
NIC.

In C{vxlan} mode (vlan mode, C{--vlan_backend=vxlan}) there is no C{fl0}
and the controller has no C{eth1}: nova-network and nova-compute put the
project network's bridge C{brVLAN} on a VXLAN C{vxlanVLAN} over C{mgmt0},
and the compute hosts' guest bridges are C{brVLAN1} and C{brVLAN2}.
"""

import argparse
import ipaddress
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid

from tests.util import makeTraversable, workerPort

CONTROLLER = "ctl"
COMPUTES = ("c1", "c2")
FLOATING = "192.0.2.64"
CTL_PUBLIC = "192.0.2.1"
OUTSIDE = "192.0.2.100"
#: The ports of the RabbitMQ and PostgreSQL forwarders on the management
#: address of the root namespace.
RABBIT_PORT = workerPort(18701)
POSTGRES_PORT = workerPort(18702)
#: The TCP port of the controller's iSCSI portal (its own namespace).
ISCSI_PORT = 3260
#: Where tgtadm and tgtd find tgtd's control socket.
TGT_RUN = "/var/run/tgtd"
#: The controller's daemons, in start order.
CONTROLLER_DAEMONS = (
    "nova-network",
    "nova-scheduler",
    "nova-volume",
    "nova-objectstore",
    "nova-api",
)


def run(*argv, check=True, timeout=60):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def freeVlan():
    """
    @return: a VLAN number whose guest bridges (C{brVLAN1}, C{brVLAN2}) are
        not on this machine.
    """
    links = run("ip", "-o", "link", "show").stdout
    candidates = list(range(2000, 4000))
    random.shuffle(candidates)
    for vlan in candidates:
        if f" br{vlan}" not in links:
            return vlan
    raise RuntimeError("no free VLAN number")


def freeSubnet():
    """
    @return: a second octet C{N} such that no address of this machine is in
        C{10.N.0.0/16}.
    """
    used = run("ip", "-4", "-o", "addr", "show").stdout
    candidates = list(range(64, 250))
    random.shuffle(candidates)
    for n in candidates:
        if f" 10.{n}." not in used:
            return n
    raise RuntimeError("no free 10.N.0.0/16 for the management network")


class MultiHost:
    """
    The namespaces, bridges, flag files and daemon command lines of one
    three-host deployment.

    @ivar tag: four hex digits naming everything of this run.
    @ivar base: the directory of the hosts' state, flag files and logs.
    @ivar subnet: C{N} of C{10.N.1.0/24} (management) and C{10.N.0.0/24}
        (the fixed range).
    """

    def __init__(self, base, tag=None, subnet=None, sqlConnection=None, rabbitVhost="/", mode="flat", vlan=None):
        """
        @param base: a directory for the hosts' state (made if missing).
        @param sqlConnection: the database URI as the hosts see it; by
            default database C{nova_mh_TAG} through the forwarder.
        @param mode: C{flat} (FlatDHCP; the guests' L2 is a bridge of the
            root namespace joining every host's C{eth1} or C{fl0}) or
            C{vxlan} (vlan mode with C{--vlan_backend=vxlan}: each host
            carries the project network over a VXLAN on its C{mgmt0},
            flooding to the other hosts' management addresses).
        @param vlan: the project network's VLAN (VNI) in C{vxlan} mode; its
            bridge is C{brVLAN}.
        """
        if mode not in ("flat", "vxlan"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.tag = tag or uuid.uuid4().hex[:4]
        self.base = os.path.abspath(base)
        self.subnet = subnet if subnet is not None else freeSubnet()
        self.fixedRange = f"10.{self.subnet}.0.0/24"
        self.mgmtRoot = f"10.{self.subnet}.1.254"
        self.database = f"nova_mh_{self.tag}"
        self.sqlConnection = sqlConnection or (
            f"postgres://postgres@{self.mgmtRoot}:{POSTGRES_PORT}/{self.database}"
        )
        self.rabbitVhost = rabbitVhost
        #: More flags for every host (after the others), as
        #: C{--vpn_image_id} once the cloudpipe image is registered.
        self.extraFlags = []
        if mode == "flat":
            self.bridge = f"mhb{self.tag}"
        else:
            self.vlan = vlan if vlan is not None else freeVlan()
            self.bridge = f"br{self.vlan}"

    # -- names ---------------------------------------------------------

    def namespace(self, host):
        """
        @param host: C{ctl}, C{c1}, C{c2} or C{pub} (the outside world).
        """
        return f"mh-{self.tag}-{host}"

    def mgmtAddress(self, host):
        """
        @return: C{host}'s address on the management bridge (C{.1} the
            controller, C{.11} and C{.21} the compute hosts).
        """
        return f"10.{self.subnet}.1.{1 + self.hosts().index(host) * 10}"

    def guestBridge(self, host):
        """
        @return: the root-namespace bridge the guests of compute host
            C{host} are plugged into.
        """
        return f"{self.bridge}{COMPUTES.index(host) + 1}"

    def namePrefix(self, host):
        """
        @return: the prefix of the domain names of compute host C{host}.
        """
        return f"mh{self.tag}{host}-"

    def hostState(self, host):
        return os.path.join(self.base, host)

    def flagfile(self, host):
        return os.path.join(self.base, f"{host}.conf")

    def hosts(self):
        return (CONTROLLER,) + COMPUTES

    def tgtDirectory(self):
        """
        @return: the directory that the controller's tgtd and daemons see
            as C{/var/run/tgtd} (where tgtd's control socket is).
        """
        return os.path.join(self.base, "ctl-tgtd")

    def portal(self):
        """
        @return: C{address:port} of the controller's iSCSI portal.
        """
        return f"{self.mgmtAddress(CONTROLLER)}:{ISCSI_PORT}"

    def targetPrefix(self):
        """
        @return: the prefix of the IQNs of this run's volumes.
        """
        return f"iqn.2010-10.org.openstack.mh{self.tag}:"

    def hostPrefix(self, host):
        """
        @return: the command that runs a command on C{host}: C{ip netns
            exec} into its namespace and, on the controller, with
            L{tgtDirectory} bound on C{/var/run/tgtd} (it must exec the
            command, so that signals reach it).
        """
        prefix = ("ip", "netns", "exec", self.namespace(host))
        if host != CONTROLLER:
            return prefix
        return prefix + (
            "sh", "-c", f'mount --bind "$0" {TGT_RUN} && exec "$@"', self.tgtDirectory(),
        )

    def ownsLink(self, name):
        """
        @return: whether the root-namespace link C{name} is this run's.
        """
        return name.startswith(f"mh{self.tag}") or name in [self.guestBridge(h) for h in COMPUTES]

    def namespaces(self):
        return [self.namespace(h) for h in self.hosts() + ("pub",)]

    # -- the network ---------------------------------------------------

    def inNs(self, host, *argv, check=True):
        return run("ip", "netns", "exec", self.namespace(host), *argv, check=check).stdout

    def tgtadm(self, *argv, check=True):
        """
        Run C{tgtadm --lld iscsi ARGV} against the controller's tgtd.

        @return: the L{subprocess.CompletedProcess}.
        """
        return run(*self.hostPrefix(CONTROLLER), "tgtadm", "--lld", "iscsi", *argv, check=check)

    def targets(self):
        """
        @return: a L{dict} from target id to IQN of the controller's tgtd's
            targets (empty when it does not answer).
        """
        result = self.tgtadm("--mode", "target", "--op", "show", check=False)
        return parseTargets(result.stdout) if result.returncode == 0 else {}

    def startTgtd(self):
        """
        Start the controller's tgtd (it daemonizes; its log is
        C{BASE/ctl-tgtd.log}) and wait until it answers.
        """
        os.makedirs(self.tgtDirectory(), exist_ok=True)
        # The mount point (tgt's package makes it; tgtd too, on its first
        # start).
        os.makedirs(TGT_RUN, exist_ok=True)
        with open(os.path.join(self.base, "ctl-tgtd.log"), "w") as log:
            subprocess.run(
                [*self.hostPrefix(CONTROLLER), "tgtd", "--iscsi", f"portal={self.portal()}"],
                check=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30,
            )
        deadline = time.monotonic() + 10
        while self.tgtadm("--mode", "target", "--op", "show", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the controller's tgtd does not answer")
            time.sleep(0.1)

    def stopTgtd(self):
        """
        Remove the controller's tgtd's targets and stop it (errors are
        ignored).
        """
        if not os.path.isdir(self.tgtDirectory()):
            return
        for tid in self.targets():
            self.tgtadm("--mode", "target", "--op", "delete", "--force", "--tid", str(tid), check=False)
        self.tgtadm("--mode", "system", "--op", "delete", check=False)

    def _veth(self, rootName, host, inside, bridge=None):
        """
        A veth pair: C{rootName} in the root namespace (a port of
        C{bridge} when given), C{inside} in C{host}'s namespace.
        """
        peer = f"mh{self.tag}tmp"
        run("ip", "link", "add", rootName, "type", "veth", "peer", "name", peer)
        run("ip", "link", "set", peer, "netns", self.namespace(host))
        self.inNs(host, "ip", "link", "set", "dev", peer, "name", inside)
        self.inNs(host, "ip", "link", "set", "dev", inside, "up")
        if bridge is not None:
            run("ip", "link", "set", rootName, "master", bridge)
        run("ip", "link", "set", rootName, "up")

    def up(self):
        """
        Make the namespaces, bridges and links, the hosts' state
        directories and flag files (blocking).  Call L{down} even when this
        fails half-way.
        """
        for path in [self.base] + [self.hostState(h) for h in self.hosts()]:
            os.makedirs(path, exist_ok=True)
        # QEMU runs as another user and dnsmasq as nobody: the state must
        # be traversable (a temporary parent may be private).
        makeTraversable(os.path.dirname(self.base), self.base, *[self.hostState(h) for h in self.hosts()])
        for name in self.namespaces():
            run("ip", "netns", "add", name)
            # Resolvers and DHCP clients in a namespace must never touch
            # the machine's /etc/resolv.conf.
            os.makedirs(f"/etc/netns/{name}", exist_ok=True)
            open(f"/etc/netns/{name}/resolv.conf", "w").close()
            run("ip", "netns", "exec", name, "ip", "link", "set", "dev", "lo", "up")

        mgmt, flat = f"mh{self.tag}m", f"mh{self.tag}f"
        for bridge in (mgmt, flat):
            run("ip", "link", "add", "name", bridge, "type", "bridge")
            run("ip", "link", "set", bridge, "up")
        run("ip", "addr", "add", f"{self.mgmtRoot}/24", "dev", mgmt)
        for host in self.hosts():
            self._veth(f"mh{self.tag}m{host}", host, "mgmt0", mgmt)
            self.inNs(host, "ip", "addr", "add", f"{self.mgmtAddress(host)}/24", "dev", "mgmt0")

        # The guests' L2: in flat mode the controller's flat interface and
        # each compute host's fl0 on one bridge (in vxlan mode nova makes
        # the VXLANs over mgmt0), and each compute host's bridge with its
        # own guest bridge in the root namespace.
        if self.mode == "flat":
            self._veth(f"mh{self.tag}f{CONTROLLER}", CONTROLLER, "eth1", flat)
        for host in COMPUTES:
            guests = self.guestBridge(host)
            run("ip", "link", "add", "name", guests, "type", "bridge")
            run("ip", "link", "set", guests, "up")
            self._veth(f"mh{self.tag}g{host}", host, "eth1", guests)
            self.inNs(host, "ip", "link", "add", "name", self.bridge, "type", "bridge")
            if self.mode == "flat":
                self._veth(f"mh{self.tag}f{host}", host, "fl0", flat)
                self.inNs(host, "ip", "link", "set", "dev", "fl0", "master", self.bridge)
            else:
                self.inNs(host, "ip", "link", "set", "dev", "eth1", "master", self.bridge)
            self.inNs(host, "ip", "link", "set", "dev", self.bridge, "up")

        # The outside world, behind the controller's public interface.
        run("ip", "link", "add", f"mh{self.tag}tmp", "type", "veth", "peer", "name", f"mh{self.tag}tmq")
        run("ip", "link", "set", f"mh{self.tag}tmp", "netns", self.namespace(CONTROLLER))
        run("ip", "link", "set", f"mh{self.tag}tmq", "netns", self.namespace("pub"))
        self.inNs(CONTROLLER, "ip", "link", "set", "dev", f"mh{self.tag}tmp", "name", "pub0")
        self.inNs(CONTROLLER, "ip", "addr", "add", f"{CTL_PUBLIC}/24", "dev", "pub0")
        self.inNs(CONTROLLER, "ip", "link", "set", "dev", "pub0", "up")
        self.inNs("pub", "ip", "link", "set", "dev", f"mh{self.tag}tmq", "name", "eth0")
        self.inNs("pub", "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
        self.inNs("pub", "ip", "link", "set", "dev", "eth0", "up")

        # The volume host's iSCSI target daemon, on mgmt0's address.
        self.startTgtd()

    def down(self):
        """
        Remove everything L{up} made and every process left in the
        namespaces, and the domains of the compute hosts (blocking; errors
        are ignored so that it can run after any failure).
        """
        self.stopTgtd()
        for name in self.namespaces():
            result = run("ip", "netns", "pids", name, check=False)
            for pid in result.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
        undefineDomains(f"mh{self.tag}")
        links = run("ip", "-o", "link", "show", check=False).stdout
        for line in links.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if self.ownsLink(name):
                run("ip", "link", "del", name, check=False)
        for name in self.namespaces():
            run("ip", "netns", "del", name, check=False)
            shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)

    def leftovers(self):
        """
        @return: a list of what of this run is still on the machine
            (namespaces, links, domains); empty after L{down}.
        """
        found = []
        netns = run("ip", "netns", "list", check=False).stdout
        found += [n for n in self.namespaces() if n in netns.split()]
        links = run("ip", "-o", "link", "show", check=False).stdout
        found += [
            line.split(":")[1].strip().split("@")[0]
            for line in links.splitlines()
            if self.ownsLink(line.split(":")[1].strip().split("@")[0])
        ]
        found += domainNames(f"mh{self.tag}")
        found += [d for d in (f"/etc/netns/{n}" for n in self.namespaces()) if os.path.exists(d)]
        found += [f"tgtd {pid}" for pid in tgtdProcesses(f"portal={self.portal()}")]
        # (No target of this run on the machine's own tgtd either.)
        if shutil.which("tgtadm"):
            result = run("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show", check=False)
            found += [
                iqn for iqn in parseTargets(result.stdout).values() if iqn.startswith(self.targetPrefix())
            ]
        return found

    # -- the flags -----------------------------------------------------

    def networkFlags(self):
        if self.mode == "flat":
            return [
                "--network_manager=flatdhcp",
                f"--flat_network_bridge={self.bridge}",
                "--flat_interface=eth1",
            ]
        return ["--network_manager=vlan", "--vlan_backend=vxlan", "--vlan_interface=mgmt0"]

    def networkCreateArgs(self):
        """
        @return: the arguments of C{nova-manage network create}.
        """
        if self.mode == "flat":
            return (self.fixedRange, "1", "256")
        return (self.fixedRange, "1", "256", str(self.vlan))

    def commonFlags(self, guestCmdline):
        return self.networkFlags() + [
            f"--sql_connection={self.sqlConnection}",
            "--rpc_backend=amqp",
            f"--rabbit_host={self.mgmtRoot}",
            f"--rabbit_port={RABBIT_PORT}",
            f"--rabbit_virtual_host={self.rabbitVhost}",
            "--rabbit_retry_interval=0.5",
            "--rabbit_max_retry_interval=2",
            "--report_interval=1",
            "--service_down_time=6",
            f"--network_host={CONTROLLER}",
            "--network_driver=linux_net",
            "--firewall_driver=iptables",
            f"--fixed_range={self.fixedRange}",
            f"--s3_host={self.mgmtAddress(CONTROLLER)}",
            "--connection_type=libvirt",
            "--libvirt_type=qemu",
            f"--libvirt_cmdline={guestCmdline}",
            "--scheduler_driver=simple",
        ]

    def hostFlags(self, host):
        flags = [f"--host={host}", f"--state_path={self.hostState(host)}"]
        if self.mode == "vxlan":
            others = [self.mgmtAddress(h) for h in self.hosts() if h != host]
            flags.append(f"--vxlan_peers={','.join(others)}")
        if host == CONTROLLER:
            return flags + [
                "--volume_driver=file",
                "--volume_export=iscsi",
                f"--iscsi_ip_address={self.mgmtAddress(CONTROLLER)}",
                f"--iscsi_port={ISCSI_PORT}",
                f"--iscsi_target_prefix={self.targetPrefix()}",
                "--ec2_listen=0.0.0.0",
                "--ec2_port=8773",
                "--s3_listen=0.0.0.0",
                "--public_interface=pub0",
                f"--routing_source_ip={CTL_PUBLIC}",
                f"--ec2_dmz_host={CTL_PUBLIC}",
                f"--ec2_host={CTL_PUBLIC}",
                f"--dhcpbridge_flagfile={self.flagfile(CONTROLLER)}",
            ]
        return flags + [
            f"--instance_name_template={self.namePrefix(host)}%08x",
            f"--libvirt_bridge_template={{bridge}}{COMPUTES.index(host) + 1}",
        ]

    def writeFlagfiles(self, guestCmdline="root=/dev/vda console=ttyS0"):
        """
        Write C{BASE/HOST.conf} for every host (readable by all: dnsmasq
        runs nova-dhcpbridge with the controller's), ending with
        L{extraFlags}.
        """
        for host in self.hosts():
            with open(self.flagfile(host), "w") as f:
                flags = self.commonFlags(guestCmdline) + self.hostFlags(host) + list(self.extraFlags)
                f.write("\n".join(flags) + "\n")
            os.chmod(self.flagfile(host), 0o644)

    def daemonArgv(self, host, plugin):
        """
        @return: the command (without twistd's own options) that runs
            C{plugin} on C{host}: the prefix of L{hostPrefix} and the
            plugin with its flag file.
        """
        return (self.hostPrefix(host), (plugin, f"--flagfile={self.flagfile(host)}"))


def parseTargets(text):
    """
    @param text: the output of C{tgtadm --lld iscsi --mode target --op
        show}.
    @return: a L{dict} from target id to IQN.
    """
    targets = {}
    for line in text.splitlines():
        if line.startswith("Target ") and ": " in line:
            tid, _, iqn = line[len("Target "):].partition(": ")
            targets[int(tid)] = iqn.strip()
    return targets


def tgtdProcesses(argument):
    """
    @return: the process ids of the tgtd processes whose command line has
        C{argument}.
    """
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == "tgtd" and argument in argv:
            found.append(int(pid))
    return found


# -- a probing guest ---------------------------------------------------

#: Shell code added to the test guest's init before it says it is ready:
#: for each user-data line C{probe ADDRESS}, every second an HTTP request
#: to C{ADDRESS}, and C{NOVA PROBE ADDRESS open|closed} on the console
#: whenever the answer changes.
PROBE = r"""
if [ -f /tmp/user-data ]; then
  grep '^probe ' /tmp/user-data | while read -r _ target; do
    ( last=
      while :; do
        if timeout 2 wget -q -O /dev/null "http://$target/" 2>/dev/null; then now=open; else now=closed; fi
        [ "$now" = "$last" ] || { echo "NOVA PROBE $target $now"; last=$now; }
        sleep 1
      done ) &
  done
fi
"""


#: Shell code added to the test guest's init before it says it is ready:
#: with a user-data line C{volume} or C{volume write MARKER}, whenever a
#: disk C{/dev/vdb} appears (an attached volume), it writes C{NOVAVOLUME
#: MARKER} into the disk's first sector (the first time only, and only
#: with C{volume write}), telling C{NOVA VOLUME WROTE MARKER}, then reads
#: that sector back and tells its first line: C{NOVA VOLUME READ LINE}.
VOLUME = r"""
if grep -q '^volume' /tmp/user-data 2>/dev/null; then
  ( marker=$(sed -n 's/^volume write //p' /tmp/user-data | head -n 1)
    present=
    while :; do
      if [ -b /dev/vdb ]; then
        if [ -z "$present" ]; then
          present=1
          if [ -n "$marker" ]; then
            printf 'NOVAVOLUME %s\n' "$marker" | dd of=/dev/vdb bs=512 count=1 conv=sync,fsync 2>/dev/null &&
              echo "NOVA VOLUME WROTE $marker"
            marker=
          fi
          line=$(dd if=/dev/vdb bs=512 count=1 2>/dev/null | head -n 1 | tr -cd 'A-Za-z0-9 ._-')
          echo "NOVA VOLUME READ $line"
        fi
      else
        present=
      fi
      sleep 1
    done ) &
fi
"""


def probingGuest(guest, directory):
    """
    Make a copy of the test guest in C{directory} whose init also runs
    L{PROBE} and L{VOLUME} (blocking; needs cpio and gzip).

    @param guest: the test guest's directory (C{vmlinuz}, C{initrd.img},
        C{root.img}, C{cmdline}).
    @return: C{directory}.
    """
    guest, directory = os.path.abspath(guest), os.path.abspath(directory)
    tree = os.path.join(directory, "initramfs")
    os.makedirs(tree)
    for name in ("vmlinuz", "root.img", "cmdline"):
        shutil.copy(os.path.join(guest, name), os.path.join(directory, name))
    subprocess.run(
        f"gzip -dc {shlex.quote(os.path.join(guest, 'initrd.img'))} | cpio -id --quiet",
        shell=True, check=True, cwd=tree, capture_output=True,
    )
    init = os.path.join(tree, "init")
    with open(init) as f:
        text = f.read()
    marker = 'echo "NOVA READY"\n'
    if text.count(marker) != 1:
        raise RuntimeError("the test guest's init has no single NOVA READY line")
    with open(init, "w") as f:
        f.write(text.replace(marker, PROBE.lstrip("\n") + VOLUME.lstrip("\n") + marker))
    subprocess.run(
        f"find . | cpio -o -H newc --quiet | gzip -9 > {shlex.quote(os.path.join(directory, 'initrd.img'))}",
        shell=True, check=True, cwd=tree, capture_output=True,
    )
    shutil.rmtree(tree)
    return directory


# -- libvirt -----------------------------------------------------------


def _libvirt():
    import libvirt

    libvirt.registerErrorHandler(lambda *_: None, None)
    return libvirt


def domainNames(prefix, uri="qemu:///system"):
    """
    @return: the sorted names of the domains whose names start with
        C{prefix}.
    """
    libvirt = _libvirt()
    connection = libvirt.open(uri)
    try:
        return sorted(d.name() for d in connection.listAllDomains(0) if d.name().startswith(prefix))
    finally:
        connection.close()


def undefineDomains(prefix, uri="qemu:///system"):
    """
    Destroy and undefine the domains whose names start with C{prefix}.
    """
    libvirt = _libvirt()
    try:
        connection = libvirt.open(uri)
    except libvirt.libvirtError:
        return
    try:
        for domain in connection.listAllDomains(0):
            if not domain.name().startswith(prefix):
                continue
            try:
                if domain.isActive():
                    domain.destroy()
                domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except libvirt.libvirtError:
                pass
    finally:
        connection.close()


def destroyDomain(name, uri="qemu:///system"):
    """
    Power a domain off at once, as a crash of its host would.
    """
    libvirt = _libvirt()
    connection = libvirt.open(uri)
    try:
        connection.lookupByName(name).destroy()
    finally:
        connection.close()


# -- the forwarders ----------------------------------------------------


def listenForwarders(reactor, address, targets=((RABBIT_PORT, 5672), (POSTGRES_PORT, 5432))):
    """
    Forward C{address:port} to C{127.0.0.1:target} for each pair of
    C{targets}: the namespaces reach the machine's RabbitMQ and PostgreSQL,
    which listen on loopback only, through the management bridge.

    @return: the listening ports (call C{stopListening} on each).
    """
    from twisted.protocols.portforward import ProxyFactory

    return [
        reactor.listenTCP(port, ProxyFactory("127.0.0.1", target), interface=address)
        for port, target in targets
    ]


# -- the command line (tools/multihost.sh) -------------------------------


def _stateFile(base):
    return os.path.join(base, "multihost.env")


def _readState(base):
    values = {}
    with open(_stateFile(base)) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            values[key] = value
    return values


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def _manage(deployment, *argv):
    result = run(_bin("nova-manage"), f"--flagfile={deployment.flagfile(CONTROLLER)}", *argv, timeout=300)
    return result.stdout


def commandUp(base, guest, mode="flat"):
    """
    Build a deployment in C{base}, start the forwarders and every daemon
    (detached; their logs are C{base/HOST-PLUGIN.log}), and register the
    test guest from C{guest} when given (with L{PROBE} and L{VOLUME} added
    to its init, as the integration tests run it).  On failure, remove
    what was made.
    """
    deployment = MultiHost(base, mode=mode)
    os.makedirs(deployment.base, exist_ok=True)
    with open(_stateFile(deployment.base), "w") as f:
        f.write(f"tag={deployment.tag}\nsubnet={deployment.subnet}\nmode={mode}\n")
        if mode == "vxlan":
            f.write(f"vlan={deployment.vlan}\n")
    try:
        _up(deployment, guest)
    except BaseException:
        commandDown(base)
        raise


def _up(deployment, guest):
    cmdline = "root=/dev/vda console=ttyS0"
    if guest:
        with open(os.path.join(guest, "cmdline")) as f:
            cmdline = f.read().strip()
    deployment.up()
    deployment.writeFlagfiles(cmdline)
    run("psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {deployment.database}")
    forwarder = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.multihost", "forward", deployment.mgmtRoot],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(deployment.base, "forward.log"), "w"),
        start_new_session=True,
    )
    with open(os.path.join(deployment.base, "forward.pid"), "w") as f:
        f.write(f"{forwarder.pid}\n")
    import socket
    import time

    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((deployment.mgmtRoot, POSTGRES_PORT), 1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    _manage(deployment, "db", "sync")
    _manage(deployment, "network", "create", *deployment.networkCreateArgs())
    _manage(deployment, "floating", "create", CONTROLLER, f"{FLOATING}/32")
    if guest:
        _manage(deployment, "user", "admin", "admin", "admin", "admin")
        _manage(deployment, "project", "create", "admin", "admin")
        guest = probingGuest(guest, os.path.join(deployment.base, "guest"))
        _manage(
            deployment,
            "image",
            "register",
            os.path.join(guest, "vmlinuz"),
            os.path.join(guest, "initrd.img"),
            os.path.join(guest, "root.img"),
            "admin",
            "admin",
        )
    plan = [(CONTROLLER, p) for p in CONTROLLER_DAEMONS] + [(h, "nova-compute") for h in COMPUTES]
    for host, plugin in plan:
        prefix, command = deployment.daemonArgv(host, plugin)
        name = f"{host}-{plugin}"
        run(
            *prefix,
            _bin("twistd"),
            # (Daemonized, twistd's umask is 077: QEMU, another user, could
            # not read the instances' files.)
            "--umask=0022",
            f"--pidfile={os.path.join(deployment.base, name + '.pid')}",
            f"--logfile={os.path.join(deployment.base, name + '.log')}",
            *command,
        )
    print(f"tag {deployment.tag}; namespaces: {' '.join(deployment.namespaces())}")
    print(f"EC2 API: http://{CTL_PUBLIC}:8773/services/Cloud from {deployment.namespace('pub')}")
    print(f"iSCSI portal of the volumes: {deployment.portal()} (tools/multihost.sh tgtadm ...)")
    print(f"nova-manage --flagfile={deployment.flagfile(CONTROLLER)} service list")


def commandDown(base):
    """
    Stop what L{commandUp} started in C{base} and remove the deployment.
    """
    base = os.path.abspath(base)
    deployment = _deployment(base)
    deployment.down()
    try:
        with open(os.path.join(base, "forward.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass
    run(
        "psql", "-h", "127.0.0.1", "-U", "postgres", "-c",
        f"DROP DATABASE IF EXISTS {deployment.database} WITH (FORCE)",
        check=False,
    )
    left = deployment.leftovers()
    if left:
        print("left behind: " + " ".join(left), file=sys.stderr)
        return 1
    print(f"tag {deployment.tag} removed")
    return 0


def _deployment(base):
    """
    @return: the L{MultiHost} that L{commandUp} made in C{base}.
    """
    base = os.path.abspath(base)
    state = _readState(base)
    mode = state.get("mode", "flat")
    vlan = int(state["vlan"]) if mode == "vxlan" else None
    return MultiHost(base, tag=state["tag"], subnet=int(state["subnet"]), mode=mode, vlan=vlan)


def commandTgtadm(base, argv):
    """
    Run C{tgtadm --lld iscsi ARGV} against the controller's tgtd of the
    deployment in C{base}, printing what it prints.

    @return: its exit code.
    """
    result = _deployment(base).tgtadm(*argv, check=False)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def commandForward(address):
    from twisted.internet import reactor

    ipaddress.IPv4Address(address)
    listenForwarders(reactor, address)
    reactor.run()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="tools/multihost.sh", description="Three Nova hosts in network namespaces."
    )
    parser.add_argument("--base", default=os.environ.get("NOVA_MULTIHOST_DIR", "var/multihost"))
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the hosts and start their daemons")
    up.add_argument("--guest", default="", help="the test guest's directory, to register it")
    up.add_argument(
        "--mode",
        default="flat",
        choices=("flat", "vxlan"),
        help="flat: FlatDHCP on a shared L2; vxlan: vlan mode over VXLAN between the hosts",
    )
    sub.add_parser("down", help="stop the daemons and remove the hosts")
    sub.add_parser(
        "tgtadm", help="run tgtadm --lld iscsi ARGS against the controller's tgtd (the volumes' targets)"
    )
    forward = sub.add_parser("forward", help="(internal) the RabbitMQ/PostgreSQL forwarders")
    forward.add_argument("address")
    # (What follows tgtadm is tgtadm's, options included.)
    argv = sys.argv[1:] if argv is None else list(argv)
    passed = []
    if "tgtadm" in argv:
        at = argv.index("tgtadm") + 1
        argv, passed = argv[:at], argv[at:]
    args = parser.parse_args(argv)
    if args.command == "up":
        commandUp(args.base, args.guest, args.mode)
        return 0
    if args.command == "down":
        return commandDown(args.base)
    if args.command == "tgtadm":
        return commandTgtadm(args.base, passed)
    commandForward(args.address)
    return 0


if __name__ == "__main__":
    sys.exit(main())
