# -*- test-case-name: tests.db.test_services -*-
"""
Frozen records: the only things L{nova.db} components return.  Each has the
columns of its table as attributes, named as the columns are.
"""

import attr


def _fromModel(cls, obj):
    return cls(**{f.name: getattr(obj, f.name) for f in attr.fields(cls)})


def findRecords(store, recordClass, model, *conditions, orderBy=()):
    """
    Read records straight from their columns, without making a Storm
    object (and its cache entry) per row: what the hot reads use.

    @param recordClass: a record class whose fields are all columns of
        C{model}.
    @param orderBy: Storm expressions to order the rows by.
    @return: a L{list} of C{recordClass} instances.
    """
    columns = tuple(getattr(model, field.name) for field in attr.fields(recordClass))
    rows = store.find(columns, *conditions)
    if orderBy:
        rows = rows.order_by(*orderBy)
    return [recordClass(*row) for row in rows]


@attr.s(frozen=True)
class ServiceRecord:
    id = attr.ib()
    host = attr.ib()
    binary = attr.ib()
    topic = attr.ib()
    availability_zone = attr.ib()
    report_count = attr.ib()
    disabled = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()
    #: What its last heartbeat said it could not reach (C{"message
    #: broker"}), or C{None}.
    lost = attr.ib(default=None)

    fromModel = classmethod(_fromModel)

    def isUp(self, now, serviceDownTime):
        """
        @param now: the current UTC time, a naive L{datetime.datetime}.
        @param serviceDownTime: seconds after the last report when a service
            counts as down.
        @return: C{True} while the last report is younger than
            C{serviceDownTime}.
        """
        return (now - self.updated_at).total_seconds() < serviceDownTime


@attr.s(frozen=True)
class InstanceRecord:
    id = attr.ib()
    uuid = attr.ib()
    reservation_id = attr.ib()
    project_id = attr.ib()
    user_id = attr.ib()
    image_id = attr.ib()
    kernel_id = attr.ib()
    ramdisk_id = attr.ib()
    instance_type = attr.ib()
    vcpus = attr.ib()
    memory_mb = attr.ib()
    local_gb = attr.ib()
    launch_index = attr.ib()
    hostname = attr.ib()
    display_name = attr.ib()
    key_name = attr.ib()
    key_data = attr.ib()
    user_data = attr.ib()
    host = attr.ib()
    availability_zone = attr.ib()
    state = attr.ib()
    power_state = attr.ib()
    state_description = attr.ib()
    mac_address = attr.ib()
    fixed_ip = attr.ib()
    security_groups = attr.ib()
    disable_api_termination = attr.ib()
    shutdown_behavior = attr.ib()
    locked = attr.ib()
    launched_at = attr.ib()
    terminated_at = attr.ib()
    deleted = attr.ib()
    created_at = attr.ib()
    updated_at = attr.ib()
    #: The type before a resize that awaits confirmation (patch 15).
    old_instance_type = attr.ib(default=None)
    display_description = attr.ib(default=None)
    #: Whether it asked for a config drive, and the JSON list of its
    #: personality files (C{path}, base64 C{contents}) (patch 17).
    config_drive = attr.ib(default=None)
    personality = attr.ib(default=None, repr=False)

    fromModel = classmethod(_fromModel)

    @property
    def ec2Id(self):
        """
        @return: the EC2 instance id, C{i-} and eight hex digits.
        """
        return "i-%08x" % (self.id,)

    @property
    def securityGroups(self):
        """
        @return: the names of the instance's security groups, a L{tuple}.
        """
        if not self.security_groups:
            return ()
        return tuple(self.security_groups.split(","))


@attr.s(frozen=True)
class InstanceTypeRecord:
    id = attr.ib()
    name = attr.ib()
    memory_mb = attr.ib()
    vcpus = attr.ib()
    local_gb = attr.ib()
    flavorid = attr.ib()
    created_at = attr.ib()
    swap = attr.ib(default=0)
    rxtx_quota = attr.ib(default=0)
    rxtx_cap = attr.ib(default=0)
    deleted = attr.ib(default=False)

    fromModel = classmethod(_fromModel)


@attr.s(frozen=True)
class ReservationRecord:
    id = attr.ib()
    reservation_id = attr.ib()
    project_id = attr.ib()
    user_id = attr.ib()
    client_token = attr.ib()
    request_hash = attr.ib()
    created_at = attr.ib()

    fromModel = classmethod(_fromModel)
