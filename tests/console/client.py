"""
A websocket client for tests of the VNC proxy (autobahn's Twisted client)
with a reader of the bytes it receives, and the client side of an RFB
(VNC) handshake over it.
"""

import struct

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionDone


class ByteStreamClient(WebSocketClientProtocol):
    """
    Keeps what the server sends in binary frames; L{read} waits for bytes.

    @ivar opened: fires when the websocket handshake completes; fails when
        it is refused (with the closing reason).
    @ivar closed: fires with C{(wasClean, code, reason)} when it closes.
    """

    def __init__(self):
        super().__init__()
        self.buffer = b""
        self.waiting = None
        self.opened = Deferred()
        self.closed = Deferred()
        self.handshakeFailure = None

    def onOpen(self):
        self.opened.callback(self)

    def onMessage(self, payload, isBinary):
        self.buffer += payload
        self._check()

    def onClose(self, wasClean, code, reason):
        if not self.opened.called:
            self.opened.errback(ConnectionDone(f"websocket refused: {reason or code}"))
        if self.waiting is not None:
            d, self.waiting = self.waiting[1], None
            d.errback(ConnectionDone(f"closed with {len(self.buffer)} bytes unread: {reason}"))
        if not self.closed.called:
            self.closed.callback((wasClean, code, reason))

    def _check(self):
        if self.waiting is not None and len(self.buffer) >= self.waiting[0]:
            (count, d), self.waiting = self.waiting, None
            data, self.buffer = self.buffer[:count], self.buffer[count:]
            d.callback(data)

    def read(self, count):
        """
        @return: L{Deferred} firing with the next C{count} bytes.
        """
        d = Deferred()
        self.waiting = (count, d)
        self._check()
        return d

    def write(self, data):
        self.sendMessage(data, isBinary=True)


def connect(reactor, port, path, protocols=("binary",)):
    """
    Open C{ws://127.0.0.1:<port><path>}.

    @return: L{Deferred} firing with the L{ByteStreamClient} once the
        websocket is open; failing if the handshake is refused.
    """
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}{path}", protocols=list(protocols))
    factory.protocol = ByteStreamClient
    d = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10).connect(factory)
    return d.addCallback(lambda client: client.opened)


def _reverseBits(byte):
    return int(f"{byte:08b}"[::-1], 2)


def vncResponse(password, challenge):
    """
    @return: VNC authentication's answer to C{challenge}: DES with the
        password (8 bytes, zero-padded, each byte's bits reversed) as key.
    """
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = bytes(_reverseBits(b) for b in password.encode("latin-1")[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


@inlineCallbacks
def rfbHandshake(client, password):
    """
    The client side of RFB 3.8 up to ServerInit, with VNC authentication.

    @return: L{Deferred} firing with a L{dict}: C{version} (the server's
        version line), C{securityTypes}, C{result} (the security result,
        0 for success), and on success C{width}, C{height} and C{name}.
    """
    version = yield client.read(12)
    client.write(b"RFB 003.008\n")
    (count,) = struct.unpack("!B", (yield client.read(1)))
    if count == 0:
        (length,) = struct.unpack("!I", (yield client.read(4)))
        reason = yield client.read(length)
        raise AssertionError(f"the server refused the connection: {reason!r}")
    types = list((yield client.read(count)))
    info = {"version": version, "securityTypes": types}
    if 2 not in types:
        return info
    client.write(b"\x02")
    challenge = yield client.read(16)
    client.write(vncResponse(password, challenge))
    (info["result"],) = struct.unpack("!I", (yield client.read(4)))
    if info["result"] != 0:
        return info
    client.write(b"\x01")  # ClientInit: shared
    width, height = struct.unpack("!HH", (yield client.read(4)))
    yield client.read(16)  # the pixel format
    (length,) = struct.unpack("!I", (yield client.read(4)))
    name = yield client.read(length)
    info.update(width=width, height=height, name=name.decode("utf-8", "replace"))
    return info
