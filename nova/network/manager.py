# -*- test-case-name: tests.network.test_manager -*-
"""
The network managers: hand out fixed and floating IP addresses and set up
networks on the network host through an L{INetworkDriver}.

Three modes, chosen with C{--network_manager}:

  - C{flat} (L{FlatManager}): every instance joins one bridge; addresses
    come from the shared networks and are injected into the guest (no DHCP
    server); a deallocated address is free at once.
  - C{flatdhcp} (L{FlatDHCPManager}): as flat, with dnsmasq on the bridge
    handing each instance its address.
  - C{vlan} (L{VlanManager}): each project gets its own network with its
    own VLAN, bridge, subnet, DHCP server and cloudpipe VPN port, claimed
    the first time one of its instances needs an address.

Each network is served by one nova-network host: the first host that
handles a request for an unclaimed network claims it (or only
C{--network_host}, if set), and a host that gets a request for a network
another host serves passes it on to C{network.<that host>}.  Floating
addresses belong to the host whose public interface carries them, and
requests about one go to that host the same way.

On one host, fixed-address changes run one at a time, and so do
floating-address changes (two L{DeferredLock}s); the database claims each
address with a conditional update as well, so hosts never hand out one
address twice.
"""

import ipaddress
import random
from datetime import timedelta

from twisted.internet.defer import DeferredLock, inlineCallbacks, maybeDeferred
from twisted.logger import Logger
from twisted.python.reflect import namedAny

from nova import exception
from nova.config import ConfigError
from nova.db.instances import InstanceNotFound
from nova.db.networks import FloatingIpLimitReached
from nova.db.services import utcnow
from nova.drivers import loadDriver
from nova.manager import Manager, expose
from nova.network import errors
from nova.network.common import Addressing, addressingOf, fixedIpInfo, newMacAddress
from nova.network.flags import NETWORK_DRIVERS, NETWORK_MANAGERS
from nova.network.interfaces import INetworkDriver, NetworkDriverError
from nova.quota import AddressLimitExceeded, QuotaEngine
from nova.util.refresh import RefreshQueue

log = Logger()


def networkDriverFromConfig(config):
    """
    @return: the L{INetworkDriver} C{--network_driver} names.
    @raise ConfigError: for an unknown or broken driver.
    """
    return loadDriver(INetworkDriver, NETWORK_DRIVERS, config.network_driver, config)


def managerClass(name):
    """
    @param name: a C{--network_manager} value.
    @return: the L{NetworkManager} subclass it names.
    @raise ConfigError: for a name not in L{NETWORK_MANAGERS}.
    """
    if name not in NETWORK_MANAGERS:
        raise ConfigError(
            f"unknown network manager {name!r}; choose from {', '.join(sorted(NETWORK_MANAGERS))}"
        )
    return namedAny(NETWORK_MANAGERS[name])


def quotaFloatingLimit(config, db):
    """
    @return: a callable giving (as a L{Deferred}) a project's floating
        address limit from L{nova.quota} (the C{--quota_floating_ips}
        default or the project's override; C{-1}: unlimited).
    """
    engine = QuotaEngine.fromConfig(config, db)

    def limit(projectId):
        d = engine.getQuota(projectId)
        return d.addCallback(lambda quota: -1 if quota["floating_ips"] is None else quota["floating_ips"])

    return limit


def networkManagerFromConfig(config, db, rpc, clock):
    """
    Build the manager C{--network_manager} names, with the driver
    C{--network_driver} names: the factory nova-network's and nova-all's
    C{makeService} call.

    @return: a L{NetworkManager}.
    @raise ConfigError: for an unknown manager or driver.
    """
    return managerClass(config.network_manager)(config, db, rpc, clock)


def _subnets(cidr, numNetworks, networkSize):
    try:
        fixedNet = ipaddress.IPv4Network(cidr)
    except ValueError as e:
        raise errors.InvalidParameterValue(f"bad fixed range {cidr!r}: {e}")
    try:
        numNetworks, networkSize = int(numNetworks), int(networkSize)
    except (TypeError, ValueError):
        raise errors.InvalidParameterValue("num_networks and network_size must be integers")
    if networkSize < 4 or networkSize & (networkSize - 1):
        raise errors.InvalidParameterValue(
            f"network_size must be a power of two of at least 4, not {networkSize}"
        )
    if numNetworks < 1:
        raise errors.InvalidParameterValue("num_networks must be at least 1")
    if numNetworks * networkSize > fixedNet.num_addresses:
        raise errors.InvalidParameterValue(
            f"{numNetworks} networks of {networkSize} addresses do not fit in {cidr}"
        )
    prefix = 32 - (networkSize.bit_length() - 1)
    subnets = fixedNet.subnets(new_prefix=prefix)
    return [next(subnets) for _ in range(numNetworks)]


