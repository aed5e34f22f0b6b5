# -*- test-case-name: tests.test_service -*-
"""
L{NovaService} binds a manager to its RPC topics, keeps its row in the
services table fresh, and runs the manager's periodic tasks.
"""

from twisted.application.internet import TimerService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks, succeed
from twisted.logger import Logger
from zope.interface import implementer

from nova import exception
from nova.config import Flag
from nova.context import adminContext
from nova.manager import ManagerDispatcher
from nova.rpc.interfaces import IDispatcher
from nova.util.outage import OutageLog, outageOf

OPTIONS = (
    Flag(
        "report_interval",
        "float",
        10.0,
        "Seconds between a service's heartbeats in the services table.",
        minimum=0.1,
    ),
    Flag(
        "periodic_interval",
        "float",
        60.0,
        "Seconds between runs of a manager's periodic tasks.",
        minimum=0.1,
    ),
    Flag(
        "service_down_time",
        "float",
        60.0,
        "A service whose last heartbeat is older than this many seconds "
        "counts as down: schedulers skip it and nova-manage shows XXX.",
        minimum=1.0,
    ),
    Flag(
        "enable_new_services",
        "bool",
        True,
        "Whether a service registering for the first time is enabled; with "
        "false, new hosts stay out of scheduling until `nova-manage service "
        "enable`.",
    ),
    Flag(
        "drain_timeout",
        "float",
        30.0,
        "Seconds a stopping service (SIGTERM) waits for the requests it is "
        "running to finish.  Requests still running then are handed back: "
        "over RabbitMQ their unacknowledged messages go to a peer or wait "
        "for the next start; their instances and volumes are finished or "
        "marked error by the scheduler's stuck-work sweep.",
        minimum=0.0,
    ),
    Flag(
        "node_availability_zone",
        "str",
        "nova",
        "Availability zone of this host's services.",
    ),
)


@implementer(IDispatcher)
class DrainingDispatcher:
    """
    Tracks requests in flight so that stopping can wait for them.
    """

    def __init__(self, inner):
        self.inner = inner
        self.inFlight = set()

    def dispatch(self, context, method, args):
        d = self.inner.dispatch(context, method, args)
        self.inFlight.add(d)

        def done(result):
            self.inFlight.discard(d)
            return result

        d.addBoth(done)
        return d

    def drain(self, clock=None, timeout=None):
        """
        @param clock: with C{timeout}, the clock that bounds the wait.
        @param timeout: seconds to wait at most, or C{None} for no limit.
        @return: L{Deferred} firing with the number of requests still
            running when it gave up (0 once every request finished).
        """
        waiting = DeferredList(list(self.inFlight), consumeErrors=True)
        if timeout is None or not self.inFlight:
            return waiting.addCallback(lambda _: 0)
        drained = Deferred()

        def finished(_):
            if timer.active():
                timer.cancel()
            if not drained.called:
                drained.callback(0)

        def gaveUp():
            if not drained.called:
                drained.callback(len(self.inFlight))

        timer = clock.callLater(timeout, gaveUp)
        waiting.addCallback(finished)
        return drained


