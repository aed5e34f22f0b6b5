# -*- test-case-name: tests.db.test_security_groups -*-
"""
The security_groups, security_group_rules and
security_group_instance_association tables.

A group belongs to a project and has a name unique in it; its rules admit
traffic by protocol (C{tcp}, C{udp}, C{icmp} or C{-1} for any), port range
(ICMP type and code for C{icmp}, none for C{-1}) and source: a CIDR or the
members of another group.  Every project has a group named C{default}
(L{SecurityGroupStore.ensureDefault}).
"""

import ipaddress

import attr
from storm.expr import And, Not
from storm.locals import DateTime, Int, Unicode

from nova import exception
from nova.db.instances import SHUTTING_DOWN, TERMINATED
from nova.db.models import Instance
from nova.db.networks import FixedIp
from nova.db.records import InstanceRecord
from nova.db.services import utcnow
from nova.db.store import chunks, readOnly
from nova.db.tags import MAX_TAGS, SECURITY_GROUP, thd_setTags


DEFAULT_GROUP = "default"


class SecurityGroupNotFound(exception.NotFound):
    """No such security group."""

    code = "SecurityGroupNotFound"
    ec2Code = "InvalidGroup.NotFound"


class SecurityGroupExists(exception.Invalid):
    """A security group of that name exists in the project."""

    code = "SecurityGroupExists"
    ec2Code = "InvalidGroup.Duplicate"


class SecurityGroupInUse(exception.Invalid):
    """The security group has instances or other groups' rules refer to it."""

    code = "SecurityGroupInUse"
    ec2Code = "InvalidGroup.InUse"


class SecurityGroupRuleExists(exception.Invalid):
    """The security group has that rule already."""

    code = "SecurityGroupRuleExists"
    ec2Code = "InvalidPermission.Duplicate"


class SecurityGroupRuleNotFound(exception.NotFound):
    """The security group has no such rule."""

    code = "SecurityGroupRuleNotFound"
    ec2Code = "InvalidPermission.NotFound"


class SecurityGroup:
    __storm_table__ = "security_groups"
    id = Int(primary=True)
    name = Unicode()
    description = Unicode()
    user_id = Unicode()
    project_id = Unicode()
    created_at = DateTime()
    updated_at = DateTime()


class SecurityGroupRule:
    __storm_table__ = "security_group_rules"
    id = Int(primary=True)
    parent_group_id = Int()
    protocol = Unicode()
    from_port = Int()
    to_port = Int()
    cidr = Unicode()
    group_id = Int()
    created_at = DateTime()


class SecurityGroupInstance:
    __storm_table__ = "security_group_instance_association"
    id = Int(primary=True)
    security_group_id = Int()
    instance_id = Int()
    created_at = DateTime()


def formatGroupId(groupId):
    """
    @return: the EC2 form of a group id: C{sg-} and eight hex digits.
    """
    return "sg-%08x" % (groupId,)


@attr.s(frozen=True)
class SecurityGroupRuleRecord:
    """
    One rule.  For a source-group rule, C{group_id} is the source group,
    with its name and project in C{source_group_name} and
    C{source_project_id}.
    """

    id = attr.ib()
    parent_group_id = attr.ib()
    protocol = attr.ib()
    from_port = attr.ib()
    to_port = attr.ib()
    cidr = attr.ib()
    group_id = attr.ib()
    created_at = attr.ib()
    source_group_name = attr.ib(default=None)
    source_project_id = attr.ib(default=None)

    def key(self):
        """
        @return: what makes the rule unique in its group.
        """
        return (self.protocol, self.from_port, self.to_port, self.cidr, self.group_id)


@attr.s(frozen=True)
class SecurityGroupRecord:
    """
    A security group with its rules (a L{tuple} of
    L{SecurityGroupRuleRecord} by id).
    """

    id = attr.ib()
    name = attr.ib()
    description = attr.ib()
    user_id = attr.ib()
    project_id = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()
    rules = attr.ib(default=(), converter=tuple)

    @property
    def ec2Id(self):
        """
        @return: the EC2 group id, C{sg-} and eight hex digits.
        """
        return formatGroupId(self.id)


