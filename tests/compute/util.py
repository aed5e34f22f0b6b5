"""
A whole cloud in one test: a real database on C{sqlite:}, the in-process
bus, a scheduler, compute services on fake hypervisors, and the compute
API, all on one L{task.Clock}.
"""

import os
import random

from twisted.internet import task
from twisted.internet.defer import fail, succeed

from nova.compute.api import ComputeAPI, UnlimitedQuotas
from nova.compute.manager import ComputeManager
from nova.compute.network import FakeNetworkClient
from nova.config import configFromFlags
from nova.rpc.local import LocalRPC
from nova.scheduler.manager import SchedulerManager
from nova.service import NovaService
from nova.virt.fake import FakeVirtDriver
from tests.util import ADMIN, ALICE, BOB, START, DictQuotas, makeDatabase


class Cloud:
    """
    @ivar drivers: host -> L{FakeVirtDriver}.
    @ivar computes: host -> L{ComputeManager}.
    @ivar services: host (or C{"scheduler"}) -> L{NovaService}.
    """

    def __init__(self, testCase, hosts=("h1",), quotas=None, **flags):
        self.testCase = testCase
        self.clock = task.Clock()
        self.clock.advance(START)
        flags.setdefault("scheduler_driver", "simple")
        self.config = configFromFlags(host="controller", **flags)
        self.db = makeDatabase(testCase, self.clock)
        self.rpc = LocalRPC(self.clock, callTimeout=30)
        self.network = FakeNetworkClient()
        self.drivers, self.computes, self.services = {}, {}, {}
        self.quotas = quotas if quotas is not None else UnlimitedQuotas()
        self.api = ComputeAPI(
            self.config, self.db, self.rpc, self.clock, self.quotas, random=random.Random(7)
        )
        self.scheduler = SchedulerManager(self.config, self.db, self.rpc, self.clock)
        self.startService("scheduler", "nova-scheduler", "scheduler", self.scheduler, self.config)
        for host in hosts:
            self.addCompute(host)
        testCase.addCleanup(self.stopAll)

    def startService(self, key, binary, topic, manager, config):
        service = NovaService(binary, topic, manager, self.rpc, self.db, self.clock, config)
        service.startService()
        self.testCase.successResultOf(service.ready)
        self.services[key] = service
        return service

    def addCompute(self, host, driver=None):
        """
        Start nova-compute on C{host} (again, after L{stopCompute}, with
        the same hypervisor unless C{driver} is given).
        """
        if driver is None:
            driver = self.drivers.get(host) or FakeVirtDriver()
        self.drivers[host] = driver
        config = self.config.replace(host=host)
        manager = ComputeManager(config, self.db, self.rpc, self.clock, driver, self.network)
        self.computes[host] = manager
        self.startService(host, "nova-compute", "compute", manager, config)
        return manager

    def stopCompute(self, host):
        service = self.services.pop(host)
        self.testCase.successResultOf(service.stopService())

    def stopAll(self):
        self.flush()
        for key in list(self.services):
            self.testCase.successResultOf(self.services.pop(key).stopService())
        self.testCase.assertEqual(self.clock.getDelayedCalls(), [])

    def flush(self):
        """
        Deliver every message due now (and what they cause).
        """
        self.clock.advance(0)

    def instance(self, instanceId):
        return self.testCase.successResultOf(self.db.instances.get(instanceId))

    def run(self, context=ALICE, count=1, **kw):
        """
        Run instances through the API and deliver everything.

        @return: the reservation id and the instances' records now.
        """
        reservationId, instances, _ = self.testCase.successResultOf(
            self.api.runInstances(context, "ami-00000001", count, count, **kw)
        )
        self.flush()
        return reservationId, [self.instance(i.id) for i in instances]


__all__ = [
    "ADMIN",
    "ALICE",
    "BOB",
    "START",
    "Cloud",
    "DictQuotas",
    "FakeImages",
    "FakeUploader",
    "makeDatabase",
]


class FakeImages:
    """
    The part of an image service snapshots use, in memory: reserved images
    are L{FakeImage}s by id.

    @ivar images: image id -> L{FakeImage}.
    @ivar calls: C{(method, imageId or location)} of every call.
    @ivar failNext: an exception the next call fails with, or C{None}.
    """

    def __init__(self):
        self.images = {}
        self.calls = []
        self.failNext = None

    def _enter(self, method, what):
        self.calls.append((method, what))
        if self.failNext is not None:
            error, self.failNext = self.failNext, None
            return fail(error)
        return None

    def reserveImage(self, context, location, **fields):
        failed = self._enter("reserveImage", location)
        if failed is not None:
            return failed
        image = FakeImage(
            "ami-%08x" % (0x50 + len(self.images),), location, context.projectId, fields
        )
        self.images[image.ec2_id] = image
        return succeed(image)

    def getImage(self, context, imageId):
        return self._enter("getImage", imageId) or succeed(self.images[imageId])

    def completeImage(self, context, imageId):
        failed = self._enter("completeImage", imageId)
        if failed is not None:
            return failed
        self.images[imageId].state = "available"
        return succeed(self.images[imageId])

    def failImage(self, context, imageId, reason):
        failed = self._enter("failImage", imageId)
        if failed is not None:
            return failed
        image = self.images[imageId]
        image.state, image.reason = "failed", reason
        return succeed(image)


class FakeImage:
    def __init__(self, ec2Id, location, projectId, fields):
        self.ec2_id = ec2Id
        self.location = location
        self.project_id = projectId
        self.fields = fields
        self.state = "pending"
        self.reason = None


class FakeUploader:
    """
    An uploader that keeps what it is given in memory.

    @ivar objects: location -> (project, bytes).
    """

    def __init__(self, directory):
        self.directory = directory
        self.objects = {}

    def upload(self, context, location, write):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, "snapshot")

        def store(result):
            with open(path, "rb") as f:
                self.objects[location] = (context.projectId, f.read())
            return result

        def remove(result):
            if os.path.exists(path):
                os.unlink(path)
            return result

        return write(path).addCallback(store).addBoth(remove)
