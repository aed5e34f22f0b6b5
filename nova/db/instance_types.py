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

    def create(self, name, memoryMb, vcpus, localGb, flavorId=None):
        """
        Add an instance type.

        @param flavorId: its number in the OpenStack API; by default one
            more than the largest in use.
        @return: L{Deferred} firing with the new L{InstanceTypeRecord};
            failing with L{InstanceTypeExists} if the name or flavor id is
            taken.
        """
        return self.transactor.transact(
            self.thd_create, name, memoryMb, vcpus, localGb, flavorId, utcnow(self.clock)
        )

    def thd_create(self, store, name, memoryMb, vcpus, localGb, flavorId, now):
        if store.find(InstanceType, InstanceType.name == name).one() is not None:
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
        row = store.find(InstanceType, InstanceType.name == name).one()
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
        row = store.find(InstanceType, InstanceType.flavorid == flavorId).one()
        if row is None:
            raise InstanceTypeNotFound(f"no instance type with flavor id {flavorId}")
        return InstanceTypeRecord.fromModel(row)

    def list(self):
        """
        @return: L{Deferred} firing with every L{InstanceTypeRecord}, by
            flavor id.
        """
        return self.transactor.transact(self.thd_list)

    @readOnly
    def thd_list(self, store):
        rows = store.find(InstanceType).order_by(InstanceType.flavorid)
        return [InstanceTypeRecord.fromModel(row) for row in rows]

    def delete(self, name):
        """
        Remove an instance type.  Instances of that type keep their sizes
        (each instance row holds its own copy).

        @return: L{Deferred} firing with the removed L{InstanceTypeRecord};
            failing with L{InstanceTypeNotFound}.
        """
        return self.transactor.transact(self.thd_delete, name)

    def thd_delete(self, store, name):
        row = store.find(InstanceType, InstanceType.name == name).one()
        if row is None:
            raise InstanceTypeNotFound(f"no instance type named {name}")
        record = InstanceTypeRecord.fromModel(row)
        store.remove(row)
        return record
