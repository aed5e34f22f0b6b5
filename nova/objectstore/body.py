# -*- test-case-name: tests.objectstore.test_body -*-
"""
Request bodies as the stores consume them: decoded (C{aws-chunked}),
hashed and checked (Content-MD5, C{x-amz-content-sha256}, C{x-amz-checksum-*})
while they are read, in a worker thread.
"""

import base64
import binascii
import hashlib
import zlib

import attr
from zope.interface import implementer

from nova.objectstore import errors
from nova.objectstore.interfaces import IRequestBody

READ_SIZE = 1024 * 1024

# Checksum algorithms this store can verify, by their x-amz-checksum-* name.
CHECKSUM_ALGORITHMS = ("crc32", "sha1", "sha256")
# Algorithms clients may send that the store accepts without verifying.
UNVERIFIED_CHECKSUMS = ("crc32c", "crc64nvme")


class _CRC32:
    def __init__(self):
        self.value = 0

    def update(self, data):
        self.value = zlib.crc32(data, self.value)

    def digest(self):
        return self.value.to_bytes(4, "big")


def _newChecksum(algorithm):
    if algorithm == "crc32":
        return _CRC32()
    return hashlib.new(algorithm)


@attr.s(frozen=True)
class BodySummary:
    """
    What L{RequestBody.finish} found.

    @ivar size: the number of (decoded) bytes.
    @ivar md5: their MD5 hex digest.
    @ivar checksums: a L{dict} from upper-case algorithm name (C{CRC32}) to
        the base64 value the client sent, verified.
    """

    size = attr.ib()
    md5 = attr.ib()
    checksums = attr.ib(factory=dict)


def parseContentMD5(value):
    """
    @return: the 16 bytes a C{Content-MD5} header holds, or C{None} when
        C{value} is C{None}.
    @raise InvalidDigest: if it is not base64 of 16 bytes.
    """
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest(**{"Content-MD5": value})
    if len(digest) != 16:
        raise errors.InvalidDigest(**{"Content-MD5": value})
    return digest


def parseChecksums(headers):
    """
    Find the C{x-amz-checksum-ALGORITHM} headers of a request.

    @param headers: a mapping from lower-case header name to value.
    @return: a L{dict} from algorithm (lower case) to the digest bytes.
    @raise InvalidRequest: if a value is not base64 of the right length.
    """
    found = {}
    sizes = {"crc32": 4, "crc32c": 4, "sha1": 20, "sha256": 32, "crc64nvme": 8}
    for algorithm, size in sizes.items():
        value = headers.get("x-amz-checksum-" + algorithm)
        if value is None:
            continue
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != size:
            raise errors.InvalidRequest(
                f"Value for x-amz-checksum-{algorithm} header is invalid."
            )
        found[algorithm] = digest
    return found


@implementer(IRequestBody)
class RequestBody:
    """
    An L{IRequestBody} over a file the HTTP layer buffered the body in.

    @ivar source: a file object positioned at the body's start.
    """

    def __init__(
        self,
        source,
        decoder=None,
        contentMD5=None,
        sha256=None,
        checksums=None,
        expectedLength=None,
    ):
        """
        @param decoder: a L{nova.auth.signer.ChunkDecoder} for an
            C{aws-chunked} body, or C{None}.
        @param contentMD5: the 16 bytes of C{Content-MD5}, or C{None}.
        @param sha256: the hex SHA-256 the signature covered, or C{None}.
        @param checksums: from L{parseChecksums}.
        @param expectedLength: the decoded length the client declared, or
            C{None}.
        """
        self.source = source
        self.decoder = decoder
        self.contentMD5 = contentMD5
        self.sha256 = sha256
        self.checksums = dict(checksums or {})
        self.expectedLength = expectedLength
        self._md5 = hashlib.md5()
        self._sha256 = hashlib.sha256() if sha256 is not None else None
        self._checkers = {
            algorithm: _newChecksum(algorithm)
            for algorithm in self.checksums
            if algorithm in CHECKSUM_ALGORITHMS
        }
        self._size = 0
        self._eof = False

    def read(self, size=READ_SIZE):
        while not self._eof:
            raw = self.source.read(size)
            if not raw:
                self._eof = True
                data = b""
            elif self.decoder is not None:
                data = self.decoder.feed(raw)
            else:
                data = raw
            if data:
                self._account(data)
                return data
        return b""

    def _account(self, data):
        self._size += len(data)
        self._md5.update(data)
        if self._sha256 is not None:
            self._sha256.update(data)
        for checker in self._checkers.values():
            checker.update(data)

    def stagedPath(self):
        if self.decoder is not None:
            return None
        return getattr(self.source, "path", None)

    def finish(self):
        while self.read():
            pass
        if self.decoder is not None:
            self.decoder.finish()
        if self.expectedLength is not None and self._size != self.expectedLength:
            raise errors.IncompleteBody()
        if self.contentMD5 is not None and self._md5.digest() != self.contentMD5:
            raise errors.BadDigest(
                ExpectedDigest=self.contentMD5.hex(), CalculatedDigest=self._md5.hexdigest()
            )
        if self._sha256 is not None and self._sha256.hexdigest() != self.sha256:
            raise errors.XAmzContentSHA256Mismatch(
                ClientComputedContentSHA256=self.sha256,
                S3ComputedContentSHA256=self._sha256.hexdigest(),
            )
        verified = {}
        for algorithm, checker in self._checkers.items():
            if checker.digest() != self.checksums[algorithm]:
                raise errors.BadDigest(
                    f"The {algorithm.upper()} you specified did not match the "
                    "calculated checksum."
                )
            verified[algorithm.upper()] = base64.b64encode(checker.digest()).decode("ascii")
        return BodySummary(self._size, self._md5.hexdigest(), verified)


@implementer(IRequestBody)
class BytesBody:
    """
    An L{IRequestBody} of bytes already in memory, checked against nothing.
    """

    def __init__(self, data):
        self._data = memoryview(bytes(data))
        self._position = 0

    def read(self, size=READ_SIZE):
        chunk = bytes(self._data[self._position : self._position + size])
        self._position += len(chunk)
        return chunk

    def stagedPath(self):
        return None

    def finish(self):
        while self.read():
            pass
        data = self._data.obj
        return BodySummary(len(data), hashlib.md5(data).hexdigest(), {})
