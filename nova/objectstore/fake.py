# -*- test-case-name: tests.objectstore.test_store -*-
"""
L{MemoryObjectStore}: an L{IObjectStore} that keeps everything in memory,
for tests and for a throwaway C{nova-objectstore} (C{--s3_store=memory}).

Each key holds its versions, newest first, as C{(record, data)} pairs: an
L{ObjectInfo} and its bytes, or a L{DeleteMarker} and C{None}.
"""

import hashlib
import uuid

import attr
from twisted.internet.defer import fail, maybeDeferred, succeed
from zope.interface import implementer

from nova.objectstore import common, errors
from nova.objectstore.interfaces import (
    BucketInfo,
    DeleteMarker,
    IObjectReader,
    IObjectStore,
    ListResult,
    MultipartUpload,
    ObjectInfo,
    PartInfo,
    PartList,
    UploadList,
    VersionList,
)


def _idOf(version):
    return version[0].versionId


def _recordOf(version):
    return version[0]


class _Bucket:
    def __init__(self, info):
        self.info = info
        # key: [(ObjectInfo or DeleteMarker, data or None)], newest first
        self.objects = {}
        self.uploads = {}
        # uploadId: (key, completion parts, ObjectInfo, completion time)
        self.completed = {}


@implementer(IObjectReader)
class _MemoryReader:
    def __init__(self, info, data):
        self.info = info
        self._data = data
        self.closed = False

    def read(self, offset, length):
        if self.closed:
            return fail(ValueError("reader is closed"))
        return succeed(self._data[offset : offset + length])

    def close(self):
        self.closed = True


def _deferred(method):
    """
    Run a synchronous method and return its outcome as a L{Deferred}.
    """

    def wrapper(self, *args, **kwargs):
        self.calls.append((method.__name__, args))
        return maybeDeferred(method, self, *args, **kwargs)

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


