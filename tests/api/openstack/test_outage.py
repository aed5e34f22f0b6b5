"""
Tests for what the OpenStack API answers while the database or the message
broker cannot be reached: C{serviceUnavailable} (503) with C{Retry-After},
in each API's own shape (v2.1, v2, v1.1, v1.0 in JSON and XML, identity),
and one log line per outage instead of a traceback per request.
"""

import json
from xml.etree import ElementTree

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred, fail
from twisted.internet.threads import deferToThread
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import TestCase

from nova.api.ec2.resource import boundedRequestFactory
from nova.api.openstack import resource
from nova.api.openstack.faults import OUTAGE_RETRY_AFTER, UNAVAILABLE_MESSAGE
from nova.api.openstack.site import OpenStackRoot
from nova.api.openstack.xml import V10_NAMESPACE
from nova.db.api import NovaDatabase
from nova.db.store import DatabaseUnavailable, Transactor, openDatabase
from nova.exception import DatabaseError
from nova.rpc.interfaces import BrokerUnavailable
from tests.api.ec2.cloud import ALICE
from tests.api.ec2.support import APIServerMixin, TrackingSite, _rawRequest
from tests.api.openstack.support import OpenStackCloudMixin, passwordAuth
from tests.db.backends import freshURI, postgresAdmin

UNAVAILABLE = {"serviceUnavailable": {"code": 503, "message": UNAVAILABLE_MESSAGE}}

#: The identity API's (Keystone's) shape of the same answer.
IDENTITY_UNAVAILABLE = {
    "error": {"code": 503, "title": "Service Unavailable", "message": UNAVAILABLE_MESSAGE}
}

V10_UNAVAILABLE = {
    "serviceUnavailable": {
        "code": 503,
        "message": UNAVAILABLE_MESSAGE,
        "details": "Service Unavailable",
    }
}


class LogCaptureMixin:
    """
    Capture what the OpenStack site logs: its outage log's events and the
    routers' own (tracebacks of unexpected failures).
    """

    def captureLogs(self, root):
        """
        @param root: the L{OpenStackRoot}.
        """
        self.outageEvents = []
        root.outages.log = Logger(observer=self.outageEvents.append)
        self.routerEvents = []
        self.patch(resource, "log", Logger(observer=self.routerEvents.append))

    def outageLines(self):
        return [formatEvent(event) for event in self.outageEvents]


def failNext(testCase, obj, name, errors):
    """
    Make C{obj.name} fail with each of C{errors} in turn (one per call),
    then behave as before.

    @param errors: a L{list} of exceptions, consumed.
    @return: a L{list} that counts the calls that failed.
    """
    original = getattr(obj, name)
    failed = []

    def replacement(*args, **kwargs):
        if errors:
            failed.append(True)
            return fail(errors.pop(0))
        return original(*args, **kwargs)

    testCase.patch(obj, name, replacement)
    return failed


