# -*- test-case-name: tests.objectstore.test_s3xml -*-
"""
The XML documents of the S3 API: writing answers and reading requests.

Answers are written by hand rather than with ElementTree so that every
character a key may hold is escaped (control characters as character
references, as S3 does in listings; error documents leave out what XML
cannot carry, so they are always well-formed).  Requests are parsed with ElementTree after
refusing document type declarations (so no entity can expand), and with
namespaces ignored, since clients differ in whether they send one.
"""

import re
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote

from nova.objectstore import errors
from nova.objectstore.interfaces import (
    ALL_USERS,
    ANONYMOUS_OWNER,
    AUTHENTICATED_USERS,
    Grant,
)

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
MAX_XML_BODY = 4 * 1024 * 1024
# The region of a bucket created without a location constraint.
DEFAULT_REGION = "us-east-1"

_ESCAPE = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
# What XML 1.0 cannot carry, even as a character reference.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text):
    """
    @return: C{text} safe as XML character data or attribute value.
    """
    return _ESCAPE.sub(lambda m: _NAMED.get(m.group(0)) or "&#x%x;" % ord(m.group(0)), text)


def el(tag, content=None):
    """
    @param content: C{None} (an empty element), a L{str} (text), or a
        L{list} of already-written child elements.
    @return: the element, written.
    """
    if content is None:
        return f"<{tag}/>"
    if isinstance(content, str):
        return f"<{tag}>{escape(content)}</{tag}>"
    return f"<{tag}>{''.join(content)}</{tag}>"


def document(tag, children, namespace=S3_NAMESPACE):
    """
    @return: a whole XML document (L{bytes}) whose root is C{tag}.
    """
    ns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag}{ns}>{"".join(children)}</{tag}>'
    ).encode("utf-8")


def isoTime(seconds):
    """
    @return: a timestamp as S3 writes them in XML (C{2006-02-03T16:45:09.000Z}).
    """
    whole = int(seconds)
    millis = int(round((seconds - whole) * 1000))
    if millis >= 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%03dZ" % millis


def quoteETag(etag):
    return f'"{etag}"'


def urlEncode(text):
    """
    @return: C{text} as C{encoding-type=url} listings write it.
    """
    return quote(text.encode("utf-8"), safe="/")


def ownerElement(owner, tag="Owner"):
    ident = owner if owner is not None else ANONYMOUS_OWNER
    name = owner if owner is not None else "anonymous"
    return el(tag, [el("ID", ident), el("DisplayName", name)])


def isXMLText(text):
    """
    @return: whether C{text} can be written in an XML 1.0 document at all:
        it holds no control character but tab, newline and carriage return,
        no surrogate, no U+FFFE or U+FFFF (not even as a character
        reference).
    """
    return _NOT_XML.search(text) is None


def _percentEncoded(match):
    return quote(match.group(0).encode("utf-8", "surrogatepass"), safe="")


def errorDocument(code, message, resource, requestId, extra):
    """
    Write an S3 error document.  It is well-formed whatever the request
    held: an C{extra} element whose value XML cannot carry (a key, bucket
    name or header value with a control character) is left out, such
    characters in C{resource} are percent-encoded and in C{message}
    replaced by U+FFFD.

    @param resource: the path requested, or C{None} to leave it out.
    @param extra: a mapping from element name to value (C{None} values are
        left out).
    """
    children = [el("Code", code), el("Message", _NOT_XML.sub("\ufffd", message or ""))]
    for name, value in extra.items():
        if value is not None and isXMLText(str(value)):
            children.append(el(name, str(value)))
    if resource is not None:
        children.append(el("Resource", _NOT_XML.sub(_percentEncoded, resource)))
    children.append(el("RequestId", requestId))
    return document("Error", children, namespace=None)


def listBuckets(owner, buckets, continuationToken=None, prefix=None, withRegions=False):
    """
    @param buckets: the L{BucketInfo}s of the page.
    @param continuationToken: the token of the next page, if there is one.
    @param prefix: the C{prefix} the request gave, if it gave one.
    @param withRegions: whether to give each bucket's region (as S3 does
        when the request used a paging or filtering parameter).
    """

    def bucket(info):
        children = [el("Name", info.name), el("CreationDate", isoTime(info.created))]
        if withRegions:
            children.append(el("BucketRegion", info.location or DEFAULT_REGION))
        return el("Bucket", children)

    children = [ownerElement(owner), el("Buckets", [bucket(b) for b in buckets])]
    if continuationToken is not None:
        children.append(el("ContinuationToken", continuationToken))
    if prefix is not None:
        children.append(el("Prefix", prefix))
    return document("ListAllMyBucketsResult", children)


