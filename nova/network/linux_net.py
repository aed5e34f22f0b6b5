# -*- test-case-name: tests.network.test_linux_net -*-
"""
L{LinuxNetDriver}: the L{INetworkDriver} that changes the host's real
networking with C{ip}, C{bridge}, C{sysctl}, C{iptables-save} /
C{iptables-restore} and C{dnsmasq}, run as argv lists through an
L{IProcessRunner} (as root).

What it does on the network host:

  - C{initHost}: IPv4 forwarding (C{sysctl -w net.ipv4.ip_forward=1},
    if C{--enable_ip_forward}), source NAT of C{--fixed_range} to
    C{--routing_source_ip} (except towards the fixed range itself, the
    metadata host and C{--dmz_cidr});
  - bridges (C{ip link add name br100 type bridge}) with an optional port
    (C{--flat_interface}, or the VLAN/VXLAN interface) and, in the DHCP
    modes, the gateway address; forwarding from and to the bridge is
    accepted;
  - VLAN interfaces C{vlan<N>} (802.1Q) or VXLAN interfaces C{vxlan<N>}
    over C{--vlan_interface};
  - one dnsmasq per network, listening on the gateway, handing out only
    the static leases written to C{<networks_path>/nova-<bridge>.conf}
    (rewritten atomically; dnsmasq gets SIGHUP when it changed, and is
    restarted when its command line changed or it is not running);
  - DNAT of C{169.254.169.254:80} to the metadata service;
  - floating addresses: bound as C{/32} on C{--public_interface}, DNAT to
    the fixed address and SNAT of the fixed address's own traffic;
  - the cloudpipe VPN port: DNAT of C{udp <vpn_ip>:<port>} to the VPN
    instance's port 1194.

With C{--network_namespace=NAME} every command runs under C{ip netns exec
NAME}, which is how the tests drive the real driver in namespaces they
made.  Names and addresses are checked before they reach any argv.
"""

import ipaddress
import json
import os
import re
import tempfile

from twisted.internet.defer import DeferredLock, maybeDeferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from zope.interface import implementer

from nova.network.interfaces import INetworkDriver, NetworkDriverError
from nova.network.iptables import IptablesManager
from nova.util.process import IProcessRunner, ProcessError, ReactorProcessRunner, runChecked
from nova.util.threads import reactorThreads

log = Logger()

#: The address guests ask for their metadata.
METADATA_ADDRESS = "169.254.169.254"

#: The port OpenVPN listens on inside a cloudpipe instance.
VPN_PORT = 1194

_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_NETNS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_SAFE_PATH = re.compile(r"^/[^\0\n,]*$")


def checkInterfaceName(name):
    """
    @return: C{name}, a usable interface name (1 to 15 characters, no
        slash, space or leading dash).
    @raise NetworkDriverError: otherwise.
    """
    if not isinstance(name, str) or not _IFNAME.match(name):
        raise NetworkDriverError(f"bad interface name {name!r}")
    return name


def checkAddress(address):
    """
    @return: C{address} as the text of an L{ipaddress.IPv4Address}.
    @raise NetworkDriverError: for anything but an IPv4 address.
    """
    try:
        return str(ipaddress.IPv4Address(address))
    except (ValueError, TypeError):
        raise NetworkDriverError(f"bad address {address!r}")


def _checkNetwork(cidr):
    try:
        return ipaddress.IPv4Network(cidr, strict=False)
    except (ValueError, TypeError):
        raise NetworkDriverError(f"bad network {cidr!r}")


def _checkPort(port, what):
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise NetworkDriverError(f"bad {what} port {port!r}")
    if not 0 < port < 65536:
        raise NetworkDriverError(f"bad {what} port {port!r}")
    return port


def _checkPath(path, what):
    if not isinstance(path, str) or not _SAFE_PATH.match(path):
        raise NetworkDriverError(f"{what} must be an absolute path, not {path!r}")
    return path