class OutageTests(LogCaptureMixin, OpenStackCloudMixin, TestCase):
    """
    The in-process cloud, whose service calls fail as each test says.
    """

    async def setUp(self):
        await self.startOpenStack()
        self.root = self.osSite.resource
        self.captureLogs(self.root)
        self.token = await self.login()

    async def v10Token(self):
        status, headers, _ = await self.call(
            "GET", "/v1.0", headers={"X-Auth-User": ALICE.name, "X-Auth-Key": ALICE.access}
        )
        self.assertEqual(status, 204)
        return headers["x-auth-token"]

    async def raw(self, method, path, token, headers=None):
        sent = dict(headers or {}, **{"X-Auth-Token": token})
        return await deferToThread(_rawRequest, self.osPort, method, path, None, sent)

    def assertUnavailable(self, answer, body=UNAVAILABLE):
        status, headers, decoded = answer
        self.assertEqual(status, 503, decoded)
        self.assertEqual(decoded, body)
        self.assertEqual(headers["retry-after"], str(OUTAGE_RETRY_AFTER))
        self.assertTrue(headers["x-openstack-request-id"].startswith("req-"))

    async def test_databaseUnavailable(self):
        """
        A service call that finds the database unreachable answers
        C{serviceUnavailable} (503) with C{Retry-After}, at every compute
        mount point; the outage is logged once, whatever the number of
        requests and APIs it failed, and its end once, with the count, by
        the first authenticated request that succeeds.
        """
        errors = [
            DatabaseUnavailable("cannot connect to the database: connection refused")
            for _ in range(4)
        ]
        failed = failNext(self, self.backends.compute, "describeInstanceTypes", errors)
        for path in ("/v2.1/flavors", "/v2/flavors", "/v1.1/flavors", "/v2.1/flavors/detail"):
            self.assertUnavailable(await self.call("GET", path, token=self.token))
        self.assertEqual(len(failed), 4)
        lines = self.outageLines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("OpenStack API requests fail: the database is unreachable", lines[0])
        self.assertIn("connection refused", lines[0])
        self.assertEqual(self.routerEvents, [])
        self.assertEqual(self.flushLoggedErrors(), [])

        # The version document reaches nothing: it does not end the outage.
        status, _, _ = await self.call("GET", "/")
        self.assertEqual(status, 200)
        self.assertEqual(len(self.outageEvents), 1)
        status, _, body = await self.call("GET", "/v2.1/flavors", token=self.token)
        self.assertEqual(status, 200, body)
        self.assertEqual(
            self.outageLines()[1:],
            ["OpenStack API: database reachable again after 4 failed requests"],
        )
        status, _, _ = await self.call("GET", "/v2.1/flavors", token=self.token)
        self.assertEqual(status, 200)
        self.assertEqual(len(self.outageEvents), 2)

    async def test_brokerUnavailable(self):
        """
        A message broker that cannot be reached is a 503 as well, and an
        outage of its own: one line for it, one for the database.
        """
        failNext(
            self,
            self.backends.compute,
            "describeInstanceTypes",
            [BrokerUnavailable("no connection to the message broker") for _ in range(3)]
            + [DatabaseUnavailable("server closed the connection unexpectedly")],
        )
        for _ in range(4):
            self.assertUnavailable(await self.call("GET", "/v2.1/flavors", token=self.token))
        lines = self.outageLines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("the message broker is unreachable", lines[0])
        self.assertIn("BrokerUnavailable: no connection to the message broker", lines[0])
        self.assertIn("the database is unreachable", lines[1])
        self.assertEqual(self.routerEvents, [])
        status, _, _ = await self.call("GET", "/v2.1/flavors", token=self.token)
        self.assertEqual(status, 200)
        self.assertEqual(
            self.outageLines()[2:],
            [
                "OpenStack API: database reachable again after 1 failed requests",
                "OpenStack API: message broker reachable again after 3 failed requests",
            ],
        )

    async def test_v10JSONAndXML(self):
        """
        The v1.0 API answers its own fault document, with C{details}, in
        JSON and in XML, with C{Retry-After}; v1.0 and v2.1 requests of
        one outage are logged once.
        """
        token = await self.v10Token()
        failNext(
            self,
            self.backends.compute,
            "describeInstanceTypes",
            [DatabaseUnavailable("connection refused") for _ in range(3)],
        )
        self.assertUnavailable(
            await self.call("GET", "/v1.0/flavors", token=token), V10_UNAVAILABLE
        )
        response = await self.raw("GET", "/v1.0/flavors/detail.xml", token)
        self.assertEqual(response.status, 503)
        headers = {k.lower(): v for k, v in response.headers.items()}
        self.assertEqual(headers["retry-after"], str(OUTAGE_RETRY_AFTER))
        self.assertTrue(headers["content-type"].startswith("application/xml"))
        fault = ElementTree.fromstring(response.body)
        self.assertEqual(fault.tag, f"{{{V10_NAMESPACE}}}serviceUnavailable")
        self.assertEqual(fault.get("code"), "503")
        self.assertEqual(fault.findtext(f"{{{V10_NAMESPACE}}}message"), UNAVAILABLE_MESSAGE)
        self.assertEqual(fault.findtext(f"{{{V10_NAMESPACE}}}details"), "Service Unavailable")
        self.assertUnavailable(await self.call("GET", "/v2.1/flavors", token=self.token))
        self.assertEqual(len(self.outageEvents), 1, self.outageLines())
        self.assertEqual(self.routerEvents, [])

    async def test_v10CreateServer(self):
        """
        A v1.0 launch that could not reach the broker is
        C{serviceUnavailable}, not C{serverCapacityUnavailable} (which
        says no host could take the server).
        """
        image = await self.addImage(name="cirros")
        token = await self.v10Token()
        failNext(
            self,
            self.backends.compute,
            "runInstances",
            [BrokerUnavailable("no connection to the message broker")],
        )
        answer = await self.call(
            "POST",
            "/v1.0/servers",
            {"server": {"name": "web", "imageId": image.ec2_id, "flavorId": 1}},
            token=token,
        )
        self.assertUnavailable(answer, V10_UNAVAILABLE)
        self.assertEqual(len(self.outageEvents), 1)

    async def test_tokenStoreUnavailable(self):
        """
        Checking the token is the first thing a request does with the
        database: when it cannot be reached, the answer is a 503, not an
        C{unauthorized} that would send a client to log in again.
        """
        failNext(
            self,
            self.db.tokens,
            "get",
            [DatabaseUnavailable("connection refused") for _ in range(2)],
        )
        self.assertUnavailable(await self.call("GET", "/v2.1/servers", token=self.token))
        self.assertUnavailable(
            await self.call(
                "GET", "/v3/auth/tokens", token=self.token,
                headers={"X-Subject-Token": self.token},
            ),
            IDENTITY_UNAVAILABLE,
        )
        self.assertEqual(len(self.outageEvents), 1)
        status, _, _ = await self.call("GET", "/v2.1/servers", token=self.token)
        self.assertEqual(status, 200)
        self.assertEqual(len(self.outageEvents), 2)

    async def test_identityLogin(self):
        """
        A login whose user cannot be read answers 503 too, from the
        identity API (v3 and v2.0) and the v1.0 login.
        """
        failNext(
            self,
            self.authManager,
            "getUser",
            [DatabaseUnavailable("connection refused") for _ in range(3)],
        )
        self.assertUnavailable(
            await self.call("POST", "/v3/auth/tokens", passwordAuth(ALICE.name, ALICE.secret)),
            IDENTITY_UNAVAILABLE,
        )
        self.assertUnavailable(
            await self.call(
                "POST",
                "/v2.0/tokens",
                {"auth": {"passwordCredentials": {"username": ALICE.name,
                                                  "password": ALICE.secret}}},
            ),
            IDENTITY_UNAVAILABLE,
        )
        self.assertUnavailable(
            await self.call(
                "GET", "/v1.0", headers={"X-Auth-User": ALICE.name, "X-Auth-Key": ALICE.access}
            ),
            V10_UNAVAILABLE,
        )
        self.assertEqual(len(self.outageEvents), 1, self.outageLines())
        self.assertEqual(self.routerEvents, [])
        await self.login()

    async def test_otherDatabaseErrorsAreFaults(self):
        """
        A database error that is not about reaching it (a constraint, a
        bug) stays a C{computeFault} (500), logged with its traceback;
        it is no outage.
        """
        failNext(
            self,
            self.backends.compute,
            "describeInstanceTypes",
            [DatabaseError("IntegrityError: duplicate key")],
        )
        status, headers, body = await self.call("GET", "/v2.1/flavors", token=self.token)
        self.assertEqual((status, list(body)), (500, ["computeFault"]))
        self.assertNotIn("retry-after", headers)
        self.assertEqual(len(self.routerEvents), 1)
        self.assertEqual(self.routerEvents[0]["log_failure"].type, DatabaseError)
        self.assertEqual(self.outageEvents, [])


