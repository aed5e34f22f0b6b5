# -*- test-case-name: tests.volume.test_api -*-
"""
Errors of the volume API, manager and drivers, each with its EC2 error
code.  The errors of the volumes table (L{nova.db.volumes}) and
L{IdempotentParameterMismatch} (shared with RunInstances) are importable
from here too, and importing this module lets RPC callers raise them again
on their side.
"""

from nova import exception
from nova.db.instances import IdempotentParameterMismatch
from nova.db.volumes import (
    IncorrectSnapshotState,
    IncorrectVolumeState,
    SnapshotNotFound,
    VolumeDeviceInUse,
    VolumeNotFound,
)
from nova.quota import VolumeLimitExceeded


class VolumeBackendError(exception.NovaError):
    """The volume back-end failed."""

    code = "VolumeBackendError"


class VolumeBusy(VolumeBackendError):
    """
    The back-end cannot delete the volume now (an LVM origin with
    snapshots); nothing was changed.
    """

    code = "VolumeBusy"
    ec2Code = "VolumeInUse"
    httpStatus = 400


class InvalidVolumeIDMalformed(exception.Invalid):
    """The volume id is malformed."""

    code = "InvalidVolumeIDMalformed"
    ec2Code = "InvalidVolumeID.Malformed"


class InvalidSnapshotIDMalformed(exception.Invalid):
    """The snapshot id is malformed."""

    code = "InvalidSnapshotIDMalformed"
    ec2Code = "InvalidSnapshotID.Malformed"


class VolumeInUse(exception.Invalid):
    """The volume is attached to an instance."""

    code = "VolumeInUse"
    ec2Code = "VolumeInUse"


class SnapshotInUse(exception.Invalid):
    """A volume is being created from the snapshot."""

    code = "SnapshotInUse"
    ec2Code = "InvalidSnapshot.InUse"


class InvalidAttachmentNotFound(exception.NotFound):
    """The volume is not attached to that instance."""

    code = "InvalidAttachmentNotFound"
    ec2Code = "InvalidAttachment.NotFound"


class InvalidVolumeZoneMismatch(exception.Invalid):
    """The volume and the instance are in different availability zones."""

    code = "InvalidVolumeZoneMismatch"
    ec2Code = "InvalidVolume.ZoneMismatch"


class InvalidVolumeParameterValue(exception.Invalid):
    """A parameter has a value that is not allowed."""

    code = "VolumeInvalidParameterValue"
    ec2Code = "InvalidParameterValue"


__all__ = [
    "IdempotentParameterMismatch",
    "IncorrectSnapshotState",
    "IncorrectVolumeState",
    "InvalidAttachmentNotFound",
    "InvalidSnapshotIDMalformed",
    "InvalidVolumeIDMalformed",
    "InvalidVolumeParameterValue",
    "InvalidVolumeZoneMismatch",
    "SnapshotInUse",
    "SnapshotNotFound",
    "VolumeBackendError",
    "VolumeBusy",
    "VolumeDeviceInUse",
    "VolumeInUse",
    "VolumeLimitExceeded",
    "VolumeNotFound",
]