@implementer(IProcessRunner)
class NamespacedProcessRunner:
    """
    An L{IProcessRunner} that runs every command inside a network
    namespace: C{argv} becomes C{ip netns exec <namespace> argv...}.

    @ivar runner: the runner that runs the prefixed commands.
    @ivar namespace: the namespace's name.
    """

    def __init__(self, runner, namespace):
        if not isinstance(namespace, str) or not _NETNS.match(namespace):
            raise NetworkDriverError(f"bad network namespace name {namespace!r}")
        self.runner = runner
        self.namespace = namespace

    def run(self, argv, stdin=None, timeout=None):
        return self.runner.run(
            ("ip", "netns", "exec", self.namespace) + tuple(argv), stdin=stdin, timeout=timeout
        )


def namespacedRunner(runner, namespace):
    """
    @return: C{runner}, or for a non-empty C{namespace} a
        L{NamespacedProcessRunner} over it.
    """
    if not namespace:
        return runner
    return NamespacedProcessRunner(runner, namespace)


def _inline(function, *args):
    return maybeDeferred(function, *args)


def dhcpHostsText(hosts):
    """
    @param hosts: C{(mac, hostname, address)} tuples.
    @return: the text of a dnsmasq C{--dhcp-hostsfile}: one
        C{mac,hostname,address} line per host.
    """
    return "".join(f"{mac},{hostname},{address}\n" for mac, hostname, address in hosts)


def writeAtomically(path, text, mode=0o644):
    """
    Replace C{path} with C{text}, so that a reader sees the old file or
    the new one.  Blocking.

    @return: C{True} if the content changed.
    """
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return True


