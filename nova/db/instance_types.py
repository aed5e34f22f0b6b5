# -*- test-case-name: tests.compute.test_instance_types -*-
"""
The instance_types table: the sizes instances come in (C{m1.small} ...).
"""

from nova import exception
from nova.db.models import InstanceType
from nova.db.records import InstanceTypeRecord
from nova.db.services import utcnow
from nova.db.store import readOnly


class InstanceTypeNotFound(exception.NotFound):
    """No such instance type."""

    code = "InstanceTypeNotFound"
    ec2Code = "InvalidParameterValue"


class InstanceTypeExists(exception.Invalid):
    """An instance type of that name or flavor id exists."""

    code = "InstanceTypeExists"


class InstanceTypeStore:
    """
    Rows of the instance_types table.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def create(self, name, memoryMb, vcpus, localGb, flavorId=None, swap=0, rxtxQuota=0,
               rxtxCap=0):
        """
        Add an instance type.

        @param flavorId: its number in the OpenStack API; by default one
            more than the largest in use.
        @param swap: MB of swap disk.
        @param rxtxQuota: network transfer quota (0: unlimited).
        @param rxtxCap: network transfer cap (0: unlimited).
        @return: L{Deferred} firing with the new L{InstanceTypeRecord};
            failing with L{InstanceTypeExists} if the name or flavor id is
            taken.
        """
        return self.transactor.transact(
            self.thd_create, name, memoryMb, vcpus, localGb, flavorId, utcnow(self.clock),
            swap, rxtxQuota, rxtxCap,
        )

    def thd_create(self, store, name, memoryMb, vcpus, localGb, flavorId, now, swap=0,
                   rxtxQuota=0, rxtxCap=0):
        existing = store.find(InstanceType, InstanceType.name == name).one()
        if existing is not None:
            if existing.deleted:
                raise InstanceTypeExists(
                    f"instance type {name} exists (deleted: purge it first)"
                )
            raise InstanceTypeExists(f"instance type {name} exists")
        if flavorId is None:
            largest = store.find(InstanceType).max(InstanceType.flavorid)
            flavorId = (largest or 0) + 1
        elif store.find(InstanceType, InstanceType.flavorid == flavorId).one() is not None:
            raise InstanceTypeExists(f"flavor id {flavorId} is taken")
        row = InstanceType()
        row.name = name
        row.memory_mb, row.vcpus, row.local_gb = memoryMb, vcpus, localGb
        row.flavorid = flavorId
        row.swap, row.rxtx_quota, row.rxtx_cap = swap, rxtxQuota, rxtxCap
        row.deleted = False
        row.created_at = now
        store.add(row)
        store.flush()
        return InstanceTypeRecord.fromModel(row)

    def get(self, name):
        """
        @return: L{Deferred} firing with the L{InstanceTypeRecord} named
            C{name}; failing with L{InstanceTypeNotFound}.
        """
        return self.transactor.transact(self.thd_get, name)

    @readOnly
    def thd_get(self, store, name):
        row = store.find(
            InstanceType, InstanceType.name == name, InstanceType.deleted == False  # noqa: E712
        ).one()
        if row is None:
            raise InstanceTypeNotFound(f"no instance type named {name}")
        return InstanceTypeRecord.fromModel(row)

    def getByFlavorId(self, flavorId):
        """
        @return: L{Deferred} firing with the L{InstanceTypeRecord} of that
            flavor id; failing with L{InstanceTypeNotFound}.
        """
        return self.transactor.transact(self.thd_getByFlavorId, flavorId)

    @readOnly
    def thd_getByFlavorId(self, store, flavorId):
        row = store.find(
            InstanceType,
            InstanceType.flavorid == flavorId,
            InstanceType.deleted == False,  # noqa: E712
        ).one()
        if row is None:
            raise InstanceTypeNotFound(f"no instance type with flavor id {flavorId}")
        return InstanceTypeRecord.fromModel(row)

    def list(self, includeDeleted=False):
        """
        @param includeDeleted: whether to include the types marked deleted.
        @return: L{Deferred} firing with every L{InstanceTypeRecord}, by
            flavor id.
        """
        return self.transactor.transact(self.thd_list, includeDeleted)

    @readOnly
    def thd_list(self, store, includeDeleted=False):
        conditions = [] if includeDeleted else [InstanceType.deleted == False]  # noqa: E712
        rows = store.find(InstanceType, *conditions).order_by(InstanceType.flavorid)
        return [InstanceTypeRecord.fromModel(row) for row in rows]

    def delete(self, name, purge=False):
        """
        Remove an instance type.  Instances of that type keep their sizes
        (each instance row holds its own copy).

        @param purge: if false, mark the type deleted (hidden from
            L{get}, L{getByFlavorId} and L{list}, its name and flavor id
            still taken); if true, remove its row (deleted or not).
        @return: L{Deferred} firing with the removed L{InstanceTypeRecord};
            failing with L{InstanceTypeNotFound}.
        """
        return self.transactor.transact(self.thd_delete, name, purge)

    def thd_delete(self, store, name, purge=False):
        row = store.find(InstanceType, InstanceType.name == name).one()
        if row is None or (row.deleted and not purge):
            raise InstanceTypeNotFound(f"no instance type named {name}")
        record = InstanceTypeRecord.fromModel(row)
        if purge:
            store.remove(row)
        else:
            row.deleted = True
            store.flush()
        return record
