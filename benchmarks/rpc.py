# -*- test-case-name: tests.rpc.test_amqp -*-
"""
RPC over RabbitMQ: nova's L{nova.rpc.amqp.AMQPRPC} against a bare txAMQP
client doing the same work by hand, in one process, on the loopback broker.

Run from the checkout, with RabbitMQ at 127.0.0.1:5672 (guest/guest)::

    .venv/bin/python benchmarks/rpc.py [--count 2000] [--casts 10000]

It measures, for each of the two:

  - call round trip: C{--count} sequential calls (a server on one
    connection, the caller on another), after a warm-up; p50, p99, mean;
  - pipelined casts: C{--casts} casts sent without waiting, timed until
    the server has consumed the last one; messages per second;

and prints both with the ratio nova/bare.  The bare client does what nova
does on the wire (a topic exchange, JSON bodies, C{reply-to} and
C{correlation-id}, prefetch, acknowledgement after the answer) without
nova's envelope, dispatch, reconnection or bookkeeping.  Every loop is
bounded; queues and exchanges are removed at the end.
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import defer, task  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402
from txamqp.client import TwistedDelegate  # noqa: E402
from txamqp.content import Content  # noqa: E402
from txamqp.protocol import AMQClient  # noqa: E402
from txamqp.queue import Closed as QueueClosed  # noqa: E402

from nova.config import configFromFlags  # noqa: E402
from nova.context import RequestContext  # noqa: E402
from nova.manager import Manager, ManagerDispatcher, expose  # noqa: E402
from nova.rpc import amqp  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)

HOST, PORT = "127.0.0.1", 5672
PREFETCH = amqp.DEFAULT_PREFETCH
CONTEXT = RequestContext(userId="bench", projectId="bench")
WARMUP = 200


class BenchManager(Manager):
    def __init__(self, casts):
        self.expected = casts
        self.seen = 0
        self.done = defer.Deferred()

    @expose
    def echo(self, context, value):
        return value

    @expose
    def count(self, context, value):
        self.seen += 1
        if self.seen == self.expected:
            self.done.callback(None)


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(samples):
    return {
        "p50": percentile(samples, 0.50) * 1000,
        "p99": percentile(samples, 0.99) * 1000,
        "mean": statistics.fmean(samples) * 1000,
    }


async def timedCalls(call, count):
    for i in range(WARMUP):
        await call(i)
    samples = []
    for i in range(count):
        started = time.perf_counter()
        result = await call(i)
        samples.append(time.perf_counter() - started)
        assert result == i, result
    return summary(samples)


async def benchNova(reactor, count, casts):
    exchange = "nova-bench-" + uuid.uuid4().hex[:8]
    topic = "bench-" + uuid.uuid4().hex[:8]
    config = configFromFlags(
        rabbit_host=HOST, rabbit_port=PORT, control_exchange=exchange, rpc_call_timeout=30.0
    )
    server = amqp.AMQPRPC(config, reactor)
    client = amqp.AMQPRPC(config, reactor)
    server.startService()
    client.startService()
    manager = BenchManager(casts)
    consumer = await server.serve(topic, "h1", ManagerDispatcher(manager))
    try:
        latency = await timedCalls(
            lambda i: client.call(CONTEXT, topic, "echo", {"value": i}), count
        )
        started = time.perf_counter()
        for i in range(casts):
            client.cast(CONTEXT, topic, "count", {"value": i})
        await manager.done
        rate = casts / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await client.stopService()
        await server.stopService()
    return latency, rate, (exchange, [topic, f"{topic}.h1"], [f"{topic}_fanout"])


async def bareConnection(reactor):
    client = AMQClient(TwistedDelegate(), "/", amqp.loadSpec(), clock=reactor)
    await connectProtocol(TCP4ClientEndpoint(reactor, HOST, PORT), client)
    await client.authenticate("guest", "guest")
    channel = await client.channel(1)
    await channel.channel_open()
    return client, channel


async def bareClose(client):
    channel0 = await client.channel(0)
    await channel0.connection_close(reply_code=200, reply_text="done")
    client.transport.loseConnection()


async def consumeLoop(queue, handle):
    """
    Take messages from a txAMQP consumer queue until it is closed.
    """
    while True:
        try:
            msg = await queue.get()
        except QueueClosed:
            return
        handle(msg)


async def benchBare(reactor, count, casts):
    exchange = "bare-bench-" + uuid.uuid4().hex[:8]
    topic = "bare-" + uuid.uuid4().hex[:8]
    sclient, schannel = await bareConnection(reactor)
    cclient, cchannel = await bareConnection(reactor)
    await schannel.exchange_declare(exchange=exchange, type="topic")
    await schannel.basic_qos(prefetch_count=PREFETCH)
    await schannel.queue_declare(queue=topic)
    await schannel.queue_bind(queue=topic, exchange=exchange, routing_key=topic)
    await schannel.basic_consume(queue=topic, consumer_tag="server")
    counted = {"seen": 0, "done": defer.Deferred()}

    def serve(msg):
        request = json.loads(msg.content.body)
        properties = msg.content.properties
        if request["method"] == "count":
            counted["seen"] += 1
            if counted["seen"] == casts:
                counted["done"].callback(None)
        else:
            reply = json.dumps({"msgId": request["msgId"], "result": request["args"]["value"]})
            schannel.basic_publish(
                exchange="",
                routing_key=properties["reply-to"],
                content=Content(
                    reply.encode("ascii"),
                    properties={"correlation-id": properties["correlation-id"]},
                ),
            )
        schannel.basic_ack(delivery_tag=msg.delivery_tag)

    declared = await cchannel.queue_declare(queue="", exclusive=True, auto_delete=True)
    replyQueue = declared.queue
    await cchannel.basic_consume(queue=replyQueue, consumer_tag="replies", no_ack=True)
    waiting = {}

    def replied(msg):
        d = waiting.pop(msg.content.properties["correlation-id"])
        d.callback(json.loads(msg.content.body)["result"])

    loops = [
        defer.Deferred.fromCoroutine(consumeLoop(await sclient.queue("server"), serve)),
        defer.Deferred.fromCoroutine(consumeLoop(await cclient.queue("replies"), replied)),
    ]

    def call(i):
        msgId = uuid.uuid4().hex
        body = json.dumps({"method": "echo", "args": {"value": i}, "msgId": msgId})
        d = waiting[msgId] = defer.Deferred()
        cchannel.basic_publish(
            exchange=exchange,
            routing_key=topic,
            content=Content(
                body.encode("ascii"),
                properties={"reply-to": replyQueue, "correlation-id": msgId},
            ),
        )
        return d

    latency = await timedCalls(call, count)
    started = time.perf_counter()
    for i in range(casts):
        body = json.dumps({"method": "count", "args": {"value": i}, "msgId": uuid.uuid4().hex})
        cchannel.basic_publish(
            exchange=exchange, routing_key=topic, content=Content(body.encode("ascii"))
        )
    await counted["done"]
    rate = casts / (time.perf_counter() - started)
    await schannel.queue_delete(queue=topic)
    await schannel.exchange_delete(exchange=exchange)
    await bareClose(cclient)
    await bareClose(sclient)
    await defer.DeferredList(loops)
    return latency, rate


async def cleanUp(reactor, exchange, queues, exchanges):
    client, channel = await bareConnection(reactor)
    for name in queues:
        await channel.queue_delete(queue=name)
    for name in exchanges + [exchange]:
        await channel.exchange_delete(exchange=name)
    await bareClose(client)


def report(count, casts, nova, bare):
    (novaLatency, novaRate), (bareLatency, bareRate) = nova, bare
    rows = [
        (f"call p50 (ms, {count} calls)", novaLatency["p50"], bareLatency["p50"]),
        (f"call p99 (ms, {count} calls)", novaLatency["p99"], bareLatency["p99"]),
        (f"call mean (ms, {count} calls)", novaLatency["mean"], bareLatency["mean"]),
        ("calls/s, sequential", 1000 / novaLatency["mean"], 1000 / bareLatency["mean"]),
        (f"casts/s ({casts} pipelined)", novaRate, bareRate),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'':{width}}  {'nova':>10}  {'bare':>10}  {'nova/bare':>9}")
    for name, novaValue, bareValue in rows:
        print(f"{name:{width}}  {novaValue:10.3f}  {bareValue:10.3f}  {novaValue / bareValue:9.2f}")


async def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--count", type=int, default=2000, help="sequential calls")
    parser.add_argument("--casts", type=int, default=10000, help="pipelined casts")
    options = parser.parse_args(argv)
    count, casts = max(1, options.count), max(1, options.casts)
    novaLatency, novaRate, names = await benchNova(reactor, count, casts)
    await cleanUp(reactor, *names)
    bare = await benchBare(reactor, count, casts)
    print(f"RabbitMQ at {HOST}:{PORT}, one process, Python {sys.version.split()[0]}")
    report(count, casts, (novaLatency, novaRate), bare)


if __name__ == "__main__":
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, sys.argv[1:])))
