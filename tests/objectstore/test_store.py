# -*- test-case-name: tests.objectstore.test_store -*-
"""
Contract tests of L{IObjectStore}, run against L{MemoryObjectStore} and
L{FilesystemObjectStore}, plus what only the filesystem store promises
(safe paths, atomic replacement under real threads).
"""

import hashlib
import json
import os
import shutil
import tempfile
import threading

from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from nova.objectstore import errors
from nova.objectstore.body import BytesBody, RequestBody
from nova.objectstore.fake import MemoryObjectStore
from nova.objectstore.filesystem import FilesystemObjectStore, keyRelativePath
from nova.objectstore.interfaces import (
    ALL_USERS,
    Grant,
    IObjectReader,
    IObjectStore,
    ObjectSettings,
    WriteConditions,
)
from nova.objectstore.resource import StagingFile
from tests.objectstore.helpers import InlineThreadReactor

SETTINGS = ObjectSettings(
    owner="proj1",
    contentType="text/plain",
    headers={"Cache-Control": "no-cache"},
    metadata={"color": "blue"},
)
HOSTILE_KEYS = [
    "../../etc/passwd",
    "a/../../b",
    "%2e%2e/",
    "..",
    ".",
    "/",
    "//double//slash",
    "back\\slash",
    "ключ/ü€𝄞",
    "x" * 1024,
    "é" * 512,
    "a b+c&d=e?f#g",
    "\t\n\r",
]


class BadBody(BytesBody):
    """
    A body whose check fails after it was read.
    """

    def finish(self):
        BytesBody.finish(self)
        raise errors.BadDigest()


