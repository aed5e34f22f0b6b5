"""
Tests for L{nova.service.NovaService} and L{nova.manager}.
"""

from twisted.internet import defer, task
from twisted.trial.unittest import SynchronousTestCase

from nova import exception
from nova.config import configFromFlags
from nova.context import RequestContext
from nova.db.api import SchemaOutOfDate, inlineDatabase
from nova.db.services import utcnow
from nova.manager import Manager, ManagerDispatcher, expose
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

    def test_reRegistersWhenRowVanishes(self):
        self.start()
        [row] = self.rows()
        self.successResultOf(self.db.services.delete(row.id))
        self.clock.advance(10)
        [again] = self.rows()
        self.assertNotEqual(again.id, row.id)
        self.assertEqual(self.service.serviceId, again.id)

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
