# -*- test-case-name: tests.test_tap -*-
"""
The nova-network daemon: a twistd plugin.
"""

from nova.tap import NovaOptions, topicDaemon


class Options(NovaOptions):
    binary = "nova-network"
    synopsis = "Hands out fixed and floating IP addresses and sets up networks."


def makeService(options):
    from twisted.internet import reactor

    from nova.network.manager import networkManagerFromConfig

    return topicDaemon(
        options["config"], reactor, "nova-network", "network", networkManagerFromConfig
    )
