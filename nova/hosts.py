# -*- test-case-name: tests.test_hosts -*-
"""
The host API: availability zones, hosts and the services on them, as the
services table and its heartbeats tell.

Every daemon registers its host, binary and C{--node_availability_zone}
in the services table and reports every C{report_interval} seconds; a
service whose last report is older than C{service_down_time} counts as
down.  Any member of a project may know which zones exist and whether
they are available; which hosts and services are behind them is for
superusers only.  Both HTTP APIs reach the services table only through
L{HostAPI}.
"""

import attr
from twisted.internet.defer import inlineCallbacks

from nova.db.services import utcnow
from nova.exception import NotAuthorized


@attr.s(frozen=True)
class ServiceStatus:
    """
    A service and whether it reports.

    @ivar service: its L{nova.db.records.ServiceRecord}.
    @ivar up: whether its last report is younger than
        C{service_down_time}.
    """

    service = attr.ib()
    up = attr.ib()


@attr.s(frozen=True)
class AvailabilityZone:
    """
    @ivar name: the zone's name.
    @ivar available: whether an enabled service in it reports.
    @ivar services: its L{ServiceStatus}es, by host and binary, for
        superusers; empty for others.
    """

    name = attr.ib()
    available = attr.ib()
    services = attr.ib(default=())


@attr.s(frozen=True)
class HostStatus:
    """
    @ivar host: the host's name.
    @ivar zone: the availability zone of its first service.
    @ivar services: a L{dict} from each of its services' binaries
        (C{nova-compute}) to whether it reports.
    @ivar instanceCount: how many instances live on it.
    """

    host = attr.ib()
    zone = attr.ib()
    services = attr.ib()
    instanceCount = attr.ib()


def _superuser(context, what):
    if not context.isAdmin:
        raise NotAuthorized(f"only superusers may see {what}")


class HostAPI:
    """
    Read the availability zones and hosts of the cloud.

    @ivar db: the L{nova.db.api.NovaDatabase} (its services and instances).
    @ivar clock: an L{IReactorTime}: the time heartbeats are compared with.
    @ivar serviceDownTime: seconds after its last report when a service
        counts as down (C{--service_down_time}).
    """

    def __init__(self, db, clock, serviceDownTime):
        self.db = db
        self.clock = clock
        self.serviceDownTime = serviceDownTime

    def _statuses(self, services):
        now = utcnow(self.clock)
        return [ServiceStatus(s, s.isUp(now, self.serviceDownTime)) for s in services]

    @inlineCallbacks
    def zoneNames(self, context, binary=None, enabledOnly=False):
        """
        The availability zones the services table names, to check a zone
        a request asks for.

        @param binary: only zones with a service of this binary
            (C{nova-volume}).
        @param enabledOnly: only zones with an enabled such service.
        @return: L{Deferred} firing with a L{set} of zone names.
        """
        services = yield self.db.services.list(binary=binary)
        return {
            service.availability_zone
            for service in services
            if not (enabledOnly and service.disabled)
        }

    @inlineCallbacks
    def describeAvailabilityZones(self, context):
        """
        Every zone the services table names, in the order its services
        are listed (by host and binary); a zone is available while an
        enabled service in it reports.

        @return: L{Deferred} firing with a L{list} of L{AvailabilityZone}s,
            with their services for superusers.
        """
        services = yield self.db.services.list()
        zones = {}
        for status in self._statuses(services):
            zones.setdefault(status.service.availability_zone, []).append(status)
        return [
            AvailabilityZone(
                name,
                any(s.up and not s.service.disabled for s in statuses),
                tuple(statuses) if context.isAdmin else (),
            )
            for name, statuses in zones.items()
        ]

    @inlineCallbacks
    def describeHosts(self, context, host=None):
        """
        The hosts in the services table (superusers only): their
        services' states and their instance counts.

        @param host: only this host.
        @return: L{Deferred} firing with a L{list} of L{HostStatus}es, by
            host.
        @raise NotAuthorized: (in the L{Deferred}) for other users.
        """
        _superuser(context, "hosts")
        services = yield self.db.services.list(host=host)
        hosts = {}
        for status in self._statuses(services):
            service = status.service
            entry = hosts.setdefault(service.host, (service.availability_zone, {}))
            entry[1][service.binary] = status.up
        result = []
        for name, (zone, binaries) in hosts.items():
            instances = yield self.db.instances.list(host=name)
            result.append(HostStatus(name, zone, binaries, len(instances)))
        return result
