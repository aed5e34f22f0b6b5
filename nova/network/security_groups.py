# -*- test-case-name: tests.network.test_security_groups -*-
"""
L{SecurityGroupAPI}: security groups as the EC2 API and the compute API
use them.  Groups, rules and memberships live in the database; after a
change that alters what traffic reaches some instance, every compute host
is told with a fanout cast to topic C{compute}::

    refreshSecurityGroup(securityGroupId=<int>)

Every project has a group named C{default}, made the first time the
project uses security groups; it cannot be deleted.

A permission (what C{authorizeIngress} and C{revokeIngress} take) is a
L{dict}::

    {"protocol": "tcp" | "udp" | "icmp" | "-1" (also 6, 17, 1),
     "fromPort": int, "toPort": int,      # ICMP type and code for icmp;
                                          # ignored for -1
     "cidrs": ["10.0.0.0/8", ...],
     "groups": [{"groupName": "web", "userId": "<project>"},   # userId
                {"groupId": "sg-0000002a"}]}                    # optional

Each CIDR and each group of a permission becomes one rule.
"""

import ipaddress
import re

from twisted.internet.defer import inlineCallbacks, maybeDeferred

from nova.db.security_groups import DEFAULT_GROUP, RuleSpec, formatGroupId
from nova.network import errors

COMPUTE_TOPIC = "compute"

_PROTOCOLS = {
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "icmp": "icmp",
    "1": "icmp",
    "-1": "-1",
}

_GROUP_ID = re.compile(r"^sg-([0-9a-f]{8})$")

#: EC2 filters of DescribeSecurityGroups: filter name -> the value(s) a
#: L{nova.db.security_groups.SecurityGroupRecord} has for it.
SECURITY_GROUP_FILTERS = {
    "group-name": lambda group: group.name,
    "group-id": lambda group: group.ec2Id,
    "description": lambda group: group.description,
    "owner-id": lambda group: group.project_id,
    "ip-permission.protocol": lambda group: [rule.protocol for rule in group.rules],
    "ip-permission.from-port": lambda group: [
        rule.from_port for rule in group.rules if rule.from_port is not None
    ],
    "ip-permission.to-port": lambda group: [
        rule.to_port for rule in group.rules if rule.to_port is not None
    ],
    "ip-permission.cidr": lambda group: [
        rule.cidr for rule in group.rules if rule.cidr is not None
    ],
    "ip-permission.group-name": lambda group: [
        rule.source_group_name for rule in group.rules if rule.group_id is not None
    ],
    "ip-permission.group-id": lambda group: [
        formatGroupId(rule.group_id) for rule in group.rules if rule.group_id is not None
    ],
    "ip-permission.user-id": lambda group: [
        rule.source_project_id for rule in group.rules if rule.group_id is not None
    ],
}


def parseGroupId(text):
    """
    @param text: an EC2 group id, C{sg-} and eight hex digits.
    @return: the database id (L{int}).
    @raise errors.InvalidGroupId: if C{text} is malformed.
    """
    match = _GROUP_ID.match(text if isinstance(text, str) else "")
    if match is None:
        raise errors.InvalidGroupId(f"invalid security group id {text!r}")
    return int(match.group(1), 16)


def _port(value, name):
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.InvalidParameterValue(f"{name} must be an integer, not {value!r}")


def _checkText(value, what):
    if not isinstance(value, str) or not value.strip():
        raise errors.MissingParameter(f"the security group {what} is required")
    if len(value) > 255:
        raise errors.InvalidParameterValue(f"the security group {what} is longer than 255 characters")
    if not value.isprintable():
        raise errors.InvalidParameterValue(f"the security group {what} has control characters")


