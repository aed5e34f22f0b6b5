# -*- test-case-name: tests.db.test_networks -*-
"""
The networks, fixed_ips and floating_ips tables.

Addresses are claimed with a conditional C{UPDATE ... WHERE instance_id IS
NULL} (or C{project_id IS NULL}) whose row count says whether this
transaction won, so two transactions never take one address whatever the
isolation level; a transaction the database aborts for a conflict
(PostgreSQL's serialisation failures, MySQL's deadlocks) is run again by the
transactor (L{nova.db.store}), which tells the claiming functions which
attempt this is (their C{attempt} argument) so they try other candidates.
"""

import ipaddress
import random

import attr
from storm.expr import And, Insert, LeftJoin, Or, Update
from storm.locals import Bool, DateTime, Int, Unicode

from nova import exception
from nova.db.models import Instance
from nova.db.services import utcnow
from nova.db.store import TransactionConflict, chunks, readOnly


class NetworkNotFound(exception.NotFound):
    """No such network."""

    code = "NetworkNotFound"


class NetworkExists(exception.Invalid):
    """A network overlaps an existing one."""

    code = "NetworkExists"


class VpnEndpointTaken(exception.Invalid):
    """Another network's VPN is reached on that address and port."""

    code = "VpnEndpointTaken"


class NoMoreNetworks(exception.NovaError):
    """No network is left for a new project."""

    code = "NoMoreNetworks"
    ec2Code = "InsufficientInstanceCapacity"
    httpStatus = 503


class NoMoreAddresses(exception.NovaError):
    """No fixed address is left in the network."""

    code = "NoMoreAddresses"
    ec2Code = "InsufficientFreeAddressesInSubnet"
    httpStatus = 503


class FixedIpNotFound(exception.NotFound):
    """No such fixed address."""

    code = "FixedIpNotFound"
    ec2Code = "InvalidAddress.NotFound"


class FixedIpInUse(exception.Invalid):
    """The fixed address belongs to another instance."""

    code = "FixedIpInUse"


class FixedIpNotAssociated(exception.Invalid):
    """The fixed address belongs to no instance."""

    code = "FixedIpNotAssociated"


class MacMismatch(exception.Invalid):
    """The MAC address is not the one the fixed address was given to."""

    code = "MacMismatch"


class FloatingIpNotFound(exception.NotFound):
    """No such floating address."""

    code = "FloatingIpNotFound"
    ec2Code = "InvalidAddress.NotFound"


class FloatingIpExists(exception.Invalid):
    """The floating address exists already."""

    code = "FloatingIpExists"


class FloatingIpInUse(exception.Invalid):
    """The floating address is allocated to a project."""

    code = "FloatingIpInUse"
    ec2Code = "InvalidIPAddress.InUse"


class FloatingIpNotAssociated(exception.Invalid):
    """The floating address is not associated with an instance."""

    code = "FloatingIpNotAssociated"
    ec2Code = "InvalidAssociationID.NotFound"


class FloatingIpLimitReached(exception.NovaError):
    """
    The project has as many floating addresses as its limit allows (the
    network manager reports it as L{nova.quota.AddressLimitExceeded}).
    """

    code = "FloatingIpLimitReached"
    ec2Code = "AddressLimitExceeded"
    httpStatus = 400


class NoMoreFloatingIps(exception.NovaError):
    """No floating address is free."""

    code = "NoMoreFloatingIps"
    ec2Code = "InsufficientAddressCapacity"
    httpStatus = 400


class Network:
    __storm_table__ = "networks"
    id = Int(primary=True)
    label = Unicode()
    cidr = Unicode()
    netmask = Unicode()
    gateway = Unicode()
    broadcast = Unicode()
    dhcp_start = Unicode()
    dns = Unicode()
    bridge = Unicode()
    bridge_interface = Unicode()
    vlan = Int()
    injected = Bool()
    vpn_public_address = Unicode()
    vpn_public_port = Int()
    vpn_private_address = Unicode()
    project_id = Unicode()
    host = Unicode()
    created_at = DateTime()
    updated_at = DateTime()


class FixedIp:
    __storm_table__ = "fixed_ips"
    id = Int(primary=True)
    address = Unicode()
    network_id = Int()
    instance_id = Int()
    mac_address = Unicode()
    allocated = Bool()
    leased = Bool()
    reserved = Bool()
    created_at = DateTime()
    updated_at = DateTime()


class FloatingIp:
    __storm_table__ = "floating_ips"
    id = Int(primary=True)
    address = Unicode()
    fixed_ip_id = Int()
    project_id = Unicode()
    host = Unicode()
    created_at = DateTime()
    updated_at = DateTime()


