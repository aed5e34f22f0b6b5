# -*- test-case-name: tests.test_tap -*-
"""
The nova-scheduler daemon: a twistd plugin.
"""

from nova.tap import NovaOptions, topicDaemon


class Options(NovaOptions):
    binary = "nova-scheduler"
    synopsis = "Picks hosts for instances and volumes."


def makeService(options):
    from twisted.internet import reactor

    from nova.scheduler.manager import SchedulerManager

    return topicDaemon(options["config"], reactor, "nova-scheduler", "scheduler", SchedulerManager)
