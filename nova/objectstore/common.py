# -*- test-case-name: tests.objectstore.test_common -*-
"""
What every object store backend shares: the rules for bucket names and
keys, the paging of listings, multipart ETags, the canned ACLs and how a
key's versions change.
"""

import hashlib
import ipaddress
import re
import uuid
from bisect import bisect_left, bisect_right

from nova.objectstore import errors
from nova.objectstore.interfaces import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    NULL_VERSION,
    PERMISSIONS,
    Deletion,
    Grant,
    ownerGrants,
)

MAX_KEY_BYTES = 1024
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000
MAX_OBJECT_SIZE = 5 * 1024 ** 4
MAX_PUT_SIZE = 5 * 1024 ** 3
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
#: How long (seconds) a completed multipart upload may be completed again
#: with the same parts, as a client retrying a completion whose answer it
#: lost does.
COMPLETED_UPLOAD_RETENTION = 24 * 3600

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Names an existing bucket may have; anything else cannot name a bucket of
# ours and is never turned into a path.
_LOOKUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def checkNewBucketName(name):
    """
    Check a name for CreateBucket against S3's rules for bucket names.

    @raise InvalidBucketName: if C{name} breaks a rule.
    """
    if (
        not _BUCKET_RE.match(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or name.startswith("xn--")
        or name.startswith("sthree-")
        or name.endswith("-s3alias")
        or name.endswith("--ol-s3")
        or _isIPv4(name)
    ):
        raise errors.InvalidBucketName(BucketName=name)


def _isIPv4(name):
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def isLookupName(name):
    """
    @return: whether C{name} could be the name of a bucket (existing bucket
        names are a subset of these, and all are safe as one path segment).
    """
    return bool(_LOOKUP_RE.match(name)) and ".." not in name


def checkKey(key):
    """
    @raise KeyTooLongError: for a key over 1024 bytes of UTF-8.
    @raise InvalidArgument: for an empty key or one that holds NUL.
    """
    encoded = key.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError(Size=str(len(encoded)), MaxSizeAllowed=str(MAX_KEY_BYTES))
    if not key:
        raise errors.InvalidArgument("Object key must not be empty")
    if "\x00" in key:
        raise errors.InvalidArgument("Object key must not contain NUL")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.InvalidURI()


def prefixEnd(prefix):
    """
    @return: the smallest string greater than every string that starts
        with C{prefix} (C{None} if there is none).
    """
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def pageKeys(sortedKeys, prefix="", delimiter="", marker="", maxKeys=1000, isVisible=None):
    """
    Page through keys the way ListObjects does.

    @param sortedKeys: a sequence of keys sorted in code point order (the
        same as UTF-8 binary order).
    @param isVisible: a callable telling whether a key is listed (its
        latest version is not a delete marker), called only for the keys
        the page reaches; C{None} when every key is.  A common prefix is
        listed when one of its keys is.
    @return: C{(keys, commonPrefixes, isTruncated, nextMarker)}.
    """
    start = bisect_right(sortedKeys, marker) if marker else 0
    if prefix:
        start = max(start, bisect_left(sortedKeys, prefix))
    keys, prefixes = [], []
    truncated = False
    last = None
    i, n = start, len(sortedKeys)
    while i < n:
        key = sortedKeys[i]
        if not key.startswith(prefix):
            break
        common = None
        if delimiter:
            pos = key.find(delimiter, len(prefix))
            if pos >= 0:
                common = key[: pos + len(delimiter)]
        if common is not None and marker and common <= marker:
            end = prefixEnd(common)
            i = n if end is None else bisect_left(sortedKeys, end, i)
            continue
        if isVisible is not None:
            if common is None:
                if not isVisible(key):
                    i += 1
                    continue
            else:
                end = prefixEnd(common)
                stop = n if end is None else bisect_left(sortedKeys, end, i)
                if not any(isVisible(k) for k in sortedKeys[i:stop]):
                    i = stop
                    continue
        if len(keys) + len(prefixes) >= maxKeys:
            truncated = maxKeys > 0
            break
        if common is not None:
            prefixes.append(common)
            last = common
            end = prefixEnd(common)
            i = n if end is None else bisect_left(sortedKeys, end, i)
        else:
            keys.append(key)
            last = key
            i += 1
    return keys, prefixes, truncated, (last if truncated else None)


def multipartETag(partETags):
    """
    @param partETags: the parts' MD5 hex digests, in order.
    @return: the ETag of the object they make: MD5 of the concatenated
        binary digests, a dash and the number of parts.
    """
    md5 = hashlib.md5()
    for etag in partETags:
        md5.update(bytes.fromhex(etag))
    return f"{md5.hexdigest()}-{len(partETags)}"


def normalizeETag(etag):
    """
    @return: C{etag} without surrounding whitespace, quotes or C{W/}.
    """
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    if len(etag) >= 2 and etag[0] == etag[-1] == '"':
        etag = etag[1:-1]
    return etag


CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
    "aws-exec-read",
)