class NetworkManager(Manager):
    """
    What every mode shares.  Subclasses say how an instance's network is
    found (L{_networkFor}) and how a network is set up on its host
    (L{_setUpNetwork}).

    @cvar mode: the mode's short name.
    @cvar dhcp: whether the mode runs a DHCP server per network (and so
        keeps a deallocated address until dnsmasq releases it).
    @ivar driver: the L{INetworkDriver}.
    @ivar floatingQuota: called with a project id, returns (or fires
        with) the number of floating addresses it may hold (C{-1}:
        unlimited).
    """

    mode = None
    dhcp = False

    def __init__(self, config, db, rpc, clock, driver=None, floatingQuota=None, rng=None):
        """
        @param driver: an L{INetworkDriver}; by default the one
            C{--network_driver} names.
        @param floatingQuota: see L{floatingQuota}; by default
            L{quotaFloatingLimit}.
        @param rng: a L{random.Random} for MAC addresses.
        """
        Manager.__init__(self, config, db, rpc, clock)
        self.driver = driver if driver is not None else networkDriverFromConfig(config)
        self.floatingQuota = floatingQuota or quotaFloatingLimit(config, db)
        self.random = rng if rng is not None else random.SystemRandom()
        self._fixedLock = DeferredLock()
        self._floatingLock = DeferredLock()
        self._setUp = set()
        self._dhcpQueues = {}

    # -- network creation (nova-manage) --------------------------------

    @classmethod
    def planNetworks(cls, config, cidr, numNetworks, networkSize, vlanStart=None, vpnStart=None):
        """
        Split C{cidr} into C{numNetworks} networks of C{networkSize}
        addresses, as this mode lays them out.

        @return: a L{list} of plans for
            L{nova.db.networks.NetworkStore.createNetworks}.
        @raise errors.InvalidParameterValue: for sizes that do not fit.
        """
        plans = []
        for index, subnet in enumerate(_subnets(cidr, numNetworks, networkSize)):
            hosts = list(subnet)
            plans.append(
                {
                    "cidr": str(subnet),
                    "netmask": str(subnet.netmask),
                    "gateway": str(hosts[1]),
                    "broadcast": str(subnet.broadcast_address),
                    "dhcp_start": str(hosts[2]),
                    "dns": config.flat_network_dns,
                    "bridge": config.flat_network_bridge,
                    "bridge_interface": config.flat_interface or None,
                    "injected": cls.mode == "flat" and config.flat_injected,
                    "reserved": [str(hosts[0]), str(hosts[1]), str(hosts[-1])],
                }
            )
        return plans

    # -- helpers ---------------------------------------------------------

    def _newMac(self):
        return newMacAddress(self.random)

    def _locked(self, lock, fn, *args):
        return lock.run(maybeDeferred, fn, *args)

    def _forward(self, context, host, method, args):
        """
        Pass a request on to the host that serves what it is about.
        """
        log.debug("passing {method} on to network.{host}", method=method, host=host)
        return self.rpc.call(context, f"network.{host}", method, args)

    @inlineCallbacks
    def _claimed(self, network):
        """
        @return: L{Deferred} firing with the network's record once a host
            serves it: this one if nobody did and this host may claim it,
            C{--network_host} otherwise (still unclaimed; the caller passes
            the request on).
        """
        if network.host is not None:
            return network
        wanted = self.config.network_host
        if wanted and wanted != self.host:
            return network
        network = yield self.db.networks.claimHost(network.id, self.host)
        if network.host == self.host:
            log.info("network {cidr} is served by {host}", cidr=network.cidr, host=self.host)
        return network

    @inlineCallbacks
    def _ensureSetUp(self, network):
        """
        Set up a network this host serves, once per process.
        """
        if network.id not in self._setUp:
            yield self._setUpNetwork(network)
            self._setUp.add(network.id)

    def _setUpNetwork(self, network):
        """
        Make the bridge (and what else the mode needs) of a network this
        host serves.

        @return: L{Deferred}.
        """
        raise NotImplementedError(f"{type(self).__name__} does not set up networks")

    def _isCloudpipe(self, instance):
        """
        @return: whether the instance is its project's cloudpipe VPN (which
            gets its network's VPN address): never, but in vlan mode.
        """
        return False

    def _networkFor(self, context, instance, vpn):
        """
        @return: L{Deferred} firing with the L{NetworkRecord} an instance's
            address comes from.
        """
        raise NotImplementedError(f"{type(self).__name__} has no networks")

    def _updateDhcp(self, network):
        """
        Hand the driver (dnsmasq) the network's static DHCP leases as the
        database has them now.  Requests for a network that arrive while
        its leases are being written wait, together, for the next write:
        a launch of many instances costs a few writes, not one each.

        @return: L{Deferred} firing once a write that started after this
            request finished.
        """
        queue = self._dhcpQueues.get(network.id)
        if queue is None:
            queue = self._dhcpQueues[network.id] = RefreshQueue(self._writeDhcp)
        return queue.request(network.id, network)

    @inlineCallbacks
    def _writeDhcp(self, networks):
        """
        @param networks: a L{dict} of one network's id to its record.
        """
        [network] = networks.values()
        hosts = yield self.db.networks.dhcpHosts(network.id)
        yield self.driver.updateDhcp(network, hosts)

    def _macFactory(self, preferred):
        """
        @return: a MAC factory for the database that offers C{preferred}
            (the instance's own MAC) first, then random ones.
        """
        offered = []

        def factory():
            if preferred and not offered:
                offered.append(preferred)
                return preferred.lower()
            return self._newMac()

        return factory

    # -- start and periodic work ------------------------------------------

    @inlineCallbacks
    def initHost(self):
        """
        Host-wide driver setup, then set up again the networks this host
        serves and bind the floating addresses of its instances.
        """
        yield self.driver.initHost()
        if self.config.ec2_port:
            yield self.driver.metadataForward(self.config.ec2_dmz_host, self.config.ec2_port)
        else:
            log.info("--ec2_port is 0 (any free port): guests get no metadata forward")
        networks = yield self.db.networks.list(host=self.host)
        for network in networks:
            yield self._ensureSetUp(network)
        floating = yield self.db.networks.listFloatingIps(host=self.host, associated=True)
        for record in floating:
            try:
                yield self.driver.bindFloatingIp(record.address, self.config.public_interface)
            except NetworkDriverError as e:
                # Still bound from before the restart, most likely: the
                # forward is restored all the same.
                log.warn(
                    "cannot bind floating address {address}: {error}",
                    address=record.address,
                    error=e,
                )
            try:
                yield self.driver.ensureFloatingForward(record.address, record.fixed_address)
            except NetworkDriverError as e:
                log.warn(
                    "cannot restore floating address {address}: {error}",
                    address=record.address,
                    error=e,
                )

    def periodicTasks(self, context):
        """
        Free the fixed addresses that were deallocated more than
        C{--fixed_ip_disassociate_timeout} seconds ago and that dnsmasq does
        not lease.

        @return: L{Deferred} firing with the number of addresses freed.
        """
        return self._locked(self._fixedLock, self._reclaim)

    @inlineCallbacks
    def _reclaim(self):
        cutoff = utcnow(self.clock) - timedelta(seconds=self.config.fixed_ip_disassociate_timeout)
        freed = yield self.db.networks.disassociateTimedOut(self.host, cutoff)
        if self.dhcp:
            for networkId in sorted({record.network_id for record in freed}):
                network = yield self.db.networks.get(networkId)
                yield self._ensureSetUp(network)
                yield self._updateDhcp(network)
        for record in freed:
            log.info(
                "fixed address {address} of instance {instance} freed after timeout",
                address=record.address,
                instance=record.instance_id,
            )
        return len(freed)

    # -- fixed addresses ---------------------------------------------------

    @expose
    @inlineCallbacks
    def allocateFixedIp(self, context, instanceId, vpn=False, instance=None):
        """
        Give an instance a fixed address in its network (the shared one in
        the flat modes, its project's in vlan mode; with C{vpn}, in vlan
        mode, the network's cloudpipe address).

        @param instance: the instance's fields the allocation uses, as the
            caller read them (L{nova.network.common.addressingOf}), or
            L{None} to read the instance here.

        @return: L{Deferred} firing with the network description (see
            L{fixedIpInfo}); failing with
            L{nova.db.instances.InstanceNotFound}, L{errors.NoMoreAddresses}
            or L{errors.NoMoreNetworks}.
        """
        if instance is None:
            instance = yield self.db.instances.get(instanceId)
        else:
            instance = Addressing.fromMessage(instanceId, instance)
        vpn = bool(vpn) or self._isCloudpipe(instance)
        network = yield self._networkFor(context, instance, vpn)
        network = yield self._claimed(network)
        if network.host != self.host:
            target = network.host or self.config.network_host
            result = yield self._forward(
                context,
                target,
                "allocateFixedIp",
                {"instanceId": instanceId, "vpn": vpn, "instance": addressingOf(instance)},
            )
            return result
        fixed = yield self._locked(self._fixedLock, self._allocateFixed, network, instance, vpn)
        if self.dhcp:
            yield self._updateDhcp(network)
        log.info(
            "fixed address {address} ({mac}) allocated to instance {instance}",
            address=fixed.address,
            mac=fixed.mac_address,
            instance=instance.id,
        )
        return fixedIpInfo(fixed, network, self.mode)

    @inlineCallbacks
    def _allocateFixed(self, network, instance, vpn):
        """
        @return: L{Deferred} firing with the L{FixedIpRecord} allocated.
        """
        yield self._ensureSetUp(network)
        macs = self._macFactory(instance.mac_address)
        if vpn:
            if not network.vpn_private_address:
                raise errors.InvalidParameterValue(f"network {network.cidr} has no VPN address")
            fixed = yield self.db.networks.associateFixedIp(
                network.vpn_private_address, instance.id, macs
            )
        else:
            fixed = yield self.db.networks.allocateFixedIp(network.id, instance.id, macs)
        return fixed

    @expose
    @inlineCallbacks
    def deallocateFixedIp(self, context, instanceId):
        """
        The instance is gone: disassociate its floating addresses and give
        back its fixed addresses (at once in flat mode; in the DHCP modes
        once dnsmasq releases the lease, or after
        C{--fixed_ip_disassociate_timeout}).

        @return: L{Deferred} firing with the L{list} of fixed addresses
            deallocated (here and on the hosts the request was passed on
            to).
        """
        fixed = yield self.db.networks.listFixedIps(instanceId=instanceId)
        local, elsewhere = [], {}
        for record in fixed:
            if not record.allocated:
                continue
            network = yield self.db.networks.get(record.network_id)
            if network.host in (None, self.host):
                local.append((record, network))
            else:
                elsewhere.setdefault(network.host, []).append(record)
        done = []
        for host in sorted(elsewhere):
            addresses = yield self._forward(
                context, host, "deallocateFixedIp", {"instanceId": instanceId}
            )
            done.extend(addresses)
        for record, network in local:
            yield self._disassociateFloatingOf(context, record.address)
            address = yield self._locked(self._fixedLock, self._deallocateFixed, record, network)
            done.append(address)
        return done

    @inlineCallbacks
    def _deallocateFixed(self, record, network):
        yield self.db.networks.deallocateFixedIp(record.address, disassociate=not self.dhcp)
        if not self.dhcp:
            log.info("fixed address {address} freed", address=record.address)
            return record.address
        # Ask dnsmasq to end the lease now: its release (through
        # nova-dhcpbridge) frees the address; failing that, the periodic
        # task frees it after --fixed_ip_disassociate_timeout.
        try:
            yield self.driver.releaseDhcp(network, record.address, record.mac_address)
        except NetworkDriverError as e:
            log.warn(
                "cannot end the lease of {address}: {error}", address=record.address, error=e
            )
        return record.address

    @inlineCallbacks
    def _disassociateFloatingOf(self, context, fixedAddress):
        floating = yield self.db.networks.listFloatingIps(fixedAddress=fixedAddress)
        for record in floating:
            yield self._routedDisassociate(context.elevated(), record)

    @expose
    def leaseFixedIp(self, context, address, mac):
        """
        dnsmasq leased C{address} to C{mac} (from nova-dhcpbridge).

        @return: L{Deferred} firing with C{None}; failing with
            L{errors.FixedIpNotFound}, L{errors.FixedIpNotAssociated} or
            L{errors.MacMismatch}, changing nothing.
        """
        d = self.db.networks.leaseFixedIp(address, mac)

        def leased(record):
            log.debug("fixed address {address} leased to {mac}", address=address, mac=mac)

        def refused(failure):
            failure.trap(exception.NovaError)
            log.warn(
                "lease of {address} to {mac} refused: {error}",
                address=address,
                mac=mac,
                error=failure.value,
            )
            return failure

        return d.addCallbacks(leased, refused)

    @expose
    def releaseFixedIp(self, context, address, mac):
        """
        dnsmasq took back the lease of C{address} from C{mac} (from
        nova-dhcpbridge); an address whose instance is gone is free now.

        @return: L{Deferred} firing with C{None}; failing as
            L{leaseFixedIp}.
        """
        return self._locked(self._fixedLock, self._release, address, mac)

    @inlineCallbacks
    def _release(self, address, mac):
        try:
            before = yield self.db.networks.releaseFixedIp(address, mac)
        except exception.NovaError as e:
            log.warn(
                "release of {address} by {mac} refused: {error}", address=address, mac=mac, error=e
            )
            raise
        if not before.allocated:
            log.info("fixed address {address} freed on release", address=address)
            if self.dhcp:
                network = yield self.db.networks.get(before.network_id)
                if network.host == self.host:
                    yield self._ensureSetUp(network)
                    yield self._updateDhcp(network)

    # -- floating addresses ------------------------------------------------

    def _visible(self, context, record):
        """
        @raise errors.FloatingIpNotFound: unless the context may see the
            floating address.
        """
        if context.isAdmin:
            return
        if record.project_id is None or record.project_id != context.projectId:
            raise errors.FloatingIpNotFound(f"floating address {record.address} not found")

    @inlineCallbacks
    def _ownFloating(self, context, address):
        record = yield self.db.networks.getFloatingIp(address)
        self._visible(context, record)
        return record

    @expose
    @inlineCallbacks
    def allocateFloatingIp(self, context):
        """
        Give the context's project a floating address, within its quota.

        @return: L{Deferred} firing with the address (L{str}); failing with
            L{errors.AddressLimitExceeded} or L{errors.NoMoreFloatingIps}.
        """
        if context.projectId is None:
            raise exception.NotAuthorized("allocating a floating address needs a project")
        limit = yield maybeDeferred(self.floatingQuota, context.projectId)
        try:
            record = yield self._locked(
                self._floatingLock,
                self.db.networks.allocateFloatingIp,
                context.projectId,
                self.host,
                limit,
            )
        except FloatingIpLimitReached as e:
            raise AddressLimitExceeded(f"Quota exceeded for floating_ips: {e}")
        log.info(
            "floating address {address} allocated to project {project}",
            address=record.address,
            project=context.projectId,
        )
        return record.address

    @expose
    @inlineCallbacks
    def releaseFloatingIp(self, context, address):
        """
        Give a floating address back (disassociating it first).

        @return: L{Deferred} firing with C{None}; failing with
            L{errors.FloatingIpNotFound} for an address the project does not
            hold.
        """
        record = yield self._ownFloating(context, address)
        if record.host != self.host:
            yield self._forward(context, record.host, "releaseFloatingIp", {"address": address})
            return None
        yield self._locked(self._floatingLock, self._releaseFloating, context, address)

    @inlineCallbacks
    def _releaseFloating(self, context, address):
        record = yield self._ownFloating(context, address)
        if record.fixed_ip_id is not None:
            yield self._disassociateLocal(record)
        yield self.db.networks.releaseFloatingIp(address)
        log.info("floating address {address} released", address=address)

    @expose
    @inlineCallbacks
    def associateFloatingIp(self, context, address, instanceId):
        """
        Point a floating address at an instance's fixed address (moving it
        from another instance, and replacing the instance's earlier
        floating address, as EC2 does).

        @return: L{Deferred} firing with the fixed address; failing with
            L{errors.FloatingIpNotFound},
            L{nova.db.instances.InstanceNotFound} (also for another
            project's instance) or L{errors.NoFixedIpForInstance}.
        """
        record = yield self._ownFloating(context, address)
        if record.host != self.host:
            fixedAddress = yield self._forward(
                context,
                record.host,
                "associateFloatingIp",
                {"address": address, "instanceId": instanceId},
            )
            return fixedAddress
        fixedAddress = yield self._locked(
            self._floatingLock, self._associate, context, address, instanceId
        )
        return fixedAddress

    @inlineCallbacks
    def _instanceFixedAddress(self, context, instanceId):
        instance = yield self.db.instances.get(instanceId)
        if instance.deleted or (
            not context.isAdmin and instance.project_id != context.projectId
        ):
            raise InstanceNotFound(f"instance {instanceId} not found")
        fixed = yield self.db.networks.listFixedIps(instanceId=instanceId)
        fixed = [record for record in fixed if record.allocated]
        if not fixed:
            raise errors.NoFixedIpForInstance(f"instance {instanceId} has no fixed address")
        return fixed[0].address

    @inlineCallbacks
    def _associate(self, context, address, instanceId):
        record = yield self._ownFloating(context, address)
        fixedAddress = yield self._instanceFixedAddress(context, instanceId)
        if record.fixed_address == fixedAddress:
            return fixedAddress
        if record.fixed_ip_id is not None:
            yield self._disassociateLocal(record)
        others = yield self.db.networks.listFloatingIps(fixedAddress=fixedAddress)
        for other in others:
            if other.host == self.host:
                yield self._disassociateLocal(other)
            else:
                yield self._forward(
                    context.elevated(),
                    other.host,
                    "disassociateFloatingIp",
                    {"address": other.address},
                )
        yield self.db.networks.associateFloatingIp(address, fixedAddress)
        try:
            yield self.driver.bindFloatingIp(address, self.config.public_interface)
            try:
                yield self.driver.ensureFloatingForward(address, fixedAddress)
            except NetworkDriverError:
                yield self.driver.unbindFloatingIp(address, self.config.public_interface)
                raise
        except NetworkDriverError:
            yield self.db.networks.disassociateFloatingIp(address)
            raise
        log.info(
            "floating address {address} associated with {fixed}", address=address, fixed=fixedAddress
        )
        return fixedAddress

    @expose
    @inlineCallbacks
    def disassociateFloatingIp(self, context, address):
        """
        Stop pointing a floating address at its instance.

        @return: L{Deferred} firing with the fixed address it pointed at;
            failing with L{errors.FloatingIpNotFound} or
            L{errors.FloatingIpNotAssociated}.
        """
        record = yield self._ownFloating(context, address)
        result = yield self._routedDisassociate(context, record)
        return result

    @inlineCallbacks
    def _routedDisassociate(self, context, record):
        if record.host != self.host:
            result = yield self._forward(
                context, record.host, "disassociateFloatingIp", {"address": record.address}
            )
            return result
        result = yield self._locked(
            self._floatingLock, self._disassociateChecked, context, record.address
        )
        return result

    @inlineCallbacks
    def _disassociateChecked(self, context, address):
        record = yield self._ownFloating(context, address)
        if record.fixed_ip_id is None:
            raise errors.FloatingIpNotAssociated(f"floating address {address} is not associated")
        fixedAddress = yield self._disassociateLocal(record)
        return fixedAddress

    @inlineCallbacks
    def _disassociateLocal(self, record):
        """
        Untie a floating address this host serves from its fixed address,
        in the database and on the host.  Called with the floating lock
        held.

        @return: L{Deferred} firing with the fixed address it had.
        """
        before = yield self.db.networks.disassociateFloatingIp(record.address)
        yield self.driver.removeFloatingForward(record.address, before.fixed_address)
        yield self.driver.unbindFloatingIp(record.address, self.config.public_interface)
        log.info(
            "floating address {address} disassociated from {fixed}",
            address=record.address,
            fixed=before.fixed_address,
        )
        return before.fixed_address


