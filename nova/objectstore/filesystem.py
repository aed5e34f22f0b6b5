# -*- test-case-name: tests.objectstore.test_store -*-
"""
L{FilesystemObjectStore}: buckets and objects in a directory tree
(C{--buckets_path}), every file operation in a worker thread.

Layout of one bucket, C{<root>/<bucket>/}::

    bucket.json          owner, creation time, access control list, location
    lock                 flock()ed while a change commits
    keys/<hex>.k         one JSON document per key (see below)
    keys/<hex240>.d/...  keys longer than 120 bytes continue in directories
    data/<xx>/<id>       object data, immutable once written
    uploads/<id>/        upload.json and part-NNNNN.json of a multipart upload
    uploads/<id>.done    a completed upload's parts and object, kept for a day
                         so that the same completion can be retried
    tmp/                 JSON documents being written

A key's file name is the hex form of its UTF-8 bytes, cut into 240-digit
directory names (C{.d}) and a last file name (C{.k}), so no key, whatever it
holds (C{..}, C{/}, C{%}), names anything outside C{keys/}, and sorting the
names sorts the keys in UTF-8 binary order.

A key's document is, while the key has one version and it is a null
version (always so in a bucket that never kept versions), that version's
document: key, size, ETag, time, settings, and its data files (one per
uploaded part) with their sizes.  Otherwise it is C{{"key": ...,
"versions": [...]}}, its versions newest first, each an object version's
document with its C{versionId}, or a delete marker (C{versionId},
C{deleteMarker}, C{lastModified}, C{owner}).  Every change to a key's
versions (a write, a delete marker, removing a version) replaces the whole
document at once, so it is as crash-safe as a write.  An object version's
document names its data files.  Data files are written under fresh random names, synced, and
only then does the document replace the previous one (C{os.replace}, the
commit point), after which the data files of the versions it no longer
holds (the previous null version) are unlinked.
A reader opens the document and then the data files; it holds the open
files, so it keeps reading the version it opened, and if a writer removes
the files first it reads the document again.  CopyObject hard-links the
data files (they never change), and CompleteMultipartUpload only writes a
document that names the parts' files: neither copies data.

Changes to one bucket's names (object documents, parts, the bucket itself)
commit under an exclusive C{flock} of its C{lock} file, so several threads
or processes may serve one root.
"""

import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager

import attr
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from zope.interface import implementer

from nova.objectstore import common, errors
from nova.objectstore.body import READ_SIZE
from nova.objectstore.interfaces import (
    NULL_VERSION,
    BucketInfo,
    DeleteMarker,
    Deletion,
    Grant,
    IObjectReader,
    IObjectStore,
    ListResult,
    MultipartUpload,
    ObjectInfo,
    ObjectSettings,
    PartInfo,
    PartList,
    UploadList,
    VersionList,
    ownerGrants,
)
from nova.util.files import (
    ThreadedFileReader,
    preadAll,
    syncDirectory,
    syncFile,
    unlinkQuietly,
    writeAtomically,
)

log = Logger()

_SEGMENT = 240
_OPEN_RETRIES = 10
# Objects up to this size are read whole when opened, saving a trip to a
# thread per read.
_READ_AT_ONCE = 64 * 1024


def keyRelativePath(key):
    """
    @return: the path, relative to a bucket's C{keys} directory, of the
        document of C{key}.
    """
    digits = key.encode("utf-8").hex()
    pieces = [digits[i : i + _SEGMENT] for i in range(0, len(digits), _SEGMENT)]
    return os.path.join(*[p + ".d" for p in pieces[:-1]], pieces[-1] + ".k")


def _grantsFromJSON(doc, owner):
    """
    @return: the access control list a document keeps: C{grants}, or in a
        document written before access control lists were kept whole,
        C{acl} (the grants besides the owner's full control, then listed
        first).
    """
    if "grants" in doc:
        return [Grant.fromJSON(g) for g in doc["grants"]]
    ownerGrant = ownerGrants(owner)
    return list(ownerGrant) + [g for g in map(Grant.fromJSON, doc["acl"]) if g not in ownerGrant]


def _settingsToJSON(settings):
    return {
        "owner": settings.owner,
        "grants": [g.toJSON() for g in settings.acl],
        "contentType": settings.contentType,
        "headers": settings.headers,
        "metadata": settings.metadata,
        "checksums": settings.checksums,
    }


def _settingsFromJSON(data):
    return ObjectSettings(
        owner=data["owner"],
        acl=_grantsFromJSON(data, data["owner"]),
        contentType=data["contentType"],
        headers=data["headers"],
        metadata=data["metadata"],
        checksums=data.get("checksums", {}),
    )


def _idOf(version):
    """
    @return: the version id of a version's document.
    """
    return version.get("versionId", NULL_VERSION)


