# -*- test-case-name: tests.rpc.test_local -*-
"""
The in-process bus: the embedded default, for every service in one process
(nova-all) and for tests.  It keeps AMQP's semantics: a topic's messages
wait in its queue while no consumer is attached (once any consumer has
declared it), go to one consumer of the topic in turn, fanout goes to every
consumer, delivery is never synchronous with the send, and every message
is JSON-encoded and decoded on the way.
"""

import itertools
from collections import Counter

from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from nova import exception
from nova.rpc import envelope
from nova.rpc.common import processRequest
from nova.rpc.interfaces import IRPC, IRPCConsumer


class _Queue:
    def __init__(self):
        self.consumers = []
        self.pending = []
        self.turn = itertools.count()


@implementer(IRPCConsumer)
class _LocalConsumer:
    def __init__(self, bus, topic, host, dispatcher):
        self.bus = bus
        self.keys = (topic, f"{topic}.{host}")
        self.fanoutTopic = topic
        self.dispatcher = dispatcher
        self.stopped = False

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.bus._detach(self)
        return succeed(None)


@implementer(IRPC)
class LocalRPC:
    """
    An in-process L{IRPC}.

    @ivar sent: every message sent, as C{(kind, topic, method, args)} with
        C{kind} one of C{call}, C{cast}, C{fanout}, if C{keepSent}: tests
        read it.
    @ivar counts: how many messages were sent, by C{(kind, method)} (a
        L{collections.Counter}).
    """

    #: In one process, there is no broker to lose.
    connected = True

    def __init__(self, clock, callTimeout=60.0, keepSent=True):
        """
        @param clock: an L{IReactorTime} that schedules deliveries and
            timeouts.
        @param callTimeout: the default timeout of L{call}, in seconds.
        @param keepSent: whether to keep every message in C{sent} (for
            tests; a daemon keeps only C{counts}).
        """
        self.clock = clock
        self.callTimeout = callTimeout
        self.queues = {}
        self.fanout = {}
        self.waiting = {}
        self.sent = [] if keepSent else None
        self.counts = Counter()

    def _queue(self, key):
        if key not in self.queues:
            self.queues[key] = _Queue()
        return self.queues[key]

    def _detach(self, consumer):
        for key in consumer.keys:
            self.queues[key].consumers.remove(consumer)
        self.fanout[consumer.fanoutTopic].remove(consumer)

    def serve(self, topic, host, dispatcher):
        consumer = _LocalConsumer(self, topic, host, dispatcher)
        for key in consumer.keys:
            queue = self._queue(key)
            queue.consumers.append(consumer)
            pending, queue.pending = queue.pending, []
            for body in pending:
                self._deliver(key, body)
        self.fanout.setdefault(topic, []).append(consumer)
        return succeed(consumer)

    def _deliver(self, key, body):
        queue = self.queues.get(key)
        if queue is None:
            return
        if not queue.consumers:
            queue.pending.append(body)
            return
        consumer = queue.consumers[next(queue.turn) % len(queue.consumers)]
        self.clock.callLater(0, self._run, consumer, body)

    def _run(self, consumer, body):
        processRequest(consumer.dispatcher, body).addCallback(self._reply)

    def _reply(self, answer):
        replyTo, replyBody = answer
        if replyTo is None:
            return
        msgId, result, error = envelope.decodeReply(replyBody)
        d = self.waiting.pop(msgId, None)
        if d is None:
            return
        if error is not None:
            d.errback(error)
        else:
            d.callback(result)

    def _send(self, kind, context, topic, method, args, replyTo=None):
        self.counts[kind, method] += 1
        if self.sent is not None:
            self.sent.append((kind, topic, method, args))
        msgId = envelope.newMessageId()
        body = envelope.encodeRequest(context, method, args, msgId, replyTo)
        return msgId, body

    def call(self, context, topic, method, args, timeout=None):
        try:
            msgId, body = self._send("call", context, topic, method, args, "local")
        except exception.NovaError as e:
            return fail(e)
        d = Deferred(lambda _: self.waiting.pop(msgId, None))
        self.waiting[msgId] = d
        seconds = self.callTimeout if timeout is None else timeout
        timer = self.clock.callLater(seconds, self._timeout, msgId, topic, method, seconds)

        def cancelTimer(result):
            if timer.active():
                timer.cancel()
            return result

        d.addBoth(cancelTimer)
        self._deliver(topic, body)
        return d

    def _timeout(self, msgId, topic, method, seconds):
        d = self.waiting.pop(msgId, None)
        if d is not None:
            d.errback(
                exception.RPCTimeout(
                    f"no answer from {topic} to {method} within {seconds:g} s"
                )
            )

    def cast(self, context, topic, method, args):
        try:
            _, body = self._send("cast", context, topic, method, args)
        except exception.NovaError as e:
            return fail(e)
        self._deliver(topic, body)
        return succeed(None)

    def fanoutCast(self, context, topic, method, args):
        try:
            _, body = self._send("fanout", context, topic, method, args)
        except exception.NovaError as e:
            return fail(e)
        for consumer in list(self.fanout.get(topic, ())):
            self.clock.callLater(0, self._run, consumer, body)
        return succeed(None)

