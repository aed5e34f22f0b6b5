# -*- test-case-name: tests.network.test_manage -*-
"""
C{nova-manage network ...}, C{nova-manage fixed ...} and C{nova-manage
floating ...}: the fixed networks instances get addresses from, their
addresses, and the floating addresses projects allocate.
"""

import ipaddress

from twisted.internet.defer import inlineCallbacks

from nova.manage import Commands, formatTable
from nova.network import errors
from nova.network.manager import managerClass


def _floatingRange(text):
    """
    @return: the addresses of a range (C{a.b.c.d/n}, or one address):
        its usable host addresses.
    """
    try:
        network = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise errors.InvalidParameterValue(f"bad address range {text!r}")
    if network.prefixlen >= 31:
        return [str(address) for address in network]
    return [str(address) for address in network.hosts()]


def _dash(value):
    return "-" if value is None or value == "" else value


class NetworkCommands(Commands):
    """
    Fixed networks: subnets with their bridge (and VLAN in vlan mode).
    """

    @inlineCallbacks
    def do_create(
        self, fixed_range=None, num_networks=None, network_size=None, vlan_start=None, vpn_start=None
    ):
        """Split a fixed range into networks as --network_manager lays them out."""
        cls = managerClass(self.config.network_manager)
        plans = cls.planNetworks(
            self.config,
            fixed_range or self.config.fixed_range,
            num_networks if num_networks is not None else self.config.num_networks,
            network_size if network_size is not None else self.config.network_size,
            vlan_start,
            vpn_start,
        )
        networks = yield self.env.db.networks.createNetworks(plans)
        self.say(
            f"created {len(networks)} {cls.mode} network(s): "
            f"{networks[0].cidr} to {networks[-1].cidr}"
        )

    @inlineCallbacks
    def do_delete(self, fixed_range):
        """Delete a network and its fixed addresses (none in use, no project holding it)."""
        record = yield self.env.db.networks.deleteNetwork(fixed_range)
        self.say(f"network {record.cidr} deleted")

    @inlineCallbacks
    def do_list(self):
        """List networks: cidr, netmask, gateway, DHCP start, DNS, bridge, VLAN, project, host."""
        networks = yield self.env.db.networks.list()
        rows = [
            (
                n.id,
                n.cidr,
                n.netmask,
                n.gateway,
                n.dhcp_start,
                _dash(n.dns),
                n.bridge,
                _dash(n.vlan),
                _dash(n.vpn_public_port),
                _dash(n.project_id),
                _dash(n.host),
            )
            for n in networks
        ]
        self.say(
            formatTable(
                rows,
                (
                    "Id",
                    "Network",
                    "Netmask",
                    "Gateway",
                    "Dhcp_Start",
                    "DNS",
                    "Bridge",
                    "Vlan",
                    "Vpn_Port",
                    "Project",
                    "Host",
                ),
            )
        )


class FixedCommands(Commands):
    """
    Fixed (private) addresses: which instance holds each.
    """

    @inlineCallbacks
    def do_list(self, host=None):
        """List fixed addresses (of the instances on one host): network, address, MAC, hostname, host, instance.

        Without a host, every address of every network, held or free; with
        one, only the addresses of the instances the host runs.
        """
        networks = {n.id: n for n in (yield self.env.db.networks.list())}
        instances = {i.id: i for i in (yield self.env.db.instances.list(host=host))}
        fixed = yield self.env.db.networks.listFixedIps()
        rows = []
        for f in fixed:
            instance = instances.get(f.instance_id) if f.instance_id is not None else None
            if host is not None and instance is None:
                continue
            network = networks.get(f.network_id)
            rows.append(
                (
                    network.cidr if network else f.network_id,
                    f.address,
                    _dash(f.mac_address),
                    instance.hostname if instance else "-",
                    _dash(instance.host) if instance else "-",
                    instance.ec2Id if instance else ("reserved" if f.reserved else "-"),
                )
            )
        self.say(
            formatTable(rows, ("Network", "Address", "MAC_Address", "Hostname", "Host", "Instance"))
        )


class FloatingCommands(Commands):
    """
    Floating (public) addresses, each served by one network host.
    """

    @inlineCallbacks
    def do_create(self, host, ip_range=None):
        """Add the floating addresses of a range (default --floating_range), served by host."""
        addresses = _floatingRange(ip_range or self.config.floating_range)
        count = yield self.env.db.networks.createFloatingIps(host, addresses)
        self.say(f"created {count} floating address(es) on {host}")

    @inlineCallbacks
    def do_delete(self, ip_range):
        """Remove the floating addresses of a range that no project holds."""
        count = yield self.env.db.networks.deleteFloatingIps(_floatingRange(ip_range))
        self.say(f"deleted {count} floating address(es)")

    @inlineCallbacks
    def do_list(self, host=None):
        """List floating addresses: host, address, instance, project."""
        records = yield self.env.db.networks.listFloatingIps(host=host)
        rows = [
            (
                r.host,
                r.address,
                "i-%08x" % (r.instance_id,) if r.instance_id is not None else "-",
                _dash(r.fixed_address),
                _dash(r.project_id),
            )
            for r in records
        ]
        self.say(formatTable(rows, ("Host", "Address", "Instance", "Fixed", "Project")))
