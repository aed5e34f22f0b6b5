"""
Tests for what the dashboard shows while the database or the message
broker cannot be reached: a "Service unavailable" page (503, with
C{Retry-After}), no traceback, one log line per outage.
"""

import json

from twisted.internet.defer import ensureDeferred, fail
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import TestCase

from nova.api.dashboard import site
from nova.api.dashboard.site import OUTAGE_RETRY_AFTER, UNAVAILABLE_MESSAGE
from nova.db.store import DatabaseUnavailable
from nova.exception import DatabaseError
from nova.rpc.interfaces import BrokerUnavailable
from nova.util.outage import OutageLog

from tests.api.dashboard.support import Browser, dashboardHarness
from tests.api.ec2.support import ALICE


class DashboardOutageTests(TestCase):
    async def _setUp(self):
        self.stub, self.authManager = await dashboardHarness(self)
        self.outageEvents = []
        self.patch(OutageLog, "log", Logger(observer=self.outageEvents.append))
        self.siteEvents = []
        self.patch(site, "log", Logger(observer=self.siteEvents.append))
        self.browser = Browser(self.stub)
        await self.browser.login(ALICE)

    def setUp(self):
        return ensureDeferred(self._setUp())

    def failNext(self, obj, name, errors):
        """
        Make C{obj.name} fail with each of C{errors} in turn, then behave
        as before.
        """
        original = getattr(obj, name)

        def replacement(*args, **kwargs):
            if errors:
                return fail(errors.pop(0))
            return original(*args, **kwargs)

        self.patch(obj, name, replacement)

    def outageLines(self):
        return [formatEvent(event) for event in self.outageEvents]

    def assertUnavailablePage(self, answer):
        code, headers, body = answer
        self.assertEqual(code, 503, body)
        self.assertEqual(
            headers.getRawHeaders(b"retry-after"), [str(OUTAGE_RETRY_AFTER).encode("ascii")]
        )
        self.assertIn("<h1>Service unavailable</h1>", body)
        self.assertIn(UNAVAILABLE_MESSAGE, body)
        self.assertNotIn("Traceback", body)
        self.assertNotIn("connection refused", body)

    async def test_pageOfAHandler(self):
        """
        A page whose service call finds the database out is a 503 page
        saying to try again; the outage is logged once, and its end once
        a page is served again.
        """
        keyPairs = self.authManager.keyPairs
        self.failNext(
            keyPairs,
            "describeKeyPairs",
            [DatabaseUnavailable("cannot connect: connection refused") for _ in range(3)],
        )
        for _ in range(3):
            self.assertUnavailablePage(await self.browser.get("/p/alice/keypairs"))
        lines = self.outageLines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("Dashboard requests fail: the database is unreachable", lines[0])
        self.assertEqual(self.siteEvents, [])
        code, _, body = await self.browser.get("/p/alice/keypairs")
        self.assertEqual(code, 200, body)
        self.assertEqual(
            self.outageLines()[1:], ["Dashboard: database reachable again after 3 failed requests"]
        )

    async def test_beforeTheHandler(self):
        """
        Reading the user's roles in the project (before any handler) with
        the broker or the database out is the same 503, in JSON for a
        page's poll.
        """
        self.failNext(
            self.authManager,
            "contextFor",
            [
                BrokerUnavailable("no connection to the message broker"),
                DatabaseUnavailable("connection refused"),
                DatabaseUnavailable("connection refused"),
            ],
        )
        self.assertUnavailablePage(await self.browser.get("/p/alice/security-groups"))
        code, headers, body = await self.browser.get("/p/alice/volumes.json")
        self.assertEqual((code, json.loads(body)), (503, {"error": UNAVAILABLE_MESSAGE}))
        self.assertEqual(
            headers.getRawHeaders(b"retry-after"), [str(OUTAGE_RETRY_AFTER).encode("ascii")]
        )
        self.assertUnavailablePage(await self.browser.get("/p/alice/keypairs"))
        lines = self.outageLines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("the message broker is unreachable", lines[0])
        self.assertIn("the database is unreachable", lines[1])
        self.assertEqual(self.siteEvents, [])
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_otherErrorsStayErrors(self):
        """
        A database error that is not an outage is no "Service
        unavailable": it is logged with its traceback.
        """
        self.failNext(
            self.authManager.keyPairs,
            "describeKeyPairs",
            [DatabaseError("IntegrityError: duplicate key")],
        )
        code, headers, body = await self.browser.get("/p/alice/keypairs")
        self.assertEqual(code, 500)
        self.assertIsNone(headers.getRawHeaders(b"retry-after"))
        self.assertNotIn("Service unavailable", body)
        self.assertEqual(len(self.siteEvents), 1)
        self.assertEqual(self.siteEvents[0]["log_failure"].type, DatabaseError)
        self.assertEqual(self.outageEvents, [])
