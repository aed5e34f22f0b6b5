# -*- test-case-name: tests.console.test_proxy -*-
"""
The VNC console's websocket proxy, a twisted.web resource nova-api serves
at C{/websockify} beside the OpenStack API (autobahn's Twisted websocket
implementation).

A browser (noVNC) opens C{ws://<host>:<port>/websockify?token=<token>}
with a token from L{nova.compute.api.ComputeAPI.getVncConsole}.  The proxy
looks the token up (L{nova.console.tokens.ConsoleTokenStore}: any nova-api
process finds what another issued), refuses the handshake with HTTP 403
when it is missing, unknown or expired, and otherwise connects to the
guest's VNC server on its compute host and relays bytes both ways: what
the browser sends in binary (or, with the C{base64} subprotocol, base64
text) frames goes to the VNC server as it is, and what the server sends
comes back in frames of the same kind.  When the VNC server cannot be
reached the websocket closes with code 4001 (L{CLOSE_UNREACHABLE}); when
it closes, the websocket closes normally (1000).  The RFB session itself (version,
VNC authentication with the password the console was given with,
framebuffer) is between the browser and the guest's VNC server.
"""

import base64
import binascii

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

#: Seconds the proxy waits for a guest's VNC server to accept.
CONNECT_TIMEOUT = 10

#: The websocket close codes (of the range for applications) the proxy
#: closes with when the guest's VNC server cannot be reached, and when a
#: text frame is not base64.
CLOSE_UNREACHABLE = 4001
CLOSE_BAD_DATA = 4003

#: Most bytes a browser may send before the VNC server's connection is
#: made; more closes the websocket (L{CLOSE_BAD_DATA}).
MAX_PENDING = 64 * 1024

#: Subprotocols the proxy speaks, in order of preference.
SUBPROTOCOLS = ("binary", "base64")


class _VncClient(Protocol):
    """
    The proxy's connection to a guest's VNC server: what it receives goes
    to the websocket.
    """

    def __init__(self, peer):
        self.peer = peer

    def dataReceived(self, data):
        self.peer.fromServer(data)

    def connectionLost(self, reason):
        self.peer.serverLost()


class VncProxyProtocol(WebSocketServerProtocol):
    """
    One browser's websocket, relayed to one guest's VNC server.
    """

    log = Logger()

    def __init__(self):
        super().__init__()
        self.console = None
        self.server = None
        self.pending = []
        self.base64 = False
        self.closed = False

    @inlineCallbacks
    def onConnect(self, request):
        tokens = request.params.get("token") or []
        console = yield self.factory.tokens.get(tokens[0] if tokens else None)
        if console is None:
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "invalid or expired console token")
        self.console = console
        chosen = next((p for p in SUBPROTOCOLS if p in request.protocols), None)
        self.base64 = chosen == "base64"
        return chosen

    def onOpen(self):
        console = self.console
        endpointClass = TCP6ClientEndpoint if ":" in console.host else TCP4ClientEndpoint
        endpoint = endpointClass(
            self.factory.reactor, console.host, console.port, timeout=CONNECT_TIMEOUT
        )
        d = endpoint.connect(Factory.forProtocol(lambda: _VncClient(self)))

        def connected(client):
            if self.closed:
                client.transport.loseConnection()
                return
            self.server = client
            pending, self.pending = self.pending, []
            for data in pending:
                client.transport.write(data)
            self.log.info(
                "VNC console of instance {id} opened from {peer}",
                id=console.instance_id,
                peer=self.peer,
            )

        def failed(failure):
            self.log.warn(
                "VNC server {host}:{port} of instance {id} unreachable: {error}",
                host=console.host,
                port=console.port,
                id=console.instance_id,
                error=failure.getErrorMessage(),
            )
            if not self.closed:
                self.sendClose(CLOSE_UNREACHABLE, "the console's VNC server cannot be reached")

        d.addCallbacks(connected, failed)

    def onMessage(self, payload, isBinary):
        if not isBinary:
            try:
                payload = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                self.sendClose(CLOSE_BAD_DATA, "text frames must be base64")
                return
        if self.server is None:
            if sum(map(len, self.pending)) + len(payload) > MAX_PENDING:
                self.sendClose(CLOSE_BAD_DATA, "too much data before the VNC server answered")
                return
            self.pending.append(payload)
        else:
            self.server.transport.write(payload)

    def onClose(self, wasClean, code, reason):
        self.closed = True
        if self.server is not None:
            self.server.transport.loseConnection()

    def fromServer(self, data):
        if self.state != self.STATE_OPEN:
            # The websocket is closing (the browser left, or the proxy
            # closed it): what the VNC server still sends has nobody to
            # go to; onClose drops the server's connection.
            return
        if self.base64:
            self.sendMessage(base64.b64encode(data), isBinary=False)
        else:
            self.sendMessage(data, isBinary=True)

    def serverLost(self):
        self.server = None
        if not self.closed:
            self.sendClose(1000, "the VNC server closed the connection")


class VncProxyFactory(WebSocketServerFactory):
    """
    @ivar tokens: the L{nova.console.tokens.ConsoleTokenStore}.
    @ivar reactor: what connections to VNC servers are made with.
    """

    protocol = VncProxyProtocol

    def __init__(self, tokens, reactor):
        super().__init__(reactor=reactor)
        self.tokens = tokens
        self.reactor = reactor


def vncProxyResource(tokens, reactor):
    """
    @param tokens: the L{nova.console.tokens.ConsoleTokenStore}.
    @param reactor: the reactor.
    @return: the twisted.web resource of the proxy (to serve at
        C{/websockify}).
    """
    return WebSocketResource(VncProxyFactory(tokens, reactor))
