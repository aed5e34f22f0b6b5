"""
Tests for L{nova.rpc.amqp} against the real RabbitMQ at 127.0.0.1:5672
(guest/guest): the RPC contract, reconnection, a dead broker, shutdown,
delivery guarantees and the wire format.  Every test uses its own control
exchange and topics and deletes them from the broker afterwards.
"""

import json
import shutil
import socket
import time
import uuid
import warnings

from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SynchronousTestCase, TestCase
from txamqp.client import Closed, TwistedDelegate
from txamqp.content import Content
from txamqp.protocol import AMQClient
from zope.interface.verify import verifyObject

from nova import exception
from nova.config import configFromFlags
from nova.manager import ManagerDispatcher
from nova.rpc import amqp, envelope
from nova.rpc.interfaces import IRPCConsumer
from tests.rpc.contract import CONTEXT, EchoManager, RPCContract, waitFor
from tests.util import RABBIT, requireCondition, requireServer

warnings.filterwarnings(
    "ignore", message=r".*returnValue was deprecated", category=DeprecationWarning
)


def closedPort():
    """
    @return: a local TCP port nothing listens on.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def bareClient():
    """
    @return: a logged-in txAMQP client on channel 1, without nova.
    """
    client = AMQClient(TwistedDelegate(), "/", amqp.loadSpec(), clock=reactor)
    await connectProtocol(TCP4ClientEndpoint(reactor, RABBIT[0], RABBIT[1]), client)
    await client.authenticate("guest", "guest")
    channel = await client.channel(1)
    await channel.channel_open()
    return client, channel


async def closeBare(client):
    channel0 = await client.channel(0)
    await channel0.connection_close(reply_code=200, reply_text="test done")
    client.transport.loseConnection()
    await client.disconnected.wait()


class AMQPTestMixin:
    """
    Starts L{amqp.AMQPRPC}s on a fresh control exchange and removes what
    the test declared from the broker.
    """

    hosts = ("h1", "h2")
    timeout = 20

    def setUp(self):
        requireServer("RabbitMQ", *RABBIT)
        self.exchange = "nova-test-" + uuid.uuid4().hex[:8]
        self.topics = []
        self.addCleanup(self.deleteBrokerObjects)

    def topicName(self):
        topic = "test-" + uuid.uuid4().hex[:8]
        self.topics.append(topic)
        return topic

    def config(self, **flags):
        values = dict(
            rabbit_host=RABBIT[0],
            rabbit_port=RABBIT[1],
            control_exchange=self.exchange,
            rabbit_retry_interval=0.1,
            rabbit_max_retry_interval=0.5,
            rpc_call_timeout=10.0,
        )
        values.update(flags)
        return configFromFlags(**values)

    def makeRPC(self, **flags):
        rpc = amqp.AMQPRPC(self.config(**flags), reactor)
        rpc.startService()
        self.addCleanup(rpc.stopService)
        return rpc

    @defer.inlineCallbacks
    def deleteBrokerObjects(self):
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        for topic in self.topics:
            for name in (topic,) + tuple(f"{topic}.{host}" for host in self.hosts):
                yield channel.queue_delete(queue=name)
            yield channel.exchange_delete(exchange=f"{topic}_fanout")
        yield channel.exchange_delete(exchange=self.exchange)
        yield defer.Deferred.fromCoroutine(closeBare(client))

    @defer.inlineCallbacks
    def serveOn(self, rpc, topic, host, manager=None):
        manager = manager or EchoManager(host)
        consumer = yield rpc.serve(topic, host, ManagerDispatcher(manager))
        self.addCleanup(consumer.stop)
        return manager, consumer

    def drop(self, rpc):
        """
        Break C{rpc}'s TCP connection, as a network failure would.
        """
        rpc._session.client.transport.abortConnection()


class AMQPRPCContractTests(AMQPTestMixin, RPCContract, TestCase):
    """
    The L{IRPC} contract over the real broker.
    """


class ReconnectionTests(AMQPTestMixin, TestCase):
    """
    The connection breaks; the service connects again and carries on.
    """

    @defer.inlineCallbacks
    def test_serverKeepsServingAfterDrop(self):
        server, client = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        manager, consumer = yield self.serveOn(server, topic, "h1")
        result = yield client.call(CONTEXT, f"{topic}.h1", "echo", {"value": 1})
        self.assertEqual(result["value"], 1)
        self.drop(server)
        yield waitFor(lambda: not consumer.consuming)
        # The request waits in the host queue until the server is back.
        result = yield client.call(CONTEXT, f"{topic}.h1", "echo", {"value": 2}, timeout=5)
        self.assertEqual(result["value"], 2)
        # The host queue may be consumed (and answer) before the consumer
        # has subscribed to all of its queues again.
        yield waitFor(lambda: consumer.consuming, timeout=5)
        result = yield client.call(CONTEXT, topic, "echo", {"value": 3}, timeout=5)
        self.assertEqual(result["value"], 3)

    @defer.inlineCallbacks
    def test_fanoutAfterDrop(self):
        """
        The exclusive fanout queue dies with the connection; it is declared
        and bound again.
        """
        server, client = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        manager, consumer = yield self.serveOn(server, topic, "h1")
        self.drop(server)
        yield waitFor(lambda: not consumer.consuming)
        yield waitFor(lambda: consumer.consuming, timeout=5)
        yield client.fanoutCast(CONTEXT, topic, "remember", {"value": "again"})
        value = yield manager.arrived
        self.assertEqual(value, "again")

    @defer.inlineCallbacks
    def test_clientReconnects(self):
        server, client = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(server, topic, "h1")
        yield client.call(CONTEXT, topic, "echo", {"value": 1})
        self.drop(client)
        yield waitFor(lambda: not client.connected)
        # Sent as soon as the client is connected again.
        result = yield client.call(CONTEXT, topic, "echo", {"value": 2}, timeout=5)
        self.assertEqual(result["value"], 2)
        self.assertTrue(client.connected)
        yield client.cast(CONTEXT, topic, "echo", {"value": 3})

    @defer.inlineCallbacks
    def test_castWaitsForReconnection(self):
        server, client = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        manager, _ = yield self.serveOn(server, topic, "h1")
        yield client.call(CONTEXT, topic, "echo", {"value": 1})
        self.drop(client)
        yield waitFor(lambda: not client.connected)
        yield client.cast(CONTEXT, topic, "remember", {"value": "queued"})
        value = yield manager.arrived
        self.assertEqual(value, "queued")

    @defer.inlineCallbacks
    def test_sentCallFailsWhenConnectionDrops(self):
        """
        A call already sent fails at once when its connection breaks: its
        reply queue is gone, no answer can come.
        """
        server, client = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        manager, _ = yield self.serveOn(server, topic, "h1")
        d = client.call(CONTEXT, topic, "slow", {"value": 1}, timeout=10)
        yield waitFor(lambda: manager.gate is not None)
        started = time.monotonic()
        self.drop(client)
        error = yield self.assertFailure(d, exception.RPCTimeout)
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertIn("lost", str(error))
        self.assertIn("slow", str(error))
        manager.gate.callback(None)

    @defer.inlineCallbacks
    def test_brokerClosesConnection(self):
        """
        The broker closes the server's connection (C{connection.close}, as
        an operator's C{rabbitmqctl close_connection} does); the server
        connects again and consumes again.  Only this test's connection is
        closed, not other clients of the broker.
        """
        rabbitmqctl = shutil.which("rabbitmqctl")
        requireCondition(
            rabbitmqctl is not None and RABBIT[0] == "127.0.0.1",
            "rabbitmqctl is needed to close a connection from the broker",
        )
        server, client = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        manager, consumer = yield self.serveOn(server, topic, "h1")
        port = server._session.client.transport.getHost().port
        out, err, code = yield getProcessOutputAndValue(
            rabbitmqctl, ["-q", "list_connections", "pid", "peer_port"]
        )
        self.assertEqual(code, 0, err)
        pids = [
            line.split()[0]
            for line in out.decode().splitlines()
            if line.split()[1:] == [str(port)]
        ]
        self.assertEqual(len(pids), 1, out)
        out, err, code = yield getProcessOutputAndValue(
            rabbitmqctl, ["-q", "close_connection", pids[0], "nova test"]
        )
        self.assertEqual(code, 0, err)
        yield waitFor(lambda: not consumer.consuming, timeout=5)
        result = yield client.call(CONTEXT, f"{topic}.h1", "echo", {"value": 9}, timeout=5)
        self.assertEqual(result, {"value": 9, "host": "h1", "user": "alice"})
        yield waitFor(lambda: consumer.consuming, timeout=5)


class BrokerHeartbeatTests(AMQPTestMixin, TestCase):
    @defer.inlineCallbacks
    def test_idleConnectionSurvives(self):
        """
        With a 1 s heartbeat both sides beat: an idle connection outlives
        several periods (RabbitMQ drops a client silent for 2 periods, the
        client drops a broker silent for 3).
        """
        rpc = amqp.AMQPRPC(self.config(), reactor, heartbeat=1)
        rpc.startService()
        self.addCleanup(rpc.stopService)
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        session = rpc._session
        yield task.deferLater(reactor, 3.5, lambda: None)
        self.assertIs(rpc._session, session)
        self.assertLess(session.client.silentBeats, amqp._Client.MAX_SILENT_BEATS)
        result = yield rpc.call(CONTEXT, topic, "echo", {"value": 1})
        self.assertEqual(result["value"], 1)


class DeadBrokerTests(AMQPTestMixin, TestCase):
    """
    Nothing listens where the broker should be.
    """

    def setUp(self):
        self.exchange = "unused"
        self.topics = []

    @defer.inlineCallbacks
    def test_callTimesOut(self):
        rpc = self.makeRPC(rabbit_port=closedPort(), rpc_call_timeout=0.5)
        started = time.monotonic()
        error = yield self.assertFailure(
            rpc.call(CONTEXT, "compute", "echo", {"value": 1}, timeout=0.5),
            exception.RPCTimeout,
        )
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 1.5)
        self.assertIn("no connection", str(error))
        yield self.assertFailure(
            rpc.call(CONTEXT, "compute", "echo", {"value": 1}), exception.RPCTimeout
        )
        self.assertFalse(rpc.connected)
        self.assertGreater(rpc.backoff.failures, 1)

    @defer.inlineCallbacks
    def test_castFails(self):
        rpc = self.makeRPC(rabbit_port=closedPort(), rpc_call_timeout=0.3)
        error = yield self.assertFailure(
            rpc.cast(CONTEXT, "compute", "echo", {"value": 1}), exception.RPCError
        )
        self.assertIn("not sent", str(error))
        yield self.assertFailure(
            rpc.fanoutCast(CONTEXT, "compute", "echo", {"value": 1}), exception.RPCError
        )

    @defer.inlineCallbacks
    def test_stopEndsWaitingServe(self):
        """
        L{amqp.AMQPRPC.serve} waits for the broker; stopping the service
        fails it.
        """
        rpc = amqp.AMQPRPC(self.config(rabbit_port=closedPort()), reactor)
        rpc.startService()
        d = rpc.serve("compute", "h1", ManagerDispatcher(EchoManager("h1")))
        yield waitFor(lambda: rpc.backoff.failures >= 1)
        self.assertNoResult(d)
        yield rpc.stopService()
        yield self.assertFailure(d, exception.RPCError)


class RefusedLoginTests(AMQPTestMixin, TestCase):
    @defer.inlineCallbacks
    def test_wrongPassword(self):
        """
        The broker takes the TCP connection but refuses the login (after
        3 s, RabbitMQ's delay): calls time out, the service tries again,
        counting the failure for its back-off, and nothing is logged as an
        unhandled error (trial fails the test if so).
        """
        rpc = self.makeRPC(rabbit_password="wrong-" + uuid.uuid4().hex)
        error = yield self.assertFailure(
            rpc.call(CONTEXT, "compute", "echo", {"value": 1}, timeout=4.0),
            exception.RPCTimeout,
        )
        self.assertIn("no connection", str(error))
        self.assertFalse(rpc.connected)
        self.assertEqual(rpc.backoff.failures, 1)


class ShutdownTests(AMQPTestMixin, TestCase):
    @defer.inlineCallbacks
    def test_stopClosesEverything(self):
        """
        Stopping fails the waiting calls at once, closes the connection and
        leaves no timer (trial checks the reactor after the test).
        """
        rpc = amqp.AMQPRPC(self.config(), reactor)
        rpc.startService()
        topic = self.topicName()
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        transport = rpc._session.client.transport
        slow = rpc.call(CONTEXT, topic, "slow", {"value": 1})
        unserved = rpc.call(CONTEXT, self.topicName(), "echo", {"value": 1})
        yield waitFor(lambda: manager.gate is not None)
        yield rpc.stopService()
        self.assertFalse(rpc.connected)
        self.assertTrue(transport.disconnected)
        for d in (slow, unserved):
            error = yield self.assertFailure(d, exception.RPCTimeout)
            self.assertIn("stopped", str(error))
        yield self.assertFailure(
            rpc.call(CONTEXT, topic, "echo", {"value": 1}), exception.RPCTimeout
        )
        yield self.assertFailure(
            rpc.cast(CONTEXT, topic, "echo", {"value": 1}), exception.RPCError
        )
        manager.gate.callback(None)

    @defer.inlineCallbacks
    def test_stopBeforeConnected(self):
        rpc = amqp.AMQPRPC(self.config(), reactor)
        rpc.startService()
        yield rpc.stopService()
        self.assertFalse(rpc.connected)

    @defer.inlineCallbacks
    def test_consumerStopClosesItsChannel(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        _, consumer = yield self.serveOn(rpc, topic, "h1")
        channels = set(rpc._session.client.channels)
        yield consumer.stop()
        yield waitFor(lambda: set(rpc._session.client.channels) < channels)
        _, again = yield self.serveOn(rpc, topic, "h1")
        self.assertEqual(set(rpc._session.client.channels), channels)
        self.assertTrue(again.consuming)


class DeliveryTests(AMQPTestMixin, TestCase):
    """
    Prefetch, acknowledgement after processing, broker errors and the
    wire format.
    """

    @defer.inlineCallbacks
    def test_slowRequestDoesNotBlockServer(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        slow = rpc.call(CONTEXT, topic, "slow", {"value": "late"})
        yield waitFor(lambda: manager.gate is not None)
        result = yield rpc.call(CONTEXT, topic, "echo", {"value": "soon"}, timeout=5)
        self.assertEqual(result["value"], "soon")
        self.assertNoResult(slow)
        manager.gate.callback(None)
        self.assertEqual((yield slow), "late")

    @defer.inlineCallbacks
    def test_unfinishedRequestGoesToPeer(self):
        """
        A request is acknowledged only once answered: when its server stops
        mid-work, a peer runs it.
        """
        first, second, client = self.makeRPC(), self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        m1, _ = yield self.serveOn(first, topic, "h1")
        d = client.call(CONTEXT, topic, "slow", {"value": "v"})
        yield waitFor(lambda: m1.gate is not None)
        m2, _ = yield self.serveOn(second, topic, "h2")
        yield first.stopService()
        yield waitFor(lambda: m2.gate is not None)
        m2.gate.callback(None)
        self.assertEqual((yield d), "v")
        m1.gate.callback(None)

    @defer.inlineCallbacks
    def test_conflictingQueueFailsOnlyThatServe(self):
        """
        A queue declared elsewhere with other properties makes C{serve}
        fail with L{exception.RPCError}; the connection carries on.
        """
        rpc = self.makeRPC()
        topic, other = self.topicName(), self.topicName()
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        yield channel.queue_declare(queue=topic, durable=True, arguments={"x-max-length": 5})
        yield defer.Deferred.fromCoroutine(closeBare(client))
        yield self.serveOn(rpc, other, "h1")
        session = rpc._session
        error = yield self.assertFailure(
            rpc.serve(topic, "h1", ManagerDispatcher(EchoManager("h1"))), exception.RPCError
        )
        self.assertIn(topic, str(error))
        self.assertIs(rpc._session, session)
        result = yield rpc.call(CONTEXT, other, "echo", {"value": 1})
        self.assertEqual(result["value"], 1)

    @defer.inlineCallbacks
    def test_wireFormat(self):
        """
        A call is published to the topic with C{reply-to} and
        C{correlation-id}; an answer by hand to that queue is its result.
        """
        rpc = self.makeRPC()
        topic = self.topicName()
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        self.addCleanup(lambda: defer.Deferred.fromCoroutine(closeBare(client)))
        yield channel.exchange_declare(exchange=self.exchange, type="topic", durable=True)
        yield channel.queue_declare(queue=topic)
        yield channel.queue_bind(queue=topic, exchange=self.exchange, routing_key=topic)
        yield channel.basic_consume(queue=topic, consumer_tag="bare", no_ack=True)
        queue = yield client.queue("bare")
        d = rpc.call(CONTEXT, topic, "echo", {"value": "\u2603"})
        msg = yield queue.get(timeout=5)
        properties = msg.content.properties
        self.assertEqual(properties["reply-to"], rpc._session.replyQueue)
        self.assertEqual(properties["content-type"], "application/json")
        body = msg.content.body
        # Plain txAMQP hands over ASCII bodies as str; both must be ASCII.
        if isinstance(body, str):
            body = body.encode("ascii")
        body.decode("ascii")
        request = envelope.decodeRequest(body)
        self.assertEqual(request.msgId, properties["correlation-id"])
        self.assertEqual(request.args, {"value": "\u2603"})
        self.assertEqual(request.replyTo, properties["reply-to"])
        yield channel.basic_publish(
            exchange="",
            routing_key=properties["reply-to"],
            content=Content(
                envelope.encodeReply(request.msgId, result="by hand"),
                properties={"correlation-id": request.msgId},
            ),
        )
        self.assertEqual((yield d), "by hand")

    @defer.inlineCallbacks
    def test_largeNonASCIIBody(self):
        """
        A body of raw UTF-8 split over many frames (as another publisher
        might send) reaches the server whole.
        """
        rpc = self.makeRPC()
        topic = self.topicName()
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        text = "\u00e9\u2603" * 100000
        body = json.dumps(
            {
                "version": envelope.VERSION,
                "method": "remember",
                "args": {"value": text},
                "context": CONTEXT.toDict(),
                "msgId": "m1",
            },
            ensure_ascii=False,
        ).encode("utf-8")
        self.assertGreater(len(body), 3 * 131072)
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        self.addCleanup(lambda: defer.Deferred.fromCoroutine(closeBare(client)))
        yield channel.basic_publish(
            exchange=self.exchange, routing_key=topic, content=Content(body)
        )
        self.assertEqual((yield manager.arrived), text)

    @defer.inlineCallbacks
    def test_consumerProvidesInterface(self):
        rpc = self.makeRPC()
        _, consumer = yield self.serveOn(rpc, self.topicName(), "h1")
        verifyObject(IRPCConsumer, consumer)
        self.assertTrue(consumer.consuming)


async def isDurableQueue(name):
    """
    @return: whether the queue C{name} exists and is durable (a durable,
        non-passive declaration of a transient queue is refused).
    """
    client, channel = await bareClient()
    try:
        await channel.queue_declare(queue=name, durable=True)
    except Closed:
        return False
    finally:
        await closeBare(client)
    return True


class DurabilityTests(AMQPTestMixin, TestCase):
    """
    Durable exchange and queues, persistent casts, publisher confirms, and
    the transient exchange and queues of older releases.
    """

    @defer.inlineCallbacks
    def test_castWaitsDurablyForItsServer(self):
        """
        A cast to a topic whose server is away is acknowledged by the
        broker, waits persistent in the durable queue, and is delivered
        once a server consumes again.
        """
        rpc = self.makeRPC()
        topic = self.topicName()
        _, consumer = yield self.serveOn(rpc, topic, "h1")
        yield consumer.stop()
        yield rpc.cast(CONTEXT, topic, "remember", {"value": "kept"})
        self.assertTrue((yield defer.Deferred.fromCoroutine(isDurableQueue(topic))))
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        self.addCleanup(lambda: defer.Deferred.fromCoroutine(closeBare(client)))
        yield channel.exchange_declare(exchange=self.exchange, type="topic", durable=True)
        msg = yield channel.basic_get(queue=topic, no_ack=False)
        self.assertEqual(msg.method.name, "get-ok")
        self.assertEqual(msg.content.properties["delivery-mode"], amqp.PERSISTENT)
        yield channel.basic_reject(delivery_tag=msg.delivery_tag, requeue=True)
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        self.assertEqual((yield manager.arrived), "kept")

    @defer.inlineCallbacks
    def test_refusedCastFails(self):
        """
        A cast counts as sent only once the broker confirmed it: one the
        broker refuses (a full queue that rejects publishes) fails with
        L{exception.RPCError}.
        """
        rpc = self.makeRPC()
        topic = self.topicName()
        yield waitFor(lambda: rpc.connected)
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        self.addCleanup(lambda: defer.Deferred.fromCoroutine(closeBare(client)))
        yield channel.queue_declare(
            queue=topic,
            durable=True,
            arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
        )
        yield channel.queue_bind(queue=topic, exchange=self.exchange, routing_key=topic)
        yield rpc.cast(CONTEXT, topic, "remember", {"value": 1})
        error = yield self.assertFailure(
            rpc.cast(CONTEXT, topic, "remember", {"value": 2}), exception.RPCError
        )
        self.assertIn("refused", str(error))
        # The connection carries on.
        self.assertTrue(rpc.connected)

    @defer.inlineCallbacks
    def test_emptyTransientQueueBecomesDurable(self):
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        topic = self.topicName()
        yield channel.queue_declare(queue=topic, durable=False)
        yield defer.Deferred.fromCoroutine(closeBare(client))
        rpc = self.makeRPC()
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        self.assertTrue((yield defer.Deferred.fromCoroutine(isDurableQueue(topic))))
        yield rpc.cast(CONTEXT, topic, "remember", {"value": "durable"})
        self.assertEqual((yield manager.arrived), "durable")

    @defer.inlineCallbacks
    def test_busyTransientQueueIsConsumedAsItIs(self):
        """
        A transient queue that holds a message is not deleted: it is
        consumed as it is, and the message is handled.
        """
        topic = self.topicName()
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        yield channel.queue_declare(queue=topic, durable=False)
        body = envelope.encodeRequest(CONTEXT, "remember", {"value": "old"}, "m-old")
        yield channel.basic_publish(exchange="", routing_key=topic, content=Content(body))
        yield defer.Deferred.fromCoroutine(closeBare(client))
        rpc = self.makeRPC()
        manager, consumer = yield self.serveOn(rpc, topic, "h1")
        self.assertEqual((yield manager.arrived), "old")
        self.assertTrue(consumer.consuming)
        self.assertFalse((yield defer.Deferred.fromCoroutine(isDurableQueue(topic))))

    @defer.inlineCallbacks
    def test_transientExchangeIsUsed(self):
        """
        A transient exchange of an older release is used as it is.
        """
        client, channel = yield defer.Deferred.fromCoroutine(bareClient())
        yield channel.exchange_declare(exchange=self.exchange, type="topic", durable=False)
        yield defer.Deferred.fromCoroutine(closeBare(client))
        server, caller = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(server, topic, "h1")
        result = yield caller.call(CONTEXT, topic, "echo", {"value": 7})
        self.assertEqual(result["value"], 7)
        yield caller.cast(CONTEXT, topic, "echo", {"value": 8})


class BackoffTests(SynchronousTestCase):
    def test_growsAndCaps(self):
        backoff = amqp.Backoff(1.0, 10.0, jitter=lambda: 0.0)
        self.assertEqual([backoff(n) for n in range(1, 7)], [1.0, 2.0, 4.0, 8.0, 10.0, 10.0])

    def test_jitterStaysWithinMaximum(self):
        backoff = amqp.Backoff(1.0, 3.0, jitter=lambda: 0.99)
        self.assertAlmostEqual(backoff(1), 1.099)
        self.assertEqual([backoff(n) for n in range(3)][-1], 3.0)

    def test_countsItsOwnFailures(self):
        """
        L{amqp.Backoff} ignores L{ClientService}'s count, which restarts
        at every TCP connection even if the login then fails.
        """
        backoff = amqp.Backoff(1.0, 100.0, jitter=lambda: 0.0)
        self.assertEqual([backoff(1), backoff(1), backoff(1)], [1.0, 2.0, 4.0])
        backoff.reset()
        self.assertEqual(backoff(5), 1.0)

    def test_zeroIntervalDoesNotSpin(self):
        backoff = amqp.Backoff(0.0, 0.0, jitter=lambda: 0.0)
        self.assertEqual(backoff(1), 0.05)


class _StubRPC:
    """
    What an L{amqp._Client} reports its life to, for tests without a
    broker.
    """

    log = Logger()

    def __init__(self):
        self.lost = []

    def _connected(self, client):
        pass

    def _lost(self, client, reason):
        self.lost.append(reason)


HEARTBEAT_FRAME = b"\x08\x00\x00\x00\x00\x00\x00\xce"


class HeartbeatTests(SynchronousTestCase):
    """
    L{amqp._Client}'s heartbeat, on a clock and an in-memory transport.
    """

    def connect(self, heartbeat=10):
        clock = task.Clock()
        client = amqp._Client(
            amqp._Delegate(), "/", amqp.loadSpec(), heartbeat=heartbeat, clock=clock
        )
        client.rpc = _StubRPC()
        transport = StringTransport()
        client.makeConnection(transport)
        client.startHeartbeat()
        transport.clear()
        return clock, client, transport

    def test_sendsHeartbeats(self):
        clock, client, transport = self.connect()
        clock.advance(9.9)
        self.assertEqual(transport.value(), b"")
        clock.advance(0.1)
        self.assertEqual(transport.value(), HEARTBEAT_FRAME)
        client.dataReceived(HEARTBEAT_FRAME)
        clock.advance(10)
        self.assertEqual(transport.value(), HEARTBEAT_FRAME * 2)

    def test_dropsSilentConnection(self):
        clock, client, transport = self.connect()
        clock.advance(20)
        client.dataReceived(HEARTBEAT_FRAME)
        clock.advance(20)
        self.assertFalse(transport.disconnecting)
        clock.advance(10)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_connectionLostStopsHeartbeat(self):
        clock, client, transport = self.connect()
        client.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(len(client.rpc.lost), 1)

    def test_noHeartbeat(self):
        clock, client, transport = self.connect(heartbeat=0)
        self.assertEqual(clock.getDelayedCalls(), [])
