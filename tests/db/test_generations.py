"""
Tests for L{nova.db.generations} on every database.
"""

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.db.backends import BackendTestsMixin, backendCases


class GenerationStoreMixin(BackendTestsMixin):
    def setUp(self):
        return self.setUpDatabase()

    @defer.inlineCallbacks
    def test_bumpAndGet(self):
        self.assertEqual((yield self.db.generations.get("auth")), 0)
        self.assertEqual((yield self.db.generations.bump("auth")), 1)
        self.assertEqual((yield self.db.generations.bump("auth")), 2)
        self.assertEqual((yield self.db.generations.get("auth")), 2)

    @defer.inlineCallbacks
    def test_newCounter(self):
        self.assertEqual((yield self.db.generations.get("other")), 0)
        self.assertEqual((yield self.db.generations.bump("other")), 1)
        self.assertEqual((yield self.db.generations.get("auth")), 0)

    @defer.inlineCallbacks
    def test_concurrentBumpsAllCount(self):
        # Fewer than the transactor's conflict retries: each loser runs again.
        yield defer.gatherResults([self.db.generations.bump("auth") for _ in range(3)])
        self.assertEqual((yield self.db.generations.get("auth")), 3)


backendCases(GenerationStoreMixin, TestCase, globals(), "GenerationStore")