@implementer(INetworkDriver)
class LinuxNetDriver:
    """
    The real network driver.  Every operation runs alone (one lock), so
    the host's state and the driver's record of it move together.

    @ivar runner: the L{IProcessRunner} (already prefixed with C{ip netns
        exec} when a namespace is configured).
    @ivar iptables: the L{IptablesManager} of wrap C{nova-network}.
    @ivar procPath: where to read processes' command lines (C{/proc}).
    @ivar floatingForwards: from floating address to fixed address.
    @ivar vpnForwards: from C{(public address, port)} to private address.
    """

    procPath = "/proc"

    def __init__(self, config, runner, clock, runInThread=None, iptables=None):
        """
        @param config: the configuration: C{fixed_range},
            C{routing_source_ip}, C{networks_path}, C{dnsmasq},
            C{dhcpbridge}, C{dhcpbridge_flagfile}, C{dhcp_lease_time},
            C{dhcp_domain}, C{enable_ip_forward}, C{dmz_cidr}, the
            C{vxlan_*} flags.
        @param runner: runs the commands (give it already wrapped by
            L{namespacedRunner}).
        @param clock: an L{IReactorTime}, for waiting on dnsmasq to exit.
        @param runInThread: C{f(function, *args)} returning a L{Deferred}
            of the call run in a thread (small file work); by default the
            call runs at once.
        @param iptables: the L{IptablesManager}; by default one over
            C{runner} with wrap C{nova-network}.
        """
        self.config = config
        self.runner = runner
        self.clock = clock
        self.runInThread = runInThread or _inline
        self.iptables = iptables if iptables is not None else IptablesManager(runner, "nova-network")
        self.fixedRange = str(_checkNetwork(config.fixed_range))
        self.networksPath = _checkPath(os.path.abspath(config.networks_path), "networks_path")
        self.timeout = 60.0
        self.floatingForwards = {}
        self.vpnForwards = {}
        self.metadata = None
        self._lock = DeferredLock()

    @classmethod
    def fromConfig(cls, config, reactor=None, runner=None, **dependencies):
        """
        @param reactor: the reactor (commands, threads, time); by default
            the global one.
        @param runner: an L{IProcessRunner}; by default a
            L{ReactorProcessRunner}.  Wrapped for C{--network_namespace}.
        @return: a L{LinuxNetDriver}.
        """
        if reactor is None:
            from twisted.internet import reactor
        if runner is None:
            runner = ReactorProcessRunner(reactor)
        runner = namespacedRunner(runner, config.network_namespace)

        runInThread = reactorThreads(reactor)

        return cls(config, runner, reactor, runInThread)

    # -- plumbing ------------------------------------------------------

    def _serial(self, function, *args):
        return self._lock.run(function, *args)

    async def _run(self, *argv, okCodes=(0,)):
        try:
            out, err = await runChecked(self.runner, list(argv), timeout=self.timeout, okCodes=okCodes)
        except ProcessError as e:
            raise NetworkDriverError(str(e)) from e
        return out

    async def _runResult(self, *argv):
        try:
            return await self.runner.run(list(argv), timeout=self.timeout)
        except ProcessError as e:
            raise NetworkDriverError(str(e)) from e

    async def _link(self, name):
        """
        @return: the C{ip -j -d link} description of C{name} (a L{dict}),
            or C{None} if there is no such interface.
        """
        out, err, code = await self._runResult("ip", "-j", "-d", "link", "show", "dev", name)
        if code != 0:
            if b"does not exist" in err:
                return None
            raise NetworkDriverError(
                f"ip link show {name} failed: {err.decode('utf-8', 'replace').strip()}"
            )
        return _firstEntry(out, name)

    async def _addresses(self, name):
        """
        @return: the IPv4 addresses of interface C{name}, as
            C{(address, prefix length)} tuples.
        """
        out, err, code = await self._runResult("ip", "-j", "addr", "show", "dev", name)
        if code != 0:
            raise NetworkDriverError(
                f"no interface {name}: {err.decode('utf-8', 'replace').strip()}"
            )
        entry = _firstEntry(out, name)
        return [
            (info["local"], int(info["prefixlen"]))
            for info in entry.get("addr_info", ())
            if info.get("family") == "inet"
        ]

    async def _up(self, name, link):
        if link is None or "UP" not in link.get("flags", ()):
            await self._run("ip", "link", "set", "dev", name, "up")

    # -- host ------------------------------------------------------------

    def initHost(self):
        return self._serial(self._initHost)

    async def _initHost(self):
        config = self.config
        source = checkAddress(config.routing_source_ip)
        if config.enable_ip_forward:
            await self._run("sysctl", "-w", "net.ipv4.ip_forward=1")
        nat = self.iptables.nat
        nat.addRule("snat", ("-s", self.fixedRange, "-j", "SNAT", "--to-source", source))
        nat.addRule("POSTROUTING", ("-s", self.fixedRange, "-d", self.fixedRange, "-j", "ACCEPT"))
        for cidr in config.dmz_cidr:
            dmz = str(_checkNetwork(cidr))
            nat.addRule("POSTROUTING", ("-s", self.fixedRange, "-d", dmz, "-j", "ACCEPT"))
        await self.iptables.apply()

    def metadataForward(self, metadataHost, metadataPort):
        return self._serial(self._metadataForward, metadataHost, metadataPort)

    async def _metadataForward(self, metadataHost, metadataPort):
        host = checkAddress(metadataHost)
        port = _checkPort(metadataPort, "metadata")
        nat = self.iptables.nat
        if self.metadata is not None:
            for chain, rule in _metadataRules(self.fixedRange, *self.metadata):
                nat.removeRule(chain, rule)
        for chain, rule in _metadataRules(self.fixedRange, host, port):
            nat.addRule(chain, rule)
        self.metadata = (host, port)
        await self.iptables.apply()

    # -- VLAN and VXLAN ----------------------------------------------------

    def ensureVlan(self, vlan, interface):
        return self._serial(self._ensureVlan, vlan, interface)

    async def _ensureVlan(self, vlan, interface):
        if not isinstance(vlan, int) or not 1 <= vlan <= 4094:
            raise NetworkDriverError(f"bad vlan id {vlan!r}")
        checkInterfaceName(interface)
        name = f"vlan{vlan}"
        link = await self._link(name)
        if link is None:
            await self._run(
                "ip", "link", "add", "link", interface, "name", name, "type", "vlan", "id", str(vlan)
            )
        else:
            info = link.get("linkinfo", {})
            data = info.get("info_data", {})
            if info.get("info_kind") != "vlan" or data.get("id") != vlan or link.get("link") != interface:
                raise NetworkDriverError(
                    f"{name} exists but is not VLAN {vlan} on {interface}"
                )
        await self._up(name, link)
        return name

    def ensureVxlan(self, vni, interface):
        return self._serial(self._ensureVxlan, vni, interface)

    async def _ensureVxlan(self, vni, interface):
        if not isinstance(vni, int) or not 1 <= vni <= 16777215:
            raise NetworkDriverError(f"bad vxlan id {vni!r}")
        checkInterfaceName(interface)
        config = self.config
        port = _checkPort(config.vxlan_port, "vxlan")
        name = f"vxlan{vni}"
        link = await self._link(name)
        if link is None:
            argv = ["ip", "link", "add", name, "type", "vxlan", "id", str(vni),
                    "dev", interface, "dstport", str(port)]
            if config.vxlan_group:
                argv += ["group", checkAddress(config.vxlan_group)]
            await self._run(*argv)
            for peer in config.vxlan_peers:
                await self._run(
                    "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", name,
                    "dst", checkAddress(peer),
                )
        else:
            info = link.get("linkinfo", {})
            data = info.get("info_data", {})
            if (
                info.get("info_kind") != "vxlan"
                or data.get("id") != vni
                or data.get("link") != interface
                or data.get("port") != port
            ):
                raise NetworkDriverError(
                    f"{name} exists but is not VXLAN {vni} on {interface} port {port}"
                )
        await self._up(name, link)
        return name

    # -- bridges -----------------------------------------------------------

    def ensureBridge(self, bridge, interface, address=None):
        return self._serial(self._ensureBridge, bridge, interface, address)

    async def _ensureBridge(self, bridge, interface, address):
        checkInterfaceName(bridge)
        if interface is not None:
            checkInterfaceName(interface)
        wanted = None
        if address is not None:
            if not isinstance(address, str) or "/" not in address:
                raise NetworkDriverError(f"bridge address {address!r} lacks a prefix")
            try:
                wanted = ipaddress.IPv4Interface(address)
            except ValueError:
                raise NetworkDriverError(f"bad bridge address {address!r}")
        link = await self._link(bridge)
        if link is None:
            await self._run("ip", "link", "add", "name", bridge, "type", "bridge")
        elif link.get("linkinfo", {}).get("info_kind") != "bridge":
            raise NetworkDriverError(f"{bridge} exists and is not a bridge")
        if interface is not None:
            port = await self._link(interface)
            if port is None:
                raise NetworkDriverError(f"no interface {interface} to add to {bridge}")
            if port.get("linkinfo", {}).get("info_kind") == "bridge":
                raise NetworkDriverError(f"cannot add bridge {interface} to bridge {bridge}")
            master = port.get("master")
            if master is None:
                await self._run("ip", "link", "set", "dev", interface, "master", bridge)
            elif master != bridge:
                raise NetworkDriverError(f"{interface} is a port of {master}, not {bridge}")
            await self._up(interface, port)
        if wanted is not None:
            present = await self._addresses(bridge)
            mine = (str(wanted.ip), wanted.network.prefixlen)
            if mine not in present:
                others = [f"{a}/{p}" for a, p in present]
                if others:
                    raise NetworkDriverError(
                        f"bridge {bridge} has address {', '.join(others)}, not {address}"
                    )
                await self._run(
                    "ip", "addr", "add", str(wanted), "brd",
                    str(wanted.network.broadcast_address), "dev", bridge,
                )
        await self._up(bridge, link)
        if wanted is not None:
            filter = self.iptables.filter
            added = filter.addRule("FORWARD", ("-i", bridge, "-j", "ACCEPT"))
            added = filter.addRule("FORWARD", ("-o", bridge, "-j", "ACCEPT")) or added
            if added:
                await self.iptables.apply()

    # -- DHCP --------------------------------------------------------------

    def dhcpFile(self, bridge, kind):
        """
        @return: the path of dnsmasq's C{kind} file (C{conf}, C{pid}) of
            C{bridge}.
        """
        return os.path.join(self.networksPath, f"nova-{checkInterfaceName(bridge)}.{kind}")

    def dnsmasqArgv(self, network):
        """
        @param network: a L{nova.db.networks.NetworkRecord}.
        @return: the dnsmasq command line (without the environment) that
            serves the network.
        """
        config = self.config
        gateway = checkAddress(network.gateway)
        start = checkAddress(network.dhcp_start)
        if not _HOSTNAME.match(config.dhcp_domain or ""):
            raise NetworkDriverError(f"bad dhcp_domain {config.dhcp_domain!r}")
        subnet = _checkNetwork(network.cidr)
        argv = [
            config.dnsmasq,
            "--strict-order",
            "--bind-interfaces",
            "--conf-file=",
            f"--domain={config.dhcp_domain}",
            f"--pid-file={self.dhcpFile(network.bridge, 'pid')}",
            f"--listen-address={gateway}",
            "--except-interface=lo",
            f"--dhcp-range={start},static,{int(config.dhcp_lease_time)}s",
            f"--dhcp-lease-max={subnet.num_addresses}",
            f"--dhcp-hostsfile={self.dhcpFile(network.bridge, 'conf')}",
            f"--dhcp-script={_checkPath(config.dhcpbridge, 'dhcpbridge')}",
            "--leasefile-ro",
        ]
        if config.dnsmasq_user:
            if not re.match(r"^[a-z_][a-z0-9_-]*$", config.dnsmasq_user):
                raise NetworkDriverError(f"bad dnsmasq_user {config.dnsmasq_user!r}")
            argv.append(f"--user={config.dnsmasq_user}")
        if network.dns and network.dns != network.gateway:
            argv.append(f"--dhcp-option=option:dns-server,{checkAddress(network.dns)}")
        return argv

    def _environment(self, network):
        env = [f"DNSMASQ_INTERFACE={network.bridge}"]
        if self.config.dhcpbridge_flagfile:
            env.insert(0, f"FLAGFILE={_checkPath(self.config.dhcpbridge_flagfile, 'dhcpbridge_flagfile')}")
        return env

    def updateDhcp(self, network, hosts):
        hosts = tuple(tuple(host) for host in hosts)
        return self._serial(self._updateDhcp, network, hosts)

    async def _updateDhcp(self, network, hosts):
        checkInterfaceName(network.bridge)
        subnet = _checkNetwork(network.cidr)
        macs, addresses = set(), set()
        for mac, hostname, address in hosts:
            if not isinstance(mac, str) or not _MAC.match(mac):
                raise NetworkDriverError(f"bad MAC {mac!r}")
            if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
                raise NetworkDriverError(f"bad hostname {hostname!r}")
            if ipaddress.IPv4Address(checkAddress(address)) not in subnet:
                raise NetworkDriverError(f"{address} is not in {network.cidr}")
            if mac in macs or address in addresses:
                raise NetworkDriverError(f"{mac} or {address} listed twice")
            macs.add(mac)
            addresses.add(address)
        argv = self.dnsmasqArgv(network)
        conf = self.dhcpFile(network.bridge, "conf")
        pidFile = self.dhcpFile(network.bridge, "pid")
        changed = await self.runInThread(writeAtomically, conf, dhcpHostsText(hosts))
        running = await self.runInThread(self._thd_dnsmasq, pidFile, conf)
        if running is not None:
            pid, cmdline = running
            if cmdline == argv:
                if changed:
                    log.info("hosts of {bridge} changed: reloading dnsmasq {pid}", bridge=network.bridge, pid=pid)
                    await self._run("kill", "-HUP", str(pid))
                return
            log.info("dnsmasq {pid} of {bridge} runs with other options: restarting it",
                     pid=pid, bridge=network.bridge)
            await self._stopDnsmasq(pid)
        log.info("starting dnsmasq on {bridge}", bridge=network.bridge)
        await self._run("env", *self._environment(network), *argv)

    def _thd_dnsmasq(self, pidFile, conf):
        """
        @return: C{(pid, command line)} of the dnsmasq that serves
            C{conf}, or C{None} if none runs.
        """
        try:
            with open(pidFile) as f:
                pid = int(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None
        cmdline = self._thd_cmdline(pid)
        if cmdline is None or f"--dhcp-hostsfile={conf}" not in cmdline:
            return None
        return pid, cmdline

    def _thd_cmdline(self, pid):
        try:
            with open(os.path.join(self.procPath, str(pid), "cmdline"), "rb") as f:
                raw = f.read()
        except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
            return None
        if not raw:
            return None
        return raw.rstrip(b"\0").decode("utf-8", "replace").split("\0")

    async def _stopDnsmasq(self, pid):
        await self._run("kill", "-TERM", str(pid), okCodes=(0, 1))
        for _ in range(50):
            alive = await self.runInThread(self._thd_cmdline, pid)
            if alive is None:
                return
            await deferLater(self.clock, 0.1, lambda: None)
        raise NetworkDriverError(f"dnsmasq {pid} did not exit")

    def stopDhcp(self, network):
        return self._serial(self._stopDhcp, network)

    async def _stopDhcp(self, network):
        conf = self.dhcpFile(network.bridge, "conf")
        pidFile = self.dhcpFile(network.bridge, "pid")
        running = await self.runInThread(self._thd_dnsmasq, pidFile, conf)
        if running is not None:
            await self._stopDnsmasq(running[0])
        await self.runInThread(_removeIfPresent, pidFile)

    def releaseDhcp(self, network, address, mac):
        return self._serial(self._releaseDhcp, network, address, mac)

    async def _releaseDhcp(self, network, address, mac):
        address = checkAddress(address)
        if not isinstance(mac, str) or not _MAC.match(mac):
            raise NetworkDriverError(f"bad MAC {mac!r}")
        conf = self.dhcpFile(network.bridge, "conf")
        pidFile = self.dhcpFile(network.bridge, "pid")
        running = await self.runInThread(self._thd_dnsmasq, pidFile, conf)
        if running is None:
            return
        # dhcp_release (dnsmasq's utilities) sends the DHCPRELEASE the
        # guest can no longer send; dnsmasq then runs its script with "del".
        await self._run(self.config.dhcp_release, network.bridge, address, mac)

    # -- floating addresses ----------------------------------------------

    def bindFloatingIp(self, address, interface):
        return self._serial(self._bindFloatingIp, address, interface)

    async def _bindFloatingIp(self, address, interface):
        address = checkAddress(address)
        checkInterfaceName(interface)
        present = await self._addresses(interface)
        if (address, 32) in present:
            raise NetworkDriverError(f"{address} is bound to {interface}")
        await self._run("ip", "addr", "add", f"{address}/32", "dev", interface)

    def unbindFloatingIp(self, address, interface):
        return self._serial(self._unbindFloatingIp, address, interface)

    async def _unbindFloatingIp(self, address, interface):
        address = checkAddress(address)
        checkInterfaceName(interface)
        present = await self._addresses(interface)
        if (address, 32) not in present:
            raise NetworkDriverError(f"{address} is not bound to {interface}")
        await self._run("ip", "addr", "del", f"{address}/32", "dev", interface)

    def ensureFloatingForward(self, floatingAddress, fixedAddress):
        return self._serial(self._ensureFloatingForward, floatingAddress, fixedAddress)

    async def _ensureFloatingForward(self, floatingAddress, fixedAddress):
        floating = checkAddress(floatingAddress)
        fixed = checkAddress(fixedAddress)
        existing = self.floatingForwards.get(floating)
        if existing is not None and existing != fixed:
            raise NetworkDriverError(f"{floating} forwards to {existing}")
        nat = self.iptables.nat
        for chain, rule in floatingRules(floating, fixed):
            nat.addRule(chain, rule)
        self.floatingForwards[floating] = fixed
        await self.iptables.apply()

    def removeFloatingForward(self, floatingAddress, fixedAddress):
        return self._serial(self._removeFloatingForward, floatingAddress, fixedAddress)

    async def _removeFloatingForward(self, floatingAddress, fixedAddress):
        floating = checkAddress(floatingAddress)
        fixed = checkAddress(fixedAddress)
        if self.floatingForwards.get(floating) != fixed:
            raise NetworkDriverError(f"no forward from {floating} to {fixed}")
        nat = self.iptables.nat
        for chain, rule in floatingRules(floating, fixed):
            nat.removeRule(chain, rule)
        del self.floatingForwards[floating]
        await self.iptables.apply()

    # -- cloudpipe ---------------------------------------------------------

    def ensureVpnForward(self, publicAddress, port, privateAddress):
        return self._serial(self._ensureVpnForward, publicAddress, port, privateAddress)

    async def _ensureVpnForward(self, publicAddress, port, privateAddress):
        public = checkAddress(publicAddress)
        private = checkAddress(privateAddress)
        port = _checkPort(port, "VPN")
        existing = self.vpnForwards.get((public, port))
        if existing is not None and existing != private:
            raise NetworkDriverError(f"{public}:{port} forwards to {existing}")
        for table, chain, rule in vpnRules(public, port, private):
            self.iptables.tables[table].addRule(chain, rule)
        self.vpnForwards[(public, port)] = private
        await self.iptables.apply()


def _removeIfPresent(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _firstEntry(out, name):
    try:
        entries = json.loads(out.decode("utf-8") or "[]")
    except ValueError:
        raise NetworkDriverError(f"unreadable output of ip for {name}")
    if not entries:
        raise NetworkDriverError(f"no interface {name}")
    return entries[0]


def _metadataRules(fixedRange, host, port):
    return [
        (
            "PREROUTING",
            ("-d", f"{METADATA_ADDRESS}/32", "-p", "tcp", "-m", "tcp", "--dport", "80",
             "-j", "DNAT", "--to-destination", f"{host}:{port}"),
        ),
        ("POSTROUTING", ("-s", fixedRange, "-d", f"{host}/32", "-j", "ACCEPT")),
    ]


def floatingRules(floating, fixed):
    """
    @return: the nat rules of a floating address, as C{(chain, rule)}:
        DNAT of traffic to it (arriving, and from the host itself) and
        SNAT of the fixed address's own traffic.
    """
    return [
        ("PREROUTING", ("-d", f"{floating}/32", "-j", "DNAT", "--to-destination", fixed)),
        ("OUTPUT", ("-d", f"{floating}/32", "-j", "DNAT", "--to-destination", fixed)),
        ("float-snat", ("-s", f"{fixed}/32", "-j", "SNAT", "--to-source", floating)),
    ]


def vpnRules(public, port, private):
    """
    @return: the rules of a cloudpipe forward, as C{(table, chain, rule)}.
    """
    return [
        (
            "nat",
            "PREROUTING",
            ("-d", f"{public}/32", "-p", "udp", "-m", "udp", "--dport", str(port),
             "-j", "DNAT", "--to-destination", f"{private}:{VPN_PORT}"),
        ),
        (
            "filter",
            "FORWARD",
            ("-d", f"{private}/32", "-p", "udp", "-m", "udp", "--dport", str(VPN_PORT),
             "-j", "ACCEPT"),
        ),
    ]