def cannedACL(name, owner, bucketOwner=None):
    """
    @param owner: the owner of the bucket or object (C{None} for an
        anonymous writer).
    @param bucketOwner: for objects, the owner of their bucket (used by the
        C{bucket-owner-*} ACLs).
    @return: the L{Grant}s a canned ACL stands for, as S3 lists them: the
        group grants first and the owner's full control last; for the
        C{bucket-owner-*} ACLs the owner first, then the bucket's owner.
    @raise InvalidArgument: for an unknown name.
    """
    if name not in CANNED_ACLS:
        raise errors.InvalidArgument(ArgumentName="x-amz-acl", ArgumentValue=name)
    ownerGrant = ownerGrants(owner)
    groups = {
        "public-read": (Grant("Group", ALL_USERS, "READ"),),
        "public-read-write": (Grant("Group", ALL_USERS, "READ"), Grant("Group", ALL_USERS, "WRITE")),
        "authenticated-read": (Grant("Group", AUTHENTICATED_USERS, "READ"),),
        "log-delivery-write": (
            Grant("Group", LOG_DELIVERY, "WRITE"),
            Grant("Group", LOG_DELIVERY, "READ_ACP"),
        ),
    }
    if name in groups:
        return groups[name] + ownerGrant
    bucketPermission = {"bucket-owner-read": "READ", "bucket-owner-full-control": "FULL_CONTROL"}
    if name in bucketPermission and bucketOwner and bucketOwner != owner:
        return ownerGrant + (Grant("CanonicalUser", bucketOwner, bucketPermission[name]),)
    return ownerGrant


def checkGrants(grants):
    """
    @raise MalformedACLError: for a grant of an unknown permission or type.
    """
    for grant in grants:
        if grant.permission not in PERMISSIONS:
            raise errors.MalformedACLError()
        if grant.granteeType not in ("CanonicalUser", "Group"):
            raise errors.MalformedACLError()
    return tuple(grants)


def isAllowed(context, owner, acl, permission, bucketOwner=None):
    """
    Decide whether C{context} may use C{permission} on a bucket or object.

    Admins may do anything; the owning project, and for an object the
    owner of its bucket, have full control; anyone else needs a grant to
    them, to all authenticated users or to all users.

    @param context: a L{nova.context.RequestContext}, or C{None} for an
        anonymous request.
    @return: L{bool}
    """
    if context is not None:
        if context.isAdmin:
            return True
        project = context.projectId
        if project is not None and (project == owner or project == bucketOwner):
            return True
    for grant in acl:
        if grant.permission not in (permission, "FULL_CONTROL"):
            continue
        if grant.granteeType == "Group":
            if grant.grantee == ALL_USERS:
                return True
            if grant.grantee == AUTHENTICATED_USERS and context is not None:
                return True
        elif grant.granteeType == "CanonicalUser" and context is not None:
            if grant.grantee == context.projectId:
                return True
    return False


def checkCompletion(requested, stored, minPartSize):
    """
    Check the part list of a CompleteMultipartUpload.

    @param requested: the C{(partNumber, etag)} pairs the client sent.
    @param stored: a L{dict} from part number to the uploaded L{PartInfo}.
    @return: the L{PartInfo}s to assemble, in order.
    @raise MalformedXML: for an empty list.
    @raise InvalidPartOrder: if the numbers do not ascend.
    @raise InvalidPart: for a part not uploaded or of another ETag.
    @raise EntityTooSmall: for a part but the last under C{minPartSize}.
    """
    if not requested:
        raise errors.MalformedXML()
    previous = 0
    for number, _ in requested:
        if number <= previous:
            raise errors.InvalidPartOrder(UploadId=None)
        previous = number
    chosen = []
    for number, etag in requested:
        part = stored.get(number)
        if part is None or normalizeETag(etag) != part.etag:
            raise errors.InvalidPart(PartNumber=str(number), ETag=normalizeETag(etag))
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < minPartSize:
            raise errors.EntityTooSmall(
                ProposedSize=str(part.size),
                MinSizeAllowed=str(minPartSize),
                PartNumber=str(part.partNumber),
                ETag=part.etag,
            )
    return chosen


