# -*- test-case-name: tests.rpc.test_amqp -*-
"""
RPC over AMQP 0-9-1 (RabbitMQ) with txAMQP.

Topology, on one topic exchange named by C{control_exchange}:

  - every server of topic C{T} on host C{H} consumes the queue C{T} (shared
    by all servers of C{T}: each message goes to one of them), the queue
    C{T.H} (its own), and an exclusive auto-delete queue bound to the
    fanout exchange C{T_fanout} (every server gets each fanout message).
    C{T} and C{T.H} are durable, neither exclusive nor auto-delete, so
    messages wait in them while no server is attached (a restart, a
    reconnection) and survive a restart of the broker;
  - the topic exchange is durable; the fanout exchanges and their queues
    are transient: a fanout (a security group refresh, a capability
    update) may be lost by design, and is sent again by what follows;
  - a cast is persistent (C{delivery-mode} 2) and counts as sent only
    once the broker confirmed it (publisher confirms on channel 1): a
    refused cast (C{basic.nack}) fails with L{nova.exception.RPCError}; a
    cast whose connection broke before its confirmation is published again
    on the next connection, within its deadline (the broker may then hold
    two copies: handlers are idempotent on the state of what they act
    on).  Calls, replies and reply queues are transient: a caller that
    waits gives up at its deadline anyway;
  - an exchange or queue of the same name left transient by an older
    release (declaring it durable fails with C{406 PRECONDITION_FAILED}):
    an empty, unused transient queue is deleted and declared again
    durable; one holding messages or consumed by an older peer, and a
    transient exchange, are used as they are (nothing in them is lost)
    until the broker restarts, after which they are declared durable;
  - C{call} publishes with the AMQP properties C{reply-to} (this
    connection's own exclusive, server-named reply queue) and
    C{correlation-id} (the message id), and the answer is routed back by
    correlation id through the default exchange;
  - consumers are pushed messages (C{basic.consume}), never poll.

Delivery: each consumer has C{basic.qos} prefetch C{prefetch} (default
L{DEFAULT_PREFETCH}): a server runs up to that many requests of each of its
queues at once, and RabbitMQ gives further messages to peers with free
slots, so one slow request neither blocks its server nor holds back the
queue.  A request is acknowledged after it has been processed and its
answer published: a server that dies mid-work leaves the message to a peer
(delivery is at least once).

Connection: L{AMQPRPC} is a service owning one connection, kept by a
L{ClientService} with exponential back-off between C{rabbit_retry_interval}
and C{rabbit_max_retry_interval}.  After each (re)connection it declares
the exchange and its reply queue again, and every consumer it serves
declares its queues and consumes again.  The AMQP login and declarations
run after L{ClientService} has the TCP connection, not in its
C{prepareConnection} (nor through txAMQP's C{AMQEndpoint}, which logs in
inside C{connect}): L{ClientService} cannot take a connection that is lost
after such a step failed (automat's C{NoTransition} in C{connectionLost}).
Heartbeats (default L{DEFAULT_HEARTBEAT} seconds) find a broker that went
silent without closing TCP; a broker that closes a channel because of an
error makes the connection start afresh, except while a consumer declares
its queues, where the error fails only that C{serve}.

While there is no connection (before the first one, or between a loss and
the reconnection):

  - L{AMQPRPC.call} waits for the connection and sends then; it fails with
    L{nova.exception.RPCTimeout} at its deadline either way (with
    L{BrokerUnavailable}, a subclass, if it was never sent);
  - L{AMQPRPC.cast} and L{AMQPRPC.fanoutCast} also wait for the connection,
    for at most C{rpc_call_timeout} seconds, then fail with
    L{BrokerUnavailable} (an L{nova.exception.RPCError}); a cast fires once
    the broker confirmed it, a fanout cast once it is written;
  - L{AMQPRPC.serve} registers the consumer at once and fires once it
    consumes, however long the broker takes to come.

A call already sent when its connection breaks fails at once with
L{BrokerUnavailable} (an L{nova.exception.RPCTimeout}): its reply queue died with the connection, so
no answer can come.  Stopping the service fails every waiting call and
message the same way, closes the connection with C{connection.close} (the
broker then gives unacknowledged requests to peers) and leaves no timer
behind.
"""

import functools
import random
import struct

from twisted.application.internet import ClientService
from twisted.application.service import Service
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
)
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from txamqp import spec as txspec
from txamqp.client import Closed, TwistedDelegate
from txamqp.connection import Body, Frame, Heartbeat
from txamqp.content import Content
from txamqp.message import Message
from txamqp.protocol import AMQClient, GarbageException
from zope.interface import implementer

from nova import exception
from nova.rpc import envelope
from nova.rpc.common import processRequest
from nova.rpc.interfaces import IRPC, BrokerUnavailable, IRPCConsumer

SPEC_PATH = FilePath(__file__).sibling("amqp0-9-1.xml").path
"""The AMQP 0-9-1 specification (RabbitMQ's extended one) txAMQP speaks."""

