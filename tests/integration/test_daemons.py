"""
Nova daemons as separate processes over RabbitMQ and PostgreSQL: two
nova-compute hosts and a nova-scheduler heartbeat into one database, a
killed host shows as down after service_down_time, and the survivors keep
serving calls after RabbitMQ restarts (a private RabbitMQ node of the
test's own, L{tests.faults.servers.PrivateRabbit}: the shared one is never
stopped).
"""

import os
import tempfile

from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from nova import exception
from nova.config import configFromFlags
from nova.context import adminContext
from tests.db.backends import freshURI
from tests.faults.servers import PrivateRabbit, missingTools
from tests.integration.processes import Daemon, poll, runManage
from tests.util import requireCondition, workerPort

#: The private RabbitMQ node's ports.
RABBIT_PORT = workerPort(18540)
RABBIT_DIST_PORT = workerPort(18541)


class MultiHostTests(TestCase):
    timeout = 300

    def setUp(self):
        missing = missingTools()
        requireCondition(missing is None, missing)
        directory = tempfile.mkdtemp(dir=os.getcwd())
        os.chmod(directory, 0o755)  # the node runs as the rabbitmq user
        self.rabbit = PrivateRabbit(os.path.join(directory, "rabbit"), RABBIT_PORT, RABBIT_DIST_PORT)
        self.addCleanup(self.rabbit.stop)
        self.rabbit.start()
        self.sql = freshURI(self, "postgres")
        self.flags = [
            f"--sql_connection={self.sql}",
            "--rpc_backend=amqp",
            f"--rabbit_port={RABBIT_PORT}",
            "--rabbit_retry_interval=0.5",
            "--rabbit_max_retry_interval=2",
            "--report_interval=1",
            "--service_down_time=5",
        ]

    def serviceStates(self):
        code, out, err = runManage(*self.flags, "service", "list")
        self.assertEqual(code, 0, err)
        return {
            (row[0], row[1]): row[5]
            for row in (line.split() for line in out.splitlines()[1:])
        }

    @defer.inlineCallbacks
    def client(self):
        from nova.rpc.amqp import AMQPRPC

        config = configFromFlags(
            rpc_backend="amqp",
            rabbit_port=RABBIT_PORT,
            rabbit_retry_interval=0.5,
            rabbit_max_retry_interval=2.0,
        )
        rpc = AMQPRPC(config, reactor)
        rpc.startService()
        self.addCleanup(rpc.stopService)
        yield poll(lambda: rpc.connected, 30, what="the test's RPC connection")
        return rpc

    @defer.inlineCallbacks
    def pingUntilAnswered(self, rpc, topic, timeout=60.0):
        deadline = reactor.seconds() + timeout
        while True:
            try:
                result = yield rpc.call(adminContext(), topic, "ping", {}, timeout=3)
                return result
            except (exception.RPCTimeout, exception.RPCError):
                if reactor.seconds() > deadline:
                    raise
                yield deferLater(reactor, 0.5, lambda: None)

    @defer.inlineCallbacks
    def test_hostsHeartbeatFailAndSurviveBrokerRestart(self):
        code, _, err = runManage(*self.flags, "db", "sync")
        self.assertEqual(code, 0, err)
        scheduler = Daemon(self, "nova-scheduler", *self.flags, "--host=ctl").start()
        c1 = Daemon(self, "nova-compute", *self.flags, "--host=c1", name="c1").start()
        c2 = Daemon(self, "nova-compute", *self.flags, "--host=c2", name="c2").start()
        for daemon in (scheduler, c1, c2):
            yield daemon.waitForLog(r"consumes (scheduler|compute)", timeout=60)
        states = self.serviceStates()
        self.assertEqual(
            states,
            {("c1", "nova-compute"): ":-)", ("c2", "nova-compute"): ":-)", ("ctl", "nova-scheduler"): ":-)"},
        )

        rpc = yield self.client()
        for host in ("c1", "c2"):
            answer = yield rpc.call(adminContext(), f"compute.{host}", "ping", {})
            self.assertEqual(answer, {"host": host, "manager": "ComputeManager"})

        c2.kill()
        yield poll(
            lambda: self.serviceStates().get(("c2", "nova-compute")) == "XXX",
            30,
            step=0.5,
            what="c2 to show XXX",
        )
        states = self.serviceStates()
        self.assertEqual(states[("c1", "nova-compute")], ":-)")
        self.assertEqual(states[("ctl", "nova-scheduler")], ":-)")

        self.rabbit.stopApp()
        try:
            yield self.assertFailure(
                rpc.call(adminContext(), "compute.c1", "ping", {}, timeout=1),
                exception.RPCTimeout,
            )
        finally:
            self.rabbit.startApp()
        answer = yield self.pingUntilAnswered(rpc, "compute.c1")
        self.assertEqual(answer["host"], "c1")
        answer = yield self.pingUntilAnswered(rpc, "scheduler.ctl")
        self.assertEqual(answer["host"], "ctl")
        yield poll(
            lambda: self.serviceStates().get(("c1", "nova-compute")) == ":-)",
            30,
            step=0.5,
            what="c1 to report after the restart",
        )
        for daemon in (scheduler, c1):
            code = yield daemon.stop()
            self.assertIn(code, (0, -15))
            self.assertIn("Server Shut Down.", daemon.log())
