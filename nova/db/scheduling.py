# -*- test-case-name: tests.scheduler.test_drivers -*-
"""
The queries schedulers make on every pick, written to stay cheap with
thousands of hosts: they read plain columns, never whole rows.
"""

from nova.db.models import Service
from nova.db.store import readOnly


class SchedulingStore:
    """
    Read-only queries over the services table for schedulers.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def liveHosts(self, topic, upSince, zone=None, includeDisabled=False):
        """
        @param upSince: a naive UTC L{datetime}: only services that
            reported after it count as up.
        @param zone: only services of this availability zone, if given.
        @param includeDisabled: also hosts whose service is disabled.
        @return: L{Deferred} firing with a L{list} of C{(host, zone)} of
            the services of C{topic} that are up, sorted by host.
        """
        return self.transactor.transact(
            self.thd_liveHosts, topic, upSince, zone, includeDisabled
        )

    @readOnly
    def thd_liveHosts(self, store, topic, upSince, zone, includeDisabled):
        conditions = [Service.topic == topic, Service.updated_at > upSince]
        if zone is not None:
            conditions.append(Service.availability_zone == zone)
        if not includeDisabled:
            conditions.append(Service.disabled == False)  # noqa: E712
        rows = store.find((Service.host, Service.availability_zone), *conditions)
        return sorted(set(rows))
