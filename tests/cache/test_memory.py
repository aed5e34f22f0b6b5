"""
Tests for L{nova.cache.memory}.
"""

from twisted.internet import task
from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.cache.memory import MemoryCache
from tests.cache.contract import CacheContract


class MemoryCacheContractTests(CacheContract, TestCase):
    def setUp(self):
        self.clock = task.Clock()

    def makeCache(self):
        return MemoryCache(self.clock)

    def advance(self, seconds):
        self.clock.advance(seconds)
        return succeed(None)


class MemoryCacheTests(SynchronousTestCase):
    def test_sweepRemovesExpired(self):
        clock = task.Clock()
        cache = MemoryCache(clock)
        cache.sweepEvery = 3
        cache.set("a", "1", ttl=1)
        cache.set("b", "2")
        clock.advance(2)
        self.assertIn("a", cache.entries)
        cache.set("c", "3")
        self.assertEqual(sorted(cache.entries), ["b", "c"])

    def test_noDelayedCalls(self):
        clock = task.Clock()
        cache = MemoryCache(clock)
        cache.set("a", "1", ttl=5)
        cache.increment("b", 5)
        self.assertEqual(clock.getDelayedCalls(), [])
