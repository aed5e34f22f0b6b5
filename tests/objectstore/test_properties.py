"""
Property-based fuzzing (hypothesis) of the S3 router and header parsers:
whatever method, URI, host and headers a request carries, routing either
names a handler or raises an L{S3Error} (an answer in S3's own format),
and each header parser gives its documented result or an L{S3Error}.
The number of examples is fixed and the search derandomized, so a run in
CI is bounded and repeatable.
"""

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nova.objectstore import router
from nova.objectstore.call import S3Call
from nova.objectstore.conditions import (
    checkReadConditions,
    etagMatches,
    parseHTTPDate,
    parseRange,
)
from nova.objectstore.errors import S3Error
from nova.objectstore.handlers.acls import parseGrantHeaders
from nova.objectstore.handlers.objects import parseCopySource
from nova.objectstore.interfaces import ObjectInfo
from tests.objectstore.test_resource import makeRequest

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_METHODS = st.one_of(
    st.sampled_from([m.encode() for m in router.METHODS + ("PATCH", "TRACE", "get", "")]),
    st.binary(max_size=8),
)
_QUERY_NAMES = st.sampled_from(
    list(router.SUBRESOURCES) + sorted(router.UNSUPPORTED_BUCKET) + ["list-type", "x", ""]
)
_QUERY = st.lists(
    st.tuples(_QUERY_NAMES, st.text(max_size=10)), max_size=4
).map(lambda pairs: "&".join(f"{quote(n)}={quote(v)}" for n, v in pairs).encode())
_PATH = st.one_of(
    st.binary(max_size=60).map(lambda b: b"/" + b),
    st.lists(st.text(max_size=12), max_size=4).map(
        lambda parts: ("/" + "/".join(quote(p, safe="") for p in parts)).encode()
    ),
)
_HOST = st.one_of(
    st.sampled_from([b"127.0.0.1", b"localhost:3333", b"bkt.s3.example.com", b"[::1]:80", b""]),
    st.binary(max_size=30),
)
_HEADER_VALUE = st.one_of(
    st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
)


def located(method, path, query, host, headers):
    uri = path + (b"?" + query if query else b"")
    call = S3Call(makeRequest(method, uri, {b"host": host, **headers}), "id")
    router.locate(
        call,
        endpointHosts=("localhost", "s3.example.com"),
        virtualHostSuffixes=("s3.example.com",),
    )
    return call


class RouterProperties(SynchronousTestCase):
    @FUZZ
    @given(
        method=_METHODS,
        path=_PATH,
        query=_QUERY,
        host=_HOST,
        copySource=st.one_of(st.none(), st.binary(max_size=30)),
    )
    def test_anyRequestRoutesOrFailsCleanly(self, method, path, query, host, copySource):
        headers = {} if copySource is None else {b"x-amz-copy-source": copySource}
        try:
            call = located(method, path, query, host, headers)
            handler = router.handlerFor(call)
        except S3Error:
            return
        self.assertTrue(callable(handler))
        self.assertIn(call.method, router.METHODS)
        self.assertIn(router.targetOf(call), (router.SERVICE, router.BUCKET, router.OBJECT))

    @FUZZ
    @given(
        bucket=st.from_regex(r"\A[a-z0-9][a-z0-9.-]{2,20}[a-z0-9]\Z"),
        key=st.text(min_size=1, max_size=40),
    )
    def test_pathStyleNamesBucketAndKey(self, bucket, key):
        """
        A path-style request names the bucket and key it was sent for, in
        any Unicode, once percent-decoded.
        """
        path = f"/{bucket}/{quote(key, safe='')}".encode("ascii")
        call = located(b"GET", path, b"", b"127.0.0.1:3333", {})
        self.assertEqual((call.bucket, call.key, call.virtual), (bucket, key, False))


class HeaderProperties(SynchronousTestCase):
    @FUZZ
    @given(value=_HEADER_VALUE, size=st.integers(0, 10**12))
    def test_rangeIsInsideTheObject(self, value, size):
        try:
            parsed = parseRange(value, size)
        except S3Error:
            return
        if parsed is not None:
            first, last = parsed
            self.assertTrue(0 <= first <= last < size, (value, size, parsed))

    @FUZZ
    @given(
        first=st.integers(0, 10**6), length=st.integers(1, 10**6), size=st.integers(1, 10**7)
    )
    def test_satisfiableRange(self, first, length, size):
        last = first + length - 1
        if first >= size:
            self.assertRaises(S3Error, parseRange, f"bytes={first}-{last}", size)
        else:
            self.assertEqual(
                parseRange(f"bytes={first}-{last}", size), (first, min(last, size - 1))
            )

    @FUZZ
    @given(
        headers=st.dictionaries(
            st.sampled_from(
                ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]
            ),
            _HEADER_VALUE,
        ),
        etag=st.from_regex(r"\A[0-9a-f]{32}\Z"),
    )
    def test_conditionsDecideOrFailCleanly(self, headers, etag):
        info = ObjectInfo("b", "k", 1, etag, 1_700_000_000, None)
        try:
            checkReadConditions(headers.get, info)
        except S3Error:
            pass
        for value in headers.values():
            parseHTTPDate(value)
            self.assertIsInstance(etagMatches(value, etag), bool)

    @FUZZ
    @given(value=_HEADER_VALUE)
    def test_copySourceParsesOrFailsCleanly(self, value):
        try:
            bucket, key, versionId = parseCopySource(value)
        except S3Error:
            return
        self.assertTrue(bucket)
        self.assertTrue(key)

    @FUZZ
    @given(
        headers=st.dictionaries(
            st.sampled_from(
                ["x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp",
                 "x-amz-grant-write-acp", "x-amz-grant-full-control"]
            ),
            _HEADER_VALUE,
        )
    )
    def test_grantHeadersParseOrFailCleanly(self, headers):
        try:
            grants = parseGrantHeaders(headers)
        except S3Error:
            return
        self.assertIsInstance(grants, list)
