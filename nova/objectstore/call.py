# -*- test-case-name: tests.objectstore.test_resource,tests.objectstore.test_router -*-
"""
One S3 request while it is handled.

L{S3Call} is what every handler of L{nova.objectstore.handlers} receives:
where the request is addressed (bucket, key, query), who sent it, the store
to work on, and the helpers every operation shares (headers, the request
body, the bucket permission check).  L{Response} is what every handler
returns; L{nova.objectstore.resource.S3Resource} writes it.
"""

import os
import re

import attr

from nova.objectstore import common, errors, s3xml
from nova.objectstore.body import RequestBody, parseChecksums, parseContentMD5

_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")


@attr.s
class Response:
    """
    What a handler answers.

    @ivar status: the HTTP status.
    @ivar headers: a L{list} of C{(name, value)} L{str} pairs.
    @ivar body: L{bytes}, or C{None} when C{reader} streams the body.
    @ivar reader: an L{IObjectReader} whose bytes C{offset} to C{offset +
        length} are the body.
    """

    status = attr.ib(default=200)
    headers = attr.ib(factory=list)
    body = attr.ib(default=b"")
    reader = attr.ib(default=None)
    offset = attr.ib(default=0)
    length = attr.ib(default=0)


def xmlResponse(body, status=200, headers=()):
    """
    @return: a L{Response} carrying the XML document C{body}.
    """
    return Response(status, [("Content-Type", "application/xml")] + list(headers), body)


def newRequestId():
    """
    @return: a fresh request id, as S3 writes them (16 hex digits).
    """
    return os.urandom(8).hex().upper()


def ownerOf(context):
    """
    @return: the owner (project id) a request acts as, or C{None} for an
        anonymous request.
    """
    if context is None:
        return None
    return context.projectId or context.userId


def intParameter(query, name, default, minimum=0, maximum=None):
    """
    @return: the integer query parameter C{name} (C{default} when absent or
        empty), capped at C{maximum}.
    @raise InvalidArgument: if it is not an integer or under C{minimum}.
    """
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise errors.InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=value,
        )
    if number < minimum:
        raise errors.InvalidArgument(
            f"Argument {name} must be an integer between {minimum} and 2147483647",
            ArgumentName=name,
            ArgumentValue=value,
        )
    if maximum is not None:
        number = min(number, maximum)
    return number


def encodingType(query):
    """
    @return: C{"url"} when a listing asks for C{encoding-type=url}, C{None}
        when it asks for none.
    @raise InvalidArgument: for any other encoding.
    """
    value = query.get("encoding-type")
    if value is None:
        return None
    if value.lower() != "url":
        raise errors.InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=value,
        )
    return "url"