class SecurityGroupAPI:
    """
    Security groups of the context's project.
    """

    def __init__(self, db, rpc):
        """
        @param db: the L{nova.db.api.NovaDatabase}.
        @param rpc: an L{nova.rpc.interfaces.IRPC}, to tell compute hosts.
        """
        self.db = db
        self.rpc = rpc

    def _project(self, context):
        if context.projectId is None:
            raise errors.InvalidParameterValue("security groups need a project")
        return context.projectId

    @inlineCallbacks
    def _notify(self, context, groupIds):
        for groupId in sorted(set(groupIds)):
            yield self.rpc.fanoutCast(
                context, COMPUTE_TOPIC, "refreshSecurityGroup", {"securityGroupId": groupId}
            )

    def ensureDefault(self, context):
        """
        @return: L{Deferred} firing with the project's C{default} group,
            made now if it has none.
        """
        return maybeDeferred(self._project, context).addCallback(
            self.db.securityGroups.ensureDefault, context.userId
        )

    @inlineCallbacks
    def _group(self, context, groupName=None, groupId=None):
        """
        @return: L{Deferred} firing with the project's group given by name
            or EC2 id (exactly one); another project's group is not found.
        """
        projectId = self._project(context)
        yield self.ensureDefault(context)
        if (groupName is None) == (groupId is None):
            raise errors.MissingParameter("give either a group name or a group id")
        if groupId is not None:
            record = yield self.db.securityGroups.get(parseGroupId(groupId))
            if record.project_id != projectId:
                raise errors.SecurityGroupNotFound(f"security group {groupId} not found")
            return record
        record = yield self.db.securityGroups.getByName(projectId, groupName)
        return record

    def groupNamed(self, context, name):
        """
        @return: L{Deferred} firing with the record of the context's
            project's group C{name}; failing with
            L{errors.SecurityGroupNotFound}.
        """
        return maybeDeferred(self._project, context).addCallback(
            self.db.securityGroups.getByName, name
        )

    @inlineCallbacks
    def groupsByIds(self, context, groupIds):
        """
        The context's project's groups that EC2 ids name (superusers too
        name only their context's project's groups).

        @param groupIds: EC2 ids (C{sg-} and eight hex digits).
        @return: L{Deferred} firing with their records, in order; failing
            with L{errors.SecurityGroupNotFound} for an id that names none
            of them (a malformed one included).
        """
        groups = []
        for text in groupIds:
            group = None
            if isinstance(text, str) and text.startswith("sg-"):
                try:
                    number = int(text[3:], 16)
                except ValueError:
                    number = None
                if number is not None:
                    try:
                        group = yield self.db.securityGroups.get(number)
                    except errors.SecurityGroupNotFound:
                        group = None
            if (
                group is None
                or group.project_id != context.projectId
                or formatGroupId(group.id) != text
            ):
                raise errors.SecurityGroupNotFound(f"The security group '{text}' does not exist")
            groups.append(group)
        return groups

    def visibleGroups(self, context):
        """
        The groups the context sees, as they are (no C{default} group is
        made): its project's, every project's for superusers.

        @return: L{Deferred} firing with
            L{nova.db.security_groups.SecurityGroupRecord}s.
        """
        return self.db.securityGroups.list(None if context.isAdmin else context.projectId)

    @inlineCallbacks
    def create(self, context, name, description, tags=()):
        """
        CreateSecurityGroup; its tags (C{(key, value)} pairs the API
        checked) are written with it, in one transaction.

        @return: L{Deferred} firing with the new
            L{nova.db.security_groups.SecurityGroupRecord}; failing with
            L{errors.SecurityGroupExists} (C{InvalidGroup.Duplicate}),
            L{errors.InvalidParameterValue} or L{errors.MissingParameter}.
        """
        projectId = self._project(context)
        _checkText(name, "name")
        _checkText(description, "description")
        if name.lower().startswith("sg-"):
            raise errors.InvalidParameterValue("a security group name cannot start with sg-")
        yield self.ensureDefault(context)
        if name == DEFAULT_GROUP:
            raise errors.SecurityGroupExists(f"security group {name!r} exists")
        record = yield self.db.securityGroups.create(
            projectId, context.userId, name, description, tags=tags
        )
        return record

    @inlineCallbacks
    def delete(self, context, groupName=None, groupId=None):
        """
        DeleteSecurityGroup, by name or by EC2 id.

        @return: L{Deferred} firing with C{None}; failing with
            L{errors.SecurityGroupNotFound}, L{errors.SecurityGroupInUse}
            or L{errors.SecurityGroupCannotDelete} (for C{default}).
        """
        record = yield self._group(context, groupName, groupId)
        if record.name == DEFAULT_GROUP:
            raise errors.SecurityGroupCannotDelete("the default security group cannot be deleted")
        yield self.db.securityGroups.delete(record.id)

    @inlineCallbacks
    def describe(self, context, groupNames=(), groupIds=()):
        """
        DescribeSecurityGroups: the project's groups, or those named (by
        name or EC2 id).  EC2 filters apply afterwards, with
        L{SECURITY_GROUP_FILTERS}.

        @return: L{Deferred} firing with
            L{nova.db.security_groups.SecurityGroupRecord}s ordered by
            name; failing with L{errors.SecurityGroupNotFound} if one asked
            for does not exist, or L{errors.InvalidGroupId}.
        """
        projectId = self._project(context)
        yield self.ensureDefault(context)
        ids = [parseGroupId(text) for text in groupIds]
        groups = yield self.db.securityGroups.list(projectId)
        if not groupNames and not ids:
            return groups
        byName = {group.name: group for group in groups}
        byId = {group.id: group for group in groups}
        chosen = {}
        for name in groupNames:
            if name not in byName:
                raise errors.SecurityGroupNotFound(f"security group {name!r} not found")
            chosen[byName[name].id] = byName[name]
        for groupId in ids:
            if groupId not in byId:
                raise errors.SecurityGroupNotFound(
                    f"security group {formatGroupId(groupId)} not found"
                )
            chosen[groupId] = byId[groupId]
        return sorted(chosen.values(), key=lambda group: group.name)

    @inlineCallbacks
    def _specs(self, context, permissions):
        """
        Check permissions and turn them into L{RuleSpec}s.
        """
        if not permissions:
            raise errors.MissingParameter("no permission given")
        specs = []
        for permission in permissions:
            if not isinstance(permission, dict):
                raise errors.InvalidParameterValue(f"bad permission {permission!r}")
            protocol = _PROTOCOLS.get(str(permission.get("protocol", "")).lower())
            if protocol is None:
                raise errors.InvalidParameterValue(
                    f"invalid IP protocol {permission.get('protocol')!r}: use tcp, udp, icmp or -1"
                )
            fromPort = _port(permission.get("fromPort"), "FromPort")
            toPort = _port(permission.get("toPort"), "ToPort")
            fromPort, toPort = self._checkPorts(protocol, fromPort, toPort)
            sources = []
            for cidr in permission.get("cidrs") or ():
                try:
                    network = ipaddress.IPv4Network(str(cidr), strict=False)
                except ValueError:
                    raise errors.InvalidParameterValue(f"invalid CIDR {cidr!r}")
                if "/" not in str(cidr):
                    raise errors.InvalidParameterValue(f"CIDR {cidr!r} lacks a prefix length")
                sources.append({"cidr": str(network)})
            for group in permission.get("groups") or ():
                groupId = yield self._sourceGroup(context, group)
                sources.append({"groupId": groupId})
            if not sources:
                raise errors.MissingParameter("a permission needs a CIDR or a source group")
            for source in sources:
                specs.append(RuleSpec(protocol, fromPort, toPort, **source))
        return specs

    def _checkPorts(self, protocol, fromPort, toPort):
        if protocol == "-1":
            return None, None
        if protocol == "icmp":
            if fromPort is None or toPort is None:
                raise errors.InvalidParameterValue("icmp needs an ICMP type and code (-1 for any)")
            if not (-1 <= fromPort <= 255 and -1 <= toPort <= 255):
                raise errors.InvalidParameterValue(
                    f"invalid ICMP type {fromPort} or code {toPort}: use -1 to 255"
                )
            if fromPort == -1 and toPort != -1:
                raise errors.InvalidParameterValue("an ICMP code needs an ICMP type")
            return fromPort, toPort
        if fromPort is None or toPort is None:
            raise errors.InvalidParameterValue(f"{protocol} needs FromPort and ToPort")
        if not (0 <= fromPort <= 65535 and 0 <= toPort <= 65535):
            raise errors.InvalidParameterValue(
                f"invalid port range {fromPort}-{toPort}: ports are 0 to 65535"
            )
        if fromPort > toPort:
            raise errors.InvalidParameterValue(
                f"invalid port range {fromPort}-{toPort}: FromPort is above ToPort"
            )
        return fromPort, toPort

    @inlineCallbacks
    def _sourceGroup(self, context, group):
        if not isinstance(group, dict):
            raise errors.InvalidParameterValue(f"bad source group {group!r}")
        if group.get("groupId"):
            groupId = parseGroupId(group["groupId"])
            record = yield self.db.securityGroups.get(groupId)
            return record.id
        name = group.get("groupName")
        if not name:
            raise errors.MissingParameter("a source group needs a name or an id")
        owner = group.get("userId") or context.projectId
        if owner == context.projectId:
            yield self.ensureDefault(context)
        record = yield self.db.securityGroups.getByName(owner, name)
        return record.id

    @inlineCallbacks
    def authorizeIngress(self, context, permissions, groupName=None, groupId=None):
        """
        AuthorizeSecurityGroupIngress: add the rules of C{permissions},
        all or none.

        @return: L{Deferred} firing with the updated group; failing with
            L{errors.SecurityGroupNotFound}, L{errors.InvalidGroupId},
            L{errors.InvalidParameterValue}, L{errors.MissingParameter} or
            L{errors.SecurityGroupRuleExists}
            (C{InvalidPermission.Duplicate}).
        """
        record = yield self._group(context, groupName, groupId)
        specs = yield self._specs(context, permissions)
        record = yield self.db.securityGroups.addRules(record.id, specs)
        yield self._notify(context, [record.id])
        return record

    @inlineCallbacks
    def revokeIngress(self, context, permissions, groupName=None, groupId=None):
        """
        RevokeSecurityGroupIngress: remove the rules of C{permissions}, all
        or none.

        @return: L{Deferred} firing with the updated group; failing as
            L{authorizeIngress} does, and with
            L{errors.SecurityGroupRuleNotFound}
            (C{InvalidPermission.NotFound}) for a rule the group lacks.
        """
        record = yield self._group(context, groupName, groupId)
        specs = yield self._specs(context, permissions)
        record = yield self.db.securityGroups.removeRules(record.id, specs)
        yield self._notify(context, [record.id])
        return record

    @inlineCallbacks
    def _membershipChanged(self, context, groupIds, rebuild=()):
        """
        Tell the compute hosts that the members of C{groupIds} changed: the
        groups whose rules name them as source now admit other addresses.
        The members' own filters do not change, except those of the groups
        in C{rebuild}.
        """
        referring = yield self.db.securityGroups.groupsReferring(groupIds)
        yield self._notify(context, list(rebuild) + list(referring))

    def addInstance(self, context, instanceId, groupNames=()):
        """
        Make an instance a member of the project's groups C{groupNames}
        (C{default} if none): L{addInstances} for one instance.
        """
        return self.addInstances(context, [instanceId], groupNames)

    @inlineCallbacks
    def groupsNamed(self, context, groupNames=()):
        """
        The project's C{default} group is made if it has none; the groups
        are read in one transaction.

        @return: L{Deferred} firing with the records of the project's
            groups C{groupNames} (C{default} if none; each once, in
            order); failing with L{errors.SecurityGroupNotFound}.
        """
        projectId = self._project(context)
        names = list(dict.fromkeys(groupNames or (DEFAULT_GROUP,)))
        found = yield self.db.securityGroups.findNamed(projectId, names + [DEFAULT_GROUP])
        if DEFAULT_GROUP not in found:
            found[DEFAULT_GROUP] = yield self.ensureDefault(context)
        for name in names:
            if name not in found:
                raise errors.SecurityGroupNotFound(f"The security group '{name}' does not exist")
        return [found[name] for name in names]

    @inlineCallbacks
    def addInstances(self, context, instanceIds, groupNames=()):
        """
        Make instances that are about to start members of the project's
        groups C{groupNames} (C{default} if none): L{groupsNamed}, then
        L{joinGroups}.

        @return: L{Deferred} firing with the groups' records; failing with
            L{errors.SecurityGroupNotFound} (adding to none).
        """
        groups = yield self.groupsNamed(context, groupNames)
        yield self.joinGroups(context, instanceIds, groups)
        return groups

    @inlineCallbacks
    def joinGroups(self, context, instanceIds, groups):
        """
        Make instances that are about to start members of C{groups} (their
        records), in one transaction.  Their own filters are built when
        their guests start; the compute hosts are told once, about the
        groups whose rules name these groups.

        @return: L{Deferred} firing with C{None}.
        """
        groupIds = [record.id for record in groups]
        yield self.db.securityGroups.addInstances(groupIds, instanceIds)
        yield self._membershipChanged(context, groupIds)

    def membersJoined(self, context, referring):
        """
        Tell the compute hosts that instances joined groups in a
        transaction of the caller's (RunInstances writes the memberships
        with the instances), as L{joinGroups} does after its write.

        @param referring: the ids of the groups whose rules name the
            joined groups as source, read in that transaction
            (C{db.securityGroups.thd_groupsReferring}).
        @return: L{Deferred} firing with C{None}.
        """
        return self._notify(context, referring)

    @inlineCallbacks
    def setInstanceGroups(self, context, instanceId, groupNames):
        """
        Make the project's groups C{groupNames} (at least one) an
        instance's only groups (ModifyInstanceAttribute's C{groupSet}).
        It joins the new groups before it leaves the old ones, and every
        compute host is told about the groups it left, the groups it is
        in (so that its own filter is rebuilt) and the groups whose rules
        name any of them.

        @return: L{Deferred} firing with the groups' records; failing with
            L{errors.SecurityGroupNotFound} (changing nothing) or
            L{errors.InvalidParameterValue} for no group.
        """
        projectId = self._project(context)
        names = list(dict.fromkeys(groupNames or ()))
        if not names:
            raise errors.InvalidParameterValue("an instance needs at least one security group")
        yield self.ensureDefault(context)
        groups = []
        for name in names:
            record = yield self.db.securityGroups.getByName(projectId, name)
            groups.append(record)
        wanted = {record.id for record in groups}
        current = yield self.db.securityGroups.groupsForInstance(instanceId)
        for record in groups:
            yield self.db.securityGroups.addInstance(record.id, instanceId)
        for record in current:
            if record.id not in wanted:
                yield self.db.securityGroups.removeInstance(instanceId, record.id)
        changed = sorted(wanted | {record.id for record in current})
        yield self._membershipChanged(context, changed, rebuild=changed)
        return groups

    @inlineCallbacks
    def removeInstance(self, context, instanceId):
        """
        End an instance's memberships (it is terminated).

        @return: L{Deferred} firing with the ids of the groups it left.
        """
        left = yield self.db.securityGroups.removeInstance(instanceId)
        # Its own filter is removed with its guest.
        if left:
            yield self._membershipChanged(context, left)
        return left

    def groupsForInstance(self, context, instanceId):
        """
        @return: L{Deferred} firing with the records of the instance's
            groups, by id.
        """
        return self.db.securityGroups.groupsForInstance(instanceId)

    def memberAddresses(self, context, groupId):
        """
        The fixed addresses of a group's live instances: what a rule with
        this group as source admits.

        @param groupId: the database id (L{int}).
        @return: L{Deferred} firing with a sorted L{list} of addresses.
        """
        d = self.db.securityGroups.memberAddresses([groupId])
        return d.addCallback(lambda found: found[groupId])