class FlatManager(NetworkManager):
    """
    Flat mode: one bridge for every instance, addresses from the shared
    networks injected into the guests, no DHCP server.
    """

    mode = "flat"
    dhcp = False

    def _networkFor(self, context, instance, vpn):
        if vpn:
            raise errors.InvalidParameterValue("flat networks have no cloudpipe VPN")
        return self.db.networks.firstWithFreeAddress()

    def _setUpNetwork(self, network):
        return self.driver.ensureBridge(network.bridge, network.bridge_interface)


class FlatDHCPManager(FlatManager):
    """
    Flat mode with dnsmasq on the bridge, which carries the gateway
    address.
    """

    mode = "flatdhcp"
    dhcp = True

    @classmethod
    def planNetworks(cls, config, cidr, numNetworks, networkSize, vlanStart=None, vpnStart=None):
        if int(numNetworks) != 1:
            # Every flat network shares flat_network_bridge, which carries
            # one gateway address for dnsmasq to serve on.
            raise errors.InvalidParameterValue(
                "flatdhcp serves one network on flat_network_bridge: use num_networks=1"
            )
        return super().planNetworks(config, cidr, numNetworks, networkSize)

    @inlineCallbacks
    def _setUpNetwork(self, network):
        yield self.driver.ensureBridge(
            network.bridge,
            network.bridge_interface,
            f"{network.gateway}/{network.prefixLength}",
        )
        yield self._updateDhcp(network)


