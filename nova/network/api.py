# -*- test-case-name: tests.network.test_api -*-
"""
L{NetworkAPI}: the typed client other services use to reach nova-network.
Requests that change addresses go over RPC to the C{network} topic (or to
C{network.<host>}, the host that serves the address); reads come from the
database.

The RPC methods of the C{network} topic (all C{call}s answer; arguments
are keyword arguments, JSON values):

  - C{allocateFixedIp(instanceId, vpn=False)} -> network description
    (L{nova.network.common.fixedIpInfo});
  - C{deallocateFixedIp(instanceId)} -> the fixed addresses given back;
  - C{leaseFixedIp(address, mac)}, C{releaseFixedIp(address, mac)}: casts
    from nova-dhcpbridge to C{network.<host>};
  - C{allocateFloatingIp()} -> address, for the context's project;
  - C{releaseFloatingIp(address)};
  - C{associateFloatingIp(address, instanceId)} -> fixed address;
  - C{disassociateFloatingIp(address)} -> fixed address.

Also L{setupComputeNetwork}, which a compute host runs with its own
L{INetworkDriver} to join an instance's network.
"""

import ipaddress

from twisted.internet.defer import inlineCallbacks
from twisted.logger import Logger

from nova import exception
from nova.network import errors
from nova.network.common import fixedIpInfo
from nova.network.flags import NETWORK_MODES

TOPIC = "network"

log = Logger()


class FloatingIpUnavailable(exception.NovaError):
    """
    The floating address could not be bound on its network host, so it
    was not associated.

    The network host's driver failed (the public interface is missing,
    the address is bound elsewhere...): the request is refused at once,
    as a client error (EC2 clients retry C{InternalError}, which would
    only fail again), and the network host has undone what it began.
    The driver's own message, about the host, goes to the log.
    """

    code = "FloatingIpUnavailable"
    ec2Code = "InvalidAddress.Unavailable"
    httpStatus = 400


def setupComputeNetwork(driver, config, info):
    """
    Make the bridge an instance joins on a compute host (and, in vlan
    mode, the VLAN or VXLAN interface under it).

    @param driver: the compute host's L{INetworkDriver}.
    @param config: the compute host's configuration (for
        C{vlan_backend}).
    @param info: the network description from C{allocateFixedIp}.
    @return: L{Deferred} firing with the bridge's name.
    """
    if info.get("vlan") is None:
        d = driver.ensureBridge(info["bridge"], info.get("bridgeInterface"))
    else:
        ensure = driver.ensureVxlan if config.vlan_backend == "vxlan" else driver.ensureVlan
        d = ensure(info["vlan"], info["bridgeInterface"])
        d.addCallback(lambda interface: driver.ensureBridge(info["bridge"], interface))
    return d.addCallback(lambda _: info["bridge"])


