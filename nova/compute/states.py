# -*- test-case-name: tests.compute.test_states -*-
"""
The states of an instance and the requests each state allows.

An instance goes C{pending} -> C{running} -> C{shutting-down} ->
C{terminated}; C{running} -> C{rebooting} -> C{running};
C{running} -> C{stopping} -> C{stopped} -> C{pending} -> C{running}; and
to C{error} when it cannot be scheduled or its guest fails.  The API moves
an instance into the intermediate state (C{rebooting}, C{stopping},
C{pending}, C{shutting-down}) and the compute manager out of it.
Terminated instances stay visible for C{--terminated_instance_ttl} seconds
and are then deleted.
"""

import attr

from nova.db.instances import SHUTTING_DOWN, TERMINATED, IncorrectInstanceState

PENDING = "pending"
RUNNING = "running"
REBOOTING = "rebooting"
STOPPING = "stopping"
STOPPED = "stopped"
ERROR = "error"

ALL = frozenset(
    {PENDING, RUNNING, REBOOTING, STOPPING, STOPPED, SHUTTING_DOWN, TERMINATED, ERROR}
)

#: States of an instance that still has (or will have) a guest.
LIVE = ALL - {TERMINATED}

#: EC2's (code, name) for each state.  EC2 has no rebooting state (a
#: rebooting instance shows as running) and shows an instance that failed
#: as terminated, with the reason in its state reason.
EC2_STATES = {
    PENDING: (0, "pending"),
    RUNNING: (16, "running"),
    REBOOTING: (16, "running"),
    SHUTTING_DOWN: (32, "shutting-down"),
    TERMINATED: (48, "terminated"),
    STOPPING: (64, "stopping"),
    STOPPED: (80, "stopped"),
    ERROR: (48, "terminated"),
}


def ec2State(state):
    """
    @return: the EC2 C{(code, name)} of C{state}.
    """
    return EC2_STATES[state]


@attr.s(frozen=True)
class Action:
    """
    What a request may do to an instance.

    @ivar name: the request (C{reboot}, C{stop} ...), for messages.
    @ivar allowed: states the request moves out of.
    @ivar ignored: states in which the request succeeds without changing
        anything (it is done or under way).
    @ivar to: the state the request moves the instance to.
    """

    name = attr.ib()
    allowed = attr.ib(converter=frozenset)
    ignored = attr.ib(converter=frozenset)
    to = attr.ib()

    def check(self, instance):
        """
        @param instance: an L{nova.db.records.InstanceRecord}.
        @return: C{True} if the request changes the instance, C{False} if
            it is to be ignored.
        @raise IncorrectInstanceState: if the state refuses the request.
        """
        if instance.state in self.allowed:
            return True
        if instance.state in self.ignored:
            return False
        raise IncorrectInstanceState(
            f"The instance '{instance.ec2Id}' is {instance.state}; it cannot be "
            f"{self.participle}."
        )

    @property
    def participle(self):
        return {
            "reboot": "rebooted",
            "stop": "stopped",
            "start": "started",
            "terminate": "terminated",
        }.get(self.name, self.name + "ed")


REBOOT = Action("reboot", {RUNNING}, {REBOOTING}, REBOOTING)
STOP = Action("stop", {RUNNING}, {STOPPING, STOPPED}, STOPPING)
START = Action("start", {STOPPED}, {PENDING, RUNNING}, PENDING)
TERMINATE = Action(
    "terminate", LIVE - {SHUTTING_DOWN}, {SHUTTING_DOWN, TERMINATED}, SHUTTING_DOWN
)

__all__ = [
    "ALL",
    "Action",
    "EC2_STATES",
    "ERROR",
    "IncorrectInstanceState",
    "LIVE",
    "PENDING",
    "REBOOT",
    "REBOOTING",
    "RUNNING",
    "SHUTTING_DOWN",
    "START",
    "STOP",
    "STOPPED",
    "STOPPING",
    "TERMINATE",
    "TERMINATED",
    "ec2State",
]