def _contents(info, encode, withOwner):
    children = [
        el("Key", encode(info.key)),
        el("LastModified", isoTime(info.lastModified)),
        el("ETag", quoteETag(info.etag)),
        el("Size", str(info.size)),
        el("StorageClass", "STANDARD"),
    ]
    if withOwner:
        children.append(ownerElement(info.owner))
    return el("Contents", children)


def listObjects(bucket, result, prefix, delimiter, marker, maxKeys, encodingType):
    encode = urlEncode if encodingType == "url" else (lambda text: text)
    children = [
        el("Name", bucket),
        el("Prefix", encode(prefix)),
        el("Marker", encode(marker)),
        el("MaxKeys", str(maxKeys)),
    ]
    if delimiter:
        children.append(el("Delimiter", encode(delimiter)))
    children.append(el("IsTruncated", "true" if result.isTruncated else "false"))
    if result.isTruncated and delimiter and result.nextMarker is not None:
        children.append(el("NextMarker", encode(result.nextMarker)))
    if encodingType:
        children.append(el("EncodingType", encodingType))
    children.extend(_contents(info, encode, True) for info in result.contents)
    children.extend(
        el("CommonPrefixes", [el("Prefix", encode(p))]) for p in result.commonPrefixes
    )
    return document("ListBucketResult", children)


def listObjectsV2(
    bucket,
    result,
    prefix,
    delimiter,
    maxKeys,
    encodingType,
    continuationToken,
    nextToken,
    startAfter,
    fetchOwner,
):
    encode = urlEncode if encodingType == "url" else (lambda text: text)
    children = [el("Name", bucket), el("Prefix", encode(prefix))]
    if startAfter:
        children.append(el("StartAfter", encode(startAfter)))
    if continuationToken is not None:
        children.append(el("ContinuationToken", continuationToken))
    if nextToken is not None:
        children.append(el("NextContinuationToken", nextToken))
    children.append(el("KeyCount", str(len(result.contents) + len(result.commonPrefixes))))
    children.append(el("MaxKeys", str(maxKeys)))
    if delimiter:
        children.append(el("Delimiter", encode(delimiter)))
    children.append(el("IsTruncated", "true" if result.isTruncated else "false"))
    if encodingType:
        children.append(el("EncodingType", encodingType))
    children.extend(_contents(info, encode, fetchOwner) for info in result.contents)
    children.extend(
        el("CommonPrefixes", [el("Prefix", encode(p))]) for p in result.commonPrefixes
    )
    return document("ListBucketResult", children)


def _grantee(grant):
    if grant.granteeType == "Group":
        inner = [el("URI", grant.grantee)]
    else:
        inner = [el("ID", grant.grantee), el("DisplayName", grant.grantee)]
    return (
        f'<Grantee xmlns:xsi="{XSI_NAMESPACE}" xsi:type="{grant.granteeType}">'
        f'{"".join(inner)}</Grantee>'
    )


def accessControlPolicy(owner, grants):
    """
    @param grants: the access control list, listed as it is.
    """
    return document(
        "AccessControlPolicy",
        [
            ownerElement(owner),
            el(
                "AccessControlList",
                [el("Grant", [_grantee(g), el("Permission", g.permission)]) for g in grants],
            ),
        ],
    )


def copyResult(tag, etag, lastModified):
    return document(tag, [el("LastModified", isoTime(lastModified)), el("ETag", quoteETag(etag))])


def initiateMultipartUpload(bucket, key, uploadId):
    return document(
        "InitiateMultipartUploadResult",
        [el("Bucket", bucket), el("Key", key), el("UploadId", uploadId)],
    )


def completeMultipartUpload(location, bucket, key, etag):
    return document(
        "CompleteMultipartUploadResult",
        [
            el("Location", location),
            el("Bucket", bucket),
            el("Key", key),
            el("ETag", quoteETag(etag)),
        ],
    )


def listParts(bucket, key, upload, result, partNumberMarker, maxParts):
    children = [
        el("Bucket", bucket),
        el("Key", key),
        el("UploadId", upload.uploadId),
        ownerElement(upload.settings.owner, "Initiator"),
        ownerElement(upload.settings.owner),
        el("StorageClass", "STANDARD"),
        el("PartNumberMarker", str(partNumberMarker)),
    ]
    if result.nextPartNumberMarker is not None:
        children.append(el("NextPartNumberMarker", str(result.nextPartNumberMarker)))
    children.append(el("MaxParts", str(maxParts)))
    children.append(el("IsTruncated", "true" if result.isTruncated else "false"))
    for part in result.parts:
        inner = [
            el("PartNumber", str(part.partNumber)),
            el("LastModified", isoTime(part.lastModified)),
            el("ETag", quoteETag(part.etag)),
            el("Size", str(part.size)),
        ]
        for algorithm, value in sorted(part.checksums.items()):
            inner.append(el("Checksum" + algorithm, value))
        children.append(el("Part", inner))
    return document("ListPartsResult", children)


