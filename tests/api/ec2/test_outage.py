"""
Tests for what the EC2 API answers while the database or the message
broker is unreachable (C{Unavailable}, 503, which botocore retries; one
log line per outage), and for the lockout of failed signatures per
(access key, client address), through real clients on a real server.
"""

import http.client
import socket

from botocore.config import Config
from botocore.exceptions import ClientError
from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import TestCase

from nova.api.ec2.resource import EC2API, EC2Resource, anyMember
from nova.api.ec2.model import loadEC2Model
from nova.db.api import NovaDatabase
from nova.db.store import DatabaseUnavailable, Transactor, openDatabase
from nova.exception import DatabaseError, RPCTimeout
from nova.rpc.interfaces import BrokerUnavailable
from tests.api.ec2.support import ALICE, APIServerMixin, botocoreSession, encodeForm, signV2
from tests.db.backends import freshURI, postgresAdmin


class EventsMixin:
    def captureLog(self, obj):
        events = []
        obj.log = Logger(observer=events.append)
        return events

    def logText(self, events):
        return [formatEvent(event) for event in events]


class OutageTests(EventsMixin, APIServerMixin, TestCase):
    """
    An action whose backends fail as the test says.
    """

    async def setUp(self):
        await self.startServer()
        self.errors = []
        self.calls = 0

        def describe(call):
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)
            return {"KeyPairs": []}

        api = EC2API("Test", loadEC2Model(), {"DescribeKeyPairs": describe}, anyMember,
                     self.backends)
        self.resource = EC2Resource(api, self.authManager)
        self.root.children[b"services"].putChild(b"Test", self.resource)
        self.events = self.captureLog(self.resource.outages)

    def client(self, **retries):
        retries = retries or {"total_max_attempts": 1}
        config = Config(retries=retries, connect_timeout=10, read_timeout=30)

        def create():
            client = botocoreSession().create_client(
                "ec2", region_name="nova", endpoint_url=f"http://127.0.0.1:{self.port}/services/Test",
                aws_access_key_id=ALICE.access, aws_secret_access_key=ALICE.secret,
                config=config,
            )
            self._clients.append(client)
            return client

        return deferToThread(create)

    async def failingCall(self, client):
        error = await self.assertFailure(
            deferToThread(client.describe_key_pairs), ClientError
        )
        return error.response

    async def test_databaseUnavailable(self):
        """
        A database that cannot be reached is Unavailable (503), without
        its cause; the first failure is logged, the others counted, and
        the first success logs the end with the count.
        """
        client = await self.client()
        self.errors = [
            DatabaseUnavailable("cannot connect to the database: connection refused"),
            DatabaseUnavailable("OperationalError: server closed the connection"),
            BrokerUnavailable("no connection to the message broker"),
        ]
        for _ in range(3):
            response = await self.failingCall(client)
            self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 503)
            self.assertEqual(response["Error"]["Code"], "Unavailable")
            self.assertEqual(
                response["Error"]["Message"],
                "The service is temporarily unavailable. Please try again shortly.",
            )
        text = self.logText(self.events)
        self.assertEqual(len(text), 2, text)
        self.assertIn("the database is unreachable", text[0])
        self.assertIn("connection refused", text[0])
        self.assertIn("the message broker is unreachable", text[1])
        self.assertEqual(self.flushLoggedErrors(), [])
        await deferToThread(client.describe_key_pairs)
        text = self.logText(self.events)[2:]
        self.assertEqual(
            text,
            [
                "Test: database reachable again after 2 failed requests",
                "Test: message broker reachable again after 1 failed requests",
            ],
        )
        await deferToThread(client.describe_key_pairs)
        self.assertEqual(len(self.events), 4)

    async def test_otherDatabaseErrorsAreInternal(self):
        """
        A database error that is not about the connection (a constraint,
        a bug) stays an InternalError, logged with its traceback.
        """
        client = await self.client()
        self.errors = [DatabaseError("IntegrityError: duplicate key")]
        response = await self.failingCall(client)
        self.assertEqual(response["Error"]["Code"], "InternalError")
        self.assertEqual(len(self.flushLoggedErrors(DatabaseError)), 1)
        self.assertEqual(self.events, [])

    async def test_rpcTimeout(self):
        """
        A call that no service answered is a 503 as well (not an outage
        of the broker: not counted).
        """
        client = await self.client()
        self.errors = [RPCTimeout("no answer from compute")]
        response = await self.failingCall(client)
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 503)
        self.assertEqual(self.events, [])

    async def test_botocoreRetries(self):
        """
        botocore's standard retry mode retries Unavailable: the call
        succeeds once the database is back.
        """
        client = await self.client(mode="standard", total_max_attempts=3)
        self.errors = [DatabaseUnavailable("down"), BrokerUnavailable("down")]
        answer = await deferToThread(client.describe_key_pairs)
        self.assertEqual(answer["KeyPairs"], [])
        self.assertEqual(self.calls, 3)


