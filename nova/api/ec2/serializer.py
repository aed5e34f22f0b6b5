# -*- test-case-name: tests.api.ec2.test_serializer -*-
"""
EC2 XML responses, written by walking an action's output shape.

An action returns a L{dict} shaped like boto3's parsed output for that
action (C{{"KeyPairs": [{"KeyName": ..., "KeyFingerprint": ...}]}}); this
module writes it as EC2 does::

    <DescribeKeyPairsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
      <requestId>...</requestId>
      <keySet><item><keyName>...</keyName>...</item></keySet>
    </DescribeKeyPairsResponse>

Each member is written under its C{locationName}; list members under the
list member's C{locationName} (C{item} throughout EC2); booleans as
C{true}/C{false}; timestamps in ISO 8601 UTC with milliseconds and C{Z};
blobs in base64.  A key the shape does not have, or a value of the wrong
type, raises L{SerializationError}, so a misnamed field can never be
dropped or written silently.  Members whose value is L{None} are left out.
"""

import base64
import functools
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

from nova.api.ec2.model import xmlName

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/{version}/"

# Characters XML 1.0 cannot carry (and lone surrogates): replaced when
# writing, so no value can make the document unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Text that needs neither escaping nor replacing (nearly all of it).
_PLAIN = re.compile("[^&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*")


class SerializationError(Exception):
    """
    An action's result does not fit its output shape: a programming error.
    """


def xmlText(value):
    """
    @return: C{value} escaped for XML text, with characters XML cannot
        carry replaced by U+FFFD.
    """
    if _PLAIN.fullmatch(value):
        return value
    return escape(_NOT_XML.sub("\ufffd", value))


def formatTimestamp(value):
    """
    @param value: a L{datetime} (naive ones are UTC, as Nova stores them),
        or seconds since the epoch.
    @return: ISO 8601 in UTC with milliseconds: C{2011-03-01T12:00:00.000Z}.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, timezone.utc)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000,)


class _Misfit(Exception):
    """
    A value does not fit its shape; the elements it lies under are added
    on the way out, and L{serializeResponse} raises L{SerializationError}
    with the whole path.  (Paths are built only for a misfit: writing a
    large answer builds none.)
    """

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message
        self.segments = []

    def path(self, root):
        return root + "".join(reversed(self.segments))


def _scalarText(kind, value):
    if kind == "string":
        if isinstance(value, str):
            return xmlText(value)
    elif kind == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
    elif kind in ("integer", "long"):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    elif kind in ("double", "float"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(float(value))
    elif kind == "timestamp":
        if isinstance(value, datetime) or (
            isinstance(value, (int, float)) and not isinstance(value, bool)
        ):
            return formatTimestamp(value)
    elif kind == "blob":
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(bytes(value)).decode("ascii")
    else:
        raise _Misfit(f"cannot write a {kind} shape")
    raise _Misfit(f"expected a {kind}, got {type(value).__name__} {value!r:.80}")


@functools.lru_cache(maxsize=None)
def _structurePlan(shape):
    """
    What writing a structure shape needs, read from the (immutable) model
    once per shape.

    @return: C{(members, plan)}: the member names, and for each member
        C{(memberName, elementName, memberShape, kind)}.
    """
    members = shape.members
    plan = tuple(
        (memberName, xmlName(memberShape, memberName), memberShape, memberShape.type_name)
        for memberName, memberShape in members.items()
    )
    return members, plan


@functools.lru_cache(maxsize=None)
def _listPlan(shape):
    """
    @return: C{(memberName, memberShape, kind)} of a list shape's members.
    """
    memberShape = shape.member
    return memberShape.serialization.get("name", "member"), memberShape, memberShape.type_name


def _writeStructure(out, shape, value):
    if not isinstance(value, Mapping):
        raise _Misfit(f"expected a dict for {shape.name}, got {type(value).__name__}")
    members, plan = _structurePlan(shape)
    for key in value:
        if key not in members:
            unknown = [key for key in value if key not in members]
            raise _Misfit(
                f"{shape.name} has no member {', '.join(map(repr, unknown))} "
                f"(members: {', '.join(members)})"
            )
    get = value.get
    for memberName, elementName, memberShape, kind in plan:
        memberValue = get(memberName)
        if memberValue is None:
            continue
        if kind == "string" and type(memberValue) is str:
            # The most frequent case, written here rather than through
            # _writeElement and _scalarText.
            if not _PLAIN.fullmatch(memberValue):
                memberValue = xmlText(memberValue)
            out.append(f"<{elementName}>{memberValue}</{elementName}>")
            continue
        try:
            _writeElement(out, elementName, memberShape, kind, memberValue)
        except _Misfit as misfit:
            misfit.segments.append(f".{memberName}")
            raise


def _writeElement(out, name, shape, kind, value):
    if kind == "structure":
        out.append(f"<{name}>")
        _writeStructure(out, shape, value)
        out.append(f"</{name}>")
    elif kind == "list":
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
            raise _Misfit(f"expected a list, got {type(value).__name__}")
        memberName, memberShape, memberKind = _listPlan(shape)
        out.append(f"<{name}>")
        for index, item in enumerate(value):
            try:
                if item is None:
                    raise _Misfit("None in a list")
                _writeElement(out, memberName, memberShape, memberKind, item)
            except _Misfit as misfit:
                misfit.segments.append(f"[{index}]")
                raise
        out.append(f"</{name}>")
    elif kind == "map":
        raise _Misfit("the EC2 protocol has no map output")
    else:
        out.append(f"<{name}>{_scalarText(kind, value)}</{name}>")


def serializeResponse(action, shape, result, requestId, version):
    """
    Write a successful response.

    @param action: the action's name; the root element is
        C{<action>Response}.
    @param shape: the output structure shape, or L{None} when the action
        has none: the response then carries C{<return>true</return>}.
    @param result: what the action returned: a L{dict} for a shape; for no
        shape, L{None} or C{True}.
    @param requestId: written as C{<requestId>}.
    @param version: the request's C{Version}, for the namespace.
    @return: the document as L{bytes}.
    @raise SerializationError: if C{result} does not fit C{shape}.
    """
    namespace = quoteattr(_NOT_XML.sub("\ufffd", EC2_NAMESPACE.format(version=version)))
    out = [
        XML_DECLARATION,
        f"<{action}Response xmlns={namespace}>",
        f"<requestId>{xmlText(requestId)}</requestId>",
    ]
    if shape is None:
        if result not in (None, True):
            raise SerializationError(
                f"{action} has no output shape; return None or True, not {result!r:.80}"
            )
        out.append("<return>true</return>")
    else:
        try:
            _writeStructure(out, shape, {} if result is None else result)
        except _Misfit as misfit:
            raise SerializationError(f"{misfit.path(action)}: {misfit.message}") from None
    out.append(f"</{action}Response>")
    return "".join(out).encode("utf-8")


def serializeError(code, message, requestId):
    """
    Write an EC2 error document.

    @return: L{bytes}.
    """
    return (
        XML_DECLARATION
        + "<Response><Errors><Error>"
        + f"<Code>{xmlText(code)}</Code><Message>{xmlText(message)}</Message>"
        + f"</Error></Errors><RequestID>{xmlText(requestId)}</RequestID></Response>"
    ).encode("utf-8")
