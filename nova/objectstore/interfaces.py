# -*- test-case-name: tests.objectstore.test_store -*-
"""
Interfaces and records of the object store.

L{IObjectStore} keeps buckets, objects and multipart uploads; it knows
nothing of HTTP, signatures or who may do what (the handlers of
L{nova.objectstore.handlers} decide that from the owners and grants the
store keeps).
L{IS3Authenticator} turns a request's parts into who is asking.

Names used throughout:
  - an I{owner} is a project id (L{str});
  - an I{ETag} is kept without quotes: the MD5 hex digest of the data, or for
    a completed multipart upload the MD5 hex digest of the concatenated
    binary MD5 digests of its parts followed by C{-N};
  - times are POSIX timestamps (L{float}, seconds);
  - a I{version id} is L{NULL_VERSION} (the version a bucket that does not
    keep versions gives every write) or 32 lower-case hex digits (see
    L{nova.objectstore.common.newVersionId}).

Versioning (L{BucketInfo.versioning}): a key holds a list of versions,
newest first, each an object (L{ObjectInfo}) or a L{DeleteMarker}.  A
bucket that never kept versions (C{""}) and a suspended one (C{"Suspended"})
give writes the version id L{NULL_VERSION}, replacing the key's previous
null version; an enabled one (C{"Enabled"}) gives each write a new id.  The
I{latest} version of a key is the first of its list; a key whose latest
version is a delete marker is not listed and reads as L{NoSuchKey}.
"""

import attr
from zope.interface import Attribute, Interface


# The grantee URIs of the two groups S3 knows.
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

# The version id of what a bucket that does not keep versions writes.
NULL_VERSION = "null"
# The versioning states of a bucket: never enabled, enabled, suspended.
VERSIONING_STATES = ("", "Enabled", "Suspended")

PERMISSIONS = ("FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP")
# The canonical id S3 gives the owner of what an anonymous user wrote.
ANONYMOUS_OWNER = "65a011a29cdf8ec533ec3d1ccaae921c"


@attr.s(frozen=True)
class Grant:
    """
    One entry of an access control list.

    @ivar granteeType: C{"CanonicalUser"} (C{grantee} is a project id) or
        C{"Group"} (C{grantee} is L{ALL_USERS} or L{AUTHENTICATED_USERS}).
    @ivar grantee: see C{granteeType}.
    @ivar permission: one of L{PERMISSIONS}.
    """

    granteeType = attr.ib()
    grantee = attr.ib()
    permission = attr.ib()

    def toJSON(self):
        return [self.granteeType, self.grantee, self.permission]

    @classmethod
    def fromJSON(cls, data):
        return cls(*data)


def ownerGrants(owner):
    """
    @param owner: a project id, or C{None} for an anonymous writer.
    @return: the access control list of a private bucket or object of
        C{owner}: the owner's full control.
    """
    return (Grant("CanonicalUser", owner if owner is not None else ANONYMOUS_OWNER, "FULL_CONTROL"),)


def _grants(acl):
    return None if acl is None else tuple(acl)


@attr.s(frozen=True)
class BucketInfo:
    """
    @ivar name: the bucket's name.
    @ivar owner: the owning project.
    @ivar created: creation time.
    @ivar acl: the bucket's access control list, a L{tuple} of L{Grant}s in
        the order S3 lists them (C{None} when built: the owner's full
        control, L{ownerGrants}).  Whatever it lists, the owner has full
        control.
    @ivar location: the location constraint given at creation (C{""} for the
        default region).
    @ivar versioning: one of L{VERSIONING_STATES}: C{""} for a bucket that
        never kept versions, C{"Enabled"} or C{"Suspended"}.
    """

    name = attr.ib()
    owner = attr.ib()
    created = attr.ib()
    acl = attr.ib(converter=_grants, default=None)
    location = attr.ib(default="")
    versioning = attr.ib(default="")

    def __attrs_post_init__(self):
        if self.acl is None:
            object.__setattr__(self, "acl", ownerGrants(self.owner))


