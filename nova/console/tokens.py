# -*- test-case-name: tests.console.test_tokens -*-
"""
Console tokens: what lets a browser open one instance's VNC console
through nova-api's websocket proxy for a short while.

L{nova.compute.api.ComputeAPI.getVncConsole} asks the instance's compute
host where its guest's VNC server listens and issues a token bound to that
instance, host and port.  The C{console_tokens} table (schema patch 14)
keeps its SHA-256, never the token itself, so every nova-api process
(whichever one a browser reaches) finds it, and reading the database gives
no one a working token.  A token works until it expires
(C{--vnc_token_ttl}); issuing one removes those that expired.
"""

import secrets
from datetime import timedelta

import attr
from storm.locals import DateTime, Int, Unicode
from twisted.internet.defer import succeed

from nova.db.services import utcnow
from nova.db.store import readOnly
from nova.db.tokens import tokenHash


class ConsoleTokenRow:
    __storm_table__ = "console_tokens"
    token_hash = Unicode(primary=True)
    instance_id = Int()
    project_id = Unicode()
    host = Unicode()
    port = Int()
    created_at = DateTime()
    expires_at = DateTime()


@attr.s(frozen=True)
class ConsoleToken:
    """
    @ivar token: the token itself (only on the record
        L{ConsoleTokenStore.create} returns; L{None} on the others).
    @ivar instance_id: the numeric id of the instance it opens.
    @ivar project_id: that instance's project.
    @ivar host: the address of the guest's VNC server.
    @ivar port: its port (L{int}).
    @ivar created_at: when it was issued (naive UTC).
    @ivar expires_at: when it stops working (naive UTC).
    """

    token = attr.ib(repr=False)
    instance_id = attr.ib()
    project_id = attr.ib()
    host = attr.ib()
    port = attr.ib()
    created_at = attr.ib()
    expires_at = attr.ib()


def _record(row, token=None):
    return ConsoleToken(
        token, row.instance_id, row.project_id, row.host, row.port, row.created_at, row.expires_at
    )


class ConsoleTokenStore:
    """
    Rows of the C{console_tokens} table.
    """

    def __init__(self, transactor, clock):
        """
        @param transactor: the database's transactor
            (L{nova.db.api.NovaDatabase.transactor}).
        @param clock: the L{IReactorTime} expiry is measured with.
        """
        self.transactor = transactor
        self.clock = clock

    def create(self, instanceId, projectId, host, port, ttl):
        """
        Issue a token for the VNC server at C{host}:C{port} of an
        instance; the expired tokens are removed meanwhile.

        @param ttl: seconds it stays valid.
        @return: L{Deferred} firing with the L{ConsoleToken}, the token
            included (43 random URL-safe characters).
        """
        token = secrets.token_urlsafe(32)
        now = utcnow(self.clock)
        return self.transactor.transact(
            self.thd_create,
            token,
            int(instanceId),
            projectId,
            str(host),
            int(port),
            now,
            now + timedelta(seconds=ttl),
        )

    def thd_create(self, store, token, instanceId, projectId, host, port, now, expires):
        store.find(ConsoleTokenRow, ConsoleTokenRow.expires_at <= now).remove()
        row = ConsoleTokenRow()
        row.token_hash = tokenHash(token)
        row.instance_id, row.project_id = instanceId, projectId
        row.host, row.port = host, port
        row.created_at, row.expires_at = now, expires
        store.add(row)
        store.flush()
        return _record(row, token)

    def get(self, token):
        """
        @return: L{Deferred} firing with the L{ConsoleToken} of a token
            that has not expired, or L{None} (unknown or expired).
        """
        if not isinstance(token, str) or not token or len(token) > 255:
            return succeed(None)
        return self.transactor.transact(self.thd_get, tokenHash(token), utcnow(self.clock))

    @readOnly
    def thd_get(self, store, digest, now):
        row = store.get(ConsoleTokenRow, digest)
        if row is None or row.expires_at <= now:
            return None
        return _record(row)
