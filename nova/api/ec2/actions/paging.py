# -*- test-case-name: tests.api.ec2.test_instances -*-
"""
EC2's pagination (C{MaxResults} and C{NextToken}) for Describe actions
whose items have a stable order.

The token names the last item of the page (its sort key) and the action,
as URL-safe base64 of JSON: opaque to clients, checked when it comes back.
"""

import base64
import binascii
import json

from nova.api.ec2.errors import EC2Error, InvalidParameterCombination, InvalidParameterValue


class InvalidPaginationToken(EC2Error):
    """
    A C{NextToken} this API did not give for this action.
    """

    code = "EC2.InvalidPaginationToken"

    def __init__(self, token):
        super().__init__("InvalidPaginationToken", f"The token '{token[:100]}' is invalid.")


def encodeToken(action, key):
    """
    @param key: the sort key of the last item given (JSON-safe).
    @return: a C{NextToken}.
    """
    text = json.dumps({"a": action, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def decodeToken(action, token):
    """
    @return: the sort key C{token} carries.
    @raise InvalidPaginationToken: for a token not made by L{encodeToken}
        for C{action}.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidPaginationToken(token) from None
    if not isinstance(data, dict) or data.get("a") != action or "k" not in data:
        raise InvalidPaginationToken(token)
    return data["k"]


def paginate(call, items, keyOf, minimum=5, maximum=1000, exclusive=("InstanceIds",)):
    """
    Cut one page out of C{items}, sorted by C{keyOf}.

    @param call: the L{nova.api.ec2.resource.ActionCall}; its C{MaxResults}
        and C{NextToken} decide the page.
    @param keyOf: gives an item's sort key (an L{int} or L{str}, unique).
    @param minimum: the smallest C{MaxResults} EC2 takes for the action.
    @param maximum: the largest page EC2 gives for the action: as EC2
        does, a larger C{MaxResults} is taken as this one, not refused
        (the aws CLI sends C{MaxResults=1000} to every paged action).
    @param exclusive: parameters that cannot be given with C{MaxResults}
        (EC2 refuses C{MaxResults} with C{InstanceIds}).
    @return: C{(page, nextToken)}; C{nextToken} is L{None} on the last
        page.
    @raise InvalidParameterValue: for C{MaxResults} below C{minimum}.
    @raise InvalidParameterCombination: for C{MaxResults} with an
        C{exclusive} parameter.
    """
    params = call.params
    maxResults = params.get("MaxResults")
    token = params.get("NextToken")
    items = sorted(items, key=keyOf)
    if token:
        after = decodeToken(call.action, token)
        try:
            items = [item for item in items if keyOf(item) > after]
        except TypeError:
            raise InvalidPaginationToken(token) from None
    if maxResults is None:
        return items, None
    for name in exclusive:
        if params.get(name):
            raise InvalidParameterCombination(
                f"The parameter {name} cannot be used with the parameter maxResults"
            )
    if maxResults < minimum:
        raise InvalidParameterValue(
            f"Value ({maxResults}) for parameter maxResults is invalid. "
            f"Expecting a value greater than or equal to {minimum}."
        )
    maxResults = min(maxResults, maximum)
    if len(items) <= maxResults:
        return items, None
    page = items[:maxResults]
    return page, encodeToken(call.action, keyOf(page[-1]))