def completionParts(requested):
    """
    @param requested: the C{(partNumber, etag)} pairs of a
        CompleteMultipartUpload.
    @return: them as a completed upload's record keeps them (a L{list} of
        C{[partNumber, etag]}, ETags without quotes), to compare with a
        later completion of the same upload.
    """
    return [[number, normalizeETag(etag)] for number, etag in requested]


def checkWriteConditions(conditions, current):
    """
    @param conditions: L{WriteConditions} or C{None}.
    @param current: the L{ObjectInfo} there now, or C{None}.
    @raise PreconditionFailed: if a condition does not hold.
    @raise NoSuchKey: for C{If-Match} on a missing key.
    """
    if conditions is None:
        return
    if conditions.ifNoneMatch is not None and current is not None:
        if conditions.ifNoneMatch == "*" or normalizeETag(conditions.ifNoneMatch) == current.etag:
            raise errors.PreconditionFailed(Condition="If-None-Match")
    if conditions.ifMatch is not None:
        if current is None:
            raise errors.NoSuchKey()
        if conditions.ifMatch != "*" and normalizeETag(conditions.ifMatch) != current.etag:
            raise errors.PreconditionFailed(Condition="If-Match")


def listUploads(uploads, prefix="", delimiter="", keyMarker="", uploadIdMarker="", maxUploads=1000):
    """
    Page through multipart uploads the way ListMultipartUploads does.

    @param uploads: L{MultipartUpload}s sorted by C{(key, initiated,
        uploadId)}.
    @return: C{(uploads, commonPrefixes, isTruncated, nextKeyMarker,
        nextUploadIdMarker)}.
    """
    chosen, prefixes = [], []
    truncated = False
    seen = set()
    lastKey = lastId = None
    afterMarker = not keyMarker
    for upload in uploads:
        if not upload.key.startswith(prefix):
            continue
        if keyMarker:
            if upload.key < keyMarker:
                continue
            if upload.key == keyMarker:
                if not uploadIdMarker:
                    continue
                if not afterMarker:
                    if upload.uploadId == uploadIdMarker:
                        afterMarker = True
                    continue
        common = None
        if delimiter:
            pos = upload.key.find(delimiter, len(prefix))
            if pos >= 0:
                common = upload.key[: pos + len(delimiter)]
                if common in seen or (keyMarker and common <= keyMarker):
                    continue
        if len(chosen) + len(prefixes) >= maxUploads:
            truncated = maxUploads > 0
            break
        if common is not None:
            seen.add(common)
            prefixes.append(common)
            lastKey, lastId = common, None
        else:
            chosen.append(upload)
            lastKey, lastId = upload.key, upload.uploadId
    if not truncated:
        lastKey = lastId = None
    return chosen, prefixes, truncated, lastKey, lastId


# Versions


_VERSION_ID = re.compile(r"\A[0-9a-f]{32}\Z")


def newVersionId():
    """
    @return: a new version id: 32 random lower-case hex digits.
    """
    return uuid.uuid4().hex


def isVersionId(value):
    """
    @return: whether C{value} is a version id this store could have given.
    """
    return value == NULL_VERSION or _VERSION_ID.match(value) is not None


def checkVersionId(value, argumentName="versionId"):
    """
    @return: C{value}.
    @raise InvalidArgument: unless it is a well-formed version id.
    """
    if not isVersionId(value):
        raise errors.InvalidArgument(
            "Invalid version id specified", ArgumentName=argumentName, ArgumentValue=value
        )
    return value


def versionIdFor(versioning):
    """
    @param versioning: a bucket's L{BucketInfo.versioning}.
    @return: the version id of a new version of a key in that bucket.
    """
    return newVersionId() if versioning == "Enabled" else NULL_VERSION


def withNewVersion(versions, new, idOf):
    """
    @param versions: a key's versions, newest first.
    @param idOf: a callable giving the version id of a version.
    @return: C{(versions, removed)}: C{new} first, then C{versions} but the
        one of the same id (a previous null version), which is C{removed}.
    """
    newId = idOf(new)
    return [new] + [v for v in versions if idOf(v) != newId], [
        v for v in versions if idOf(v) == newId
    ]


