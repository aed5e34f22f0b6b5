# -*- test-case-name: tests.objectstore.test_clients,tests.objectstore.test_fidelity -*-
"""
Objects: GetObject and HeadObject (ranges, parts, preconditions,
C{response-*} overrides), PutObject, CopyObject, DeleteObject,
DeleteObjects and GetObjectTagging.

Buckets do not keep versions: each key has one, of version id C{null},
which requests may name (C{versionId=null}).
"""

from urllib.parse import unquote_to_bytes

import attr

from nova.objectstore import common, conditions, errors, s3xml
from nova.objectstore.call import Response, xmlResponse
from nova.objectstore.handlers.acls import aclForWrite, aclFromHeaders, readableObject


def parseCopySource(value):
    """
    @return: C{(bucket, key)} of an C{x-amz-copy-source} header.
    @raise InvalidArgument: if it does not name a bucket and key.
    """
    text, _, version = value.partition("?")
    try:
        decoded = unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidArgument("Invalid copy source encoding")
    decoded = decoded.lstrip("/")
    bucket, _, key = decoded.partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=value,
        )
    if version and version.startswith("versionId=") and version[10:] not in ("", "null"):
        raise errors.InvalidArgument("Invalid version id specified")
    return bucket, key


async def copySource(call):
    """
    @return: C{(bucket, key, bucketInfo)} of the request's copy source.
    """
    srcBucket, srcKey = parseCopySource(call.header("x-amz-copy-source"))
    common.checkKey(srcKey)
    srcInfo = await call.store.getBucket(srcBucket)
    return srcBucket, srcKey, srcInfo


def checkSourceReadable(call, srcBucketInfo, info):
    """
    @raise AccessDenied: unless the caller may read the copy source C{info}.
    """
    if not common.isAllowed(call.context, info.owner, info.acl, "READ", srcBucketInfo.owner):
        raise errors.AccessDenied()


async def settingsFromRequest(call, bucketOwner):
    """
    @return: the L{ObjectSettings} a write's headers ask for.
    """
    acl = await aclForWrite(call, call.owner, bucketOwner)
    return conditions.objectSettings(call.headers(), call.owner, acl)


async def getObject(call):
    """
    GetObject, and HeadObject (the resource leaves the body out).
    """
    bucketInfo = await call.store.getBucket(call.bucket)
    common.checkKey(call.key)
    versionId = call.versionId()
    try:
        reader = await call.store.openObject(call.bucket, call.key)
    except errors.NoSuchKey:
        if not common.isAllowed(call.context, bucketInfo.owner, bucketInfo.acl, "READ"):
            raise errors.AccessDenied()
        raise errors.NoSuchKey(Key=call.key)
    try:
        response = _objectResponse(call, bucketInfo, reader)
    except BaseException:
        reader.close()
        raise
    if versionId is not None:
        response.headers.append(("x-amz-version-id", versionId))
    return response


def _objectResponse(call, bucketInfo, reader):
    info = reader.info
    if not common.isAllowed(call.context, info.owner, info.acl, "READ", bucketInfo.owner):
        raise errors.AccessDenied()
    overrides = [name for name in conditions.RESPONSE_OVERRIDES if name in call.query]
    if overrides and call.context is None:
        raise errors.InvalidRequest(
            "Request specific response headers cannot be used for anonymous GET requests."
        )
    conditions.checkReadConditions(call.header, info)
    rangeHeader = call.header("range")
    status, offset, length = 200, 0, info.size
    extra = []
    full = True
    if "partNumber" in call.query:
        if rangeHeader is not None:
            raise errors.InvalidRequest(
                "Cannot specify both Range header and partNumber query parameter"
            )
        number = call.partNumber()
        sizes = info.partSizes or (info.size,)
        if number > len(sizes):
            raise errors.InvalidPartNumber(
                PartNumberRequested=str(number), ActualPartCount=str(len(sizes))
            )
        offset = sum(sizes[: number - 1])
        length = sizes[number - 1]
        status = 206
        full = len(sizes) == 1
        extra.append(("Content-Range", f"bytes {offset}-{offset + length - 1}/{info.size}"))
        if "-" in info.etag:
            extra.append(("x-amz-mp-parts-count", str(len(sizes))))
    elif rangeHeader is not None:
        chosen = conditions.parseRange(rangeHeader, info.size)
        if chosen is not None:
            first, last = chosen
            offset, length = first, last - first + 1
            status = 206
            full = length == info.size
            extra.append(("Content-Range", f"bytes {first}-{last}/{info.size}"))
    checksumMode = call.header("x-amz-checksum-mode") if full else None
    headers = conditions.objectHeaders(info, checksumMode) + extra
    if overrides:
        replaced = {conditions.RESPONSE_OVERRIDES[name] for name in overrides}
        headers = [(n, v) for n, v in headers if n not in replaced]
        headers.extend((conditions.RESPONSE_OVERRIDES[n], call.query[n]) for n in overrides)
    return Response(status, headers, None, reader, offset, length)


