# -*- test-case-name: tests.objectstore.test_body -*-
"""
Tests for L{nova.objectstore.body}: bodies are decoded and checked while
they are read.
"""

import base64
import hashlib
import hmac
import io
import zlib

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from nova.auth import signer
from nova.objectstore import errors
from nova.objectstore.body import BytesBody, RequestBody, parseChecksums, parseContentMD5
from nova.objectstore.interfaces import IRequestBody


def drain(body):
    out = []
    while True:
        chunk = body.read(7)
        if not chunk:
            return b"".join(out), body.finish()
        out.append(chunk)


class RequestBodyTests(SynchronousTestCase):
    def test_provides(self):
        self.assertTrue(verifyObject(IRequestBody, RequestBody(io.BytesIO())))
        self.assertTrue(verifyObject(IRequestBody, BytesBody(b"")))

    def test_plain(self):
        data, summary = drain(RequestBody(io.BytesIO(b"some data here")))
        self.assertEqual(data, b"some data here")
        self.assertEqual((summary.size, summary.md5), (14, hashlib.md5(data).hexdigest()))

    def test_contentMD5(self):
        good = hashlib.md5(b"abc").digest()
        drain(RequestBody(io.BytesIO(b"abc"), contentMD5=good))
        body = RequestBody(io.BytesIO(b"abd"), contentMD5=good)
        self.assertRaises(errors.BadDigest, drain, body)
        self.assertRaises(errors.InvalidDigest, parseContentMD5, "!!!")
        self.assertRaises(errors.InvalidDigest, parseContentMD5, base64.b64encode(b"short").decode())
        self.assertIsNone(parseContentMD5(None))

    def test_sha256(self):
        drain(RequestBody(io.BytesIO(b"abc"), sha256=hashlib.sha256(b"abc").hexdigest()))
        body = RequestBody(io.BytesIO(b"abc"), sha256=hashlib.sha256(b"abd").hexdigest())
        self.assertRaises(errors.XAmzContentSHA256Mismatch, drain, body)

    def test_checksums(self):
        crc = zlib.crc32(b"abc").to_bytes(4, "big")
        headers = {
            "x-amz-checksum-crc32": base64.b64encode(crc).decode(),
            "x-amz-checksum-sha1": base64.b64encode(hashlib.sha1(b"abc").digest()).decode(),
        }
        _, summary = drain(RequestBody(io.BytesIO(b"abc"), checksums=parseChecksums(headers)))
        self.assertEqual(sorted(summary.checksums), ["CRC32", "SHA1"])
        self.assertRaises(errors.BadDigest, drain, RequestBody(io.BytesIO(b"abd"), checksums=parseChecksums(headers)))
        self.assertRaises(errors.InvalidRequest, parseChecksums, {"x-amz-checksum-crc32": "AAAA"})
        unverified = parseChecksums({"x-amz-checksum-crc32c": "AAAAAA=="})
        _, summary = drain(RequestBody(io.BytesIO(b"abc"), checksums=unverified))
        self.assertEqual(summary.checksums, {})

    def test_length(self):
        self.assertRaises(errors.IncompleteBody, drain, RequestBody(io.BytesIO(b"abc"), expectedLength=4))

    def test_chunked(self):
        key = signer.signingKey("secret", "20240101", "us-east-1", "s3")
        timestamp, scope, seed = "20240101T000000Z", "20240101/us-east-1/s3/aws4_request", "0" * 64
        previous, encoded = seed, b""
        for chunk in [b"hello ", b"world", b""]:
            toSign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous,
                                hashlib.sha256(b"").hexdigest(), hashlib.sha256(chunk).hexdigest()])
            previous = hmac.new(key, toSign.encode(), hashlib.sha256).hexdigest()
            encoded += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(chunk), previous.encode(), chunk)
        decoder = signer.ChunkDecoder(key, timestamp, scope, seed, decodedLength=11)
        data, summary = drain(RequestBody(io.BytesIO(encoded), decoder=decoder))
        self.assertEqual((data, summary.size), (b"hello world", 11))
        truncated = signer.ChunkDecoder(key, timestamp, scope, seed, decodedLength=11)
        body = RequestBody(io.BytesIO(encoded[:-20]), decoder=truncated)
        self.assertRaises(signer.IncompleteBody, drain, body)
