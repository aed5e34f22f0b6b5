# -*- test-case-name: tests.api.dashboard.test_sessions -*-
"""
Dashboard logins: a session is a random id (the cookie) naming, in an
L{nova.cache.interfaces.ICache}, the user and the session's CSRF token.

Sessions expire C{ttl} seconds after their last use; they live in the
cache so that every nova-api sharing it (Redis) knows them, and a
restarted one (memory cache) forgets them.
"""

import hmac
import json
import secrets

import attr
from twisted.internet.defer import inlineCallbacks

#: Prefix of the cache keys of sessions.
KEY_PREFIX = "dashboard-session:"


@attr.s(frozen=True)
class Session:
    """
    @ivar sessionId: the cookie's value.
    @ivar userName: who logged in.
    @ivar csrfToken: the token every form of the session carries.
    @ivar flash: messages to show on the next page, as C{(kind, text)}
        pairs (C{kind} is C{notice} or C{error}).
    """

    sessionId = attr.ib()
    userName = attr.ib()
    csrfToken = attr.ib(repr=False)
    flash = attr.ib(default=(), converter=lambda items: tuple(tuple(i) for i in items))

    def checkToken(self, token):
        """
        @return: whether C{token} (from a form) is this session's CSRF token.
        """
        if not isinstance(token, str):
            return False
        return hmac.compare_digest(token.encode("utf-8"), self.csrfToken.encode("utf-8"))

    def _encode(self):
        return json.dumps(
            {"user": self.userName, "csrf": self.csrfToken, "flash": list(self.flash)},
            ensure_ascii=True,
        )


def _validId(sessionId):
    return (
        isinstance(sessionId, str)
        and 20 <= len(sessionId) <= 100
        and all(c.isalnum() or c in "-_" for c in sessionId)
    )


class SessionStore:
    """
    Creates, finds and ends sessions.

    @ivar cache: the L{nova.cache.interfaces.ICache} holding them.
    @ivar ttl: seconds a session lasts after its last use.
    """

    def __init__(self, cache, ttl, token=secrets.token_urlsafe):
        """
        @param token: called with a byte count, returns a random URL-safe
            L{str} (tests may give a predictable one).
        """
        self.cache = cache
        self.ttl = ttl
        self._token = token

    async def create(self, userName):
        """
        Start a session for C{userName} (already authenticated).

        @return: the new L{Session}.
        """
        session = Session(self._token(32), userName, self._token(32))
        await self._save(session)
        return session

    @inlineCallbacks
    def _save(self, session):
        yield self.cache.set(KEY_PREFIX + session.sessionId, session._encode(), self.ttl)

    async def get(self, sessionId):
        """
        Find a live session and start its time again.

        @return: the L{Session}, or L{None} for an unknown, malformed or
            expired id.
        """
        if not _validId(sessionId):
            return None
        text = await self.cache.get(KEY_PREFIX + sessionId)
        if text is None:
            return None
        try:
            data = json.loads(text)
            session = Session(sessionId, data["user"], data["csrf"], data.get("flash", ()))
        except (ValueError, KeyError, TypeError):
            return None
        await self._save(session)
        return session

    async def addFlash(self, session, kind, text):
        """
        Keep a message for the session's next page.

        @return: the updated L{Session}.
        """
        session = attr.evolve(session, flash=session.flash + ((kind, text),))
        await self._save(session)
        return session

    async def popFlash(self, session):
        """
        @return: C{(session without messages, the messages)}.
        """
        if not session.flash:
            return session, ()
        messages = session.flash
        session = attr.evolve(session, flash=())
        await self._save(session)
        return session, messages

    async def end(self, sessionId):
        """
        Forget a session (log out).
        """
        if _validId(sessionId):
            await self.cache.delete(KEY_PREFIX + sessionId)