async def putObject(call):
    bucketInfo = await call.allowedBucket("WRITE")
    common.checkKey(call.key)
    settings = await settingsFromRequest(call, bucketInfo.owner)
    writeConditions = conditions.writeConditions(call.header)
    body = call.requestBody()
    info = await call.store.putObject(call.bucket, call.key, body, settings, writeConditions)
    headers = [("ETag", s3xml.quoteETag(info.etag))]
    for algorithm, value in sorted(info.settings.checksums.items()):
        headers.append(("x-amz-checksum-" + algorithm.lower(), value))
    return Response(200, headers, b"")


async def deleteObject(call):
    await call.allowedBucket("WRITE")
    common.checkKey(call.key)
    versionId = call.versionId()
    await call.store.deleteObject(call.bucket, call.key)
    headers = [("x-amz-version-id", versionId)] if versionId is not None else []
    return Response(204, headers, b"")


async def copyObject(call):
    bucketInfo = await call.allowedBucket("WRITE")
    common.checkKey(call.key)
    srcBucket, srcKey, srcBucketInfo = await copySource(call)
    directive = (call.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument(
            "Unknown metadata directive.",
            ArgumentName="x-amz-metadata-directive",
            ArgumentValue=directive,
        )
    replacing = await settingsFromRequest(call, bucketInfo.owner)
    aclGiven = aclFromHeaders(call, call.owner, bucketInfo.owner) is not None
    storageClass = call.header("x-amz-storage-class")
    sameObject = srcBucket == call.bucket and srcKey == call.key

    def prepare(sourceInfo):
        checkSourceReadable(call, srcBucketInfo, sourceInfo)
        conditions.checkCopySourceConditions(call.header, sourceInfo)
        if sameObject and directive == "COPY" and not aclGiven and storageClass is None:
            raise errors.InvalidRequest(
                "This copy request is illegal because it is trying to copy an object "
                "to itself without changing the object's metadata, storage class, "
                "website redirect location or encryption attributes."
            )
        if directive == "REPLACE":
            return replacing
        return attr.evolve(sourceInfo.settings, owner=replacing.owner, acl=replacing.acl)

    try:
        info = await call.store.copyObject(srcBucket, srcKey, call.bucket, call.key, prepare)
    except errors.NoSuchKey:
        raise errors.NoSuchKey(Key=srcKey)
    return xmlResponse(s3xml.copyResult("CopyObjectResult", info.etag, info.lastModified))


async def deleteObjects(call):
    await call.allowedBucket("WRITE")
    quiet, objects = s3xml.parseDelete(call.smallBody())
    deleted, failed = [], []
    for key, versionId in objects:
        try:
            common.checkKey(key)
            if versionId not in (None, s3xml.NULL_VERSION):
                raise errors.InvalidArgument("Invalid version id specified")
            await call.store.deleteObject(call.bucket, key)
        except errors.S3Error as e:
            failed.append((key, versionId, e.s3Code, e.message))
        else:
            deleted.append((key, versionId))
    return xmlResponse(s3xml.deleteResult(deleted, failed, quiet))


async def getObjectTagging(call):
    bucketInfo = await call.store.getBucket(call.bucket)
    call.versionId()
    await readableObject(call, bucketInfo)
    return xmlResponse(s3xml.emptyTagging())
