# -*- test-case-name: tests.compute.test_firewall -*-
"""
Security groups on the compute host: a firewall driver turns an
instance's groups into packet filtering in front of its guest.

The compute manager builds an L{InstanceFilter} for each instance it runs
(L{buildInstanceFilter}: the instance's fixed address, its network's DHCP
server, every rule of every group it belongs to, and the fixed addresses
of the live members of each group those rules name as source) and hands
it to an L{IFirewallDriver}.  Traffic to the instance that no rule admits
is dropped; answers to the instance's own connections and DHCP from its
network's DHCP server always pass.  Nothing is admitted implicitly: a
project's C{default} group starts with no rules (see
L{nova.network.security_groups}), so its members reach each other only
once a rule says so (for example a rule whose source is the C{default}
group itself), unless C{--allow_project_net_traffic} admits the whole
network.

L{IptablesFirewallDriver} filters in the C{filter} table's FORWARD (and
OUTPUT) chains of the host: C{nova-filter-top} jumps to
C{nova-compute-local}, which sends traffic for each instance's address to
its chain C{nova-compute-inst-<id>}; that chain ends in
C{nova-compute-sg-fallback} (DROP).  A rule whose source is a group
matches the protocol and ports in the instance's chain and jumps to the
group's own chain, C{nova-compute-sg-<8 hex digits>} (the group's EC2 id),
shared by every instance of the host whose rules name that group: it
accepts each member's address and returns otherwise.  A change of the
group's members rewrites that one chain, not the instances' chains; a
group chain goes when no instance of the host names the group any more.
Routed traffic (floating addresses, other networks, the outside) always
passes FORWARD; traffic between guests on one bridge passes it only when
the kernel's br_netfilter calls iptables for bridged frames
(C{net.bridge.bridge-nf-call-iptables=1}).
"""

import ipaddress
import time

import attr
from twisted.internet.defer import fail, succeed
from twisted.logger import Logger
from zope.interface import Interface, implementer

from nova.db.security_groups import formatGroupId
from nova.network.flags import DHCP_MODES, NETWORK_MODES
from nova.network.interfaces import NetworkDriverError
from nova.network.iptables import IptablesError, IptablesManager

log = Logger()


@attr.s(frozen=True)
class FilterRule:
    """
    One admitted kind of traffic.

    @ivar protocol: C{tcp}, C{udp}, C{icmp} or C{-1} (any).
    @ivar fromPort: first port (ICMP type for icmp; C{-1} any), or C{None}.
    @ivar toPort: last port (ICMP code for icmp; C{-1} any), or C{None}.
    @ivar source: the source CIDR (a single address is C{a.b.c.d/32}), or
        C{None} for a rule whose source is a group.
    @ivar sourceGroup: the id of the source group (its members'
        addresses are in L{InstanceFilter.sourceGroups}), or C{None} for
        a rule whose source is a CIDR.
    """

    protocol = attr.ib()
    fromPort = attr.ib()
    toPort = attr.ib()
    source = attr.ib()
    sourceGroup = attr.ib(default=None)


def _sourceGroups(groups):
    """
    @param groups: a mapping, or an iterable of pairs, from group id to
        its members' addresses.
    @return: a L{tuple} of C{(group id, tuple of addresses)}, by id.
    """
    if hasattr(groups, "items"):
        groups = groups.items()
    return tuple(sorted((groupId, tuple(addresses)) for groupId, addresses in groups))


