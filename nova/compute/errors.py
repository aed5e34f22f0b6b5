# -*- test-case-name: tests.compute.test_api -*-
"""
Errors of the compute API and manager, each with its EC2 error code.  The
errors that the database components and virt drivers raise are importable
from here too (importing this module also lets RPC callers raise them
again on their side).
"""

from nova import exception
from nova.db.instance_types import InstanceTypeExists, InstanceTypeNotFound
from nova.db.instances import (
    IdempotentParameterMismatch,
    IncorrectInstanceState,
    InstanceNotFound,
)
from nova.quota import InstanceLimitExceeded
from nova.virt.errors import (
    DeviceInUse,
    DeviceNotFound,
    GuestExists,
    GuestNotFound,
    GuestStateError,
    VirtError,
)


class InvalidInstanceIDMalformed(exception.Invalid):
    """The instance id is malformed."""

    code = "InvalidInstanceIDMalformed"
    ec2Code = "InvalidInstanceID.Malformed"


class InvalidParameterValue(exception.Invalid):
    """A parameter has a value that is not allowed."""

    code = "ComputeInvalidParameterValue"
    ec2Code = "InvalidParameterValue"


class OperationNotPermitted(exception.Invalid):
    """The instance's attributes forbid the request."""

    code = "OperationNotPermitted"
    ec2Code = "OperationNotPermitted"


class InstanceLocked(OperationNotPermitted):
    """An administrator locked the instance: only administrators may change it."""

    code = "InstanceLocked"
    ec2Code = "OperationNotPermitted"


__all__ = [
    "DeviceInUse",
    "DeviceNotFound",
    "GuestExists",
    "GuestNotFound",
    "GuestStateError",
    "VirtError",
    "IdempotentParameterMismatch",
    "IncorrectInstanceState",
    "InstanceLimitExceeded",
    "InstanceLocked",
    "InstanceNotFound",
    "InstanceTypeExists",
    "InstanceTypeNotFound",
    "InvalidInstanceIDMalformed",
    "InvalidParameterValue",
    "OperationNotPermitted",
]
