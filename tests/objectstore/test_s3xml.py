# -*- test-case-name: tests.objectstore.test_s3xml -*-
"""
Tests for L{nova.objectstore.s3xml}.
"""

import xml.etree.ElementTree as ET

from twisted.trial.unittest import SynchronousTestCase

from nova.objectstore import errors, s3xml
from nova.objectstore.interfaces import ALL_USERS, Grant, ListResult


class WriteTests(SynchronousTestCase):
    def test_escape(self):
        self.assertEqual(s3xml.escape("a<b>&\"'\x01\x7f"), "a&lt;b&gt;&amp;&quot;&apos;&#x1;&#x7f;")
        self.assertEqual(s3xml.escape("ü\t\n"), "ü\t\n")

    def test_isoTime(self):
        self.assertEqual(s3xml.isoTime(0), "1970-01-01T00:00:00.000Z")
        self.assertEqual(s3xml.isoTime(1.2345), "1970-01-01T00:00:01.234Z")
        self.assertEqual(s3xml.isoTime(1.9999), "1970-01-01T00:00:02.000Z")

    def test_errorDocument(self):
        body = s3xml.errorDocument("NoSuchKey", "gone", "/b/k", "REQ", {"Key": "k", "None": None})
        root = ET.fromstring(body)
        self.assertEqual([c.tag for c in root], ["Code", "Message", "Key", "Resource", "RequestId"])

    def test_errorDocumentWellFormed(self):
        """
        What XML cannot carry is left out of an error document's extra
        elements, percent-encoded in its resource and replaced in its
        message; the document always parses.
        """
        body = s3xml.errorDocument(
            "NoSuchKey",
            "gone\x00",
            "/b/a\x01b",
            "REQ",
            {"Key": "a\x01b", "BucketName": "b", "Content-MD5": "\udce9", "Other": "\ufffe"},
        )
        root = ET.fromstring(body)
        self.assertEqual([c.tag for c in root], ["Code", "Message", "BucketName", "Resource", "RequestId"])
        self.assertEqual(root.find("Message").text, "gone\ufffd")
        self.assertEqual(root.find("Resource").text, "/b/a%01b")
        self.assertTrue(s3xml.isXMLText("tab\tnew\nline\r\u00e9"))
        self.assertFalse(s3xml.isXMLText("\x0b"))
        withoutResource = ET.fromstring(s3xml.errorDocument("BadRequest", "m", None, "R", {}))
        self.assertEqual([c.tag for c in withoutResource], ["Code", "Message", "RequestId"])

    def test_urlEncoding(self):
        result = ListResult([], ["a b/", "c+d/"], False)
        body = s3xml.listObjects("bkt", result, "p q", "/", "", 1000, "url")
        self.assertIn(b"<Prefix>p%20q</Prefix>", body)
        self.assertIn(b"<Prefix>c%2Bd/</Prefix>", body)

    def test_accessControlPolicy(self):
        """
        Grants are listed as they are, in their order; an empty list
        lists none.
        """
        listed = [Grant("Group", ALL_USERS, "READ"), Grant("CanonicalUser", "p1", "FULL_CONTROL")]
        body = s3xml.accessControlPolicy("p1", listed)
        owner, grants = s3xml.parseAccessControlPolicy(body)
        self.assertEqual(owner, "p1")
        self.assertEqual(grants, listed)
        self.assertEqual(s3xml.parseAccessControlPolicy(s3xml.accessControlPolicy("p1", ())), ("p1", []))


class ParseTests(SynchronousTestCase):
    def test_malformed(self):
        for body in [b"", b"<a>", b"<!DOCTYPE x><a/>", b"<!ENTITY e 'x'><a/>", b"x" * (5 * 1024 * 1024)]:
            self.assertRaises(errors.MalformedXML, s3xml.parse, body)

    def test_namespaces(self):
        root = s3xml.parse(b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>k</Key></Object></Delete>')
        self.assertEqual(root.tag, "Delete")
        self.assertEqual(s3xml.parseDelete(b"<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>"), (True, [("a", None)]))
        self.assertEqual(
            s3xml.parseDelete(b"<Delete><Object><Key>a</Key><VersionId>null</VersionId></Object></Delete>"),
            (False, [("a", "null")]),
        )

    def test_delete(self):
        many = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>"
        self.assertRaises(errors.MalformedXML, s3xml.parseDelete, many)
        self.assertRaises(errors.MalformedXML, s3xml.parseDelete, b"<Delete><Object/></Delete>")

    def test_complete(self):
        body = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>"
        self.assertEqual(s3xml.parseCompleteMultipartUpload(body), [(1, '"e"')])
        self.assertRaises(errors.MalformedXML, s3xml.parseCompleteMultipartUpload, b"<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>")

    def test_createBucket(self):
        self.assertEqual(s3xml.parseCreateBucket(b""), "")
        self.assertEqual(
            s3xml.parseCreateBucket(b"<CreateBucketConfiguration><LocationConstraint>eu</LocationConstraint></CreateBucketConfiguration>"),
            "eu",
        )
        self.assertRaises(errors.MalformedXML, s3xml.parseCreateBucket, b"<Other/>")

    def test_aclErrors(self):
        self.assertRaises(errors.MalformedACLError, s3xml.parseAccessControlPolicy, b"<Other/>")
        email = (b'<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                 b'xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b</EmailAddress></Grantee><Permission>READ</Permission>'
                 b'</Grant></AccessControlList></AccessControlPolicy>')
        self.assertRaises(errors.UnresolvableGrantByEmailAddress, s3xml.parseAccessControlPolicy, email)