@attr.s(frozen=True)
class InstanceFilter:
    """
    What reaches one instance.

    @ivar instanceId: the instance's id (L{int}).
    @ivar address: its fixed address.
    @ivar dhcpServer: the address of its network's DHCP server, or
        C{None} (flat mode).
    @ivar networkCidr: its network, or C{None} if unknown.
    @ivar rules: a L{tuple} of L{FilterRule}.
    @ivar sourceGroups: the members of each group that L{rules} name as
        source: a L{tuple} of C{(group id, tuple of fixed addresses)}, by
        group id (given as a L{dict} or such pairs).
    @ivar membersReadAt: when the read of L{sourceGroups} was sent to the
        database (L{time.monotonic}): of two filters naming a group, the
        one read later holds its newer members, whichever is applied
        last.
    """

    instanceId = attr.ib()
    address = attr.ib()
    dhcpServer = attr.ib(default=None)
    networkCidr = attr.ib(default=None)
    rules = attr.ib(default=(), converter=tuple)
    sourceGroups = attr.ib(default=(), converter=_sourceGroups)
    membersReadAt = attr.ib(default=0.0, eq=False)


class IFirewallDriver(Interface):
    """
    Filters the traffic that reaches the instances of this host.  Every
    method returns a L{Deferred}; failures are
    L{nova.network.interfaces.NetworkDriverError}s.
    """

    def initHost():
        """
        Host-wide setup, once when nova-compute starts (before filters are
        applied again to the instances found running).

        @return: L{Deferred} firing with C{None}.
        """

    def applyInstanceFilter(instanceFilter):
        """
        Filter an instance's traffic as C{instanceFilter} says, replacing
        what was applied for it before.

        @param instanceFilter: an L{InstanceFilter}.
        @return: L{Deferred} firing with C{None} once in force.
        """

    def removeInstanceFilter(instanceId):
        """
        Stop filtering for an instance (nothing if there is no filter).

        @return: L{Deferred} firing with C{None}.
        """


@implementer(IFirewallDriver)
class NoopFirewallDriver:
    """
    A firewall driver that filters nothing: C{--firewall_driver=noop}, the
    default for hosts whose guests are not real (and a recording fake for
    tests).

    @ivar filters: from instance id to the L{InstanceFilter} last applied.
    @ivar calls: every call, as C{(method name, argument)}.
    @ivar failNext: an exception the next apply fails with, or C{None}.
    """

    def __init__(self):
        self.filters = {}
        self.calls = []
        self.initialised = False
        self.failNext = None

    @classmethod
    def fromConfig(cls, config, **dependencies):
        return cls()

    def initHost(self):
        self.calls.append(("initHost", None))
        self.initialised = True
        return succeed(None)

    def applyInstanceFilter(self, instanceFilter):
        self.calls.append(("applyInstanceFilter", instanceFilter))
        if self.failNext is not None:
            error, self.failNext = self.failNext, None
            return fail(error)
        self.filters[instanceFilter.instanceId] = instanceFilter
        return succeed(None)

    def removeInstanceFilter(self, instanceId):
        self.calls.append(("removeInstanceFilter", instanceId))
        self.filters.pop(instanceId, None)
        return succeed(None)


def _portSpec(fromPort, toPort):
    if fromPort == toPort:
        return str(fromPort)
    return f"{fromPort}:{toPort}"


def ruleArguments(rule):
    """
    @param rule: a L{FilterRule}.
    @return: the iptables arguments that accept the traffic it admits: for
        a source group, the protocol and port match and a jump to the
        group's chain (L{groupChain}), which accepts its members.
    """
    if rule.sourceGroup is not None:
        if rule.source is not None:
            raise ValueError("a rule has a source CIDR or a source group, not both")
        args = []
    else:
        args = ["-s", str(ipaddress.IPv4Network(rule.source, strict=False))]
    protocol = rule.protocol
    if protocol in ("tcp", "udp"):
        args += ["-p", protocol, "-m", protocol, "--dport", _portSpec(int(rule.fromPort), int(rule.toPort))]
    elif protocol == "icmp":
        args += ["-p", "icmp"]
        icmpType = -1 if rule.fromPort is None else int(rule.fromPort)
        icmpCode = -1 if rule.toPort is None else int(rule.toPort)
        if icmpType != -1:
            spec = str(icmpType) if icmpCode == -1 else f"{icmpType}/{icmpCode}"
            args += ["-m", "icmp", "--icmp-type", spec]
    elif protocol != "-1":
        raise ValueError(f"unknown protocol {protocol!r}")
    if rule.sourceGroup is not None:
        return tuple(args + ["-j", "$" + groupChain(rule.sourceGroup)])
    return tuple(args + ["-j", "ACCEPT"])


