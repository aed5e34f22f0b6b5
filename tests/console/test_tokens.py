"""
Tests for L{nova.console.tokens}: the VNC console tokens of the
C{console_tokens} table (schema patch 14).
"""

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

from nova.console.tokens import ConsoleTokenStore
from nova.db.tokens import tokenHash
from tests.util import START, makeDatabase


class ConsoleTokenStoreTests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = makeDatabase(self, self.clock)
        self.tokens = ConsoleTokenStore(self.db.transactor, self.clock)

    def test_createAndGet(self):
        """
        A new token is random, URL-safe text; looking it up gives the
        instance, project, host and port it was issued for.
        """
        issued = self.successResultOf(self.tokens.create(7, "wonderland", "127.0.0.1", 5901, 60))
        other = self.successResultOf(self.tokens.create(7, "wonderland", "127.0.0.1", 5901, 60))
        self.assertNotEqual(issued.token, other.token)
        self.assertRegex(issued.token, r"^[A-Za-z0-9_-]{43}$")
        found = self.successResultOf(self.tokens.get(issued.token))
        self.assertEqual(
            (found.token, found.instance_id, found.project_id, found.host, found.port),
            (None, 7, "wonderland", "127.0.0.1", 5901),
        )
        self.assertEqual((found.expires_at - found.created_at).total_seconds(), 60)

    def test_onlyTheHashIsKept(self):
        """
        The table holds the token's SHA-256, not the token.
        """
        issued = self.successResultOf(self.tokens.create(1, "p", "10.0.0.1", 5900, 60))

        def rows(store):
            return list(store.execute("SELECT token_hash FROM console_tokens"))

        stored = self.successResultOf(self.db.transactor.transact(rows))
        self.assertEqual(stored, [(tokenHash(issued.token),)])

    def test_expired(self):
        """
        A token stops working when its time is up, and issuing another
        removes it.
        """
        issued = self.successResultOf(self.tokens.create(1, "p", "10.0.0.1", 5900, 30))
        self.clock.advance(29)
        self.assertIsNotNone(self.successResultOf(self.tokens.get(issued.token)))
        self.clock.advance(1)
        self.assertIsNone(self.successResultOf(self.tokens.get(issued.token)))
        self.successResultOf(self.tokens.create(2, "p", "10.0.0.1", 5901, 30))

        def count(store):
            return store.execute("SELECT COUNT(*) FROM console_tokens").get_one()[0]

        self.assertEqual(self.successResultOf(self.db.transactor.transact(count)), 1)

    def test_unknownAndMalformed(self):
        for token in ("nope", "", None, 42, "x" * 300):
            self.assertIsNone(self.successResultOf(self.tokens.get(token)))
