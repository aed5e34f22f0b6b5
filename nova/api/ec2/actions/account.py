# -*- test-case-name: tests.api.ec2.test_account -*-
"""
DescribeAccountAttributes: what the caller's project (EC2's account) may
do here.

The attributes are EC2's six:

  - C{supported-platforms}: C{EC2} alone; this cloud is EC2-Classic
    (instances on a flat or VLAN network, no VPC);
  - C{default-vpc}: C{none};
  - C{max-instances}: the project's instance quota (C{--quota_instances}
    or its C{nova-manage project quota} override);
  - C{max-elastic-ips}: the project's floating address quota
    (C{--quota_floating_ips} or its override);
  - C{vpc-max-elastic-ips} and C{vpc-max-security-groups-per-interface}:
    C{0}, there being no VPC.

A quota without limit is C{unlimited}, as C{nova-manage} writes it.
C{AttributeName.N} picks attributes (in EC2's order, each once); a name
that is not one of the six is C{InvalidParameterValue}.
"""

from twisted.internet.defer import maybeDeferred

from nova.api.ec2.errors import InvalidParameterValue

SUPPORTED_PLATFORMS = "supported-platforms"
DEFAULT_VPC = "default-vpc"
MAX_INSTANCES = "max-instances"
VPC_MAX_SECURITY_GROUPS_PER_INTERFACE = "vpc-max-security-groups-per-interface"
MAX_ELASTIC_IPS = "max-elastic-ips"
VPC_MAX_ELASTIC_IPS = "vpc-max-elastic-ips"

#: Every attribute, in the order EC2 lists them.
ACCOUNT_ATTRIBUTES = (
    SUPPORTED_PLATFORMS,
    VPC_MAX_SECURITY_GROUPS_PER_INTERFACE,
    MAX_ELASTIC_IPS,
    MAX_INSTANCES,
    VPC_MAX_ELASTIC_IPS,
    DEFAULT_VPC,
)

#: The quota resource (L{nova.quota.RESOURCES}) behind each attribute
#: that is one.
_QUOTAS = {MAX_INSTANCES: "instances", MAX_ELASTIC_IPS: "floating_ips"}

#: The attributes whose values do not depend on the project.
_FIXED = {
    SUPPORTED_PLATFORMS: ["EC2"],
    DEFAULT_VPC: ["none"],
    VPC_MAX_SECURITY_GROUPS_PER_INTERFACE: ["0"],
    VPC_MAX_ELASTIC_IPS: ["0"],
}


def _limitText(limit):
    return "unlimited" if limit is None else str(limit)


async def describeAccountAttributes(call):
    """
    The attributes named by C{AttributeName.N} (all if none is named),
    the quotas read through the compute API's quota engine.
    """
    wanted = call.params.get("AttributeNames") or ACCOUNT_ATTRIBUTES
    unknown = [name for name in wanted if name not in ACCOUNT_ATTRIBUTES]
    if unknown:
        raise InvalidParameterValue(
            f"Value ({unknown[0][:100]}) for parameter attributeName is invalid. "
            f"Valid values: {', '.join(ACCOUNT_ATTRIBUTES)}"
        )
    names = [name for name in ACCOUNT_ATTRIBUTES if name in wanted]
    quota = {}
    if any(name in _QUOTAS for name in names):
        quota = await maybeDeferred(
            call.backends.compute.quotas.getQuota, call.context.projectId
        )
    attributes = []
    for name in names:
        if name in _QUOTAS:
            values = [_limitText(quota[_QUOTAS[name]])]
        else:
            values = _FIXED[name]
        attributes.append(
            {
                "AttributeName": name,
                "AttributeValues": [{"AttributeValue": value} for value in values],
            }
        )
    return {"AccountAttributes": attributes}