class ObjectStoreContract:
    """
    The behaviour every L{IObjectStore} shares.  Subclasses define
    C{makeStore()} and set C{self.clock}.
    """

    def setUp(self):
        self.store = self.makeStore()
        self.successResultOf(self.store.createBucket("bucket", "proj1"))

    def put(self, key, data, settings=SETTINGS, bucket="bucket", conditions=None):
        return self.successResultOf(
            self.store.putObject(bucket, key, BytesBody(data), settings, conditions)
        )

    def read(self, key, bucket="bucket"):
        reader = self.successResultOf(self.store.openObject(bucket, key))
        try:
            return self.successResultOf(reader.read(0, reader.info.size + 10))
        finally:
            reader.close()

    def test_provides(self):
        self.assertTrue(verifyObject(IObjectStore, self.store))

    def test_buckets(self):
        self.clock.advance(5)
        info = self.successResultOf(self.store.createBucket("another-one", "proj2", (), "eu"))
        self.assertEqual((info.name, info.owner, info.created, info.location), ("another-one", "proj2", 5, "eu"))
        self.assertEqual(self.successResultOf(self.store.getBucket("another-one")), info)
        names = [b.name for b in self.successResultOf(self.store.listBuckets())]
        self.assertEqual(names, ["another-one", "bucket"])

    def test_createTwice(self):
        failure = self.failureResultOf(
            self.store.createBucket("bucket", "proj2"), errors.BucketAlreadyExists
        )
        self.assertEqual(failure.value.existingOwner, "proj1")

    def test_invalidBucketNames(self):
        for name in ["ab", "A" * 5, "-abc", "abc-", "a..b", "192.168.1.1", "x" * 64, "a_b", "xn--abc"]:
            self.failureResultOf(self.store.createBucket(name, "proj1"), errors.InvalidBucketName)

    def test_noSuchBucket(self):
        for d in [
            self.store.getBucket("missing"),
            self.store.getBucket("../etc"),
            self.store.listObjects("missing"),
            self.store.getObjectInfo("missing", "k"),
            self.store.putObject("missing", "k", BytesBody(b"x"), SETTINGS),
            self.store.deleteObject("missing", "k"),
            self.store.deleteBucket("missing"),
            self.store.createMultipartUpload("missing", "k", SETTINGS),
        ]:
            self.failureResultOf(d, errors.NoSuchBucket)

    def test_deleteBucket(self):
        self.put("k", b"data")
        self.failureResultOf(self.store.deleteBucket("bucket"), errors.BucketNotEmpty)
        self.assertTrue(self.successResultOf(self.store.deleteObject("bucket", "k")))
        self.successResultOf(self.store.createMultipartUpload("bucket", "upload", SETTINGS))
        self.successResultOf(self.store.deleteBucket("bucket"))
        self.failureResultOf(self.store.getBucket("bucket"), errors.NoSuchBucket)
        self.successResultOf(self.store.createBucket("bucket", "proj2"))
        result = self.successResultOf(self.store.listMultipartUploads("bucket"))
        self.assertEqual(result.uploads, ())

    def test_setBucketACL(self):
        grants = (Grant("Group", ALL_USERS, "READ"),)
        self.successResultOf(self.store.setBucketACL("bucket", grants))
        self.assertEqual(self.successResultOf(self.store.getBucket("bucket")).acl, grants)

    def test_putAndGet(self):
        self.clock.advance(7)
        info = self.put("dir/key.txt", b"hello world")
        self.assertEqual(info.etag, hashlib.md5(b"hello world").hexdigest())
        self.assertEqual((info.size, info.lastModified, info.partSizes), (11, 7, (11,)))
        stored = self.successResultOf(self.store.getObjectInfo("bucket", "dir/key.txt"))
        self.assertEqual(stored, info)
        self.assertEqual(stored.settings, SETTINGS)
        self.assertEqual(self.read("dir/key.txt"), b"hello world")
        reader = self.successResultOf(self.store.openObject("bucket", "dir/key.txt"))
        self.assertTrue(verifyObject(IObjectReader, reader))
        self.assertEqual(self.successResultOf(reader.read(6, 3)), b"wor")
        reader.close()
        reader.close()

    def test_emptyObject(self):
        info = self.put("empty", b"")
        self.assertEqual((info.size, info.etag), (0, hashlib.md5(b"").hexdigest()))
        self.assertEqual(self.read("empty"), b"")

    def test_noSuchKey(self):
        self.failureResultOf(self.store.getObjectInfo("bucket", "nope"), errors.NoSuchKey)
        self.failureResultOf(self.store.openObject("bucket", "nope"), errors.NoSuchKey)
        self.assertFalse(self.successResultOf(self.store.deleteObject("bucket", "nope")))

    def test_overwriteKeepsOpenReader(self):
        self.put("k", b"old data")
        reader = self.successResultOf(self.store.openObject("bucket", "k"))
        self.put("k", b"new")
        self.assertEqual(self.successResultOf(reader.read(0, 100)), b"old data")
        reader.close()
        self.assertEqual(self.read("k"), b"new")

    def test_failedBodyLeavesNothing(self):
        self.failureResultOf(
            self.store.putObject("bucket", "k", BadBody(b"data"), SETTINGS), errors.BadDigest
        )
        self.failureResultOf(self.store.getObjectInfo("bucket", "k"), errors.NoSuchKey)
        self.put("k", b"first")
        self.failureResultOf(
            self.store.putObject("bucket", "k", BadBody(b"second"), SETTINGS), errors.BadDigest
        )
        self.assertEqual(self.read("k"), b"first")

    def test_writeConditions(self):
        self.failureResultOf(
            self.store.putObject("bucket", "k", BytesBody(b"x"), SETTINGS, WriteConditions(ifMatch="abc")),
            errors.NoSuchKey,
        )
        info = self.put("k", b"x", conditions=WriteConditions(ifNoneMatch="*"))
        self.failureResultOf(
            self.store.putObject("bucket", "k", BytesBody(b"y"), SETTINGS, WriteConditions(ifNoneMatch="*")),
            errors.PreconditionFailed,
        )
        self.failureResultOf(
            self.store.putObject("bucket", "k", BytesBody(b"y"), SETTINGS, WriteConditions(ifMatch='"0000"')),
            errors.PreconditionFailed,
        )
        self.put("k", b"z", conditions=WriteConditions(ifMatch=f'"{info.etag}"'))
        self.assertEqual(self.read("k"), b"z")

    def test_keys(self):
        for key in HOSTILE_KEYS:
            self.put(key, key.encode("utf-8"))
        for key in HOSTILE_KEYS:
            self.assertEqual(self.read(key), key.encode("utf-8"))
        result = self.successResultOf(self.store.listObjects("bucket"))
        listed = [info.key for info in result.contents]
        self.assertEqual(listed, sorted(HOSTILE_KEYS, key=lambda k: k.encode("utf-8")))
        for key in HOSTILE_KEYS:
            self.assertTrue(self.successResultOf(self.store.deleteObject("bucket", key)))
        self.assertEqual(self.successResultOf(self.store.listObjects("bucket")).contents, ())

    def test_badKeys(self):
        self.failureResultOf(
            self.store.putObject("bucket", "x" * 1025, BytesBody(b""), SETTINGS),
            errors.KeyTooLongError,
        )
        self.failureResultOf(
            self.store.putObject("bucket", "a\x00b", BytesBody(b""), SETTINGS),
            errors.InvalidArgument,
        )

    def test_listing(self):
        keys = ["a", "b/1", "b/2", "b/3", "c", "d/x/y", "d/z", "e"]
        for key in keys:
            self.put(key, b"x")
        page = self.successResultOf(self.store.listObjects("bucket", maxKeys=3))
        self.assertEqual([i.key for i in page.contents], ["a", "b/1", "b/2"])
        self.assertEqual((page.isTruncated, page.nextMarker), (True, "b/2"))
        page = self.successResultOf(self.store.listObjects("bucket", delimiter="/"))
        self.assertEqual([i.key for i in page.contents], ["a", "c", "e"])
        self.assertEqual(page.commonPrefixes, ("b/", "d/"))
        page = self.successResultOf(self.store.listObjects("bucket", delimiter="/", maxKeys=2))
        self.assertEqual(([i.key for i in page.contents], page.commonPrefixes), (["a"], ("b/",)))
        self.assertEqual((page.isTruncated, page.nextMarker), (True, "b/"))
        page = self.successResultOf(
            self.store.listObjects("bucket", delimiter="/", marker="b/", maxKeys=2)
        )
        self.assertEqual(([i.key for i in page.contents], page.commonPrefixes), (["c"], ("d/",)))
        page = self.successResultOf(self.store.listObjects("bucket", prefix="d/", delimiter="/"))
        self.assertEqual(([i.key for i in page.contents], page.commonPrefixes), (["d/z"], ("d/x/",)))
        page = self.successResultOf(self.store.listObjects("bucket", maxKeys=0))
        self.assertEqual((page.contents, page.isTruncated), ((), False))
        page = self.successResultOf(self.store.listObjects("bucket", prefix="b/", marker="b/1"))
        self.assertEqual([i.key for i in page.contents], ["b/2", "b/3"])

    def test_copy(self):
        self.put("src", b"source data")
        seen = []
        newSettings = ObjectSettings(owner="proj2", contentType="image/png")

        def prepare(info):
            seen.append(info.key)
            return newSettings

        info = self.successResultOf(
            self.store.copyObject("bucket", "src", "bucket", "dst", prepare)
        )
        self.assertEqual(seen, ["src"])
        self.assertEqual(info.etag, hashlib.md5(b"source data").hexdigest())
        self.assertEqual(info.settings, newSettings)
        self.assertEqual(self.read("dst"), b"source data")
        self.successResultOf(self.store.deleteObject("bucket", "src"))
        self.assertEqual(self.read("dst"), b"source data")

    def test_copyRefused(self):
        self.put("src", b"source")

        def prepare(info):
            raise errors.PreconditionFailed()

        self.failureResultOf(
            self.store.copyObject("bucket", "src", "bucket", "dst", prepare),
            errors.PreconditionFailed,
        )
        self.failureResultOf(self.store.getObjectInfo("bucket", "dst"), errors.NoSuchKey)
        self.failureResultOf(
            self.store.copyObject("bucket", "nope", "bucket", "dst", lambda i: SETTINGS),
            errors.NoSuchKey,
        )

    def test_defaultACL(self):
        """
        A bucket or object given no access control list is private: its
        owner's full control.
        """
        owner = (Grant("CanonicalUser", "proj1", "FULL_CONTROL"),)
        self.assertEqual(self.successResultOf(self.store.getBucket("bucket")).acl, owner)
        self.put("k", b"x", ObjectSettings(owner="proj1"))
        self.assertEqual(self.successResultOf(self.store.getObjectInfo("bucket", "k")).acl, owner)
        self.successResultOf(self.store.createBucket("open", "proj1", ()))
        self.assertEqual(self.successResultOf(self.store.getBucket("open")).acl, ())

    def test_setObjectACL(self):
        self.put("k", b"x")
        grants = (Grant("CanonicalUser", "proj9", "READ"),)
        info = self.successResultOf(self.store.setObjectACL("bucket", "k", grants))
        self.assertEqual(info.acl, grants)
        self.assertEqual(self.successResultOf(self.store.getObjectInfo("bucket", "k")).acl, grants)
        self.failureResultOf(self.store.setObjectACL("bucket", "nope", ()), errors.NoSuchKey)

    def upload(self, key="big", parts=(b"a" * 10, b"b" * 10, b"c" * 3)):
        upload = self.successResultOf(self.store.createMultipartUpload("bucket", key, SETTINGS))
        infos = []
        for number, data in enumerate(parts, 1):
            infos.append(
                self.successResultOf(
                    self.store.uploadPart("bucket", key, upload.uploadId, number, BytesBody(data))
                )
            )
        return upload, infos

    def test_multipart(self):
        upload, parts = self.upload()
        self.assertEqual(
            self.successResultOf(self.store.getMultipartUpload("bucket", "big", upload.uploadId)),
            upload,
        )
        listed = self.successResultOf(self.store.listParts("bucket", "big", upload.uploadId))
        self.assertEqual(listed.parts, tuple(parts))
        page = self.successResultOf(
            self.store.listParts("bucket", "big", upload.uploadId, partNumberMarker=1, maxParts=1)
        )
        self.assertEqual(([p.partNumber for p in page.parts], page.isTruncated), ([2], True))
        self.assertEqual(page.nextPartNumberMarker, 2)
        info = self.successResultOf(
            self.store.completeMultipartUpload(
                "bucket", "big", upload.uploadId, [(p.partNumber, f'"{p.etag}"') for p in parts]
            )
        )
        digests = b"".join(hashlib.md5(d).digest() for d in (b"a" * 10, b"b" * 10, b"c" * 3))
        self.assertEqual(info.etag, hashlib.md5(digests).hexdigest() + "-3")
        self.assertEqual((info.size, info.partSizes), (23, (10, 10, 3)))
        self.assertEqual(info.settings, SETTINGS)
        self.assertEqual(self.read("big"), b"a" * 10 + b"b" * 10 + b"c" * 3)
        reader = self.successResultOf(self.store.openObject("bucket", "big"))
        self.assertEqual(self.successResultOf(reader.read(8, 4)), b"aabb")
        self.assertEqual(self.successResultOf(reader.read(18, 100)), b"bbccc")
        reader.close()
        self.failureResultOf(
            self.store.getMultipartUpload("bucket", "big", upload.uploadId), errors.NoSuchUpload
        )

    def test_completeChecks(self):
        upload, parts = self.upload(parts=(b"a" * 10, b"b" * 4, b"c" * 10))
        uid = upload.uploadId
        etags = [f'"{p.etag}"' for p in parts]
        self.failureResultOf(
            self.store.completeMultipartUpload("bucket", "big", uid, [(2, etags[1]), (1, etags[0])]),
            errors.InvalidPartOrder,
        )
        self.failureResultOf(
            self.store.completeMultipartUpload("bucket", "big", uid, [(1, etags[1])]),
            errors.InvalidPart,
        )
        self.failureResultOf(
            self.store.completeMultipartUpload("bucket", "big", uid, [(1, etags[0]), (4, etags[0])]),
            errors.InvalidPart,
        )
        self.failureResultOf(
            self.store.completeMultipartUpload(
                "bucket", "big", uid, [(1, etags[0]), (2, etags[1]), (3, etags[2])]
            ),
            errors.EntityTooSmall,
        )
        info = self.successResultOf(
            self.store.completeMultipartUpload("bucket", "big", uid, [(1, etags[0]), (3, etags[2])])
        )
        self.assertEqual(self.read("big"), b"a" * 10 + b"c" * 10)
        self.assertEqual(info.partSizes, (10, 10))

    def test_completeAgain(self):
        """
        A completed upload may be completed again with the same parts for a
        day: nothing changes and the first completion's object is answered.
        """
        upload, parts = self.upload()
        requested = [(p.partNumber, f'"{p.etag}"') for p in parts]
        first = self.successResultOf(
            self.store.completeMultipartUpload("bucket", "big", upload.uploadId, requested)
        )
        self.put("big", b"replaced")
        again = self.successResultOf(
            self.store.completeMultipartUpload("bucket", "big", upload.uploadId, requested)
        )
        self.assertEqual(again, first)
        self.assertEqual(self.read("big"), b"replaced")
        for otherParts, otherKey in [(requested[:2], "big"), (requested, "other")]:
            self.failureResultOf(
                self.store.completeMultipartUpload("bucket", otherKey, upload.uploadId, otherParts),
                errors.NoSuchUpload,
            )
        self.failureResultOf(
            self.store.listParts("bucket", "big", upload.uploadId), errors.NoSuchUpload
        )
        self.clock.advance(24 * 3600 + 1)
        self.failureResultOf(
            self.store.completeMultipartUpload("bucket", "big", upload.uploadId, requested),
            errors.NoSuchUpload,
        )

    def test_abort(self):
        upload, _ = self.upload()
        self.successResultOf(self.store.abortMultipartUpload("bucket", "big", upload.uploadId))
        for d in [
            self.store.abortMultipartUpload("bucket", "big", upload.uploadId),
            self.store.listParts("bucket", "big", upload.uploadId),
            self.store.uploadPart("bucket", "big", upload.uploadId, 1, BytesBody(b"x")),
            self.store.completeMultipartUpload("bucket", "big", upload.uploadId, [(1, "x")]),
            self.store.getMultipartUpload("bucket", "big", "../../etc"),
            self.store.getMultipartUpload("bucket", "other-key", upload.uploadId),
        ]:
            self.failureResultOf(d, errors.NoSuchUpload)
        self.failureResultOf(self.store.getObjectInfo("bucket", "big"), errors.NoSuchKey)

    def test_replacePart(self):
        upload = self.successResultOf(self.store.createMultipartUpload("bucket", "k", SETTINGS))
        self.successResultOf(self.store.uploadPart("bucket", "k", upload.uploadId, 1, BytesBody(b"first")))
        part = self.successResultOf(
            self.store.uploadPart("bucket", "k", upload.uploadId, 1, BytesBody(b"second"))
        )
        self.successResultOf(
            self.store.completeMultipartUpload("bucket", "k", upload.uploadId, [(1, part.etag)])
        )
        self.assertEqual(self.read("k"), b"second")

    def test_uploadPartCopy(self):
        self.put("src", b"0123456789")
        upload = self.successResultOf(self.store.createMultipartUpload("bucket", "dst", SETTINGS))
        part = self.successResultOf(
            self.store.uploadPartCopy(
                "bucket", "dst", upload.uploadId, 1, "bucket", "src", lambda info: (2, 5)
            )
        )
        self.assertEqual((part.size, part.etag), (5, hashlib.md5(b"23456").hexdigest()))
        self.successResultOf(
            self.store.completeMultipartUpload("bucket", "dst", upload.uploadId, [(1, part.etag)])
        )
        self.assertEqual(self.read("dst"), b"23456")

    def test_listMultipartUploads(self):
        ids = {}
        for key in ["a/1", "a/2", "b", "b", "c"]:
            self.clock.advance(1)
            upload = self.successResultOf(self.store.createMultipartUpload("bucket", key, SETTINGS))
            ids.setdefault(key, []).append(upload.uploadId)
        result = self.successResultOf(self.store.listMultipartUploads("bucket"))
        self.assertEqual([u.key for u in result.uploads], ["a/1", "a/2", "b", "b", "c"])
        result = self.successResultOf(self.store.listMultipartUploads("bucket", delimiter="/"))
        self.assertEqual(([u.key for u in result.uploads], result.commonPrefixes), (["b", "b", "c"], ("a/",)))
        result = self.successResultOf(self.store.listMultipartUploads("bucket", maxUploads=3))
        self.assertEqual((result.isTruncated, result.nextKeyMarker), (True, "b"))
        self.assertEqual(result.nextUploadIdMarker, ids["b"][0])
        result = self.successResultOf(
            self.store.listMultipartUploads(
                "bucket", keyMarker="b", uploadIdMarker=ids["b"][0]
            )
        )
        self.assertEqual([u.uploadId for u in result.uploads], [ids["b"][1], ids["c"][0]])

    # Versioning

    def versions(self, key=None, **kwargs):
        """
        @return: C{(key, versionId, isDeleteMarker, isLatest)} of every
            version listed (of C{key} only, if given).
        """
        result = self.successResultOf(self.store.listObjectVersions("bucket", **kwargs))
        return [
            (v.key, v.versionId, v.isDeleteMarker, latest)
            for v, latest in result.versions
            if key is None or v.key == key
        ]

    def test_neverVersioned(self):
        """
        A bucket that never kept versions has one version of each key,
        C{null}, and deleting removes it.
        """
        self.assertEqual(self.successResultOf(self.store.getBucket("bucket")).versioning, "")
        self.assertEqual(self.put("k", b"one").versionId, "null")
        self.assertEqual(self.put("k", b"two").versionId, "null")
        self.assertEqual(self.versions(), [("k", "null", False, True)])
        info = self.successResultOf(self.store.getObjectInfo("bucket", "k", "null"))
        self.assertEqual(info.size, 3)
        deletion = self.successResultOf(self.store.deleteObject("bucket", "k"))
        self.assertEqual((deletion.existed, deletion.versionId, deletion.deleteMarker), (True, None, False))
        self.assertEqual(self.versions(), [])

    def test_enabled(self):
        """
        With versioning enabled each write is a new version, reads without
        a version id see the latest, and each version stays readable.
        """
        info = self.successResultOf(self.store.setBucketVersioning("bucket", "Enabled"))
        self.assertEqual(info.versioning, "Enabled")
        self.assertEqual(self.successResultOf(self.store.getBucket("bucket")).versioning, "Enabled")
        first = self.put("k", b"one")
        self.clock.advance(1)
        second = self.put("k", b"two!")
        self.assertNotEqual(first.versionId, second.versionId)
        for info in (first, second):
            self.assertRegex(info.versionId, "^[0-9a-f]{32}$")
        self.assertEqual(self.read("k"), b"two!")
        reader = self.successResultOf(self.store.openObject("bucket", "k", first.versionId))
        self.assertEqual(self.successResultOf(reader.read(0, 10)), b"one")
        self.assertEqual(reader.info.versionId, first.versionId)
        reader.close()
        self.assertEqual(
            self.versions(),
            [("k", second.versionId, False, True), ("k", first.versionId, False, False)],
        )
        self.failureResultOf(
            self.store.getObjectInfo("bucket", "k", "0" * 32), errors.NoSuchVersion
        )
        self.failureResultOf(self.store.openObject("bucket", "k", "null"), errors.NoSuchVersion)

    def test_deleteMarkers(self):
        """
        Deleting without a version id adds a delete marker: the key reads
        as missing and is not listed, but its versions stay; removing the
        marker brings the object back.
        """
        self.successResultOf(self.store.setBucketVersioning("bucket", "Enabled"))
        first = self.put("k", b"one")
        other = self.put("other", b"x")
        deletion = self.successResultOf(self.store.deleteObject("bucket", "k", owner="proj2"))
        self.assertTrue(deletion.existed and deletion.deleteMarker)
        markerId = deletion.versionId
        failure = self.failureResultOf(self.store.getObjectInfo("bucket", "k"), errors.NoSuchKey)
        self.assertEqual(failure.value.deleteMarker.versionId, markerId)
        self.assertEqual(failure.value.deleteMarker.owner, "proj2")
        self.failureResultOf(self.store.openObject("bucket", "k"), errors.NoSuchKey)
        failure = self.failureResultOf(
            self.store.openObject("bucket", "k", markerId), errors.MethodNotAllowed
        )
        self.assertEqual(failure.value.deleteMarker.versionId, markerId)
        self.assertEqual(self.read_version("k", first.versionId), b"one")
        listed = self.successResultOf(self.store.listObjects("bucket"))
        self.assertEqual([i.key for i in listed.contents], ["other"])
        self.assertEqual(
            self.versions("k"), [("k", markerId, True, True), ("k", first.versionId, False, False)]
        )
        self.failureResultOf(self.store.deleteBucket("bucket"), errors.BucketNotEmpty)
        deletion = self.successResultOf(self.store.deleteObject("bucket", "k", markerId))
        self.assertEqual((deletion.versionId, deletion.deleteMarker), (markerId, True))
        self.assertEqual(self.read("k"), b"one")
        deletion = self.successResultOf(self.store.deleteObject("bucket", "k", first.versionId))
        self.assertEqual((deletion.existed, deletion.deleteMarker), (True, False))
        self.assertEqual(self.versions("k"), [])
        self.assertFalse(self.successResultOf(self.store.deleteObject("bucket", "k", first.versionId)))
        self.assertFalse(self.successResultOf(self.store.deleteObject("bucket", "other", "null")))
        self.successResultOf(self.store.deleteObject("bucket", "other", other.versionId))
        self.successResultOf(self.store.deleteBucket("bucket"))

    def read_version(self, key, versionId):
        reader = self.successResultOf(self.store.openObject("bucket", key, versionId))
        try:
            return self.successResultOf(reader.read(0, reader.info.size + 10))
        finally:
            reader.close()

    def test_suspended(self):
        """
        With versioning suspended writes and deletes replace the null
        version and keep the others.
        """
        self.put("k", b"before")
        self.successResultOf(self.store.setBucketVersioning("bucket", "Enabled"))
        kept = self.put("k", b"kept")
        self.successResultOf(self.store.setBucketVersioning("bucket", "Suspended"))
        self.assertEqual(self.put("k", b"one").versionId, "null")
        self.assertEqual(self.put("k", b"two").versionId, "null")
        self.assertEqual(self.versions(), [("k", "null", False, True), ("k", kept.versionId, False, False)])
        self.assertEqual(self.read_version("k", "null"), b"two")
        deletion = self.successResultOf(self.store.deleteObject("bucket", "k"))
        self.assertEqual((deletion.versionId, deletion.deleteMarker), ("null", True))
        self.assertEqual(self.versions(), [("k", "null", True, True), ("k", kept.versionId, False, False)])
        self.assertEqual(self.read_version("k", kept.versionId), b"kept")

    def test_versionedWrites(self):
        """
        Copies, completed uploads and ACL changes address versions; write
        conditions see the latest version (none behind a delete marker).
        """
        self.successResultOf(self.store.setBucketVersioning("bucket", "Enabled"))
        first = self.put("src", b"first")
        self.put("src", b"second")
        copy = self.successResultOf(
            self.store.copyObject("bucket", "src", "bucket", "dst", lambda i: SETTINGS, first.versionId)
        )
        self.assertNotIn(copy.versionId, ("null", first.versionId))
        self.assertEqual(self.read("dst"), b"first")
        grants = (Grant("Group", ALL_USERS, "READ"),)
        self.successResultOf(self.store.setObjectACL("bucket", "src", grants, first.versionId))
        self.assertEqual(
            self.successResultOf(self.store.getObjectInfo("bucket", "src", first.versionId)).acl, grants
        )
        self.assertNotEqual(self.successResultOf(self.store.getObjectInfo("bucket", "src")).acl, grants)
        upload, parts = self.upload(key="src", parts=(b"a" * 10, b"b"))
        info = self.successResultOf(
            self.store.completeMultipartUpload(
                "bucket", "src", upload.uploadId, [(1, parts[0].etag), (2, parts[1].etag)]
            )
        )
        self.assertEqual(len(self.versions("src")), 3)
        self.assertEqual(self.versions("src")[0][1], info.versionId)
        self.successResultOf(self.store.deleteObject("bucket", "src"))
        self.put("src", b"again", conditions=WriteConditions(ifNoneMatch="*"))
        self.assertEqual(len(self.versions("src")), 5)

    def test_listVersionsPaging(self):
        """
        Versions page by key and version id markers; common prefixes and
        delete markers count like versions.
        """
        self.successResultOf(self.store.setBucketVersioning("bucket", "Enabled"))
        ids = {}
        for key in ["a", "a", "b/1", "b/2", "c", "c"]:
            ids.setdefault(key, []).insert(0, self.put(key, key.encode()).versionId)
        ids["c"].insert(0, self.successResultOf(self.store.deleteObject("bucket", "c")).versionId)
        everything = self.versions()
        self.assertEqual([(k, v) for k, v, _, _ in everything], [
            ("a", ids["a"][0]), ("a", ids["a"][1]), ("b/1", ids["b/1"][0]), ("b/2", ids["b/2"][0]),
            ("c", ids["c"][0]), ("c", ids["c"][1]), ("c", ids["c"][2]),
        ])
        seen, keyMarker, versionIdMarker = [], "", ""
        while True:
            result = self.successResultOf(
                self.store.listObjectVersions(
                    "bucket", keyMarker=keyMarker, versionIdMarker=versionIdMarker, maxKeys=2
                )
            )
            seen.extend((v.key, v.versionId) for v, _ in result.versions)
            if not result.isTruncated:
                break
            keyMarker, versionIdMarker = result.nextKeyMarker, result.nextVersionIdMarker
        self.assertEqual(seen, [(k, v) for k, v, _, _ in everything])
        result = self.successResultOf(self.store.listObjectVersions("bucket", delimiter="/", maxKeys=3))
        self.assertEqual(
            ([v.key for v, _ in result.versions], result.commonPrefixes), (["a", "a"], ("b/",))
        )
        self.assertEqual((result.nextKeyMarker, result.nextVersionIdMarker), ("b/", None))
        result = self.successResultOf(
            self.store.listObjectVersions("bucket", delimiter="/", keyMarker="b/")
        )
        self.assertEqual([v.key for v, _ in result.versions], ["c", "c", "c"])
        self.assertEqual(self.versions(prefix="b/"), [
            ("b/1", ids["b/1"][0], False, True), ("b/2", ids["b/2"][0], False, True),
        ])
        listed = self.successResultOf(self.store.listObjects("bucket", delimiter="/"))
        self.assertEqual(([i.key for i in listed.contents], listed.commonPrefixes), (["a"], ("b/",)))
        self.successResultOf(self.store.deleteObject("bucket", "b/1"))
        self.successResultOf(self.store.deleteObject("bucket", "b/2"))
        listed = self.successResultOf(self.store.listObjects("bucket", delimiter="/"))
        self.assertEqual(([i.key for i in listed.contents], listed.commonPrefixes), (["a"], ()))
        listed = self.successResultOf(self.store.listObjects("bucket", maxKeys=1))
        self.assertEqual(([i.key for i in listed.contents], listed.isTruncated), (["a"], False))