@attr.s(frozen=True)
class ObjectSettings:
    """
    What a writer sets on a new object (or a multipart upload's result).

    @ivar owner: the writing project (C{None} for an anonymous writer).
    @ivar acl: the object's access control list, a L{tuple} of L{Grant}s in
        the order S3 lists them (C{None} when built: the owner's full
        control, L{ownerGrants}).  Whatever it lists, the owner, and the
        owner of the object's bucket, have full control.
    @ivar contentType: the C{Content-Type} to answer with.
    @ivar headers: a L{dict} of further stored HTTP headers, by their
        canonical names (C{Cache-Control}, C{Content-Disposition},
        C{Content-Encoding}, C{Content-Language}, C{Expires}).
    @ivar metadata: a L{dict} of user metadata, lower-case names without the
        C{x-amz-meta-} prefix.
    @ivar checksums: a L{dict} from algorithm (C{CRC32}, C{SHA256}, ...) to
        the base64 value the client sent and the store verified.
    """

    owner = attr.ib(default=None)
    acl = attr.ib(converter=_grants, default=None)
    contentType = attr.ib(default="binary/octet-stream")
    headers = attr.ib(factory=dict)
    metadata = attr.ib(factory=dict)
    checksums = attr.ib(factory=dict)

    def __attrs_post_init__(self):
        if self.acl is None:
            object.__setattr__(self, "acl", ownerGrants(self.owner))


@attr.s(frozen=True)
class ObjectInfo:
    """
    What the store knows of one object.

    @ivar partSizes: the sizes of the parts the object was uploaded in (one
        entry for an object written by a single PUT).
    @ivar settings: the L{ObjectSettings} it was written with (its
        C{acl} as changed since by a PutObjectAcl).
    @ivar versionId: the version id of this version of the key.
    """

    bucket = attr.ib()
    key = attr.ib()
    size = attr.ib()
    etag = attr.ib()
    lastModified = attr.ib()
    settings = attr.ib()
    partSizes = attr.ib(converter=tuple, default=())
    versionId = attr.ib(default=NULL_VERSION)
    isDeleteMarker = False

    @property
    def owner(self):
        return self.settings.owner

    @property
    def acl(self):
        return self.settings.acl


@attr.s(frozen=True)
class DeleteMarker:
    """
    A version of a key that says it was deleted (in a bucket that keeps,
    or kept, versions).

    @ivar owner: the project that deleted the key (C{None}: anonymous).
    """

    bucket = attr.ib()
    key = attr.ib()
    versionId = attr.ib()
    lastModified = attr.ib()
    owner = attr.ib(default=None)
    isDeleteMarker = True


@attr.s(frozen=True)
class Deletion:
    """
    What a L{IObjectStore.deleteObject} did.

    @ivar existed: whether a version was removed or a delete marker added.
    @ivar versionId: the version id removed, or of the delete marker added;
        C{None} when an object of a bucket that never kept versions was
        removed without naming its version.
    @ivar deleteMarker: whether the version removed, or added, is a delete
        marker.
    """

    existed = attr.ib(default=False)
    versionId = attr.ib(default=None)
    deleteMarker = attr.ib(default=False)

    def __bool__(self):
        return self.existed


@attr.s(frozen=True)
class VersionList:
    """
    One page of a listing of versions.

    @ivar versions: C{(version, isLatest)} pairs, each C{version} an
        L{ObjectInfo} or a L{DeleteMarker}: keys in UTF-8 binary order, the
        versions of a key newest first.
    @ivar commonPrefixes: L{str}s, sorted.
    @ivar isTruncated: whether more follows.
    @ivar nextKeyMarker: the key (or common prefix) of the last entry of a
        truncated page.
    @ivar nextVersionIdMarker: the version id of that entry (C{None} for a
        common prefix).
    """

    versions = attr.ib(converter=tuple)
    commonPrefixes = attr.ib(converter=tuple)
    isTruncated = attr.ib()
    nextKeyMarker = attr.ib(default=None)
    nextVersionIdMarker = attr.ib(default=None)