@attr.s(frozen=True)
class RuleSpec:
    """
    A checked rule to add or remove: C{protocol} is C{tcp}, C{udp},
    C{icmp} or C{-1}; exactly one of C{cidr} and C{groupId} is set.
    """

    protocol = attr.ib()
    fromPort = attr.ib()
    toPort = attr.ib()
    cidr = attr.ib(default=None)
    groupId = attr.ib(default=None)

    def key(self):
        return (self.protocol, self.fromPort, self.toPort, self.cidr, self.groupId)


def _ruleRecord(row, sources):
    """
    @param sources: from group id to C{(name, project_id)} of the groups
        rules name as source.
    """
    name = project = None
    if row.group_id is not None and row.group_id in sources:
        name, project = sources[row.group_id]
    return SecurityGroupRuleRecord(
        id=row.id,
        parent_group_id=row.parent_group_id,
        protocol=row.protocol,
        from_port=row.from_port,
        to_port=row.to_port,
        cidr=row.cidr,
        group_id=row.group_id,
        created_at=row.created_at,
        source_group_name=name,
        source_project_id=project,
    )


def _groupRecords(store, rows):
    """
    @param rows: L{SecurityGroup} rows.
    @return: their L{SecurityGroupRecord}s, in the same order, read with
        two queries whatever their number (rules, then source groups).
    """
    rows = list(rows)
    rules = {row.id: [] for row in rows}
    found = []
    for part in chunks(rules):
        found.extend(store.find(SecurityGroupRule, SecurityGroupRule.parent_group_id.is_in(part)))
    found.sort(key=lambda rule: rule.id)
    sources = {}
    for part in chunks({rule.group_id for rule in found if rule.group_id is not None}):
        for groupId, name, project in store.find(
            (SecurityGroup.id, SecurityGroup.name, SecurityGroup.project_id),
            SecurityGroup.id.is_in(part),
        ):
            sources[groupId] = (name, project)
    for rule in found:
        rules[rule.parent_group_id].append(_ruleRecord(rule, sources))
    return [
        SecurityGroupRecord(
            id=row.id,
            name=row.name,
            description=row.description,
            user_id=row.user_id,
            project_id=row.project_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            rules=rules[row.id],
        )
        for row in rows
    ]


def _groupRecord(store, row):
    return _groupRecords(store, [row])[0]


def _getRow(store, groupId):
    row = store.get(SecurityGroup, groupId)
    if row is None:
        raise SecurityGroupNotFound(f"security group {formatGroupId(groupId)} not found")
    return row


def _ruleKey(row):
    return (row.protocol, row.from_port, row.to_port, row.cidr, row.group_id)