def listMultipartUploads(bucket, result, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads, encodingType):
    encode = urlEncode if encodingType == "url" else (lambda text: text)
    children = [
        el("Bucket", bucket),
        el("KeyMarker", encode(keyMarker)),
        el("UploadIdMarker", uploadIdMarker),
    ]
    if result.nextKeyMarker is not None:
        children.append(el("NextKeyMarker", encode(result.nextKeyMarker)))
    if result.nextUploadIdMarker is not None:
        children.append(el("NextUploadIdMarker", result.nextUploadIdMarker))
    if encodingType:
        children.append(el("EncodingType", encodingType))
    children.append(el("Prefix", encode(prefix)))
    if delimiter:
        children.append(el("Delimiter", encode(delimiter)))
    children.append(el("MaxUploads", str(maxUploads)))
    children.append(el("IsTruncated", "true" if result.isTruncated else "false"))
    for upload in result.uploads:
        children.append(
            el(
                "Upload",
                [
                    el("Key", encode(upload.key)),
                    el("UploadId", upload.uploadId),
                    ownerElement(upload.settings.owner, "Initiator"),
                    ownerElement(upload.settings.owner),
                    el("StorageClass", "STANDARD"),
                    el("Initiated", isoTime(upload.initiated)),
                ],
            )
        )
    children.extend(
        el("CommonPrefixes", [el("Prefix", encode(p))]) for p in result.commonPrefixes
    )
    return document("ListMultipartUploadsResult", children)


def deleteResult(deleted, failed, quiet):
    """
    @param deleted: C{(key, versionId, deleteMarkerVersionId)} of the
        objects deleted: the version id as the request named it (or
        C{None}), and the version id of the delete marker added or removed
        (or C{None}).
    @param failed: C{(key, versionId, code, message)} of those not
        deleted.
    """

    def named(key, versionId):
        children = [el("Key", key)]
        if versionId is not None:
            children.append(el("VersionId", versionId))
        return children

    def done(key, versionId, markerId):
        children = named(key, versionId)
        if markerId is not None:
            children.append(el("DeleteMarker", "true"))
            children.append(el("DeleteMarkerVersionId", markerId))
        return el("Deleted", children)

    children = []
    if not quiet:
        children.extend(done(*entry) for entry in deleted)
    children.extend(
        el("Error", named(key, versionId) + [el("Code", code), el("Message", message)])
        for key, versionId, code, message in failed
    )
    return document("DeleteResult", children)


def listObjectVersions(
    bucket, result, prefix, delimiter, keyMarker, versionIdMarker, maxKeys, encodingType
):
    """
    Write a ListVersionsResult: C{Version} and C{DeleteMarker} elements in
    the order of the listing (keys in order, each key's versions newest
    first).

    @param result: the L{VersionList} of the page.
    """
    encode = urlEncode if encodingType == "url" else (lambda text: text)
    children = [
        el("Name", bucket),
        el("Prefix", encode(prefix)),
        el("KeyMarker", encode(keyMarker)),
        el("VersionIdMarker", versionIdMarker),
    ]
    if result.isTruncated and result.nextKeyMarker is not None:
        children.append(el("NextKeyMarker", encode(result.nextKeyMarker)))
        if result.nextVersionIdMarker is not None:
            children.append(el("NextVersionIdMarker", result.nextVersionIdMarker))
    children.append(el("MaxKeys", str(maxKeys)))
    if delimiter:
        children.append(el("Delimiter", encode(delimiter)))
    children.append(el("IsTruncated", "true" if result.isTruncated else "false"))
    if encodingType:
        children.append(el("EncodingType", encodingType))
    for version, isLatest in result.versions:
        head = [
            el("Key", encode(version.key)),
            el("VersionId", version.versionId),
            el("IsLatest", "true" if isLatest else "false"),
            el("LastModified", isoTime(version.lastModified)),
        ]
        if version.isDeleteMarker:
            children.append(el("DeleteMarker", head + [ownerElement(version.owner)]))
            continue
        children.append(
            el(
                "Version",
                head
                + [
                    el("ETag", quoteETag(version.etag)),
                    el("Size", str(version.size)),
                    ownerElement(version.owner),
                    el("StorageClass", "STANDARD"),
                ],
            )
        )
    children.extend(
        el("CommonPrefixes", [el("Prefix", encode(p))]) for p in result.commonPrefixes
    )
    return document("ListVersionsResult", children)


def location(constraint):
    if not constraint:
        return document("LocationConstraint", [])
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<LocationConstraint xmlns="{S3_NAMESPACE}">{escape(constraint)}</LocationConstraint>'
    ).encode("utf-8")


