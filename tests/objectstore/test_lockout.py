"""
The lockout of failed signatures, per (access key, client address), on
the object store with the real auth manager: a stranger who has seen an
access key (it is in every presigned URL) locks out only his own address.
"""

import http.client
import socket

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import SkipTest, TestCase

from nova.auth.manager import authManagerFromConfig
from nova.config import configFromFlags
from nova.db.api import inlineDatabase
from nova.objectstore.fake import MemoryObjectStore
from nova.objectstore.resource import S3Resource, makeSite

ACCESS, SECRET = "alice-access", "alice-secret"


def signedHeaders(url, secret):
    request = AWSRequest(method="GET", url=url, headers={})
    S3SigV4Auth(Credentials(ACCESS, secret), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def getFrom(sourceAddress, port, secret):
    """
    GET the bucket list, signed with C{secret}, from C{sourceAddress}
    (botocore cannot choose its source address).

    @return: C{(status, body)}.
    """
    url = f"http://127.0.0.1:{port}/"
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(sourceAddress, 0)
    )
    try:
        connection.request("GET", "/", headers=signedHeaders(url, secret))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class S3LockoutTests(TestCase):
    async def setUp(self):
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.2", 0))
        except OSError:
            raise SkipTest("cannot bind 127.0.0.2")
        config = configFromFlags(lockout_attempts=3, lockout_minutes=2.0)
        db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        self.authManager = authManagerFromConfig(config, db, reactor)
        await self.authManager.createUser("alice", ACCESS, SECRET)
        await self.authManager.createProject("alice", "alice")
        self.events = []
        self.authManager.log = Logger(observer=self.events.append)
        resource = S3Resource(MemoryObjectStore(reactor), self.authManager)
        site = makeSite(resource)
        site.noisy = False
        self.listening = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(self.listening.stopListening)
        self.port = self.listening.getHost().port

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            aws_access_key_id=ACCESS,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def logText(self):
        return "\n".join(formatEvent(event) for event in self.events)

    async def test_strangerLocksOnlyHimself(self):
        owner = await deferToThread(self.client)
        for _ in range(3):
            status, body = await deferToThread(getFrom, "127.0.0.2", self.port, "wrong")
            self.assertEqual(status, 403, body)
            self.assertIn(b"SignatureDoesNotMatch", body)
        status, body = await deferToThread(getFrom, "127.0.0.2", self.port, SECRET)
        self.assertEqual(status, 403, body)
        self.assertIn(b"AccessDenied", body)
        # The owner, from 127.0.0.1, through boto3 and by hand.
        answer = await deferToThread(owner.list_buckets)
        self.assertEqual(answer["Buckets"], [])
        status, body = await deferToThread(getFrom, "127.0.0.1", self.port, SECRET)
        self.assertEqual(status, 200, body)
        self.assertIn(
            "Access key alice-access locked for requests from 127.0.0.2 for 1 minutes",
            self.logText(),
        )

    async def test_backoffAndRelease(self):
        now = [reactor.seconds()]
        self.authManager.clock = type("FakeClock", (), {"seconds": lambda self: now[0]})()
        self.authManager.maxSkew = 10 ** 9
        for minutes in (1, 2, 2):
            for _ in range(3):
                status, _ = await deferToThread(getFrom, "127.0.0.2", self.port, "wrong")
                self.assertEqual(status, 403)
            status, body = await deferToThread(getFrom, "127.0.0.2", self.port, SECRET)
            self.assertIn(b"AccessDenied", body)
            now[0] += minutes * 60
            status, body = await deferToThread(getFrom, "127.0.0.2", self.port, SECRET)
            self.assertEqual(status, 200, body)
        text = self.logText()
        self.assertIn("for 1 minutes after 3 failed authentications (lock 1", text)
        self.assertIn("for 2 minutes after 3 failed authentications (lock 2", text)
        self.assertIn("for 2 minutes after 3 failed authentications (lock 3", text)
        self.assertEqual(text.count("ended"), 3)