def instanceChain(instanceId):
    """
    @return: the short name of an instance's chain.
    """
    return f"inst-{int(instanceId)}"


def groupChain(groupId):
    """
    @return: the short name of the chain of a source group: C{sg-} and
        the hex digits of the group's EC2 id.
    """
    if isinstance(groupId, bool) or int(groupId) != groupId or groupId < 0:
        raise ValueError(f"bad group id {groupId!r}")
    return formatGroupId(int(groupId))


def groupChainRules(addresses):
    """
    @param addresses: the fixed addresses of a group's members.
    @return: the rules of the group's chain, in order: one accepting each
        address (the traffic returns to the instance's chain otherwise).
    """
    return [("-s", f"{ipaddress.IPv4Address(address)}/32", "-j", "ACCEPT") for address in addresses]


@implementer(IFirewallDriver)
class IptablesFirewallDriver:
    """
    Security groups as iptables chains (wrap C{nova-compute}); see the
    module docstring for the layout.

    @ivar iptables: the L{IptablesManager}.
    @ivar allowProjectNetTraffic: whether traffic from the instance's own
        network is admitted without a rule.
    @ivar addresses: from instance id to the address its filter is for.
    @ivar groupsOf: from instance id to the L{frozenset} of the short
        names of the group chains its chain jumps to.
    @ivar groupUsers: from the short name of a group chain to the L{set}
        of the ids of the instances whose chains jump to it.
    @ivar groupMembers: from the short name of a group chain to the
        L{tuple} of the addresses it accepts.
    @ivar groupReadAt: from the short name of a group chain to the
        L{InstanceFilter.membersReadAt} of the members it holds: a filter
        whose members were read before does not write them back.
    """

    def __init__(self, runner, allowProjectNetTraffic=False, iptables=None):
        """
        @param runner: the L{nova.util.process.IProcessRunner} for
            C{iptables-save} and C{iptables-restore}.
        """
        self.iptables = iptables if iptables is not None else IptablesManager(runner, "nova-compute")
        self.allowProjectNetTraffic = allowProjectNetTraffic
        self.addresses = {}
        self.groupsOf = {}
        self.groupUsers = {}
        self.groupMembers = {}
        self.groupReadAt = {}
        filter = self.iptables.filter
        filter.addChain("sg-fallback")
        filter.addRule("sg-fallback", ("-j", "DROP"))

    @classmethod
    def fromConfig(cls, config, reactor=None, runner=None, **dependencies):
        """
        @param reactor: runs the commands; by default the global reactor.
        @param runner: an L{nova.util.process.IProcessRunner}; by default
            a L{nova.util.process.ReactorProcessRunner}.  Wrapped for
            C{--network_namespace}.
        """
        from nova.network.linux_net import namespacedRunner
        from nova.util.process import ReactorProcessRunner

        if runner is None:
            from twisted.internet.interfaces import IReactorProcess

            if reactor is None or not IReactorProcess.providedBy(reactor):
                from twisted.internet import reactor
            runner = ReactorProcessRunner(reactor)
        return cls(
            namespacedRunner(runner, config.network_namespace),
            allowProjectNetTraffic=config.allow_project_net_traffic,
        )

    def initHost(self):
        return self.iptables.apply()

    def chainRules(self, instanceFilter):
        """
        @return: the rules of an instance's chain, in order.
        """
        rules = [
            ("-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"),
            ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
        ]
        if instanceFilter.dhcpServer:
            server = str(ipaddress.IPv4Address(instanceFilter.dhcpServer))
            rules.append(
                ("-s", f"{server}/32", "-p", "udp", "-m", "udp", "--sport", "67",
                 "--dport", "68", "-j", "ACCEPT")
            )
        if self.allowProjectNetTraffic and instanceFilter.networkCidr:
            cidr = str(ipaddress.IPv4Network(instanceFilter.networkCidr, strict=False))
            rules.append(("-s", cidr, "-j", "ACCEPT"))
        rules.extend(ruleArguments(rule) for rule in instanceFilter.rules)
        rules.append(("-j", "$sg-fallback"))
        return list(dict.fromkeys(rules))

    def groupChains(self, instanceFilter):
        """
        @return: a L{dict} from the short name of the chain of each group
            the instance's rules name as source to the L{tuple} of the
            group's members' addresses.
        @raise ValueError: if the filter lacks the members of one of them.
        """
        members = dict(instanceFilter.sourceGroups)
        chains = {}
        for rule in instanceFilter.rules:
            if rule.sourceGroup is None:
                continue
            chain = groupChain(rule.sourceGroup)
            if chain in chains:
                continue
            if rule.sourceGroup not in members:
                raise ValueError(f"no members given for source group {rule.sourceGroup!r}")
            chains[chain] = members[rule.sourceGroup]
        return chains

    def _groupChanged(self, chain, addresses):
        """
        @return: whether the group chain C{chain} does not hold exactly
            C{addresses} (the filters of one refresh share one tuple per
            group, so each after the first costs nothing).
        """
        current = self.groupMembers.get(chain)
        return current is not addresses and current != addresses

    def applyInstanceFilter(self, instanceFilter):
        """
        Write the instance's chain, and the chains of the groups its rules
        name as source with the members the filter gives; only the chains
        whose rules changed are written to the kernel.
        """
        filter = self.iptables.filter
        instanceId = instanceFilter.instanceId
        try:
            chain = instanceChain(instanceId)
            address = str(ipaddress.IPv4Address(instanceFilter.address))
            rules = self.chainRules(instanceFilter)
            groups = self.groupChains(instanceFilter)
            for name in [chain, *groups]:
                filter.checkChainName(name)
            changedGroups = {
                name: groupChainRules(addresses)
                for name, addresses in groups.items()
                if self._groupChanged(name, addresses)
                and instanceFilter.membersReadAt >= self.groupReadAt.get(name, float("-inf"))
            }
        except (TypeError, ValueError, IptablesError) as e:
            return fail(NetworkDriverError(f"bad filter for instance {instanceId!r}: {e}"))
        for name, groupRules in changedGroups.items():
            filter.addChain(name)
            filter.setRules(name, groupRules)
            self.groupMembers[name] = groups[name]
            self.groupReadAt[name] = instanceFilter.membersReadAt
        filter.addChain(chain)
        filter.setRules(chain, rules)
        previous = self.addresses.get(instanceId)
        if previous != address:
            if previous is not None:
                filter.removeRule("local", ("-d", f"{previous}/32", "-j", "$" + chain))
            filter.addRule("local", ("-d", f"{address}/32", "-j", "$" + chain))
            self.addresses[instanceId] = address
        self._useGroups(instanceId, frozenset(groups))
        return self.iptables.apply()

    def _useGroups(self, instanceId, groups):
        """
        Record that an instance's chain jumps to the chains C{groups}, and
        remove the group chains no instance jumps to any more.

        @return: whether a group chain was removed.
        """
        previous = self.groupsOf.pop(instanceId, frozenset())
        if groups:
            self.groupsOf[instanceId] = groups
        for group in groups - previous:
            self.groupUsers.setdefault(group, set()).add(instanceId)
        removed = False
        for group in previous - groups:
            users = self.groupUsers.get(group)
            if users is not None:
                users.discard(instanceId)
                if users:
                    continue
                del self.groupUsers[group]
            self.iptables.filter.removeChain(group)
            self.groupMembers.pop(group, None)
            self.groupReadAt.pop(group, None)
            removed = True
        return removed

    def removeInstanceFilter(self, instanceId):
        """
        Remove the instance's chain, and the chains of the source groups
        no other instance's chain names.
        """
        filter = self.iptables.filter
        chain = instanceChain(instanceId)
        self.addresses.pop(instanceId, None)
        removed = filter.hasChain(chain)
        if removed:
            filter.removeChain(chain)
        if self._useGroups(instanceId, frozenset()):
            removed = True
        if not removed:
            return succeed(None)
        return self.iptables.apply()


