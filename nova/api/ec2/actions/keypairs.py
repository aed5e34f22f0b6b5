# -*- test-case-name: tests.api.ec2.test_keypairs -*-
"""
Key pair actions: CreateKeyPair, ImportKeyPair, DeleteKeyPair,
DescribeKeyPairs.

Key pairs belong to the user (not the project), as in Nova: a user sees
the same key pairs in every project.  The work is the key pair API's
(L{nova.compute.keypairs.KeyPairAPI}, which generates and parses keys in a
thread); the key pair id EC2 clients see is derived from the row's id.
"""

import string

from nova.api.ec2.errors import (
    EC2Error,
    InvalidParameterValue,
    MissingParameter,
    UnsupportedOperation,
)
from nova.api.ec2.filters import applyFilters
from nova.compute.keypairs import KeyPairNotFound
from nova.network.vpn import visibleKeyPairs

MAX_NAME_LENGTH = 255
_NAME_CHARACTERS = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")

KEYPAIR_FILTERS = {
    "key-name": lambda key: key.name,
    "fingerprint": lambda key: key.fingerprint,
    "key-pair-id": lambda key: keyPairId(key),
    "key-type": lambda key: key.key_type,
    # Key pairs have no tags: tag:<key>, tag-key and tag-value match none.
    "tag": lambda key: {},
}


def keyPairId(record):
    """
    @return: the EC2 id of a key pair record: C{key-} and 17 hex digits.
    """
    return "key-%017x" % (record.id,)


def _checkName(name):
    """
    @return: C{name} if EC2 would accept it as a key pair name: 1 to 255
        printable ASCII characters.
    @raise InvalidParameterValue: otherwise.
    """
    if not name:
        raise InvalidParameterValue(
            "Value () for parameter KeyName is invalid. The value cannot be empty"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Value ({name[:40]}...) for parameter KeyName is invalid. "
            f"Length exceeds maximum of {MAX_NAME_LENGTH} characters."
        )
    if not set(name) <= _NAME_CHARACTERS:
        raise InvalidParameterValue(
            f"Value ({name}) for parameter KeyName is invalid. "
            "Character sets beyond ASCII are not supported."
        )
    return name


def _refuseTags(params):
    if any(spec.get("Tags") for spec in params.get("TagSpecifications", ())):
        raise UnsupportedOperation("Tags are not supported for key pairs.")


def _keyPairInfo(record, includePublicKey=False):
    info = {
        "KeyPairId": keyPairId(record),
        "KeyName": record.name,
        "KeyFingerprint": record.fingerprint,
        "KeyType": record.key_type,
        "Tags": [],
        "CreateTime": record.created_at,
    }
    if includePublicKey:
        info["PublicKey"] = record.public_key
    return info


async def createKeyPair(call):
    """
    Make a key pair: the private key is returned once and not kept.
    """
    params = call.params
    name = _checkName(params["KeyName"])
    keyType = params.get("KeyType", "rsa")
    if keyType not in ("rsa", "ed25519"):
        raise InvalidParameterValue(
            f"Value ({keyType}) for parameter KeyType is invalid. Valid values: rsa, ed25519"
        )
    if params.get("KeyFormat", "pem") != "pem":
        raise UnsupportedOperation("Only the pem key format is supported.")
    _refuseTags(params)
    keyPairs = call.backends.keyPairs
    created = await keyPairs.createKeyPair(call.context, name, keyType)
    record = await keyPairs.getKeyPair(call.context, name)
    return {
        "KeyName": created.name,
        "KeyFingerprint": created.fingerprint,
        "KeyMaterial": created.privateKey,
        "KeyPairId": keyPairId(record),
        "Tags": [],
    }


async def importKeyPair(call):
    """
    Store a public key the user made (OpenSSH, PEM, DER or RFC 4716);
    without one (or with an empty one) it is C{MissingParameter}.
    """
    params = call.params
    name = _checkName(params["KeyName"])
    if not params.get("PublicKeyMaterial"):
        raise MissingParameter("PublicKeyMaterial")
    _refuseTags(params)
    record = await call.backends.keyPairs.importKeyPair(
        call.context, name, params["PublicKeyMaterial"]
    )
    return {
        "KeyName": record.name,
        "KeyFingerprint": record.fingerprint,
        "KeyPairId": keyPairId(record),
        "Tags": [],
    }


async def deleteKeyPair(call):
    """
    Delete a key pair by name or id.  As in EC2, deleting a key pair that
    does not exist succeeds.
    """
    params = call.params
    keyPairs = call.backends.keyPairs
    name, pairId = params.get("KeyName"), params.get("KeyPairId")
    if name is None and pairId is None:
        raise EC2Error(
            "MissingParameter",
            "The request must contain the parameter KeyName or KeyPairId",
        )
    result = {"Return": True}
    for record in await keyPairs.describeKeyPairs(call.context):
        if (name is None or record.name == name) and (
            pairId is None or keyPairId(record) == pairId
        ):
            if await keyPairs.deleteKeyPair(call.context, record.name):
                result["KeyPairId"] = keyPairId(record)
    return result


async def describeKeyPairs(call):
    """
    List the user's key pairs, by name, id and filters
    (C{key-name}, C{fingerprint}, C{key-pair-id}, C{key-type}, and the tag
    filters, which match no key pair).
    """
    params = call.params
    keys = await call.backends.keyPairs.describeKeyPairs(
        call.context, params.get("KeyNames") or None
    )
    # Cloudpipe key pairs (<project><vpn_key_suffix>) are the admins' to
    # see (as in Cactus).
    keys = visibleKeyPairs(call.backends.config, call.context, keys)
    wanted = params.get("KeyPairIds")
    if wanted:
        have = {keyPairId(key) for key in keys}
        for value in wanted:
            if value not in have:
                raise KeyPairNotFound(f"The key pair ID '{value}' does not exist")
        keys = [key for key in keys if keyPairId(key) in wanted]
    keys = applyFilters(params.get("Filters"), keys, KEYPAIR_FILTERS)
    includePublicKey = params.get("IncludePublicKey", False)
    return {"KeyPairs": [_keyPairInfo(key, includePublicKey) for key in keys]}