@implementer(IObjectStore)
class MemoryObjectStore:
    """
    Buckets, objects and uploads in dictionaries.

    @ivar calls: C{(methodName, args)} of every call, in order.
    @ivar buckets: a L{dict} from name to its state (tests may look).
    @ivar minPartSize: the smallest part allowed but for the last.
    """

    def __init__(self, clock, minPartSize=common.MIN_PART_SIZE):
        """
        @param clock: an L{IReactorTime} giving modification times.
        """
        self.clock = clock
        self.minPartSize = minPartSize
        self.buckets = {}
        self.calls = []

    def _bucket(self, name):
        bucket = self.buckets.get(name)
        if bucket is None:
            raise errors.NoSuchBucket(BucketName=name)
        return bucket

    def _object(self, bucket, key, versionId=None):
        """
        @return: C{(info, data)} of the version addressed.
        """
        versions = self._bucket(bucket).objects.get(key, [])
        return common.chooseVersion(versions, key, versionId, _idOf, _recordOf)

    def _upload(self, bucket, key, uploadId):
        upload = self._bucket(bucket).uploads.get(uploadId)
        if upload is None or upload[0].key != key:
            raise errors.NoSuchUpload(UploadId=uploadId)
        return upload

    @_deferred
    def listBuckets(self):
        return [self.buckets[name].info for name in sorted(self.buckets)]

    @_deferred
    def createBucket(self, name, owner, acl=None, location=""):
        common.checkNewBucketName(name)
        existing = self.buckets.get(name)
        if existing is not None:
            error = errors.BucketAlreadyExists(BucketName=name)
            error.existingOwner = existing.info.owner
            raise error
        info = BucketInfo(name, owner, self.clock.seconds(), acl, location)
        self.buckets[name] = _Bucket(info)
        return info

    @_deferred
    def getBucket(self, name):
        return self._bucket(name).info

    @_deferred
    def setBucketACL(self, name, acl):
        bucket = self._bucket(name)
        info = bucket.info
        bucket.info = attr.evolve(info, acl=acl)
        return bucket.info

    @_deferred
    def setBucketVersioning(self, name, status):
        bucket = self._bucket(name)
        bucket.info = attr.evolve(bucket.info, versioning=status)
        return bucket.info

    @_deferred
    def deleteBucket(self, name):
        bucket = self._bucket(name)
        if bucket.objects:
            raise errors.BucketNotEmpty(BucketName=name)
        del self.buckets[name]

    @_deferred
    def listObjects(self, bucket, prefix="", delimiter="", marker="", maxKeys=1000):
        objects = self._bucket(bucket).objects
        keys, prefixes, truncated, nextMarker = common.pageKeys(
            sorted(objects),
            prefix,
            delimiter,
            marker,
            maxKeys,
            lambda key: not objects[key][0][0].isDeleteMarker,
        )
        return ListResult([objects[key][0][0] for key in keys], prefixes, truncated, nextMarker)

    @_deferred
    def listObjectVersions(
        self, bucket, prefix="", delimiter="", keyMarker="", versionIdMarker="", maxKeys=1000
    ):
        objects = self._bucket(bucket).objects
        versions, prefixes, truncated, nextKey, nextId = common.pageVersions(
            sorted(objects),
            lambda key: [record for record, _ in objects.get(key, [])],
            prefix,
            delimiter,
            keyMarker,
            versionIdMarker,
            maxKeys,
            lambda record: record.versionId,
        )
        return VersionList(versions, prefixes, truncated, nextKey, nextId)

    @_deferred
    def getObjectInfo(self, bucket, key, versionId=None):
        return self._object(bucket, key, versionId)[0]

    @_deferred
    def openObject(self, bucket, key, versionId=None):
        info, data = self._object(bucket, key, versionId)
        return _MemoryReader(info, data)

    def _commit(self, bucket, key, data, etag, settings, partSizes, conditions=None):
        state = self._bucket(bucket)
        versions = state.objects.get(key, [])
        common.checkWriteConditions(conditions, common.latestObject(versions, _recordOf))
        info = ObjectInfo(
            bucket,
            key,
            len(data),
            etag,
            self.clock.seconds(),
            settings,
            partSizes,
            common.versionIdFor(state.info.versioning),
        )
        state.objects[key] = common.withNewVersion(versions, (info, data), _idOf)[0]
        return info

    @_deferred
    def putObject(self, bucket, key, body, settings, conditions=None):
        common.checkKey(key)
        self._bucket(bucket)
        data, summary = _readBody(body)
        if summary.checksums:
            settings = _withChecksums(settings, summary.checksums)
        return self._commit(bucket, key, data, summary.md5, settings, (len(data),), conditions)

    @_deferred
    def copyObject(self, srcBucket, srcKey, dstBucket, dstKey, prepare, srcVersionId=None):
        common.checkKey(dstKey)
        info, data = self._object(srcBucket, srcKey, srcVersionId)
        self._bucket(dstBucket)
        settings = prepare(info)
        return self._commit(dstBucket, dstKey, data, info.etag, settings, info.partSizes)

    @_deferred
    def setObjectACL(self, bucket, key, acl, versionId=None):
        info, data = self._object(bucket, key, versionId)
        new = attr.evolve(info, settings=_evolve(info.settings, acl=tuple(acl)))
        versions = self._bucket(bucket).objects[key]
        versions[[_idOf(v) for v in versions].index(info.versionId)] = (new, data)
        return new

    @_deferred
    def deleteObject(self, bucket, key, versionId=None, owner=None):
        state = self._bucket(bucket)
        versions, _, deletion = common.deleteVersion(
            state.objects.get(key, []),
            versionId,
            state.info.versioning,
            lambda newId: (DeleteMarker(bucket, key, newId, self.clock.seconds(), owner), None),
            _idOf,
            _recordOf,
        )
        if versions:
            state.objects[key] = versions
        else:
            state.objects.pop(key, None)
        return deletion

    @_deferred
    def createMultipartUpload(self, bucket, key, settings):
        common.checkKey(key)
        upload = MultipartUpload(bucket, key, uuid.uuid4().hex, self.clock.seconds(), settings)
        self._bucket(bucket).uploads[upload.uploadId] = (upload, {})
        return upload

    @_deferred
    def getMultipartUpload(self, bucket, key, uploadId):
        return self._upload(bucket, key, uploadId)[0]

    @_deferred
    def uploadPart(self, bucket, key, uploadId, partNumber, body):
        self._upload(bucket, key, uploadId)
        data, summary = _readBody(body)
        parts = self._upload(bucket, key, uploadId)[1]
        part = PartInfo(
            partNumber, summary.size, summary.md5, self.clock.seconds(), summary.checksums
        )
        parts[partNumber] = (part, data)
        return part

    @_deferred
    def uploadPartCopy(
        self, bucket, key, uploadId, partNumber, srcBucket, srcKey, prepare, srcVersionId=None
    ):
        self._upload(bucket, key, uploadId)
        info, data = self._object(srcBucket, srcKey, srcVersionId)
        offset, length = prepare(info)
        piece = data[offset : offset + length]
        part = PartInfo(partNumber, len(piece), hashlib.md5(piece).hexdigest(), self.clock.seconds())
        self._upload(bucket, key, uploadId)[1][partNumber] = (part, piece)
        return part

    @_deferred
    def listParts(self, bucket, key, uploadId, partNumberMarker=0, maxParts=1000):
        parts = self._upload(bucket, key, uploadId)[1]
        numbers = [n for n in sorted(parts) if n > partNumberMarker]
        chosen = numbers[:maxParts]
        truncated = len(numbers) > len(chosen)
        return PartList(
            [parts[n][0] for n in chosen], truncated, chosen[-1] if truncated and chosen else None
        )

    @_deferred
    def listMultipartUploads(
        self, bucket, prefix="", delimiter="", keyMarker="", uploadIdMarker="", maxUploads=1000
    ):
        uploads = sorted(
            (u for u, _ in self._bucket(bucket).uploads.values()),
            key=lambda u: (u.key, u.initiated, u.uploadId),
        )
        return UploadList(
            *common.listUploads(uploads, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads)
        )

    @_deferred
    def completeMultipartUpload(self, bucket, key, uploadId, parts, conditions=None):
        state = self._bucket(bucket)
        now = self.clock.seconds()
        for done, (_, _, _, when) in list(state.completed.items()):
            if when < now - common.COMPLETED_UPLOAD_RETENTION:
                del state.completed[done]
        try:
            upload, stored = self._upload(bucket, key, uploadId)
        except errors.NoSuchUpload:
            done = state.completed.get(uploadId)
            if done is not None and done[0] == key and done[1] == common.completionParts(parts):
                return done[2]
            raise
        chosen = common.checkCompletion(
            parts, {n: p for n, (p, _) in stored.items()}, self.minPartSize
        )
        data = b"".join(stored[p.partNumber][1] for p in chosen)
        etag = common.multipartETag([p.etag for p in chosen])
        info = self._commit(
            bucket, key, data, etag, upload.settings, [p.size for p in chosen], conditions
        )
        del state.uploads[uploadId]
        state.completed[uploadId] = (key, common.completionParts(parts), info, now)
        return info

    @_deferred
    def abortMultipartUpload(self, bucket, key, uploadId):
        self._upload(bucket, key, uploadId)
        del self._bucket(bucket).uploads[uploadId]


def _readBody(body):
    """
    @return: C{(data, summary)}: the whole of the L{IRequestBody} C{body} and its
        C{finish()} summary.
    """
    chunks = []
    while True:
        chunk = body.read(1024 * 1024)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks), body.finish()


def _evolve(settings, **changes):
    return attr.evolve(settings, **changes)


def _withChecksums(settings, checksums):
    return _evolve(settings, checksums=dict(checksums))
