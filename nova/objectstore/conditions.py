# -*- test-case-name: tests.objectstore.test_conditions -*-
"""
What request headers ask of an object: ranges, preconditions, and the
headers stored with an object and answered with it.

  - L{parseRange}: the C{Range} of a read;
  - L{checkReadConditions}: C{If-Match}, C{If-None-Match},
    C{If-Modified-Since}, C{If-Unmodified-Since} of a read (304, 412);
  - L{checkCopySourceConditions}: the C{x-amz-copy-source-if-*} of a copy;
  - L{writeConditions}: C{If-Match} and C{If-None-Match: *} of a write,
    checked by the store when the write commits;
  - L{objectSettings} and L{objectHeaders}: user metadata
    (C{x-amz-meta-*}, non-ASCII text in RFC 2047 encoded words as S3 does)
    and the stored HTTP headers, in and out.

Functions reading headers take C{header}, a callable from a lower-case
header name to its value or C{None} (L{nova.objectstore.call.S3Call.header}).
"""

import base64
import re
import time
from datetime import timezone
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import formatdate, parsedate_to_datetime

from nova.objectstore import common, errors, s3xml
from nova.objectstore.interfaces import ObjectSettings, WriteConditions

#: The HTTP headers stored with an object and answered with it.
STORED_HEADERS = (
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
)
#: The query parameters of a GetObject that replace an answer's header.
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
#: The most bytes of user metadata (names and values) an object may have.
MAX_METADATA = 2048
_SURROGATE = re.compile("[\udc80-\udcff]")


def httpDate(seconds):
    """
    @return: C{seconds} since the epoch as an HTTP date.
    """
    return formatdate(int(seconds), usegmt=True)


def parseHTTPDate(value):
    """
    @return: seconds since the epoch, or C{None} if C{value} is not a date.
    """
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc).timestamp()
    return parsed.timestamp()


def etagMatches(header, etag):
    """
    @return: whether an C{If-Match}/C{If-None-Match} value names C{etag}.
    """
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or common.normalizeETag(candidate) == etag:
            return True
    return False


def parseRange(value, size):
    """
    Parse a C{Range} header.

    @return: C{(first, last)} byte positions, or C{None} when the header is
        to be ignored (malformed or several ranges: the whole object is
        sent).
    @raise InvalidRange: if the range cannot be satisfied.
    """
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if first and last and int(last) < int(first):
        return None
    unsatisfiable = errors.InvalidRange(RangeRequested=value, ActualObjectSize=str(size))
    unsatisfiable.responseHeaders = [("Content-Range", f"bytes */{size}")]
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if start >= size:
        raise unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def checkReadConditions(header, info):
    """
    Check the preconditions of a GetObject or HeadObject, as RFC 7232
    orders them: C{If-Match} (else C{If-Unmodified-Since}), then
    C{If-None-Match} (else C{If-Modified-Since}).

    @param info: the L{ObjectInfo} read.
    @raise PreconditionFailed: if C{If-Match} or C{If-Unmodified-Since}
        fails.
    @raise NotModified: if C{If-None-Match} or C{If-Modified-Since} says
        the client has the object already.
    """
    ifMatch = header("if-match")
    ifNoneMatch = header("if-none-match")
    ifModifiedSince = header("if-modified-since")
    ifUnmodifiedSince = header("if-unmodified-since")
    modified = int(info.lastModified)
    if ifMatch is not None:
        if not etagMatches(ifMatch, info.etag):
            raise errors.PreconditionFailed(Condition="If-Match")
    elif ifUnmodifiedSince is not None:
        since = parseHTTPDate(ifUnmodifiedSince)
        if since is not None and modified > since:
            raise errors.PreconditionFailed(Condition="If-Unmodified-Since")
    notModified = False
    if ifNoneMatch is not None:
        notModified = etagMatches(ifNoneMatch, info.etag)
    elif ifModifiedSince is not None:
        since = parseHTTPDate(ifModifiedSince)
        notModified = since is not None and since <= time.time() and modified <= since
    if notModified:
        error = errors.NotModified()
        error.responseHeaders = [
            ("ETag", s3xml.quoteETag(info.etag)),
            ("Last-Modified", httpDate(info.lastModified)),
        ]
        raise error


def checkCopySourceConditions(header, info):
    """
    Check the C{x-amz-copy-source-if-*} preconditions of a CopyObject or
    UploadPartCopy against the source's L{ObjectInfo}.

    @raise PreconditionFailed: if one fails.
    """
    ifMatch = header("x-amz-copy-source-if-match")
    ifNoneMatch = header("x-amz-copy-source-if-none-match")
    ifModifiedSince = header("x-amz-copy-source-if-modified-since")
    ifUnmodifiedSince = header("x-amz-copy-source-if-unmodified-since")
    modified = int(info.lastModified)
    if ifMatch is not None and not etagMatches(ifMatch, info.etag):
        raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-Match")
    if ifNoneMatch is not None and etagMatches(ifNoneMatch, info.etag):
        raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-None-Match")
    if ifUnmodifiedSince is not None and ifMatch is None:
        since = parseHTTPDate(ifUnmodifiedSince)
        if since is not None and modified > since:
            raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-Unmodified-Since")
    if ifModifiedSince is not None and ifNoneMatch is None:
        since = parseHTTPDate(ifModifiedSince)
        if since is not None and modified <= since:
            raise errors.PreconditionFailed(Condition="x-amz-copy-source-If-Modified-Since")