def _recordFromJSON(bucket, key, version):
    """
    @return: the L{ObjectInfo} or L{DeleteMarker} of a version's document.
    """
    if version.get("deleteMarker"):
        return DeleteMarker(bucket, key, _idOf(version), version["lastModified"], version.get("owner"))
    return ObjectInfo(
        bucket,
        key,
        version["size"],
        version["etag"],
        version["lastModified"],
        _settingsFromJSON(version["settings"]),
        [size for _, size in version["segments"]],
        _idOf(version),
    )


def _infoFromJSON(bucket, doc):
    return _recordFromJSON(bucket, doc["key"], doc)


def _versionsFromJSON(doc):
    """
    @return: the versions' documents of a key's document (C{None}: no
        versions), newest first.
    """
    if doc is None:
        return []
    if "versions" in doc:
        return doc["versions"]
    return [doc]


def _keyJSON(key, versions):
    """
    @return: the document of a key of C{versions} (C{None} when there are
        none): a null object version alone is its own document, as a bucket
        that never kept versions has them.
    """
    if not versions:
        return None
    if len(versions) == 1 and _idOf(versions[0]) == NULL_VERSION and not versions[0].get("deleteMarker"):
        doc = {name: value for name, value in versions[0].items() if name != "versionId"}
        doc["key"] = key
        return doc
    return {
        "key": key,
        "versions": [
            dict({n: v for n, v in version.items() if n != "key"}, versionId=_idOf(version))
            for version in versions
        ],
    }


def _segmentsOf(versions):
    return [segment for version in versions for segment in version.get("segments", [])]


def _uploadFromJSON(bucket, doc):
    return MultipartUpload(
        bucket, doc["key"], doc["uploadId"], doc["initiated"], _settingsFromJSON(doc["settings"])
    )


def _partFromJSON(doc):
    return PartInfo(
        doc["partNumber"], doc["size"], doc["etag"], doc["lastModified"], doc.get("checksums", {})
    )


def _isUploadId(uploadId):
    return len(uploadId) == 32 and all(c in "0123456789abcdef" for c in uploadId)


@implementer(IObjectReader)
class _FileReader(ThreadedFileReader):
    """
    An open version of an object: its data files, open.
    """

    def __init__(self, store, info, fds, data=None):
        """
        @param data: the whole object, when it was read at once (small
            objects); C{fds} is then empty.
        """
        self.info = info
        self._store = store
        self._fds = fds
        self._data = data

    def thd_read(self, offset, length):
        chunks = []
        start = 0
        for fd, size in zip(self._fds, self.info.partSizes):
            end = start + size
            if length <= 0:
                break
            if offset < end:
                within = offset - start
                take = min(length, size - within)
                chunks.append(preadAll(fd, within, take))
                offset += take
                length -= take
            start = end
        return b"".join(chunks)

    def readAtOnce(self, offset, length):
        if self._data is not None:
            return self._data[offset : offset + length]
        return None

    def readInThread(self, offset, length):
        return self._store._run(self.thd_read, offset, length)

    def closeFiles(self):
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)


