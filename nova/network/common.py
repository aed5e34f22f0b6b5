# -*- test-case-name: tests.network.test_manager -*-
"""
What the network manager and its clients share: the JSON description of an
instance's address and network, and MAC addresses.
"""

import attr

#: The prefix of the MAC addresses instances get.
MAC_PREFIX = (0x02, 0x16, 0x3E)


@attr.s(frozen=True)
class Addressing:
    """
    What giving an instance a fixed address uses of it: its project (its
    network in vlan mode), image and key pair (whether it is the
    project's cloudpipe) and MAC address.  A caller that read the
    instance sends these with C{allocateFixedIp} (L{addressingOf}), so
    that the network host need not read it again.
    """

    id = attr.ib()
    project_id = attr.ib()
    image_id = attr.ib()
    key_name = attr.ib()
    mac_address = attr.ib()

    @classmethod
    def fromMessage(cls, instanceId, fields):
        """
        @param fields: the L{dict} L{addressingOf} made.
        """
        return cls(instanceId, *(fields.get(name) for name in _ADDRESSING_FIELDS))


_ADDRESSING_FIELDS = ("project_id", "image_id", "key_name", "mac_address")


def addressingOf(instance):
    """
    @param instance: an L{nova.db.records.InstanceRecord} or L{Addressing}.
    @return: the JSON L{dict} of its L{Addressing} fields, for an
        C{allocateFixedIp} request.
    """
    return {name: getattr(instance, name) for name in _ADDRESSING_FIELDS}


def newMacAddress(rng):
    """
    @param rng: a L{random.Random}.
    @return: a random MAC address C{02:16:3e:xx:xx:xx}.
    """
    octets = MAC_PREFIX + (rng.randint(0x00, 0x7F), rng.randint(0x00, 0xFF), rng.randint(0x00, 0xFF))
    return ":".join("%02x" % (octet,) for octet in octets)


def fixedIpInfo(fixed, network, mode):
    """
    Describe an instance's fixed address and its network, as
    C{allocateFixedIp} answers.

    @param fixed: a L{nova.db.networks.FixedIpRecord}.
    @param network: its network's L{nova.db.networks.NetworkRecord}.
    @param mode: the network mode: C{flat}, C{flatdhcp} or C{vlan}.
    @return: a JSON L{dict}: C{address}, C{mac}, C{instanceId},
        C{network_id}, C{cidr}, C{netmask}, C{gateway}, C{broadcast},
        C{bridge}, C{bridgeInterface} (the physical interface under the
        bridge, or under the VLAN in vlan mode), C{vlan}, C{dns} (a list),
        C{dhcpServer} (C{None} in flat mode, where the settings are
        injected), C{dhcpStart}, C{injected}, C{projectId}, C{host} (the
        network host), C{mode}.
    """
    return {
        "address": fixed.address,
        "mac": fixed.mac_address,
        "instanceId": fixed.instance_id,
        "network_id": network.id,
        "cidr": network.cidr,
        "netmask": network.netmask,
        "gateway": network.gateway,
        "broadcast": network.broadcast,
        "bridge": network.bridge,
        "bridgeInterface": network.bridge_interface,
        "vlan": network.vlan,
        "dns": [network.dns or network.gateway],
        "dhcpServer": network.gateway if mode != "flat" else None,
        "dhcpStart": network.dhcp_start,
        "injected": bool(network.injected),
        "projectId": network.project_id,
        "host": network.host,
        "mode": mode,
    }
