# -*- test-case-name: tests.objectstore.test_clients,tests.objectstore.test_fidelity -*-
"""
The service and its buckets: ListBuckets, CreateBucket, HeadBucket,
DeleteBucket, GetBucketLocation, and the listings ListObjects,
ListObjectsV2 and ListObjectVersions.
"""

import base64
import binascii

from nova.objectstore import common, errors, s3xml
from nova.objectstore.call import Response, encodingType, intParameter, xmlResponse
from nova.objectstore.handlers.acls import aclForWrite

#: The most keys one page of a listing holds.
MAX_KEYS = 1000
#: The most buckets one page of ListBuckets holds.
MAX_BUCKETS = 10000
_LIST_BUCKETS_PARAMETERS = ("max-buckets", "continuation-token", "prefix", "bucket-region")


def encodeToken(key):
    """
    @return: the continuation token of a listing that goes on after C{key}.
    """
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def decodeToken(token):
    """
    @return: the key a continuation token goes on after.
    @raise InvalidArgument: if it is not a token of ours.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.InvalidArgument(
            "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
            ArgumentValue=token,
        )


async def listBuckets(call):
    """
    ListBuckets: the caller's buckets (every bucket for an admin), by
    name; C{prefix} and C{bucket-region} filter them, C{max-buckets} and
    C{continuation-token} page through them.
    """
    call.requireAuthenticated()
    query = call.query
    paging = [name for name in _LIST_BUCKETS_PARAMETERS if name in query]
    maxBuckets = MAX_BUCKETS if paging else None
    if "max-buckets" in query:
        maxBuckets = _maxBuckets(query["max-buckets"])
    prefix = query.get("prefix")
    region = query.get("bucket-region")
    token = query.get("continuation-token")
    after = decodeToken(token) if token else None
    buckets = await call.store.listBuckets()
    owner = call.owner
    chosen = [
        b
        for b in buckets
        if (call.context.isAdmin or b.owner == owner)
        and (not prefix or b.name.startswith(prefix))
        and (not region or (b.location or s3xml.DEFAULT_REGION) == region)
        and (after is None or b.name > after)
    ]
    nextToken = None
    if maxBuckets is not None and len(chosen) > maxBuckets:
        chosen = chosen[:maxBuckets]
        nextToken = encodeToken(chosen[-1].name)
    return xmlResponse(
        s3xml.listBuckets(owner, chosen, nextToken, prefix, withRegions=bool(paging))
    )


def _maxBuckets(value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_BUCKETS:
        raise errors.InvalidArgument(
            f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS}",
            ArgumentName="max-buckets",
            ArgumentValue=value,
        )
    return number


async def createBucket(call):
    call.requireAuthenticated()
    owner = call.owner
    common.checkNewBucketName(call.bucket)
    acl = await aclForWrite(call, owner)
    location = s3xml.parseCreateBucket(call.smallBody())
    try:
        await call.store.createBucket(call.bucket, owner, acl, location)
    except errors.BucketAlreadyExists as e:
        if getattr(e, "existingOwner", None) == owner:
            raise errors.BucketAlreadyOwnedByYou(BucketName=call.bucket)
        raise
    return Response(200, [("Location", "/" + call.bucket)], b"")


async def headBucket(call):
    await call.allowedBucket("READ")
    return Response(200, [("x-amz-bucket-region", "us-east-1")], b"")


async def deleteBucket(call):
    call.requireAuthenticated()
    info = await call.store.getBucket(call.bucket)
    if not common.isAllowed(call.context, info.owner, (), "FULL_CONTROL"):
        raise errors.AccessDenied()
    await call.store.deleteBucket(call.bucket)
    return Response(204, [], b"")


async def getBucketLocation(call):
    info = await call.allowedBucket("READ")
    return xmlResponse(s3xml.location(info.location))


async def listObjects(call):
    await call.allowedBucket("READ")
    query = call.query
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    marker = query.get("marker", "")
    maxKeys = intParameter(query, "max-keys", MAX_KEYS, 0, MAX_KEYS)
    encoding = encodingType(query)
    result = await call.store.listObjects(call.bucket, prefix, delimiter, marker, maxKeys)
    return xmlResponse(
        s3xml.listObjects(call.bucket, result, prefix, delimiter, marker, maxKeys, encoding)
    )


async def listObjectsV2(call):
    """
    ListObjectsV2: a page of keys after the continuation token (or
    C{start-after}).
    """
    await call.allowedBucket("READ")
    query = call.query
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    startAfter = query.get("start-after", "")
    token = query.get("continuation-token")
    maxKeys = intParameter(query, "max-keys", MAX_KEYS, 0, MAX_KEYS)
    encoding = encodingType(query)
    fetchOwner = query.get("fetch-owner", "").lower() == "true"
    # An empty token is no token (S3 echoes it and lists from the start).
    marker = decodeToken(token) if token else startAfter
    result = await call.store.listObjects(call.bucket, prefix, delimiter, marker, maxKeys)
    nextToken = encodeToken(result.nextMarker) if result.isTruncated else None
    return xmlResponse(
        s3xml.listObjectsV2(
            call.bucket,
            result,
            prefix,
            delimiter,
            maxKeys,
            encoding,
            token,
            nextToken,
            startAfter,
            fetchOwner,
        )
    )


async def listObjectVersions(call):
    """
    ListObjectVersions: every version and delete marker, keys in order and
    each key's versions newest first (in a bucket that never kept versions,
    each object as its key's one version, C{null}).  Clients cleaning a
    bucket list it so whether or not it ever kept versions.
    """
    await call.allowedBucket("READ")
    query = call.query
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    keyMarker = query.get("key-marker", "")
    versionIdMarker = query.get("version-id-marker", "")
    if versionIdMarker and not keyMarker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
            ArgumentValue=versionIdMarker,
        )
    if versionIdMarker and not common.isVersionId(versionIdMarker):
        raise errors.InvalidArgument(
            "Invalid version id specified",
            ArgumentName="version-id-marker",
            ArgumentValue=versionIdMarker,
        )
    maxKeys = intParameter(query, "max-keys", MAX_KEYS, 0, MAX_KEYS)
    encoding = encodingType(query)
    result = await call.store.listObjectVersions(
        call.bucket, prefix, delimiter, keyMarker, versionIdMarker, maxKeys
    )
    return xmlResponse(
        s3xml.listObjectVersions(
            call.bucket, result, prefix, delimiter, keyMarker, versionIdMarker, maxKeys, encoding
        )
    )