DEFAULT_PREFETCH = 10
"""Requests of one queue a server runs at once."""

DEFAULT_HEARTBEAT = 60
"""Seconds between AMQP heartbeats: a silent broker is dropped after 3."""

CONNECT_TIMEOUT = 30.0
"""Seconds to open TCP, log in and declare everything, else try again."""

CLOSE_TIMEOUT = 5.0
"""Seconds to wait for the broker's C{close-ok} when stopping."""

CONTENT_TYPE = "application/json"

PERSISTENT = 2
"""The AMQP C{delivery-mode} of a message the broker writes to disk."""

_REPLY_TAG = "nova-reply"
_FRAME_BODY = 3


@functools.lru_cache(maxsize=None)
def loadSpec(path=SPEC_PATH):
    """
    @return: the parsed AMQP specification at C{path} (parsed once).
    """
    return txspec.load(path)


class Backoff:
    """
    The reconnection policy of L{ClientService}: exponential back-off that
    counts every failure until a connection is fully set up (L{reset}), so
    a broker that accepts TCP but refuses the login is retried ever more
    slowly too.

    @ivar failures: consecutive failures so far.
    """

    def __init__(self, initial, maximum, jitter=random.random):
        """
        @param initial: seconds before the first retry (a value of 0 starts
            at 0.05 s, so retries never spin).
        @param maximum: the longest wait, in seconds.
        @param jitter: returns a float in [0, 1); up to 10% of the delay
            is added, within C{maximum}.
        """
        self.initial = initial if initial > 0 else 0.05
        self.maximum = max(maximum, self.initial)
        self.jitter = jitter
        self.failures = 0

    def __call__(self, attempt):
        """
        @param attempt: L{ClientService}'s own count, unused.
        @return: seconds to wait before the next attempt.
        """
        self.failures += 1
        delay = min(self.maximum, self.initial * 2 ** min(self.failures - 1, 64))
        return min(self.maximum, delay * (1 + 0.1 * self.jitter()))

    def reset(self):
        """
        A connection is set up: the next failure waits C{initial} again.
        """
        self.failures = 0


class _Delegate(TwistedDelegate):
    """
    Hands deliveries straight to the handler of their consumer tag,
    negotiates the client's own heartbeat, and names the client product
    C{nova} to the broker.
    """

    def connection_start(self, ch, msg):
        ch.connection_start_ok(
            client_properties={"product": "nova"},
            mechanism=self.client.mechanism,
            response=self.client.response,
            locale=self.client.locale,
        )

    def connection_tune(self, ch, msg):
        self.client.MAX_LENGTH = msg.frame_max
        ch.connection_tune_ok(msg.channel_max, msg.frame_max, self.client.heartbeat)
        self.client.started.fire()
        self.client.startHeartbeat()

    def connection_close(self, ch, msg):
        self.client.brokerClose = msg
        TwistedDelegate.connection_close(self, ch, msg)

    def basic_deliver(self, ch, msg):
        self.client.deliver(ch, msg)

    def basic_ack(self, ch, msg):
        self.client.session.confirmed(ch, msg.delivery_tag, msg.multiple, None)

    def basic_nack(self, ch, msg):
        self.client.session.confirmed(
            ch,
            msg.delivery_tag,
            msg.multiple,
            exception.RPCError("the message broker refused the message (basic.nack)"),
        )


class _Client(AMQClient):
    """
    One AMQP connection of an L{AMQPRPC}; it reports its life to it.
    Message bodies are always received as L{bytes} (txAMQP would decode
    each body frame to L{str} when it happens to be UTF-8, which breaks
    bodies split between frames inside a character).

    Heartbeats cost nothing per frame (txAMQP's own restart two timers for
    every frame sent or received): every C{heartbeat} seconds a heartbeat
    frame is sent, and the connection is dropped after L{MAX_SILENT_BEATS}
    such periods without a byte from the broker.

    @ivar session: the L{_Session} over this connection.
    @ivar heartbeat: the negotiated heartbeat period in seconds, 0 for
        none.
    """

    MAX_SILENT_BEATS = 3

    rpc = None
    session = None
    brokerClose = None

    def __init__(self, delegate, vhost, spec, heartbeat, clock):
        AMQClient.__init__(self, delegate, vhost=vhost, spec=spec, heartbeat=0, clock=clock)
        self.heartbeat = heartbeat
        self.silentBeats = 0
        self._beat = None

    def startHeartbeat(self):
        if self.heartbeat > 0 and self._beat is None:
            self._beat = LoopingCall.withCount(self._heartbeat)
            self._beat.clock = self.clock
            self._beat.start(self.heartbeat, now=False)

    def _heartbeat(self, periods):
        self.silentBeats += periods
        if self.silentBeats >= self.MAX_SILENT_BEATS:
            self.rpc.log.warn(
                "no data from RabbitMQ for {seconds} s; dropping the connection",
                seconds=self.silentBeats * self.heartbeat,
            )
            self._stopHeartbeat()
            self.transport.abortConnection()
        else:
            self.send_frame(Frame(0, Heartbeat()))

    def _stopHeartbeat(self):
        if self._beat is not None and self._beat.running:
            self._beat.stop()

    def dataReceived(self, data):
        self.silentBeats = 0
        return AMQClient.dataReceived(self, data)

    def _unpack_frame(self, data):
        if data[0] != _FRAME_BODY:
            return AMQClient._unpack_frame(self, data)
        (channel, size) = struct.unpack("!HI", data[1:7])
        if data[7 + size] != self.FRAME_END:
            raise GarbageException(f"frame error: expected {self.FRAME_END}")
        return Frame(channel, Body(data[7 : 7 + size]))

    def connectionMade(self):
        AMQClient.connectionMade(self)
        self.rpc._connected(self)

    def connectionLost(self, reason):
        self._stopHeartbeat()
        if self.session is not None:
            self.session.lost = True
        AMQClient.connectionLost(self, reason)
        if self.session is not None:
            self.session.failUnconfirmed(reason)
        self.rpc._lost(self, reason)

    def channel_failed(self, channel, reason):
        self.session.channelFailed(channel, reason)

    def deliver(self, ch, msg):
        self.session.deliver(ch, msg)


