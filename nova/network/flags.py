"""
Flags of nova-network: the network mode, the address ranges
C{nova-manage network create} and C{floating create} carve up, the
interfaces and bridges the driver sets up, and how long addresses stay
associated after their instance went away.
"""

import os
import shutil
import sys

from nova.config import Computed, Flag

#: C{--network_manager} name -> the manager class.
NETWORK_MANAGERS = {
    "flat": "nova.network.manager.FlatManager",
    "flatdhcp": "nova.network.manager.FlatDHCPManager",
    "vlan": "nova.network.manager.VlanManager",
    "nova.network.manager.FlatManager": "nova.network.manager.FlatManager",
    "nova.network.manager.FlatDHCPManager": "nova.network.manager.FlatDHCPManager",
    "nova.network.manager.VlanManager": "nova.network.manager.VlanManager",
}

#: C{--network_manager} name -> the mode's short name.
NETWORK_MODES = {
    name: {"FlatManager": "flat", "FlatDHCPManager": "flatdhcp", "VlanManager": "vlan"}[
        path.rsplit(".", 1)[1]
    ]
    for name, path in NETWORK_MANAGERS.items()
}

#: The modes that run a DHCP server per network.
DHCP_MODES = frozenset({"flatdhcp", "vlan"})

#: C{--network_driver} name -> the L{nova.network.interfaces.INetworkDriver}
#: class, loaded by L{nova.drivers.loadDriver}.
NETWORK_DRIVERS = {
    "fake": "nova.network.fake.FakeNetworkDriver",
    "linux_net": "nova.network.linux_net.LinuxNetDriver",
    "nova.network.fake.FakeNetworkDriver": "nova.network.fake.FakeNetworkDriver",
    "nova.network.linux_net.LinuxNetDriver": "nova.network.linux_net.LinuxNetDriver",
    "nova.network.linux_net": "nova.network.linux_net.LinuxNetDriver",
}


def _defaultDhcpbridge(values):
    """
    @return: the C{nova-dhcpbridge} installed beside the running Python
        (a virtualenv's C{bin}), else the one on C{PATH}, else the bare
        name.
    """
    beside = os.path.join(os.path.dirname(sys.executable), "nova-dhcpbridge")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("nova-dhcpbridge") or "nova-dhcpbridge"

