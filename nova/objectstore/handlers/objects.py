# -*- test-case-name: tests.objectstore.test_clients,tests.objectstore.test_fidelity -*-
"""
Objects: GetObject and HeadObject (ranges, parts, preconditions,
C{response-*} overrides), PutObject, CopyObject, DeleteObject,
DeleteObjects and GetObjectTagging.

Requests may name a version (C{versionId}); see
L{nova.objectstore.interfaces} for what versioning does.  In a bucket that
never kept versions each key has one version, C{null}.
"""

from urllib.parse import unquote_to_bytes

import attr

from nova.objectstore import common, conditions, errors, s3xml
from nova.objectstore.call import Response, xmlResponse
from nova.objectstore.handlers.acls import (
    VERSION_ERRORS,
    aclForWrite,
    aclFromHeaders,
    readableObject,
    versionError,
    versionHeaders,
)


def parseCopySource(value):
    """
    @return: C{(bucket, key, versionId)} of an C{x-amz-copy-source} header
        (C{versionId} C{None} when it names none).
    @raise InvalidArgument: if it does not name a bucket and key, or names
        a malformed version id.
    """
    text, _, query = value.partition("?")
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
    versionId = None
    for parameter in query.split("&"):
        name, _, given = parameter.partition("=")
        if name == "versionId" and given:
            if not common.isVersionId(given):
                raise errors.InvalidArgument(
                    "Invalid version id specified",
                    ArgumentName="x-amz-copy-source",
                    ArgumentValue=value,
                )
            versionId = given
    return bucket, key, versionId


async def copySource(call):
    """
    @return: C{(bucket, key, versionId, bucketInfo)} of the request's copy
        source.
    """
    srcBucket, srcKey, srcVersionId = parseCopySource(call.header("x-amz-copy-source"))
    common.checkKey(srcKey)
    srcInfo = await call.store.getBucket(srcBucket)
    return srcBucket, srcKey, srcVersionId, srcInfo


def copySourceError(call, error, srcKey):
    """
    @return: one of L{VERSION_ERRORS} about a copy source, as S3 answers
        it: a source naming a delete marker is InvalidRequest.
    """
    if isinstance(error, errors.MethodNotAllowed):
        return errors.InvalidRequest(
            "The source of a copy request may not specifically refer to a delete marker "
            "by version id."
        )
    error = versionError(call, error, srcKey)
    error.responseHeaders = []
    return error


def copySourceHeaders(srcBucketInfo, sourceInfo, srcVersionId):
    """
    @return: the C{x-amz-copy-source-version-id} header of a copy.
    """
    if srcBucketInfo.versioning or srcVersionId is not None:
        return [("x-amz-copy-source-version-id", sourceInfo.versionId)]
    return []


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
        reader = await call.store.openObject(call.bucket, call.key, versionId)
    except VERSION_ERRORS as e:
        if not common.isAllowed(call.context, bucketInfo.owner, bucketInfo.acl, "READ"):
            raise errors.AccessDenied()
        raise versionError(call, e)
    try:
        response = _objectResponse(call, bucketInfo, reader)
    except BaseException:
        reader.close()
        raise
    response.headers.extend(versionHeaders(bucketInfo, reader.info.versionId, versionId))
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
    headers.extend(versionHeaders(bucketInfo, info.versionId))
    return Response(200, headers, b"")


def deletionHeaders(deletion, requested):
    """
    @param deletion: the L{Deletion} a store answered.
    @param requested: the version id the request named, or C{None}.
    @return: the headers answering a DeleteObject.
    """
    headers = []
    versionId = deletion.versionId if deletion.versionId is not None else requested
    if versionId is not None:
        headers.append(("x-amz-version-id", versionId))
    if deletion.deleteMarker:
        headers.append(("x-amz-delete-marker", "true"))
    return headers


async def deleteObject(call):
    await call.allowedBucket("WRITE")
    common.checkKey(call.key)
    versionId = call.versionId()
    deletion = await call.store.deleteObject(call.bucket, call.key, versionId, call.owner)
    return Response(204, deletionHeaders(deletion, versionId), b"")


async def copyObject(call):
    bucketInfo = await call.allowedBucket("WRITE")
    common.checkKey(call.key)
    srcBucket, srcKey, srcVersionId, srcBucketInfo = await copySource(call)
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
    sameObject = srcBucket == call.bucket and srcKey == call.key and srcVersionId is None
    sources = []

    def prepare(sourceInfo):
        sources.append(sourceInfo)
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
        info = await call.store.copyObject(
            srcBucket, srcKey, call.bucket, call.key, prepare, srcVersionId
        )
    except VERSION_ERRORS as e:
        raise copySourceError(call, e, srcKey)
    headers = copySourceHeaders(srcBucketInfo, sources[-1], srcVersionId)
    headers.extend(versionHeaders(bucketInfo, info.versionId))
    return xmlResponse(
        s3xml.copyResult("CopyObjectResult", info.etag, info.lastModified), headers=headers
    )


async def deleteObjects(call):
    await call.allowedBucket("WRITE")
    quiet, objects = s3xml.parseDelete(call.smallBody())
    deleted, failed = [], []
    for key, versionId in objects:
        try:
            common.checkKey(key)
            if versionId is not None:
                common.checkVersionId(versionId)
            deletion = await call.store.deleteObject(call.bucket, key, versionId, call.owner)
        except errors.S3Error as e:
            failed.append((key, versionId, e.s3Code, e.message))
        else:
            markerId = deletion.versionId if deletion.deleteMarker else None
            deleted.append((key, versionId, markerId))
    return xmlResponse(s3xml.deleteResult(deleted, failed, quiet))


async def getObjectTagging(call):
    bucketInfo = await call.store.getBucket(call.bucket)
    call.versionId()
    info = await readableObject(call, bucketInfo)
    return xmlResponse(
        s3xml.emptyTagging(), headers=versionHeaders(bucketInfo, info.versionId, call.versionId())
    )