class _ClientFactory(Factory):
    noisy = False

    def __init__(self, rpc, vhost, heartbeat):
        self.rpc = rpc
        self.vhost = vhost
        self.heartbeat = heartbeat

    def buildProtocol(self, addr):
        client = _Client(
            _Delegate(),
            vhost=self.vhost,
            spec=loadSpec(),
            heartbeat=self.heartbeat,
            clock=self.rpc.reactor,
        )
        client.rpc = self.rpc
        return client


class _Session:
    """
    The state of one AMQP connection: its channels, its reply queue, the
    handlers of its consumer tags.

    @ivar ready: C{True} once everything is declared and it may publish.
    @ivar lost: C{True} once the connection is gone.
    @ivar main: channel 1: publishing, declarations, the reply consumer.
    @ivar replyQueue: the name of this connection's reply queue.
    """

    log = Logger()

    def __init__(self, rpc, client):
        self.rpc = rpc
        self.client = client
        self.ready = False
        self.lost = False
        self.main = None
        self.replyQueue = None
        self.fanouts = set()
        self.handlers = {}
        self.quiet = set()
        self.published = 0
        self.unconfirmed = {}
        self._nextChannel = 2
        self._freeChannels = []
        self._nextTag = 0

    def newTag(self, prefix):
        self._nextTag += 1
        return f"{prefix}-{self._nextTag}"

    async def openChannel(self, quiet=False):
        """
        @param quiet: if C{True}, a channel error closing it is left to
            whoever waits on it instead of breaking the connection.
        @return: a new open channel.
        """
        if self._freeChannels:
            channelId = self._freeChannels.pop()
        else:
            channelId = self._nextChannel
            self._nextChannel += 1
        if quiet:
            self.quiet.add(channelId)
        else:
            self.quiet.discard(channelId)
        channel = await self.client.channel(channelId)
        await channel.channel_open()
        return channel

    async def closeChannel(self, channel):
        """
        Close C{channel} and free its number.
        """
        try:
            if not channel.closed:
                await channel.channel_close(reply_code=200, reply_text="done")
        except Closed:
            pass
        self.forgetChannel(channel)

    def forgetChannel(self, channel):
        """
        Drop a channel that is closed or broken, so its number can be used
        again.
        """
        if self.lost:
            return
        if not channel.closed:
            channel.close(None)
        if self.client.channels.get(channel.id) is channel:
            del self.client.channels[channel.id]
            self._freeChannels.append(channel.id)

    def channelFailed(self, channel, reason):
        """
        The broker closed C{channel} because of an error.  A quiet channel
        reports it to whoever uses it; any other breaks the connection,
        which is then made again with everything declared afresh.
        """
        if channel.id in self.quiet:
            return
        self.log.error(
            "AMQP channel {channel} closed by the broker ({reason}); reconnecting",
            channel=channel.id,
            reason=_describe(reason.value),
        )
        self.abort()

    def abort(self):
        if not self.lost:
            self.client.transport.abortConnection()

    def deliver(self, channel, msg):
        handler = self.handlers.get(msg.consumer_tag)
        if handler is not None:
            handler(channel, msg)
        elif not channel.closed and msg.consumer_tag != _REPLY_TAG:
            channel.basic_reject(delivery_tag=msg.delivery_tag, requeue=True).addErrback(
                lambda f: f.trap(Closed)
            )

    def publish(self, exchange, routingKey, body, properties, confirm=False):
        """
        Publish on the main channel, which is in confirm mode: the broker
        numbers every message published on it and acknowledges each once
        it has taken responsibility for it (for a persistent message on a
        durable queue: written to disk).

        @param confirm: if C{True}, wait for the broker's acknowledgement.
        @return: L{Deferred} firing once written (once acknowledged, with
            C{confirm}); failing with L{Closed} if the connection broke
            first (the message may or may not have reached the broker), or
            with L{nova.exception.RPCError} if the broker refused it.
        """
        properties["content-type"] = CONTENT_TYPE
        self.published += 1
        sequence = self.published
        written = self.main.basic_publish(
            exchange=exchange,
            routing_key=routingKey,
            content=Content(body, properties=properties),
        )
        if not confirm:
            return written
        acknowledged = Deferred()
        self.unconfirmed[sequence] = acknowledged

        def notWritten(failure):
            if self.unconfirmed.pop(sequence, None) is acknowledged:
                acknowledged.errback(failure)

        written.addErrback(notWritten)
        return acknowledged

    def confirmed(self, channel, tag, multiple, error):
        """
        The broker acknowledged (C{error} is C{None}) or refused the
        messages numbered C{tag} (and below it, if C{multiple}).
        """
        if channel is not self.main:
            return
        if multiple:
            sequences = sorted(n for n in self.unconfirmed if n <= tag)
        else:
            sequences = [tag] if tag in self.unconfirmed else []
        for sequence in sequences:
            d = self.unconfirmed.pop(sequence)
            if error is None:
                d.callback(None)
            else:
                d.errback(error)

    def failUnconfirmed(self, reason):
        """
        The connection is gone: whether the broker kept the messages not
        yet acknowledged is unknown; their senders decide what to do.
        """
        unconfirmed, self.unconfirmed = self.unconfirmed, {}
        for sequence in sorted(unconfirmed):
            unconfirmed[sequence].errback(Closed(reason))

    async def close(self, clock, timeout):
        """
        Close the connection cleanly: C{connection.close}, wait for
        C{close-ok} (at most C{timeout} seconds), drop the TCP connection.
        """
        if self.lost:
            return
        channel0 = await self.client.channel(0)
        closing = channel0.connection_close(reply_code=200, reply_text="nova stopping")
        timer = clock.callLater(timeout, closing.cancel)
        try:
            await closing
        except (CancelledError, Closed):
            pass
        finally:
            if timer.active():
                timer.cancel()
        if not self.lost:
            self.lost = True
            self.client.do_close(Closed("connection closed by nova"))