@attr.s
class S3Call:
    """
    The state of one request while it is handled.

    @ivar request: the L{twisted.web.server.Request}.
    @ivar requestId: its id (the C{x-amz-request-id} of the answer).
    @ivar method: the HTTP method (L{str}).
    @ivar bucket: the bucket addressed, or C{None} for the service.
    @ivar key: the key addressed, or C{None} for a bucket.
    @ivar query: the query parameters, by name (the first of repeated ones).
    @ivar host: the C{Host} the request named.
    @ivar virtual: whether the bucket was named by the host
        (virtual-hosted style).
    @ivar context: the caller's L{nova.context.RequestContext}, or C{None}
        for an anonymous request.
    @ivar verification: the L{nova.auth.signer.S3Verification} of a signed
        request.
    @ivar lost: whether the client went away.
    @ivar store: the L{IObjectStore} to work on.
    @ivar canonicalUsers: the L{ICanonicalUsers} grants may name, or
        C{None} when grantees are not checked.
    """

    request = attr.ib()
    requestId = attr.ib()
    method = attr.ib(default="GET")
    bucket = attr.ib(default=None)
    key = attr.ib(default=None)
    query = attr.ib(factory=dict)
    host = attr.ib(default="")
    virtual = attr.ib(default=False)
    context = attr.ib(default=None)
    verification = attr.ib(default=None)
    lost = attr.ib(default=False)
    store = attr.ib(default=None)
    canonicalUsers = attr.ib(default=None)

    @property
    def owner(self):
        """
        The owner the caller acts as (see L{ownerOf}).
        """
        return ownerOf(self.context)

    def header(self, name):
        """
        @param name: a header name (lower case).
        @return: the (last) value of the request header C{name}, or C{None}.
        """
        value = self.request.getHeader(name.encode("ascii"))
        if value is None:
            return None
        return value.decode("utf-8", "surrogateescape")

    def headers(self):
        """
        @return: every request header, by lower-case name (repeated ones
            joined with commas).
        """
        headers = {}
        for name, values in self.request.requestHeaders.getAllRawHeaders():
            headers[name.decode("latin-1").lower()] = ",".join(
                v.decode("utf-8", "surrogateescape") for v in values
            )
        return headers

    def requireAuthenticated(self):
        """
        @raise AccessDenied: for an anonymous request.
        """
        if self.context is None:
            raise errors.AccessDenied()

    async def allowedBucket(self, permission):
        """
        @return: the L{BucketInfo} of the bucket addressed, if the caller
            has C{permission} on it.
        @raise NoSuchBucket: if there is no such bucket.
        @raise AccessDenied: if the caller lacks C{permission}.
        """
        info = await self.store.getBucket(self.bucket)
        if not common.isAllowed(self.context, info.owner, info.acl, permission):
            raise errors.AccessDenied()
        return info

    def versionId(self):
        """
        @return: the C{versionId} the request names: C{None} when it names
            none.
        @raise InvalidArgument: for a version id this store cannot have
            given (see L{common.isVersionId}).
        """
        value = self.query.get("versionId")
        if value is None:
            return None
        return common.checkVersionId(value)

    def partNumber(self):
        """
        @return: the C{partNumber} query parameter.
        @raise InvalidArgument: unless it is an integer from 1 to 10000.
        """
        value = self.query.get("partNumber")
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if not 1 <= number <= common.MAX_PART_NUMBER:
            raise errors.InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=value,
            )
        return number

    def requestBody(self):
        """
        @return: a L{RequestBody} over the request's buffered body, checked
            against the request's length, digests and signature as it is
            read.
        @raise MissingContentLength: without a length or chunked encoding.
        @raise EntityTooLarge: for a declared length over 5 GiB.
        """
        headers = self.headers()
        verification = self.verification
        decoder = verification.chunkDecoder if verification is not None else None
        payloadHash = verification.payloadHash if verification is not None else None
        sha256 = payloadHash if payloadHash and _HEX64.match(payloadHash) else None
        lengthText = headers.get("x-amz-decoded-content-length") if decoder else None
        if lengthText is None:
            lengthText = headers.get("content-length")
        if lengthText is None and "chunked" not in headers.get("transfer-encoding", "").lower():
            raise errors.MissingContentLength()
        if lengthText is not None:
            try:
                declared = int(lengthText)
            except ValueError:
                raise errors.InvalidArgument(ArgumentName="Content-Length", ArgumentValue=lengthText)
            if declared > common.MAX_PUT_SIZE:
                raise errors.EntityTooLarge(
                    ProposedSize=str(declared), MaxSizeAllowed=str(common.MAX_PUT_SIZE)
                )
        content = self.request.content
        content.seek(0)
        return RequestBody(
            content,
            decoder=decoder,
            contentMD5=parseContentMD5(headers.get("content-md5")),
            sha256=sha256,
            checksums=parseChecksums(headers),
        )

    def smallBody(self):
        """
        Read a request document (XML), checked like any body.

        @raise MalformedXML: for one over L{s3xml.MAX_XML_BODY}.
        """
        body = self.requestBody()
        pieces, size = [], 0
        while True:
            chunk = body.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > s3xml.MAX_XML_BODY:
                raise errors.MalformedXML()
            pieces.append(chunk)
        body.finish()
        return b"".join(pieces)
