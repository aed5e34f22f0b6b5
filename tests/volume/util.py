"""
A small cloud for tests of the volume manager and API: a real database on
C{sqlite:}, the in-process bus, the real scheduler, volume services on
fake volume drivers, and recording compute hosts, all on one
L{task.Clock}.
"""

from twisted.internet import task
from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from nova.config import configFromFlags
from nova.rpc.interfaces import IDispatcher
from nova.rpc.local import LocalRPC
from nova.scheduler.manager import SchedulerManager
from nova.service import NovaService
from nova.volume.api import VolumeAPI
from nova.volume.fake import FakeVolumeDriver
from nova.volume.manager import VolumeManager
from tests.util import ADMIN, ALICE, BOB, START, DictQuotas, createInstance, makeDatabase


@implementer(IDispatcher)
class RecordingCompute:
    """
    Stands for a compute host on the bus: records every request and
    answers C{None}, or fails with what a test put in C{failures}
    (method -> exception), or never answers for methods in C{silent}.

    @ivar requests: C{(method, args)} of each request.
    """

    def __init__(self):
        self.requests = []
        self.failures = {}
        self.silent = set()

    def dispatch(self, context, method, args):
        self.requests.append((method, dict(args)))
        if method in self.silent:
            return Deferred()
        error = self.failures.pop(method, None)
        if error is not None:
            return fail(error)
        return succeed(None)


class VolumeCloud:
    """
    @ivar drivers: volume host -> L{FakeVolumeDriver}.
    @ivar managers: volume host -> L{VolumeManager}.
    @ivar computes: compute host -> L{RecordingCompute}.
    @ivar api: the L{VolumeAPI}.
    """

    def __init__(self, testCase, volumeHosts=("vh1",), computeHosts=("ch1",), quotas=None, **flags):
        self.testCase = testCase
        self.clock = task.Clock()
        self.clock.advance(START)
        flags.setdefault("scheduler_driver", "simple")
        self.config = configFromFlags(host="controller", **flags)
        self.db = makeDatabase(testCase, self.clock)
        self.rpc = LocalRPC(self.clock, callTimeout=30)
        self.quotas = quotas if quotas is not None else DictQuotas()
        self.api = VolumeAPI(self.config, self.db, self.rpc, self.clock, self.quotas)
        self.services = {}
        self.drivers, self.managers, self.computes = {}, {}, {}
        self.startService(
            "scheduler", "nova-scheduler", "scheduler",
            SchedulerManager(self.config, self.db, self.rpc, self.clock), self.config,
        )
        for host in volumeHosts:
            self.addVolumeHost(host)
        for host in computeHosts:
            compute = self.computes[host] = RecordingCompute()
            consumer = testCase.successResultOf(self.rpc.serve("compute", host, compute))
            testCase.addCleanup(consumer.stop)
        testCase.addCleanup(self.stopAll)

    def startService(self, key, binary, topic, manager, config):
        service = NovaService(binary, topic, manager, self.rpc, self.db, self.clock, config)
        service.startService()
        self.settle()
        self.testCase.successResultOf(service.ready)
        self.services[key] = service
        return service

    def addVolumeHost(self, host, driver=None, zone="nova"):
        config = self.config.replace(host=host, node_availability_zone=zone)
        driver = driver if driver is not None else FakeVolumeDriver()
        manager = VolumeManager(config, self.db, self.rpc, self.clock, driver=driver)
        self.drivers[host], self.managers[host] = driver, manager
        return self.startService(host, "nova-volume", "volume", manager, config)

    def stopAll(self):
        for service in self.services.values():
            if service.running:
                d = service.stopService()
                self.settle()
                self.testCase.successResultOf(d)

    def settle(self, rounds=20):
        """
        Deliver every message in flight (and those they cause).
        """
        for _ in range(rounds):
            self.clock.advance(0)

    def run(self, d):
        """
        Settle the bus, then return C{d}'s result.
        """
        self.settle()
        return self.testCase.successResultOf(d)

    def runFailure(self, d, *errors):
        self.settle()
        return self.testCase.failureResultOf(d, *errors)

    def now(self, d):
        """
        @return: C{d}'s result, without delivering anything in flight.
        """
        return self.testCase.successResultOf(d)

    def nowFailure(self, d, *errors):
        return self.testCase.failureResultOf(d, *errors)

    def volume(self, volumeId):
        return self.testCase.successResultOf(self.db.volumes.get(volumeId))

    def snapshot(self, snapshotId):
        return self.testCase.successResultOf(self.db.volumes.getSnapshot(snapshotId))

    def instance(self, context=ALICE, host="ch1", state="running", zone="nova"):
        return createInstance(
            self.testCase,
            self.db,
            project_id=context.projectId,
            user_id=context.userId,
            state=state,
            host=host,
            availability_zone=zone,
        )

    def availableVolume(self, context=ALICE, size=1):
        """
        @return: a new volume, created through the API and settled.
        """
        volume = self.run(self.api.createVolume(context, size))
        self.settle()
        record = self.volume(volume.id)
        self.testCase.assertEqual(record.status, "available", record.status_description)
        return record


__all__ = ["ADMIN", "ALICE", "BOB", "START", "DictQuotas", "RecordingCompute", "VolumeCloud"]