class _PendingCall:
    """
    A call waiting for its answer, or for a connection to be sent on.

    @ivar session: the L{_Session} it was sent on, or C{None} if unsent.
    """

    def __init__(self, rpc, context, topic, method, args, seconds):
        self.rpc = rpc
        self.context = context
        self.topic = topic
        self.method = method
        self.args = args
        self.seconds = seconds
        self.msgId = envelope.newMessageId()
        self.session = None
        self.deferred = Deferred(self._cancel)
        self.timer = None

    def encode(self, replyQueue):
        """
        @return: the request body, naming C{replyQueue} to answer to.
        @raise nova.exception.InvalidArguments: if the arguments are not
            JSON.
        """
        return envelope.encodeRequest(
            self.context, self.method, self.args, self.msgId, replyQueue
        )

    def start(self):
        self.rpc._calls[self.msgId] = self
        self.timer = self.rpc.reactor.callLater(self.seconds, self._timedOut)

    def send(self, session, body=None):
        """
        Publish on C{session}; if that cannot be done, wait for the next
        connection.
        """
        if self.rpc._calls.get(self.msgId) is not self:
            return
        if body is None:
            try:
                body = self.encode(session.replyQueue)
            except exception.NovaError as e:
                self.finish(error=e)
                return
        self.session = session
        d = session.publish(
            self.rpc.exchange,
            self.topic,
            body,
            {"reply-to": session.replyQueue, "correlation-id": self.msgId},
        )
        d.addErrback(self._notSent)

    def _notSent(self, failure):
        failure.trap(Closed)
        if self.rpc._calls.get(self.msgId) is self:
            self.session = None
            self.rpc._waiting.append(self)

    def finish(self, result=None, error=None):
        """
        Fire the caller's L{Deferred} (once) and forget the call.
        """
        self._forget()
        if self.deferred.called:
            return
        if error is not None:
            self.deferred.errback(error)
        else:
            self.deferred.callback(result)

    def _forget(self):
        if self.rpc._calls.get(self.msgId) is self:
            del self.rpc._calls[self.msgId]
        if self.session is None and self in self.rpc._waiting:
            self.rpc._waiting.remove(self)
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.args = None

    def _timedOut(self):
        if self.session is not None:
            error = exception.RPCTimeout(
                f"no answer from {self.topic} to {self.method} within {self.seconds:g} s"
            )
        else:
            error = BrokerUnavailable(
                f"no answer from {self.topic} to {self.method} within "
                f"{self.seconds:g} s (no connection to the message broker)"
            )
        self.finish(error=error)

    def _cancel(self, d):
        self._forget()

    def abandon(self, error):
        self.finish(error=error)


