"""
Tests for L{nova.cache.redis} against the real Redis server on
127.0.0.1:6379 (skipped when it is absent, required under CI).
"""

import gc
import uuid

from twisted.internet import defer, reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

import txredisapi

from nova.cache.interfaces import CacheUnavailable
from nova.cache.redis import RedisCache
from nova.config import configFromFlags
from tests.cache.contract import CacheContract
from tests.util import REDIS, portOpen, requireServer


class RedisCacheContractTests(CacheContract, TestCase):
    incrementErrors = (CacheUnavailable,)

    def setUp(self):
        requireServer("Redis", *REDIS)
        self.prefix = f"novatest:{uuid.uuid4().hex}:"
        self.caches = []

    def makeCache(self):
        cache = RedisCache(reactor, host=REDIS[0], port=REDIS[1], prefix=self.prefix)
        cache.startService()
        self.addCleanup(cache.stopService)
        self.caches.append(cache)
        return cache

    def advance(self, seconds):
        return deferLater(reactor, seconds, lambda: None)

    @defer.inlineCallbacks
    def test_prefixIsolatesAndShares(self):
        """
        Two caches with one prefix share keys (as several API processes
        do); another prefix sees none of them.  Keys really carry the prefix
        in Redis.
        """
        first, second = self.makeCache(), self.makeCache()
        yield first.set("shared", "1")
        self.assertEqual((yield second.get("shared")), "1")
        self.assertEqual((yield second.increment("n", 10)), 1)
        self.assertEqual((yield first.increment("n", 10)), 2)
        other = RedisCache(reactor, host=REDIS[0], port=REDIS[1], prefix=self.prefix + "x:")
        other.startService()
        self.addCleanup(other.stopService)
        self.assertIsNone((yield other.get("shared")))
        raw = yield txredisapi.Connection(REDIS[0], REDIS[1], convertNumbers=False)
        self.addCleanup(raw.disconnect)
        self.assertEqual((yield raw.get(self.prefix + "shared")), "1")
        ttl = yield raw.execute_command("PTTL", self.prefix + "n")
        self.assertTrue(0 < ttl <= 10000, ttl)
        yield raw.delete([self.prefix + "shared", self.prefix + "n"])

    @defer.inlineCallbacks
    def test_worksBeforeStart(self):
        """
        A cache used before its service starts connects on first use.
        """
        cache = RedisCache(reactor, host=REDIS[0], port=REDIS[1], prefix=self.prefix)
        self.addCleanup(cache.stopService)
        yield cache.set("k", "v", ttl=5)
        self.assertEqual((yield cache.get("k")), "v")

    def test_fromConfig(self):
        config = configFromFlags(
            redis_host="10.0.0.5", redis_port=6380, redis_db=3, redis_prefix="c1:",
            redis_timeout=0.5,
        )
        cache = RedisCache.fromConfig(config, reactor)
        self.assertEqual(
            (cache.host, cache.port, cache.db, cache.prefix, cache.timeout),
            ("10.0.0.5", 6380, 3, "c1:", 0.5),
        )


class RedisUnavailableTests(TestCase):
    @defer.inlineCallbacks
    def test_noServerTimesOut(self):
        """
        With nothing listening, operations fail with L{CacheUnavailable}
        after the timeout instead of waiting for ever.
        """
        port = 1
        if portOpen("127.0.0.1", port):
            self.skipTest("something listens on port 1")
        cache = RedisCache(reactor, host="127.0.0.1", port=port, timeout=0.3)
        cache.startService()
        self.addCleanup(cache.stopService)
        yield self.assertFailure(cache.get("k"), CacheUnavailable)
        yield self.assertFailure(cache.increment("k", 5), CacheUnavailable)


class HandshakeTests(TestCase):
    @defer.inlineCallbacks
    def test_failedHandshakeIsNoUnhandledError(self):
        """
        A connection closed during its handshake (as stopping the service
        while it connects does) leaves no unhandled error behind.
        """
        received = defer.Deferred()

        class Closer(Protocol):
            def dataReceived(self, data):
                self.transport.loseConnection()
                if not received.called:
                    received.callback(data)

        port = reactor.listenTCP(0, Factory.forProtocol(Closer), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        cache = RedisCache(
            reactor, host="127.0.0.1", port=port.getHost().port, db=0, prefix="x:", timeout=2
        )
        cache.startService()
        data = yield received
        self.assertIn(b"SELECT", data.upper())
        yield deferLater(reactor, 0.1, lambda: None)
        yield cache.stopService()
        gc.collect()
        self.assertEqual(self.flushLoggedErrors(), [])