def chooseVersion(versions, key, versionId, idOf, recordOf):
    """
    @param versions: a key's versions, newest first.
    @param versionId: the version asked for, or C{None} for the latest.
    @param recordOf: a callable giving the L{ObjectInfo} or
        L{DeleteMarker} of a version.
    @return: the version addressed.
    @raise NoSuchKey: if the key has no version, or (with a
        C{deleteMarker} attribute) if its latest is a delete marker.
    @raise NoSuchVersion: if it has no version C{versionId}.
    @raise MethodNotAllowed: (with a C{deleteMarker} attribute) if version
        C{versionId} is a delete marker.
    """
    if versionId is None:
        if not versions:
            raise errors.NoSuchKey(Key=key)
        record = recordOf(versions[0])
        if record.isDeleteMarker:
            error = errors.NoSuchKey(Key=key)
            error.deleteMarker = record
            raise error
        return versions[0]
    for version in versions:
        if idOf(version) == versionId:
            record = recordOf(version)
            if record.isDeleteMarker:
                error = errors.MethodNotAllowed(ResourceType="DeleteMarker")
                error.deleteMarker = record
                raise error
            return version
    raise errors.NoSuchVersion(Key=key, VersionId=versionId)


def latestObject(versions, recordOf):
    """
    @return: the L{ObjectInfo} of the latest version of a key, or C{None}
        if it has none or its latest is a delete marker (for
        L{checkWriteConditions}).
    """
    if not versions:
        return None
    record = recordOf(versions[0])
    return None if record.isDeleteMarker else record


def deleteVersion(versions, versionId, versioning, makeMarker, idOf, recordOf):
    """
    Work out what a DeleteObject does to a key's versions.

    @param versionId: the version to remove, or C{None}.
    @param versioning: the bucket's L{BucketInfo.versioning}.
    @param makeMarker: a callable making a delete marker of a version id.
    @return: C{(versions, removed, deletion)}: the key's new versions, the
        versions removed, and the L{Deletion}.
    """
    if versionId is not None:
        removed = [v for v in versions if idOf(v) == versionId]
        kept = [v for v in versions if idOf(v) != versionId]
        if not removed:
            return versions, [], Deletion(False, versionId, False)
        return kept, removed, Deletion(True, versionId, recordOf(removed[0]).isDeleteMarker)
    if not versioning:
        removed = [v for v in versions if idOf(v) == NULL_VERSION]
        kept = [v for v in versions if idOf(v) != NULL_VERSION]
        return kept, removed, Deletion(bool(removed), None, False)
    marker = makeMarker(versionIdFor(versioning))
    kept, removed = withNewVersion(versions, marker, idOf)
    return kept, removed, Deletion(True, idOf(marker), True)


def pageVersions(
    sortedKeys, versionsOf, prefix="", delimiter="", keyMarker="", versionIdMarker="",
    maxKeys=1000, idOf=None,
):
    """
    Page through versions the way ListObjectVersions does.

    @param sortedKeys: keys sorted in code point order.
    @param versionsOf: a callable giving a key's versions, newest first (an
        empty list for a key that vanished).
    @param idOf: a callable giving the version id of a version.
    @return: C{(versions, commonPrefixes, isTruncated, nextKeyMarker,
        nextVersionIdMarker)}, C{versions} a list of C{(version,
        isLatest)}.
    """
    if maxKeys <= 0:
        return [], [], False, None, None
    start = bisect_left(sortedKeys, keyMarker) if keyMarker else 0
    if prefix:
        start = max(start, bisect_left(sortedKeys, prefix))
    entries, prefixes = [], []
    truncated = False
    lastKey = lastId = None
    i, n = start, len(sortedKeys)
    while i < n and not truncated:
        key = sortedKeys[i]
        if not key.startswith(prefix):
            break
        common = None
        if delimiter:
            pos = key.find(delimiter, len(prefix))
            if pos >= 0:
                common = key[: pos + len(delimiter)]
        if common is not None:
            end = prefixEnd(common)
            stop = n if end is None else bisect_left(sortedKeys, end, i)
            if not (keyMarker and common <= keyMarker):
                if len(entries) + len(prefixes) >= maxKeys:
                    truncated = maxKeys > 0
                    break
                prefixes.append(common)
                lastKey, lastId = common, None
            i = stop
            continue
        versions = list(enumerate(versionsOf(key)))
        if key == keyMarker:
            ids = [idOf(v) for _, v in versions]
            if versionIdMarker and versionIdMarker in ids:
                versions = versions[ids.index(versionIdMarker) + 1 :]
            else:
                versions = []
        for position, version in versions:
            if len(entries) + len(prefixes) >= maxKeys:
                truncated = maxKeys > 0
                break
            entries.append((version, position == 0))
            lastKey, lastId = key, idOf(version)
        i += 1
    if not truncated:
        lastKey = lastId = None
    return entries, prefixes, truncated, lastKey, lastId
