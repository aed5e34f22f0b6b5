# -*- test-case-name: tests.virt.test_fake -*-
"""
Errors of virt drivers.  Every L{nova.virt.interfaces.IVirtDriver} fails
with these (or their subclasses), whatever the hypervisor said.
"""

from nova import exception


class VirtError(exception.NovaError):
    """The hypervisor refused the operation."""

    code = "VirtError"


class GuestNotFound(VirtError):
    """No such guest on this host."""

    code = "GuestNotFound"


class GuestExists(VirtError):
    """A guest of that name already exists on this host."""

    code = "GuestExists"


class GuestStateError(VirtError):
    """The guest's power state does not allow the operation."""

    code = "GuestStateError"
    ec2Code = "IncorrectInstanceState"
    httpStatus = 400


class DeviceInUse(VirtError):
    """The guest already has a device at that mount point."""

    code = "DeviceInUse"
    ec2Code = "InvalidParameterValue"
    httpStatus = 400


class DeviceNotFound(VirtError):
    """The guest has no device at that mount point."""

    code = "DeviceNotFound"
    ec2Code = "IncorrectState"
    httpStatus = 400


class ConsoleUnavailable(VirtError):
    """The guest has no graphical (VNC) console."""

    code = "ConsoleUnavailable"
    ec2Code = "UnsupportedOperation"
    httpStatus = 409