async def _networkParts(db, config, instances, networkInfos):
    """
    @return: a L{dict} from the id of each of C{instances} that has an
        address to its C{(address, dhcpServer, cidr)}.
    """
    parts = {}
    unknown = []
    for instance in instances:
        info = networkInfos.get(instance.id)
        if info and info.get("address"):
            parts[instance.id] = (info["address"], info.get("dhcpServer"), info.get("cidr"))
        elif instance.fixed_ip:
            unknown.append(instance)
    if unknown:
        networks = await db.networks.networksForAddresses(
            [instance.fixed_ip for instance in unknown]
        )
        dhcpMode = NETWORK_MODES.get(config.network_manager) in DHCP_MODES
        for instance in unknown:
            network = networks.get(instance.fixed_ip)
            if network is None:
                parts[instance.id] = (instance.fixed_ip, None, None)
            else:
                dhcp = network.gateway if dhcpMode else None
                parts[instance.id] = (instance.fixed_ip, dhcp, network.cidr)
    return parts


async def buildInstanceFilters(db, config, instances, networkInfos=None):
    """
    Work out what may reach each of some instances, from the database,
    with a few queries whatever their number: their networks, their
    groups with the rules, and the members of every group those rules
    name as source (looked up once per group, and shared by the filters
    that name it).

    @param db: the L{nova.db.api.NovaDatabase}.
    @param instances: L{nova.db.records.InstanceRecord}s.
    @param networkInfos: from instance id to the network description from
        the network service at spawn (C{address}, C{dhcpServer},
        C{cidr}); the others are taken from the database (the instance's
        C{fixed_ip} and its network).
    @return: the L{InstanceFilter}s of the instances that have a fixed
        address, in the order of C{instances}.
    """
    parts = await _networkParts(db, config, instances, networkInfos or {})
    if not parts:
        return []
    groups = await db.securityGroups.groupsForInstances(sorted(parts))
    sourceGroups = {
        rule.group_id
        for records in groups.values()
        for group in records
        for rule in group.rules
        if rule.cidr is None and rule.group_id is not None
    }
    membersReadAt = time.monotonic()
    members = await db.securityGroups.memberAddresses(sorted(sourceGroups)) if sourceGroups else {}
    members = {groupId: tuple(addresses) for groupId, addresses in members.items()}
    filters = []
    for instance in instances:
        if instance.id not in parts:
            continue
        address, dhcp, cidr = parts[instance.id]
        rules = {}
        named = {}
        for group in groups.get(instance.id, ()):
            for rule in group.rules:
                if rule.cidr is not None:
                    source, sourceGroup = rule.cidr, None
                elif rule.group_id is not None:
                    source, sourceGroup = None, rule.group_id
                    named[sourceGroup] = members.get(sourceGroup, ())
                else:
                    continue
                rules.setdefault(
                    FilterRule(rule.protocol, rule.from_port, rule.to_port, source, sourceGroup), None
                )
        filters.append(
            InstanceFilter(
                instanceId=instance.id,
                address=address,
                dhcpServer=dhcp,
                networkCidr=cidr,
                rules=list(rules),
                sourceGroups=named,
                membersReadAt=membersReadAt,
            )
        )
    return filters


async def buildInstanceFilter(db, config, instance, networkInfo=None):
    """
    Work out what may reach one instance: L{buildInstanceFilters} for one.

    @return: the L{InstanceFilter}, or C{None} if the instance has no
        fixed address.
    """
    filters = await buildInstanceFilters(db, config, [instance], {instance.id: networkInfo})
    return filters[0] if filters else None