OPTIONS = (
    Flag(
        "network_manager",
        "str",
        "flat",
        "Network mode: 'flat', 'flatdhcp' or 'vlan'.  The dotted names "
        "nova.network.manager.FlatManager, FlatDHCPManager and VlanManager are "
        "accepted too.",
        choices=tuple(NETWORK_MANAGERS),
    ),
    Flag(
        "network_driver",
        "str",
        "fake",
        "What sets up bridges, VLANs, DHCP and NAT on the host: 'fake' (records "
        "what it would do) or 'linux_net' (ip, iptables and dnsmasq, as root).  "
        "The dotted names nova.network.fake.FakeNetworkDriver and "
        "nova.network.linux_net.LinuxNetDriver are accepted too.",
        choices=tuple(NETWORK_DRIVERS),
    ),
    Flag(
        "fixed_range",
        "str",
        "10.0.0.0/8",
        "Range of fixed (private) addresses `nova-manage network create` "
        "splits into networks when none is given.",
    ),
    Flag(
        "num_networks",
        "int",
        1000,
        "Number of networks `nova-manage network create` makes when none is given.",
        minimum=1,
    ),
    Flag(
        "network_size",
        "int",
        256,
        "Addresses per network (a power of two, at least 4) for "
        "`nova-manage network create` when none is given.",
        minimum=4,
    ),
    Flag(
        "vlan_start",
        "int",
        100,
        "VLAN of the first network in vlan mode; network n gets vlan_start + n "
        "and the bridge br<vlan>.",
        minimum=1,
    ),
    Flag(
        "vlan_interface",
        "str",
        "eth0",
        "Physical interface the VLAN interfaces of vlan mode are made on.",
    ),
    Flag(
        "vlan_backend",
        "str",
        "vlan",
        "How vlan mode separates projects on the wire: 'vlan' (802.1Q "
        "interfaces vlan<N> on vlan_interface) or 'vxlan' (VXLAN interfaces "
        "vxlan<N> with VNI N over vlan_interface, for hosts without 802.1Q).",
        choices=("vlan", "vxlan"),
    ),
    Flag(
        "vpn_start",
        "int",
        1000,
        "Public port of the cloudpipe VPN of the first network in vlan mode; "
        "network n gets vpn_start + n.",
        minimum=1,
    ),
    Flag(
        "vpn_ip",
        "str",
        Computed(lambda values: values["routing_source_ip"], "$routing_source_ip"),
        "Public address cloudpipe VPNs are reached on (vlan mode).",
    ),
    Flag(
        "cnt_vpn_clients",
        "int",
        0,
        "Addresses kept free at the top of each vlan-mode network for VPN clients.",
        minimum=0,
    ),
    Flag(
        "flat_network_bridge",
        "str",
        "br100",
        "Bridge every instance joins in the flat modes.",
    ),
    Flag(
        "flat_interface",
        "str",
        "",
        "Physical interface added to flat_network_bridge in the flat modes "
        "(empty: none).",
    ),
    Flag(
        "flat_network_dns",
        "str",
        "8.8.4.4",
        "DNS server given to instances in the flat modes (vlan mode gives the "
        "network's gateway, where dnsmasq answers).",
    ),
    Flag(
        "flat_injected",
        "bool",
        False,
        "Whether flat networks are marked for injection of their settings into "
        "the guest's disk (flat mode has no DHCP server).",
    ),
    Flag(
        "public_interface",
        "str",
        "eth0",
        "Interface floating addresses are bound to.",
    ),
    Flag(
        "routing_source_ip",
        "str",
        Computed(lambda values: values["my_ip"], "$my_ip"),
        "Public address of this network host: traffic from the fixed range "
        "leaves with it as source (SNAT).",
    ),
    Flag(
        "floating_range",
        "str",
        "203.0.113.0/24",
        "Floating (public) addresses `nova-manage floating create` adds when "
        "no range is given.  The default is a documentation range (RFC 5737, "
        "TEST-NET-3) that routes nowhere: set the public addresses this cloud "
        "really owns.",
    ),
    Flag(
        "fixed_ip_disassociate_timeout",
        "int",
        600,
        "Seconds a deallocated fixed address that dnsmasq did not release stays "
        "tied to its instance before the network host frees it.",
        minimum=0,
    ),
    Flag(
        "dhcp_lease_time",
        "int",
        120,
        "Seconds of the leases dnsmasq hands out.",
        minimum=1,
    ),
    Flag(
        "network_host",
        "str",
        "",
        "If set, the only host that takes unclaimed networks, and where "
        "requests about them are sent; if empty, the first nova-network host "
        "that handles a request for a network claims it.",
    ),
    Flag(
        "ec2_dmz_host",
        "str",
        Computed(lambda values: values["routing_source_ip"], "$routing_source_ip"),
        "Address of the metadata service (nova-api) that guests' requests to "
        "169.254.169.254:80 are forwarded to, on port ec2_port.",
    ),
    Flag(
        "network_namespace",
        "str",
        "",
        "Run every command of the linux_net driver (ip, iptables, sysctl, "
        "dnsmasq) and of the iptables firewall inside this network namespace "
        "(`ip netns exec NAME ...`); empty: the host's own namespace.",
    ),
    Flag(
        "networks_path",
        "path",
        Computed(lambda v: os.path.join(v["state_path"], "networks"), "$state_path/networks"),
        "Directory of dnsmasq's files: nova-<bridge>.conf (the static hosts), "
        "nova-<bridge>.pid.",
    ),
    Flag(
        "dnsmasq",
        "str",
        "dnsmasq",
        "The dnsmasq command the linux_net driver runs per network.",
    ),
    Flag(
        "dhcp_release",
        "str",
        "dhcp_release",
        "The command (from dnsmasq's utilities) the linux_net driver runs to "
        "end a terminated instance's lease at once, so that its fixed address "
        "is freed without waiting for the lease to expire.",
    ),
    Flag(
        "dnsmasq_user",
        "str",
        "",
        "User dnsmasq switches to after start (--user); empty: dnsmasq's "
        "default (nobody), which must be able to read networks_path.",
    ),
    Flag(
        "dhcpbridge",
        "str",
        Computed(_defaultDhcpbridge, "nova-dhcpbridge beside the Python interpreter"),
        "Absolute path of nova-dhcpbridge, which dnsmasq runs (--dhcp-script) "
        "on every lease change.",
    ),
    Flag(
        "dhcpbridge_flagfile",
        "str",
        "",
        "Flagfile nova-dhcpbridge reads (passed to dnsmasq, and from it to the "
        "script, as FLAGFILE).  With --rpc_backend=amqp the bridge casts each "
        "lease and release to network.<host>, so the flagfile names the RPC "
        "backend, its --rabbit_* flags and --host.  With --rpc_backend=local "
        "it updates the database --sql_connection names itself, so the "
        "flagfile must name the same --state_path or --sql_connection, "
        "--host, --network_manager, --network_driver and network flags as "
        "the network host.  Empty: nova-dhcpbridge runs on its defaults.",
    ),
    Flag(
        "dhcp_domain",
        "str",
        "novalocal",
        "Domain dnsmasq gives instances (--domain).",
    ),
    Flag(
        "enable_ip_forward",
        "bool",
        True,
        "Let the linux_net driver turn on IPv4 forwarding (sysctl "
        "net.ipv4.ip_forward=1) when nova-network starts.",
    ),
    Flag(
        "dmz_cidr",
        "list",
        (),
        "Destinations (CIDRs) the fixed range reaches without source NAT, "
        "besides the fixed range itself and the metadata host.",
    ),
    Flag(
        "vxlan_port",
        "int",
        4789,
        "UDP port of the VXLAN interfaces of vlan mode with vlan_backend=vxlan.",
        minimum=1,
    ),
    Flag(
        "vxlan_group",
        "str",
        "",
        "Multicast group VXLAN interfaces flood to (empty: none; then "
        "vxlan_peers gives the other hosts).",
    ),
    Flag(
        "vxlan_peers",
        "list",
        (),
        "Addresses of the other hosts of the VXLAN underlay, each given an "
        "all-zero forwarding entry on every VXLAN interface.",
    ),
    Flag(
        "vpn_image_id",
        "str",
        "",
        "Image (ami-...) of the cloudpipe VPN instances of vlan mode; an "
        "instance of this image with the key pair <project><vpn_key_suffix> "
        "gets its network's VPN address.  Empty: no cloudpipe.",
    ),
    Flag(
        "vpn_key_suffix",
        "str",
        "-vpn",
        "Suffix of the key pair and security group names of cloudpipe "
        "instances (<project><suffix>).",
    ),
    Flag(
        "vpn_instance_type",
        "str",
        "m1.tiny",
        "Instance type of cloudpipe VPN instances.",
    ),
    Flag(
        "vpn_keys_path",
        "path",
        Computed(lambda v: os.path.join(v["state_path"], "keys"), "$state_path/keys"),
        "Where nova-manage vpn keeps the private keys of cloudpipe key pairs "
        "(<user>/<project><vpn_key_suffix>.pem).",
    ),
)
