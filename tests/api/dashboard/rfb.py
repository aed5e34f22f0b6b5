"""
A tiny VNC (RFB 3.8) server for the dashboard's browser tests: no
authentication, a small framebuffer of one colour, answering the first
framebuffer update request with it; it records what clients sent.
"""

import struct

from twisted.internet.protocol import Factory, Protocol

WIDTH, HEIGHT = 64, 48
NAME = b"test guest"

# 32 bits per pixel, depth 24, little-endian, true colour, 8 bits a channel.
PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)

# Client message type -> its fixed length, or None when it has a length
# field (SetEncodings, ClientCutText).
_FIXED = {0: 20, 3: 10, 4: 8, 5: 6}


class RFBServerProtocol(Protocol):
    def connectionMade(self):
        self.buffer = b""
        self.stage = "version"
        self.factory.connections.append(self)
        self.transport.write(b"RFB 003.008\n")

    def dataReceived(self, data):
        self.buffer += data
        while self._step():
            pass

    def _take(self, count):
        if len(self.buffer) < count:
            return None
        chunk, self.buffer = self.buffer[:count], self.buffer[count:]
        return chunk

    def _step(self):
        if self.stage == "version":
            version = self._take(12)
            if version is None:
                return False
            self.factory.versions.append(version)
            self.transport.write(b"\x01\x01")  # one security type: None
            self.stage = "security"
        elif self.stage == "security":
            if self._take(1) is None:
                return False
            self.transport.write(struct.pack(">I", 0))
            self.stage = "init"
        elif self.stage == "init":
            if self._take(1) is None:
                return False
            self.transport.write(
                struct.pack(">HH", WIDTH, HEIGHT) + PIXEL_FORMAT + struct.pack(">I", len(NAME)) + NAME
            )
            self.stage = "messages"
        else:
            return self._message()
        return True

    def _message(self):
        if not self.buffer:
            return False
        kind = self.buffer[0]
        if kind in _FIXED:
            message = self._take(_FIXED[kind])
        elif kind == 2:  # SetEncodings
            if len(self.buffer) < 4:
                return False
            (count,) = struct.unpack(">H", self.buffer[2:4])
            message = self._take(4 + 4 * count)
        elif kind == 6:  # ClientCutText
            if len(self.buffer) < 8:
                return False
            (length,) = struct.unpack(">I", self.buffer[4:8])
            message = self._take(8 + length)
        else:
            # Something this server never offered: drop the connection.
            self.factory.unknown.append(kind)
            self.transport.loseConnection()
            return False
        if message is None:
            return False
        self.factory.messages.append(kind)
        if kind == 3 and not self.factory.updatesSent:
            self.factory.updatesSent += 1
            pixels = b"\x00\x80\xff\x00" * (WIDTH * HEIGHT)
            self.transport.write(
                struct.pack(">BxH", 0, 1)
                + struct.pack(">HHHHi", 0, 0, WIDTH, HEIGHT, 0)
                + pixels
            )
        return True


class RFBServerFactory(Factory):
    """
    @ivar connections: every connection accepted.
    @ivar versions: the protocol versions clients answered.
    @ivar messages: the types of the messages clients sent, in order.
    """

    protocol = RFBServerProtocol

    def __init__(self):
        self.connections = []
        self.versions = []
        self.messages = []
        self.unknown = []
        self.updatesSent = 0
