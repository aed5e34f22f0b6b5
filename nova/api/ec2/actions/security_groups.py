# -*- test-case-name: tests.api.ec2.test_security_groups -*-
"""
Security group actions: CreateSecurityGroup, DeleteSecurityGroup,
DescribeSecurityGroups, AuthorizeSecurityGroupIngress,
RevokeSecurityGroupIngress, and AuthorizeSecurityGroupEgress and
RevokeSecurityGroupEgress, which answer C{UnsupportedOperation}.

These are EC2-Classic security groups: they belong to a project (their
C{OwnerId} is the project's name), filter ingress only, and every project
has a group named C{default}, made the first time the project uses
security groups, that cannot be deleted.  The work is the
L{nova.network.security_groups.SecurityGroupAPI}'s
(C{call.backends.securityGroups}).

Rules are given in either of EC2's forms:

  - C{IpPermissions.N} (C{IpProtocol}, C{FromPort}, C{ToPort},
    C{IpRanges.M.CidrIp}, C{Groups.M.GroupName}/C{UserId}/C{GroupId}),
    what boto3, the aws CLI and boto 2's C{authorize_security_group} send;
  - the flat legacy form (C{IpProtocol}, C{FromPort}, C{ToPort},
    C{CidrIp}, C{SourceSecurityGroupName}, C{SourceSecurityGroupOwnerId}),
    what boto 2's C{authorize_security_group_deprecated} (and its
    C{authorize_security_group} given only a source group) send.  As in
    EC2-Classic, a source group without a protocol allows all of TCP and
    UDP (ports 0 to 65535) and ICMP from it; as in Nova, a protocol
    without a CIDR or source group allows it from C{0.0.0.0/0}.

Protocols are C{tcp}, C{udp}, C{icmp} (or their numbers 6, 17, 1) or C{-1}
for all; for C{icmp}, C{FromPort} and C{ToPort} are the ICMP type and code
(C{-1} for any).  Rule descriptions are accepted and not kept.

Groups take tags (L{nova.api.ec2.actions.tags}): at creation through
C{TagSpecification.N}, shown by DescribeSecurityGroups and its C{tag:}
filters, removed with the group.
"""

from nova.api.ec2.actions.paging import paginate
from nova.api.ec2.actions.tags import (
    SECURITY_GROUP,
    deleteTagsOf,
    tagList,
    tagSpecifications,
    tagsOf,
)
from nova.api.ec2.errors import (
    EC2Error,
    InvalidParameterCombination,
    MissingParameter,
    UnsupportedOperation,
)
from nova.api.ec2.filters import applyFilters
from nova.network.errors import SecurityGroupExists
from nova.network.security_groups import formatGroupId
from nova.network.security_groups import SECURITY_GROUP_FILTERS

_FLAT_PARAMETERS = (
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIp",
    "SourceSecurityGroupName",
    "SourceSecurityGroupOwnerId",
)

#: What EC2-Classic allows from a source group named without a protocol.
_ALL_FROM_GROUP = (("tcp", 0, 65535), ("udp", 0, 65535), ("icmp", -1, -1))

_EGRESS_MESSAGE = (
    "Egress rules are not supported: security groups here are EC2-Classic "
    "groups, which filter ingress only."
)


def securityGroupRuleId(rule):
    """
    @param rule: a L{nova.db.security_groups.SecurityGroupRuleRecord}.
    @return: the EC2 id of the rule: C{sgr-} and 17 hex digits.
    """
    return "sgr-%017x" % (rule.id,)


def _groupSelector(params):
    """
    @return: C{(groupName, groupId)}, exactly one of them set.
    @raise EC2Error: C{MissingParameter} if neither is given.
    @raise InvalidParameterCombination: if both are.
    """
    name, groupId = params.get("GroupName"), params.get("GroupId")
    if name is None and groupId is None:
        raise EC2Error(
            "MissingParameter",
            "The request must contain the parameter GroupName or GroupId",
        )
    if name is not None and groupId is not None:
        raise InvalidParameterCombination(
            "Give the security group by GroupName or by GroupId, not both."
        )
    return name, groupId


