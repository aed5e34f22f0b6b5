# -*- test-case-name: tests.db.test_services -*-
"""
The services table: which daemon runs where, and when it last reported.
"""

from datetime import datetime, timezone

from storm.expr import And

from nova import exception
from nova.db.models import Service
from nova.db.records import ServiceRecord
from nova.db.store import readOnly


def utcnow(clock):
    """
    @return: the clock's time as a naive UTC L{datetime}, as stored.
    """
    return datetime.fromtimestamp(clock.seconds(), timezone.utc).replace(tzinfo=None)


class ServiceStore:
    """
    Rows of the services table.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def register(self, host, binary, topic, zone, disabled=False):
        """
        Create the row for C{(host, binary)}, or refresh its topic and zone
        if it exists (its C{disabled} flag is kept; C{disabled} applies to
        a new row only).

        @return: L{Deferred} firing with a L{ServiceRecord}.
        """
        return self.transactor.transact(
            self.thd_register, host, binary, topic, zone, disabled, utcnow(self.clock)
        )

    def thd_register(self, store, host, binary, topic, zone, disabled, now):
        row = store.find(Service, host=host, binary=binary).one()
        if row is None:
            row = Service()
            row.host, row.binary = host, binary
            row.report_count = 0
            row.disabled = disabled
            row.created_at = now
            store.add(row)
        row.topic, row.availability_zone = topic, zone
        row.updated_at = now
        store.flush()
        return ServiceRecord.fromModel(row)

    def report(self, serviceId, lost=None):
        """
        Record a heartbeat.

        @param lost: what the service cannot reach (C{"message broker"}),
            or L{None}.
        @return: L{Deferred} firing with the updated L{ServiceRecord};
            failing with L{nova.exception.ServiceNotFound} if the row is
            gone.
        """
        return self.transactor.transact(self.thd_report, serviceId, utcnow(self.clock), lost)

    def thd_report(self, store, serviceId, now, lost=None):
        row = store.get(Service, serviceId)
        if row is None:
            raise exception.ServiceNotFound(f"service {serviceId} is not registered")
        row.report_count += 1
        row.updated_at = now
        row.lost = lost
        store.flush()
        return ServiceRecord.fromModel(row)

    def list(self, host=None, binary=None, topic=None):
        """
        @return: L{Deferred} firing with a L{list} of L{ServiceRecord},
            ordered by host and binary, filtered by the given fields.
        """
        return self.transactor.transact(self.thd_list, host, binary, topic)

    @readOnly
    def thd_list(self, store, host, binary, topic):
        conditions = []
        if host is not None:
            conditions.append(Service.host == host)
        if binary is not None:
            conditions.append(Service.binary == binary)
        if topic is not None:
            conditions.append(Service.topic == topic)
        rows = store.find(Service, And(*conditions) if conditions else True)
        rows = rows.order_by(Service.host, Service.binary)
        return [ServiceRecord.fromModel(row) for row in rows]

    def setDisabled(self, host, binary, disabled):
        """
        Enable or disable a service: schedulers skip disabled services.

        @return: L{Deferred} firing with the updated L{ServiceRecord};
            failing with L{nova.exception.ServiceNotFound}.
        """
        return self.transactor.transact(self.thd_setDisabled, host, binary, disabled)

    def thd_setDisabled(self, store, host, binary, disabled):
        row = store.find(Service, host=host, binary=binary).one()
        if row is None:
            raise exception.ServiceNotFound(f"no service {binary} on host {host}")
        row.disabled = disabled
        store.flush()
        return ServiceRecord.fromModel(row)

    def delete(self, serviceId):
        """
        Remove a service's row.

        @return: L{Deferred} firing with C{None}.
        """
        return self.transactor.transact(self.thd_delete, serviceId)

    def thd_delete(self, store, serviceId):
        row = store.get(Service, serviceId)
        if row is not None:
            store.remove(row)