@implementer(IObjectStore)
class FilesystemObjectStore:
    """
    An L{IObjectStore} in a directory.

    @ivar root: the directory that holds one directory per bucket.
    """

    def __init__(self, root, reactor, threadpool=None, fsync=True, minPartSize=None):
        """
        @param root: the directory (created if missing).
        @param reactor: the reactor whose thread pool runs file work unless
            C{threadpool} is given; its C{seconds()} dates objects.
        @param threadpool: a started L{ThreadPool} for the file work.
        @param fsync: whether to sync data and documents before they commit
            (and the directories after).
        @param minPartSize: the smallest part but the last of a multipart
            upload (5 MiB unless given).
        """
        self.root = os.path.abspath(root)
        self.stagingDirectory = os.path.join(self.root, ".staging")
        self.reactor = reactor
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.fsync = fsync
        self.minPartSize = common.MIN_PART_SIZE if minPartSize is None else minPartSize
        # When each bucket's old completed-upload records are next removed.
        self._nextForget = {}
        for name in ("", ".staging", ".trash"):
            os.makedirs(os.path.join(self.root, name), exist_ok=True)
        self._removeLeftovers()

    def _removeLeftovers(self, maxAge=86400):
        """
        Remove what a crashed process left in C{.trash} and, once a day old,
        in C{.staging}.  Runs once, when the store is built, before it serves.
        """
        trash = os.path.join(self.root, ".trash")
        for name in os.listdir(trash):
            shutil.rmtree(os.path.join(trash, name), ignore_errors=True)
        cutoff = time.time() - maxAge
        for name in os.listdir(self.stagingDirectory):
            path = os.path.join(self.stagingDirectory, name)
            try:
                if os.lstat(path).st_mtime < cutoff:
                    if os.path.isdir(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
            except FileNotFoundError:
                pass

    def _run(self, function, *args, **kwargs):
        return deferToThreadPool(self.reactor, self.threadpool, function, *args, **kwargs)

    # Paths, documents and locks

    def _bucketDir(self, name):
        if not common.isLookupName(name):
            raise errors.NoSuchBucket(BucketName=name)
        return os.path.join(self.root, name)

    def _readJSON(self, path):
        """
        @return: the document at C{path}, or C{None} if there is none.
        """
        try:
            with open(path, "rb") as f:
                return json.loads(f.read())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _writeJSON(self, bucketDir, path, doc):
        """
        Replace the document at C{path} atomically.
        """
        writeAtomically(
            path,
            json.dumps(doc, separators=(",", ":")).encode("utf-8"),
            0o644,
            fsync=self.fsync,
            temporaryDirectory=os.path.join(bucketDir, "tmp"),
        )

    def _readBucket(self, name):
        doc = self._readJSON(os.path.join(self._bucketDir(name), "bucket.json"))
        if doc is None:
            raise errors.NoSuchBucket(BucketName=name)
        return BucketInfo(
            doc["name"],
            doc["owner"],
            doc["created"],
            _grantsFromJSON(doc, doc["owner"]),
            doc.get("location", ""),
            doc.get("versioning", ""),
        )

    @contextmanager
    def _locked(self, name):
        """
        Hold the bucket's lock; fail with L{NoSuchBucket} if the bucket is
        gone (or was deleted while waiting).
        """
        path = os.path.join(self._bucketDir(name), "lock")
        try:
            fd = os.open(path, os.O_RDWR)
        except (FileNotFoundError, NotADirectoryError):
            raise errors.NoSuchBucket(BucketName=name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                raise errors.NoSuchBucket(BucketName=name)
            yield
        finally:
            os.close(fd)

    def _newDataPath(self, bucketDir):
        """
        @return: C{(relative, absolute)} path for a new data file, its
            directory made.
        """
        name = uuid.uuid4().hex
        relative = os.path.join("data", name[:2], name)
        directory = os.path.join(bucketDir, "data", name[:2])
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
        return relative, os.path.join(bucketDir, relative)

    def _writeData(self, bucketDir, body):
        """
        Write a body to a new data file.

        @return: C{(relative path, BodySummary)}; nothing is left if the body
            fails.
        """
        try:
            relative, path = self._newDataPath(bucketDir)
        except FileNotFoundError:
            raise errors.NoSuchBucket()
        staged = body.stagedPath()
        if staged is not None:
            while body.read(READ_SIZE):
                pass
            summary = body.finish()
            try:
                if self.fsync:
                    syncFile(staged)
                os.rename(staged, path)
            except OSError:
                pass
            else:
                self._syncData(path)
                return relative, summary
            # The staged file is on another filesystem or was removed: copy
            # the body as read so far (it is all there) instead.
            body.source.seek(0)
            body = _Replay(body.source, summary)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                while True:
                    chunk = body.read(READ_SIZE)
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                summary = body.finish()
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            unlinkQuietly(path)
            raise
        self._syncData(path)
        return relative, summary

    def _syncData(self, path):
        """
        Make a new data file's name durable.
        """
        if self.fsync:
            syncDirectory(os.path.dirname(path))

    def _readObjectDoc(self, bucketDir, key):
        return self._readJSON(os.path.join(bucketDir, "keys", keyRelativePath(key)))

    def _unlinkSegments(self, bucketDir, segments):
        for relative, _ in segments:
            unlinkQuietly(os.path.join(bucketDir, relative))

    def _writeKey(self, bucketDir, key, versions):
        """
        Replace the document of C{key} by one of C{versions} (removing it
        when there are none); the caller holds the lock.
        """
        keysDir = os.path.join(bucketDir, "keys")
        path = os.path.join(keysDir, keyRelativePath(key))
        doc = _keyJSON(key, versions)
        if doc is not None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._writeJSON(bucketDir, path, doc)
            return
        unlinkQuietly(path)
        directory = os.path.dirname(path)
        while directory != keysDir:
            try:
                os.rmdir(directory)
            except OSError:
                break
            directory = os.path.dirname(directory)

    def _commitObject(self, bucket, bucketDir, doc, conditions=None):
        """
        Make C{doc} (a version's document with its C{key}) the key's latest
        version, of the version id the bucket's versioning gives it (set in
        C{doc}); the caller holds the lock.

        @return: the segments of the version replaced, to unlink.
        """
        key = doc["key"]
        versions = _versionsFromJSON(self._readObjectDoc(bucketDir, key))
        common.checkWriteConditions(
            conditions,
            common.latestObject(versions, lambda v: _recordFromJSON(bucket, key, v)),
        )
        doc["versionId"] = common.versionIdFor(self._readBucket(bucket).versioning)
        versions, removed = common.withNewVersion(versions, doc, _idOf)
        self._writeKey(bucketDir, key, versions)
        return _segmentsOf(removed)

    # Buckets

    def listBuckets(self):
        return self._run(self.thd_listBuckets)

    def thd_listBuckets(self):
        buckets = []
        for name in sorted(os.listdir(self.root)):
            if not common.isLookupName(name):
                continue
            try:
                buckets.append(self._readBucket(name))
            except errors.NoSuchBucket:
                continue
        return buckets

    def createBucket(self, name, owner, acl=None, location=""):
        return self._run(self.thd_createBucket, name, owner, acl, location)

    def thd_createBucket(self, name, owner, acl, location):
        common.checkNewBucketName(name)
        info = BucketInfo(name, owner, self.reactor.seconds(), acl, location)
        staging = os.path.join(self.root, ".staging", uuid.uuid4().hex)
        os.mkdir(staging)
        try:
            for sub in ("keys", "data", "uploads", "tmp"):
                os.mkdir(os.path.join(staging, sub))
            open(os.path.join(staging, "lock"), "wb").close()
            self._writeJSON(staging, os.path.join(staging, "bucket.json"), _bucketJSON(info))
            try:
                os.rename(staging, os.path.join(self.root, name))
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                error = errors.BucketAlreadyExists(BucketName=name)
                try:
                    error.existingOwner = self._readBucket(name).owner
                except errors.NoSuchBucket:
                    error.existingOwner = None
                raise error
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if self.fsync:
            syncDirectory(self.root)
        return info

    def getBucket(self, name):
        return self._run(self._readBucket, name)

    def setBucketACL(self, name, acl):
        return self._run(self.thd_setBucketACL, name, tuple(acl))

    def thd_setBucketACL(self, name, acl):
        bucketDir = self._bucketDir(name)
        with self._locked(name):
            info = attr.evolve(self._readBucket(name), acl=acl)
            self._writeJSON(bucketDir, os.path.join(bucketDir, "bucket.json"), _bucketJSON(info))
        return info

    def setBucketVersioning(self, name, status):
        return self._run(self.thd_setBucketVersioning, name, status)

    def thd_setBucketVersioning(self, name, status):
        bucketDir = self._bucketDir(name)
        with self._locked(name):
            info = attr.evolve(self._readBucket(name), versioning=status)
            self._writeJSON(bucketDir, os.path.join(bucketDir, "bucket.json"), _bucketJSON(info))
        return info

    def deleteBucket(self, name):
        return self._run(self.thd_deleteBucket, name)

    def thd_deleteBucket(self, name):
        bucketDir = self._bucketDir(name)
        trash = os.path.join(self.root, ".trash", uuid.uuid4().hex)
        with self._locked(name):
            for _ in self._walkKeys(os.path.join(bucketDir, "keys"), ""):
                raise errors.BucketNotEmpty(BucketName=name)
            os.rename(bucketDir, trash)
        if self.fsync:
            syncDirectory(self.root)
        shutil.rmtree(trash, ignore_errors=True)

    # Objects

    def _walkKeys(self, directory, digits, prefixDigits=""):
        """
        Yield the hex form of every key under C{directory} (whose names
        continue C{digits}) that can start with C{prefixDigits}.
        """
        try:
            entries = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            stem, kind = entry[:-2], entry[-2:]
            full = digits + stem
            n = min(len(full), len(prefixDigits))
            if full[:n] != prefixDigits[:n]:
                continue
            if kind == ".k":
                if full.startswith(prefixDigits):
                    yield full
            elif kind == ".d":
                yield from self._walkKeys(os.path.join(directory, entry), full, prefixDigits)

    def listObjects(self, bucket, prefix="", delimiter="", marker="", maxKeys=1000):
        return self._run(self.thd_listObjects, bucket, prefix, delimiter, marker, maxKeys)

    def _sortedKeys(self, bucketDir, prefix):
        prefixDigits = prefix.encode("utf-8").hex()
        return sorted(
            bytes.fromhex(digits).decode("utf-8")
            for digits in self._walkKeys(os.path.join(bucketDir, "keys"), "", prefixDigits)
        )

    def _latestVersions(self, bucket, bucketDir):
        """
        @return: a callable giving the record of a key's latest version (or
            C{None}), reading each key's document once.
        """
        cache = {}

        def latest(key):
            if key not in cache:
                versions = _versionsFromJSON(self._readObjectDoc(bucketDir, key))
                cache[key] = _recordFromJSON(bucket, key, versions[0]) if versions else None
            return cache[key]

        return latest

    def thd_listObjects(self, bucket, prefix, delimiter, marker, maxKeys):
        bucketInfo = self._readBucket(bucket)
        bucketDir = self._bucketDir(bucket)
        latest = self._latestVersions(bucket, bucketDir)
        isVisible = None
        if bucketInfo.versioning:

            def isVisible(key):
                record = latest(key)
                return record is not None and not record.isDeleteMarker

        page, prefixes, truncated, nextMarker = common.pageKeys(
            self._sortedKeys(bucketDir, prefix), prefix, delimiter, marker, maxKeys, isVisible
        )
        contents = []
        for key in page:
            record = latest(key)
            if record is not None and not record.isDeleteMarker:
                contents.append(record)
        return ListResult(contents, prefixes, truncated, nextMarker)

    def listObjectVersions(
        self, bucket, prefix="", delimiter="", keyMarker="", versionIdMarker="", maxKeys=1000
    ):
        return self._run(
            self.thd_listObjectVersions,
            bucket,
            prefix,
            delimiter,
            keyMarker,
            versionIdMarker,
            maxKeys,
        )

    def thd_listObjectVersions(self, bucket, prefix, delimiter, keyMarker, versionIdMarker, maxKeys):
        self._readBucket(bucket)
        bucketDir = self._bucketDir(bucket)

        def versionsOf(key):
            versions = _versionsFromJSON(self._readObjectDoc(bucketDir, key))
            return [_recordFromJSON(bucket, key, v) for v in versions]

        versions, prefixes, truncated, nextKey, nextId = common.pageVersions(
            self._sortedKeys(bucketDir, prefix),
            versionsOf,
            prefix,
            delimiter,
            keyMarker,
            versionIdMarker,
            maxKeys,
            lambda record: record.versionId,
        )
        return VersionList(versions, prefixes, truncated, nextKey, nextId)

    def _chooseVersion(self, bucket, bucketDir, key, versionId):
        """
        @return: the document of the version of C{key} addressed.
        """
        doc = self._readObjectDoc(bucketDir, key) if _isKey(key) else None
        if doc is None:
            self._readBucket(bucket)
        return common.chooseVersion(
            _versionsFromJSON(doc),
            key,
            versionId,
            _idOf,
            lambda v: _recordFromJSON(bucket, key, v),
        )

    def getObjectInfo(self, bucket, key, versionId=None):
        return self._run(self.thd_getObjectInfo, bucket, key, versionId)

    def thd_getObjectInfo(self, bucket, key, versionId=None):
        bucketDir = self._bucketDir(bucket)
        return _recordFromJSON(bucket, key, self._chooseVersion(bucket, bucketDir, key, versionId))

    def openObject(self, bucket, key, versionId=None):
        return self._run(self.thd_openObject, bucket, key, versionId)

    def thd_openObject(self, bucket, key, versionId=None, readSmall=True):
        bucketDir = self._bucketDir(bucket)
        for _ in range(_OPEN_RETRIES):
            doc = self._chooseVersion(bucket, bucketDir, key, versionId)
            info = _recordFromJSON(bucket, key, doc)
            fds = []
            try:
                for relative, _ in doc["segments"]:
                    fds.append(os.open(os.path.join(bucketDir, relative), os.O_RDONLY))
            except FileNotFoundError:
                for fd in fds:
                    os.close(fd)
                continue
            if readSmall and info.size <= _READ_AT_ONCE:
                reader = _FileReader(self, info, fds)
                try:
                    data = reader.thd_read(0, info.size)
                finally:
                    reader.closeFiles()
                return _FileReader(self, info, [], data)
            return _FileReader(self, info, fds)
        raise errors.InternalError("The object changed too often while being opened.")

    def putObject(self, bucket, key, body, settings, conditions=None):
        return self._run(self.thd_putObject, bucket, key, body, settings, conditions)

    def thd_putObject(self, bucket, key, body, settings, conditions=None):
        common.checkKey(key)
        self._readBucket(bucket)
        bucketDir = self._bucketDir(bucket)
        relative, summary = self._writeData(bucketDir, body)
        if summary.checksums:
            settings = attr.evolve(settings, checksums=dict(summary.checksums))
        doc = {
            "key": key,
            "size": summary.size,
            "etag": summary.md5,
            "lastModified": self.reactor.seconds(),
            "settings": _settingsToJSON(settings),
            "segments": [[relative, summary.size]],
        }
        try:
            with self._locked(bucket):
                old = self._commitObject(bucket, bucketDir, doc, conditions)
        except BaseException:
            unlinkQuietly(os.path.join(bucketDir, relative))
            raise
        self._unlinkSegments(bucketDir, old)
        return _infoFromJSON(bucket, doc)

    def _openSource(self, bucket, key, versionId=None):
        """
        @return: C{(bucketDir, reader)} of an opened source object.
        """
        reader = self.thd_openObject(bucket, key, versionId, readSmall=False)
        bucketDir = self._bucketDir(bucket)
        return bucketDir, reader

    def copyObject(self, srcBucket, srcKey, dstBucket, dstKey, prepare, srcVersionId=None):
        return self._run(
            self.thd_copyObject, srcBucket, srcKey, dstBucket, dstKey, prepare, srcVersionId
        )

    def thd_copyObject(self, srcBucket, srcKey, dstBucket, dstKey, prepare, srcVersionId=None):
        common.checkKey(dstKey)
        srcDir, reader = self._openSource(srcBucket, srcKey, srcVersionId)
        created = []
        try:
            settings = prepare(reader.info)
            self._readBucket(dstBucket)
            dstDir = self._bucketDir(dstBucket)
            segments = []
            for fd, size in zip(reader._fds, reader.info.partSizes):
                try:
                    relative, path = self._newDataPath(dstDir)
                except FileNotFoundError:
                    raise errors.NoSuchBucket(BucketName=dstBucket)
                created.append(path)
                self._cloneFile(fd, path)
                self._syncData(path)
                segments.append([relative, size])
            info = reader.info
            doc = {
                "key": dstKey,
                "size": info.size,
                "etag": info.etag,
                "lastModified": self.reactor.seconds(),
                "settings": _settingsToJSON(settings),
                "segments": segments,
            }
            with self._locked(dstBucket):
                old = self._commitObject(dstBucket, dstDir, doc)
        except BaseException:
            for path in created:
                unlinkQuietly(path)
            raise
        finally:
            reader.close()
        self._unlinkSegments(dstDir, old)
        return _infoFromJSON(dstBucket, doc)

    def _cloneFile(self, fd, path):
        """
        Make C{path} a file with the content of the open file C{fd}: a hard
        link to it where the file is still linked, a copy otherwise.
        """
        try:
            os.link(f"/proc/self/fd/{fd}", path, follow_symlinks=True)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return
            unlinkQuietly(path)
        except OSError:
            pass
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            size = os.fstat(fd).st_size
            offset = 0
            while offset < size:
                chunk = preadAll(fd, offset, min(READ_SIZE, size - offset))
                if not chunk:
                    break
                os.write(out, chunk)
                offset += len(chunk)
            if self.fsync:
                os.fsync(out)
        finally:
            os.close(out)

    def setObjectACL(self, bucket, key, acl, versionId=None):
        return self._run(self.thd_setObjectACL, bucket, key, tuple(acl), versionId)

    def thd_setObjectACL(self, bucket, key, acl, versionId=None):
        bucketDir = self._bucketDir(bucket)
        with self._locked(bucket):
            version = self._chooseVersion(bucket, bucketDir, key, versionId)
            version["settings"].pop("acl", None)
            version["settings"]["grants"] = [g.toJSON() for g in acl]
            versions = _versionsFromJSON(self._readObjectDoc(bucketDir, key))
            versions = [version if _idOf(v) == _idOf(version) else v for v in versions]
            self._writeKey(bucketDir, key, versions)
        return _recordFromJSON(bucket, key, version)

    def deleteObject(self, bucket, key, versionId=None, owner=None):
        return self._run(self.thd_deleteObject, bucket, key, versionId, owner)

    def thd_deleteObject(self, bucket, key, versionId=None, owner=None):
        self._readBucket(bucket)
        if not _isKey(key):
            return Deletion(False, versionId)
        bucketDir = self._bucketDir(bucket)
        with self._locked(bucket):
            versions = _versionsFromJSON(self._readObjectDoc(bucketDir, key))
            versions, removed, deletion = common.deleteVersion(
                versions,
                versionId,
                self._readBucket(bucket).versioning,
                lambda newId: {
                    "versionId": newId,
                    "deleteMarker": True,
                    "lastModified": self.reactor.seconds(),
                    "owner": owner,
                },
                _idOf,
                lambda v: _recordFromJSON(bucket, key, v),
            )
            if deletion.existed:
                self._writeKey(bucketDir, key, versions)
        self._unlinkSegments(bucketDir, _segmentsOf(removed))
        return deletion

    # Multipart uploads

    def _uploadDir(self, bucketDir, uploadId):
        return os.path.join(bucketDir, "uploads", uploadId)

    def _readUpload(self, bucket, key, uploadId):
        bucketDir = self._bucketDir(bucket)
        doc = None
        if _isUploadId(uploadId):
            doc = self._readJSON(os.path.join(self._uploadDir(bucketDir, uploadId), "upload.json"))
        if doc is None or doc["key"] != key:
            self._readBucket(bucket)
            raise errors.NoSuchUpload(UploadId=uploadId)
        return bucketDir, doc

    def createMultipartUpload(self, bucket, key, settings):
        return self._run(self.thd_createMultipartUpload, bucket, key, settings)

    def thd_createMultipartUpload(self, bucket, key, settings):
        common.checkKey(key)
        self._readBucket(bucket)
        bucketDir = self._bucketDir(bucket)
        upload = MultipartUpload(bucket, key, uuid.uuid4().hex, self.reactor.seconds(), settings)
        directory = self._uploadDir(bucketDir, upload.uploadId)
        try:
            os.mkdir(directory)
        except FileNotFoundError:
            raise errors.NoSuchBucket(BucketName=bucket)
        self._writeJSON(
            bucketDir,
            os.path.join(directory, "upload.json"),
            {
                "key": key,
                "uploadId": upload.uploadId,
                "initiated": upload.initiated,
                "settings": _settingsToJSON(settings),
            },
        )
        return upload

    def getMultipartUpload(self, bucket, key, uploadId):
        return self._run(self.thd_getMultipartUpload, bucket, key, uploadId)

    def thd_getMultipartUpload(self, bucket, key, uploadId):
        return _uploadFromJSON(bucket, self._readUpload(bucket, key, uploadId)[1])

    def _commitPart(self, bucket, key, uploadId, doc):
        bucketDir, _ = self._readUpload(bucket, key, uploadId)
        path = os.path.join(
            self._uploadDir(bucketDir, uploadId), "part-%05d.json" % (doc["partNumber"],)
        )
        try:
            with self._locked(bucket):
                self._readUpload(bucket, key, uploadId)
                old = self._readJSON(path)
                self._writeJSON(bucketDir, path, doc)
        except BaseException:
            unlinkQuietly(os.path.join(bucketDir, doc["data"]))
            raise
        if old is not None:
            unlinkQuietly(os.path.join(bucketDir, old["data"]))
        return _partFromJSON(doc)

    def uploadPart(self, bucket, key, uploadId, partNumber, body):
        return self._run(self.thd_uploadPart, bucket, key, uploadId, partNumber, body)

    def thd_uploadPart(self, bucket, key, uploadId, partNumber, body):
        bucketDir, _ = self._readUpload(bucket, key, uploadId)
        relative, summary = self._writeData(bucketDir, body)
        doc = {
            "partNumber": partNumber,
            "size": summary.size,
            "etag": summary.md5,
            "lastModified": self.reactor.seconds(),
            "data": relative,
            "checksums": summary.checksums,
        }
        return self._commitPart(bucket, key, uploadId, doc)

    def uploadPartCopy(
        self, bucket, key, uploadId, partNumber, srcBucket, srcKey, prepare, srcVersionId=None
    ):
        return self._run(
            self.thd_uploadPartCopy,
            bucket,
            key,
            uploadId,
            partNumber,
            srcBucket,
            srcKey,
            prepare,
            srcVersionId,
        )

    def thd_uploadPartCopy(
        self, bucket, key, uploadId, partNumber, srcBucket, srcKey, prepare, srcVersionId=None
    ):
        bucketDir, _ = self._readUpload(bucket, key, uploadId)
        _, reader = self._openSource(srcBucket, srcKey, srcVersionId)
        try:
            offset, length = prepare(reader.info)
            relative, path = self._newDataPath(bucketDir)
            md5 = hashlib.md5()
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                end = offset + length
                while offset < end:
                    chunk = reader.thd_read(offset, min(READ_SIZE, end - offset))
                    if not chunk:
                        break
                    md5.update(chunk)
                    os.write(out, chunk)
                    offset += len(chunk)
                if self.fsync:
                    os.fsync(out)
            except BaseException:
                os.close(out)
                unlinkQuietly(path)
                raise
            os.close(out)
            self._syncData(path)
        finally:
            reader.close()
        doc = {
            "partNumber": partNumber,
            "size": length,
            "etag": md5.hexdigest(),
            "lastModified": self.reactor.seconds(),
            "data": relative,
            "checksums": {},
        }
        return self._commitPart(bucket, key, uploadId, doc)

    def _readParts(self, bucketDir, uploadId):
        directory = self._uploadDir(bucketDir, uploadId)
        parts = {}
        for name in os.listdir(directory):
            if name.startswith("part-") and name.endswith(".json"):
                doc = self._readJSON(os.path.join(directory, name))
                if doc is not None:
                    parts[doc["partNumber"]] = doc
        return parts

    def listParts(self, bucket, key, uploadId, partNumberMarker=0, maxParts=1000):
        return self._run(self.thd_listParts, bucket, key, uploadId, partNumberMarker, maxParts)

    def thd_listParts(self, bucket, key, uploadId, partNumberMarker, maxParts):
        bucketDir, _ = self._readUpload(bucket, key, uploadId)
        parts = self._readParts(bucketDir, uploadId)
        numbers = [n for n in sorted(parts) if n > partNumberMarker]
        chosen = numbers[:maxParts]
        truncated = len(numbers) > len(chosen)
        return PartList(
            [_partFromJSON(parts[n]) for n in chosen],
            truncated,
            chosen[-1] if truncated and chosen else None,
        )

    def listMultipartUploads(
        self, bucket, prefix="", delimiter="", keyMarker="", uploadIdMarker="", maxUploads=1000
    ):
        return self._run(
            self.thd_listMultipartUploads,
            bucket,
            prefix,
            delimiter,
            keyMarker,
            uploadIdMarker,
            maxUploads,
        )

    def thd_listMultipartUploads(
        self, bucket, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads
    ):
        self._readBucket(bucket)
        bucketDir = self._bucketDir(bucket)
        uploads = []
        for uploadId in os.listdir(os.path.join(bucketDir, "uploads")):
            if not _isUploadId(uploadId):
                continue
            doc = self._readJSON(os.path.join(self._uploadDir(bucketDir, uploadId), "upload.json"))
            if doc is not None:
                uploads.append(_uploadFromJSON(bucket, doc))
        uploads.sort(key=lambda u: (u.key, u.initiated, u.uploadId))
        return UploadList(
            *common.listUploads(uploads, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads)
        )

    def completeMultipartUpload(self, bucket, key, uploadId, parts, conditions=None):
        return self._run(
            self.thd_completeMultipartUpload, bucket, key, uploadId, list(parts), conditions
        )

    def _completedPath(self, bucketDir, uploadId):
        return os.path.join(bucketDir, "uploads", uploadId + ".done")

    def _completedAgain(self, bucket, key, uploadId, parts):
        """
        @return: the L{ObjectInfo} a completed upload made, if it was
            completed with C{parts} not long ago.
        @raise NoSuchUpload: otherwise.
        """
        bucketDir = self._bucketDir(bucket)
        record = None
        if _isUploadId(uploadId):
            record = self._readJSON(self._completedPath(bucketDir, uploadId))
        if (
            record is None
            or record["key"] != key
            or record["parts"] != common.completionParts(parts)
            or record["completed"] < self.reactor.seconds() - common.COMPLETED_UPLOAD_RETENTION
        ):
            raise errors.NoSuchUpload(UploadId=uploadId)
        return _infoFromJSON(bucket, record["object"])

    def _forgetCompleted(self, bucketDir):
        """
        Remove the records of uploads completed too long ago to be
        completed again (at most once an hour for each bucket).
        """
        now = self.reactor.seconds()
        if self._nextForget.get(bucketDir, 0) > now:
            return
        self._nextForget[bucketDir] = now + 3600
        cutoff = now - common.COMPLETED_UPLOAD_RETENTION
        uploads = os.path.join(bucketDir, "uploads")
        for name in os.listdir(uploads):
            if name.endswith(".done"):
                record = self._readJSON(os.path.join(uploads, name))
                if record is not None and record["completed"] < cutoff:
                    unlinkQuietly(os.path.join(uploads, name))

    def thd_completeMultipartUpload(self, bucket, key, uploadId, parts, conditions):
        try:
            bucketDir, _ = self._readUpload(bucket, key, uploadId)
        except errors.NoSuchUpload:
            return self._completedAgain(bucket, key, uploadId, parts)
        with self._locked(bucket):
            try:
                _, upload = self._readUpload(bucket, key, uploadId)
            except errors.NoSuchUpload:
                return self._completedAgain(bucket, key, uploadId, parts)
            stored = self._readParts(bucketDir, uploadId)
            chosen = common.checkCompletion(
                parts, {n: _partFromJSON(doc) for n, doc in stored.items()}, self.minPartSize
            )
            doc = {
                "key": key,
                "size": sum(p.size for p in chosen),
                "etag": common.multipartETag([p.etag for p in chosen]),
                "lastModified": self.reactor.seconds(),
                "settings": upload["settings"],
                "segments": [[stored[p.partNumber]["data"], p.size] for p in chosen],
            }
            old = self._commitObject(bucket, bucketDir, doc, conditions)
            used = {p.partNumber for p in chosen}
            unused = [[d["data"], d["size"]] for n, d in stored.items() if n not in used]
            self._writeJSON(
                bucketDir,
                self._completedPath(bucketDir, uploadId),
                {
                    "key": key,
                    "parts": common.completionParts(parts),
                    "completed": self.reactor.seconds(),
                    "object": doc,
                },
            )
            shutil.rmtree(self._uploadDir(bucketDir, uploadId), ignore_errors=True)
        self._unlinkSegments(bucketDir, old + unused)
        self._forgetCompleted(bucketDir)
        return _infoFromJSON(bucket, doc)

    def abortMultipartUpload(self, bucket, key, uploadId):
        return self._run(self.thd_abortMultipartUpload, bucket, key, uploadId)

    def thd_abortMultipartUpload(self, bucket, key, uploadId):
        bucketDir, _ = self._readUpload(bucket, key, uploadId)
        with self._locked(bucket):
            self._readUpload(bucket, key, uploadId)
            stored = self._readParts(bucketDir, uploadId)
            shutil.rmtree(self._uploadDir(bucketDir, uploadId), ignore_errors=True)
        self._unlinkSegments(bucketDir, [[d["data"], d["size"]] for d in stored.values()])


class _Replay:
    """
    A checked body read again from its file.
    """

    def __init__(self, source, summary):
        self.source = source
        self.summary = summary

    def read(self, size):
        return self.source.read(size)

    def finish(self):
        return self.summary


def _bucketJSON(info):
    return {
        "name": info.name,
        "owner": info.owner,
        "created": info.created,
        "grants": [g.toJSON() for g in info.acl],
        "location": info.location,
        "versioning": info.versioning,
    }


def _isKey(key):
    try:
        common.checkKey(key)
    except errors.S3Error:
        return False
    return True