class PostgresOutageTests(LogCaptureMixin, APIServerMixin, TestCase):
    """
    The real thing: the OpenStack API over PostgreSQL whose connections
    the test ends (and refuses for a while) with the server running.
    """

    async def setUp(self):
        uri = freshURI(self, "postgres")
        self.databaseName = uri.rsplit("/", 1)[1]
        transactor = Transactor(openDatabase(uri), reactor, maxThreads=2)
        transactor.startService()
        self.addCleanup(transactor.stopService)
        database = NovaDatabase(transactor, reactor)
        await database.sync()
        await self.startServer(
            database=database,
            credentials_cache_ttl=0,
            credentials_refresh_interval=0,
            osapi_host="127.0.0.1",
        )
        root = OpenStackRoot(self.config, self.backends, self.db.tokens)
        self.captureLogs(root)
        site = TrackingSite(
            root, requestFactory=boundedRequestFactory(self.config.ec2_max_request_bytes)
        )
        site.noisy = False
        listening = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.osPort = listening.getHost().port

        async def stop():
            await listening.stopListening()
            await site.closeAll()

        self.addCleanup(lambda: ensureDeferred(stop()))

    def admin(self, *statements):
        """
        Run statements on the server's C{postgres} database
        (L{postgresAdmin}) for this test's database.
        """
        return postgresAdmin(self.databaseName, *statements)

    async def request(self, method, path, body=None, token=None):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["X-Auth-Token"] = token
        response = await deferToThread(_rawRequest, self.osPort, method, path, data, headers)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return response.status, headers, (json.loads(response.body) if response.body else None)

    async def test_terminatedBackends(self):
        """
        Logins and compute requests answer 503 with C{Retry-After} while
        the database refuses connections, one line is logged, and they
        succeed again by themselves once it takes them.
        """
        status, headers, body = await self.request(
            "POST", "/v3/auth/tokens", passwordAuth(ALICE.name, ALICE.secret, ALICE.name)
        )
        self.assertEqual(status, 201, body)
        token = headers["x-subject-token"]
        status, _, body = await self.request("GET", "/v2.1/os-keypairs", token=token)
        self.assertEqual((status, body), (200, {"keypairs": []}))
        await self.admin(
            "ALTER DATABASE {db} ALLOW_CONNECTIONS false",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
        )
        for method, path, body, sent, expected in (
            ("GET", "/v2.1/os-keypairs", None, token, UNAVAILABLE),
            ("GET", "/v2.1/os-keypairs/web", None, token, UNAVAILABLE),
            (
                "POST",
                "/v3/auth/tokens",
                passwordAuth(ALICE.name, ALICE.secret, ALICE.name),
                None,
                IDENTITY_UNAVAILABLE,
            ),
        ):
            status, headers, answer = await self.request(method, path, body, sent)
            self.assertEqual((status, answer), (503, expected), path)
            self.assertEqual(headers["retry-after"], str(OUTAGE_RETRY_AFTER))
        await self.admin("ALTER DATABASE {db} ALLOW_CONNECTIONS true")
        # No restart: the transactor's threads connect again by themselves.
        for _ in range(3):
            status, _, body = await self.request("GET", "/v2.1/os-keypairs", token=token)
            self.assertEqual(status, 200, body)
        lines = self.outageLines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("the database is unreachable", lines[0])
        self.assertEqual(
            lines[1], "OpenStack API: database reachable again after 3 failed requests"
        )
        self.assertEqual(self.routerEvents, [])
        self.assertEqual(self.flushLoggedErrors(), [])