async def _group(call, name, groupId):
    """
    @return: the caller's group named by C{name} or C{groupId}.
    @raise nova.network.errors.SecurityGroupNotFound: if there is none.
    """
    sg = call.backends.securityGroups
    if groupId is not None:
        [group] = await sg.describe(call.context, groupIds=[groupId])
    else:
        [group] = await sg.describe(call.context, groupNames=[name])
    return group


def ipPermissions(group):
    """
    A group's rules as EC2's C{IpPermissions}: one permission per protocol
    and port range, with its CIDRs and source groups, in the order the
    rules were added.

    @param group: a L{nova.db.security_groups.SecurityGroupRecord}.
    @return: a L{list} of L{dict}s shaped as boto3's C{IpPermission}.
    """
    permissions = {}
    for rule in group.rules:
        key = (rule.protocol, rule.from_port, rule.to_port)
        permission = permissions.get(key)
        if permission is None:
            permission = permissions[key] = {
                "IpProtocol": rule.protocol,
                "IpRanges": [],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            }
            if rule.protocol != "-1":
                permission["FromPort"] = rule.from_port
                permission["ToPort"] = rule.to_port
        if rule.cidr is not None:
            permission["IpRanges"].append({"CidrIp": rule.cidr})
        if rule.group_id is not None:
            permission["UserIdGroupPairs"].append(
                {
                    "GroupId": formatGroupId(rule.group_id),
                    "GroupName": rule.source_group_name,
                    "UserId": rule.source_project_id,
                }
            )
    return list(permissions.values())


def _groupInfo(group, tags):
    return {
        "GroupId": group.ec2Id,
        "GroupName": group.name,
        "Description": group.description,
        "OwnerId": group.project_id,
        "IpPermissions": ipPermissions(group),
        "IpPermissionsEgress": [],
        "Tags": tagList(tags),
    }


def _ruleInfo(group, rule):
    info = {
        "SecurityGroupRuleId": securityGroupRuleId(rule),
        "GroupId": group.ec2Id,
        "GroupOwnerId": group.project_id,
        "IsEgress": False,
        "IpProtocol": rule.protocol,
        "FromPort": rule.from_port,
        "ToPort": rule.to_port,
        "CidrIpv4": rule.cidr,
    }
    if rule.protocol == "-1":
        info["FromPort"] = info["ToPort"] = -1
    if rule.group_id is not None:
        info["ReferencedGroupInfo"] = {
            "GroupId": formatGroupId(rule.group_id),
            "UserId": rule.source_project_id,
        }
    return info


def _flatPermissions(params):
    """
    The permissions of the flat legacy form.
    """
    protocol = params.get("IpProtocol")
    fromPort, toPort = params.get("FromPort"), params.get("ToPort")
    cidr = params.get("CidrIp")
    groups = []
    if params.get("SourceSecurityGroupName") is not None:
        groups.append(
            {
                "groupName": params["SourceSecurityGroupName"],
                "userId": params.get("SourceSecurityGroupOwnerId"),
            }
        )
    elif params.get("SourceSecurityGroupOwnerId") is not None:
        raise MissingParameter("SourceSecurityGroupName")
    if protocol is None:
        if groups and cidr is None and fromPort is None and toPort is None:
            return [
                {"protocol": p, "fromPort": f, "toPort": t, "groups": groups}
                for p, f, t in _ALL_FROM_GROUP
            ]
        raise MissingParameter("IpProtocol")
    cidrs = [cidr] if cidr is not None else []
    if not cidrs and not groups:
        cidrs = ["0.0.0.0/0"]
    return [
        {"protocol": protocol, "fromPort": fromPort, "toPort": toPort, "cidrs": cidrs,
         "groups": groups}
    ]


