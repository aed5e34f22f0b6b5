"""
The L{ICache} contract: one suite every cache passes.  A test case mixes in
L{CacheContract} and provides C{makeCache()} and C{advance(seconds)}, which
returns a L{Deferred} that fires once C{seconds} have passed for the cache.
"""

from twisted.internet import defer
from zope.interface.verify import verifyObject

from nova.cache.interfaces import ICache


class CacheContract:
    def test_provides(self):
        verifyObject(ICache, self.makeCache())

    @defer.inlineCallbacks
    def test_getMissing(self):
        cache = self.makeCache()
        self.assertIsNone((yield cache.get("missing")))

    @defer.inlineCallbacks
    def test_setGet(self):
        cache = self.makeCache()
        self.assertIsNone((yield cache.set("k", "v\u00e9 1")))
        self.assertEqual((yield cache.get("k")), "v\u00e9 1")
        yield cache.set("k", "other")
        self.assertEqual((yield cache.get("k")), "other")

    @defer.inlineCallbacks
    def test_numericStringsStayStrings(self):
        cache = self.makeCache()
        yield cache.set("n", "0012")
        self.assertEqual((yield cache.get("n")), "0012")

    @defer.inlineCallbacks
    def test_ttlExpires(self):
        cache = self.makeCache()
        yield cache.set("short", "x", ttl=0.3)
        yield cache.set("forever", "y")
        self.assertEqual((yield cache.get("short")), "x")
        yield self.advance(0.6)
        self.assertIsNone((yield cache.get("short")))
        self.assertEqual((yield cache.get("forever")), "y")

    @defer.inlineCallbacks
    def test_setReplacesTTL(self):
        cache = self.makeCache()
        yield cache.set("k", "x", ttl=0.3)
        yield cache.set("k", "y")
        yield self.advance(0.6)
        self.assertEqual((yield cache.get("k")), "y")

    @defer.inlineCallbacks
    def test_badTTLRefused(self):
        cache = self.makeCache()
        yield self.assertFailure(cache.set("k", "v", ttl=0), ValueError)
        yield self.assertFailure(cache.increment("k", -1), ValueError)

    @defer.inlineCallbacks
    def test_delete(self):
        cache = self.makeCache()
        yield cache.set("a", "1")
        yield cache.set("b", "2")
        yield cache.set("c", "3")
        self.assertIsNone((yield cache.delete("a", "b", "absent")))
        self.assertIsNone((yield cache.get("a")))
        self.assertIsNone((yield cache.get("b")))
        self.assertEqual((yield cache.get("c")), "3")
        yield cache.delete()

    @defer.inlineCallbacks
    def test_incrementCountsInFixedWindow(self):
        cache = self.makeCache()
        self.assertEqual((yield cache.increment("count", 0.6)), 1)
        yield self.advance(0.3)
        self.assertEqual((yield cache.increment("count", 0.6)), 2)
        self.assertEqual((yield cache.get("count")), "2")
        # The window started with the first increment; later ones do not
        # extend it.
        yield self.advance(0.45)
        self.assertIsNone((yield cache.get("count")))
        self.assertEqual((yield cache.increment("count", 0.6)), 1)

    @defer.inlineCallbacks
    def test_incrementNonNumberFails(self):
        cache = self.makeCache()
        yield cache.set("word", "abc")
        try:
            result = yield cache.increment("word", 10)
        except (ValueError,) + self.incrementErrors:
            pass
        else:
            self.fail(f"increment of a word gave {result!r}")

    incrementErrors = ()