class VlanManager(NetworkManager):
    """
    VLAN mode: each project has its own network, VLAN (or VXLAN with
    C{--vlan_backend=vxlan}), bridge, DHCP server and cloudpipe VPN port.
    """

    mode = "vlan"
    dhcp = True

    @classmethod
    def planNetworks(cls, config, cidr, numNetworks, networkSize, vlanStart=None, vpnStart=None):
        try:
            vlanStart = config.vlan_start if vlanStart is None else int(vlanStart)
            vpnStart = config.vpn_start if vpnStart is None else int(vpnStart)
        except ValueError:
            raise errors.InvalidParameterValue("vlan_start and vpn_start must be integers")
        subnets = _subnets(cidr, numNetworks, networkSize)
        if vlanStart < 1 or vlanStart + len(subnets) - 1 > 4094:
            raise errors.InvalidParameterValue(
                f"VLANs {vlanStart} to {vlanStart + len(subnets) - 1} are not all within 1-4094"
            )
        if vpnStart < 1 or vpnStart + len(subnets) - 1 > 65535:
            raise errors.InvalidParameterValue("VPN ports do not fit within 1-65535")
        top = 1 + config.cnt_vpn_clients
        if 4 + config.cnt_vpn_clients > subnets[0].num_addresses:
            raise errors.InvalidParameterValue("network_size leaves no address for instances")
        plans = []
        for index, subnet in enumerate(subnets):
            hosts = list(subnet)
            vlan = vlanStart + index
            plans.append(
                {
                    "cidr": str(subnet),
                    "netmask": str(subnet.netmask),
                    "gateway": str(hosts[1]),
                    "broadcast": str(subnet.broadcast_address),
                    "vpn_private_address": str(hosts[2]),
                    "dhcp_start": str(hosts[3]),
                    "dns": str(hosts[1]),
                    "vlan": vlan,
                    "bridge": f"br{vlan}",
                    "bridge_interface": config.vlan_interface,
                    "vpn_public_port": vpnStart + index,
                    "injected": False,
                    "reserved": [str(address) for address in hosts[:3] + hosts[-top:]],
                }
            )
        return plans

    def _networkFor(self, context, instance, vpn):
        return self.db.networks.associateProject(instance.project_id)

    def _isCloudpipe(self, instance):
        """
        An instance of C{--vpn_image_id} with the key pair
        C{<project><vpn_key_suffix>} (as C{nova-manage vpn run} launches
        it) is its project's cloudpipe VPN.
        """
        from nova.network.cloudpipe import isCloudpipe

        return isCloudpipe(self.config, instance)

    @inlineCallbacks
    def _setUpNetwork(self, network):
        if self.config.vlan_backend == "vxlan":
            interface = yield self.driver.ensureVxlan(network.vlan, network.bridge_interface)
        else:
            interface = yield self.driver.ensureVlan(network.vlan, network.bridge_interface)
        yield self.driver.ensureBridge(
            network.bridge, interface, f"{network.gateway}/{network.prefixLength}"
        )
        yield self._updateDhcp(network)
        if network.vpn_public_port and network.vpn_private_address:
            # --vpn_ip unless `nova-manage vpn change` set another address.
            if not network.vpn_public_address:
                network = yield self.db.networks.setVpnPublicAddress(
                    network.id, self.config.vpn_ip
                )
            yield self.driver.ensureVpnForward(
                network.vpn_public_address, network.vpn_public_port, network.vpn_private_address
            )
