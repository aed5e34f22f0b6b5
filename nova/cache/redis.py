# -*- test-case-name: tests.cache.test_redis -*-
"""
L{RedisCache}: an L{ICache} on a Redis server, shared by every process that
uses the same server and key prefix.

It is a twisted L{Service}: starting it opens a lazy, self-reconnecting
txredisapi connection (txredisapi keeps it under a C{ClientService}), and
stopping it closes the connection.  Operations issued while the connection is
down wait for it up to C{timeout} seconds and then fail with
L{CacheUnavailable}.
"""

from twisted.application.service import Service
from twisted.internet import defer, error
from twisted.internet.defer import succeed
from twisted.logger import Logger
from zope.interface import implementer

import txredisapi

from nova.cache.interfaces import CacheUnavailable, ICache

# INCR, and set the expiry only when INCR created the key: atomic, so a
# crash between the two cannot leave a counter that never expires.
_INCREMENT = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return value
"""

log = Logger()

_FAILURES = (
    txredisapi.RedisError,
    defer.TimeoutError,
    defer.CancelledError,
    error.ConnectError,
    error.ConnectionLost,
    error.ConnectionDone,
)


def _milliseconds(ttl):
    if ttl <= 0:
        raise ValueError(f"ttl must be positive, not {ttl!r}")
    return max(1, int(round(ttl * 1000)))


@implementer(ICache)
class RedisCache(Service):
    """
    @ivar prefix: prepended to every key.
    """

    def __init__(
        self,
        clock,
        host="127.0.0.1",
        port=6379,
        db=0,
        password=None,
        prefix="nova:",
        timeout=2.0,
    ):
        """
        @param clock: the reactor (for timeouts).
        @param password: for Redis AUTH, or L{None}.
        @param timeout: seconds an operation may take, waiting for a
            connection included.
        """
        self.clock = clock
        self.host = host
        self.port = port
        self.db = db
        self.password = password or None
        self.prefix = prefix
        self.timeout = timeout
        self._client = None

    @classmethod
    def fromConfig(cls, config, reactor):
        """
        @return: a L{RedisCache} configured by C{--redis_*} flags.
        """
        return cls(
            reactor,
            host=config.redis_host,
            port=config.redis_port,
            db=config.redis_db,
            password=config.redis_password,
            prefix=config.redis_prefix,
            timeout=config.redis_timeout,
        )

    def startService(self):
        Service.startService(self)
        self._connection()

    def stopService(self):
        Service.stopService(self)
        client, self._client = self._client, None
        if client is None:
            return succeed(None)
        return client.disconnect()

    def _connection(self):
        if self._client is None:
            self._client = txredisapi.lazyConnection(
                self.host,
                self.port,
                dbid=self.db,
                reconnect=True,
                password=self.password,
                convertNumbers=False,
                connectTimeout=self.timeout,
                replyTimeout=self.timeout,
            )
            # txredisapi fails the Deferred of its first connection when the
            # handshake (AUTH, SELECT) fails, for example when the
            # connection is closed half way by stopService; nobody waits on
            # it for a lazy connection, so the failure would surface as an
            # unhandled error.  The requests themselves report their own.
            connected = getattr(self._client, "_connected", None)
            if isinstance(connected, defer.Deferred):
                connected.addErrback(self._handshakeFailed)
        return self._client

    def _handshakeFailed(self, failure):
        log.info("redis connection to {host}:{port} not ready: {error}",
                 host=self.host, port=self.port, error=failure.getErrorMessage())

    def _run(self, method, *args, **kwargs):
        try:
            d = getattr(self._connection(), method)(*args, **kwargs)
        except _FAILURES as e:
            d = defer.fail(e)
        d.addTimeout(self.timeout, self.clock)

        def unavailable(failure):
            failure.trap(*_FAILURES)
            raise CacheUnavailable(
                f"Redis at {self.host}:{self.port} failed: {failure.getErrorMessage()}"
            )

        return d.addErrback(unavailable)

    def get(self, key):
        return self._run("get", self.prefix + key)

    def set(self, key, value, ttl=None):
        if ttl is None:
            return self._run("set", self.prefix + key, value).addCallback(lambda _: None)
        try:
            milliseconds = _milliseconds(ttl)
        except ValueError as e:
            return defer.fail(e)
        d = self._run("set", self.prefix + key, value, pexpire=milliseconds)
        return d.addCallback(lambda _: None)

    def delete(self, *keys):
        if not keys:
            return succeed(None)
        d = self._run("delete", [self.prefix + key for key in keys])
        return d.addCallback(lambda _: None)

    def increment(self, key, ttl):
        try:
            milliseconds = _milliseconds(ttl)
        except ValueError as e:
            return defer.fail(e)
        d = self._run("eval", _INCREMENT, [self.prefix + key], [str(milliseconds)])
        return d.addCallback(int)