@attr.s(frozen=True)
class ListResult:
    """
    One page of a listing.

    @ivar contents: L{ObjectInfo}s in UTF-8 binary order of their keys.
    @ivar commonPrefixes: L{str}s, sorted.
    @ivar isTruncated: whether more follows.
    @ivar nextMarker: the last key or common prefix of this page, from which
        the next page starts (C{None} when not truncated).
    """

    contents = attr.ib(converter=tuple)
    commonPrefixes = attr.ib(converter=tuple)
    isTruncated = attr.ib()
    nextMarker = attr.ib(default=None)


@attr.s(frozen=True)
class WriteConditions:
    """
    Conditions checked at the moment a write commits.

    @ivar ifMatch: an ETag the current object must have (C{"*"}: any
        object must exist), or C{None}.
    @ivar ifNoneMatch: C{"*"} if no object may exist yet, or C{None}.
    """

    ifMatch = attr.ib(default=None)
    ifNoneMatch = attr.ib(default=None)


@attr.s(frozen=True)
class MultipartUpload:
    """
    @ivar uploadId: opaque id, safe in file names.
    @ivar initiated: time of creation.
    @ivar settings: the L{ObjectSettings} the object will get.
    """

    bucket = attr.ib()
    key = attr.ib()
    uploadId = attr.ib()
    initiated = attr.ib()
    settings = attr.ib()


@attr.s(frozen=True)
class PartInfo:
    partNumber = attr.ib()
    size = attr.ib()
    etag = attr.ib()
    lastModified = attr.ib()
    checksums = attr.ib(factory=dict)


@attr.s(frozen=True)
class PartList:
    parts = attr.ib(converter=tuple)
    isTruncated = attr.ib()
    nextPartNumberMarker = attr.ib(default=None)


@attr.s(frozen=True)
class UploadList:
    uploads = attr.ib(converter=tuple)
    commonPrefixes = attr.ib(converter=tuple)
    isTruncated = attr.ib()
    nextKeyMarker = attr.ib(default=None)
    nextUploadIdMarker = attr.ib(default=None)


class IRequestBody(Interface):
    """
    The body of a write, as the store consumes it.  Unlike the rest of this
    module's interfaces it is used from a worker thread: its methods block
    and return plain values.
    """

    def read(size):
        """
        @return: up to C{size} bytes of the (decoded) body; C{b""} at the end.
        @raise S3Error: if the body cannot be decoded.
        """

    def stagedPath():
        """
        @return: the name of a file that holds exactly the body's bytes as
            they are stored (no decoding needed), which a store may rename
            into place once the body is read and checked (the file may vanish
            meanwhile: a store then copies what it read), or C{None}.
        """

    def finish():
        """
        Called once the body is read to its end, before anything commits.

        @raise S3Error: if the body fails a check (length, Content-MD5,
            payload SHA-256, checksum header): the store then keeps nothing.
        @return: a L{nova.objectstore.body.BodySummary} (size, MD5 hex
            digest, verified checksums).
        """


class IObjectReader(Interface):
    """
    An open object: the version it was opened at stays readable until
    L{close}, whatever writers do meanwhile.
    """

    info = Attribute("The L{ObjectInfo} of the version being read.")

    def read(offset, length):
        """
        @return: L{Deferred} firing with up to C{length} bytes from
            C{offset} (fewer only at the end of the object).
        """

    def close():
        """
        Release the version.  Idempotent.
        """


