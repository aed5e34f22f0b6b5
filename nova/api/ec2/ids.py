# -*- test-case-name: tests.api.ec2.test_ids -*-
"""
EC2 resource ids in request parameters: which are well-formed, and what a
well-formed id that names nothing answers.

EC2's rule, the same for every kind of resource: an id is the kind's
prefix, a dash and hexadecimal digits, 8 of them (the older form) or 17
(C{i-0000002a}, C{vol-0123456789abcdef0}).  Anything else is malformed,
the kind's C{.Malformed} code (C{InvalidInstanceID.Malformed}); a
well-formed id that names no resource the caller sees is the kind's
C{.NotFound} code (C{InvalidInstanceID.NotFound}), also when this cloud
could never have made it: its ids are 8 digits and its database ids start
at 1, so C{i-00000000} and every 17-digit id name nothing.

L{checkIdParameters} applies the rule to an action's parameters before
the action runs (L{nova.api.ec2.resource.EC2API}), so the services behind
the API only ever see ids of the form they make and never answer
C{.Malformed} for a well-formed id.  Ids inside other structures
(C{Kernel.Value}, C{Resource.N} of the tag actions) are checked where they
are read, with L{checkId} and L{kindOf}.
"""

import re

import attr

from nova.api.ec2.errors import EC2Error

#: The digits of a well-formed id: 8 or 17 hexadecimal digits.
_DIGITS = re.compile(r"\A(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{17})\Z")

_SHOWN = 100


@attr.s(frozen=True, eq=False)
class IdKind:
    """
    One kind of EC2 resource id.

    @ivar name: the kind, for messages (C{"instance"}).
    @ivar prefixes: the prefixes its ids take (C{("i",)}).
    @ivar malformedCode: EC2's code for a malformed id.
    @ivar notFoundCode: EC2's code for a well-formed id naming nothing.
    @ivar notFound: formats the not-found message from the ids, joined.
    @ivar made: matches the digits of the ids this cloud makes (its
        services accept no others).
    @ivar numeric: whether the digits are a database id (which is never
        0).
    """

    name = attr.ib()
    prefixes = attr.ib()
    malformedCode = attr.ib()
    notFoundCode = attr.ib()
    notFound = attr.ib()
    made = attr.ib()
    numeric = attr.ib(default=True)


#: The numeric kinds' services read hex digits in either case.
_MADE_NUMERIC = re.compile(r"\A[0-9a-fA-F]{8}\Z")
#: Images and security groups are compared as the text the cloud wrote.
_MADE_LOWER = re.compile(r"\A[0-9a-f]{8}\Z")

INSTANCE = IdKind(
    "instance",
    ("i",),
    "InvalidInstanceID.Malformed",
    "InvalidInstanceID.NotFound",
    lambda ids, many: (
        f"The instance IDs '{ids}' do not exist" if many
        else f"The instance ID '{ids}' does not exist"
    ),
    _MADE_NUMERIC,
)
VOLUME = IdKind(
    "volume",
    ("vol",),
    "InvalidVolumeID.Malformed",
    "InvalidVolume.NotFound",
    lambda ids, many: f"The volume '{ids}' does not exist.",
    _MADE_NUMERIC,
)
SNAPSHOT = IdKind(
    "snapshot",
    ("snap",),
    "InvalidSnapshotID.Malformed",
    "InvalidSnapshot.NotFound",
    lambda ids, many: f"The snapshot '{ids}' does not exist.",
    _MADE_NUMERIC,
)
IMAGE = IdKind(
    "image",
    ("ami", "aki", "ari"),
    "InvalidAMIID.Malformed",
    "InvalidAMIID.NotFound",
    lambda ids, many: f"The image id '[{ids}]' does not exist",
    _MADE_LOWER,
    numeric=False,
)
SECURITY_GROUP = IdKind(
    "security group",
    ("sg",),
    "InvalidGroupId.Malformed",
    "InvalidGroup.NotFound",
    lambda ids, many: f"The security group '{ids}' does not exist",
    _MADE_LOWER,
)