def _fromModel(cls, obj, **extra):
    values = {
        f.name: getattr(obj, f.name) for f in attr.fields(cls) if f.name not in extra
    }
    values.update(extra)
    return cls(**values)


@attr.s(frozen=True)
class NetworkRecord:
    """
    A network: a subnet with its bridge (and VLAN in vlan mode).
    """

    id = attr.ib()
    label = attr.ib()
    cidr = attr.ib()
    netmask = attr.ib()
    gateway = attr.ib()
    broadcast = attr.ib()
    dhcp_start = attr.ib()
    dns = attr.ib()
    bridge = attr.ib()
    bridge_interface = attr.ib()
    vlan = attr.ib()
    injected = attr.ib()
    vpn_public_address = attr.ib()
    vpn_public_port = attr.ib()
    vpn_private_address = attr.ib()
    project_id = attr.ib()
    host = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()

    fromModel = classmethod(_fromModel)

    @property
    def prefixLength(self):
        """
        @return: the prefix length of L{cidr} (L{int}).
        """
        return ipaddress.ip_network(self.cidr).prefixlen


@attr.s(frozen=True)
class FixedIpRecord:
    """
    A fixed (private) address of a network.
    """

    id = attr.ib()
    address = attr.ib()
    network_id = attr.ib()
    instance_id = attr.ib()
    mac_address = attr.ib()
    allocated = attr.ib()
    leased = attr.ib()
    reserved = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()

    fromModel = classmethod(_fromModel)


@attr.s(frozen=True)
class FloatingIpRecord:
    """
    A floating (public) address; C{fixed_address} and C{instance_id} come
    from the fixed address it is associated with, if any.
    """

    id = attr.ib()
    address = attr.ib()
    fixed_ip_id = attr.ib()
    project_id = attr.ib()
    host = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()
    fixed_address = attr.ib(default=None)
    instance_id = attr.ib(default=None)

    fromModel = classmethod(_fromModel)


_NETWORK_PLAN_FIELDS = frozenset(
    {
        "label",
        "cidr",
        "netmask",
        "gateway",
        "broadcast",
        "dhcp_start",
        "dns",
        "bridge",
        "bridge_interface",
        "vlan",
        "injected",
        "vpn_public_port",
        "vpn_private_address",
    }
)

_random = random.SystemRandom()
_INSERT_BATCH = 256


def _floatingRecords(store, rows):
    """
    @param rows: L{FloatingIp} rows.
    @return: their L{FloatingIpRecord}s, in the same order, with the
        fixed address each points at (and its instance), read in one
        query whatever their number.
    """
    rows = list(rows)
    fixed = {}
    for part in chunks({row.fixed_ip_id for row in rows if row.fixed_ip_id is not None}):
        for fixedId, address, instanceId in store.find(
            (FixedIp.id, FixedIp.address, FixedIp.instance_id), FixedIp.id.is_in(part)
        ):
            fixed[fixedId] = (address, instanceId)
    records = []
    for row in rows:
        fixedAddress, instanceId = fixed.get(row.fixed_ip_id, (None, None))
        records.append(
            FloatingIpRecord.fromModel(row, fixed_address=fixedAddress, instance_id=instanceId)
        )
    return records


def _floatingRecord(store, row):
    return _floatingRecords(store, [row])[0]


def _inOrder(candidates, attempt):
    """
    @return: the candidates to try: in order on a first attempt (so one
        host hands out addresses in order), shuffled after a conflict (so
        concurrent transactions stop racing for the same row).
    """
    candidates = list(candidates)
    if attempt:
        _random.shuffle(candidates)
    return candidates


def _claim(store, table, rowId, free, values):
    """
    Set C{values} on row C{rowId} of C{table} if C{free} holds for it.

    @return: C{True} if this transaction changed the row.
    """
    store.flush()
    result = store.execute(Update(values, And(table.id == rowId, free), table))
    return result.rowcount == 1


