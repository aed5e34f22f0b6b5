# -*- test-case-name: tests.scheduler.test_manager -*-
"""
The scheduler manager: picks a host for each new instance and volume
through an L{ISchedulerDriver} and hands the request to that host.
"""

from datetime import timedelta

from twisted.internet.defer import DeferredLock, inlineCallbacks
from twisted.logger import Logger

from nova import exception
from nova.compute import states
from nova.db import volumes
from nova.db.instances import IncorrectInstanceState, InstanceNotFound
from nova.db.services import utcnow
from nova.drivers import loadDriver
from nova.manager import Manager, expose
from nova.scheduler.flags import SCHEDULER_DRIVERS
from nova.scheduler.interfaces import ISchedulerDriver
from nova.scheduler.sweeper import StuckWorkSweeper


class SchedulerManager(Manager):
    """
    Picks hosts for instances and volumes.

    Picks run one at a time, so that each sees the hosts the previous one
    chose.  Its periodic task deletes instances terminated more than
    C{--terminated_instance_ttl} seconds ago and sweeps stuck work (see
    L{nova.scheduler.sweeper}).

    @ivar driver: the L{ISchedulerDriver}.
    @ivar sweeper: the L{StuckWorkSweeper}.
    """

    log = Logger()

    def __init__(self, config, db, rpc, clock, driver=None, sweeper=None):
        """
        @param driver: an L{ISchedulerDriver}; by default the one
            C{--scheduler_driver} names.
        @param sweeper: a L{StuckWorkSweeper}; by default one over C{db}
            and C{rpc}.
        """
        Manager.__init__(self, config, db, rpc, clock)
        if driver is None:
            driver = loadDriver(
                ISchedulerDriver,
                SCHEDULER_DRIVERS,
                config.scheduler_driver,
                config,
                db=db,
                clock=clock,
            )
        self.driver = driver
        if sweeper is None:
            sweeper = StuckWorkSweeper(config, db, rpc, clock)
        self.sweeper = sweeper
        self._lock = DeferredLock()

    @expose
    def runInstance(self, context, instanceId, availabilityZone=None):
        """
        Pick a compute host for a pending instance, record it, and cast
        C{runInstance} to C{compute.<host>}.  With no valid host the
        instance goes to C{error}, the reason in its C{state_description}.

        @return: L{Deferred} firing with the host, or C{None} if the
            instance was not scheduled.
        """
        return self._lock.run(self._runInstance, context, instanceId, availabilityZone)

    @inlineCallbacks
    def _runInstance(self, context, instanceId, availabilityZone):
        try:
            instance = yield self.db.instances.get(instanceId)
        except InstanceNotFound:
            self.log.warn("not scheduling i-{id:08x}: it does not exist", id=instanceId)
            return None
        if instance.state != states.PENDING or instance.host is not None:
            self.log.info(
                "not scheduling i-{id:08x}: it is {state} on {host}",
                id=instanceId,
                state=instance.state,
                host=instance.host,
            )
            return None
        request = {
            "instanceId": instanceId,
            "vcpus": instance.vcpus,
            "memory_mb": instance.memory_mb,
            "local_gb": instance.local_gb,
            "availabilityZone": availabilityZone or instance.availability_zone,
        }
        try:
            host, zone = yield self.driver.pickHost(context, "compute", request)
        except exception.NoValidHost as e:
            self.log.warn("cannot schedule i-{id:08x}: {reason}", id=instanceId, reason=e)
            try:
                yield self.db.instances.transition(
                    instanceId,
                    {states.PENDING},
                    states.ERROR,
                    state_description=f"no valid host: {e}"[:255],
                )
            except IncorrectInstanceState:
                pass
            return None
        try:
            yield self.db.instances.transition(
                instanceId,
                {states.PENDING},
                states.PENDING,
                action="schedule",
                host=host,
                availability_zone=zone,
            )
        except IncorrectInstanceState:
            return None
        yield self.rpc.cast(context, f"compute.{host}", "runInstance", {"instanceId": instanceId})
        return host

    @expose
    def createVolume(self, context, volumeId, size, availabilityZone=None):
        """
        Pick a volume host for a new volume of C{size} GiB and cast
        C{createVolume(volumeId)} to C{volume.<host>}.

        @return: L{Deferred} firing with the host, or C{None} when no host
            can take it: the volume is then in C{error}, with the reason.
        """
        return self._lock.run(self._createVolume, context, volumeId, size, availabilityZone)

    @inlineCallbacks
    def _createVolume(self, context, volumeId, size, availabilityZone):
        request = {"volumeId": volumeId, "size": size, "availabilityZone": availabilityZone}
        try:
            host, _ = yield self.driver.pickHost(context, "volume", request)
        except exception.NoValidHost as e:
            self.log.warn("cannot schedule volume {id}: {reason}", id=volumeId, reason=e)
            # The request was cast: the volume itself tells the user.
            try:
                yield self.db.volumes.transition(
                    volumeId,
                    {volumes.CREATING},
                    volumes.ERROR,
                    status_description=f"no valid host: {e}"[:255],
                )
            except (volumes.IncorrectVolumeState, volumes.VolumeNotFound):
                pass
            return None
        yield self.rpc.cast(context, f"volume.{host}", "createVolume", {"volumeId": volumeId})
        return host

    @inlineCallbacks
    def periodicTasks(self, context):
        """
        Delete instances terminated longer ago than
        C{--terminated_instance_ttl}, then sweep stuck work.

        @return: L{Deferred} firing with what the purge returned (the
            number of instances deleted).
        """
        before = utcnow(self.clock) - timedelta(seconds=self.config.terminated_instance_ttl)
        purged = yield self.db.instances.purgeTerminated(before)
        yield self.sweeper.sweep(context)
        return purged
