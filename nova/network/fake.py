# -*- test-case-name: tests.network.test_fake -*-
"""
L{FakeNetworkDriver}: an L{INetworkDriver} that changes nothing on the
host.  It keeps the state the real driver would leave (bridges, VLANs,
DHCP hosts, bound addresses, NAT forwards), records every call, and is
strict: what would fail or be a mistake on a real host fails here too.
Usable in production (C{--network_driver=fake}) and in tests.
"""

import ipaddress
import re

from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from nova.network.interfaces import INetworkDriver, NetworkDriverError

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IFNAMSIZ = 15


@implementer(INetworkDriver)
class FakeNetworkDriver:
    """
    @ivar calls: every call, as C{(method name, arguments...)} tuples, in
        order: tests compare it.
    @ivar initialised: whether L{initHost} ran.
    @ivar metadata: C{(host, port)} of the metadata forward, or C{None}.
    @ivar vlans: from interface name to C{(kind, id, underlying interface)}
        with C{kind} C{"vlan"} or C{"vxlan"}.
    @ivar bridges: from bridge name to a L{dict} with C{interface} and
        C{address}.
    @ivar dhcp: from bridge name to C{(network id, hosts)} with C{hosts} a
        L{tuple} of C{(mac, hostname, address)}.
    @ivar released: the leases L{releaseDhcp} released, as C{(bridge,
        address, mac)}.
    @ivar boundIps: from floating address to interface.
    @ivar floatingForwards: from floating address to fixed address.
    @ivar vpnForwards: from C{(public address, port)} to private address.
    @ivar failNext: an exception the next call fails with (then cleared),
        changing nothing.
    """

    def __init__(self, clock=None, delay=0.0):
        """
        @param clock: with C{delay}, an L{IReactorTime} on which results
            fire C{delay} seconds after the call (the state changes at
            once), to let tests interleave callers.
        @param delay: seconds, see C{clock}.
        """
        self.clock = clock
        self.delay = delay
        self.calls = []
        self.initialised = False
        self.metadata = None
        self.vlans = {}
        self.bridges = {}
        self.dhcp = {}
        self.released = []
        self.boundIps = {}
        self.floatingForwards = {}
        self.vpnForwards = {}
        self.failNext = None

    @classmethod
    def fromConfig(cls, config, **dependencies):
        """
        @return: a new driver; the configuration is not needed.
        """
        return cls()

    def _run(self, name, args, change):
        self.calls.append((name,) + tuple(args))
        if self.failNext is not None:
            error, self.failNext = self.failNext, None
            return fail(error)
        try:
            result = change()
        except NetworkDriverError as e:
            return fail(e)
        if self.clock is None or not self.delay:
            return succeed(result)
        d = Deferred()
        self.clock.callLater(self.delay, d.callback, result)
        return d

    def callsNamed(self, name):
        """
        @return: the recorded calls of method C{name}, without the name.
        """
        return [call[1:] for call in self.calls if call[0] == name]

    def initHost(self):
        def change():
            self.initialised = True

        return self._run("initHost", (), change)

    def metadataForward(self, metadataHost, metadataPort):
        def change():
            _checkAddress(metadataHost)
            if not 0 < int(metadataPort) < 65536:
                raise NetworkDriverError(f"bad metadata port {metadataPort!r}")
            self.metadata = (metadataHost, int(metadataPort))

        return self._run("metadataForward", (metadataHost, metadataPort), change)

    def _ensureTunnel(self, kind, number, interface, maximum):
        name = f"{kind}{number}"
        if not isinstance(number, int) or not 1 <= number <= maximum:
            raise NetworkDriverError(f"bad {kind} id {number!r}")
        if not interface:
            raise NetworkDriverError(f"{name} needs an underlying interface")
        _checkName(name)
        existing = self.vlans.get(name)
        if existing is not None and existing != (kind, number, interface):
            raise NetworkDriverError(f"{name} exists on {existing[2]}, not {interface}")
        self.vlans[name] = (kind, number, interface)
        return name

    def ensureVlan(self, vlan, interface):
        return self._run(
            "ensureVlan",
            (vlan, interface),
            lambda: self._ensureTunnel("vlan", vlan, interface, 4094),
        )

    def ensureVxlan(self, vni, interface):
        return self._run(
            "ensureVxlan",
            (vni, interface),
            lambda: self._ensureTunnel("vxlan", vni, interface, 16777215),
        )

    def ensureBridge(self, bridge, interface, address=None):
        def change():
            _checkName(bridge)
            if address is not None:
                try:
                    ipaddress.ip_interface(address)
                except ValueError:
                    raise NetworkDriverError(f"bad bridge address {address!r}")
                if "/" not in address:
                    raise NetworkDriverError(f"bridge address {address!r} lacks a prefix")
            if interface is not None and interface in self.bridges:
                raise NetworkDriverError(f"cannot add bridge {interface} to bridge {bridge}")
            state = self.bridges.setdefault(bridge, {"interface": None, "address": None})
            for key, wanted in (("interface", interface), ("address", address)):
                if wanted is None:
                    continue
                if state[key] is not None and state[key] != wanted:
                    raise NetworkDriverError(
                        f"bridge {bridge} has {key} {state[key]}, not {wanted}"
                    )
                state[key] = wanted

        return self._run("ensureBridge", (bridge, interface, address), change)

    def updateDhcp(self, network, hosts):
        hosts = tuple(tuple(host) for host in hosts)

        def change():
            state = self.bridges.get(network.bridge)
            if state is None:
                raise NetworkDriverError(f"no bridge {network.bridge} to serve DHCP on")
            if state["address"] is None:
                raise NetworkDriverError(
                    f"bridge {network.bridge} has no address for dnsmasq to listen on"
                )
            subnet = ipaddress.ip_network(network.cidr)
            macs, addresses = set(), set()
            for mac, hostname, address in hosts:
                if not _MAC.match(mac or ""):
                    raise NetworkDriverError(f"bad MAC {mac!r}")
                if ipaddress.ip_address(address) not in subnet:
                    raise NetworkDriverError(f"{address} is not in {network.cidr}")
                if mac in macs or address in addresses:
                    raise NetworkDriverError(f"{mac} or {address} listed twice")
                if not hostname:
                    raise NetworkDriverError(f"no hostname for {address}")
                macs.add(mac)
                addresses.add(address)
            self.dhcp[network.bridge] = (network.id, hosts)

        return self._run("updateDhcp", (network.bridge, hosts), change)

    def stopDhcp(self, network):
        def change():
            self.dhcp.pop(network.bridge, None)

        return self._run("stopDhcp", (network.bridge,), change)

    def releaseDhcp(self, network, address, mac):
        def change():
            _checkAddress(address)
            if network.bridge not in self.dhcp:
                return
            self.released.append((network.bridge, address, mac))

        return self._run("releaseDhcp", (network.bridge, address, mac), change)

    def bindFloatingIp(self, address, interface):
        def change():
            _checkAddress(address)
            if address in self.boundIps:
                raise NetworkDriverError(f"{address} is bound to {self.boundIps[address]}")
            self.boundIps[address] = interface

        return self._run("bindFloatingIp", (address, interface), change)

    def unbindFloatingIp(self, address, interface):
        def change():
            if self.boundIps.get(address) != interface:
                raise NetworkDriverError(f"{address} is not bound to {interface}")
            del self.boundIps[address]

        return self._run("unbindFloatingIp", (address, interface), change)

    def ensureFloatingForward(self, floatingAddress, fixedAddress):
        def change():
            _checkAddress(floatingAddress)
            _checkAddress(fixedAddress)
            existing = self.floatingForwards.get(floatingAddress)
            if existing is not None and existing != fixedAddress:
                raise NetworkDriverError(f"{floatingAddress} forwards to {existing}")
            self.floatingForwards[floatingAddress] = fixedAddress

        return self._run("ensureFloatingForward", (floatingAddress, fixedAddress), change)

    def removeFloatingForward(self, floatingAddress, fixedAddress):
        def change():
            if self.floatingForwards.get(floatingAddress) != fixedAddress:
                raise NetworkDriverError(
                    f"no forward from {floatingAddress} to {fixedAddress}"
                )
            del self.floatingForwards[floatingAddress]

        return self._run("removeFloatingForward", (floatingAddress, fixedAddress), change)

    def ensureVpnForward(self, publicAddress, port, privateAddress):
        def change():
            _checkAddress(publicAddress)
            _checkAddress(privateAddress)
            if not 0 < int(port) < 65536:
                raise NetworkDriverError(f"bad VPN port {port!r}")
            existing = self.vpnForwards.get((publicAddress, port))
            if existing is not None and existing != privateAddress:
                raise NetworkDriverError(f"{publicAddress}:{port} forwards to {existing}")
            self.vpnForwards[(publicAddress, port)] = privateAddress

        return self._run("ensureVpnForward", (publicAddress, port, privateAddress), change)


def _checkAddress(address):
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise NetworkDriverError(f"bad address {address!r}")


def _checkName(name):
    if not name or len(name) > _IFNAMSIZ or "/" in name or " " in name:
        raise NetworkDriverError(f"bad interface name {name!r}")