def writeConditions(header):
    """
    @return: the L{WriteConditions} of a PutObject or
        CompleteMultipartUpload, or C{None} when it has none.
    @raise NotImplemented_: for C{If-None-Match} other than C{*}.
    """
    ifMatch = header("if-match")
    ifNoneMatch = header("if-none-match")
    if ifNoneMatch is not None and ifNoneMatch.strip() != "*":
        raise errors.NotImplemented_(
            "A header you provided implies functionality that is not implemented",
            Header="If-None-Match",
        )
    if ifMatch is None and ifNoneMatch is None:
        return None
    return WriteConditions(
        ifMatch=ifMatch.strip() if ifMatch else None,
        ifNoneMatch=ifNoneMatch.strip() if ifNoneMatch else None,
    )


def decodeMetadata(value):
    """
    @param value: a user metadata header's value as received (decoded as
        UTF-8, undecodable bytes as surrogates).
    @return: the text it stands for: RFC 2047 encoded words
        (C{=?UTF-8?B?...?=}, as clients limited to ASCII send non-ASCII
        text) decoded, bytes that are not UTF-8 read as ISO-8859-1.
    """
    if _SURROGATE.search(value):
        value = value.encode("utf-8", "surrogateescape").decode("latin-1")
    if "=?" not in value:
        return value
    try:
        decoded = str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value
    return decoded if decoded or not value.strip() else value


def encodeMetadata(value):
    """
    @return: a user metadata value as answered: as kept when it is ASCII,
        else as one RFC 2047 encoded word (as S3 answers non-ASCII
        metadata).
    """
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def _contentEncoding(value):
    """
    @return: a C{Content-Encoding} as kept: as sent, without the
        C{aws-chunked} coding of a streaming upload (C{None} when nothing
        else is left).
    """
    codings = [c.strip() for c in value.split(",")]
    if not any(c.lower() == "aws-chunked" for c in codings):
        return value
    kept = [c for c in codings if c and c.lower() != "aws-chunked"]
    return ",".join(kept) or None


def objectSettings(headers, owner, acl):
    """
    @param headers: the request's headers, by lower-case name.
    @param owner: the writing project.
    @param acl: the object's L{Grant}s.
    @return: the L{ObjectSettings} a write's headers ask for: user
        metadata (decoded, see L{decodeMetadata}), content type and the
        stored headers (as sent).
    @raise MetadataTooLarge: for more than L{MAX_METADATA} bytes of user
        metadata (names and values, in UTF-8).
    """
    metadata = {}
    size = 0
    for name, value in headers.items():
        if name.startswith("x-amz-meta-"):
            value = decodeMetadata(value)
            metadata[name[11:]] = value
            size += len(name) - 11 + len(value.encode("utf-8"))
    if size > MAX_METADATA:
        raise errors.MetadataTooLarge(Size=str(size), MaxSizeAllowed=str(MAX_METADATA))
    stored = {}
    for name in STORED_HEADERS:
        value = headers.get(name.lower())
        if value is not None and name == "Content-Encoding":
            value = _contentEncoding(value)
        if value is not None:
            stored[name] = value
    return ObjectSettings(
        owner=owner,
        acl=acl,
        contentType=headers.get("content-type") or "binary/octet-stream",
        headers=stored,
        metadata=metadata,
    )


def objectHeaders(info, checksumMode=None):
    """
    @param checksumMode: the request's C{x-amz-checksum-mode}: checksums
        are answered when it is C{ENABLED}.
    @return: the C{(name, value)} headers answering a GetObject or
        HeadObject of C{info}.
    """
    settings = info.settings
    headers = [
        ("ETag", s3xml.quoteETag(info.etag)),
        ("Last-Modified", httpDate(info.lastModified)),
        ("Accept-Ranges", "bytes"),
        ("Content-Type", settings.contentType),
    ]
    for name in STORED_HEADERS:
        if name in settings.headers:
            headers.append((name, settings.headers[name]))
    for name, value in sorted(settings.metadata.items()):
        headers.append(("x-amz-meta-" + name, encodeMetadata(value)))
    if (checksumMode or "").upper() == "ENABLED":
        for algorithm, value in sorted(settings.checksums.items()):
            headers.append(("x-amz-checksum-" + algorithm.lower(), value))
    return headers
