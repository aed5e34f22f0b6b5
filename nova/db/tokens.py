# -*- test-case-name: tests.api.openstack.test_tokens -*-
"""
The C{auth_tokens} table: the tokens of the OpenStack API (see
L{nova.api.openstack.identity}).

A token is a random string given to the client once; the table keeps only
its SHA-256, so that reading the database does not give anyone a working
token.  Each token names the user and the project (or none) it acts for
and expires at a fixed time.
"""

import hashlib
import secrets
from datetime import timedelta

import attr
from storm.locals import DateTime, Unicode
from twisted.internet.defer import succeed

from nova.db.services import utcnow
from nova.db.store import readOnly


class TokenRow:
    __storm_table__ = "auth_tokens"
    token_hash = Unicode(primary=True)
    user_id = Unicode()
    project_id = Unicode()
    created_at = DateTime()
    expires_at = DateTime()


@attr.s(frozen=True)
class TokenRecord:
    """
    @ivar token: the token itself (only on the record L{TokenStore.create}
        returns; L{None} on the others).
    @ivar user_id: the user's name.
    @ivar project_id: the project's name, or L{None} for an unscoped token.
    @ivar created_at: when it was issued (naive UTC).
    @ivar expires_at: when it stops working (naive UTC).
    """

    token = attr.ib(repr=False)
    user_id = attr.ib()
    project_id = attr.ib()
    created_at = attr.ib()
    expires_at = attr.ib()


def tokenHash(token):
    """
    @return: the hex SHA-256 of C{token} (L{str}), as the table keeps it.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def newToken():
    """
    @return: a new token: 43 random URL-safe characters (256 bits).
    """
    return secrets.token_urlsafe(32)


def _record(row, token=None):
    return TokenRecord(token, row.user_id, row.project_id, row.created_at, row.expires_at)


class TokenStore:
    """
    Rows of the C{auth_tokens} table.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def create(self, userId, projectId, ttl):
        """
        Issue a new token; the user's expired tokens are removed meanwhile,
        so that the table holds at most what is valid plus what expired
        since each user's last login (L{purgeExpired} removes the rest).

        @param projectId: the project it is scoped to, or L{None}.
        @param ttl: seconds it stays valid.
        @return: L{Deferred} firing with the L{TokenRecord}, the token
            included.
        """
        token = newToken()
        now = utcnow(self.clock)
        return self.transactor.transact(
            self.thd_create, token, userId, projectId, now, now + timedelta(seconds=ttl)
        )

    def thd_create(self, store, token, userId, projectId, now, expires):
        store.find(TokenRow, TokenRow.user_id == userId, TokenRow.expires_at <= now).remove()
        row = TokenRow()
        row.token_hash = tokenHash(token)
        row.user_id, row.project_id = userId, projectId
        row.created_at, row.expires_at = now, expires
        store.add(row)
        store.flush()
        return _record(row, token)

    def get(self, token):
        """
        @return: L{Deferred} firing with the L{TokenRecord} of a token that
            has not expired, or L{None} (unknown, revoked or expired).
        """
        if not isinstance(token, str) or not token or len(token) > 255:
            return succeed(None)
        return self.transactor.transact(self.thd_get, tokenHash(token), utcnow(self.clock))

    @readOnly
    def thd_get(self, store, digest, now):
        row = store.get(TokenRow, digest)
        if row is None or row.expires_at <= now:
            return None
        return _record(row)

    def delete(self, token):
        """
        Revoke a token.

        @return: L{Deferred} firing with L{True} if there was one.
        """
        return self.transactor.transact(self.thd_delete, tokenHash(token))

    def thd_delete(self, store, digest):
        row = store.get(TokenRow, digest)
        if row is None:
            return False
        store.remove(row)
        return True

    def purgeExpired(self):
        """
        Remove the tokens that have expired.

        @return: L{Deferred} firing with how many were removed.
        """
        return self.transactor.transact(self.thd_purgeExpired, utcnow(self.clock))

    def thd_purgeExpired(self, store, now):
        rows = store.find(TokenRow, TokenRow.expires_at <= now)
        count = rows.count()
        rows.remove()
        return count