class IObjectStore(Interface):
    """
    Buckets, objects and multipart uploads.  Every method returns a
    L{Deferred}; failures are L{nova.objectstore.errors.S3Error}s
    (L{NoSuchBucket}, L{NoSuchKey}, ...) as each method says.  Names and keys
    are L{str}; keys are any UTF-8 text of 1 to 1024 bytes without NUL.

    Methods taking a C{versionId} address the latest version of the key
    when it is C{None}, else that version.  Reading the latest version of a
    key whose latest version is a delete marker fails with L{NoSuchKey}
    whose C{deleteMarker} attribute is that L{DeleteMarker}; naming a
    version the key does not have fails with L{NoSuchVersion}; reading a
    version that is a delete marker fails with L{MethodNotAllowed} whose
    C{deleteMarker} attribute is that marker.
    """

    def listBuckets():
        """
        @return: L{Deferred} firing with a L{list} of L{BucketInfo}, sorted
            by name.
        """

    def createBucket(name, owner, acl=None, location=""):
        """
        @param acl: the bucket's L{Grant}s, or C{None} for a private bucket.
        @return: L{Deferred} firing with the new L{BucketInfo}; failing with
            L{BucketAlreadyExists} whose C{existingOwner} attribute names
            the owner of the bucket already there.
        """

    def getBucket(name):
        """
        @return: L{Deferred} firing with the L{BucketInfo}; failing with
            L{NoSuchBucket}.
        """

    def setBucketACL(name, acl):
        """
        @return: L{Deferred} firing with the changed L{BucketInfo}.
        """

    def setBucketVersioning(name, status):
        """
        @param status: C{"Enabled"} or C{"Suspended"}.
        @return: L{Deferred} firing with the changed L{BucketInfo}.
        """

    def deleteBucket(name):
        """
        Delete an empty bucket (no version of any key, not even a delete
        marker) and any unfinished multipart uploads in it.

        @return: L{Deferred} firing with C{None}; failing with
            L{NoSuchBucket} or L{BucketNotEmpty}.
        """

    def listObjects(bucket, prefix="", delimiter="", marker="", maxKeys=1000):
        """
        @param marker: list keys strictly after this one.
        @return: L{Deferred} firing with a L{ListResult} of the latest
            versions of the keys whose latest version is not a delete
            marker: keys that start
            with C{prefix}, in UTF-8 binary order; with a C{delimiter}, keys
            whose rest after the prefix contains it are rolled up into one
            common prefix each (counted once against C{maxKeys}).
        """

    def listObjectVersions(
        bucket, prefix="", delimiter="", keyMarker="", versionIdMarker="", maxKeys=1000
    ):
        """
        @param keyMarker: list keys after this one; with C{versionIdMarker},
            list the versions of C{keyMarker} after that one first.
        @return: L{Deferred} firing with a L{VersionList}; common prefixes
            and versions (delete markers included) each count once against
            C{maxKeys}.
        """

    def getObjectInfo(bucket, key, versionId=None):
        """
        @return: L{Deferred} firing with an L{ObjectInfo}; failing with
            L{NoSuchBucket}, L{NoSuchKey}, L{NoSuchVersion} or
            L{MethodNotAllowed} (see above).
        """

    def openObject(bucket, key, versionId=None):
        """
        @return: L{Deferred} firing with an L{IObjectReader}.
        """

    def putObject(bucket, key, body, settings, conditions=None):
        """
        Write an object from an L{IRequestBody}.  The write is atomic: until
        it commits readers see the previous version, and if the body fails
        (L{IRequestBody.finish} raises) or the write fails, nothing is left.
        Of concurrent writers to one key the last to commit wins.  The new
        version's id follows the bucket's versioning (see above).

        @param conditions: L{WriteConditions} checked when committing
            (L{PreconditionFailed}, or L{NoSuchKey} for C{ifMatch} on a
            missing key).
        @return: L{Deferred} firing with the new L{ObjectInfo}.
        """

    def copyObject(srcBucket, srcKey, dstBucket, dstKey, prepare, srcVersionId=None):
        """
        Copy an object (the latest version of C{srcKey}, or
        C{srcVersionId}) to a new version of C{dstKey}.

        @param prepare: called with the source's L{ObjectInfo}; returns the
            L{ObjectSettings} of the copy, or raises (for example
            L{PreconditionFailed}) to stop the copy.
        @return: L{Deferred} firing with the copy's L{ObjectInfo}.
        """

    def setObjectACL(bucket, key, acl, versionId=None):
        """
        @return: L{Deferred} firing with the changed L{ObjectInfo}.
        """

    def deleteObject(bucket, key, versionId=None, owner=None):
        """
        Without C{versionId}: in a bucket that never kept versions, remove
        the key's object; in an enabled one add a delete marker of a new
        id; in a suspended one replace the null version with a delete
        marker of version id L{NULL_VERSION}.  With C{versionId}: remove
        that version for good (a version the key does not have is no
        error).

        @param owner: the project deleting (C{None}: anonymous), who owns
            the delete marker added.
        @return: L{Deferred} firing with a L{Deletion} (true if something
            was removed or added); failing with L{NoSuchBucket}.
        """

    def createMultipartUpload(bucket, key, settings):
        """
        @return: L{Deferred} firing with a L{MultipartUpload}.
        """

    def getMultipartUpload(bucket, key, uploadId):
        """
        @return: L{Deferred} firing with the L{MultipartUpload}; failing with
            L{NoSuchUpload}.
        """

    def uploadPart(bucket, key, uploadId, partNumber, body):
        """
        Store (or replace) one part from an L{IRequestBody}.

        @return: L{Deferred} firing with a L{PartInfo}.
        """

    def uploadPartCopy(
        bucket, key, uploadId, partNumber, srcBucket, srcKey, prepare, srcVersionId=None
    ):
        """
        Store one part copied from (a range of) an object (the latest
        version of C{srcKey}, or C{srcVersionId}).

        @param prepare: called with the source's L{ObjectInfo}; returns
            C{(offset, length)} of the range to copy, or raises.
        @return: L{Deferred} firing with a L{PartInfo}.
        """

    def listParts(bucket, key, uploadId, partNumberMarker=0, maxParts=1000):
        """
        @return: L{Deferred} firing with a L{PartList}.
        """

    def listMultipartUploads(
        bucket, prefix="", delimiter="", keyMarker="", uploadIdMarker="", maxUploads=1000
    ):
        """
        @return: L{Deferred} firing with an L{UploadList}, sorted by key and
            then by initiation.
        """

    def completeMultipartUpload(bucket, key, uploadId, parts, conditions=None):
        """
        Assemble a new version of the object from C{parts}, a L{list} of
        C{(partNumber, etag)}.

        An upload completed less than
        L{nova.objectstore.common.COMPLETED_UPLOAD_RETENTION} ago may be
        completed again with the same parts (a client retrying a completion
        whose answer it lost): that changes nothing and fires with the
        L{ObjectInfo} the first completion made.

        @param conditions: L{WriteConditions} checked when committing, as
            for L{putObject}; when one fails the upload stays.
        @return: L{Deferred} firing with the new L{ObjectInfo}; failing with
            L{NoSuchUpload}, L{InvalidPartOrder}, L{InvalidPart} or
            L{EntityTooSmall} (every part but the last must be at least the
            store's minimum part size, 5 MiB).
        """

    def abortMultipartUpload(bucket, key, uploadId):
        """
        @return: L{Deferred} firing with C{None}; failing with
            L{NoSuchUpload}.
        """


class ICanonicalUsers(Interface):
    """
    Who a grant may name: the canonical user ids (project ids) there are.
    """

    def isCanonicalUser(canonicalId):
        """
        @return: L{Deferred} firing with whether C{canonicalId} names a
            project a grant may be given to.
        """


class IS3Authenticator(Interface):
    """
    Finds who signed an S3 request.
    """

    def authenticateS3(parts, remoteAddress=None, requestId=None, virtualBucket=None):
        """
        @param parts: a L{nova.auth.signer.HTTPRequestParts}.
        @param remoteAddress: the client's address (for logs and the
            context).
        @param requestId: the request's id (the C{x-amz-request-id} of the
            answer), for the context.
        @param virtualBucket: the bucket named by the C{Host} header of a
            virtual-hosted-style request (signature version 2 signs it as
            part of the path), or C{None}: pass it on to
            L{nova.auth.signer.verifyS3}.
        @return: L{Deferred} firing with C{(context, verification)}: a
            L{nova.context.RequestContext} and a
            L{nova.auth.signer.S3Verification}, or C{(None, None)} for an
            anonymous request; failing with the signer's errors (each has
            C{s3Code} and C{s3Status}).
        """
