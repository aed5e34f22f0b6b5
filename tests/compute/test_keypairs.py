"""
Tests for L{nova.compute.keypairs.KeyPairAPI}: each method, and that a
key pair belongs to its user only.
"""

from twisted.internet import task
from twisted.internet.defer import maybeDeferred
from twisted.trial.unittest import SynchronousTestCase

from nova.auth.crypto import InvalidKeyFormat, generateKeyPair
from nova.auth.manager import CreatedKeyPair, InvalidKeyPairName, KeyPairService
from nova.compute.keypairs import KeyPairAPI
from nova.db.keypairs import KeyPairExists, KeyPairNotFound, KeyPairRecord
from tests.util import ADMIN, ALICE, BOB, START, makeDatabase

PUBLIC_KEY = generateKeyPair(1024).publicKey


def inline(function, *args):
    return maybeDeferred(function, *args)


class KeyPairAPITests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = makeDatabase(self, self.clock)
        self.api = KeyPairAPI(KeyPairService(self.db.keypairs, inline))

    def ok(self, d):
        return self.successResultOf(d)

    def test_createKeyPair(self):
        """
        The private key is returned once; the public key is kept for the
        context's user.
        """
        created = self.ok(self.api.createKeyPair(ALICE, "k1", "ed25519"))
        self.assertIsInstance(created, CreatedKeyPair)
        self.assertEqual((created.name, created.keyType), ("k1", "ed25519"))
        self.assertIn("PRIVATE KEY", created.privateKey)
        record = self.ok(self.db.keypairs.get("alice", "k1"))
        self.assertEqual(record.fingerprint, created.fingerprint)
        self.failureResultOf(self.api.createKeyPair(ALICE, "k1"), KeyPairExists)
        self.failureResultOf(self.api.createKeyPair(ALICE, ""), InvalidKeyPairName)

    def test_importKeyPair(self):
        record = self.ok(self.api.importKeyPair(ALICE, "mine", PUBLIC_KEY))
        self.assertIsInstance(record, KeyPairRecord)
        self.assertEqual((record.user_id, record.name), ("alice", "mine"))
        self.failureResultOf(self.api.importKeyPair(ALICE, "bad", "ssh-rsa nope"), InvalidKeyFormat)

    def test_importKeyPairNameInUse(self):
        """
        A name in use is refused before the key is read: a bad key under a
        used name is a duplicate, not a format error.
        """
        self.ok(self.api.importKeyPair(ALICE, "mine", PUBLIC_KEY))
        self.failureResultOf(self.api.importKeyPair(ALICE, "mine", "garbage"), KeyPairExists)

    def test_getKeyPair(self):
        self.ok(self.api.importKeyPair(ALICE, "mine", PUBLIC_KEY))
        record = self.ok(self.api.getKeyPair(ALICE, "mine"))
        self.assertEqual(record.public_key, PUBLIC_KEY)
        self.failureResultOf(self.api.getKeyPair(ALICE, "other"), KeyPairNotFound)

    def test_describeKeyPairs(self):
        self.ok(self.api.importKeyPair(ALICE, "b", PUBLIC_KEY))
        self.ok(self.api.importKeyPair(ALICE, "a", PUBLIC_KEY))
        self.assertEqual([r.name for r in self.ok(self.api.describeKeyPairs(ALICE))], ["a", "b"])
        self.assertEqual(
            [r.name for r in self.ok(self.api.describeKeyPairs(ALICE, ["b"]))], ["b"]
        )
        self.failureResultOf(self.api.describeKeyPairs(ALICE, ["a", "c"]), KeyPairNotFound)

    def test_deleteKeyPair(self):
        self.ok(self.api.importKeyPair(ALICE, "mine", PUBLIC_KEY))
        self.assertTrue(self.ok(self.api.deleteKeyPair(ALICE, "mine")))
        self.assertFalse(self.ok(self.api.deleteKeyPair(ALICE, "mine")))
        self.assertEqual(self.ok(self.api.describeKeyPairs(ALICE)), [])

    def test_anotherUsersKeyPairs(self):
        """
        Another user's key pair (even a superuser's view) is neither
        visible nor changeable; the same name is free for each user.
        """
        self.ok(self.api.importKeyPair(ALICE, "mine", PUBLIC_KEY))
        for other in (BOB, ADMIN):
            self.assertEqual(self.ok(self.api.describeKeyPairs(other)), [])
            self.failureResultOf(self.api.getKeyPair(other, "mine"), KeyPairNotFound)
            self.failureResultOf(self.api.describeKeyPairs(other, ["mine"]), KeyPairNotFound)
            self.assertFalse(self.ok(self.api.deleteKeyPair(other, "mine")))
        self.ok(self.api.getKeyPair(ALICE, "mine"))
        self.ok(self.api.importKeyPair(BOB, "mine", PUBLIC_KEY))
        self.assertEqual(self.ok(self.api.getKeyPair(BOB, "mine")).user_id, "bob")
