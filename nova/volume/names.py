# -*- test-case-name: tests.volume.test_names -*-
"""
Names and identifiers of volumes and snapshots: EC2 ids (C{vol-0000000a},
C{snap-0000000a}), back-end names made from C{--volume_name_template} and
C{--snapshot_name_template}, and the check every name passes before it
reaches a path or a command line.
"""

import re

from nova.config import ConfigError
from nova.volume.errors import InvalidSnapshotIDMalformed, InvalidVolumeIDMalformed

#: What a back-end name (a file name, a logical volume name, the tail of
#: an iSCSI qualified name) may look like: letters, digits, C{.}, C{_} and
#: C{-}, starting with a letter or digit.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

_VOLUME_ID = re.compile(r"^vol-([0-9a-fA-F]{1,16})$")
_SNAPSHOT_ID = re.compile(r"^snap-([0-9a-fA-F]{1,16})$")


def isSafeName(name):
    """
    @return: C{True} if C{name} may be used as a file name, logical volume
        name or iSCSI name suffix.
    """
    return isinstance(name, str) and SAFE_NAME.match(name) is not None


def checkName(name):
    """
    @return: C{name}.
    @raise ValueError: unless L{isSafeName}.
    """
    if not isSafeName(name):
        raise ValueError(f"unsafe volume or snapshot name {name!r}")
    return name


def ec2VolumeId(volumeId):
    """
    @return: the EC2 id of volume C{volumeId}, such as C{vol-0000000a}.
    """
    return "vol-%08x" % (volumeId,)


def ec2SnapshotId(snapshotId):
    """
    @return: the EC2 id of snapshot C{snapshotId}, such as C{snap-0000000a}.
    """
    return "snap-%08x" % (snapshotId,)


def _parse(value, pattern, error):
    if isinstance(value, bool):
        raise error(f"Invalid id: {value!r}")
    if isinstance(value, int):
        if value >= 1:
            return value
    elif isinstance(value, str):
        match = pattern.match(value)
        if match:
            number = int(match.group(1), 16)
            if number >= 1:
                return number
    raise error(f"Invalid id: {value!r}")


def parseVolumeId(value):
    """
    @param value: an EC2 volume id (C{vol-0000000a}) or an L{int}.
    @return: the numeric id.
    @raise InvalidVolumeIDMalformed: for anything else.
    """
    return _parse(value, _VOLUME_ID, InvalidVolumeIDMalformed)


def parseSnapshotId(value):
    """
    @param value: an EC2 snapshot id (C{snap-0000000a}) or an L{int}.
    @return: the numeric id.
    @raise InvalidSnapshotIDMalformed: for anything else.
    """
    return _parse(value, _SNAPSHOT_ID, InvalidSnapshotIDMalformed)


class Namer:
    """
    Turns numeric ids into back-end names with a template such as
    C{volume-%08x}.
    """

    def __init__(self, flag, template):
        """
        @param flag: the flag the template comes from, for messages.
        @raise ConfigError: if the template does not make distinct, safe
            names from ids.
        """
        try:
            samples = [template % (n,) for n in (1, 2, 0xFFFFFFFF)]
        except (TypeError, ValueError) as e:
            raise ConfigError(f"--{flag}: {template!r}: {e}")
        if len(set(samples)) != len(samples):
            raise ConfigError(f"--{flag}: {template!r} does not use the id")
        for sample in samples:
            if not isSafeName(sample):
                raise ConfigError(
                    f"--{flag}: {template!r} makes {sample!r}; names may hold only "
                    "letters, digits, '.', '_' and '-' and start with a letter or digit"
                )
        self.template = template

    def name(self, number):
        """
        @return: the back-end name of id C{number}.
        """
        return checkName(self.template % (number,))
