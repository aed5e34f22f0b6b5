"""
The RPC contract: one suite of tests that every L{IRPC} implementation
passes.  A test case mixes in L{RPCContract} and provides C{makeRPC()},
returning a new connected L{IRPC} (called several times in one test for
several peers), and may override C{topicName()}.
"""

import uuid

from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from zope.interface.verify import verifyObject

from nova import exception
from nova.context import RequestContext
from nova.manager import Manager, ManagerDispatcher, expose
from nova.rpc.interfaces import IRPC, IRPCConsumer


class WidgetNotFound(exception.NotFound):
    """No such widget."""

    code = "TestWidgetNotFound"


class EchoManager(Manager):
    """
    A manager for the contract tests.
    """

    def __init__(self, name):
        self.name = name
        self.received = []
        self.gate = None
        self.arrived = defer.Deferred()

    @expose
    def echo(self, context, value):
        self.received.append(("echo", value))
        return {"value": value, "host": self.name, "user": context.userId}

    @expose
    def remember(self, context, value):
        self.received.append(("remember", value))
        if not self.arrived.called:
            self.arrived.callback(value)

    @expose
    def missing(self, context, widget):
        raise WidgetNotFound(f"widget {widget} is missing")

    @expose
    def crash(self, context):
        raise ZeroDivisionError("boom")

    @expose
    def slow(self, context, value):
        self.gate = defer.Deferred()
        self.gate.addCallback(lambda _: value)
        return self.gate

    def hidden(self, context):
        return "must not be callable"


def waitFor(predicate, timeout=10.0, step=0.01):
    """
    Poll C{predicate} on the reactor until true.

    @return: L{Deferred} firing when true; failing after C{timeout}.
    """
    deadline = reactor.seconds() + timeout

    def check():
        if predicate():
            return None
        if reactor.seconds() > deadline:
            raise AssertionError("condition not reached in time")
        return deferLater(reactor, step, check)

    return check()


CONTEXT = RequestContext(userId="alice", projectId="proj", roles=("sysadmin",))


