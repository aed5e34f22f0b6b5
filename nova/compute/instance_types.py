# -*- test-case-name: tests.compute.test_instance_types -*-
"""
Instance types: the sizes instances come in.  They live in the database
(table C{instance_types}, five defaults from C{m1.tiny} to C{m1.xlarge});
these functions check what operators and users ask for.
"""

import re

from nova.compute.errors import InstanceTypeNotFound, InvalidParameterValue

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def _integer(name, value, minimum):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"{name} must be an integer, not {value!r}")
    if isinstance(value, float) and value != number:
        raise InvalidParameterValue(f"{name} must be an integer, not {value!r}")
    if number < minimum:
        raise InvalidParameterValue(f"{name} must be at least {minimum}, not {number}")
    return number


def createInstanceType(db, name, memoryMb, vcpus, localGb, flavorId=None, swap=0,
                       rxtxQuota=0, rxtxCap=0):
    """
    Add an instance type after checking its values.

    @param memoryMb: memory in MiB, at least 1.
    @param vcpus: virtual CPUs, at least 1.
    @param localGb: local disk in GiB, 0 or more.
    @param flavorId: its number in the OpenStack API, or C{None} for the
        next free one.
    @param swap: MB of swap disk, 0 or more.
    @param rxtxQuota: network transfer quota, 0 (unlimited) or more.
    @param rxtxCap: network transfer cap, 0 (unlimited) or more.
    @return: L{Deferred} firing with the L{nova.db.records.InstanceTypeRecord}.
    @raise InvalidParameterValue: for a bad name or number.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidParameterValue(f"invalid instance type name {name!r}")
    memoryMb = _integer("memory_mb", memoryMb, 1)
    vcpus = _integer("vcpus", vcpus, 1)
    localGb = _integer("local_gb", localGb, 0)
    if flavorId is not None:
        flavorId = _integer("flavorid", flavorId, 1)
    swap = _integer("swap", swap, 0)
    rxtxQuota = _integer("rxtx_quota", rxtxQuota, 0)
    rxtxCap = _integer("rxtx_cap", rxtxCap, 0)
    return db.instanceTypes.create(
        name, memoryMb, vcpus, localGb, flavorId, swap, rxtxQuota, rxtxCap
    )


def getInstanceType(db, config, name=None):
    """
    @param name: the type's name, or C{None} for C{--default_instance_type}.
    @return: L{Deferred} firing with the L{nova.db.records.InstanceTypeRecord};
        failing with L{InstanceTypeNotFound} (EC2: InvalidParameterValue).
    """
    if name is None:
        name = config.default_instance_type
    d = db.instanceTypes.get(name)

    def notFound(failure):
        failure.trap(InstanceTypeNotFound)
        raise InstanceTypeNotFound(f"Invalid value '{name}' for InstanceType.")

    return d.addErrback(notFound)


def listInstanceTypes(db):
    """
    @return: L{Deferred} firing with every instance type, by flavor id.
    """
    return db.instanceTypes.list()


def deleteInstanceType(db, name, purge=False):
    """
    @param purge: remove the row instead of marking the type deleted.
    @return: L{Deferred} firing with the removed type; failing with
        L{InstanceTypeNotFound}.
    """
    return db.instanceTypes.delete(name, purge)
