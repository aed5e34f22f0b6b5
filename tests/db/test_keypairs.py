"""
Tests for L{nova.db.keypairs} on SQLite, PostgreSQL and MariaDB.
"""

from datetime import datetime

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from nova.db.keypairs import KeyPairExists, KeyPairNotFound, KeyPairRecord
from tests.db.backends import BackendTestsMixin, backendCases


class KeyPairStoreMixin(BackendTestsMixin):
    @defer.inlineCallbacks
    def setUp(self):
        yield self.setUpDatabase()
        self.keypairs = self.db.keypairs

    @defer.inlineCallbacks
    def test_createAndGet(self):
        record = yield self.keypairs.create("alice", "k1", "aa:bb", "ssh-rsa AAAA alice", "rsa")
        self.assertIsInstance(record, KeyPairRecord)
        self.assertEqual(
            (record.user_id, record.name, record.fingerprint, record.public_key,
             record.key_type, record.created_at),
            ("alice", "k1", "aa:bb", "ssh-rsa AAAA alice", "rsa", datetime(2023, 11, 14, 22, 13, 20)),
        )
        self.assertEqual((yield self.keypairs.get("alice", "k1")), record)

    @defer.inlineCallbacks
    def test_duplicate(self):
        yield self.keypairs.create("alice", "k1", "aa", "key1")
        failure = yield self.assertFailure(
            self.keypairs.create("alice", "k1", "bb", "key2"), KeyPairExists
        )
        self.assertEqual((failure.ec2Code, failure.httpStatus), ("InvalidKeyPair.Duplicate", 400))
        self.assertEqual((yield self.keypairs.get("alice", "k1")).public_key, "key1")
        # Names are per user, and exact.
        yield self.keypairs.create("bob", "k1", "cc", "key3")
        yield self.keypairs.create("alice", "K1", "dd", "key4")

    @defer.inlineCallbacks
    def test_missing(self):
        failure = yield self.assertFailure(self.keypairs.get("alice", "nope"), KeyPairNotFound)
        self.assertEqual(failure.ec2Code, "InvalidKeyPair.NotFound")
        yield self.assertFailure(self.keypairs.delete("alice", "nope"), KeyPairNotFound)

    @defer.inlineCallbacks
    def test_listAndDelete(self):
        for user, name in [("alice", "zeta"), ("alice", "alpha"), ("bob", "beta")]:
            yield self.keypairs.create(user, name, "fp", "key")
        self.assertEqual([r.name for r in (yield self.keypairs.list("alice"))], ["alpha", "zeta"])
        yield self.keypairs.delete("alice", "zeta")
        self.assertEqual([r.name for r in (yield self.keypairs.list("alice"))], ["alpha"])
        self.assertEqual((yield self.keypairs.deleteAllForUser("alice")), 1)
        self.assertEqual((yield self.keypairs.list("alice")), [])
        self.assertEqual([r.name for r in (yield self.keypairs.list("bob"))], ["beta"])

    @defer.inlineCallbacks
    def test_longPublicKey(self):
        key = "ssh-rsa " + "A" * 20000
        yield self.keypairs.create("alice", "big", "fp", key)
        self.assertEqual((yield self.keypairs.get("alice", "big")).public_key, key)


backendCases(KeyPairStoreMixin, TestCase, globals(), "KeyPairStore")
