# -*- test-case-name: tests.compute.test_states -*-
"""
The states of an instance and the requests each state allows.

An instance goes C{pending} -> C{running} -> C{shutting-down} ->
C{terminated}; C{running} -> C{rebooting} -> C{running};
C{running} -> C{stopping} -> C{stopped} -> C{pending} -> C{running};
C{running} -> C{pausing} -> C{paused} -> C{unpausing} -> C{running};
C{running} -> C{suspending} -> C{suspended} -> C{resuming} -> C{running};
C{running} -> C{resizing} -> C{resized} (the guest runs with the new
type; the old definition and disk are kept) -> C{running}, by a confirm
(the old ones are dropped) or by C{reverting} (they are restored);
C{running} or C{stopped} -> C{rebuilding} -> C{running} (a new root disk
from an image, the same id and addresses);
C{running} -> C{rescuing} -> C{rescued} (a rescue image boots, with the
instance's disk attached second) -> C{unrescuing} -> C{running};
and to C{error} when it cannot be scheduled or its guest fails.  The API
moves an instance into the intermediate state (C{rebooting}, C{stopping},
C{pending}, C{pausing}, C{unpausing}, C{suspending}, C{resuming},
C{resizing}, C{reverting}, C{rebuilding}, C{rescuing}, C{unrescuing},
C{shutting-down}) and the compute manager out of it.  A paused instance's
guest is frozen in memory; a suspended one's memory is saved to disk
(libvirt's managed save) and it holds no CPU or memory of its host.

C{rebooting} is Nova's own: EC2 has no such state and shows a rebooting
instance as C{running}, so a rebooting instance takes what a running one
does: a stop or a termination right after a reboot is accepted (the
compute manager runs the requests for one instance in turn, so the stop
or termination follows the reboot; a reboot the manager has not started
yet finds the instance moved on and is dropped).
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
PAUSING = "pausing"
PAUSED = "paused"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
SUSPENDED = "suspended"
RESUMING = "resuming"
RESIZING = "resizing"
RESIZED = "resized"
REVERTING = "reverting"
REBUILDING = "rebuilding"
RESCUING = "rescuing"
RESCUED = "rescued"
UNRESCUING = "unrescuing"

ALL = frozenset(
    {PENDING, RUNNING, REBOOTING, STOPPING, STOPPED, SHUTTING_DOWN, TERMINATED, ERROR}
    | {PAUSING, PAUSED, UNPAUSING, SUSPENDING, SUSPENDED, RESUMING}
    | {RESIZING, RESIZED, REVERTING, REBUILDING, RESCUING, RESCUED, UNRESCUING}
)

#: States of an instance that still has (or will have) a guest.
LIVE = ALL - {TERMINATED}

#: States the API or the scheduler set and a compute host leaves: the
#: instance is being changed (the dashboard shows them as work under way;
#: the scheduler's sweep finds instances stuck in them).
TRANSITIONAL = frozenset(
    {
        PENDING,
        REBOOTING,
        STOPPING,
        PAUSING,
        UNPAUSING,
        SUSPENDING,
        RESUMING,
        RESIZING,
        REVERTING,
        REBUILDING,
        RESCUING,
        UNRESCUING,
        SHUTTING_DOWN,
    }
)

#: EC2's (code, name) for each state.  EC2 has no rebooting state (a
#: rebooting instance shows as running).  An instance that failed shows as
#: Nova showed it, C{error}, with the reason in its state reason, never as
#: terminated (which only a termination makes it): its code is 304, whose
#: low byte (48) says that no guest runs and whose high byte EC2 reserves
#: for the service's own use.  Resizes, rebuilds and rescues are Nova's
#: own: a resized or rescued instance runs, and one being changed shows as
#: pending, as a starting one does.  EC2 has no paused
#: or suspended states either: a paused instance, whose guest keeps its
#: memory and its host, shows as running; a suspended one as EC2 shows a
#: hibernated instance (stopping, stopped, and pending while it resumes).
EC2_STATES = {
    PENDING: (0, "pending"),
    RUNNING: (16, "running"),
    REBOOTING: (16, "running"),
    SHUTTING_DOWN: (32, "shutting-down"),
    TERMINATED: (48, "terminated"),
    STOPPING: (64, "stopping"),
    STOPPED: (80, "stopped"),
    ERROR: (304, "error"),
    PAUSING: (16, "running"),
    PAUSED: (16, "running"),
    UNPAUSING: (16, "running"),
    SUSPENDING: (64, "stopping"),
    SUSPENDED: (80, "stopped"),
    RESUMING: (0, "pending"),
    RESIZING: (0, "pending"),
    RESIZED: (16, "running"),
    REVERTING: (0, "pending"),
    REBUILDING: (0, "pending"),
    RESCUING: (0, "pending"),
    RESCUED: (16, "running"),
    UNRESCUING: (0, "pending"),
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
            "pause": "paused",
            "unpause": "unpaused",
            "suspend": "suspended",
            "resume": "resumed",
            "resize": "resized",
            "rebuild": "rebuilt",
            "rescue": "rescued",
            "unrescue": "unrescued",
        }.get(self.name, self.name + "ed")


REBOOT = Action("reboot", {RUNNING}, {REBOOTING}, REBOOTING)
# A rebooting instance is running as EC2 shows it: it can be stopped (and
# terminated, as every live instance).
STOP = Action("stop", {RUNNING, REBOOTING}, {STOPPING, STOPPED}, STOPPING)
START = Action("start", {STOPPED}, {PENDING, RUNNING}, PENDING)
PAUSE = Action("pause", {RUNNING}, {PAUSING, PAUSED}, PAUSING)
UNPAUSE = Action("unpause", {PAUSED}, {UNPAUSING, RUNNING}, UNPAUSING)
SUSPEND = Action("suspend", {RUNNING}, {SUSPENDING, SUSPENDED}, SUSPENDING)
RESUME = Action("resume", {SUSPENDED}, {RESUMING, RUNNING}, RESUMING)
RESIZE = Action("resize", {RUNNING}, set(), RESIZING)
CONFIRM_RESIZE = Action("confirm", {RESIZED}, set(), RUNNING)
REVERT_RESIZE = Action("revert", {RESIZED}, {REVERTING}, REVERTING)
REBUILD = Action("rebuild", {RUNNING, STOPPED}, set(), REBUILDING)
RESCUE = Action("rescue", {RUNNING}, {RESCUING, RESCUED}, RESCUING)
UNRESCUE = Action("unrescue", {RESCUED}, {UNRESCUING}, UNRESCUING)
TERMINATE = Action(
    "terminate", LIVE - {SHUTTING_DOWN}, {SHUTTING_DOWN, TERMINATED}, SHUTTING_DOWN
)

__all__ = [
    "ALL",
    "Action",
    "CONFIRM_RESIZE",
    "EC2_STATES",
    "REBUILD",
    "REBUILDING",
    "RESCUE",
    "RESCUED",
    "RESCUING",
    "RESIZE",
    "RESIZED",
    "RESIZING",
    "REVERTING",
    "REVERT_RESIZE",
    "UNRESCUE",
    "UNRESCUING",
    "ERROR",
    "IncorrectInstanceState",
    "LIVE",
    "PAUSE",
    "PAUSED",
    "PAUSING",
    "PENDING",
    "REBOOT",
    "REBOOTING",
    "RESUME",
    "RESUMING",
    "RUNNING",
    "SHUTTING_DOWN",
    "START",
    "STOP",
    "STOPPED",
    "STOPPING",
    "SUSPEND",
    "SUSPENDED",
    "SUSPENDING",
    "TERMINATE",
    "TERMINATED",
    "UNPAUSE",
    "UNPAUSING",
    "ec2State",
]