def versioning(status=""):
    """
    @param status: the bucket's L{BucketInfo.versioning} (C{""}: an empty
        configuration, as S3 answers for a bucket never versioned).
    """
    return document("VersioningConfiguration", [el("Status", status)] if status else [])


def emptyTagging():
    return document("Tagging", [el("TagSet", [])])


# Requests


def _localName(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse(body, error=errors.MalformedXML):
    """
    Parse a request document.

    @return: the root L{ET.Element}, every tag without its namespace.
    @raise MalformedXML: (or C{error}) if it is not well-formed, too large,
        or declares a document type.
    """
    if len(body) > MAX_XML_BODY:
        raise error()
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise error()
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError):
        raise error()
    for element in root.iter():
        element.tag = _localName(element.tag)
    return root


def _text(element, name, default=None):
    child = element.find(name)
    if child is None:
        return default
    return child.text or ""


def parseCreateBucket(body):
    """
    @return: the C{LocationConstraint} of a CreateBucketConfiguration
        (C{""} when there is none).
    """
    if not body.strip():
        return ""
    root = parse(body)
    if root.tag != "CreateBucketConfiguration":
        raise errors.MalformedXML()
    return (_text(root, "LocationConstraint", "") or "").strip()


def parseDelete(body):
    """
    @return: C{(quiet, objects)} of a DeleteObjects request: C{objects} is
        a L{list} of C{(key, versionId)}, the version id C{None} when the
        request names none.
    """
    root = parse(body)
    if root.tag != "Delete":
        raise errors.MalformedXML()
    quiet = (_text(root, "Quiet", "false") or "").strip().lower() == "true"
    objects = []
    for obj in root.findall("Object"):
        key = _text(obj, "Key")
        if key is None:
            raise errors.MalformedXML()
        objects.append((key, _text(obj, "VersionId")))
    if not objects or len(objects) > 1000:
        raise errors.MalformedXML()
    return quiet, objects


def parseVersioning(body):
    """
    @return: C{(status, mfaDelete)} of a VersioningConfiguration, each
        C{None} when absent.
    @raise MalformedXML: for a document that is not one.
    """
    root = parse(body)
    if root.tag != "VersioningConfiguration":
        raise errors.MalformedXML()
    status = _text(root, "Status")
    mfaDelete = _text(root, "MfaDelete", _text(root, "MFADelete"))
    return (
        status.strip() if status is not None else None,
        mfaDelete.strip() if mfaDelete is not None else None,
    )


def parseCompleteMultipartUpload(body):
    """
    @return: the C{(partNumber, etag)} pairs of the request.
    """
    root = parse(body)
    if root.tag != "CompleteMultipartUpload":
        raise errors.MalformedXML()
    parts = []
    for part in root.findall("Part"):
        number, etag = _text(part, "PartNumber"), _text(part, "ETag")
        if number is None or etag is None:
            raise errors.MalformedXML()
        try:
            parts.append((int(number.strip()), etag))
        except ValueError:
            raise errors.MalformedXML()
    return parts


def parseAccessControlPolicy(body):
    """
    @return: C{(ownerId, grants)} of an AccessControlPolicy.
    @raise MalformedACLError: for a document that is not one.
    @raise UnresolvableGrantByEmailAddress: for a grant by e-mail address.
    """
    root = parse(body, errors.MalformedACLError)
    if root.tag != "AccessControlPolicy":
        raise errors.MalformedACLError()
    owner = root.find("Owner")
    ownerId = _text(owner, "ID") if owner is not None else None
    acl = root.find("AccessControlList")
    if acl is None:
        raise errors.MalformedACLError()
    grants = []
    for grant in acl.findall("Grant"):
        grantee = grant.find("Grantee")
        permission = (_text(grant, "Permission") or "").strip()
        if grantee is None:
            raise errors.MalformedACLError()
        kind = None
        for name, value in grantee.attrib.items():
            if _localName(name) == "type":
                kind = value
        if kind == "CanonicalUser" or (kind is None and grantee.find("ID") is not None):
            ident = (_text(grantee, "ID") or "").strip()
            if not ident:
                raise errors.MalformedACLError()
            grants.append(Grant("CanonicalUser", ident, permission))
        elif kind == "Group" or (kind is None and grantee.find("URI") is not None):
            uri = (_text(grantee, "URI") or "").strip()
            if uri not in (ALL_USERS, AUTHENTICATED_USERS, "http://acs.amazonaws.com/groups/s3/LogDelivery"):
                raise errors.InvalidArgument("Invalid group uri", ArgumentName="uri", ArgumentValue=uri)
            grants.append(Grant("Group", uri, permission))
        elif kind == "AmazonCustomerByEmail":
            raise errors.UnresolvableGrantByEmailAddress()
        else:
            raise errors.MalformedACLError()
    return ownerId, grants