class MemoryObjectStoreTests(ObjectStoreContract, SynchronousTestCase):
    def makeStore(self):
        self.clock = Clock()
        return MemoryObjectStore(self.clock, minPartSize=10)


class FilesystemObjectStoreTests(ObjectStoreContract, SynchronousTestCase):
    def makeStore(self):
        self.clock = InlineThreadReactor()
        self.parent = tempfile.mkdtemp(prefix="nova-fs-test-")
        self.addCleanup(shutil.rmtree, self.parent, True)
        self.rootPath = os.path.join(self.parent, "buckets")
        return FilesystemObjectStore(self.rootPath, self.clock, fsync=True, minPartSize=10)

    def allFiles(self):
        found = []
        for directory, _, files in os.walk(self.parent):
            found.extend(os.path.join(directory, f) for f in files)
        return found

    def dataFiles(self):
        return [f for f in self.allFiles() if os.sep + "data" + os.sep in f]

    def test_pathsStayInside(self):
        """
        Whatever a key holds, every file the store makes is inside the
        bucket's directory, and keys map to hex names.
        """
        for key in HOSTILE_KEYS:
            self.put(key, b"x")
        bucketDir = os.path.realpath(os.path.join(self.rootPath, "bucket"))
        for path in self.allFiles():
            self.assertTrue(os.path.realpath(path).startswith(self.rootPath + os.sep), path)
        self.assertEqual(keyRelativePath("../x"), "2e2e2f78.k")
        self.assertEqual(keyRelativePath("é" * 512).count(".d" + os.sep), 8)
        self.assertTrue(os.path.isdir(bucketDir))
        self.assertFalse(os.path.exists(os.path.join(self.parent, "etc")))

    def test_noGarbage(self):
        """
        Replaced, deleted, failed and aborted writes leave no data files.
        """
        self.put("k", b"one")
        self.put("k", b"two")
        self.failureResultOf(
            self.store.putObject("bucket", "k", BadBody(b"three"), SETTINGS), errors.BadDigest
        )
        self.assertEqual(len(self.dataFiles()), 1)
        upload, parts = self.upload()
        self.successResultOf(self.store.abortMultipartUpload("bucket", "big", upload.uploadId))
        self.assertEqual(len(self.dataFiles()), 1)
        upload, parts = self.upload(key="k", parts=(b"a" * 10, b"b" * 10, b"c"))
        self.successResultOf(
            self.store.completeMultipartUpload("bucket", "k", upload.uploadId, [(1, parts[0].etag), (3, parts[2].etag)])
        )
        self.assertEqual(len(self.dataFiles()), 2)
        self.successResultOf(self.store.copyObject("bucket", "k", "bucket", "k2", lambda i: SETTINGS))
        self.successResultOf(self.store.deleteObject("bucket", "k"))
        self.assertEqual(self.read("k2"), b"a" * 10 + b"c")
        self.successResultOf(self.store.deleteObject("bucket", "k2"))
        self.assertEqual(self.dataFiles(), [])
        tmp = os.path.join(self.rootPath, "bucket", "tmp")
        self.assertEqual(os.listdir(tmp), [])

    def keyDocument(self, key):
        path = os.path.join(self.rootPath, "bucket", "keys", keyRelativePath(key))
        with open(path) as f:
            return json.load(f)

    def test_versionsOnDisk(self):
        """
        A key of one null version keeps the document it always had (so
        buckets written before versioning read as they did); a key of more
        versions keeps them all in one document, newest first; removing
        versions removes their data files.
        """
        self.put("k", b"old")
        self.assertNotIn("versions", self.keyDocument("k"))
        self.assertNotIn("versionId", self.keyDocument("k"))
        self.successResultOf(self.store.setBucketVersioning("bucket", "Enabled"))
        with open(os.path.join(self.rootPath, "bucket", "bucket.json")) as f:
            self.assertEqual(json.load(f)["versioning"], "Enabled")
        new = self.put("k", b"new")
        marker = self.successResultOf(self.store.deleteObject("bucket", "k")).versionId
        doc = self.keyDocument("k")
        self.assertEqual(doc["key"], "k")
        self.assertEqual(
            [(v["versionId"], v.get("deleteMarker", False)) for v in doc["versions"]],
            [(marker, True), (new.versionId, False), ("null", False)],
        )
        self.assertEqual(len(self.dataFiles()), 2)
        self.successResultOf(self.store.deleteObject("bucket", "k", "null"))
        self.assertEqual(len(self.dataFiles()), 1)
        self.successResultOf(self.store.deleteObject("bucket", "k", new.versionId))
        self.assertEqual(self.dataFiles(), [])
        self.successResultOf(self.store.deleteObject("bucket", "k", marker))
        self.assertFalse(os.listdir(os.path.join(self.rootPath, "bucket", "keys")))
        again = FilesystemObjectStore(self.rootPath, self.clock, fsync=False)
        self.assertEqual(self.successResultOf(again.getBucket("bucket")).versioning, "Enabled")

    def test_legacyBucket(self):
        """
        A bucket and key documents written before versioning (no
        C{versioning}, no C{versionId}) read as a bucket never versioned
        whose objects are null versions.
        """
        self.put("k", b"data")
        bucketPath = os.path.join(self.rootPath, "bucket", "bucket.json")
        with open(bucketPath) as f:
            doc = json.load(f)
        del doc["versioning"]
        with open(bucketPath, "w") as f:
            json.dump(doc, f)
        self.assertEqual(self.successResultOf(self.store.getBucket("bucket")).versioning, "")
        self.assertEqual(self.successResultOf(self.store.getObjectInfo("bucket", "k", "null")).size, 4)
        self.assertEqual(self.versions(), [("k", "null", False, True)])

    def test_legacyACLs(self):
        """
        Documents written when access control lists were kept without the
        owner's full control read as that grant followed by the others.
        """
        import json

        self.put("k", b"x")
        bucketDir = os.path.join(self.rootPath, "bucket")
        public = Grant("Group", ALL_USERS, "READ")
        owner = Grant("CanonicalUser", "proj1", "FULL_CONTROL")
        bucketPath = os.path.join(bucketDir, "bucket.json")
        with open(bucketPath) as f:
            doc = json.load(f)
        doc["acl"] = [public.toJSON()]
        del doc["grants"]
        with open(bucketPath, "w") as f:
            json.dump(doc, f)
        keyPath = os.path.join(bucketDir, "keys", keyRelativePath("k"))
        with open(keyPath) as f:
            doc = json.load(f)
        doc["settings"]["acl"] = [public.toJSON(), owner.toJSON()]
        del doc["settings"]["grants"]
        with open(keyPath, "w") as f:
            json.dump(doc, f)
        self.assertEqual(self.successResultOf(self.store.getBucket("bucket")).acl, (owner, public))
        self.assertEqual(self.successResultOf(self.store.getObjectInfo("bucket", "k")).acl, (owner, public))
        self.successResultOf(self.store.setObjectACL("bucket", "k", (public,)))
        self.assertEqual(self.successResultOf(self.store.getObjectInfo("bucket", "k")).acl, (public,))

    def test_deletedReaderKeepsReading(self):
        self.put("k", b"still here")
        reader = self.successResultOf(self.store.openObject("bucket", "k"))
        self.successResultOf(self.store.deleteObject("bucket", "k"))
        self.assertEqual(self.successResultOf(reader.read(0, 100)), b"still here")
        reader.close()

    def test_leftovers(self):
        """
        A new store removes what a crash left in its trash, and day-old
        staged bodies.
        """
        os.makedirs(os.path.join(self.rootPath, ".trash", "dead", "keys"))
        old = os.path.join(self.rootPath, ".staging", "body-old")
        new = os.path.join(self.rootPath, ".staging", "body-new")
        for path in (old, new):
            open(path, "wb").close()
        os.utime(old, (0, 0))
        FilesystemObjectStore(self.rootPath, self.clock)
        self.assertEqual(os.listdir(os.path.join(self.rootPath, ".trash")), [])
        self.assertEqual(os.listdir(os.path.join(self.rootPath, ".staging")), ["body-new"])

    def test_persistent(self):
        self.put("k", b"data")
        again = FilesystemObjectStore(self.rootPath, self.clock)
        self.assertEqual(self.successResultOf(again.getObjectInfo("bucket", "k")).size, 4)

    def test_requestBody(self):
        """
        The store reads a L{RequestBody} from a file in chunks.
        """
        source = tempfile.TemporaryFile()
        self.addCleanup(source.close)
        data = os.urandom(3 * 1024 * 1024 + 5)
        source.write(data)
        source.seek(0)
        info = self.successResultOf(
            self.store.putObject("bucket", "k", RequestBody(source), SETTINGS)
        )
        self.assertEqual(info.etag, hashlib.md5(data).hexdigest())
        self.assertEqual(self.read("k"), data)


