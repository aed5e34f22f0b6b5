"""
Tests for L{nova.db.tokens}: the OpenStack API's token store.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from nova.db.api import inlineDatabase
from nova.db.tokens import TokenRow, tokenHash


class TokenStoreTests(TestCase):
    async def setUp(self):
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.db = inlineDatabase("sqlite:", self.clock)
        await self.db.sync()
        self.addCleanup(self.db.transactor.close)
        self.tokens = self.db.tokens

    async def test_createAndGet(self):
        record = await self.tokens.create("alice", "proj", 60)
        self.assertEqual(len(record.token), 43)
        found = await self.tokens.get(record.token)
        self.assertEqual((found.user_id, found.project_id, found.token), ("alice", "proj", None))
        self.assertEqual(found.expires_at, record.expires_at)
        self.assertIsNone(await self.tokens.get(record.token + "x"))
        for bad in ("", None, "x" * 300):
            self.assertIsNone(await self.tokens.get(bad))

    async def test_onlyHashKept(self):
        record = await self.tokens.create("alice", None, 60)
        store = self.db.transactor.store
        [row] = list(store.find(TokenRow))
        self.assertEqual(row.token_hash, tokenHash(record.token))
        self.assertNotEqual(row.token_hash, record.token)
        self.assertIsNone((await self.tokens.get(record.token)).project_id)

    async def test_expires(self):
        record = await self.tokens.create("alice", "proj", 60)
        self.clock.advance(59)
        self.assertIsNotNone(await self.tokens.get(record.token))
        self.clock.advance(1)
        self.assertIsNone(await self.tokens.get(record.token))

    async def test_loginRemovesUsersExpiredTokens(self):
        old = await self.tokens.create("alice", "proj", 10)
        bobs = await self.tokens.create("bob", "proj", 10)
        self.clock.advance(20)
        await self.tokens.create("alice", "proj", 10)
        rows = list(self.db.transactor.store.find(TokenRow))
        hashes = {row.token_hash for row in rows}
        self.assertNotIn(tokenHash(old.token), hashes)
        self.assertIn(tokenHash(bobs.token), hashes)
        self.assertEqual(await self.tokens.purgeExpired(), 1)

    async def test_delete(self):
        record = await self.tokens.create("alice", "proj", 60)
        self.assertTrue(await self.tokens.delete(record.token))
        self.assertFalse(await self.tokens.delete(record.token))
        self.assertIsNone(await self.tokens.get(record.token))