class _PendingSend:
    """
    A cast or fanout cast waiting for a connection.
    """

    def __init__(self, rpc, kind, topic, method, body, seconds):
        self.rpc = rpc
        self.kind = kind
        self.topic = topic
        self.method = method
        self.body = body
        self.seconds = seconds
        self.deferred = Deferred(self._cancel)
        self.timer = rpc.reactor.callLater(seconds, self._timedOut)

    def send(self, session):
        if self.deferred.called:
            return
        if self.kind == "fanout":
            d = self.rpc._sendFanout(session, self.topic, self.body)
        else:
            d = session.publish(
                self.rpc.exchange,
                self.topic,
                self.body,
                {"delivery-mode": PERSISTENT},
                confirm=True,
            )
        d.addCallbacks(self._sent, self._notSent)

    def _sent(self, _):
        self.finish()

    def _notSent(self, failure):
        if not failure.check(Closed):
            self.finish(error=failure.value)
        elif self.rpc._stopped:
            self.finish(error=exception.RPCError("the RPC service stopped"))
        elif not self.deferred.called:
            # Sent again on the next connection: the broker may have kept
            # the first copy, and handlers are idempotent.
            self.rpc._waiting.append(self)

    def finish(self, error=None):
        """
        Fire the caller's L{Deferred} (once) and forget the message.
        """
        self._forget()
        if self.deferred.called:
            return
        if error is not None:
            self.deferred.errback(error)
        else:
            self.deferred.callback(None)

    def _forget(self):
        if self.timer.active():
            self.timer.cancel()
        if self in self.rpc._waiting:
            self.rpc._waiting.remove(self)

    def _timedOut(self):
        self.finish(
            error=BrokerUnavailable(
                f"no connection to the message broker: {self.kind} of "
                f"{self.method} to {self.topic} not sent within {self.seconds:g} s"
            )
        )

    def _cancel(self, d):
        self._forget()

    def abandon(self, error):
        self.finish(error=error)


