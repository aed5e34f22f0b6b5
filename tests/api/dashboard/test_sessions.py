"""
Tests for L{nova.api.dashboard.sessions}.
"""

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from nova.api.dashboard.sessions import KEY_PREFIX, SessionStore
from nova.cache.memory import MemoryCache


class SessionStoreTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.cache = MemoryCache(self.clock)
        self.store = SessionStore(self.cache, 60)

    def run_(self, coroutine):
        return self.successResultOf(ensureDeferred(coroutine))

    def test_createAndGet(self):
        """
        A new session is found by its id, with its user and CSRF token;
        ids and tokens differ between sessions.
        """
        one = self.run_(self.store.create("alice"))
        two = self.run_(self.store.create("alice"))
        found = self.run_(self.store.get(one.sessionId))
        self.assertEqual((found.userName, found.csrfToken), ("alice", one.csrfToken))
        self.assertNotEqual(one.sessionId, two.sessionId)
        self.assertNotEqual(one.csrfToken, two.csrfToken)
        self.assertGreaterEqual(len(one.sessionId), 40)

    def test_expiresWhenIdle(self):
        """
        A session unused for C{ttl} seconds is gone; each use starts the
        time again.
        """
        session = self.run_(self.store.create("alice"))
        self.clock.advance(50)
        self.assertIsNotNone(self.run_(self.store.get(session.sessionId)))
        self.clock.advance(50)
        self.assertIsNotNone(self.run_(self.store.get(session.sessionId)))
        self.clock.advance(61)
        self.assertIsNone(self.run_(self.store.get(session.sessionId)))

    def test_end(self):
        session = self.run_(self.store.create("alice"))
        self.run_(self.store.end(session.sessionId))
        self.assertIsNone(self.run_(self.store.get(session.sessionId)))

    def test_malformedIds(self):
        """
        Ids that could not have been made (too short, odd characters) are
        not looked up; garbage in the cache is no session.
        """
        self.assertIsNone(self.run_(self.store.get("short")))
        self.assertIsNone(self.run_(self.store.get("x" * 30 + ":*")))
        self.run_(self.cache.set(KEY_PREFIX + "y" * 40, "not json", 60))
        self.assertIsNone(self.run_(self.store.get("y" * 40)))

    def test_checkToken(self):
        session = self.run_(self.store.create("alice"))
        self.assertTrue(session.checkToken(session.csrfToken))
        self.assertFalse(session.checkToken(session.csrfToken[:-1]))
        self.assertFalse(session.checkToken(None))
        self.assertFalse(session.checkToken(""))

    def test_flash(self):
        """
        Messages kept for the next page are given once.
        """
        session = self.run_(self.store.create("alice"))
        self.run_(self.store.addFlash(session, "notice", "done"))
        session = self.run_(self.store.get(session.sessionId))
        session, messages = self.run_(self.store.popFlash(session))
        self.assertEqual(messages, (("notice", "done"),))
        session = self.run_(self.store.get(session.sessionId))
        self.assertEqual(session.flash, ())
