# -*- test-case-name: tests.scheduler.test_drivers -*-
"""
What every scheduler driver shares: finding the live, enabled hosts of a
topic in an availability zone, and the host an admin forces with the zone
C{zone:host} (as in Nova, the zone part is then ignored, and the host need
only be up: it may be disabled or full).
"""

from datetime import timedelta

from twisted.internet.defer import inlineCallbacks
from zope.interface import implementer

from nova import exception
from nova.db.services import utcnow
from nova.scheduler.interfaces import ISchedulerDriver


def parseZone(context, zone):
    """
    Split an availability zone as given in a request.

    @param zone: C{None}, C{zone}, or C{zone:host} (C{zone} may be empty).
    @return: C{(zone or None, forced host or None)}; the host part counts
        for admins only.
    """
    if not zone:
        return None, None
    if ":" in zone:
        zoneName, host = zone.split(":", 1)
        return (zoneName or None), (host if context.isAdmin and host else None)
    return zone, None


@implementer(ISchedulerDriver)
class SchedulerDriver:
    """
    Base of the scheduler drivers.  Subclasses implement L{choose}.

    @ivar config: the L{nova.config.Config}.
    @ivar db: the L{nova.db.api.NovaDatabase}.
    @ivar clock: an L{IReactorTime}, for the age of heartbeats.
    """

    def __init__(self, config, db, clock):
        self.config = config
        self.db = db
        self.clock = clock

    @classmethod
    def fromConfig(cls, config, db, clock):
        """
        @return: a driver reading hosts from C{db}.
        """
        return cls(config, db, clock)

    def liveHosts(self, topic, zone=None, includeDisabled=False):
        """
        @return: L{Deferred} firing with the C{(host, zone)} of each service
            of C{topic} (in C{zone}, if given) whose heartbeat is younger
            than C{--service_down_time} and that is not disabled, by host.
        """
        upSince = utcnow(self.clock) - timedelta(seconds=self.config.service_down_time)
        return self.db.scheduling.liveHosts(topic, upSince, zone, includeDisabled)

    @inlineCallbacks
    def pickHost(self, context, topic, request):
        zone, forced = parseZone(context, request.get("availabilityZone"))
        if forced is not None:
            hosts = yield self.liveHosts(topic, None, includeDisabled=True)
            zones = dict(hosts)
            if forced not in zones:
                raise exception.NoValidHost(f"host {forced} is not up for {topic}")
            return forced, zones[forced]
        hosts = yield self.liveHosts(topic, zone)
        if not hosts:
            where = f" in zone {zone}" if zone else ""
            raise exception.NoValidHost(f"no live, enabled {topic} host{where}")
        zones = dict(hosts)
        host = yield self.choose(context, topic, request, sorted(zones))
        return host, zones[host]

    def choose(self, context, topic, request, hosts):
        """
        Pick one of C{hosts} (names of live, enabled hosts, sorted; never
        empty).

        @return: the host's name, or a L{Deferred} firing with it; failing
            with L{nova.exception.NoValidHost}.
        """
        raise NotImplementedError(type(self).__name__ + ".choose")
