# -*- test-case-name: tests.db.test_services -*-
"""
Frozen records: the only things L{nova.db} components return.  Each has the
columns of its table as attributes, named as the columns are.
"""

import datetime
import functools

import attr
from storm.expr import And, Select, SQLRaw, State, Undef
from storm.variables import BoolVariable, DateTimeVariable, IntVariable, UnicodeVariable


def _fromModel(cls, obj):
    return cls(**{f.name: getattr(obj, f.name) for f in attr.fields(cls)})


def _fromDatabase(column):
    """
    @return: a function from one of C{column}'s values as the database
        driver gives it (not L{None}) to the value Storm's variable of the
        column would hold, or L{None} if they are the same.
    """
    variable = column.variable_factory()
    kind = type(variable)
    if kind is UnicodeVariable:
        return None
    if kind is IntVariable:
        return int
    if kind is BoolVariable:
        return bool
    if kind is DateTimeVariable and variable._tzinfo is None:
        return _naiveDateTime

    def convert(value):
        return column.variable_factory(value=value, from_db=True).get()

    return convert


def _naiveDateTime(value):
    # SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]" text; the others give
    # datetimes.
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return value


@functools.lru_cache(maxsize=None)
def _readPlan(compile, recordClass, model):
    """
    How L{findRecords} reads C{recordClass} from C{model}'s table with a
    database whose statements C{compile} makes: the column list, compiled
    once, and the conversion of each column that needs one.
    """
    columns = [getattr(model, field.name) for field in attr.fields(recordClass)]
    converters = tuple(
        (index, convert)
        for index, convert in enumerate(map(_fromDatabase, columns))
        if convert is not None
    )
    return SQLRaw(compile(columns, State())), converters


def findRecords(store, recordClass, model, *conditions, orderBy=()):
    """
    Read records straight from their columns: one query whose rows are
    converted column by column (Storm's conversions, without its variable
    and cache entry per value), as the hot reads need.

    @param recordClass: a record class whose fields are all columns of
        C{model}.
    @param orderBy: Storm expressions to order the rows by.
    @return: a L{list} of C{recordClass} instances.
    """
    columns, converters = _readPlan(
        store.get_database().connection_factory.compile, recordClass, model
    )
    where = And(*conditions) if conditions else Undef
    rows = store.execute(
        Select(columns, where, tables=[model], order_by=orderBy or Undef)
    ).get_all()
    records = []
    for row in rows:
        row = list(row)
        for index, convert in converters:
            value = row[index]
            if value is not None:
                row[index] = convert(value)
        records.append(recordClass(*row))
    return records


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