class RPCContract:
    """
    Tests every IRPC passes.  Mix into a L{twisted.trial.unittest.TestCase}.
    """

    def topicName(self):
        return "test-" + uuid.uuid4().hex[:8]

    @defer.inlineCallbacks
    def serveOn(self, rpc, topic, host):
        manager = EchoManager(host)
        consumer = yield rpc.serve(topic, host, ManagerDispatcher(manager))
        self.addCleanup(consumer.stop)
        return manager, consumer

    def test_provides(self):
        verifyObject(IRPC, self.makeRPC())

    @defer.inlineCallbacks
    def test_callReturnsResult(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        _, consumer = yield self.serveOn(rpc, topic, "h1")
        verifyObject(IRPCConsumer, consumer)
        result = yield rpc.call(CONTEXT, topic, "echo", {"value": 42})
        self.assertEqual(result, {"value": 42, "host": "h1", "user": "alice"})

    @defer.inlineCallbacks
    def test_unicodeRoundTrips(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        text = "sn\u00f8man \u2603 \U0001f600 \u4e2d\u6587"
        result = yield rpc.call(CONTEXT, topic, "echo", {"value": text})
        self.assertEqual(result["value"], text)

    @defer.inlineCallbacks
    def test_hostTopic(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        yield self.serveOn(rpc, topic, "h2")
        for _ in range(3):
            result = yield rpc.call(CONTEXT, f"{topic}.h2", "echo", {"value": 1})
            self.assertEqual(result["host"], "h2")

    @defer.inlineCallbacks
    def test_topicSharedBetweenConsumers(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        yield self.serveOn(rpc, topic, "h2")
        hosts = []
        for _ in range(6):
            result = yield rpc.call(CONTEXT, topic, "echo", {"value": 1})
            hosts.append(result["host"])
        self.assertEqual(set(hosts), {"h1", "h2"})

    @defer.inlineCallbacks
    def test_remoteNovaErrorKeepsClass(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        error = yield self.assertFailure(
            rpc.call(CONTEXT, topic, "missing", {"widget": "w1"}), WidgetNotFound
        )
        self.assertEqual(str(error), "widget w1 is missing")

    @defer.inlineCallbacks
    def test_remoteOtherErrorIsRemoteError(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        error = yield self.assertFailure(
            rpc.call(CONTEXT, topic, "crash", {}), exception.RemoteError
        )
        self.assertEqual(error.errorType, "ZeroDivisionError")
        self.assertIn("boom", str(error))
        self.flushLoggedErrors(ZeroDivisionError)

    @defer.inlineCallbacks
    def test_unknownMethod(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        yield self.assertFailure(
            rpc.call(CONTEXT, topic, "hidden", {}), exception.UnknownMethod
        )
        yield self.assertFailure(
            rpc.call(CONTEXT, topic, "__init__", {}), exception.UnknownMethod
        )

    @defer.inlineCallbacks
    def test_badArguments(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        yield self.assertFailure(
            rpc.call(CONTEXT, topic, "echo", {"wrong": 1}), exception.InvalidArguments
        )
        yield self.assertFailure(
            rpc.call(CONTEXT, topic, "echo", {}), exception.InvalidArguments
        )

    @defer.inlineCallbacks
    def test_nonJSONArgumentsRefused(self):
        rpc = self.makeRPC()
        yield self.assertFailure(
            rpc.cast(CONTEXT, self.topicName(), "echo", {"value": object()}),
            exception.InvalidArguments,
        )

    @defer.inlineCallbacks
    def test_cast(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        result = yield rpc.cast(CONTEXT, topic, "remember", {"value": "x"})
        self.assertIsNone(result)
        value = yield manager.arrived
        self.assertEqual(value, "x")

    @defer.inlineCallbacks
    def test_fanout(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        m1, _ = yield self.serveOn(rpc, topic, "h1")
        m2, _ = yield self.serveOn(rpc, topic, "h2")
        yield rpc.fanoutCast(CONTEXT, topic, "remember", {"value": "all"})
        yield defer.gatherResults([m1.arrived, m2.arrived])
        self.assertEqual(m1.received, [("remember", "all")])
        self.assertEqual(m2.received, [("remember", "all")])

    @defer.inlineCallbacks
    def test_callTimesOut(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        error = yield self.assertFailure(
            rpc.call(CONTEXT, topic, "slow", {"value": 1}, timeout=0.2),
            exception.RPCTimeout,
        )
        self.assertIn("slow", str(error))
        manager.gate.callback(None)

    @defer.inlineCallbacks
    def test_castWaitsForConsumer(self):
        """
        A cast to a declared topic with no consumer attached waits in its
        queue until a consumer comes back.
        """
        rpc = self.makeRPC()
        topic = self.topicName()
        _, consumer = yield self.serveOn(rpc, topic, "h1")
        yield consumer.stop()
        yield rpc.cast(CONTEXT, topic, "remember", {"value": "later"})
        manager, _ = yield self.serveOn(rpc, topic, "h1")
        value = yield manager.arrived
        self.assertEqual(value, "later")

    @defer.inlineCallbacks
    def test_stoppedConsumerGetsNothing(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        m1, c1 = yield self.serveOn(rpc, topic, "h1")
        m2, _ = yield self.serveOn(rpc, topic, "h2")
        yield c1.stop()
        for _ in range(4):
            result = yield rpc.call(CONTEXT, topic, "echo", {"value": 1})
            self.assertEqual(result["host"], "h2")
        self.assertEqual(m1.received, [])

    @defer.inlineCallbacks
    def test_twoPeers(self):
        """
        A second connection calls services served on the first.
        """
        server, client = self.makeRPC(), self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(server, topic, "h1")
        result = yield client.call(CONTEXT, f"{topic}.h1", "echo", {"value": [1, "b"]})
        self.assertEqual(result["value"], [1, "b"])

    @defer.inlineCallbacks
    def test_manyConcurrentCalls(self):
        rpc = self.makeRPC()
        topic = self.topicName()
        yield self.serveOn(rpc, topic, "h1")
        results = yield defer.gatherResults(
            [rpc.call(CONTEXT, topic, "echo", {"value": i}) for i in range(50)]
        )
        self.assertEqual([r["value"] for r in results], list(range(50)))
