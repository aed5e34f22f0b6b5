# -*- test-case-name: tests.virt.test_fake -*-
"""
Power states of a guest, as the hypervisor reports them.  The numbers are
Nova's (and libvirt's C{virDomainState}, with C{SUSPENDED} for a guest
saved to disk); they are stored in the C{power_state} column of instances.
"""

NOSTATE = 0
RUNNING = 1
BLOCKED = 2
PAUSED = 3
SHUTDOWN = 4
SHUTOFF = 5
CRASHED = 6
SUSPENDED = 7

NAMES = {
    NOSTATE: "pending",
    RUNNING: "running",
    BLOCKED: "blocked",
    PAUSED: "paused",
    SHUTDOWN: "shutdown",
    SHUTOFF: "shutoff",
    CRASHED: "crashed",
    SUSPENDED: "suspended",
}

#: Power states of a guest that is executing (or may execute at once).
ACTIVE = frozenset({RUNNING, BLOCKED})

#: Power states of a guest that is defined but not executing.
OFF = frozenset({SHUTDOWN, SHUTOFF, CRASHED})


def name(state):
    """
    @param state: a power state number.
    @return: its name, or C{"unknown"} for a number that is not one.
    """
    return NAMES.get(state, "unknown")