class NovaService(MultiService):
    """
    One Nova service (for example C{nova-compute} on host C{h1}).

    Starting it registers its row in the services table, runs the
    manager's C{initHost}, then consumes C{<topic>}, C{<topic>.<host>} and
    the fanout of C{<topic>}; it reports every C{report_interval} seconds
    and runs the manager's periodic tasks every C{periodic_interval}
    seconds, both on the injected clock.  Stopping stops consuming, waits
    for requests in flight (at most C{drain_timeout} seconds: then the
    rest are handed back, see L{DrainingDispatcher.drain}), and stops the
    timers.

    A service with no C{topic} (nova-api, nova-objectstore) only reports.

    A heartbeat that fails because the database (or the message broker)
    cannot be reached is logged once, naming what was lost; the first one
    written again logs that it is back, with the number of heartbeats
    lost.  Any other failure is logged with its traceback.

    @ivar ready: a L{Deferred} that fires once the service consumes RPC, or
        fails with the reason it could not start.
    """

    log = Logger()

    def __init__(self, binary, topic, manager, rpc, db, clock, config):
        MultiService.__init__(self)
        self.binary = binary
        self.topic = topic
        self.host = config.host
        self.zone = config.node_availability_zone
        self.enableNew = config.enable_new_services
        self.manager = manager
        self.rpc = rpc
        self.db = db
        self.clock = clock
        self.serviceId = None
        self.consumer = None
        self.ready = None
        # What the heartbeats lost (outageOf's names): (first failure's
        # time, failed heartbeats) by name.
        self._lost = {}
        self.reportInterval = config.report_interval
        self._periodicOutages = OutageLog(f"{binary} on {self.host}", "periodic task runs")
        self.dispatcher = DrainingDispatcher(ManagerDispatcher(manager))
        self.shutdownTimeout = config.drain_timeout
        self.setName(f"{binary}.{self.host}")
        self._reporter = TimerService(config.report_interval, self.report)
        self._reporter.clock = clock
        periodic = TimerService(config.periodic_interval, self.periodicTasks)
        periodic.clock = clock
        self._periodicTimer = periodic

    def startService(self):
        MultiService.startService(self)
        self.ready = self._start()

    @inlineCallbacks
    def _start(self):
        yield self.db.checkSchema()
        yield self._register()
        yield self.manager.initHost()
        if self.topic is not None and self.running:
            consumer = yield self.rpc.serve(self.topic, self.host, self.dispatcher)
            if not self.running:
                # Stopped while the consumer was being set up.
                yield consumer.stop()
                return
            self.consumer = consumer
        if not self.running:
            return
        self._reporter.setServiceParent(self)
        self._periodicTimer.setServiceParent(self)
        if self.topic is None:
            self.log.info("{binary} on {host} started", binary=self.binary, host=self.host)
        else:
            self.log.info(
                "{binary} on {host} consumes {topic}, {topic}.{host} and the fanout",
                binary=self.binary,
                host=self.host,
                topic=self.topic,
            )

    @inlineCallbacks
    def _register(self):
        record = yield self.db.services.register(
            self.host,
            self.binary,
            self.topic or self.binary,
            self.zone,
            disabled=not self.enableNew,
        )
        self.serviceId = record.id

    def report(self):
        """
        Write a heartbeat (registering again if the row has vanished).  A
        failure is logged (once per outage of the database or the broker);
        the next report tries again.

        @return: L{Deferred} firing when done.
        """
        if self.serviceId is None:
            d = self._register()
        else:
            lost = None if self.rpc.connected else "message broker"
            d = self.db.services.report(self.serviceId, lost=lost)

            def reRegister(failure):
                failure.trap(exception.ServiceNotFound)
                return self._register()

            d.addErrback(reRegister)
        d.addCallbacks(self._reported, self._reportFailed)
        return d

    def _reported(self, _):
        """
        A heartbeat was written: log the end of what the heartbeats lost.
        """
        lost, self._lost = self._lost, {}
        for outage, (since, count) in sorted(lost.items()):
            self.log.info(
                "{name}: heartbeats written again: the {outage} is back after "
                "{count} failed heartbeat(s) ({seconds:.0f} s)",
                name=self.name,
                outage=outage,
                count=count,
                seconds=self.clock.seconds() - since,
            )

    def _reportFailed(self, failure):
        """
        A heartbeat failed: log the first failure of an outage of the
        database or the broker, naming it, and count the others; log any
        other failure with its traceback.
        """
        outage = outageOf(failure.value)
        if outage is None:
            self.log.failure("{name}: heartbeat failed", failure, name=self.name)
            return
        since, count = self._lost.get(outage, (self.clock.seconds(), 0))
        self._lost[outage] = (since, count + 1)
        if count == 0:
            self.log.error(
                "{name}: heartbeat failed: lost the {outage} ({error}); trying again "
                "every {interval:g} s, logging only when it is back",
                name=self.name,
                outage=outage,
                error=f"{type(failure.value).__name__}: {failure.value}",
                interval=self.reportInterval,
            )

    def periodicTasks(self):
        """
        Run the manager's periodic tasks.  A failure because the database
        or the broker is out is logged once per outage (and its end once,
        with the count); any other with its traceback.

        @return: L{Deferred} firing when done.
        """

        def failed(failure):
            if not self._periodicOutages.failed(failure):
                self.log.failure("{name}: periodic tasks failed", failure, name=self.name)

        d = self.manager.periodicTasks(adminContext())
        d.addCallbacks(lambda _: self._periodicOutages.succeeded(), failed)
        return d

    @inlineCallbacks
    def stopService(self):
        if self.consumer is not None:
            yield self.consumer.stop()
            self.consumer = None
        left = yield self.dispatcher.drain(self.clock, self.shutdownTimeout)
        if left:
            self.log.warn(
                "{name}: {count} request(s) still running after {seconds:g} s; handing "
                "them back",
                name=self.name,
                count=left,
                seconds=self.shutdownTimeout,
            )
        yield MultiService.stopService(self)
        self.log.info("{name} stopped", name=self.name)


def waitReady(services):
    """
    @return: L{Deferred} firing when every started L{NovaService} in
        C{services} consumes RPC.
    """
    ds = [s.ready for s in services if s.ready is not None]
    return DeferredList(ds, fireOnOneErrback=True) if ds else succeed(None)
