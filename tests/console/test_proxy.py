"""
Tests for L{nova.console.proxy}: a websocket client (autobahn's) through
the proxy, served by twisted.web on a loopback port, to a TCP server on
loopback that stands for a guest's VNC server: tokens are checked, bytes
go both ways.  The RFB handshake with a real QEMU guest is in
L{tests.integration.test_libvirt_console}.
"""

import base64
import socket

from twisted.internet import reactor, task
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from nova.console.proxy import VncProxyProtocol, vncProxyResource
from nova.console.tokens import ConsoleTokenStore
from tests.console.client import connect
from tests.util import START, makeDatabase

GREETING = b"RFB 003.008\n"


class EchoServer(Protocol):
    """
    Greets as a VNC server does, then echoes what it receives.
    """

    def connectionMade(self):
        self.factory.connections.append(self)
        self.transport.write(GREETING)

    def dataReceived(self, data):
        self.transport.write(data)

    def connectionLost(self, reason):
        self.factory.lost.append(self)
        if self.factory.allLost is not None and len(self.factory.lost) == len(
            self.factory.connections
        ):
            d, self.factory.allLost = self.factory.allLost, None
            d.callback(None)


def rawHandshake(port, path):
    """
    Send a websocket upgrade request with a plain socket (blocking).

    @return: the response's status line (L{bytes}).
    """
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode("ascii")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]


class ProxyTests(TestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = makeDatabase(self, self.clock)
        self.tokens = ConsoleTokenStore(self.db.transactor, self.clock)
        vnc = Factory.forProtocol(EchoServer)
        vnc.connections, vnc.lost, vnc.allLost = [], [], None
        self.vnc = vnc
        self.vncPort = reactor.listenTCP(0, vnc, interface="127.0.0.1")
        self.addCleanup(self.vncPort.stopListening)
        root = Resource()
        root.putChild(b"websockify", vncProxyResource(self.tokens, reactor))
        self.web = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
        self.addCleanup(self.web.stopListening)
        self.port = self.web.getHost().port

    def issue(self, port=None, ttl=60):
        issued = self.successResultOf(
            self.tokens.create(
                3, "wonderland", "127.0.0.1", port or self.vncPort.getHost().port, ttl
            )
        )
        return issued.token

    @inlineCallbacks
    def closeBoth(self, client):
        """
        Close the websocket and wait until the proxy let go of the VNC
        server's connection too.
        """
        self.vnc.allLost = Deferred()
        if len(self.vnc.lost) == len(self.vnc.connections):
            self.vnc.allLost = None
        waitLost = self.vnc.allLost
        client.sendClose()
        yield client.closed
        if waitLost is not None:
            yield waitLost

    @inlineCallbacks
    def test_relay(self):
        """
        With a valid token the proxy connects to the token's VNC server:
        its greeting arrives in binary frames, and what the client sends
        reaches it (before and after the connection is made).
        """
        client = yield connect(reactor, self.port, f"/websockify?token={self.issue()}")
        client.write(b"early ")
        self.assertEqual((yield client.read(12)), GREETING)
        self.assertEqual((yield client.read(6)), b"early ")
        client.write(b"\x00\x01binary\xff")
        self.assertEqual((yield client.read(9)), b"\x00\x01binary\xff")
        self.assertEqual(client.websocket_protocol_in_use, "binary")
        yield self.closeBoth(client)
        self.assertEqual(len(self.vnc.lost), 1)

    @inlineCallbacks
    def test_base64(self):
        """
        A client that offers only the C{base64} subprotocol (older noVNC)
        gets base64 text frames and may send them.
        """
        from autobahn.twisted.websocket import WebSocketClientFactory

        from tests.console.client import ByteStreamClient

        received = []

        class TextClient(ByteStreamClient):
            def onMessage(self, payload, isBinary):
                received.append(isBinary)
                ByteStreamClient.onMessage(self, base64.b64decode(payload), isBinary)

        token = self.issue()
        factory = WebSocketClientFactory(
            f"ws://127.0.0.1:{self.port}/websockify?token={token}", protocols=["base64"]
        )
        factory.protocol = TextClient
        from twisted.internet.endpoints import TCP4ClientEndpoint

        client = yield TCP4ClientEndpoint(reactor, "127.0.0.1", self.port).connect(factory)
        yield client.opened
        self.assertEqual((yield client.read(12)), GREETING)
        client.sendMessage(base64.b64encode(b"hi"), isBinary=False)
        self.assertEqual((yield client.read(2)), b"hi")
        self.assertEqual(set(received), {False})
        yield self.closeBoth(client)

    @inlineCallbacks
    def test_refused(self):
        """
        No token, an unknown one, or one that expired: the upgrade is
        answered 403 and no connection to a VNC server is made.
        """
        expired = self.issue(ttl=10)
        self.clock.advance(11)
        for path in (
            "/websockify",
            "/websockify?token=",
            "/websockify?token=not-a-token",
            f"/websockify?token={expired}",
        ):
            status = yield deferToThread(rawHandshake, self.port, path)
            self.assertEqual(status.split(b" ")[1], b"403", path)
        self.assertEqual(self.vnc.connections, [])
        yield self.assertFailure(
            connect(reactor, self.port, "/websockify?token=nope"), Exception
        )

    @inlineCallbacks
    def test_unreachable(self):
        """
        A VNC server that cannot be reached closes the websocket with code
        4001.
        """
        probe = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        deadPort = probe.getHost().port
        yield probe.stopListening()
        client = yield connect(reactor, self.port, f"/websockify?token={self.issue(deadPort)}")
        wasClean, code, reason = yield client.closed
        self.assertEqual(code, 4001)
        self.assertIn("cannot be reached", reason)


class WiringTests(TestCase):
    async def test_novaApiServesTheProxy(self):
        """
        nova-api serves the proxy at C{/websockify} on the OpenStack API's
        port, reading the tokens of the database it is given: one issued
        there is accepted, another refused.
        """
        from nova.api.tap import apiServices
        from nova.config import configFromFlags
        from nova.db.api import inlineDatabase

        config = configFromFlags(
            ec2_port=0, ec2_listen="127.0.0.1", osapi_port=0, osapi_listen="127.0.0.1"
        )
        db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        services = apiServices(config, reactor, db, None, openstack=True)
        for service in services:
            service.startService()
            self.addCleanup(service.stopService)
        port = services[-1]._port.getHost().port
        vnc = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
        self.addCleanup(vnc.stopListening)
        issued = await ConsoleTokenStore(db.transactor, reactor).create(
            1, "p", "127.0.0.1", vnc.getHost().port, 60
        )
        status = await deferToThread(rawHandshake, port, f"/websockify?token={issued.token}")
        self.assertEqual(status.split(b" ")[1], b"101")
        status = await deferToThread(rawHandshake, port, "/websockify?token=other")
        self.assertEqual(status.split(b" ")[1], b"403")


class ClosingTests(TestCase):
    def test_serverDataWhileClosing(self):
        """
        What the VNC server sends after the websocket began to close is
        dropped: there is nobody to send it to, and sending would raise.
        """
        for state in (VncProxyProtocol.STATE_CLOSING, VncProxyProtocol.STATE_CLOSED):
            protocol = VncProxyProtocol()
            protocol.state = state
            protocol.base64 = False
            protocol.fromServer(b"RFB 003.008\n")
