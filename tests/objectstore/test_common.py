# -*- test-case-name: tests.objectstore.test_common -*-
"""
Tests for L{nova.objectstore.common}: names, listing pages, ETags, ACLs.
"""

import hashlib

from twisted.trial.unittest import SynchronousTestCase

from nova.context import RequestContext
from nova.objectstore import common, errors
from nova.objectstore.interfaces import ALL_USERS, ANONYMOUS_OWNER, AUTHENTICATED_USERS, Grant, MultipartUpload


class BucketNameTests(SynchronousTestCase):
    def test_valid(self):
        for name in ["abc", "my-bucket", "my.bucket.name", "a" * 63, "0bucket9", "b-1.c-2"]:
            common.checkNewBucketName(name)

    def test_invalid(self):
        for name in ["ab", "a" * 64, "Abc", "abc_", "-abc", "abc.", "a..b", "a.-b", "a-.b",
                     "10.0.0.1", "xn--abc", "abc-s3alias", "abc--ol-s3", "ab c", "", "sthree-x"]:
            self.assertRaises(errors.InvalidBucketName, common.checkNewBucketName, name)

    def test_lookupNames(self):
        self.assertTrue(common.isLookupName("Legacy_Bucket"))
        for name in ["..", ".hidden", "a/b", "a..b", "", "a\x00"]:
            self.assertFalse(common.isLookupName(name))


class KeyTests(SynchronousTestCase):
    def test_keys(self):
        common.checkKey("a" * 1024)
        common.checkKey("é" * 512)
        self.assertRaises(errors.KeyTooLongError, common.checkKey, "é" * 513)
        self.assertRaises(errors.InvalidArgument, common.checkKey, "")
        self.assertRaises(errors.InvalidArgument, common.checkKey, "a\x00")
        self.assertRaises(errors.InvalidURI, common.checkKey, "\udcff")


class PageKeysTests(SynchronousTestCase):
    keys = sorted(["a", "a/b", "a/c", "a/d/e", "b", "c/x", "c/y", "d"])

    def test_prefixEnd(self):
        self.assertEqual(common.prefixEnd("ab"), "ac")
        self.assertEqual(common.prefixEnd("a\U0010ffff"), "b")
        self.assertIsNone(common.prefixEnd("\U0010ffff"))

    def test_plain(self):
        self.assertEqual(common.pageKeys(self.keys, maxKeys=2), (["a", "a/b"], [], True, "a/b"))
        self.assertEqual(common.pageKeys(self.keys, marker="c/x"), (["c/y", "d"], [], False, None))
        self.assertEqual(common.pageKeys(self.keys, marker="zzz"), ([], [], False, None))

    def test_delimiter(self):
        keys, prefixes, truncated, marker = common.pageKeys(self.keys, delimiter="/")
        self.assertEqual((keys, prefixes), (["a", "b", "d"], ["a/", "c/"]))
        keys, prefixes, truncated, marker = common.pageKeys(self.keys, prefix="a/", delimiter="/")
        self.assertEqual((keys, prefixes), (["a/b", "a/c"], ["a/d/"]))
        self.assertEqual(
            common.pageKeys(self.keys, delimiter="/", maxKeys=2), (["a"], ["a/"], True, "a/")
        )
        self.assertEqual(
            common.pageKeys(self.keys, delimiter="/", marker="a/", maxKeys=2), (["b"], ["c/"], True, "c/")
        )
        self.assertEqual(common.pageKeys(self.keys, delimiter="/", marker="a/c"), (["b", "d"], ["c/"], False, None))

    def test_multiCharacterDelimiter(self):
        keys = sorted(["x--1", "x--2", "y"])
        self.assertEqual(common.pageKeys(keys, delimiter="--"), (["y"], ["x--"], False, None))

    def test_maxKeysZero(self):
        self.assertEqual(common.pageKeys(self.keys, maxKeys=0), ([], [], False, None))


class ETagTests(SynchronousTestCase):
    def test_multipart(self):
        parts = [hashlib.md5(b"a").hexdigest(), hashlib.md5(b"b").hexdigest()]
        expected = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
        self.assertEqual(common.multipartETag(parts), expected + "-2")

    def test_normalize(self):
        self.assertEqual(common.normalizeETag(' "abc" '), "abc")
        self.assertEqual(common.normalizeETag('W/"abc"'), "abc")
        self.assertEqual(common.normalizeETag("abc"), "abc")


