# -*- test-case-name: tests.db.test_services,tests.compute.test_db -*-
"""
The instances table, and the reservations (RunInstances requests) that
group instances.
"""

import uuid

import attr

from storm.expr import Or, Update

from nova import exception
from nova.db.models import HostUsage, Instance, ProjectUsage, Reservation
from nova.db.records import InstanceRecord, ReservationRecord, findRecords
from nova.db.services import utcnow
from nova.db.store import CHUNK, chunks, dialect, readOnly


class InstanceNotFound(exception.NotFound):
    """Instance not found."""

    code = "InstanceNotFound"
    ec2Code = "InvalidInstanceID.NotFound"


class IncorrectInstanceState(exception.Invalid):
    """The instance is not in a state that allows the request."""

    code = "IncorrectInstanceState"
    ec2Code = "IncorrectInstanceState"


class IdempotentParameterMismatch(exception.Invalid):
    """The client token was used before with different parameters."""

    code = "IdempotentParameterMismatch"
    ec2Code = "IdempotentParameterMismatch"


#: The state of an instance that is gone (but still visible for a while).
TERMINATED = "terminated"

#: The state of an instance whose guest is being destroyed.
SHUTTING_DOWN = "shutting-down"

#: What a shutdown from inside the guest does (C{shutdown_behavior}): the
#: instance stops (the default) or is terminated.
STOP_ON_SHUTDOWN = "stop"
TERMINATE_ON_SHUTDOWN = "terminate"
SHUTDOWN_BEHAVIORS = (STOP_ON_SHUTDOWN, TERMINATE_ON_SHUTDOWN)

_CREATE_FIELDS = frozenset(a.name for a in InstanceRecord.__attrs_attrs__) - {
    "id",
    "uuid",
    "created_at",
    "updated_at",
    "deleted",
}


def _checkFields(fields, allowed):
    unknown = set(fields) - allowed
    if unknown:
        raise exception.Invalid(f"unknown instance fields {sorted(unknown)}")


def _newRow(fields, now):
    row = Instance()
    row.uuid = str(uuid.uuid4())
    row.state = "pending"
    row.power_state = 0
    row.launch_index = 0
    row.disable_api_termination = False
    row.shutdown_behavior = STOP_ON_SHUTDOWN
    row.locked = False
    row.deleted = False
    for name, value in fields.items():
        setattr(row, name, value)
    row.created_at = row.updated_at = now
    return row


def _thd_read(store, instanceId):
    """
    @return: the L{InstanceRecord} of the instance C{instanceId} (deleted
        or not), or L{None}.
    """
    found = findRecords(store, InstanceRecord, Instance, Instance.id == instanceId)
    return found[0] if found else None


#: The usage tables (schema patch 19) and the instance column each counts
#: by.  Sorted by table, the order in which L{_thd_count} writes them, so
#: that concurrent transactions take their rows' locks in one order.
_USAGE_TABLES = (("host_usage", "host"), ("project_usage", "project_id"))

#: Adds C{(instances, cores, ram)} to a usage table's row, making it when
#: it is missing, in one statement.
_ADD_USAGE = {
    "sqlite": (
        "INSERT INTO {table} ({key}, instances, cores, ram) VALUES (?, ?, ?, ?) "
        "ON CONFLICT ({key}) DO UPDATE SET instances = {table}.instances + "
        "excluded.instances, cores = {table}.cores + excluded.cores, "
        "ram = {table}.ram + excluded.ram"
    ),
    "mysql": (
        "INSERT INTO {table} ({key}, instances, cores, ram) VALUES (?, ?, ?, ?) "
        "ON DUPLICATE KEY UPDATE instances = instances + VALUES(instances), "
        "cores = cores + VALUES(cores), ram = ram + VALUES(ram)"
    ),
}
_ADD_USAGE["postgres"] = _ADD_USAGE["sqlite"]

#: The instance columns that decide what it counts for in the usage tables.
_COUNTED_FIELDS = frozenset({"deleted", "state", "host", "project_id", "vcpus", "memory_mb"})


def _uses(instance):
    """
    @param instance: an L{InstanceRecord} or an L{Instance} row, or
        C{None} for none.
    @return: C{(instances, cores, ram)} that it counts for: nothing once
        it is terminated or deleted.
    """
    if instance is None or instance.deleted or instance.state == TERMINATED:
        return (0, 0, 0)
    return (1, instance.vcpus or 0, instance.memory_mb or 0)


