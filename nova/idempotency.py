# -*- test-case-name: tests.compute.test_api,tests.volume.test_api -*-
"""
Client tokens, which make a create request (RunInstances, CreateVolume)
idempotent: the same token in the same project answers with what the
first request made, provided the parameters are the same (their digest,
L{requestHash}, is kept with what was made).
"""

import hashlib
import json

#: The longest client token, in characters.
MAX_CLIENT_TOKEN = 64


def checkClientToken(clientToken, invalid):
    """
    @param clientToken: a client token, or C{None}.
    @param invalid: the L{nova.exception.Invalid} subclass to raise.
    @raise invalid: unless C{clientToken} is C{None} or 1 to
        L{MAX_CLIENT_TOKEN} ASCII characters.
    """
    if clientToken is None:
        return
    if (
        not isinstance(clientToken, str)
        or not 0 < len(clientToken) <= MAX_CLIENT_TOKEN
        or not clientToken.isascii()
    ):
        raise invalid(f"ClientToken must be 1 to {MAX_CLIENT_TOKEN} ASCII characters")


def requestHash(**parameters):
    """
    @return: a digest of a request's parameters, to tell a retried
        request (same client token, same parameters) from a clash.
    """
    text = json.dumps(parameters, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