KINDS = (INSTANCE, VOLUME, SNAPSHOT, IMAGE, SECURITY_GROUP)

#: The EC2 API's parameters (top-level members of the input shapes, a
#: string or a list of strings) that hold ids, and the kind of each.
ID_PARAMETERS = {
    "InstanceId": INSTANCE,
    "InstanceIds": INSTANCE,
    "VolumeId": VOLUME,
    "VolumeIds": VOLUME,
    "SnapshotId": SNAPSHOT,
    "SnapshotIds": SNAPSHOT,
    "ImageId": IMAGE,
    "ImageIds": IMAGE,
    "KernelId": IMAGE,
    "RamdiskId": IMAGE,
    "GroupId": SECURITY_GROUP,
    "GroupIds": SECURITY_GROUP,
    "SecurityGroupIds": SECURITY_GROUP,
    # ModifyInstanceAttribute's GroupId.N.
    "Groups": SECURITY_GROUP,
}


def isWellFormed(kind, value):
    """
    @return: whether C{value} is a well-formed id of C{kind}: one of its
        prefixes, a dash, and 8 or 17 hexadecimal digits.
    """
    if not isinstance(value, str):
        return False
    prefix, dash, digits = value.partition("-")
    return bool(dash) and prefix in kind.prefixes and _DIGITS.match(digits) is not None


def kindOf(value):
    """
    @return: the L{IdKind} of which C{value} is a well-formed id, or
        L{None}.
    """
    for kind in KINDS:
        if isWellFormed(kind, value):
            return kind
    return None


def isMadeHere(kind, value):
    """
    @return: whether C{value} (a well-formed id of C{kind}) has the form
        this cloud gives its resources; one that has not names nothing.
    """
    digits = value.partition("-")[2]
    if kind.made.match(digits) is None:
        return False
    return not kind.numeric or int(digits, 16) != 0


def _show(value):
    text = value if isinstance(value, str) else repr(value)
    return text[:_SHOWN]


def malformed(kind, value):
    """
    @return: the L{EC2Error} for C{value}, a malformed id of C{kind}.
    """
    shown = _show(value)
    return EC2Error(
        kind.malformedCode, f'Invalid id: "{shown}" (expecting "{kind.prefixes[0]}-...")'
    )


def notFound(kind, values):
    """
    @return: the L{EC2Error} for well-formed ids of C{kind} that name
        nothing.
    """
    return EC2Error(
        kind.notFoundCode, kind.notFound(", ".join(_show(v) for v in values), len(values) > 1)
    )


def checkId(kind, value):
    """
    Check one id as EC2 does.

    @return: C{value}, a well-formed id of C{kind} of the form this cloud
        makes.
    @raise EC2Error: the kind's C{.Malformed} code if it is not
        well-formed, its C{.NotFound} code if it cannot name anything here.
    """
    if not isWellFormed(kind, value):
        raise malformed(kind, value)
    if not isMadeHere(kind, value):
        raise notFound(kind, [value])
    return value


def checkIdParameters(action, params):
    """
    Check the ids in an action's parameters (those L{ID_PARAMETERS}
    names), before the action runs.

    @param action: the action's name (the rule is the same for every
        action).
    @param params: the converted parameters (boto3's input structure).
    @raise EC2Error: the kind's C{.Malformed} code for the first malformed
        id; else its C{.NotFound} code naming the well-formed ids of a
        parameter that cannot name anything here.
    """
    for name, kind in ID_PARAMETERS.items():
        value = params.get(name)
        if value is None or value == "":
            # Absent: the action decides whether it needs one.
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isWellFormed(kind, item):
                raise malformed(kind, item)
        missing = [item for item in values if not isMadeHere(kind, item)]
        if missing:
            raise notFound(kind, list(dict.fromkeys(missing)))