class FilesystemLinkTests(SynchronousTestCase):
    """
    A body buffered in a file on the store's filesystem is linked into
    place, not copied, once it has been checked.
    """

    def setUp(self):
        self.clock = InlineThreadReactor()
        self.root = tempfile.mkdtemp(prefix="nova-fs-link-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.store = FilesystemObjectStore(self.root, self.clock, fsync=True)
        self.successResultOf(self.store.createBucket("bucket", "proj1"))

    def stagedBody(self, data, **kwargs):
        source = StagingFile(self.store.stagingDirectory)
        self.addCleanup(source.discard)
        source.write(data)
        source.flush()
        source.seek(0)
        return source, RequestBody(source, **kwargs)

    def dataFiles(self):
        return [
            os.path.join(d, f)
            for d, _, files in os.walk(os.path.join(self.root, "bucket", "data"))
            for f in files
        ]

    def test_linked(self):
        data = os.urandom(300000)
        source, body = self.stagedBody(data, sha256=hashlib.sha256(data).hexdigest())
        info = self.successResultOf(self.store.putObject("bucket", "k", body, SETTINGS))
        self.assertEqual(info.etag, hashlib.md5(data).hexdigest())
        [path] = self.dataFiles()
        self.assertEqual(os.stat(path).st_ino, os.fstat(source.fileno()).st_ino)
        self.assertEqual(os.listdir(self.store.stagingDirectory), [])
        reader = self.successResultOf(self.store.openObject("bucket", "k"))
        self.assertEqual(self.successResultOf(reader.read(0, len(data))), data)
        reader.close()

    def test_refusedBodyNotLinked(self):
        data = os.urandom(300000)
        _, body = self.stagedBody(data, sha256=hashlib.sha256(b"other").hexdigest())
        self.failureResultOf(
            self.store.putObject("bucket", "k", body, SETTINGS), errors.XAmzContentSHA256Mismatch
        )
        self.assertEqual(self.dataFiles(), [])

    def test_stagedFileGone(self):
        """
        If the staged file was removed (the request ended), the store copies
        what it read.
        """
        data = os.urandom(300000)
        source, body = self.stagedBody(data)
        os.unlink(source.path)
        self.successResultOf(self.store.putObject("bucket", "k", body, SETTINGS))
        reader = self.successResultOf(self.store.openObject("bucket", "k"))
        self.assertEqual(self.successResultOf(reader.read(0, len(data))), data)
        reader.close()


class FilesystemConcurrencyTests(TestCase):
    """
    Real threads writing and reading one key at once.
    """

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="nova-fs-conc-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.pool = ThreadPool(minthreads=2, maxthreads=8)
        self.pool.start()
        self.addCleanup(self.pool.stop)
        self.store = FilesystemObjectStore(self.root, reactor, self.pool, fsync=False)
        return self.store.createBucket("bucket", "proj1")

    async def test_concurrentWriters(self):
        versions = [bytes([65 + i]) * (100000 + i) for i in range(12)]
        await gatherResults(
            [self.store.putObject("bucket", "k", BytesBody(v), SETTINGS) for v in versions]
        )
        reader = await self.store.openObject("bucket", "k")
        data = await reader.read(0, 200000)
        reader.close()
        self.assertIn(data, versions)
        self.assertEqual(hashlib.md5(data).hexdigest(), reader.info.etag)
        files = [f for d, _, fs in os.walk(self.root) for f in fs if os.sep + "data" + os.sep in os.path.join(d, f)]
        self.assertEqual(len(files), 1)

    async def test_readersNeverSeePartial(self):
        """
        While writers replace a key over and over, every read returns one
        whole version.
        """
        versions = [bytes([97 + i]) * 300000 for i in range(6)]
        await self.store.putObject("bucket", "k", BytesBody(versions[0]), SETTINGS)
        stop = threading.Event()
        bad = []

        def readLoop():
            from twisted.internet.threads import blockingCallFromThread

            while not stop.is_set():
                reader = blockingCallFromThread(reactor, self.store.openObject, "bucket", "k")
                data = blockingCallFromThread(reactor, reader.read, 0, 400000)
                reactor.callFromThread(reader.close)
                if data not in versions:
                    bad.append(len(data))

        readers = deferToThread(readLoop)
        for round in range(4):
            await gatherResults(
                [self.store.putObject("bucket", "k", BytesBody(v), SETTINGS) for v in versions]
            )
        stop.set()
        await readers
        self.assertEqual(bad, [])