class SecurityGroupStore:
    """
    Rows of the security group tables.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def _now(self):
        return utcnow(self.clock)

    def ensureDefault(self, projectId, userId=None):
        """
        The project's C{default} group, made now if it has none.

        Nearly always the group exists: a read-only transaction finds it,
        and only a project without one waits for a writing transaction.

        @return: L{Deferred} firing with its L{SecurityGroupRecord}.
        """

        def make(failure):
            failure.trap(SecurityGroupNotFound)
            d = self.transactor.transact(self.thd_ensureDefault, projectId, userId, self._now())
            return d.addErrback(raced)

        def raced(failure):
            # A concurrent transaction made it: the unique index refused ours.
            failure.trap(exception.DatabaseError)
            return self.getByName(projectId, DEFAULT_GROUP).addErrback(lambda _: failure)

        return self.getByName(projectId, DEFAULT_GROUP).addErrback(make)

    def thd_ensureDefault(self, store, projectId, userId, now):
        row = store.find(
            SecurityGroup,
            SecurityGroup.project_id == projectId,
            SecurityGroup.name == DEFAULT_GROUP,
        ).one()
        if row is None:
            row = self._add(store, projectId, userId, DEFAULT_GROUP, "default", now)
        return _groupRecord(store, row)

    def _add(self, store, projectId, userId, name, description, now):
        row = SecurityGroup()
        row.project_id, row.user_id = projectId, userId
        row.name, row.description = name, description
        row.created_at = row.updated_at = now
        store.add(row)
        store.flush()
        return row

    def create(self, projectId, userId, name, description, tags=()):
        """
        Add a group without rules, and its C{tags} (C{(key, value)}
        pairs), in one transaction.

        @return: L{Deferred} firing with the new L{SecurityGroupRecord};
            failing with L{SecurityGroupExists}.
        """
        d = self.transactor.transact(
            self.thd_create, projectId, userId, name, description, self._now(), tuple(tags)
        )

        def raced(failure):
            failure.trap(exception.DatabaseError)
            exists = self.getByName(projectId, name)

            def found(_):
                raise SecurityGroupExists(f"security group {name!r} exists")

            return exists.addCallbacks(found, lambda _: failure)

        return d.addErrback(raced)

    def thd_create(self, store, projectId, userId, name, description, now, tags=()):
        existing = store.find(
            SecurityGroup, SecurityGroup.project_id == projectId, SecurityGroup.name == name
        )
        if not existing.is_empty():
            raise SecurityGroupExists(f"security group {name!r} exists")
        record = _groupRecord(store, self._add(store, projectId, userId, name, description, now))
        if tags:
            thd_setTags(store, [(record.ec2Id, SECURITY_GROUP, projectId)], dict(tags), MAX_TAGS, now)
        return record

    def get(self, groupId):
        """
        @return: L{Deferred} firing with the L{SecurityGroupRecord};
            failing with L{SecurityGroupNotFound}.
        """
        return self.transactor.transact(self.thd_get, groupId)

    @readOnly
    def thd_get(self, store, groupId):
        return _groupRecord(store, _getRow(store, groupId))

    def getByName(self, projectId, name):
        """
        @return: L{Deferred} firing with the project's group named C{name};
            failing with L{SecurityGroupNotFound}.
        """
        return self.transactor.transact(self.thd_getByName, projectId, name)

    @readOnly
    def thd_getByName(self, store, projectId, name):
        row = store.find(
            SecurityGroup, SecurityGroup.project_id == projectId, SecurityGroup.name == name
        ).one()
        if row is None:
            raise SecurityGroupNotFound(f"security group {name!r} not found")
        return _groupRecord(store, row)

    def findNamed(self, projectId, names):
        """
        @return: L{Deferred} firing with a L{dict} from name to
            L{SecurityGroupRecord} of the project's groups among C{names},
            read in one transaction.
        """
        return self.transactor.transact(self.thd_findNamed, projectId, sorted(set(names)))

    @readOnly
    def thd_findNamed(self, store, projectId, names):
        rows = store.find(
            SecurityGroup, SecurityGroup.project_id == projectId, SecurityGroup.name.is_in(names)
        )
        return {record.name: record for record in _groupRecords(store, rows)}

    def list(self, projectId=None):
        """
        @param projectId: if given, only this project's groups.
        @return: L{Deferred} firing with the L{SecurityGroupRecord}s,
            ordered by project and name.
        """
        return self.transactor.transact(self.thd_list, projectId)

    @readOnly
    def thd_list(self, store, projectId):
        conditions = [] if projectId is None else [SecurityGroup.project_id == projectId]
        rows = store.find(SecurityGroup, *conditions).order_by(
            SecurityGroup.project_id, SecurityGroup.name
        )
        return _groupRecords(store, rows)

    def delete(self, groupId):
        """
        Remove a group and its rules.

        @return: L{Deferred} firing with the removed L{SecurityGroupRecord};
            failing with L{SecurityGroupNotFound}, or L{SecurityGroupInUse}
            while it has instances or another group's rule refers to it.
        """
        return self.transactor.transact(self.thd_delete, groupId)

    def thd_delete(self, store, groupId):
        row = _getRow(store, groupId)
        members = store.find(
            SecurityGroupInstance, SecurityGroupInstance.security_group_id == groupId
        )
        if not members.is_empty():
            raise SecurityGroupInUse(f"security group {row.name!r} has instances")
        referring = store.find(
            SecurityGroupRule,
            SecurityGroupRule.group_id == groupId,
            SecurityGroupRule.parent_group_id != groupId,
        )
        if not referring.is_empty():
            raise SecurityGroupInUse(
                f"security group {row.name!r} is the source of another group's rule"
            )
        record = _groupRecord(store, row)
        store.find(SecurityGroupRule, SecurityGroupRule.parent_group_id == groupId).remove()
        store.remove(row)
        return record

    def addRules(self, groupId, specs):
        """
        Add rules, all or none.

        @param specs: a sequence of L{RuleSpec}.
        @return: L{Deferred} firing with the updated L{SecurityGroupRecord};
            failing with L{SecurityGroupNotFound} (for the group or a
            source group) or L{SecurityGroupRuleExists}.
        """
        return self.transactor.transact(self.thd_addRules, groupId, list(specs), self._now())

    def thd_addRules(self, store, groupId, specs, now):
        row = _getRow(store, groupId)
        existing = {
            _ruleKey(rule)
            for rule in store.find(
                SecurityGroupRule, SecurityGroupRule.parent_group_id == groupId
            )
        }
        for spec in specs:
            if spec.groupId is not None:
                _getRow(store, spec.groupId)
            if spec.key() in existing:
                raise SecurityGroupRuleExists(
                    f"security group {row.name!r} already has the rule {_describe(spec)}"
                )
            existing.add(spec.key())
        for spec in specs:
            rule = SecurityGroupRule()
            rule.parent_group_id = groupId
            rule.protocol = spec.protocol
            rule.from_port, rule.to_port = spec.fromPort, spec.toPort
            rule.cidr, rule.group_id = spec.cidr, spec.groupId
            rule.created_at = now
            store.add(rule)
        row.updated_at = now
        store.flush()
        return _groupRecord(store, row)

    def removeRules(self, groupId, specs):
        """
        Remove rules, all or none.

        @param specs: a sequence of L{RuleSpec}.
        @return: L{Deferred} firing with the updated L{SecurityGroupRecord};
            failing with L{SecurityGroupNotFound} or
            L{SecurityGroupRuleNotFound}.
        """
        return self.transactor.transact(self.thd_removeRules, groupId, list(specs), self._now())

    def thd_removeRules(self, store, groupId, specs, now):
        row = _getRow(store, groupId)
        byKey = {
            _ruleKey(rule): rule
            for rule in store.find(
                SecurityGroupRule, SecurityGroupRule.parent_group_id == groupId
            )
        }
        doomed = []
        for spec in specs:
            rule = byKey.pop(spec.key(), None)
            if rule is None:
                raise SecurityGroupRuleNotFound(
                    f"security group {row.name!r} has no rule {_describe(spec)}"
                )
            doomed.append(rule)
        for rule in doomed:
            store.remove(rule)
        row.updated_at = now
        store.flush()
        return _groupRecord(store, row)

    def addInstance(self, groupId, instanceId):
        """
        Make an instance a member of a group (nothing if it is one).

        @return: L{Deferred} firing with C{True} if it was not a member;
            failing with L{SecurityGroupNotFound}.
        """
        d = self.addInstances([groupId], [instanceId])
        return d.addCallback(bool)

    def addInstances(self, groupIds, instanceIds):
        """
        Make instances members of groups, in one transaction (memberships
        that exist are left as they are).

        When every membership exists already (the instances were made
        with them), a read-only transaction finds so and no writing
        transaction waits.

        @return: L{Deferred} firing with the number of memberships made;
            failing with L{SecurityGroupNotFound} (making none).
        """
        groupIds, instanceIds = list(groupIds), list(instanceIds)

        def write(missing):
            if not missing:
                return 0
            return self.transactor.transact(
                self.thd_addInstances, groupIds, instanceIds, self._now()
            )

        d = self.transactor.transact(self.thd_missingMemberships, groupIds, instanceIds)
        return d.addCallback(write)

    @readOnly
    def thd_missingMemberships(self, store, groupIds, instanceIds):
        """
        @return: how many of the memberships of C{instanceIds} in
            C{groupIds} do not exist.
        @raise SecurityGroupNotFound: if a group does not exist.
        """
        existing = self._thd_memberships(store, groupIds, instanceIds)
        return len(set(groupIds)) * len(set(instanceIds)) - len(existing)

    def _thd_memberships(self, store, groupIds, instanceIds):
        for groupId in groupIds:
            _getRow(store, groupId)
        existing = set()
        for part in chunks(instanceIds):
            existing.update(
                store.find(
                    (SecurityGroupInstance.security_group_id, SecurityGroupInstance.instance_id),
                    SecurityGroupInstance.security_group_id.is_in(groupIds),
                    SecurityGroupInstance.instance_id.is_in(part),
                )
            )
        return existing

    def thd_addInstances(self, store, groupIds, instanceIds, now):
        existing = self._thd_memberships(store, groupIds, instanceIds)
        made = 0
        for groupId in groupIds:
            for instanceId in instanceIds:
                if (groupId, instanceId) in existing:
                    continue
                existing.add((groupId, instanceId))
                member = SecurityGroupInstance()
                member.security_group_id, member.instance_id = groupId, instanceId
                member.created_at = now
                store.add(member)
                made += 1
        store.flush()
        return made

    def removeInstance(self, instanceId, groupId=None):
        """
        End an instance's membership of one group, or of all.

        @return: L{Deferred} firing with the ids of the groups it left.
        """
        return self.transactor.transact(self.thd_removeInstance, instanceId, groupId)

    def thd_removeInstance(self, store, instanceId, groupId):
        conditions = [SecurityGroupInstance.instance_id == instanceId]
        if groupId is not None:
            conditions.append(SecurityGroupInstance.security_group_id == groupId)
        rows = list(
            store.find(SecurityGroupInstance, *conditions).order_by(
                SecurityGroupInstance.security_group_id
            )
        )
        left = [row.security_group_id for row in rows]
        for row in rows:
            store.remove(row)
        return left

    def groupsForInstance(self, instanceId):
        """
        @return: L{Deferred} firing with the L{SecurityGroupRecord}s of the
            groups the instance is a member of, by id.
        """
        d = self.groupsForInstances([instanceId])
        return d.addCallback(lambda groups: groups[instanceId])

    def groupsForInstances(self, instanceIds):
        """
        @return: L{Deferred} firing with a L{dict} from each of
            C{instanceIds} to the L{SecurityGroupRecord}s of its groups, by
            id (read with a few queries, whatever the number of instances).
        """
        return self.transactor.transact(self.thd_groupsForInstances, list(instanceIds))

    @readOnly
    def thd_groupsForInstances(self, store, instanceIds):
        memberships = []
        for part in chunks(instanceIds):
            memberships.extend(
                store.find(
                    (SecurityGroupInstance.instance_id, SecurityGroupInstance.security_group_id),
                    SecurityGroupInstance.instance_id.is_in(part),
                )
            )
        groupIds = sorted({groupId for _, groupId in memberships})
        rows = []
        for part in chunks(groupIds):
            rows.extend(store.find(SecurityGroup, SecurityGroup.id.is_in(part)))
        rows.sort(key=lambda row: row.id)
        records = {record.id: record for record in _groupRecords(store, rows)}
        result = {instanceId: [] for instanceId in instanceIds}
        for instanceId, groupId in sorted(memberships):
            if groupId in records:
                result[instanceId].append(records[groupId])
        return result

    def memberAddresses(self, groupIds):
        """
        The fixed addresses of the live (not deleted, not terminated)
        members of groups: what a rule with one of them as source admits.

        @return: L{Deferred} firing with a L{dict} from each of
            C{groupIds} to the sorted L{list} of its members' addresses.
        """
        return self.transactor.transact(self.thd_memberAddresses, list(groupIds))

    @readOnly
    def thd_memberAddresses(self, store, groupIds):
        found = {groupId: set() for groupId in groupIds}
        live = And(
            SecurityGroupInstance.instance_id == Instance.id,
            Instance.deleted == False,  # noqa: E712
            Instance.state != TERMINATED,
        )
        for part in chunks(groupIds):
            inGroups = SecurityGroupInstance.security_group_id.is_in(part)
            for groupId, address in store.find(
                (SecurityGroupInstance.security_group_id, Instance.fixed_ip), inGroups, live
            ):
                if address:
                    found[groupId].add(address)
            for groupId, address in store.find(
                (SecurityGroupInstance.security_group_id, FixedIp.address),
                inGroups,
                live,
                FixedIp.instance_id == Instance.id,
                FixedIp.allocated == True,  # noqa: E712
            ):
                found[groupId].add(address)
        return {
            groupId: sorted(addresses, key=ipaddress.IPv4Address)
            for groupId, addresses in found.items()
        }

    def liveMembersOnHost(self, groupIds, host):
        """
        The instances of C{host} that are members of any of C{groupIds},
        not deleted, not terminated or shutting down, and with a fixed
        address: those whose filters follow these groups.

        @return: L{Deferred} firing with their
            L{nova.db.records.InstanceRecord}s, by id.
        """
        return self.transactor.transact(self.thd_liveMembersOnHost, list(groupIds), host)

    @readOnly
    def thd_liveMembersOnHost(self, store, groupIds, host):
        rows = {}
        for part in chunks(groupIds):
            for row in store.find(
                Instance,
                SecurityGroupInstance.security_group_id.is_in(part),
                SecurityGroupInstance.instance_id == Instance.id,
                Instance.host == host,
                Instance.deleted == False,  # noqa: E712
                Not(Instance.state.is_in((TERMINATED, SHUTTING_DOWN))),
                Instance.fixed_ip != None,  # noqa: E711
            ):
                rows[row.id] = row
        return [InstanceRecord.fromModel(rows[key]) for key in sorted(rows)]

    def instancesInGroup(self, groupId):
        """
        @return: L{Deferred} firing with the ids of the group's instances,
            in order.
        """
        return self.transactor.transact(self.thd_instancesInGroup, groupId)

    @readOnly
    def thd_instancesInGroup(self, store, groupId):
        return sorted(
            store.find(
                SecurityGroupInstance.instance_id,
                SecurityGroupInstance.security_group_id == groupId,
            )
        )

    def groupsReferring(self, groupIds):
        """
        @return: L{Deferred} firing with the sorted ids of the groups that
            have a rule whose source is one of C{groupIds}.
        """
        return self.transactor.transact(self.thd_groupsReferring, list(groupIds))

    @readOnly
    def thd_groupsReferring(self, store, groupIds):
        if not groupIds:
            return []
        return sorted(
            set(
                store.find(
                    SecurityGroupRule.parent_group_id,
                    SecurityGroupRule.group_id.is_in(groupIds),
                )
            )
        )


def _describe(spec):
    source = spec.cidr if spec.cidr is not None else formatGroupId(spec.groupId)
    if spec.protocol == "-1":
        return f"(all protocols from {source})"
    return f"({spec.protocol} {spec.fromPort}-{spec.toPort} from {source})"