class CompletionTests(SynchronousTestCase):
    def test_checks(self):
        from nova.objectstore.interfaces import PartInfo

        stored = {1: PartInfo(1, 10, "e1", 0), 2: PartInfo(2, 3, "e2", 0)}
        self.assertRaises(errors.MalformedXML, common.checkCompletion, [], stored, 5)
        self.assertRaises(errors.InvalidPartOrder, common.checkCompletion, [(2, "e2"), (1, "e1")], stored, 5)
        self.assertRaises(errors.InvalidPartOrder, common.checkCompletion, [(1, "e1"), (1, "e1")], stored, 5)
        self.assertRaises(errors.InvalidPart, common.checkCompletion, [(1, "e2")], stored, 5)
        self.assertRaises(errors.EntityTooSmall, common.checkCompletion, [(2, "e2"), (3, "x")], {**stored, 3: PartInfo(3, 1, "x", 0)}, 5)
        self.assertEqual([p.partNumber for p in common.checkCompletion([(1, '"e1"'), (2, "e2")], stored, 5)], [1, 2])


class ACLTests(SynchronousTestCase):
    def test_canned(self):
        """
        A canned ACL lists its group grants, then the owner's full control;
        a C{bucket-owner-*} one the owner, then the bucket's owner.
        """
        owner = Grant("CanonicalUser", "p1", "FULL_CONTROL")
        self.assertEqual(common.cannedACL("private", "p1"), (owner,))
        self.assertEqual(common.cannedACL("public-read", "p1"), (Grant("Group", ALL_USERS, "READ"), owner))
        self.assertEqual(
            common.cannedACL("public-read-write", "p1"),
            (Grant("Group", ALL_USERS, "READ"), Grant("Group", ALL_USERS, "WRITE"), owner),
        )
        self.assertEqual(
            common.cannedACL("authenticated-read", "p1"),
            (Grant("Group", AUTHENTICATED_USERS, "READ"), owner),
        )
        self.assertEqual(
            common.cannedACL("bucket-owner-full-control", "p1", "p2"),
            (owner, Grant("CanonicalUser", "p2", "FULL_CONTROL")),
        )
        self.assertEqual(common.cannedACL("bucket-owner-read", "p1", "p1"), (owner,))
        self.assertEqual(
            common.cannedACL("private", None),
            (Grant("CanonicalUser", ANONYMOUS_OWNER, "FULL_CONTROL"),),
        )
        self.assertRaises(errors.InvalidArgument, common.cannedACL, "everyone", "p1")

    def test_isAllowed(self):
        alice = RequestContext(userId="alice", projectId="p1")
        bob = RequestContext(userId="bob", projectId="p2")
        admin = RequestContext(userId="root", projectId="p3", isAdmin=True)
        public = common.cannedACL("public-read", "p1")
        authenticated = common.cannedACL("authenticated-read", "p1")
        granted = (Grant("CanonicalUser", "p2", "WRITE"),)
        self.assertTrue(common.isAllowed(alice, "p1", (), "WRITE"))
        self.assertFalse(common.isAllowed(bob, "p1", (), "READ"))
        self.assertTrue(common.isAllowed(admin, "p1", (), "WRITE_ACP"))
        self.assertTrue(common.isAllowed(None, "p1", public, "READ"))
        self.assertFalse(common.isAllowed(None, "p1", public, "WRITE"))
        self.assertFalse(common.isAllowed(None, "p1", authenticated, "READ"))
        self.assertTrue(common.isAllowed(bob, "p1", authenticated, "READ"))
        self.assertTrue(common.isAllowed(bob, "p1", granted, "WRITE"))
        self.assertFalse(common.isAllowed(bob, "p1", granted, "READ"))
        self.assertTrue(common.isAllowed(bob, "p1", (), "READ", bucketOwner="p2"))
        self.assertTrue(common.isAllowed(bob, "p1", (Grant("CanonicalUser", "p2", "FULL_CONTROL"),), "READ_ACP"))


class ListUploadsTests(SynchronousTestCase):
    def test_markers(self):
        uploads = [MultipartUpload("b", k, i, 0, None) for k, i in [("a", "1"), ("a", "2"), ("b/c", "3"), ("d", "4")]]
        chosen, prefixes, truncated, key, uid = common.listUploads(uploads, maxUploads=2)
        self.assertEqual(([u.uploadId for u in chosen], truncated, key, uid), (["1", "2"], True, "a", "2"))
        chosen, prefixes, truncated, key, uid = common.listUploads(uploads, keyMarker="a", uploadIdMarker="1")
        self.assertEqual([u.uploadId for u in chosen], ["2", "3", "4"])
        chosen, prefixes, truncated, key, uid = common.listUploads(uploads, keyMarker="a", delimiter="/")
        self.assertEqual(([u.uploadId for u in chosen], prefixes), (["4"], ["b/"]))
