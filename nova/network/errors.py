# -*- test-case-name: tests.network.test_manager -*-
"""
The errors of nova-network and its APIs, each with its EC2 code.  Those
the database components and L{nova.quota} raise are defined there and
named here too, so that callers import them from one place.
"""

from nova import exception
from nova.db.networks import (
    FixedIpInUse,
    FixedIpNotAssociated,
    FixedIpNotFound,
    FloatingIpExists,
    FloatingIpInUse,
    FloatingIpNotAssociated,
    FloatingIpNotFound,
    MacMismatch,
    NetworkExists,
    NetworkNotFound,
    NoMoreAddresses,
    NoMoreFloatingIps,
    NoMoreNetworks,
)
from nova.db.security_groups import (
    SecurityGroupExists,
    SecurityGroupInUse,
    SecurityGroupNotFound,
    SecurityGroupRuleExists,
    SecurityGroupRuleNotFound,
)
from nova.network.interfaces import NetworkDriverError
from nova.quota import AddressLimitExceeded


class NoFixedIpForInstance(exception.Invalid):
    """The instance has no fixed address."""

    code = "NoFixedIpForInstance"
    ec2Code = "InvalidInstanceID"


class InvalidParameterValue(exception.Invalid):
    """A parameter has a value that is not allowed."""

    code = "NetworkInvalidParameterValue"
    ec2Code = "InvalidParameterValue"


class MissingParameter(exception.Invalid):
    """A required parameter is missing."""

    code = "NetworkMissingParameter"
    ec2Code = "MissingParameter"


class InvalidGroupId(exception.Invalid):
    """The security group id is malformed."""

    code = "InvalidSecurityGroupId"
    ec2Code = "InvalidGroupId.Malformed"


class SecurityGroupCannotDelete(exception.Invalid):
    """The default security group cannot be deleted."""

    code = "SecurityGroupCannotDelete"
    ec2Code = "CannotDelete"


class SecurityGroupReserved(exception.Invalid):
    """The security group name is reserved."""

    code = "SecurityGroupReserved"
    ec2Code = "InvalidGroup.Reserved"


__all__ = [
    "AddressLimitExceeded",
    "FixedIpInUse",
    "FixedIpNotAssociated",
    "FixedIpNotFound",
    "FloatingIpExists",
    "FloatingIpInUse",
    "FloatingIpNotAssociated",
    "FloatingIpNotFound",
    "InvalidGroupId",
    "InvalidParameterValue",
    "MacMismatch",
    "MissingParameter",
    "NetworkDriverError",
    "NetworkExists",
    "NetworkNotFound",
    "NoFixedIpForInstance",
    "NoMoreAddresses",
    "NoMoreFloatingIps",
    "NoMoreNetworks",
    "SecurityGroupCannotDelete",
    "SecurityGroupExists",
    "SecurityGroupInUse",
    "SecurityGroupNotFound",
    "SecurityGroupReserved",
    "SecurityGroupRuleExists",
    "SecurityGroupRuleNotFound",
]
