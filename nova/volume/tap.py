# -*- test-case-name: tests.test_tap -*-
"""
The nova-volume daemon: a twistd plugin.
"""

from nova.tap import NovaOptions, topicDaemon


class Options(NovaOptions):
    binary = "nova-volume"
    synopsis = "Creates block volumes and exports them to compute hosts."


def makeService(options):
    from twisted.internet import reactor

    from nova.volume.manager import VolumeManager

    return topicDaemon(options["config"], reactor, "nova-volume", "volume", VolumeManager)