def _thd_count(store, changes):
    """
    Add to the usage tables what C{changes} make, in the caller's
    transaction: one statement per project and host whose usage changes,
    none when nothing counted changes.

    @param changes: C{(before, after)} pairs of an instance's record or
        row, C{None} before it is made or after it is removed.
    """
    deltas = {}
    for before, after in changes:
        for sign, instance in ((-1, before), (1, after)):
            uses = _uses(instance)
            if not uses[0]:
                continue
            for table, column in _USAGE_TABLES:
                key = getattr(instance, column)
                if key is not None:
                    total = deltas.setdefault((table, column, key), [0, 0, 0])
                    for i, value in enumerate(uses):
                        total[i] += sign * value
    statement = None
    for (table, column, key), total in sorted(deltas.items()):
        if any(total):
            statement = statement or _ADD_USAGE[dialect(store)]
            store.execute(statement.format(table=table, key=column), (key, *total))


def _thd_set(store, current, fields, now):
    """
    Write C{fields} and C{updated_at} to the instance C{current} was read
    from, in one statement, each value checked by its column's type as
    Storm's objects check it.

    @param current: the instance's L{InstanceRecord}, read in this
        transaction.
    @return: its L{InstanceRecord} as written.
    """
    variables = {
        getattr(Instance, name): getattr(Instance, name).variable_factory(value=value)
        for name, value in dict(fields, updated_at=now).items()
    }
    store.execute(Update(variables, Instance.id == current.id, Instance))
    written = attr.evolve(
        current, **{column.name: variable.get() for column, variable in variables.items()}
    )
    if not _COUNTED_FIELDS.isdisjoint(fields):
        _thd_count(store, [(current, written)])
    return written


