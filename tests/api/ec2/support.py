"""
Helpers for the EC2 API tests: a real listening server with the real
wiring (L{nova.api.ec2.apis.mountEC2}) over an in-memory SQLite database
and the real auth manager, and the clients (boto3/botocore, boto 2, the aws
CLI, raw HTTP) run in threads or subprocesses.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import quote

import attr
from botocore.config import Config
from botocore.session import get_session
from twisted.internet import defer, reactor
from twisted.internet.threads import deferToThread
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.server import Site

from nova.api.ec2.apis import mountEC2
from nova.api.ec2.resource import Backends, boundedRequestFactory
from nova.api.root import APIRoot
from nova.auth.manager import authManagerFromConfig
from nova.config import configFromFlags
from nova.db.api import inlineDatabase

VENV_BIN = os.path.dirname(sys.executable)
AWS_CLI = os.path.join(VENV_BIN, "aws")


@attr.s(frozen=True)
class TestUser:
    """
    A user the test server knows.

    @ivar project: the project named like the user (its default project),
        which it manages.
    """

    name = attr.ib()
    access = attr.ib()
    secret = attr.ib()
    isAdmin = attr.ib(default=False)


# alice manages project alice and holds sysadmin globally and there; bob
# manages project bob and is a member of alice without roles; root is a
# superuser.
ALICE = TestUser("alice", "alice-access", "alice-secret")
BOB = TestUser("bob", "bob-access", "bob-secret")
ROOT = TestUser("root", "root-access", "root-secret", isAdmin=True)
USERS = (ALICE, BOB, ROOT)


async def createUsers(authManager):
    """
    Create L{USERS}, their projects, alice's roles and bob's membership of
    alice.
    """
    for user in USERS:
        await authManager.createUser(user.name, user.access, user.secret, user.isAdmin)
        await authManager.createProject(user.name, user.name)
    await authManager.addToProject(BOB.name, ALICE.name)
    await authManager.addRole(ALICE.name, "sysadmin")
    await authManager.addRole(ALICE.name, "sysadmin", ALICE.name)


class TrackingSite(Site):
    """
    A L{Site} that can close every connection it accepted, so a test ends
    with a clean reactor.
    """

    def __init__(self, *args, **kwargs):
        Site.__init__(self, *args, **kwargs)
        self.open = {}
        self.transports = {}

    def buildProtocol(self, addr):
        protocol = Site.buildProtocol(self, addr)
        done = defer.Deferred()
        self.open[protocol] = done
        original = protocol.connectionLost
        originalMake = protocol.makeConnection

        def makeConnection(transport):
            self.transports[protocol] = transport
            originalMake(transport)

        protocol.makeConnection = makeConnection

        def connectionLost(reason):
            try:
                original(reason)
            finally:
                self.open.pop(protocol, None)
                self.transports.pop(protocol, None)
                done.callback(None)

        protocol.connectionLost = connectionLost
        return protocol

    def closeAll(self):
        waits = list(self.open.values())
        for transport in list(self.transports.values()):
            transport.abortConnection()
        return defer.DeferredList(waits)


_botocoreSession = None


def botocoreSession():
    """
    @return: one botocore session for the whole run (loading the EC2
        model once).
    """
    global _botocoreSession
    if _botocoreSession is None:
        _botocoreSession = get_session()
    return _botocoreSession


def _wire(text):
    """
    @return: the bytes a client sends for C{text}: UTF-8, with bytes kept
        as surrogates (C{surrogateescape}) restored and other lone
        surrogates written as they are (not valid UTF-8).
    """
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _asReceived(text):
    """
    @return: C{text} as the server decodes what a client sends for it.
    """
    return _wire(text).decode("utf-8", "surrogateescape")


def signV2(method, host, path, params, user, timestamp=None, accessKey=None):
    """
    Sign EC2 parameters with signature version 2 (HmacSHA256), the way
    the AWS documentation describes it, independently of the server's
    signer.

    @return: the parameters with the signature added.
    """
    signed = {_asReceived(name): _asReceived(value) for name, value in params.items()}
    signed.update(
        {
            "AWSAccessKeyId": accessKey or user.access,
            "SignatureMethod": "HmacSHA256",
            "SignatureVersion": "2",
            "Timestamp": timestamp
            or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    query = "&".join(
        quote(_wire(name), safe="") + "=" + quote(_wire(signed[name]), safe="-_~")
        for name in sorted(signed)
    )
    text = f"{method}\n{host.lower()}\n{path}\n{query}"
    signed["Signature"] = base64.b64encode(
        hmac.new(user.secret.encode(), text.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
    ).decode("ascii")
    return signed


def signWeak(params, user, version, timestamp=None):
    """
    Sign EC2 parameters with signature version 0 or 1 (HmacSHA1), as the
    AWS documentation of the time describes them and Cactus accepted
    them: version 0 over C{Action} followed by C{Timestamp}, version 1
    over every parameter's name and value, sorted case-insensitively.

    @return: the parameters with the signature added.
    """
    signed = dict(params)
    signed.update(
        {
            "AWSAccessKeyId": user.access,
            "SignatureVersion": version,
            "Timestamp": timestamp
            or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    if version == "0":
        text = signed["Action"] + signed["Timestamp"]
    else:
        text = "".join(name + signed[name] for name in sorted(signed, key=str.lower))
    signed["Signature"] = base64.b64encode(
        hmac.new(user.secret.encode(), text.encode("utf-8"), hashlib.sha1).digest()
    ).decode("ascii")
    return signed


def encodeForm(params):
    """
    @return: C{params} as a form body (L{bytes}), non-UTF-8 kept.
    """
    return "&".join(
        quote(_wire(name), safe="") + "=" + quote(_wire(value), safe="")
        for name, value in params.items()
    ).encode("ascii")


@attr.s(frozen=True)
class RawResponse:
    status = attr.ib()
    headers = attr.ib()
    body = attr.ib()

    def xml(self):
        return ET.fromstring(self.body)

    def errorCode(self):
        root = self.xml()
        code = root.find("./Errors/Error/Code")
        return None if code is None else code.text

    def errorMessage(self):
        return self.xml().find("./Errors/Error/Message").text


def _rawRequest(port, method, target, body=None, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return RawResponse(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


class APIServerMixin:
    """
    For trial C{TestCase}s: C{startServer} runs nova-api's EC2 and admin
    APIs on a free port of 127.0.0.1.
    """

    async def startServer(self, database=None, **flags):
        """
        Start the server with the real auth manager (SQL driver, memory
        cache) holding L{USERS}.

        @param database: the L{nova.db.api.NovaDatabase} to use; an
            in-memory SQLite one if L{None}.
        """
        flags.setdefault("ec2_host", "127.0.0.1")
        self.config = configFromFlags(**flags)
        self.db = database if database is not None else inlineDatabase("sqlite:", reactor)
        await self.db.sync()
        self.authManager = authManagerFromConfig(self.config, self.db, reactor)
        await createUsers(self.authManager)
        self.backends = Backends(
            config=self.config,
            db=self.db,
            rpc=None,
            clock=reactor,
            authManager=self.authManager,
        )
        self.root = root = APIRoot(self.config)
        self.cloudResource, self.adminResource = mountEC2(
            root, self.config, self.backends, self.authManager
        )
        self.site = TrackingSite(
            root, requestFactory=boundedRequestFactory(self.config.ec2_max_request_bytes)
        )
        self.site.noisy = False
        self.listening = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.port = self.listening.getHost().port
        self.host = f"127.0.0.1:{self.port}"
        self.endpoint = f"http://127.0.0.1:{self.port}{self.config.ec2_path}"
        self.adminEndpoint = f"http://127.0.0.1:{self.port}/services/Admin"
        self.addCleanup(lambda: defer.ensureDeferred(self._stopServer()))
        self._clients = []

    async def _stopServer(self):
        for client in self._clients:
            await deferToThread(client.close)
        await self.listening.stopListening()
        await self.site.closeAll()

    # botocore / boto3

    def makeClient(self, user=ALICE, signatureVersion="v4", project=None, validate=True,
                   path=None):
        """
        @param path: the URL path of the API; C{ec2_path} if L{None}.
        @return: L{Deferred} firing with a botocore EC2 client for C{user}.
        """
        endpoint = self.endpoint if path is None else f"http://127.0.0.1:{self.port}{path}"
        accessKey = user.access if project is None else f"{user.access}:{project}"
        config = Config(
            signature_version=signatureVersion,
            retries={"total_max_attempts": 1},
            parameter_validation=validate,
            connect_timeout=10,
            read_timeout=30,
        )

        def create():
            client = botocoreSession().create_client(
                "ec2",
                region_name="nova",
                endpoint_url=endpoint,
                aws_access_key_id=accessKey,
                aws_secret_access_key=user.secret,
                config=config,
            )
            self._clients.append(client)
            return client

        return deferToThread(create)

    def inThread(self, function, *args, **kwargs):
        return deferToThread(function, *args, **kwargs)

    # boto 2

    def botoConnection(self, user=ALICE, path=None, apiVersion=None):
        """
        @return: a boto 2 C{EC2Connection} to this server (use it in a
            thread).
        """
        from boto.ec2.connection import EC2Connection
        from boto.ec2.regioninfo import RegionInfo

        connection = EC2Connection(
            aws_access_key_id=user.access,
            aws_secret_access_key=user.secret,
            is_secure=False,
            port=self.port,
            path=path or self.config.ec2_path,
            region=RegionInfo(name="nova", endpoint="127.0.0.1"),
        )
        connection.num_retries = 0
        if apiVersion is not None:
            connection.APIVersion = apiVersion
        return connection

    # the aws CLI

    async def aws(self, *args, user=ALICE):
        """
        Run C{aws ec2 <args> --endpoint-url ...} and return C{(exit code,
        parsed JSON or None, stderr text)}.
        """
        home = self.mktemp()
        os.makedirs(home)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "AWS_ACCESS_KEY_ID": user.access,
            "AWS_SECRET_ACCESS_KEY": user.secret,
            "AWS_DEFAULT_REGION": "nova",
            "AWS_CONFIG_FILE": os.path.join(home, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials"),
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }
        out, err, code = await getProcessOutputAndValue(
            AWS_CLI,
            ["ec2", *args, "--endpoint-url", self.endpoint, "--output", "json"],
            env=env,
        )
        parsed = json.loads(out) if out.strip() else None
        return code, parsed, err.decode("utf-8", "replace")

    # raw HTTP

    def raw(self, method, target, body=None, headers=None):
        """
        @return: L{Deferred} firing with a L{RawResponse}.
        """
        return deferToThread(_rawRequest, self.port, method, target, body, headers)

    def rawBytes(self, data, readAnswer=True):
        """
        Send C{data} on a new connection, then read until the server
        closes it (or, with C{readAnswer} false, close at once).

        @return: L{Deferred} firing with what the server sent (L{bytes}).
        """

        def exchange():
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                s.sendall(data)
                if not readAnswer:
                    return b""
                chunks = []
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return b"".join(chunks)
                    chunks.append(chunk)

        return deferToThread(exchange)

    def signedPost(self, params, user=ALICE, path=None, accessKey=None, timestamp=None,
                   contentType="application/x-www-form-urlencoded; charset=utf-8"):
        """
        POST C{params} signed with signature version 2.

        @return: L{Deferred} firing with a L{RawResponse}.
        """
        path = path or self.config.ec2_path
        signed = signV2("POST", self.host, path, params, user, timestamp, accessKey)
        headers = {"Content-Type": contentType} if contentType else {}
        return self.raw("POST", path, encodeForm(signed), headers)

    def signedGet(self, params, user=ALICE, path=None):
        path = path or self.config.ec2_path
        signed = signV2("GET", self.host, path, params, user)
        return self.raw("GET", path + "?" + encodeForm(signed).decode("ascii"))


def newName(prefix="k"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
