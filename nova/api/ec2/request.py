# -*- test-case-name: tests.api.ec2.test_request -*-
"""
Parameters of EC2 Query API requests: from the wire to Python.

Three steps, each bounded by L{Limits}:

  1. L{requestParameters}: the query string (and, for a C{POST}, the
     C{application/x-www-form-urlencoded} body) decoded into a flat L{dict}
     from name to value, both L{str}.  Bytes that are not UTF-8 are kept
     as lone surrogates (C{surrogateescape}) so that the signature is
     checked over exactly what was sent.  This is what the authenticator
     sees.
  2. L{parameterTree}: the dotted names split into a generic tree, so
     C{Filter.1.Value.2=x} becomes C{{"Filter": {"1": {"Value": {"2":
     "x"}}}}}.  The authentication parameters (L{RESERVED_PARAMETERS}) are
     left out.
  3. L{convertInput}: the tree checked against an action's input shape in
     the service model and converted into the structure boto3 takes as
     input for that action: members under their model names
     (C{"Filters"}, C{"KeyNames"}), lists ordered by index, integers as
     L{int}, booleans as L{bool}, timestamps as aware L{datetime}, blobs
     (base64 on the wire) as L{bytes}.  Unknown parameters, missing
     required ones and malformed values are refused with EC2's errors.

Wire names follow the EC2 protocol as botocore writes it: a structure
member is named by its C{queryName}, else its C{locationName} with a
capital first letter, else its model name; a list is C{Name.N} with N
counting from 1 (any positive index is accepted; elements are ordered by
index).
"""

import base64
import binascii
import re
from datetime import datetime, timezone
from urllib.parse import unquote_to_bytes

import attr

from nova.api.ec2.errors import (
    InvalidParameterValue,
    InvalidRequest,
    MalformedQueryString,
    MissingParameter,
    RequestTooLarge,
    UnknownParameter,
)
from nova.api.ec2.model import wireName

# Parameters that belong to the protocol and authentication, not to the
# action: never passed to an action, never refused as unknown.
RESERVED_PARAMETERS = frozenset(
    {
        "Action",
        "Version",
        "AWSAccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "Timestamp",
        "Expires",
        "SecurityToken",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
    }
)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


@attr.s(frozen=True)
class Limits:
    """
    Bounds on what one request may carry.

    @ivar maxBytes: the largest body (and query string) accepted.
    @ivar maxParameters: the most parameters accepted.
    @ivar maxNameLength: the longest parameter name accepted.
    @ivar maxDepth: the most dotted segments in one parameter name.
    """

    maxBytes = attr.ib(default=1024 * 1024)
    maxParameters = attr.ib(default=10000)
    maxNameLength = attr.ib(default=512)
    maxDepth = attr.ib(default=16)


def _show(text, limit=100):
    """
    A value as it may appear in an error message: shortened.
    """
    if len(text) > limit:
        return text[:limit] + "..."
    return text


def formPairs(data):
    """
    Split C{application/x-www-form-urlencoded} data (a query string or a
    form body) into name and value pairs, decoding the way C{twisted.web}
    and the signature verifier do: C{+} is a space, a field without C{=}
    has an empty value, empty fields are skipped.

    @param data: the raw data (L{bytes}).
    @return: a L{list} of C{(name, value)} L{bytes} pairs.
    """
    pairs = []
    for field in data.split(b"&"):
        if not field:
            continue
        name, _, value = field.partition(b"=")
        pairs.append(
            (
                unquote_to_bytes(name.replace(b"+", b" ")),
                unquote_to_bytes(value.replace(b"+", b" ")),
            )
        )
    return pairs


def decodePairs(pairs, limits):
    """
    Turn byte pairs into the flat parameter L{dict}.

    @return: a L{dict} from name to value, both L{str} decoded from UTF-8
        with C{surrogateescape}.
    @raise MalformedQueryString: for an empty or overlong name, a name
        given twice, or too many parameters.
    """
    if len(pairs) > limits.maxParameters:
        raise MalformedQueryString(
            f"The request has more than the {limits.maxParameters} parameters allowed."
        )
    params = {}
    for rawName, rawValue in pairs:
        if not rawName:
            raise MalformedQueryString("A parameter has an empty name.")
        if len(rawName) > limits.maxNameLength:
            raise MalformedQueryString(
                f"A parameter name is longer than the {limits.maxNameLength} "
                "characters allowed."
            )
        name = rawName.decode("utf-8", "surrogateescape")
        if name in params:
            raise MalformedQueryString(
                f"The parameter {_show(name)} is given more than once."
            )
        params[name] = rawValue.decode("utf-8", "surrogateescape")
    return params