class NetworkStore:
    """
    Rows of the networks, fixed_ips and floating_ips tables.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def _now(self):
        return utcnow(self.clock)

    # Networks.

    def createNetworks(self, plans):
        """
        Add networks and their fixed addresses.

        @param plans: a sequence of L{dict}s, each with the network's
            columns (C{cidr}, C{netmask}, C{gateway}, C{broadcast},
            C{dhcp_start}, C{bridge}, optionally C{label}, C{dns},
            C{bridge_interface}, C{vlan}, C{injected}, C{vpn_public_port},
            C{vpn_private_address}) and C{reserved}, the addresses no
            instance gets from the pool (network, gateway, broadcast...).
        @return: L{Deferred} firing with the new L{NetworkRecord}s; failing
            with L{NetworkExists} (and adding nothing) if one overlaps an
            existing network or repeats a VLAN.
        """
        return self.transactor.transact(self.thd_createNetworks, list(plans), self._now())

    def thd_createNetworks(self, store, plans, now):
        existing = [(ipaddress.ip_network(n.cidr), n.vlan) for n in store.find(Network)]
        vlans = {vlan for _, vlan in existing if vlan is not None}
        created = []
        for plan in plans:
            plan = dict(plan)
            reserved = set(plan.pop("reserved", ()))
            unknown = set(plan) - _NETWORK_PLAN_FIELDS
            if unknown:
                raise exception.Invalid(f"unknown network fields {sorted(unknown)}")
            subnet = ipaddress.ip_network(plan["cidr"])
            for other, _ in existing:
                if subnet.overlaps(other):
                    raise NetworkExists(f"network {subnet} overlaps network {other}")
            vlan = plan.get("vlan")
            if vlan is not None:
                if vlan in vlans:
                    raise NetworkExists(f"vlan {vlan} is taken")
                vlans.add(vlan)
            existing.append((subnet, vlan))
            row = Network()
            for name, value in plan.items():
                setattr(row, name, value)
            row.injected = bool(plan.get("injected", False))
            row.created_at = row.updated_at = now
            store.add(row)
            store.flush()
            rows = [
                (str(address), row.id, str(address) in reserved, False, False, now, now)
                for address in subnet
            ]
            columns = (
                FixedIp.address,
                FixedIp.network_id,
                FixedIp.reserved,
                FixedIp.allocated,
                FixedIp.leased,
                FixedIp.created_at,
                FixedIp.updated_at,
            )
            for start in range(0, len(rows), _INSERT_BATCH):
                store.execute(
                    Insert(columns, table=FixedIp, values=rows[start:start + _INSERT_BATCH]),
                    noresult=True,
                )
            created.append(NetworkRecord.fromModel(row))
        return created

    def get(self, networkId):
        """
        @return: L{Deferred} firing with the L{NetworkRecord}; failing with
            L{NetworkNotFound}.
        """
        return self.transactor.transact(self.thd_get, networkId)

    @readOnly
    def thd_get(self, store, networkId):
        row = store.get(Network, networkId)
        if row is None:
            raise NetworkNotFound(f"network {networkId} not found")
        return NetworkRecord.fromModel(row)

    def list(self, host=None):
        """
        @param host: if given, only the networks this host serves.
        @return: L{Deferred} firing with the L{NetworkRecord}s by id.
        """
        return self.transactor.transact(self.thd_list, host)

    @readOnly
    def thd_list(self, store, host):
        conditions = [] if host is None else [Network.host == host]
        return [
            NetworkRecord.fromModel(row)
            for row in store.find(Network, *conditions).order_by(Network.id)
        ]

    def deleteNetwork(self, cidr):
        """
        Remove a network and its fixed addresses.

        @param cidr: the network's range, as C{network list} shows it.
        @return: L{Deferred} firing with the removed L{NetworkRecord};
            failing with L{NetworkNotFound}, or L{exception.Invalid} while
            a project holds the network or an instance holds one of its
            addresses.
        """
        return self.transactor.transact(self.thd_deleteNetwork, cidr)

    def thd_deleteNetwork(self, store, cidr):
        try:
            wanted = str(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise exception.Invalid(f"bad network range {cidr!r}")
        row = store.find(Network, Network.cidr == wanted).one()
        if row is None:
            raise NetworkNotFound(f"no network {wanted}")
        if row.project_id is not None:
            raise exception.Invalid(
                f"network {wanted} belongs to project {row.project_id}: "
                "disassociate it first (project scrub)"
            )
        fixed = store.find(FixedIp, FixedIp.network_id == row.id)
        held = fixed.find(Or(FixedIp.instance_id != None, FixedIp.allocated == True))  # noqa: E711,E712
        if not held.is_empty():
            raise exception.Invalid(
                f"network {wanted} has addresses in use ({held.count()}): "
                "terminate their instances first"
            )
        fixedIds = list(fixed.values(FixedIp.id))
        if fixedIds and not store.find(
            FloatingIp, FloatingIp.fixed_ip_id.is_in(fixedIds)
        ).is_empty():
            raise exception.Invalid(f"network {wanted} has addresses with floating addresses")
        record = NetworkRecord.fromModel(row)
        fixed.remove()
        store.remove(row)
        return record

    def getForProject(self, projectId):
        """
        @return: L{Deferred} firing with the project's L{NetworkRecord};
            failing with L{NetworkNotFound} if it has none.
        """
        return self.transactor.transact(self.thd_getForProject, projectId)

    @readOnly
    def thd_getForProject(self, store, projectId):
        row = store.find(Network, Network.project_id == projectId).one()
        if row is None:
            raise NetworkNotFound(f"project {projectId} has no network")
        return NetworkRecord.fromModel(row)

    def associateProject(self, projectId):
        """
        The project's network, giving it the first free VLAN network if it
        has none yet.

        @return: L{Deferred} firing with the L{NetworkRecord}; failing with
            L{NoMoreNetworks}.
        """
        return self.transactor.transact(
            self.thd_associateProject, projectId, self._now()
        )

    def thd_associateProject(self, store, projectId, now, attempt=0):
        row = store.find(Network, Network.project_id == projectId).one()
        if row is not None:
            return NetworkRecord.fromModel(row)
        candidates = store.find(
            Network.id, Network.project_id == None, Network.vlan != None  # noqa: E711
        ).order_by(Network.id)
        for networkId in _inOrder(candidates, attempt):
            if _claim(
                store,
                Network,
                networkId,
                Network.project_id == None,  # noqa: E711
                {Network.project_id: projectId, Network.updated_at: now},
            ):
                return NetworkRecord.fromModel(store.get(Network, networkId))
        raise NoMoreNetworks(f"no network is free for project {projectId}")

    def disassociateProject(self, projectId):
        """
        Give the project's network back (it keeps its host).

        @return: L{Deferred} firing with C{None}.
        """
        return self.transactor.transact(self.thd_disassociateProject, projectId, self._now())

    def thd_disassociateProject(self, store, projectId, now):
        store.find(Network, Network.project_id == projectId).set(
            project_id=None, updated_at=now
        )

    def claimHost(self, networkId, host):
        """
        Make C{host} serve the network unless a host does already.

        @return: L{Deferred} firing with the L{NetworkRecord}, whose
            C{host} is the host that serves it (C{host} or the earlier
            one); failing with L{NetworkNotFound}.
        """
        return self.transactor.transact(
            self.thd_claimHost, networkId, host, self._now()
        )

    def thd_claimHost(self, store, networkId, host, now, attempt=0):
        if store.get(Network, networkId) is None:
            raise NetworkNotFound(f"network {networkId} not found")
        claimed = _claim(
            store,
            Network,
            networkId,
            Network.host == None,  # noqa: E711
            {Network.host: host, Network.updated_at: now},
        )
        store.invalidate()
        row = store.get(Network, networkId)
        if not claimed and row.host is None:
            # Another transaction claimed it after this one's snapshot.
            raise TransactionConflict("could not serialize: network claimed concurrently")
        return NetworkRecord.fromModel(row)

    def setVpnPublicAddress(self, networkId, address, port=None):
        """
        Record where the network's cloudpipe VPN is reached: its public
        address, and its port when given.

        @return: L{Deferred} firing with the updated L{NetworkRecord};
            failing with L{NetworkNotFound}, or L{VpnEndpointTaken} when
            another network's VPN is reached on the same address and port.
        """
        return self.transactor.transact(
            self.thd_setVpnPublicAddress, networkId, address, port, self._now()
        )

    def thd_setVpnPublicAddress(self, store, networkId, address, port, now):
        row = store.get(Network, networkId)
        if row is None:
            raise NetworkNotFound(f"network {networkId} not found")
        port = row.vpn_public_port if port is None else port
        other = store.find(
            Network,
            Network.id != networkId,
            Network.vpn_public_address == address,
            Network.vpn_public_port == port,
        ).any()
        if other is not None:
            raise VpnEndpointTaken(
                f"the VPN of network {other.cidr} is reached on {address}:{port} already"
            )
        row.vpn_public_address = address
        row.vpn_public_port = port
        row.updated_at = now
        store.flush()
        return NetworkRecord.fromModel(row)

    def firstWithFreeAddress(self):
        """
        @return: L{Deferred} firing with the L{NetworkRecord} of lowest id
            that has a fixed address free for the pool; failing with
            L{NoMoreAddresses}.
        """
        return self.transactor.transact(self.thd_firstWithFreeAddress)

    @readOnly
    def thd_firstWithFreeAddress(self, store):
        networkId = (
            store.find(
                FixedIp.network_id,
                FixedIp.instance_id == None,  # noqa: E711
                FixedIp.reserved == False,  # noqa: E712
            )
            .order_by(FixedIp.network_id)
            .first()
        )
        if networkId is None:
            raise NoMoreAddresses("no network has a free fixed address")
        return NetworkRecord.fromModel(store.get(Network, networkId))

    # Fixed addresses.

    def allocateFixedIp(self, networkId, instanceId, macFactory):
        """
        Give an instance a free, unreserved address of the network, unless
        it already has one allocated there (a request asked again): then
        that one.

        @param macFactory: called with no arguments, returns a candidate
            MAC address; called again while the MAC is in use.
        @return: L{Deferred} firing with the L{FixedIpRecord} (allocated,
            with its MAC); failing with L{NoMoreAddresses}.
        """
        return self.transactor.transact(
            self.thd_allocateFixedIp,
            networkId,
            instanceId,
            macFactory,
            self._now(),
        )

    def _uniqueMac(self, store, macFactory):
        for _ in range(64):
            mac = macFactory()
            if store.find(FixedIp.id, FixedIp.mac_address == mac).is_empty():
                return mac
        raise exception.NovaError("cannot find an unused MAC address")

    def thd_allocateFixedIp(self, store, networkId, instanceId, macFactory, now, attempt=0):
        held = (
            store.find(
                FixedIp,
                FixedIp.network_id == networkId,
                FixedIp.instance_id == instanceId,
                FixedIp.allocated == True,  # noqa: E712
            )
            .order_by(FixedIp.id)
            .first()
        )
        if held is not None:
            return FixedIpRecord.fromModel(held)
        mac = self._uniqueMac(store, macFactory)
        free = And(FixedIp.instance_id == None, FixedIp.reserved == False)  # noqa: E711,E712
        candidates = list(
            store.find(FixedIp.id, FixedIp.network_id == networkId, free)
            .order_by(FixedIp.id)
            .config(limit=64)
        )
        for fixedId in _inOrder(candidates, attempt):
            if _claim(
                store,
                FixedIp,
                fixedId,
                free,
                {
                    FixedIp.instance_id: instanceId,
                    FixedIp.mac_address: mac,
                    FixedIp.allocated: True,
                    FixedIp.leased: False,
                    FixedIp.updated_at: now,
                },
            ):
                return FixedIpRecord.fromModel(store.get(FixedIp, fixedId))
        if candidates:
            raise TransactionConflict(
                "could not serialize: every free address was taken concurrently"
            )
        raise NoMoreAddresses(f"network {networkId} has no free fixed address")

    def associateFixedIp(self, address, instanceId, macFactory):
        """
        Give an instance one given address, reserved or not (the cloudpipe
        VPN's address in vlan mode).

        @return: L{Deferred} firing with the L{FixedIpRecord}; failing with
            L{FixedIpNotFound}, or L{FixedIpInUse} if another instance has
            it.
        """
        return self.transactor.transact(
            self.thd_associateFixedIp,
            address,
            instanceId,
            macFactory,
            self._now(),
        )

    def thd_associateFixedIp(self, store, address, instanceId, macFactory, now, attempt=0):
        row = store.find(FixedIp, FixedIp.address == address).one()
        if row is None:
            raise FixedIpNotFound(f"fixed address {address} not found")
        if row.instance_id == instanceId:
            row.allocated = True
            row.updated_at = now
            store.flush()
            return FixedIpRecord.fromModel(row)
        fixedId = row.id
        mac = self._uniqueMac(store, macFactory)
        if not _claim(
            store,
            FixedIp,
            fixedId,
            FixedIp.instance_id == None,  # noqa: E711
            {
                FixedIp.instance_id: instanceId,
                FixedIp.mac_address: mac,
                FixedIp.allocated: True,
                FixedIp.leased: False,
                FixedIp.updated_at: now,
            },
        ):
            raise FixedIpInUse(f"fixed address {address} belongs to another instance")
        store.invalidate()
        return FixedIpRecord.fromModel(store.get(FixedIp, fixedId))

    def getFixedIp(self, address):
        """
        @return: L{Deferred} firing with the L{FixedIpRecord}; failing with
            L{FixedIpNotFound}.
        """
        return self.transactor.transact(self.thd_getFixedIp, address)

    @readOnly
    def thd_getFixedIp(self, store, address):
        row = store.find(FixedIp, FixedIp.address == address).one()
        if row is None:
            raise FixedIpNotFound(f"fixed address {address} not found")
        return FixedIpRecord.fromModel(row)

    def networksForAddresses(self, addresses):
        """
        @return: L{Deferred} firing with a L{dict} from each of C{addresses}
            that is a fixed address to the L{NetworkRecord} of its network
            (read with one query per 500 addresses).
        """
        return self.transactor.transact(self.thd_networksForAddresses, sorted(set(addresses)))

    @readOnly
    def thd_networksForAddresses(self, store, addresses):
        found = {}
        for start in range(0, len(addresses), 500):
            part = addresses[start:start + 500]
            for address, network in store.find(
                (FixedIp.address, Network),
                FixedIp.address.is_in(part),
                FixedIp.network_id == Network.id,
            ):
                found[address] = NetworkRecord.fromModel(network)
        return found

    def listFixedIps(self, networkId=None, instanceId=None):
        """
        @return: L{Deferred} firing with the L{FixedIpRecord}s of a network
            and/or an instance, by id.
        """
        return self.transactor.transact(self.thd_listFixedIps, networkId, instanceId)

    @readOnly
    def thd_listFixedIps(self, store, networkId, instanceId):
        conditions = []
        if networkId is not None:
            conditions.append(FixedIp.network_id == networkId)
        if instanceId is not None:
            conditions.append(FixedIp.instance_id == instanceId)
        rows = store.find(FixedIp, *conditions).order_by(FixedIp.id)
        return [FixedIpRecord.fromModel(row) for row in rows]

    def deallocateFixedIp(self, address, disassociate):
        """
        Mark an address as no longer used by its instance: C{allocated}
        false, and with C{disassociate} free at once (no DHCP lease to wait
        for); otherwise it stays tied to the instance until dnsmasq
        releases it or L{disassociateTimedOut} frees it.

        @return: L{Deferred} firing with the updated L{FixedIpRecord};
            failing with L{FixedIpNotFound}.
        """
        return self.transactor.transact(
            self.thd_deallocateFixedIp, address, disassociate, self._now()
        )

    def thd_deallocateFixedIp(self, store, address, disassociate, now):
        row = store.find(FixedIp, FixedIp.address == address).one()
        if row is None:
            raise FixedIpNotFound(f"fixed address {address} not found")
        row.allocated = False
        if disassociate:
            row.instance_id = None
            row.mac_address = None
            row.leased = False
        row.updated_at = now
        store.flush()
        return FixedIpRecord.fromModel(row)

    def leaseFixedIp(self, address, mac):
        """
        Record that dnsmasq leased the address to C{mac}.

        @return: L{Deferred} firing with the updated L{FixedIpRecord};
            failing with L{FixedIpNotFound}, L{FixedIpNotAssociated} or
            L{MacMismatch}, changing nothing.
        """
        return self.transactor.transact(self.thd_leaseFixedIp, address, mac, self._now())

    def thd_leaseFixedIp(self, store, address, mac, now):
        row = store.find(FixedIp, FixedIp.address == address).one()
        if row is None:
            raise FixedIpNotFound(f"fixed address {address} not found")
        if row.instance_id is None:
            raise FixedIpNotAssociated(f"fixed address {address} belongs to no instance")
        if (row.mac_address or "").lower() != mac.lower():
            raise MacMismatch(f"fixed address {address} was given to {row.mac_address}, not {mac}")
        row.leased = True
        row.updated_at = now
        store.flush()
        return FixedIpRecord.fromModel(row)

    def releaseFixedIp(self, address, mac):
        """
        Record that dnsmasq took the lease back: C{leased} false, and the
        address freed if its instance no longer has it allocated.

        @return: L{Deferred} firing with the L{FixedIpRecord} as it was
            before; failing with L{FixedIpNotFound}, L{FixedIpNotAssociated}
            or L{MacMismatch}, changing nothing.
        """
        return self.transactor.transact(self.thd_releaseFixedIp, address, mac, self._now())

    def thd_releaseFixedIp(self, store, address, mac, now):
        row = store.find(FixedIp, FixedIp.address == address).one()
        if row is None:
            raise FixedIpNotFound(f"fixed address {address} not found")
        if row.instance_id is None:
            raise FixedIpNotAssociated(f"fixed address {address} belongs to no instance")
        if (row.mac_address or "").lower() != mac.lower():
            raise MacMismatch(f"fixed address {address} was given to {row.mac_address}, not {mac}")
        before = FixedIpRecord.fromModel(row)
        row.leased = False
        if not row.allocated:
            row.instance_id = None
            row.mac_address = None
        row.updated_at = now
        store.flush()
        return before

    def disassociateTimedOut(self, host, cutoff):
        """
        Free the addresses of networks C{host} serves that were deallocated
        before C{cutoff} and that dnsmasq does not lease.

        @param cutoff: a naive UTC L{datetime.datetime}.
        @return: L{Deferred} firing with the freed L{FixedIpRecord}s (as
            they were).
        """
        return self.transactor.transact(self.thd_disassociateTimedOut, host, cutoff, self._now())

    def thd_disassociateTimedOut(self, store, host, cutoff, now):
        networkIds = list(store.find(Network.id, Network.host == host))
        if not networkIds:
            return []
        rows = list(
            store.find(
                FixedIp,
                FixedIp.network_id.is_in(networkIds),
                FixedIp.instance_id != None,  # noqa: E711
                FixedIp.allocated == False,  # noqa: E712
                FixedIp.leased == False,  # noqa: E712
                FixedIp.updated_at < cutoff,
            ).order_by(FixedIp.id)
        )
        freed = [FixedIpRecord.fromModel(row) for row in rows]
        for row in rows:
            row.instance_id = None
            row.mac_address = None
            row.updated_at = now
        store.flush()
        return freed

    def dhcpHosts(self, networkId):
        """
        The static leases dnsmasq serves on a network: every address tied
        to an instance.

        @return: L{Deferred} firing with a L{list} of C{(mac, hostname,
            address)} by address id; the hostname is the instance's, or its
            EC2 id.
        """
        return self.transactor.transact(self.thd_dhcpHosts, networkId)

    @readOnly
    def thd_dhcpHosts(self, store, networkId):
        # One query, the instances' hostnames joined: a network with
        # thousands of instances is read at once, not an instance at a
        # time.
        rows = (
            store.using(FixedIp, LeftJoin(Instance, Instance.id == FixedIp.instance_id))
            .find(
                (FixedIp.mac_address, FixedIp.instance_id, FixedIp.address, Instance.hostname),
                FixedIp.network_id == networkId,
                FixedIp.instance_id != None,  # noqa: E711
            )
            .order_by(FixedIp.id)
        )
        return [
            (mac, hostname or "i-%08x" % (instanceId,), address)
            for mac, instanceId, address, hostname in rows
        ]

    # Floating addresses.

    def createFloatingIps(self, host, addresses):
        """
        Add floating addresses served by C{host}.

        @return: L{Deferred} firing with the number added; failing with
            L{FloatingIpExists} (adding none) if one exists.
        """
        return self.transactor.transact(
            self.thd_createFloatingIps, host, [str(a) for a in addresses], self._now()
        )

    def thd_createFloatingIps(self, store, host, addresses, now):
        wanted = set(addresses)
        taken = sorted(
            address
            for address in store.find(FloatingIp.address)
            if address in wanted
        )
        if taken:
            raise FloatingIpExists(f"floating address {taken[0]} exists")
        rows = [(address, host, now, now) for address in addresses]
        columns = (FloatingIp.address, FloatingIp.host, FloatingIp.created_at, FloatingIp.updated_at)
        for start in range(0, len(rows), _INSERT_BATCH):
            store.execute(
                Insert(columns, table=FloatingIp, values=rows[start:start + _INSERT_BATCH]),
                noresult=True,
            )
        return len(rows)

    def deleteFloatingIps(self, addresses):
        """
        Remove floating addresses that no project holds.

        @return: L{Deferred} firing with the number removed; failing with
            L{FloatingIpInUse} (removing none) if a project holds one.
        """
        return self.transactor.transact(self.thd_deleteFloatingIps, [str(a) for a in addresses])

    def thd_deleteFloatingIps(self, store, addresses):
        rows = list(store.find(FloatingIp, FloatingIp.address.is_in(addresses)))
        for row in rows:
            if row.project_id is not None:
                raise FloatingIpInUse(
                    f"floating address {row.address} is allocated to project {row.project_id}"
                )
        for row in rows:
            store.remove(row)
        return len(rows)

    def getFloatingIp(self, address):
        """
        @return: L{Deferred} firing with the L{FloatingIpRecord}; failing
            with L{FloatingIpNotFound}.
        """
        return self.transactor.transact(self.thd_getFloatingIp, address)

    @readOnly
    def thd_getFloatingIp(self, store, address):
        row = store.find(FloatingIp, FloatingIp.address == address).one()
        if row is None:
            raise FloatingIpNotFound(f"floating address {address} not found")
        return _floatingRecord(store, row)

    def listFloatingIps(self, host=None, projectId=None, fixedAddress=None, associated=None):
        """
        @param associated: if not C{None}, only addresses that are (or are
            not) associated with a fixed address.
        @return: L{Deferred} firing with the L{FloatingIpRecord}s by
            address id, filtered by the given fields.
        """
        return self.transactor.transact(
            self.thd_listFloatingIps, host, projectId, fixedAddress, associated
        )

    @readOnly
    def thd_listFloatingIps(self, store, host, projectId, fixedAddress, associated):
        conditions = []
        if host is not None:
            conditions.append(FloatingIp.host == host)
        if projectId is not None:
            conditions.append(FloatingIp.project_id == projectId)
        if associated is True:
            conditions.append(FloatingIp.fixed_ip_id != None)  # noqa: E711
        elif associated is False:
            conditions.append(FloatingIp.fixed_ip_id == None)  # noqa: E711
        if fixedAddress is not None:
            fixed = store.find(FixedIp, FixedIp.address == fixedAddress).one()
            if fixed is None:
                return []
            conditions.append(FloatingIp.fixed_ip_id == fixed.id)
        rows = store.find(FloatingIp, *conditions).order_by(FloatingIp.id)
        return _floatingRecords(store, rows)

    def allocateFloatingIp(self, projectId, host, limit):
        """
        Give a project a free floating address, preferring those C{host}
        serves.

        @param limit: the project's quota of floating addresses (C{-1}:
            unlimited).
        @return: L{Deferred} firing with the L{FloatingIpRecord}; failing
            with L{FloatingIpLimitReached} or L{NoMoreFloatingIps}.
        """
        return self.transactor.transact(
            self.thd_allocateFloatingIp,
            projectId,
            host,
            limit,
            self._now(),
        )

    def thd_allocateFloatingIp(self, store, projectId, host, limit, now, attempt=0):
        if limit is not None and limit >= 0:
            used = store.find(FloatingIp, FloatingIp.project_id == projectId).count()
            if used >= limit:
                raise FloatingIpLimitReached(
                    f"project {projectId} has {used} of its {limit} floating addresses"
                )
        free = FloatingIp.project_id == None  # noqa: E711
        candidates = sorted(
            store.find((FloatingIp.id, FloatingIp.host), free),
            key=lambda row: (row[1] != host, row[0]),
        )[:64]
        for floatingId, _ in _inOrder(candidates, attempt):
            if _claim(
                store,
                FloatingIp,
                floatingId,
                free,
                {FloatingIp.project_id: projectId, FloatingIp.updated_at: now},
            ):
                return _floatingRecord(store, store.get(FloatingIp, floatingId))
        if candidates:
            raise TransactionConflict(
                "could not serialize: every free floating address was taken concurrently"
            )
        raise NoMoreFloatingIps("no floating address is free")

    def releaseFloatingIp(self, address):
        """
        Take a floating address back from its project.

        @return: L{Deferred} firing with the L{FloatingIpRecord} as it was;
            failing with L{FloatingIpNotFound}, or L{FloatingIpInUse} while
            it is associated.
        """
        return self.transactor.transact(self.thd_releaseFloatingIp, address, self._now())

    def thd_releaseFloatingIp(self, store, address, now):
        row = store.find(FloatingIp, FloatingIp.address == address).one()
        if row is None:
            raise FloatingIpNotFound(f"floating address {address} not found")
        if row.fixed_ip_id is not None:
            raise FloatingIpInUse(f"floating address {address} is associated")
        before = _floatingRecord(store, row)
        row.project_id = None
        row.updated_at = now
        store.flush()
        return before

    def associateFloatingIp(self, address, fixedAddress):
        """
        Tie a floating address to a fixed one.

        @return: L{Deferred} firing with the updated L{FloatingIpRecord};
            failing with L{FloatingIpNotFound}, L{FixedIpNotFound}, or
            L{FloatingIpInUse} if it is associated with another fixed
            address.
        """
        return self.transactor.transact(
            self.thd_associateFloatingIp, address, fixedAddress, self._now()
        )

    def thd_associateFloatingIp(self, store, address, fixedAddress, now):
        row = store.find(FloatingIp, FloatingIp.address == address).one()
        if row is None:
            raise FloatingIpNotFound(f"floating address {address} not found")
        fixed = store.find(FixedIp, FixedIp.address == fixedAddress).one()
        if fixed is None:
            raise FixedIpNotFound(f"fixed address {fixedAddress} not found")
        if row.fixed_ip_id is not None and row.fixed_ip_id != fixed.id:
            raise FloatingIpInUse(f"floating address {address} is associated")
        row.fixed_ip_id = fixed.id
        row.updated_at = now
        store.flush()
        return _floatingRecord(store, row)

    def disassociateFloatingIp(self, address):
        """
        Untie a floating address from its fixed one.

        @return: L{Deferred} firing with the L{FloatingIpRecord} as it was
            (its C{fixed_address} says what it was tied to); failing with
            L{FloatingIpNotFound} or L{FloatingIpNotAssociated}.
        """
        return self.transactor.transact(self.thd_disassociateFloatingIp, address, self._now())

    def thd_disassociateFloatingIp(self, store, address, now):
        row = store.find(FloatingIp, FloatingIp.address == address).one()
        if row is None:
            raise FloatingIpNotFound(f"floating address {address} not found")
        if row.fixed_ip_id is None:
            raise FloatingIpNotAssociated(f"floating address {address} is not associated")
        before = _floatingRecord(store, row)
        row.fixed_ip_id = None
        row.updated_at = now
        store.flush()
        return before


__all__ = [
    "NetworkStore",
    "NetworkRecord",
    "FixedIpRecord",
    "FloatingIpRecord",
]
