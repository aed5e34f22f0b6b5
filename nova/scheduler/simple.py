# -*- test-case-name: tests.scheduler.test_drivers -*-
"""
The simple scheduler: the live, enabled host with the least in use.
Instances go to the compute host running the fewest cores, never beyond
C{--max_cores}; volumes to the volume host holding the fewest gigabytes,
never beyond C{--max_gigabytes}.  Other topics get the host whose name
sorts first.
"""

from twisted.internet.defer import inlineCallbacks, succeed

from nova import exception
from nova.scheduler.driver import SchedulerDriver


class SimpleScheduler(SchedulerDriver):
    """
    Picks the least loaded live, enabled host.
    """

    @inlineCallbacks
    def choose(self, context, topic, request, hosts):
        if topic == "compute":
            usage = yield self.db.instances.coresByHost()
            need, limit, what = int(request.get("vcpus") or 1), self.config.max_cores, "cores"
        elif topic == "volume":
            usage = yield self.volumeUsage()
            need, limit, what = int(request.get("size") or 0), self.config.max_gigabytes, "gigabytes"
        else:
            return hosts[0]
        best = min((usage.get(host, 0), host) for host in hosts)
        used, host = best
        if used + need > limit:
            raise exception.NoValidHost(f"all {topic} hosts have too many {what}")
        return host

    def volumeUsage(self):
        """
        @return: L{Deferred} firing with a L{dict} from host to gigabytes of
            volumes on it, from C{db.volumes.gigabytesByHost()}; empty
            while the database has no volumes component.
        """
        volumes = getattr(self.db, "volumes", None)
        if volumes is None:
            return succeed({})
        return volumes.gigabytesByHost()
