# -*- test-case-name: tests.api.ec2.test_filters -*-
"""
EC2 filters (C{Filter.N.Name}, C{Filter.N.Value.M}) applied to the items a
Describe action lists.

An action names the filters it supports, each with a function giving the
values an item has for it, and calls L{applyFilters}::

    KEYPAIR_FILTERS = {
        "key-name": lambda key: key.name,
        "fingerprint": lambda key: key.fingerprint,
    }
    keys = applyFilters(call.params.get("Filters", ()), keys, KEYPAIR_FILTERS)

EC2's rules: filters are ANDed, the values of one filter are ORed; values
are compared as text, case-sensitively, and may use C{*} (any characters)
and C{?} (one character), with C{\\} escaping either.  A filter name the
action does not support is refused with C{InvalidParameterValue} ("The
filter 'x' is invalid").  A value function may return one value, a list of
values (the item matches if any does), or L{None} (it matches nothing).
Tag filters (C{tag:<key>}, C{tag-key}, C{tag-value}) are supported when the
table has a C{"tag"} entry returning a mapping from key to value.
"""

import re
from datetime import datetime

from nova.api.ec2.errors import InvalidFilter, InvalidParameterValue
from nova.api.ec2.serializer import formatTimestamp


def _pattern(value):
    """
    Compile an EC2 filter value with wildcards into a regular expression.
    """
    out = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value) and value[index + 1] in "*?\\":
            out.append(re.escape(value[index + 1]))
            index += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return formatTimestamp(value)
    return str(value)


def _asList(values):
    if values is None:
        return []
    if isinstance(values, (list, tuple, set, frozenset)):
        return [_text(v) for v in values if v is not None]
    return [_text(values)]


# A value with one of these is compiled into a pattern; any other value
# is compared as it is (a set lookup, whatever the number of values).
_SPECIAL = re.compile(r"[*?\\]")


class _Filter:
    def __init__(self, name, values, getter):
        self.name = name
        self.exact = frozenset(v for v in values if not _SPECIAL.search(v))
        self.patterns = [_pattern(v) for v in values if _SPECIAL.search(v)]
        self.getter = getter

    def matches(self, item):
        have = _asList(self.getter(item))
        if not self.exact.isdisjoint(have):
            return True
        return any(p.match(v) for p in self.patterns for v in have)


def _compile(filters, table):
    compiled = []
    for spec in filters:
        name = spec.get("Name")
        if not name:
            raise InvalidParameterValue("A filter must have a Name.")
        values = spec.get("Values") or []
        if name.startswith("tag:") and "tag" in table:
            key = name[len("tag:"):]
            getter = lambda item, key=key: (table["tag"](item) or {}).get(key)
        elif name == "tag-key" and "tag" in table:
            getter = lambda item: list((table["tag"](item) or {}).keys())
        elif name == "tag-value" and "tag" in table:
            getter = lambda item: list((table["tag"](item) or {}).values())
        elif name in table and name != "tag":
            getter = table[name]
        else:
            raise InvalidFilter(name[:100])
        compiled.append(_Filter(name, values, getter))
    return compiled


def applyFilters(filters, items, table):
    """
    Keep the items every filter matches.

    @param filters: the action's C{Filters} parameter: a list of
        C{{"Name": ..., "Values": [...]}}.
    @param items: the items to filter.
    @param table: a mapping from filter name to a function of an item.
    @return: a L{list} of the items that match, in their order.
    @raise InvalidFilter: for a filter name not in C{table} (EC2 code
        C{InvalidParameterValue}).
    @raise InvalidParameterValue: for a filter without a name.
    """
    compiled = _compile(filters or (), table)
    return [item for item in items if all(f.matches(item) for f in compiled)]


def exactValues(filters, name):
    """
    The values the filters named C{name} allow, when each lists them
    without wildcards: a Describe action asks its service layer for only
    those items, then applies every filter (L{applyFilters}) as usual.

    @param filters: the action's C{Filters} parameter.
    @return: a L{frozenset} of the values every filter named C{name}
        allows, or L{None} if there is no such filter or one of them uses
        a wildcard.
    """
    allowed = None
    for spec in filters or ():
        if spec.get("Name") != name:
            continue
        values = frozenset(spec.get("Values") or ())
        if any(_SPECIAL.search(value) for value in values):
            return None
        allowed = values if allowed is None else allowed & values
    return allowed