class PostgresOutageTests(EventsMixin, APIServerMixin, TestCase):
    """
    The real thing: nova-api over PostgreSQL whose connections the test
    ends (and refuses for a while) with the server running.
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
            database=database, credentials_cache_ttl=0, credentials_refresh_interval=0
        )
        self.events = self.captureLog(self.cloudResource.outages)

    def admin(self, *statements):
        """
        Run statements on the server's C{postgres} database
        (L{postgresAdmin}) for this test's database.
        """
        return postgresAdmin(self.databaseName, *statements)

    async def test_terminatedBackends(self):
        client = await self.makeClient()
        await deferToThread(client.describe_key_pairs)
        await self.admin(
            "ALTER DATABASE {db} ALLOW_CONNECTIONS false",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
        )
        for _ in range(3):
            error = await self.assertFailure(
                deferToThread(client.describe_key_pairs), ClientError
            )
            self.assertEqual(
                (error.response["ResponseMetadata"]["HTTPStatusCode"],
                 error.response["Error"]["Code"]),
                (503, "Unavailable"),
            )
        await self.admin("ALTER DATABASE {db} ALLOW_CONNECTIONS true")
        # No restart: the transactor's threads connect again by themselves.
        for _ in range(4):
            answer = await deferToThread(client.describe_key_pairs)
            self.assertEqual(answer["KeyPairs"], [])
        text = self.logText(self.events)
        self.assertEqual(len(text), 2, text)
        self.assertIn("the database is unreachable", text[0])
        self.assertEqual(text[1], "EC2: database reachable again after 3 failed requests")
        self.assertEqual(self.flushLoggedErrors(), [])


def rawFrom(sourceAddress, port, method, target, body=None, headers=None):
    """
    Send one HTTP request from C{sourceAddress} (blocking).

    @return: C{(status, body)}.
    """
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(sourceAddress, 0)
    )
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def canBind(address):
    try:
        with socket.socket() as s:
            s.bind((address, 0))
    except OSError:
        return False
    return True


class LockoutTests(EventsMixin, APIServerMixin, TestCase):
    """
    A stranger who has seen alice's access key sends requests signed
    with a wrong secret from 127.0.0.2: only that address is locked.
    """

    async def setUp(self):
        if not canBind("127.0.0.2"):
            from twisted.trial.unittest import SkipTest

            raise SkipTest("cannot bind 127.0.0.2")
        await self.startServer(lockout_attempts=3, lockout_minutes=4.0)
        self.events = self.captureLog(self.authManager)

    def strangerRequest(self):
        wrong = type(ALICE)(ALICE.name, ALICE.access, "not-the-secret")
        path = self.config.ec2_path
        params = signV2("POST", self.host, path,
                        {"Action": "DescribeKeyPairs", "Version": "2016-11-15"}, wrong)
        return deferToThread(
            rawFrom, "127.0.0.2", self.port, "POST", path, encodeForm(params),
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )

    def ownerRequestFrom(self, address):
        path = self.config.ec2_path
        params = signV2("POST", self.host, path,
                        {"Action": "DescribeKeyPairs", "Version": "2016-11-15"}, ALICE)
        return deferToThread(
            rawFrom, address, self.port, "POST", path, encodeForm(params),
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )

    async def test_strangerLocksOnlyHimself(self):
        owner = await self.makeClient()
        for _ in range(3):
            status, body = await self.strangerRequest()
            self.assertEqual(status, 401, body)
        # The key is locked for 127.0.0.2: even the right secret is refused
        # from there...
        status, body = await self.ownerRequestFrom("127.0.0.2")
        self.assertEqual(status, 403, body)
        self.assertIn(b"Too many failed authentications", body)
        # ...while its owner, from 127.0.0.1, goes on working.
        answer = await deferToThread(owner.describe_key_pairs)
        self.assertEqual(answer["KeyPairs"], [])
        text = "\n".join(self.logText(self.events))
        self.assertIn(
            "Access key alice-access locked for requests from 127.0.0.2 for 1 minutes "
            "after 3 failed authentications (lock 1 of this address)",
            text,
        )
        self.assertNotIn("127.0.0.1 for", text)

    async def test_backoffAndRelease(self):
        """
        The lock of the pair doubles each time, up to lockout_minutes; its
        end is logged once.
        """
        clock = self.authManager.clock
        now = [clock.seconds()]
        self.authManager.clock = type("FakeClock", (), {"seconds": lambda self: now[0]})()
        # Signatures are checked against the real time; the lockout
        # against the test's.
        self.authManager.maxSkew = 10 ** 9
        expected = [1, 2, 4, 4]
        for minutes in expected:
            for _ in range(3):
                status, _ = await self.strangerRequest()
                self.assertEqual(status, 401)
            status, _ = await self.strangerRequest()
            self.assertEqual(status, 403)
            now[0] += minutes * 60 - 1
            status, _ = await self.ownerRequestFrom("127.0.0.2")
            self.assertEqual(status, 403)
            now[0] += 1
            status, body = await self.ownerRequestFrom("127.0.0.2")
            self.assertEqual(status, 200, body)
            status, body = await self.ownerRequestFrom("127.0.0.2")
            self.assertEqual(status, 200, body)
        text = self.logText(self.events)
        locks = [line for line in text if "locked for requests" in line]
        self.assertEqual(
            [line.split(" for ")[2].split(" minutes")[0] for line in locks], ["1", "2", "4", "4"]
        )
        released = [line for line in text if line.startswith("Lockout of access key")]
        self.assertEqual(
            released,
            [f"Lockout of access key alice-access for requests from 127.0.0.2 ended (lock {n})"
             for n in (1, 2, 3, 4)],
        )

    async def test_unlockFreesEveryAddress(self):
        for _ in range(3):
            await self.strangerRequest()
        status, _ = await self.ownerRequestFrom("127.0.0.2")
        self.assertEqual(status, 403)
        await self.authManager.unlock(ALICE.access)
        status, body = await self.ownerRequestFrom("127.0.0.2")
        self.assertEqual(status, 200, body)
