# -*- test-case-name: tests.test_tap -*-
"""
What every daemon's C{tap.py} shares: twistd options that take Nova's
flags, and the wiring of the database and RPC that every service uses.
"""

import sys

from twisted.application.service import MultiService, Service
from twisted.internet.defer import gatherResults, inlineCallbacks, maybeDeferred
from twisted.logger import Logger
from twisted.python import usage

from nova.config import ConfigError, helpText, parseFlags
from nova.db.api import databaseFromConfig
from nova.service import waitReady

log = Logger()


class NovaOptions(usage.Options):
    """
    twistd options for a Nova daemon: Nova's flags and flagfiles instead of
    getopt-style options.  C{self["config"]} is the parsed
    L{nova.config.Config}.

    @cvar binary: the daemon's name, for messages.
    @cvar defaults: flag defaults this daemon changes.
    """

    binary = "nova"
    synopsis = ""
    defaults = {}

    def parseOptions(self, options=None):
        if options is None:
            options = sys.argv[1:]
        if "--help" in options or "-h" in options:
            sys.stdout.write(self.getUsage())
            raise SystemExit(0)
        try:
            self["config"], _ = parseFlags(options, defaults=self.defaults, warn=self.warn)
        except ConfigError as e:
            sys.stderr.write(f"{self.binary}: {e}\n")
            raise SystemExit(1)

    def warn(self, message):
        """
        Say that a flag of Cactus's is accepted but not used: on standard
        error at once, and in the daemon's log once it starts.
        """
        sys.stderr.write(f"{self.binary}: warning: {message}\n")
        log.warn("{message}", message=message)

    def getUsage(self, width=None):
        return (
            f"Usage: twistd [twistd options] {self.binary} [--flag=value ...]\n"
            f"{self.synopsis}\n\n"
            "Flags (also accepted in flagfiles given with --flagfile=PATH):\n\n"
            + helpText()
        )


def rpcFromConfig(config, reactor, parent):
    """
    Build the RPC layer C{--rpc_backend} names.

    @param parent: the service that owns the connection, for C{amqp}.
    @return: an L{nova.rpc.interfaces.IRPC}.
    """
    if config.rpc_backend == "amqp":
        from nova.rpc.amqp import AMQPRPC

        rpc = AMQPRPC(config, reactor)
        rpc.setServiceParent(parent)
        return rpc
    from nova.rpc.local import LocalRPC

    return LocalRPC(reactor, config.rpc_call_timeout, keepSent=False)


def buildCore(config, reactor, top):
    """
    Open the database and the RPC layer under C{top}.

    @return: C{(db, rpc)}.
    """
    db = databaseFromConfig(config, reactor)
    db.transactor.setServiceParent(top)
    rpc = rpcFromConfig(config, reactor, top)
    top.db, top.rpc = db, rpc
    return db, rpc


class Daemon(MultiService):
    """
    The top service of a daemon: stops the process with a clear message if
    any of its Nova services cannot start.

    @ivar db: the L{nova.db.api.NovaDatabase} L{buildCore} opened.
    @ivar rpc: the L{nova.rpc.interfaces.IRPC} L{buildCore} built.
    """

    def __init__(self, reactor):
        MultiService.__init__(self)
        self.reactor = reactor
        self.novaServices = []
        self.db = self.rpc = None

    def addNovaService(self, service):
        service.setServiceParent(self)
        self.novaServices.append(service)
        return service

    def startService(self):
        MultiService.startService(self)
        d = waitReady(self.novaServices)

        def failed(failure):
            log.failure("startup failed; stopping", failure)
            if self.reactor.running:
                self.reactor.stop()

        d.addErrback(failed)

    @inlineCallbacks
    def stopService(self):
        """
        Stop the Nova services first, so that their requests in flight are
        answered while the database and RPC connection are still up; then
        stop the rest.
        """
        Service.stopService(self)
        yield gatherResults(
            [maybeDeferred(s.stopService) for s in reversed(self.novaServices) if s.running]
        )
        yield gatherResults(
            [
                maybeDeferred(s.stopService)
                for s in reversed(list(self))
                if s not in self.novaServices and s.running
            ]
        )


def topicDaemon(config, reactor, binary, topic, managerFactory):
    """
    Build the daemon of one RPC topic (nova-compute, nova-network, ...).

    @param managerFactory: called as C{managerFactory(config, db, rpc,
        reactor)}, returns the manager.
    @return: a L{Daemon}.
    """
    from nova.service import NovaService

    top = Daemon(reactor)
    db, rpc = buildCore(config, reactor, top)
    manager = managerFactory(config, db, rpc, reactor)
    top.addNovaService(NovaService(binary, topic, manager, rpc, db, reactor, config))
    return top
