# -*- test-case-name: tests.api.dashboard.test_site -*-
"""
The dashboard over an in-memory nova-api: the real auth manager (SQL
driver on in-memory SQLite, memory cache) with L{tests.api.ec2.support}'s
users, driven through L{treq.testing.StubTreq} (HTTP in memory).
"""

import re
from urllib.parse import urlencode

from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from nova.api.dashboard.site import dashboardSite
from nova.api.ec2.resource import Backends
from nova.auth.manager import authManagerFromConfig
from nova.config import configFromFlags
from nova.db.api import inlineDatabase
from nova.network.security_groups import SecurityGroupAPI
from tests.api.ec2.support import createUsers

BASE = "http://dashboard.test/dashboard"

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


class Browser:
    """
    A minimal browser over a L{StubTreq}: keeps cookies, reads CSRF
    tokens out of pages.

    @ivar cookies: name to value (L{str}).
    """

    def __init__(self, stub):
        self.stub = stub
        self.cookies = {}
        self.setCookies = []

    def _headers(self, extra=None):
        headers = dict(extra or {})
        if self.cookies:
            headers[b"Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items()).encode()
        return headers

    async def _answer(self, response):
        for header in response.headers.getRawHeaders(b"set-cookie", []):
            header = header.decode() if isinstance(header, bytes) else header
            self.setCookies.append(header)
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        body = await self._settle(response.text("utf-8"))
        return response.code, response.headers, body

    async def _settle(self, d, timeout=30.0):
        """
        Wait for a request of the stub, moving its in-memory connections
        along while work runs in threads (key generation).
        """
        deadline = reactor.seconds() + timeout
        results = []
        d.addBoth(results.append)
        while True:
            self.stub.flush()
            if results:
                break
            if reactor.seconds() > deadline:
                raise AssertionError(f"no answer within {timeout} s")
            await deferLater(reactor, 0.005, lambda: None)
        result = results[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    async def get(self, path):
        response = await self._settle(
            self.stub.get(BASE + path, headers=self._headers(), allow_redirects=False)
        )
        return await self._answer(response)

    async def post(self, path, fields):
        data = urlencode(fields).encode("ascii")
        response = await self._settle(
            self.stub.post(
                BASE + path,
                data=data,
                headers=self._headers({b"Content-Type": b"application/x-www-form-urlencoded"}),
                allow_redirects=False,
            )
        )
        return await self._answer(response)

    async def login(self, user):
        """
        Log in as C{user} (a L{tests.api.ec2.support.TestUser}).

        @return: the CSRF token of the session (read from the next page).
        """
        code, _, body = await self.get("/login")
        assert code == 200, body
        token = csrfToken(body)
        code, headers, body = await self.post(
            "/login", {"_csrf": token, "user": user.name, "secret": user.secret}
        )
        assert code == 303, (code, body)
        code, _, body = await self.get("/projects")
        assert code == 200, body
        return csrfToken(body)


def csrfToken(body):
    """
    @return: the first CSRF token in an HTML page.
    """
    match = _CSRF.search(body)
    if match is None:
        raise AssertionError(f"no CSRF token in {body[:400]!r}")
    return match.group(1)


async def dashboardHarness(testCase, sessions=None, **flags):
    """
    Build the dashboard's resource over an in-memory cloud without
    compute, volume or network hosts (enough for sessions, projects, key
    pairs, security groups and the role map).

    @param sessions: a L{nova.api.dashboard.sessions.SessionStore} (for
        one on a clock of the test's), or L{None} for the default.
    @return: C{(StubTreq, auth manager)}.
    """
    config = configFromFlags(**flags)
    db = inlineDatabase("sqlite:", reactor)
    await db.sync()
    testCase.addCleanup(db.transactor.close)
    authManager = authManagerFromConfig(config, db, reactor)
    await createUsers(authManager)
    backends = Backends(
        config=config,
        db=db,
        rpc=None,
        clock=reactor,
        authManager=authManager,
        securityGroups=SecurityGroupAPI(db, None),
    )
    site = dashboardSite(config, backends, authManager, reactor, sessions=sessions)
    return StubTreq(site), authManager
