# -*- test-case-name: tests.db.test_keypairs -*-
"""
The key_pairs table: each user's SSH public keys, by name.
"""

import attr
from storm.exceptions import IntegrityError
from storm.locals import DateTime, Int, Unicode

from nova import exception
from nova.db.services import utcnow
from nova.db.store import readOnly


class KeyPairRow:
    __storm_table__ = "key_pairs"
    id = Int(primary=True)
    user_id = Unicode()
    name = Unicode()
    fingerprint = Unicode()
    public_key = Unicode()
    key_type = Unicode()
    created_at = DateTime()


@attr.s(frozen=True)
class KeyPairRecord:
    """
    @ivar user_id: the owner's name.
    @ivar name: the key pair's name, unique per user.
    @ivar fingerprint: as EC2 shows it (see L{nova.auth.crypto}).
    @ivar public_key: one OpenSSH line.
    @ivar key_type: C{rsa}, C{ed25519} or C{ecdsa}.
    """

    id = attr.ib()
    user_id = attr.ib()
    name = attr.ib()
    fingerprint = attr.ib()
    public_key = attr.ib()
    key_type = attr.ib()
    created_at = attr.ib()

    @classmethod
    def fromModel(cls, row):
        return cls(**{f.name: getattr(row, f.name) for f in attr.fields(cls)})


class KeyPairExists(exception.NovaError):
    """The key pair already exists."""

    code = "KeyPairExists"
    ec2Code = "InvalidKeyPair.Duplicate"
    httpStatus = 400


class KeyPairNotFound(exception.NotFound):
    """The key pair does not exist."""

    code = "KeyPairNotFound"
    ec2Code = "InvalidKeyPair.NotFound"
    httpStatus = 400


class KeyPairStore:
    """
    Rows of the key_pairs table.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def create(self, userId, name, fingerprint, publicKey, keyType="rsa"):
        """
        @return: L{Deferred} firing with the new L{KeyPairRecord}; failing
            with L{KeyPairExists} if the user has a key pair of that name.
        """
        return self.transactor.transact(
            self.thd_create, userId, name, fingerprint, publicKey, keyType, utcnow(self.clock)
        )

    def thd_create(self, store, userId, name, fingerprint, publicKey, keyType, now):
        if self._find(store, userId, name) is not None:
            raise KeyPairExists(f"The keypair '{name}' already exists.")
        row = KeyPairRow()
        row.user_id, row.name = userId, name
        row.fingerprint, row.public_key, row.key_type = fingerprint, publicKey, keyType
        row.created_at = now
        store.add(row)
        try:
            store.flush()
        except IntegrityError:
            raise KeyPairExists(f"The keypair '{name}' already exists.")
        return KeyPairRecord.fromModel(row)

    def _find(self, store, userId, name):
        return store.find(KeyPairRow, KeyPairRow.user_id == userId, KeyPairRow.name == name).one()

    def get(self, userId, name):
        """
        @return: L{Deferred} firing with the L{KeyPairRecord}; failing with
            L{KeyPairNotFound}.
        """
        return self.transactor.transact(self.thd_get, userId, name)

    @readOnly
    def thd_get(self, store, userId, name):
        row = self._find(store, userId, name)
        if row is None:
            raise KeyPairNotFound(f"The key pair '{name}' does not exist")
        return KeyPairRecord.fromModel(row)

    def list(self, userId):
        """
        @return: L{Deferred} firing with the user's L{KeyPairRecord}s by name.
        """
        return self.transactor.transact(self.thd_list, userId)

    @readOnly
    def thd_list(self, store, userId):
        rows = store.find(KeyPairRow, KeyPairRow.user_id == userId).order_by(KeyPairRow.name)
        return [KeyPairRecord.fromModel(row) for row in rows]

    def delete(self, userId, name):
        """
        @return: L{Deferred} firing with L{None}; failing with
            L{KeyPairNotFound}.
        """
        return self.transactor.transact(self.thd_delete, userId, name)

    def thd_delete(self, store, userId, name):
        row = self._find(store, userId, name)
        if row is None:
            raise KeyPairNotFound(f"The key pair '{name}' does not exist")
        store.remove(row)

    def deleteAllForUser(self, userId):
        """
        Remove every key pair of a user (when the user is deleted).

        @return: L{Deferred} firing with the number removed.
        """
        return self.transactor.transact(self.thd_deleteAllForUser, userId)

    def thd_deleteAllForUser(self, store, userId):
        rows = store.find(KeyPairRow, KeyPairRow.user_id == userId)
        count = rows.count()
        rows.remove()
        return count
