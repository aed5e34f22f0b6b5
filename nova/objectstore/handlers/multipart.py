# -*- test-case-name: tests.objectstore.test_clients,tests.objectstore.test_fidelity -*-
"""
Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
ListParts, ListMultipartUploads, CompleteMultipartUpload and
AbortMultipartUpload.
"""

import re
from urllib.parse import quote

from nova.objectstore import common, conditions, errors, s3xml
from nova.objectstore.call import Response, encodingType, intParameter, xmlResponse
from nova.objectstore.handlers.acls import VERSION_ERRORS, versionHeaders
from nova.objectstore.handlers.objects import (
    checkSourceReadable,
    copySource,
    copySourceError,
    copySourceHeaders,
    settingsFromRequest,
)


async def createMultipartUpload(call):
    bucketInfo = await call.allowedBucket("WRITE")
    common.checkKey(call.key)
    settings = await settingsFromRequest(call, bucketInfo.owner)
    upload = await call.store.createMultipartUpload(call.bucket, call.key, settings)
    headers = []
    algorithm = call.header("x-amz-checksum-algorithm")
    if algorithm:
        headers.append(("x-amz-checksum-algorithm", algorithm.upper()))
    return xmlResponse(
        s3xml.initiateMultipartUpload(call.bucket, call.key, upload.uploadId), headers=headers
    )


async def uploadPart(call):
    await call.allowedBucket("WRITE")
    number = call.partNumber()
    uploadId = call.query.get("uploadId", "")
    await call.store.getMultipartUpload(call.bucket, call.key, uploadId)
    body = call.requestBody()
    part = await call.store.uploadPart(call.bucket, call.key, uploadId, number, body)
    headers = [("ETag", s3xml.quoteETag(part.etag))]
    for algorithm, value in sorted(part.checksums.items()):
        headers.append(("x-amz-checksum-" + algorithm.lower(), value))
    return Response(200, headers, b"")


def _copyRange(rangeHeader, sourceInfo):
    """
    @return: C{(offset, length)} of an C{x-amz-copy-source-range} within
        the source (all of it when C{rangeHeader} is C{None}).
    @raise InvalidArgument: for a malformed range.
    @raise InvalidRange: for a range past the source's end.
    """
    if rangeHeader is None:
        return 0, sourceInfo.size
    match = re.fullmatch(r"\s*bytes=(\d+)-(\d+)\s*", rangeHeader)
    if match is None or int(match.group(2)) < int(match.group(1)):
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last "
            "where first and last are the zero-based offsets of the first and last "
            "bytes to copy",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=rangeHeader,
        )
    first, last = int(match.group(1)), int(match.group(2))
    if last >= sourceInfo.size:
        raise errors.InvalidRange(RangeRequested=rangeHeader, ActualObjectSize=str(sourceInfo.size))
    return first, last - first + 1


async def uploadPartCopy(call):
    await call.allowedBucket("WRITE")
    number = call.partNumber()
    uploadId = call.query.get("uploadId", "")
    await call.store.getMultipartUpload(call.bucket, call.key, uploadId)
    srcBucket, srcKey, srcVersionId, srcBucketInfo = await copySource(call)
    rangeHeader = call.header("x-amz-copy-source-range")
    sources = []

    def prepare(sourceInfo):
        sources.append(sourceInfo)
        checkSourceReadable(call, srcBucketInfo, sourceInfo)
        conditions.checkCopySourceConditions(call.header, sourceInfo)
        return _copyRange(rangeHeader, sourceInfo)

    try:
        part = await call.store.uploadPartCopy(
            call.bucket, call.key, uploadId, number, srcBucket, srcKey, prepare, srcVersionId
        )
    except VERSION_ERRORS as e:
        raise copySourceError(call, e, srcKey)
    return xmlResponse(
        s3xml.copyResult("CopyPartResult", part.etag, part.lastModified),
        headers=copySourceHeaders(srcBucketInfo, sources[-1], srcVersionId),
    )


async def listParts(call):
    await call.allowedBucket("WRITE")
    uploadId = call.query.get("uploadId", "")
    marker = intParameter(call.query, "part-number-marker", 0)
    maxParts = intParameter(call.query, "max-parts", 1000, 0, 1000)
    upload = await call.store.getMultipartUpload(call.bucket, call.key, uploadId)
    result = await call.store.listParts(call.bucket, call.key, uploadId, marker, maxParts)
    return xmlResponse(s3xml.listParts(call.bucket, call.key, upload, result, marker, maxParts))


async def listMultipartUploads(call):
    await call.allowedBucket("READ")
    query = call.query
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    keyMarker = query.get("key-marker", "")
    uploadIdMarker = query.get("upload-id-marker", "")
    maxUploads = intParameter(query, "max-uploads", 1000, 0, 1000)
    encoding = encodingType(query)
    result = await call.store.listMultipartUploads(
        call.bucket, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads
    )
    return xmlResponse(
        s3xml.listMultipartUploads(
            call.bucket, result, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads, encoding
        )
    )


async def completeMultipartUpload(call):
    bucketInfo = await call.allowedBucket("WRITE")
    uploadId = call.query.get("uploadId", "")
    parts = s3xml.parseCompleteMultipartUpload(call.smallBody())
    writeConditions = conditions.writeConditions(call.header)
    info = await call.store.completeMultipartUpload(
        call.bucket, call.key, uploadId, parts, writeConditions
    )
    host = call.host or "localhost"
    if call.virtual:
        location = f"http://{host}/{quote(call.key.encode('utf-8'))}"
    else:
        location = f"http://{host}/{call.bucket}/{quote(call.key.encode('utf-8'))}"
    return xmlResponse(
        s3xml.completeMultipartUpload(location, call.bucket, call.key, info.etag),
        headers=versionHeaders(bucketInfo, info.versionId),
    )


async def abortMultipartUpload(call):
    await call.allowedBucket("WRITE")
    uploadId = call.query.get("uploadId", "")
    await call.store.abortMultipartUpload(call.bucket, call.key, uploadId)
    return Response(204, [], b"")