class InstanceStore:
    """
    Rows of the instances and reservations tables.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def create(self, **fields):
        """
        Add an instance.  C{fields} are column values; C{state} defaults to
        C{pending} and C{power_state} to 0.

        @return: L{Deferred} firing with the new L{InstanceRecord}.
        """
        _checkFields(fields, _CREATE_FIELDS)
        return self.transactor.transact(self.thd_create, fields, utcnow(self.clock))

    def thd_create(self, store, fields, now):
        row = _newRow(fields, now)
        store.add(row)
        store.flush()
        _thd_count(store, [(None, row)])
        return InstanceRecord.fromModel(row)

    def createReservation(
        self, projectId, userId, clientToken, requestHash, instances, newReservationId
    ):
        """
        Add a reservation and its instances in one transaction, unless the
        project already made a reservation with C{clientToken}.

        @param clientToken: the client's idempotency token, or C{None}.
        @param requestHash: a digest of the request's parameters: a token
            used again with a different digest is refused.
        @param instances: a L{list} of L{dict}s of instance column values
            (C{reservation_id}, C{project_id} and C{user_id} are set here;
            C{hostname} defaults to the EC2 id).
        @param newReservationId: called with no arguments, returns a
            candidate reservation id; called again while the id is taken.
        @return: L{Deferred} firing with C{(reservation, instances,
            created)}: a L{ReservationRecord}, a L{list} of
            L{InstanceRecord}s by launch index, and whether they are new.
            Failing with L{IdempotentParameterMismatch}.
        """
        for fields in instances:
            _checkFields(fields, _CREATE_FIELDS)
        return self.transactor.transact(
            self.thd_createReservation,
            projectId,
            userId,
            clientToken,
            requestHash,
            instances,
            newReservationId,
            utcnow(self.clock),
        )

    def thd_createReservation(
        self, store, projectId, userId, clientToken, requestHash, instances, newReservationId, now
    ):
        if clientToken is not None:
            found = self.thd_findReservation(store, projectId, clientToken)
            if found is not None:
                reservation, records = found
                if reservation.request_hash != requestHash:
                    raise IdempotentParameterMismatch(
                        f"client token {clientToken!r} was used with different parameters"
                    )
                return reservation, records, False
        for _ in range(20):
            reservationId = newReservationId()
            if store.find(Reservation, Reservation.reservation_id == reservationId).is_empty():
                break
        else:
            raise exception.DatabaseError("no free reservation id")
        reservation = Reservation()
        reservation.reservation_id = reservationId
        reservation.project_id = projectId
        reservation.user_id = userId
        reservation.client_token = clientToken
        reservation.request_hash = requestHash
        reservation.created_at = now
        store.add(reservation)
        rows = []
        for fields in instances:
            row = _newRow(fields, now)
            row.reservation_id = reservationId
            row.project_id = projectId
            row.user_id = userId
            store.add(row)
            rows.append(row)
        store.flush()
        for row in rows:
            if not row.hostname:
                row.hostname = "i-%08x" % (row.id,)
        store.flush()
        _thd_count(store, [(None, row) for row in rows])
        return (
            ReservationRecord.fromModel(reservation),
            [InstanceRecord.fromModel(row) for row in rows],
            True,
        )

    def findReservation(self, projectId, clientToken):
        """
        @return: L{Deferred} firing with C{(reservation, instances)} of the
            project's reservation made with C{clientToken}, or C{None}.
        """
        return self.transactor.transact(self.thd_findReservation, projectId, clientToken)

    @readOnly
    def thd_findReservation(self, store, projectId, clientToken):
        reservation = store.find(
            Reservation,
            Reservation.project_id == projectId,
            Reservation.client_token == clientToken,
        ).one()
        if reservation is None:
            return None
        rows = store.find(
            Instance, Instance.reservation_id == reservation.reservation_id
        ).order_by(Instance.launch_index, Instance.id)
        return (
            ReservationRecord.fromModel(reservation),
            [InstanceRecord.fromModel(row) for row in rows],
        )

    def thd_abandonReservation(self, store, reservationId):
        """
        Remove a reservation and its instances, which were never sent
        anywhere (their request failed before any was scheduled): the
        request made nothing, and a retry with its client token makes
        them anew.  The caller removes what refers to the instances
        first (security group memberships), in the same transaction.

        @return: the ids of the instances removed.
        """
        rows = list(store.find(Instance, Instance.reservation_id == reservationId))
        ids = [row.id for row in rows]
        _thd_count(store, [(row, None) for row in rows])
        for row in rows:
            store.remove(row)
        store.find(Reservation, Reservation.reservation_id == reservationId).remove()
        store.flush()
        return ids

    def get(self, instanceId):
        """
        @return: L{Deferred} firing with the L{InstanceRecord}; failing with
            L{InstanceNotFound}.
        """
        return self.transactor.transact(self.thd_get, instanceId)

    @readOnly
    def thd_get(self, store, instanceId):
        found = _thd_read(store, instanceId)
        if found is None:
            raise InstanceNotFound(f"instance {instanceId} not found")
        return found

    def list(
        self,
        projectId=None,
        host=None,
        includeDeleted=False,
        instanceIds=None,
        reservationId=None,
        states=None,
        terminatedSince=None,
    ):
        """
        @param instanceIds: only these ids.
        @param states: only instances in one of these states.
        @param terminatedSince: a naive UTC L{datetime}: leave out
            terminated instances that were terminated before it.
        @return: L{Deferred} firing with a L{list} of L{InstanceRecord} by id.
        """
        return self.transactor.transact(
            self.thd_list,
            projectId,
            host,
            includeDeleted,
            None if instanceIds is None else list(instanceIds),
            reservationId,
            None if states is None else list(states),
            terminatedSince,
        )

    @readOnly
    def thd_list(
        self,
        store,
        projectId,
        host,
        includeDeleted,
        instanceIds=None,
        reservationId=None,
        states=None,
        terminatedSince=None,
    ):
        conditions = []
        if projectId is not None:
            conditions.append(Instance.project_id == projectId)
        if host is not None:
            conditions.append(Instance.host == host)
        if not includeDeleted:
            conditions.append(Instance.deleted == False)  # noqa: E712
        if instanceIds is not None:
            if len(instanceIds) > CHUNK:
                found = []
                for part in chunks(sorted(instanceIds)):
                    found.extend(
                        self.thd_list(
                            store, projectId, host, includeDeleted, part, reservationId,
                            states, terminatedSince,
                        )
                    )
                return found
            if not instanceIds:
                return []
            conditions.append(Instance.id.is_in(instanceIds))
        if reservationId is not None:
            conditions.append(Instance.reservation_id == reservationId)
        if states is not None:
            conditions.append(Instance.state.is_in(states))
        if terminatedSince is not None:
            conditions.append(
                Or(
                    Instance.state != TERMINATED,
                    Instance.terminated_at == None,  # noqa: E711
                    Instance.terminated_at >= terminatedSince,
                )
            )
        return findRecords(store, InstanceRecord, Instance, *conditions, orderBy=(Instance.id,))

    def update(self, instanceId, **fields):
        """
        Change columns of one instance.

        @return: L{Deferred} firing with the updated L{InstanceRecord};
            failing with L{InstanceNotFound}.
        """
        _checkFields(fields, _CREATE_FIELDS | {"deleted"})
        return self.transactor.transact(
            self.thd_update, instanceId, fields, utcnow(self.clock)
        )

    def thd_update(self, store, instanceId, fields, now):
        current = _thd_read(store, instanceId)
        if current is None:
            raise InstanceNotFound(f"instance {instanceId} not found")
        return _thd_set(store, current, fields, now)

    def transition(self, instanceId, fromStates, toState, action=None, **fields):
        """
        Move an instance to C{toState} (and set C{fields}) if, and only if,
        its state is one of C{fromStates}: a compare-and-set in one
        transaction.

        @param action: what is being done, for the error message.
        @return: L{Deferred} firing with the updated L{InstanceRecord};
            failing with L{IncorrectInstanceState} or L{InstanceNotFound}.
        """
        _checkFields(fields, _CREATE_FIELDS | {"deleted"})
        return self.transactor.transact(
            self.thd_transition,
            instanceId,
            frozenset(fromStates),
            toState,
            action,
            fields,
            utcnow(self.clock),
        )

    def thd_transition(self, store, instanceId, fromStates, toState, action, fields, now):
        current = _thd_read(store, instanceId)
        if current is None or current.deleted:
            raise InstanceNotFound(f"instance i-{instanceId:08x} not found")
        if current.state not in fromStates:
            raise IncorrectInstanceState(
                f"instance i-{instanceId:08x} is {current.state}; cannot "
                f"{action or 'become ' + toState}"
            )
        return _thd_set(store, current, dict(fields, state=toState), now)

    def modify(self, instanceId, allowedStates, action=None, **fields):
        """
        Set C{fields} of an instance, leaving its state alone, if, and
        only if, its state is one of C{allowedStates}: a compare-and-set in
        one transaction, as L{transition}.

        @param action: what is being done, for the error message.
        @return: L{Deferred} firing with the updated L{InstanceRecord};
            failing with L{IncorrectInstanceState} or L{InstanceNotFound}.
        """
        _checkFields(fields, _CREATE_FIELDS - {"state"})
        return self.transactor.transact(
            self.thd_modify,
            instanceId,
            frozenset(allowedStates),
            action,
            fields,
            utcnow(self.clock),
        )

    def thd_modify(self, store, instanceId, allowedStates, action, fields, now):
        current = _thd_read(store, instanceId)
        if current is None or current.deleted:
            raise InstanceNotFound(f"instance i-{instanceId:08x} not found")
        if current.state not in allowedStates:
            raise IncorrectInstanceState(
                f"The instance 'i-{instanceId:08x}' is {current.state}; cannot "
                f"{action or 'change it'}."
            )
        return _thd_set(store, current, fields, now)

    def coresByHost(self):
        """
        @return: L{Deferred} firing with a L{dict} from host to the virtual
            CPUs of its instances that are not terminated.
        """
        return self.transactor.transact(self.thd_coresByHost)

    @readOnly
    def thd_coresByHost(self, store):
        return dict(store.find((HostUsage.host, HostUsage.cores), HostUsage.instances != 0))

    def usageByProject(self, projectId):
        """
        @return: L{Deferred} firing with a L{dict} of the project's
            instances that are not terminated: C{instances}, C{cores} and
            C{ram} (MiB).
        """
        return self.transactor.transact(self.thd_usageByProject, projectId)

    @readOnly
    def thd_usageByProject(self, store, projectId):
        found = store.find(
            (ProjectUsage.instances, ProjectUsage.cores, ProjectUsage.ram),
            ProjectUsage.project_id == projectId,
        ).one()
        return dict(zip(("instances", "cores", "ram"), found or (0, 0, 0)))

    def purgeTerminated(self, before):
        """
        Mark deleted every instance terminated before C{before}.

        @param before: a naive UTC L{datetime}.
        @return: L{Deferred} firing with the number of instances deleted.
        """
        return self.transactor.transact(self.thd_purgeTerminated, before, utcnow(self.clock))

    def thd_purgeTerminated(self, store, before, now):
        # Terminated instances count for nothing in the usage tables
        # (L{_uses}): deleting them changes no usage.
        rows = store.find(
            Instance,
            Instance.deleted == False,  # noqa: E712
            Instance.state == TERMINATED,
            Instance.terminated_at < before,
        )
        count = 0
        for row in rows:
            row.deleted = True
            row.updated_at = now
            count += 1
        return count