@implementer(IRPCConsumer)
class _Consumer:
    """
    A served topic; it consumes again after every reconnection.

    @ivar consuming: C{True} while consuming on a live connection.
    @ivar inFlight: requests handed to the dispatcher and not yet answered.
    """

    log = Logger()

    def __init__(self, rpc, topic, host, dispatcher):
        self.rpc = rpc
        self.topic = topic
        self.host = host
        self.dispatcher = dispatcher
        self.consuming = False
        self.stopped = False
        self.inFlight = 0
        self.started = Deferred()
        self._session = None
        self._channel = None
        self._tags = []
        self._attaching = None
        self._closeWhenIdle = None

    @property
    def queues(self):
        """
        @return: the names of the shared and the host queue.
        """
        return (self.topic, f"{self.topic}.{self.host}")

    def attach(self, session):
        """
        Declare the queues and consume on C{session} unless already done.
        """
        if self.stopped or self._session is session:
            return
        if self._attaching is not None:
            self._attaching.addBoth(lambda _: self.attach(session))
            return
        self._session = session
        self._attaching = Deferred.fromCoroutine(self._attach(session))
        self._attaching.addCallbacks(self._attached, self._attachFailed, errbackArgs=(session,))

    async def _attach(self, session):
        channel = await session.openChannel(quiet=True)
        self._channel = channel
        exchange = self.rpc.exchange
        await channel.basic_qos(prefetch_count=self.rpc.prefetch)
        for name in self.queues:
            channel = await self._declareQueue(session, channel, name)
            await channel.queue_bind(queue=name, exchange=exchange, routing_key=name)
        fanout = f"{self.topic}_fanout"
        await channel.exchange_declare(
            exchange=fanout, type="fanout", durable=False, auto_delete=False
        )
        declared = await channel.queue_declare(queue="", exclusive=True, auto_delete=True)
        await channel.queue_bind(queue=declared.queue, exchange=fanout, routing_key="")
        tags = []
        for name in self.queues + (declared.queue,):
            tag = session.newTag(self.topic)
            session.handlers[tag] = functools.partial(self._received, session)
            tags.append(tag)
            await channel.basic_consume(queue=name, consumer_tag=tag)
        self._tags = tags
        session.quiet.discard(channel.id)

    async def _declareQueue(self, session, channel, name):
        """
        Declare the durable queue C{name} on C{channel}.  A transient queue
        of that name, left by an older release, is deleted and declared
        again durable if it is empty and unused; otherwise it is consumed
        as it is (nothing in it is lost) and replaced once it is empty at
        a later start, or by the broker's next restart.

        @return: the channel to go on with (a failed declaration closes
            its channel: then a new one).
        """
        try:
            await channel.queue_declare(queue=name, durable=True, auto_delete=False)
            return channel
        except Closed as e:
            session.forgetChannel(channel)
            if not _durabilityMismatch(e):
                raise
        channel = await session.openChannel(quiet=True)
        self._channel = channel
        try:
            await channel.queue_delete(queue=name, if_unused=True, if_empty=True)
        except Closed:
            session.forgetChannel(channel)
            channel = await session.openChannel(quiet=True)
            self._channel = channel
            await channel.basic_qos(prefetch_count=self.rpc.prefetch)
            await channel.queue_declare(queue=name, passive=True)
            self.log.warn(
                "queue {queue} exists as transient and holds messages or has consumers: "
                "consuming it as it is; it becomes durable once replaced when empty",
                queue=name,
            )
            return channel
        await channel.basic_qos(prefetch_count=self.rpc.prefetch)
        await channel.queue_declare(queue=name, durable=True, auto_delete=False)
        self.log.info("replaced the empty transient queue {queue} by a durable one", queue=name)
        return channel

    def _attached(self, _):
        self._attaching = None
        if self._session is None or self._session.lost:
            return
        self.consuming = True
        self.log.info(
            "consuming {topic}, {topic}.{host} and its fanout", topic=self.topic, host=self.host
        )
        if not self.started.called:
            self.started.callback(self)

    def _attachFailed(self, failure, session):
        self._attaching = None
        channel, self._channel = self._channel, None
        if self._session is session:
            self._session = None
        for tag in self._tags:
            session.handlers.pop(tag, None)
        self._tags = []
        if session.lost:
            return
        if channel is not None:
            session.forgetChannel(channel)
        if self.stopped:
            return
        error = exception.RPCError(f"cannot consume {self.topic}: {_describe(failure.value)}")
        if not self.started.called:
            self.rpc._consumers.remove(self)
            self.stopped = True
            self.started.errback(error)
        else:
            self.log.failure(
                "cannot consume {topic} again after reconnecting", failure, topic=self.topic
            )

    def detach(self, session):
        """
        C{session}'s connection is gone: consume again on the next one.
        """
        if self._session is session:
            self._session = None
            self._channel = None
            self._tags = []
            self.consuming = False

    def _received(self, session, channel, msg):
        self.inFlight += 1
        content = msg.content
        d = processRequest(self.dispatcher, content.body)
        d.addCallback(self._answer, session, channel, msg.delivery_tag, content.properties)
        d.addErrback(
            lambda f: self.log.failure("answering a request of {topic}", f, topic=self.topic)
        )
        d.addBoth(self._finished)

    def _answer(self, answer, session, channel, deliveryTag, properties):
        replyTo, replyBody = answer
        if replyTo is not None:
            self.rpc._reply(
                properties.get("reply-to") or replyTo,
                properties.get("correlation-id"),
                replyBody,
            )
        if not session.lost and not channel.closed:
            channel.basic_ack(delivery_tag=deliveryTag).addErrback(lambda f: f.trap(Closed))

    def _finished(self, _):
        self.inFlight -= 1
        if self.inFlight == 0 and self._closeWhenIdle is not None:
            self._closeIdle()

    def _closeIdle(self):
        session, channel = self._closeWhenIdle
        self._closeWhenIdle = None
        if not session.lost:
            Deferred.fromCoroutine(session.closeChannel(channel)).addErrback(
                lambda f: self.log.failure("closing a consumer channel", f)
            )

    def stop(self):
        if self.stopped:
            return succeed(None)
        self.stopped = True
        if self in self.rpc._consumers:
            self.rpc._consumers.remove(self)
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self):
        if self._attaching is not None:
            # Its callbacks handle success and failure alike: never fails.
            await self._attaching
        session, channel, tags = self._session, self._channel, self._tags
        self._session, self._channel, self._tags = None, None, []
        self.consuming = False
        if session is None or session.lost or channel is None:
            return
        try:
            for tag in tags:
                await channel.basic_cancel(consumer_tag=tag)
        except Closed:
            return
        finally:
            for tag in tags:
                session.handlers.pop(tag, None)
        self._closeWhenIdle = (session, channel)
        if self.inFlight == 0:
            self._closeIdle()

    def abandon(self):
        """
        The RPC service stops: consume no more; the connection's close
        ends the rest.
        """
        self.stopped = True
        self.consuming = False
        if not self.started.called:
            self.started.errback(
                exception.RPCError(f"the RPC service stopped before consuming {self.topic}")
            )


def _durabilityMismatch(error):
    """
    @return: whether C{error} (a txAMQP C{Closed}) is the broker refusing
        a declaration because an existing exchange or queue of that name
        differs only in being durable or not (C{406 PRECONDITION_FAILED
        - inequivalent arg 'durable'}).
    """
    while isinstance(error, Closed) and error.args:
        error = error.args[0]
    if isinstance(error, Failure):
        error = error.value
    if not isinstance(error, Message) or error.method.name != "close":
        return False
    return error.reply_code == 406 and "'durable'" in (error.reply_text or "")


