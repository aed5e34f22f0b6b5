# -*- test-case-name: tests.objectstore.test_resource -*-
"""
Tests for L{nova.objectstore.resource} without a network: routing, the one
error mapper, header parsing, and what happens when a client goes away.
"""

import io

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from nova.context import RequestContext
from nova.objectstore import errors, resource
from nova.objectstore.auth import AnonymousAuthenticator
from nova.objectstore.fake import MemoryObjectStore
from nova.objectstore.interfaces import ALL_USERS, BucketInfo, Grant


class FixedAuthenticator:
    def __init__(self, context=None):
        self.context = context
        self.calls = []

    def authenticateS3(self, parts, remoteAddress=None, requestId=None, virtualBucket=None):
        self.calls.append((parts, remoteAddress, requestId, virtualBucket))
        return succeed((self.context, None))


def makeRequest(method, uri, headers=None, body=b""):
    request = DummyRequest([])
    request.method = method
    request.uri = uri
    request.path = uri.split(b"?")[0]
    request.content = io.BytesIO(body)
    for name, value in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, [value])
    return request


class RoutingTests(SynchronousTestCase):
    def setUp(self):
        self.resource = resource.S3Resource(
            MemoryObjectStore(Clock()),
            AnonymousAuthenticator(),
            endpointHosts=["s3.example.com", "localhost"],
            virtualHostSuffixes=["s3.example.com"],
        )

    def route(self, uri, host):
        call = resource._Call(makeRequest(b"GET", uri, {b"host": host}), "id")
        self.resource.route(call)
        return call.bucket, call.key, call.virtual, call.query

    def test_pathStyle(self):
        self.assertEqual(self.route(b"/", b"127.0.0.1:3333"), (None, None, False, {}))
        self.assertEqual(self.route(b"/bkt", b"127.0.0.1:3333")[:3], ("bkt", None, False))
        self.assertEqual(self.route(b"/bkt/", b"localhost")[:3], ("bkt", None, False))
        self.assertEqual(self.route(b"/bkt/a%2Fb/c%20d+e", b"s3.example.com")[:3], ("bkt", "a/b/c d+e", False))
        self.assertEqual(self.route(b"/bkt//x", b"[::1]:3333")[:3], ("bkt", "/x", False))

    def test_virtualHosted(self):
        self.assertEqual(self.route(b"/", b"bkt.s3.example.com:3333")[:3], ("bkt", None, True))
        self.assertEqual(self.route(b"/k/e/y", b"my.bucket.s3.example.com")[:3], ("my.bucket", "k/e/y", True))
        self.assertEqual(self.route(b"/k", b"other.host")[:3], ("k", None, False))

    def test_cname(self):
        self.resource.cnameBuckets = True
        self.assertEqual(self.route(b"/key", b"images.example.org")[:3], ("images.example.org", "key", True))
        self.assertEqual(self.route(b"/bkt/key", b"10.0.0.1")[:3], ("bkt", "key", False))

    def test_absoluteForm(self):
        self.assertEqual(
            self.route(b"http://bkt.s3.example.com:3333/key?acl", b"ignored")[:3], ("bkt", "key", True)
        )

    def test_query(self):
        self.assertEqual(self.route(b"/bkt?acl&prefix=a%20b+c&prefix=x", b"localhost")[3], {"acl": "", "prefix": "a b c"})

    def test_badEncoding(self):
        self.assertRaises(errors.InvalidURI, self.route, b"/bkt/%ff", b"localhost")


class RenderTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.store = MemoryObjectStore(self.clock)
        self.authenticator = FixedAuthenticator(RequestContext(userId="u", projectId="p1"))
        self.resource = resource.S3Resource(self.store, self.authenticator)

    def render(self, method, uri, headers=None, body=b""):
        request = makeRequest(method, uri, headers, body)
        self.assertIs(self.resource.render(request), NOT_DONE_YET)
        return request

    def test_requestIdAlways(self):
        request = self.render(b"GET", b"/")
        self.assertEqual(request.responseCode, 200)
        [requestId] = request.responseHeaders.getRawHeaders(b"x-amz-request-id")
        [(parts, address, passedId, virtualBucket)] = self.authenticator.calls
        self.assertEqual((passedId, virtualBucket, parts.method), (requestId.decode(), None, "GET"))
        request = self.render(b"GET", b"/nobucket")
        self.assertEqual(request.responseCode, 404)
        requestId = request.responseHeaders.getRawHeaders(b"x-amz-request-id")[0]
        self.assertIn(b"<RequestId>" + requestId + b"</RequestId>", b"".join(request.written))

    def test_unexpectedError(self):
        """
        An error no one mapped is an InternalError document without a
        traceback, and is logged.
        """
        self.store.listBuckets = lambda: fail(RuntimeError("disk on fire"))
        request = self.render(b"GET", b"/")
        self.assertEqual(request.responseCode, 500)
        body = b"".join(request.written)
        self.assertIn(b"<Code>InternalError</Code>", body)
        self.assertNotIn(b"fire", body)
        self.assertNotIn(b"Traceback", body)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_outageIsServiceUnavailable(self):
        """
        The database or the broker being unreachable is ServiceUnavailable
        (503, which clients retry), without its cause; the outage is
        logged once, and its end once, with the count.
        """
        from twisted.logger import Logger, formatEvent

        from nova.db.store import DatabaseUnavailable

        events = []
        self.resource.outages.log = Logger(observer=events.append)
        self.store.listBuckets = lambda: fail(DatabaseUnavailable("connection refused"))
        for _ in range(2):
            request = self.render(b"GET", b"/")
            self.assertEqual(request.responseCode, 503)
            body = b"".join(request.written)
            self.assertIn(b"<Code>ServiceUnavailable</Code>", body)
            self.assertNotIn(b"refused", body)
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(len(events), 1)
        self.assertIn("the database is unreachable", formatEvent(events[0]))
        del self.store.listBuckets
        self.assertEqual(self.render(b"GET", b"/").responseCode, 200)
        self.assertEqual(
            formatEvent(events[1]), "S3: database reachable again after 2 failed requests"
        )
        self.assertEqual(self.render(b"GET", b"/").responseCode, 200)
        self.assertEqual(len(events), 2)

    def test_brokerOutage(self):
        from nova.rpc.interfaces import BrokerUnavailable

        self.authenticator.authenticateS3 = lambda parts, **kwargs: fail(
            BrokerUnavailable("no connection to the message broker")
        )
        request = self.render(b"GET", b"/")
        self.assertEqual(request.responseCode, 503)
        self.assertIn(b"<Code>ServiceUnavailable</Code>", b"".join(request.written))

    def test_authenticationError(self):
        from nova.auth.signer import SignatureDoesNotMatch

        self.authenticator.authenticateS3 = lambda parts, **kwargs: fail(SignatureDoesNotMatch())
        request = self.render(b"GET", b"/bkt/key", {b"authorization": b"AWS a:b"})
        self.assertEqual(request.responseCode, 403)
        body = b"".join(request.written)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)
        self.assertIn(b"does not match the signature you provided", body)

    def test_badBucketSignatureAuthenticatedOnce(self):
        """
        A version 2 request on a bucket whose signature does not match is
        checked once (so it counts once toward a lockout): the signer
        itself accepts both spellings of a bucket's resource.
        """
        from nova.auth.signer import SignatureDoesNotMatch

        calls = []

        def refuse(parts, **kwargs):
            calls.append(parts.path)
            return fail(SignatureDoesNotMatch())

        self.authenticator.authenticateS3 = refuse
        request = self.render(b"GET", b"/bkt", {b"authorization": b"AWS a:b"})
        self.assertEqual(request.responseCode, 403)
        self.assertEqual(calls, ["/bkt"])

    def test_clientGone(self):
        """
        When the client goes away before the answer is ready, nothing is
        written and the request is not finished twice.
        """
        pending = Deferred()
        self.store.getBucket = lambda name: pending
        request = self.render(b"GET", b"/bkt")
        request.processingFailed(Failure(ConnectionDone()))
        pending.callback(BucketInfo("bkt", "p1", 0))
        self.assertEqual(request.written, [])
        self.assertEqual(request.finished, 0)

    def test_clientGoneWhileStreaming(self):
        self.successResultOf(self.store.createBucket("bkt", "p1"))
        from nova.objectstore.body import BytesBody
        from nova.objectstore.interfaces import ObjectSettings

        self.successResultOf(self.store.putObject("bkt", "k", BytesBody(b"x" * 1000), ObjectSettings(owner="p1")))
        readers = []
        original = self.store.openObject

        def openObject(bucket, key, versionId=None):
            d = original(bucket, key, versionId)
            d.addCallback(lambda r: readers.append(r) or r)
            return d

        self.store.openObject = openObject
        self.resource.chunkSize = 100
        request = self.render(b"GET", b"/bkt/k")
        self.assertEqual(b"".join(request.written), b"x" * 1000)
        self.assertTrue(readers[0].closed)
        request = makeRequest(b"GET", b"/bkt/k")
        producers = []

        def registerProducer(producer, streaming):
            producers.append(producer)
            producer.pauseProducing()

        request.registerProducer = registerProducer
        self.resource.render(request)
        self.assertEqual(request.written, [])
        producers[0].resumeProducing()
        self.assertEqual(len(b"".join(request.written)), 1000)
        self.assertEqual(request.finished, 1)
        request = makeRequest(b"GET", b"/bkt/k")
        request.registerProducer = registerProducer
        self.resource.render(request)
        request.processingFailed(Failure(ConnectionDone()))
        producers[1].stopProducing()
        producers[1].resumeProducing()
        self.assertEqual((request.written, request.finished), ([], 0))
        self.assertTrue(readers[2].closed)

    def test_head(self):
        request = self.render(b"HEAD", b"/nobucket/key")
        self.assertEqual(request.responseCode, 404)
        self.assertEqual(request.written, [])

    def test_methodNotAllowed(self):
        request = self.render(b"TRACE", b"/bkt/key")
        self.assertEqual(request.responseCode, 405)
        request = self.render(b"POST", b"/")
        self.assertEqual(request.responseCode, 405)

    def test_notImplemented(self):
        self.successResultOf(self.store.createBucket("bkt", "p1"))
        for uri in [b"/bkt?replication", b"/bkt?notification", b"/bkt/k?torrent", b"/bkt?logging"]:
            request = self.render(b"GET", uri)
            self.assertEqual(request.responseCode, 501, uri)
            self.assertIn(b"<Code>NotImplemented</Code>", b"".join(request.written))