def _mediaType(contentType):
    """
    @return: C{(media type, charset or None)}, lower-cased.
    """
    fields = contentType.split(";")
    mediaType = fields[0].strip().lower()
    charset = None
    for field in fields[1:]:
        name, _, value = field.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return mediaType, charset


def requestParameters(method, query, contentType, body, limits):
    """
    The flat parameters of a request: its query string and, for a C{POST},
    its form body.

    @param method: the HTTP method (L{str}).
    @param query: the raw query string (L{bytes}, without C{?}).
    @param contentType: the C{Content-Type} header (L{str}) or L{None}.
    @param body: the body (L{bytes}).
    @param limits: the L{Limits}.
    @return: a L{dict} from name to value (L{str}).
    @raise MalformedQueryString: if the query string is not ASCII, or a
        parameter is given twice (also across query and body).
    @raise InvalidRequest: for a body that is not a form.
    @raise RequestTooLarge: beyond C{limits.maxBytes}.
    """
    if len(query) > limits.maxBytes or len(body) > limits.maxBytes:
        raise RequestTooLarge(limits.maxBytes)
    if not query.isascii():
        raise MalformedQueryString("The query string is not ASCII.")
    pairs = formPairs(query)
    if method == "POST" and body:
        mediaType, charset = _mediaType(contentType or FORM_CONTENT_TYPE)
        if mediaType != FORM_CONTENT_TYPE:
            raise InvalidRequest(
                f"The body must be {FORM_CONTENT_TYPE}, not {_show(mediaType)}.", 415
            )
        if charset is not None and charset not in _UTF8_CHARSETS:
            raise InvalidRequest(
                f"The body's charset must be UTF-8, not {_show(charset)}.", 415
            )
        pairs.extend(formPairs(body))
    return decodePairs(pairs, limits)


def parameterTree(params, limits):
    """
    Split dotted parameter names into a tree.

    @param params: the flat L{dict} from L{requestParameters}.
    @return: a L{dict} whose values are L{str} (a parameter's value) or
        L{dict} (the parameters below a prefix); L{RESERVED_PARAMETERS} are
        left out.
    @raise UnknownParameter: for a name with an empty segment or too many
        segments.
    @raise InvalidParameterValue: when a name is both given a value and
        used as the prefix of others (C{A.1=x} and C{A.1.B=y}).
    """
    root = {}
    for name, value in params.items():
        if name in RESERVED_PARAMETERS:
            continue
        segments = name.split(".")
        if len(segments) > limits.maxDepth or not all(segments):
            raise UnknownParameter(_show(name))
        node = root
        for depth, segment in enumerate(segments[:-1]):
            child = node.get(segment)
            if child is None:
                child = node[segment] = {}
            elif not isinstance(child, dict):
                prefix = ".".join(segments[: depth + 1])
                raise InvalidParameterValue(
                    f"The parameter {_show(prefix)} cannot have both a value and members."
                )
            node = child
        last = segments[-1]
        if last in node:
            raise InvalidParameterValue(
                f"The parameter {_show(name)} cannot have both a value and members."
            )
        node[last] = value
    return root


# Conversion against the model

_INTEGER = re.compile(r"\A[+-]?[0-9]{1,20}\Z")
_INDEX = re.compile(r"\A[0-9]{1,20}\Z")
_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# Characters XML 1.0 cannot carry, and lone surrogates (bytes that were
# not UTF-8).
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _firstChild(node, prefix):
    return prefix + "." + next(iter(node))


def _invalid(name, value, expected):
    return InvalidParameterValue(
        f"Invalid value '{_show(value)}' for parameter {name}: expected {expected}."
    )