def _describe(error):
    """
    @return: a short text for C{error}, unwrapping txAMQP's C{Closed}
        around the failure or broker message that caused it.
    """
    while isinstance(error, Closed) and error.args:
        error = error.args[0]
    if isinstance(error, Failure):
        error = error.value
    if isinstance(error, Message):
        if error.method.name == "close":
            return f"{error.reply_code} {error.reply_text}"
        return f"{error.method.klass.name}.{error.method.name}"
    return str(error) or type(error).__name__


def _endpoint(reactor, host, port):
    if isIPAddress(host):
        return TCP4ClientEndpoint(reactor, host, port, timeout=CONNECT_TIMEOUT)
    if isIPv6Address(host):
        return TCP6ClientEndpoint(reactor, host, port, timeout=CONNECT_TIMEOUT)
    return HostnameEndpoint(reactor, host, port, timeout=CONNECT_TIMEOUT)


@implementer(IRPC)
class AMQPRPC(Service):
    """
    L{IRPC} over RabbitMQ.  Start it (directly or as the child of a
    service) to connect; stop it to disconnect.

    @ivar exchange: the topic exchange (C{control_exchange}).
    @ivar callTimeout: default seconds of L{call} and the longest wait of a
        cast for a connection (C{rpc_call_timeout}).
    @ivar prefetch: the C{basic.qos} prefetch count of each consumer.
    @ivar backoff: the L{Backoff} reconnection policy.
    """

    log = Logger()

    def __init__(self, config, reactor, prefetch=DEFAULT_PREFETCH, heartbeat=DEFAULT_HEARTBEAT):
        """
        @param config: a L{nova.config.Config} with the C{rabbit_*},
            C{control_exchange} and C{rpc_call_timeout} flags.
        @param reactor: the reactor (TCP and time).
        @param prefetch: requests of one queue a server runs at once.
        @param heartbeat: AMQP heartbeat in seconds, 0 for none.
        """
        self.config = config
        self.reactor = reactor
        self.exchange = config.control_exchange
        self.callTimeout = config.rpc_call_timeout
        self.prefetch = prefetch
        self.backoff = Backoff(config.rabbit_retry_interval, config.rabbit_max_retry_interval)
        self._factory = _ClientFactory(self, config.rabbit_virtual_host, heartbeat)
        self._clientService = ClientService(
            _endpoint(reactor, config.rabbit_host, config.rabbit_port),
            self._factory,
            retryPolicy=self.backoff,
            clock=reactor,
        )
        self._session = None
        self._waiting = []
        self._calls = {}
        self._consumers = []
        self._stopped = False

    @property
    def connected(self):
        """
        C{True} while connected to the broker with everything declared
        (consumers may still be declaring theirs: see their C{consuming}).
        """
        return self._session is not None

    # Connection life.

    def startService(self):
        Service.startService(self)
        self._stopped = False
        self._clientService.startService()

    def stopService(self):
        Service.stopService(self)
        self._stopped = True
        return Deferred.fromCoroutine(self._shutdown())

    async def _shutdown(self):
        for waiting in list(self._waiting):
            if isinstance(waiting, _PendingSend):
                waiting.abandon(exception.RPCError("the RPC service stopped"))
        for pending in list(self._calls.values()):
            pending.abandon(
                exception.RPCTimeout(
                    f"the RPC service stopped before {pending.topic} answered {pending.method}"
                )
            )
        self._waiting = []
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.abandon()
        session, self._session = self._session, None
        try:
            if session is not None:
                await session.close(self.reactor, CLOSE_TIMEOUT)
        finally:
            await self._clientService.stopService()

    def _connected(self, client):
        session = _Session(self, client)
        client.session = session
        guard = self.reactor.callLater(CONNECT_TIMEOUT, session.abort)
        d = Deferred.fromCoroutine(self._setUp(session))

        def done(result):
            if guard.active():
                guard.cancel()
            return result

        d.addBoth(done)
        d.addCallbacks(
            self._ready, self._setUpFailed, callbackArgs=(session,), errbackArgs=(session,)
        )

    async def _setUp(self, session):
        client = session.client
        await client.authenticate(self.config.rabbit_userid, self.config.rabbit_password)
        session.main = await client.channel(1)
        await session.main.channel_open()
        await session.main.confirm_select()
        await self._declareExchange(session)
        declared = await session.main.queue_declare(queue="", exclusive=True, auto_delete=True)
        session.replyQueue = declared.queue
        session.handlers[_REPLY_TAG] = functools.partial(self._replied, session)
        await session.main.basic_consume(
            queue=session.replyQueue, consumer_tag=_REPLY_TAG, no_ack=True
        )

    async def _declareExchange(self, session):
        """
        Declare the durable topic exchange.  One left by an older release
        as transient is used as it is (an exchange holds no messages; the
        broker drops it at its next restart and the first service to
        connect afterwards declares it durable).
        """
        channel = await session.openChannel(quiet=True)
        try:
            await channel.exchange_declare(
                exchange=self.exchange, type="topic", durable=True, auto_delete=False
            )
        except Closed as e:
            session.forgetChannel(channel)
            if not _durabilityMismatch(e):
                raise
            self.log.warn(
                "the exchange {exchange} exists as transient; using it as it is until "
                "the broker restarts",
                exchange=self.exchange,
            )
            channel = await session.openChannel(quiet=True)
            await channel.exchange_declare(exchange=self.exchange, type="topic", passive=True)
        await session.closeChannel(channel)

    def _ready(self, _, session):
        if session.lost:
            return
        if self._stopped:
            session.abort()
            return
        session.ready = True
        self._session = session
        self.backoff.reset()
        self.log.info(
            "connected to RabbitMQ at {host}:{port}",
            host=self.config.rabbit_host,
            port=self.config.rabbit_port,
        )
        waiting, self._waiting = self._waiting, []
        for item in waiting:
            item.send(session)
        for consumer in list(self._consumers):
            consumer.attach(session)

    def _setUpFailed(self, failure, session):
        if not self._stopped:
            self.log.warn(
                "cannot set up the connection to RabbitMQ at {host}:{port}: {error}",
                host=self.config.rabbit_host,
                port=self.config.rabbit_port,
                error=_describe(failure.value),
            )
        session.abort()

    def _lost(self, client, reason):
        session = client.session
        if session is None:
            return
        session.lost = True
        if self._session is session:
            self._session = None
        for pending in list(self._calls.values()):
            if pending.session is session:
                pending.finish(
                    error=BrokerUnavailable(
                        f"the connection to the message broker was lost before "
                        f"{pending.topic} answered {pending.method}"
                    )
                )
        for consumer in self._consumers:
            consumer.detach(session)
        if session.ready and not self._stopped:
            self.log.warn(
                "lost the connection to RabbitMQ ({reason}); reconnecting",
                reason=_describe(client.brokerClose or reason.value),
            )

    # Sending.

    def call(self, context, topic, method, args, timeout=None):
        seconds = self.callTimeout if timeout is None else timeout
        pending = _PendingCall(self, context, topic, method, args, seconds)
        session = self._session
        try:
            body = pending.encode(session.replyQueue if session is not None else None)
        except exception.NovaError as e:
            return fail(e)
        if self._stopped:
            return fail(exception.RPCTimeout("the RPC service is stopped"))
        pending.start()
        if session is not None:
            pending.send(session, body)
        else:
            self._waiting.append(pending)
        return pending.deferred

    def _send(self, kind, context, topic, method, args):
        try:
            body = envelope.encodeRequest(context, method, args, envelope.newMessageId())
        except exception.NovaError as e:
            return fail(e)
        if self._stopped:
            return fail(exception.RPCError("the RPC service is stopped"))
        session = self._session
        if session is not None and kind == "fanout" and f"{topic}_fanout" in session.fanouts:
            d = session.publish(f"{topic}_fanout", "", body, {})
            written = []
            d.addCallbacks(written.append, lambda f: f.trap(Closed))
            if written:
                return succeed(None)
        pendingSend = _PendingSend(self, kind, topic, method, body, self.callTimeout)
        if session is not None:
            pendingSend.send(session)
        else:
            self._waiting.append(pendingSend)
        return pendingSend.deferred

    def cast(self, context, topic, method, args):
        return self._send("cast", context, topic, method, args)

    def fanoutCast(self, context, topic, method, args):
        return self._send("fanout", context, topic, method, args)

    def _sendFanout(self, session, topic, body):
        exchange = f"{topic}_fanout"
        if exchange in session.fanouts:
            return session.publish(exchange, "", body, {})
        d = session.main.exchange_declare(
            exchange=exchange, type="fanout", durable=False, auto_delete=False
        )

        def declared(_):
            session.fanouts.add(exchange)
            return session.publish(exchange, "", body, {})

        return d.addCallback(declared)

    def _reply(self, queue, correlationId, body):
        session = self._session
        if session is None:
            self.log.warn("no connection: the answer to {msgId} is lost", msgId=correlationId)
            return
        properties = {} if correlationId is None else {"correlation-id": correlationId}
        session.publish("", queue, body, properties).addErrback(lambda f: f.trap(Closed))

    def _replied(self, session, channel, msg):
        content = msg.content
        msgId, result, error = envelope.decodeReply(content.body)
        pending = self._calls.get(content.properties.get("correlation-id") or msgId)
        if pending is not None:
            pending.finish(result, error)

    # Serving.

    def serve(self, topic, host, dispatcher):
        if self._stopped:
            return fail(exception.RPCError("the RPC service is stopped"))
        consumer = _Consumer(self, topic, host, dispatcher)
        self._consumers.append(consumer)
        if self._session is not None:
            consumer.attach(self._session)
        return consumer.started
