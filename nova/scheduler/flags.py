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
    Flag("max_gigabytes", "int", 10000, "The simple scheduler puts no more than this many gigabytes of volumes on one host.", minimum=1),
)