def _convertString(name, value):
    bad = _BAD_TEXT.search(value)
    if bad is not None:
        if _SURROGATE.match(bad.group()):
            raise InvalidParameterValue(
                f"The value of parameter {name} is not valid UTF-8."
            )
        raise InvalidParameterValue(
            f"The value of parameter {name} contains a character that is not allowed."
        )
    return value


def _convertInteger(name, value, kind):
    if not _INTEGER.match(value):
        raise _invalid(name, _convertString(name, value), "an integer")
    number = int(value, 10)
    low, high = _RANGES[kind]
    if not low <= number <= high:
        raise InvalidParameterValue(
            f"Value ({_show(value)}) for parameter {name} is out of range."
        )
    return number


def _convertBoolean(name, value):
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise _invalid(name, _convertString(name, value), "true or false")


def _convertFloat(name, value):
    text = _convertString(name, value)
    try:
        number = float(text)
    except ValueError:
        raise _invalid(name, text, "a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _invalid(name, text, "a finite number")
    return number


def _convertTimestamp(name, value):
    text = _convertString(name, value).strip()
    if _INTEGER.match(text):
        try:
            return datetime.fromtimestamp(int(text), timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise _invalid(name, text, "a timestamp") from None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(name, text, "an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _convertBlob(name, value):
    text = _convertString(name, value)
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _invalid(name, text, "base64-encoded data") from None


def _convertScalar(shape, node, name):
    if isinstance(node, dict):
        raise UnknownParameter(_show(_firstChild(node, name)))
    kind = shape.type_name
    if kind == "string":
        return _convertString(name, node)
    if kind in ("integer", "long"):
        return _convertInteger(name, node, kind)
    if kind == "boolean":
        return _convertBoolean(name, node)
    if kind in ("double", "float"):
        return _convertFloat(name, node)
    if kind == "timestamp":
        return _convertTimestamp(name, node)
    if kind == "blob":
        return _convertBlob(name, node)
    raise UnknownParameter(_show(name))


def _convertList(model, shape, node, name):
    if not isinstance(node, dict):
        raise UnknownParameter(_show(name))
    indexed = {}
    for key, child in node.items():
        if not _INDEX.match(key):
            raise UnknownParameter(_show(name + "." + key))
        index = int(key, 10)
        if index in indexed:
            raise MalformedQueryString(
                f"The parameter {_show(name)}.{index} is given more than once."
            )
        indexed[index] = (key, child)
    return [
        _convert(model, shape.member, child, name + "." + key)
        for _, (key, child) in sorted(indexed.items())
    ]


def _convertStructure(model, shape, node, name):
    if not isinstance(node, dict):
        raise UnknownParameter(_show(name))
    prefix = name + "." if name else ""
    members = model.inputMembers(shape)
    result = {}
    for key, child in node.items():
        entry = members.get(key)
        if entry is None:
            raise UnknownParameter(_show(prefix + key))
        memberName, memberShape = entry
        result[memberName] = _convert(model, memberShape, child, prefix + key)
    for memberName in shape.required_members:
        if memberName not in result:
            raise MissingParameter(
                prefix + wireName(shape.members[memberName], memberName)
            )
    return result


def _convert(model, shape, node, name):
    kind = shape.type_name
    if kind == "structure":
        return _convertStructure(model, shape, node, name)
    if kind == "list":
        return _convertList(model, shape, node, name)
    if kind == "map":
        # The EC2 protocol has no map parameters.
        raise UnknownParameter(_show(name))
    return _convertScalar(shape, node, name)


def convertInput(model, shape, tree):
    """
    Check a parameter tree against an action's input shape and convert it.

    @param model: the L{nova.api.ec2.model.APIModel}.
    @param shape: the action's input structure shape, or L{None} for an
        action that takes no parameters.
    @param tree: the tree from L{parameterTree}.
    @return: a L{dict} shaped as boto3's input for the action.
    @raise UnknownParameter: for a parameter the shape does not have.
    @raise MissingParameter: for a required member that is absent.
    @raise InvalidParameterValue: for a malformed value.
    @raise MalformedQueryString: for a list index given twice.
    """
    if shape is None:
        if tree:
            raise UnknownParameter(_show(next(iter(tree))))
        return {}
    return _convertStructure(model, shape, tree, "")