def _listedPermission(permission, index):
    """
    One C{IpPermissions.N} as the security group API takes it.
    """
    where = f"IpPermissions.{index}"
    if permission.get("Ipv6Ranges"):
        raise UnsupportedOperation("IPv6 ranges are not supported.")
    if permission.get("PrefixListIds"):
        raise UnsupportedOperation("Prefix lists are not supported.")
    protocol = permission.get("IpProtocol")
    if protocol is None:
        raise MissingParameter(f"{where}.IpProtocol")
    cidrs = []
    for number, ipRange in enumerate(permission.get("IpRanges", ()), 1):
        if ipRange.get("CidrIp") is None:
            raise MissingParameter(f"{where}.IpRanges.{number}.CidrIp")
        cidrs.append(ipRange["CidrIp"])
    groups = []
    for pair in permission.get("UserIdGroupPairs", ()):
        if pair.get("VpcId") or pair.get("VpcPeeringConnectionId"):
            raise UnsupportedOperation("VPC security groups are not supported.")
        groups.append(
            {
                "groupId": pair.get("GroupId"),
                "groupName": pair.get("GroupName"),
                "userId": pair.get("UserId"),
            }
        )
    return {
        "protocol": protocol,
        "fromPort": permission.get("FromPort"),
        "toPort": permission.get("ToPort"),
        "cidrs": cidrs,
        "groups": groups,
    }


def _permissions(params):
    """
    @return: the permissions of an Authorize or Revoke request, as the
        security group API takes them.
    @raise InvalidParameterCombination: for both forms at once.
    @raise MissingParameter: for neither.
    """
    flat = any(params.get(name) is not None for name in _FLAT_PARAMETERS)
    listed = params.get("IpPermissions") or []
    if flat and listed:
        raise InvalidParameterCombination(
            "Give the rules either as IpPermissions or as IpProtocol, FromPort, "
            "ToPort, CidrIp and SourceSecurityGroupName, not both."
        )
    if flat:
        return _flatPermissions(params)
    if not listed:
        raise MissingParameter("IpPermissions")
    return [_listedPermission(p, n) for n, p in enumerate(listed, 1)]


async def createSecurityGroup(call):
    """
    Make a security group without rules in the caller's project.
    """
    params = call.params
    if params.get("VpcId"):
        raise UnsupportedOperation("VPC security groups are not supported: leave out VpcId.")
    pairs = tagSpecifications(params, (SECURITY_GROUP,)).get(SECURITY_GROUP, [])
    name = params["GroupName"]
    try:
        group = await call.backends.securityGroups.create(
            call.context,
            name,
            params["Description"],
            # Written with the group, in one transaction.
            tags=pairs,
        )
    except SecurityGroupExists:
        raise SecurityGroupExists(f"The security group '{name}' already exists") from None
    return {"GroupId": group.ec2Id, "Tags": tagList(dict(pairs))}


async def deleteSecurityGroup(call):
    """
    Delete a security group by name or id.  C{default} cannot be deleted
    (C{CannotDelete}), nor a group with instances or that another group's
    rules name as source (C{InvalidGroup.InUse}).
    """
    name, groupId = _groupSelector(call.params)
    group = await _group(call, name, groupId)
    await call.backends.securityGroups.delete(call.context, groupId=group.ec2Id)
    await deleteTagsOf(call, [group.ec2Id])
    return {"Return": True, "GroupId": group.ec2Id}