class ParsingTests(SynchronousTestCase):
    def test_parseRange(self):
        self.assertEqual(resource.parseRange("bytes=0-9", 100), (0, 9))
        self.assertEqual(resource.parseRange("bytes=90-", 100), (90, 99))
        self.assertEqual(resource.parseRange("bytes=-10", 100), (90, 99))
        self.assertEqual(resource.parseRange("bytes=-200", 100), (0, 99))
        self.assertEqual(resource.parseRange("bytes=50-500", 100), (50, 99))
        self.assertIsNone(resource.parseRange("bytes=5-1", 100))
        self.assertIsNone(resource.parseRange("bytes=0-1,5-6", 100))
        self.assertIsNone(resource.parseRange("items=0-1", 100))
        error = self.assertRaises(errors.InvalidRange, resource.parseRange, "bytes=100-", 100)
        self.assertEqual(error.responseHeaders, [("Content-Range", "bytes */100")])
        self.assertRaises(errors.InvalidRange, resource.parseRange, "bytes=-0", 100)
        self.assertRaises(errors.InvalidRange, resource.parseRange, "bytes=0-", 0)

    def test_copySource(self):
        self.assertEqual(resource.parseCopySource("/bkt/a%20b/c"), ("bkt", "a b/c", None))
        self.assertEqual(resource.parseCopySource("bkt/key?versionId=null"), ("bkt", "key", "null"))
        self.assertEqual(
            resource.parseCopySource("bkt/key?versionId=" + "0f" * 16), ("bkt", "key", "0f" * 16)
        )
        for bad in ["bkt", "/bkt/", "", "bkt/key?versionId=abc"]:
            self.assertRaises(errors.InvalidArgument, resource.parseCopySource, bad)

    def test_grantHeaders(self):
        grants = resource.parseGrantHeaders(
            {"x-amz-grant-read": f'uri="{ALL_USERS}", id="p2"', "x-amz-grant-write-acp": 'id="p3"'}
        )
        self.assertEqual(
            grants,
            [Grant("Group", ALL_USERS, "READ"), Grant("CanonicalUser", "p2", "READ"), Grant("CanonicalUser", "p3", "WRITE_ACP")],
        )
        self.assertRaises(errors.UnresolvableGrantByEmailAddress, resource.parseGrantHeaders, {"x-amz-grant-read": 'emailAddress="a@b"'})

    def test_etagMatches(self):
        self.assertTrue(resource.etagMatches('"abc"', "abc"))
        self.assertTrue(resource.etagMatches('"x", "abc"', "abc"))
        self.assertTrue(resource.etagMatches("*", "abc"))
        self.assertFalse(resource.etagMatches('"abd"', "abc"))
