# -*- test-case-name: tests.compute.test_names -*-
"""
Names and identifiers of instances: guest names on the hypervisor (from
C{--instance_name_template}), EC2 instance ids (C{i-0000002a}),
reservation ids (C{r-} and eight hex digits) and MAC addresses.
"""

import re

from nova.compute.errors import InvalidInstanceIDMalformed
from nova.config import ConfigError

_CONVERSION = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?([diouxXs])")
_GROUPS = {
    "d": r"(\d+)",
    "i": r"(\d+)",
    "u": r"(\d+)",
    "o": r"([0-7]+)",
    "x": r"([0-9a-f]+)",
    "X": r"([0-9A-F]+)",
    "s": r"(\d+)",
}
_BASES = {"d": 10, "i": 10, "u": 10, "o": 8, "x": 16, "X": 16, "s": 10}
_EC2_ID = re.compile(r"^i-([0-9a-fA-F]{1,16})$")


class InstanceNamer:
    """
    Turns instance ids into guest names with a template such as
    C{instance-%08x}, and recognises such names.
    """

    def __init__(self, template):
        """
        @raise ConfigError: if the template does not hold exactly one
            integer conversion.
        """
        conversions = _CONVERSION.findall(template.replace("%%", ""))
        if len(conversions) != 1:
            raise ConfigError(
                f"--instance_name_template: {template!r} must hold exactly one "
                "conversion of the instance id, such as %08x"
            )
        try:
            first, second = template % 1, template % 2
        except (TypeError, ValueError) as e:
            raise ConfigError(f"--instance_name_template: {template!r}: {e}")
        if first == second:
            raise ConfigError(f"--instance_name_template: {template!r} ignores the id")
        self.template = template
        kind = conversions[0]
        self._base = _BASES[kind]
        parts = _CONVERSION.split(template.replace("%%", "\0"))
        # split() leaves [before, kind, after]
        before, after = parts[0].replace("\0", "%"), parts[2].replace("\0", "%")
        self._pattern = re.compile(
            "^" + re.escape(before) + _GROUPS[kind] + re.escape(after) + "$"
        )

    def name(self, instanceId):
        """
        @return: the guest name of instance C{instanceId}.
        """
        return self.template % (instanceId,)

    def instanceId(self, name):
        """
        @return: the id of the instance whose guest is named C{name}, or
            C{None} if C{name} is not such a name.
        """
        match = self._pattern.match(name)
        if match is None:
            return None
        instanceId = int(match.group(1), self._base)
        if self.name(instanceId) != name:
            return None
        return instanceId


def ec2InstanceId(instanceId):
    """
    @return: the EC2 id of instance C{instanceId}, such as C{i-0000002a}.
    """
    return "i-%08x" % (instanceId,)


def parseInstanceId(value):
    """
    @param value: an EC2 instance id (C{i-0000002a}) or an L{int}.
    @return: the numeric id.
    @raise InvalidInstanceIDMalformed: for anything else.
    """
    if isinstance(value, bool):
        raise InvalidInstanceIDMalformed(f"Invalid id: {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise InvalidInstanceIDMalformed(f"Invalid id: {value!r}")
        return value
    if isinstance(value, str):
        match = _EC2_ID.match(value)
        if match:
            instanceId = int(match.group(1), 16)
            if instanceId >= 1:
                return instanceId
    raise InvalidInstanceIDMalformed(f"Invalid id: {value!r}")


def newReservationId(random):
    """
    @param random: a L{random.Random}.
    @return: a new reservation id, C{r-} and eight hex digits.
    """
    return "r-%08x" % (random.getrandbits(32),)


def newMacAddress(random):
    """
    @param random: a L{random.Random}.
    @return: a locally administered MAC address in the Xen OUI range Nova
        used, C{02:16:3e:xx:xx:xx}.
    """
    return "02:16:3e:%02x:%02x:%02x" % tuple(random.getrandbits(8) for _ in range(3))