async def describeSecurityGroups(call):
    """
    List the project's security groups, by name, id and filters
    (C{group-name}, C{group-id}, C{description}, C{owner-id} and
    C{ip-permission.protocol}, C{.from-port}, C{.to-port}, C{.cidr},
    C{.group-name}, C{.group-id}, C{.user-id}), and tags (C{tag:<key>},
    C{tag-key}, C{tag-value}); by name, in pages with C{MaxResults}.
    """
    params = call.params
    context = call.context
    groups = await call.backends.securityGroups.describe(
        context,
        groupNames=params.get("GroupNames") or (),
        groupIds=params.get("GroupIds") or (),
    )
    tags = await tagsOf(call, [group.ec2Id for group in groups])
    table = dict(SECURITY_GROUP_FILTERS, tag=lambda group: tags.get(group.ec2Id))
    groups = applyFilters(params.get("Filters"), groups, table)
    page, nextToken = paginate(
        call, groups, lambda group: group.name, exclusive=("GroupIds", "GroupNames")
    )
    return {
        "SecurityGroups": [_groupInfo(group, tags.get(group.ec2Id)) for group in page],
        "NextToken": nextToken,
    }


async def authorizeSecurityGroupIngress(call):
    """
    Add ingress rules to a group, all or none (C{InvalidPermission.Duplicate}
    if one exists).
    """
    params = call.params
    name, groupId = _groupSelector(params)
    # Tags of the new rules (resource type security-group-rule) are not
    # kept: any tag specification is refused.
    tagSpecifications(params, ())
    permissions = _permissions(params)
    before = await _group(call, name, groupId)
    after = await call.backends.securityGroups.authorizeIngress(
        call.context, permissions, groupId=before.ec2Id
    )
    old = {rule.id for rule in before.rules}
    return {
        "Return": True,
        "SecurityGroupRules": [
            _ruleInfo(after, rule) for rule in after.rules if rule.id not in old
        ],
    }


def _ruleAsPermission(rule):
    permission = {"protocol": rule.protocol, "fromPort": rule.from_port, "toPort": rule.to_port}
    if rule.cidr is not None:
        permission["cidrs"] = [rule.cidr]
    else:
        permission["groups"] = [{"groupId": formatGroupId(rule.group_id)}]
    return permission


async def revokeSecurityGroupIngress(call):
    """
    Remove ingress rules from a group, given as permissions or by rule id
    (C{SecurityGroupRuleIds}), all or none (C{InvalidPermission.NotFound}
    if one is missing).
    """
    params = call.params
    name, groupId = _groupSelector(params)
    before = await _group(call, name, groupId)
    ruleIds = params.get("SecurityGroupRuleIds") or []
    if ruleIds:
        if any(params.get(n) is not None for n in _FLAT_PARAMETERS) or params.get("IpPermissions"):
            raise InvalidParameterCombination(
                "Give the rules either by SecurityGroupRuleIds or as permissions, not both."
            )
        byId = {securityGroupRuleId(rule): rule for rule in before.rules}
        missing = [ruleId for ruleId in ruleIds if ruleId not in byId]
        if missing:
            raise EC2Error(
                "InvalidSecurityGroupRuleId.NotFound",
                f"The security group rule ID '{missing[0]}' does not exist",
            )
        permissions = [_ruleAsPermission(byId[ruleId]) for ruleId in dict.fromkeys(ruleIds)]
    else:
        permissions = _permissions(params)
    after = await call.backends.securityGroups.revokeIngress(
        call.context, permissions, groupId=before.ec2Id
    )
    remaining = {rule.id for rule in after.rules}
    revoked = []
    for rule in before.rules:
        if rule.id not in remaining:
            info = _ruleInfo(before, rule)
            del info["GroupOwnerId"]
            referenced = info.pop("ReferencedGroupInfo", None)
            if referenced is not None:
                info["ReferencedGroupId"] = referenced["GroupId"]
            revoked.append(info)
    return {"Return": True, "RevokedSecurityGroupRules": revoked}


def authorizeSecurityGroupEgress(call):
    """
    Refused: EC2-Classic groups have no egress rules.
    """
    raise UnsupportedOperation(_EGRESS_MESSAGE)


def revokeSecurityGroupEgress(call):
    """
    Refused: EC2-Classic groups have no egress rules.
    """
    raise UnsupportedOperation(_EGRESS_MESSAGE)