class NetworkAPI:
    """
    How the compute service and the EC2 API ask for addresses.
    """

    def __init__(self, config, db, rpc):
        """
        @param config: the configuration (C{network_host},
            C{network_manager}).
        @param db: the L{nova.db.api.NovaDatabase}.
        @param rpc: an L{nova.rpc.interfaces.IRPC}.
        """
        self.config = config
        self.db = db
        self.rpc = rpc

    def _topic(self, host=None):
        host = host or self.config.network_host
        return f"{TOPIC}.{host}" if host else TOPIC

    # -- fixed addresses (compute) ---------------------------------------

    def allocateFixedIp(self, context, instanceId, vpn=False, host=None):
        """
        Get a fixed address for an instance.

        @param vpn: in vlan mode, give the instance its network's cloudpipe
            address.
        @param host: a network host to ask, or C{None} for any (or
            C{--network_host}).
        @return: L{Deferred} firing with the network description, a
            L{dict}: C{address}, C{mac}, C{instanceId}, C{network_id},
            C{cidr}, C{netmask}, C{gateway}, C{broadcast}, C{bridge},
            C{bridgeInterface}, C{vlan}, C{dns} (a list), C{dhcpServer},
            C{dhcpStart}, C{injected}, C{projectId}, C{host}, C{mode};
            failing with L{errors.NoMoreAddresses},
            L{errors.NoMoreNetworks} or
            L{nova.db.instances.InstanceNotFound}.
        """
        return self.rpc.call(
            context, self._topic(host), "allocateFixedIp", {"instanceId": instanceId, "vpn": vpn}
        )

    def deallocateFixedIp(self, context, instanceId, host=None):
        """
        Give back an instance's fixed addresses (its floating addresses
        are disassociated).

        @return: L{Deferred} firing with the L{list} of fixed addresses.
        """
        return self.rpc.call(
            context, self._topic(host), "deallocateFixedIp", {"instanceId": instanceId}
        )

    @inlineCallbacks
    def fixedIpsForInstance(self, context, instanceId):
        """
        @return: L{Deferred} firing with the network descriptions (as
            L{allocateFixedIp} answers) of the instance's allocated fixed
            addresses.
        """
        mode = NETWORK_MODES[self.config.network_manager]
        records = yield self.db.networks.listFixedIps(instanceId=instanceId)
        infos = []
        for record in records:
            if record.allocated:
                network = yield self.db.networks.get(record.network_id)
                infos.append(fixedIpInfo(record, network, mode))
        return infos

    # -- floating addresses (EC2) -----------------------------------------

    @inlineCallbacks
    def _visibleFloating(self, context, address):
        """
        @return: L{Deferred} firing with the record of a floating address
            allocated to the context's project (to any project, for
            superusers); failing with L{errors.FloatingIpNotFound} for
            any other, an address never allocated (or released) included,
            superusers or not.
        """
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise errors.FloatingIpNotFound(f"address {address!r} not found")
        record = yield self.db.networks.getFloatingIp(address)
        if record.project_id is None or (
            not context.isAdmin and record.project_id != context.projectId
        ):
            raise errors.FloatingIpNotFound(f"address {address} not found")
        return record

    def allocateFloatingIp(self, context):
        """
        AllocateAddress: give the context's project a floating address.

        @return: L{Deferred} firing with the address; failing with
            L{errors.AddressLimitExceeded} or L{errors.NoMoreFloatingIps}.
        """
        return self.rpc.call(context, self._topic(), "allocateFloatingIp", {})

    @inlineCallbacks
    def releaseFloatingIp(self, context, address):
        """
        ReleaseAddress.

        @return: L{Deferred} firing with C{None}; failing with
            L{errors.FloatingIpNotFound} (C{InvalidAddress.NotFound}) for
            an address the project does not hold.
        """
        record = yield self._visibleFloating(context, address)
        yield self.rpc.call(
            context, self._topic(record.host), "releaseFloatingIp", {"address": address}
        )

    @inlineCallbacks
    def associateFloatingIp(self, context, address, instanceId):
        """
        AssociateAddress.

        @param instanceId: the instance's database id.
        @return: L{Deferred} firing with the fixed address now behind
            C{address}; failing with L{errors.FloatingIpNotFound} (also for
            an address no project holds, whoever asks),
            L{nova.db.instances.InstanceNotFound},
            L{errors.NoFixedIpForInstance} or L{FloatingIpUnavailable}
            (the network host could not bind the address).
        """
        record = yield self._visibleFloating(context, address)
        try:
            fixed = yield self.rpc.call(
                context,
                self._topic(record.host),
                "associateFloatingIp",
                {"address": address, "instanceId": instanceId},
            )
        except errors.NetworkDriverError as e:
            log.warn(
                "network host {host} could not bind floating address {address}: {error}",
                host=record.host,
                address=address,
                error=e,
            )
            raise FloatingIpUnavailable(
                f"The address {address} could not be bound on its network host, so "
                "it was not associated; the cloud's operators can see why in the "
                "logs."
            ) from None
        return fixed

    @inlineCallbacks
    def disassociateFloatingIp(self, context, address):
        """
        DisassociateAddress.

        @return: L{Deferred} firing with the fixed address it pointed at;
            failing with L{errors.FloatingIpNotFound} or
            L{errors.FloatingIpNotAssociated}.
        """
        record = yield self._visibleFloating(context, address)
        fixed = yield self.rpc.call(
            context, self._topic(record.host), "disassociateFloatingIp", {"address": address}
        )
        return fixed

    @inlineCallbacks
    def floatingIpsByInstance(self, context):
        """
        The floating address in front of each instance the context sees
        (its project's; every project's for superusers): what describing
        instances shows as their public address.

        @return: L{Deferred} firing with a L{dict} from instance id (the
            database's) to the first floating address associated with it.
        """
        records = yield self.db.networks.listFloatingIps(
            projectId=None if context.isAdmin else context.projectId, associated=True
        )
        byInstance = {}
        for record in records:
            if record.instance_id is not None:
                byInstance.setdefault(record.instance_id, record.address)
        return byInstance

    @inlineCallbacks
    def describeFloatingIps(self, context, addresses=()):
        """
        DescribeAddresses: the project's floating addresses (an admin's
        context sees every allocated one).

        @param addresses: if not empty, only these, each of which must be
            visible.
        @return: L{Deferred} firing with
            L{nova.db.networks.FloatingIpRecord}s (C{instance_id} and
            C{fixed_address} say where each points); failing with
            L{errors.FloatingIpNotFound} for an address not visible.
        """
        if addresses:
            records = []
            for address in addresses:
                record = yield self._visibleFloating(context, address)
                records.append(record)
            return records
        if context.isAdmin:
            records = yield self.db.networks.listFloatingIps()
            return [record for record in records if record.project_id is not None]
        if context.projectId is None:
            return []
        records = yield self.db.networks.listFloatingIps(projectId=context.projectId)
        return records
