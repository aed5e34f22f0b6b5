# -*- test-case-name: tests.objectstore.test_conditions -*-
"""
Tests for L{nova.objectstore.conditions}: ranges, preconditions and the
headers stored with an object.
"""

from twisted.trial.unittest import SynchronousTestCase

from nova.objectstore import conditions, errors
from nova.objectstore.interfaces import ObjectInfo, ObjectSettings, WriteConditions

INFO = ObjectInfo(
    "bkt",
    "k",
    10,
    "abc",
    1000.0,
    ObjectSettings(
        owner="p1",
        contentType="text/plain",
        headers={"Cache-Control": "no-cache", "Content-Encoding": "gzip"},
        metadata={"b": "2", "a": "1"},
        checksums={"SHA256": "c2hh"},
    ),
    (10,),
)


def headers(**values):
    """
    @return: a C{header} callable over C{values} (C{if_match} for
        C{if-match}).
    """
    table = {name.replace("_", "-"): value for name, value in values.items()}
    return table.get


class ReadConditionsTests(SynchronousTestCase):
    def test_ifMatch(self):
        conditions.checkReadConditions(headers(if_match='"abc"'), INFO)
        error = self.assertRaises(
            errors.PreconditionFailed, conditions.checkReadConditions, headers(if_match='"x"'), INFO
        )
        self.assertEqual(error.extra, {"Condition": "If-Match"})

    def test_ifNoneMatch(self):
        error = self.assertRaises(
            errors.NotModified, conditions.checkReadConditions, headers(if_none_match="*"), INFO
        )
        self.assertEqual(dict(error.responseHeaders)["ETag"], '"abc"')
        conditions.checkReadConditions(headers(if_none_match='"x"'), INFO)

    def test_dates(self):
        before = conditions.httpDate(999)
        after = conditions.httpDate(1001)
        self.assertRaises(
            errors.PreconditionFailed,
            conditions.checkReadConditions,
            headers(if_unmodified_since=before),
            INFO,
        )
        conditions.checkReadConditions(headers(if_unmodified_since=after), INFO)
        self.assertRaises(
            errors.NotModified, conditions.checkReadConditions, headers(if_modified_since=after), INFO
        )
        conditions.checkReadConditions(headers(if_modified_since=before), INFO)
        conditions.checkReadConditions(headers(if_modified_since="not a date"), INFO)
        # If-Match that holds decides over If-Unmodified-Since.
        conditions.checkReadConditions(headers(if_match="*", if_unmodified_since=before), INFO)

    def test_copySource(self):
        self.assertRaises(
            errors.PreconditionFailed,
            conditions.checkCopySourceConditions,
            headers(x_amz_copy_source_if_none_match='"abc"'),
            INFO,
        )
        conditions.checkCopySourceConditions(headers(x_amz_copy_source_if_match='"abc"'), INFO)


class WriteConditionsTests(SynchronousTestCase):
    def test_writeConditions(self):
        self.assertIsNone(conditions.writeConditions(headers()))
        self.assertEqual(
            conditions.writeConditions(headers(if_none_match=" * ")),
            WriteConditions(ifNoneMatch="*"),
        )
        self.assertEqual(
            conditions.writeConditions(headers(if_match='"abc"')), WriteConditions(ifMatch='"abc"')
        )
        self.assertRaises(
            errors.NotImplemented_, conditions.writeConditions, headers(if_none_match='"abc"')
        )


class RangeTests(SynchronousTestCase):
    def test_parseRange(self):
        self.assertEqual(conditions.parseRange("bytes=0-9", 100), (0, 9))
        self.assertEqual(conditions.parseRange("bytes=-10", 100), (90, 99))
        self.assertIsNone(conditions.parseRange("bytes=0-1,5-6", 100))
        self.assertRaises(errors.InvalidRange, conditions.parseRange, "bytes=100-", 100)


class HeadersTests(SynchronousTestCase):
    def test_objectSettings(self):
        settings = conditions.objectSettings(
            {
                "x-amz-meta-color": "blue",
                "content-type": "text/x",
                "cache-control": "max-age=1",
                "content-encoding": "aws-chunked,gzip",
                "x-amz-acl": "private",
            },
            "p1",
            (),
        )
        self.assertEqual(settings.metadata, {"color": "blue"})
        self.assertEqual(settings.contentType, "text/x")
        self.assertEqual(settings.headers, {"Cache-Control": "max-age=1", "Content-Encoding": "gzip"})
        self.assertRaises(
            errors.MetadataTooLarge,
            conditions.objectSettings,
            {"x-amz-meta-big": "x" * 2048},
            "p1",
            (),
        )

    def test_objectHeaders(self):
        answered = conditions.objectHeaders(INFO)
        self.assertEqual(
            [name for name, _ in answered],
            ["ETag", "Last-Modified", "Accept-Ranges", "Content-Type", "Cache-Control",
             "Content-Encoding", "x-amz-meta-a", "x-amz-meta-b"],
        )
        self.assertIn(("x-amz-checksum-sha256", "c2hh"), conditions.objectHeaders(INFO, "ENABLED"))


class MetadataTests(SynchronousTestCase):
    def test_decode(self):
        """
        RFC 2047 encoded words are decoded; bytes that are not UTF-8 are
        read as ISO-8859-1; anything else is kept.
        """
        self.assertEqual(conditions.decodeMetadata("plain"), "plain")
        self.assertEqual(conditions.decodeMetadata("=?UTF-8?B?w6k=?="), "\u00e9")
        self.assertEqual(conditions.decodeMetadata("=?utf-8?q?caf=C3=A9?="), "caf\u00e9")
        self.assertEqual(conditions.decodeMetadata("caf\udce9"), "caf\u00e9")
        self.assertEqual(conditions.decodeMetadata("=?no-such-charset?B?w6k=?="), "=?no-such-charset?B?w6k=?=")

    def test_encode(self):
        self.assertEqual(conditions.encodeMetadata("plain"), "plain")
        self.assertEqual(conditions.encodeMetadata("caf\u00e9"), "=?UTF-8?B?Y2Fmw6k=?=")

    def test_size(self):
        """
        The metadata limit counts the decoded text's UTF-8 bytes.
        """
        word = "=?UTF-8?B?" + "w6k=" + "?="
        conditions.objectSettings({"x-amz-meta-a": word * 400}, "p1", ())
        self.assertRaises(
            errors.MetadataTooLarge,
            conditions.objectSettings,
            {"x-amz-meta-a": "=?UTF-8?B?" + "w6nDqcOpw6nDqcOp" * 200 + "?="},
            "p1",
            (),
        )

    def test_contentEncoding(self):
        """
        Content-Encoding is kept as sent, but for the aws-chunked coding.
        """
        for sent, kept in [
            ("gzip, identity", "gzip, identity"),
            ("GZip", "GZip"),
            ("aws-chunked", None),
            ("aws-chunked, gzip", "gzip"),
            ("gzip,AWS-CHUNKED", "gzip"),
        ]:
            settings = conditions.objectSettings({"content-encoding": sent}, "p1", ())
            self.assertEqual(settings.headers.get("Content-Encoding"), kept, sent)
