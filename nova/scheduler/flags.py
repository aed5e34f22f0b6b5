"""
Flags of nova-scheduler.
"""

from nova.config import Flag

#: C{--scheduler_driver} name -> the
#: L{nova.scheduler.interfaces.ISchedulerDriver} class, loaded by
#: L{nova.drivers.loadDriver}.  The dotted names of Nova's documentation
#: are accepted too.
SCHEDULER_DRIVERS = {
    "chance": "nova.scheduler.chance.ChanceScheduler",
    "simple": "nova.scheduler.simple.SimpleScheduler",
    "nova.scheduler.chance.ChanceScheduler": "nova.scheduler.chance.ChanceScheduler",
    "nova.scheduler.simple.SimpleScheduler": "nova.scheduler.simple.SimpleScheduler",
}

OPTIONS = (
    Flag(
        "scheduler_driver",
        "str",
        "chance",
        "How hosts are picked: 'chance' (any live host at random) or 'simple' "
        "(the live host with the fewest cores or gigabytes in use).  The dotted "
        "names nova.scheduler.chance.ChanceScheduler and "
        "nova.scheduler.simple.SimpleScheduler are accepted too.",
        choices=tuple(SCHEDULER_DRIVERS),
    ),
    Flag("max_cores", "int", 16, "The simple scheduler puts no more than this many instance cores on one host.", minimum=1),
    Flag(
        "stuck_work_timeout",
        "float",
        900.0,
        "Seconds an instance, volume, snapshot or image may stay in a "
        "transitional state (pending, shutting-down, rebooting, creating, "
        "attaching, decrypting, ...) without a change before the scheduler's "
        "periodic sweep acts: it sends the work again where that is safe (an "
        "unscheduled or unstarted launch, a termination), once, and otherwise "
        "(or if still stuck as long again) puts it in error with the reason.  "
        "Keep it above the longest launch (image download and boot); 0 turns "
        "the sweep off.",
        minimum=0.0,
    ),
    Flag("max_gigabytes", "int", 10000, "The simple scheduler puts no more than this many gigabytes of volumes on one host.", minimum=1),
)
