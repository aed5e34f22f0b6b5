"""
Tests for L{nova.service.NovaService} and L{nova.manager}.
"""

from twisted.internet import defer, task
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.api import SchemaOutOfDate, inlineDatabase
from nova.db.services import utcnow
from nova.db.store import DatabaseUnavailable
from nova.manager import Manager, ManagerDispatcher, expose
from nova.rpc.interfaces import BrokerUnavailable
from nova.rpc.local import LocalRPC
from nova.service import NovaService

CONTEXT = RequestContext(userId="u", projectId="p")


class CountingManager(Manager):
    def __init__(self, *args):
        Manager.__init__(self, *args)
        self.periodicRuns = 0
        self.initialised = False
        self.pending = []

    def initHost(self):
        self.initialised = True
        return defer.succeed(None)

    def periodicTasks(self, context):
        self.periodicRuns += 1
        return defer.succeed(None)

    @expose
    def add(self, context, a, b):
        return a + b

    @expose
    def later(self, context):
        d = defer.Deferred()
        self.pending.append(d)
        return d


class NovaServiceTests(SynchronousTestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.clock.advance(1_700_000_000)
        self.config = configFromFlags(host="h1", report_interval=10, periodic_interval=60)
        self.db = inlineDatabase("sqlite:", self.clock)
        self.successResultOf(self.db.sync())
        self.rpc = LocalRPC(self.clock, callTimeout=30)
        self.manager = CountingManager(self.config, self.db, self.rpc, self.clock)
        self.service = NovaService(
            "nova-compute", "compute", self.manager, self.rpc, self.db, self.clock, self.config
        )

    def start(self):
        self.service.startService()
        self.successResultOf(self.service.ready)

    def rows(self):
        return self.successResultOf(self.db.services.list())

    def test_startRegistersAndConsumes(self):
        self.start()
        [row] = self.rows()
        self.assertEqual((row.host, row.binary, row.topic, row.availability_zone), ("h1", "nova-compute", "compute", "nova"))
        self.assertTrue(self.manager.initialised)
        for topic in ("compute", "compute.h1"):
            d = self.rpc.call(CONTEXT, topic, "add", {"a": 2, "b": 3})
            self.clock.advance(0)
            self.assertEqual(self.successResultOf(d), 5)

    def test_pingIsExposed(self):
        self.start()
        d = self.rpc.call(CONTEXT, "compute.h1", "ping", {})
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(d), {"host": "h1", "manager": "CountingManager"})

    def test_unexposedMethodRefused(self):
        self.start()
        d = self.rpc.call(CONTEXT, "compute", "periodicTasks", {"context": None})
        self.clock.advance(0)
        self.failureResultOf(d, exception.UnknownMethod)

    def test_heartbeat(self):
        self.start()
        self.assertEqual(self.rows()[0].report_count, 1)
        self.clock.advance(10)
        self.clock.advance(10)
        [row] = self.rows()
        self.assertEqual(row.report_count, 3)
        self.assertEqual(row.updated_at, utcnow(self.clock))
        self.assertTrue(row.isUp(utcnow(self.clock), self.config.service_down_time))

    def test_heartbeatRecordsALostBroker(self):
        """
        A heartbeat written while the RPC layer cannot reach the broker
        records that it lost the message broker; the next one written
        while connected clears it.
        """
        self.start()
        self.assertIsNone(self.rows()[0].lost)
        self.patch(self.rpc, "connected", False)
        self.clock.advance(10)
        self.assertEqual(self.rows()[0].lost, "message broker")
        self.patch(self.rpc, "connected", True)
        self.clock.advance(10)
        self.assertIsNone(self.rows()[0].lost)

    def test_downAfterServiceDownTime(self):
        self.start()
        self.successResultOf(self.service.stopService())
        self.clock.advance(59)
        self.assertTrue(self.rows()[0].isUp(utcnow(self.clock), 60))
        self.clock.advance(2)
        self.assertFalse(self.rows()[0].isUp(utcnow(self.clock), 60))

    def test_periodicTasks(self):
        self.start()
        self.assertEqual(self.manager.periodicRuns, 1)
        self.clock.advance(60)
        self.assertEqual(self.manager.periodicRuns, 2)
        self.clock.pump([60] * 3)
        self.assertEqual(self.manager.periodicRuns, 5)

    def test_periodicTasksOutageLoggedOnce(self):
        """
        Periodic task runs that fail because the database is unreachable
        are logged once per outage, without a traceback, and its end once
        with the count; a run that fails for another reason is logged with
        its traceback.
        """
        self.start()
        failures = [DatabaseUnavailable("connection refused")] * 3 + [ZeroDivisionError("bug")]

        def periodicTasks(context):
            if failures:
                return defer.fail(failures.pop(0))
            return defer.succeed(None)

        self.patch(self.manager, "periodicTasks", periodicTasks)
        outages, others = [], []
        self.service._periodicOutages.log = Logger(observer=outages.append)
        self.service.log = Logger(observer=others.append)
        self.clock.pump([60] * 3)
        self.assertEqual(
            [formatEvent(e) for e in outages],
            ["nova-compute on h1 periodic task runs fail: the database is unreachable "
             "(DatabaseUnavailable: connection refused); further failures are counted until "
             "one succeeds"],
        )
        self.assertNotIn("log_failure", outages[0])
        self.clock.advance(60)
        self.assertEqual(len(others), 1)
        self.assertIsInstance(others[0]["log_failure"].value, ZeroDivisionError)
        self.clock.advance(60)
        self.assertEqual(
            formatEvent(outages[-1]),
            "nova-compute on h1: database reachable again after 3 failed periodic task runs",
        )
        self.flushLoggedErrors(ZeroDivisionError)

    def test_reRegistersWhenRowVanishes(self):
        self.start()
        [row] = self.rows()
        self.successResultOf(self.db.services.delete(row.id))
        self.clock.advance(10)
        [again] = self.rows()
        self.assertNotEqual(again.id, row.id)
        self.assertEqual(self.service.serviceId, again.id)

    def failReports(self, errors):
        """
        Make the next heartbeats fail with C{errors}, one each, and
        capture what the service logs.

        @return: the L{list} of logged events.
        """
        report = self.db.services.report

        def failing(serviceId, lost=None):
            if errors:
                return defer.fail(errors.pop(0))
            return report(serviceId, lost=lost)

        self.patch(self.db.services, "report", failing)
        events = []
        self.service.log = Logger(observer=events.append)
        return events

    def test_heartbeatOutageLoggedOnce(self):
        """
        Heartbeats that fail because the database is unreachable are
        logged once, as an error naming the database, without a
        traceback; the first heartbeat written again logs that it is
        back, with the count and the time.
        """
        self.start()
        events = self.failReports(
            [DatabaseUnavailable("cannot connect to the database: connection refused")] * 4
        )
        self.clock.pump([10] * 4)
        self.assertEqual(len(events), 1, [formatEvent(e) for e in events])
        self.assertEqual(events[0]["log_level"], LogLevel.error)
        self.assertNotIn("log_failure", events[0])
        self.assertEqual(
            formatEvent(events[0]),
            "nova-compute.h1: heartbeat failed: lost the database (DatabaseUnavailable: "
            "cannot connect to the database: connection refused); trying again every 10 s, "
            "logging only when it is back",
        )
        self.assertEqual(self.rows()[0].report_count, 1)
        self.clock.advance(10)
        self.assertEqual(self.rows()[0].report_count, 2)
        self.assertEqual(
            [formatEvent(e) for e in events[1:]],
            ["nova-compute.h1: heartbeats written again: the database is back after 4 "
             "failed heartbeat(s) (40 s)"],
        )
        self.assertEqual(events[1]["log_level"], LogLevel.info)
        self.clock.pump([10] * 3)
        self.assertEqual(len(events), 2)
        self.assertEqual(self.rows()[0].report_count, 5)

    def test_heartbeatNamesWhatItLost(self):
        """
        A lost broker is named as such, and apart from the database.
        """
        self.start()
        events = self.failReports(
            [BrokerUnavailable("no connection to the message broker")] * 2
            + [DatabaseUnavailable("server closed the connection")]
        )
        self.clock.pump([10] * 4)
        self.assertEqual(
            [formatEvent(e).split(" (")[0] for e in events],
            [
                "nova-compute.h1: heartbeat failed: lost the message broker",
                "nova-compute.h1: heartbeat failed: lost the database",
                "nova-compute.h1: heartbeats written again: the database is back after 1 failed "
                "heartbeat(s)",
                "nova-compute.h1: heartbeats written again: the message broker is back after 2 "
                "failed heartbeat(s)",
            ],
        )

    def test_heartbeatBugLoggedWithTraceback(self):
        """
        A heartbeat that fails for another reason (a bug) is logged with
        its traceback, every time.
        """
        self.start()
        events = self.failReports([ValueError("bug")] * 2)
        self.clock.pump([10] * 2)
        self.assertEqual([e["log_failure"].type for e in events], [ValueError, ValueError])

    def test_heartbeatReRegistersAfterOutage(self):
        """
        A service that could not register (the database was out) registers
        with its next heartbeat, and logs that the database is back.
        """
        self.start()
        self.service.serviceId = None
        register = self.db.services.register
        errors = [DatabaseUnavailable("connection refused")]

        def failing(*args, **kwargs):
            if errors:
                return defer.fail(errors.pop(0))
            return register(*args, **kwargs)

        self.patch(self.db.services, "register", failing)
        events = []
        self.service.log = Logger(observer=events.append)
        self.clock.advance(10)
        self.assertIsNone(self.service.serviceId)
        self.clock.advance(10)
        self.assertIsNotNone(self.service.serviceId)
        self.assertEqual(len(events), 2)
        self.assertIn("lost the database", formatEvent(events[0]))
        self.assertIn("the database is back after 1", formatEvent(events[1]))

    def test_newServicesDisabledByFlag(self):
        config = self.config.replace(enable_new_services=False)
        service = NovaService(
            "nova-network", "network", self.manager, self.rpc, self.db, self.clock, config
        )
        service.startService()
        self.successResultOf(service.ready)
        [row] = self.successResultOf(self.db.services.list(binary="nova-network"))
        self.assertTrue(row.disabled)
        self.successResultOf(service.stopService())

    def test_stopDrainsInFlight(self):
        self.start()
        call = self.rpc.call(CONTEXT, "compute", "later", {})
        self.clock.advance(0)
        [pending] = self.manager.pending
        stopped = self.service.stopService()
        self.assertNoResult(stopped)
        pending.callback("done")
        self.assertEqual(self.successResultOf(call), "done")
        self.successResultOf(stopped)
        self.assertFalse(self.clock.getDelayedCalls())

    def test_stopHandsBackAfterShutdownTimeout(self):
        """
        A request still running C{drain_timeout} seconds after the stop
        began does not hold the service: it stops, and no timer is left.
        """
        self.start()
        call = self.rpc.call(CONTEXT, "compute", "later", {}, timeout=60)
        self.clock.advance(0)
        [pending] = self.manager.pending
        stopped = self.service.stopService()
        self.clock.advance(self.config.drain_timeout - 0.5)
        self.assertNoResult(stopped)
        self.clock.advance(0.5)
        self.successResultOf(stopped)
        self.assertNoResult(call)
        # In one process the request still finishes, later.
        pending.callback("late")
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(call), "late")
        self.assertFalse(self.clock.getDelayedCalls())

    def test_stoppedServiceConsumesNothing(self):
        self.start()
        self.successResultOf(self.service.stopService())
        d = self.rpc.call(CONTEXT, "compute.h1", "add", {"a": 1, "b": 1}, timeout=5)
        self.clock.advance(5)
        self.failureResultOf(d, exception.RPCTimeout)

    def test_startFailsOnOldSchema(self):
        db = inlineDatabase("sqlite:", self.clock)
        service = NovaService(
            "nova-compute", "compute", self.manager, self.rpc, db, self.clock, self.config
        )
        service.startService()
        failure = self.failureResultOf(service.ready, SchemaOutOfDate)
        self.assertIn("nova-manage db sync", str(failure.value))

    def test_serviceWithoutTopicOnlyReports(self):
        service = NovaService(
            "nova-api", None, Manager(self.config, self.db, self.rpc, self.clock),
            self.rpc, self.db, self.clock, self.config,
        )
        service.startService()
        self.successResultOf(service.ready)
        self.assertIsNone(service.consumer)
        [row] = self.successResultOf(self.db.services.list(binary="nova-api"))
        self.assertEqual(row.topic, "nova-api")
        self.successResultOf(service.stopService())


class DispatcherTests(SynchronousTestCase):
    def setUp(self):
        config = configFromFlags(host="h")
        self.manager = CountingManager(config, None, None, task.Clock())
        self.dispatcher = ManagerDispatcher(self.manager)

    def test_exposedOnly(self):
        self.assertEqual(sorted(self.dispatcher.methods), ["add", "later", "ping"])

    def test_dispatch(self):
        d = self.dispatcher.dispatch(CONTEXT, "add", {"a": 1, "b": 2})
        self.assertEqual(self.successResultOf(d), 3)

    def test_unknown(self):
        for name in ("initHost", "_secret", "nothing", "__class__"):
            self.failureResultOf(self.dispatcher.dispatch(CONTEXT, name, {}), exception.UnknownMethod)

    def test_badArguments(self):
        for args in ({"a": 1}, {"a": 1, "b": 2, "c": 3}, {"context": 1, "a": 1, "b": 2}):
            f = self.failureResultOf(self.dispatcher.dispatch(CONTEXT, "add", args), exception.InvalidArguments)
            self.assertIn("add", str(f.value))
