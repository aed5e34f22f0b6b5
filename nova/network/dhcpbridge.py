# -*- test-case-name: tests.network.test_dhcpbridge -*-
"""
C{nova-dhcpbridge}: the script dnsmasq runs (C{--dhcp-script}) when it
hands out, renews or takes back a lease.  dnsmasq calls it as::

    nova-dhcpbridge add|old|del <mac> <ip> [<hostname>]

and it hands the lease (C{add}, C{old}) or release (C{del}) to the network
manager's C{leaseFixedIp} or C{releaseFixedIp}, as the RPC backend allows:

  - with C{--rpc_backend=amqp} it casts the method to this host's network
    service, C{network.<host>};
  - with C{--rpc_backend=local} there is no bus between processes (the
    in-process bus of nova-all is out of reach), so it builds the network
    manager itself and updates the database C{--sql_connection} names
    directly.  The manager's driver (C{--network_driver}) rewrites the
    network's DHCP hosts file and reloads dnsmasq when a release frees an
    address.  The flags must therefore be those of the network host: the
    same C{--state_path} or C{--sql_connection}, C{--host},
    C{--network_manager}, C{--network_driver} and network flags.

Flags come from the C{--flagfile} named in the environment variable
C{FLAGFILE} (dnsmasq passes its environment through); without it, every
flag has its default.  A lease or release the manager refuses (unknown
address, another MAC, ...) is reported on one line of standard error, with
exit status 1.

Because dnsmasq runs with C{--leasefile-ro}, it also calls the script once
at start as C{nova-dhcpbridge init}, expecting the leases it should know on
standard output: the answer is none (every host has a static entry, so a
renewal of a lease dnsmasq forgot is answered all the same), and an exit
code of 0, without which dnsmasq refuses to start.
"""

import os
import sys

from twisted.internet.defer import inlineCallbacks, maybeDeferred

from nova.config import ConfigError, parseFlags
from nova.context import adminContext
from nova.exception import NovaError

ACTIONS = {"add": "leaseFixedIp", "old": "leaseFixedIp", "del": "releaseFixedIp"}


def parseArguments(argv):
    """
    @return: C{(method, mac, ip, hostname)} for the network manager.
    @raise ValueError: for arguments dnsmasq does not send.
    """
    if len(argv) < 3 or argv[0] not in ACTIONS:
        raise ValueError("usage: nova-dhcpbridge add|old|del MAC IP [HOSTNAME]")
    action, mac, ip = argv[:3]
    hostname = argv[3] if len(argv) > 3 else None
    return ACTIONS[action], mac, ip, hostname


def castToNetworkHost(reactor, config, method, mac, ip):
    """
    Cast C{method} to C{network.<host>} over the RPC backend (C{amqp}).

    @return: L{Deferred} firing once the message is on the bus and the
        connection is closed.
    """
    from nova.tap import rpcFromConfig
    from twisted.application.service import MultiService

    parent = MultiService()
    rpc = rpcFromConfig(config, reactor, parent)
    parent.startService()
    d = rpc.cast(adminContext(), f"network.{config.host}", method, {"address": ip, "mac": mac})

    def stop(result):
        # Wait for the connection to close cleanly: stopping the reactor
        # before that could lose the message.
        return maybeDeferred(parent.stopService).addBoth(lambda _: result)

    return d.addBoth(stop)


def openDatabase(config, reactor):
    """
    Open the database C{--sql_connection} names and start its transactor.

    @return: a started L{nova.db.api.NovaDatabase}; stop it with
        L{closeDatabase}.
    @raise nova.exception.DatabaseError: for an unusable C{--sql_connection}.
    """
    from nova.db.api import databaseFromConfig

    db = databaseFromConfig(config, reactor)
    db.transactor.startService()
    return db


def closeDatabase(db):
    """
    Stop the transactor of a database L{openDatabase} opened, closing its
    connections.

    @return: L{Deferred} firing when it is stopped.
    """
    return maybeDeferred(db.transactor.stopService)


@inlineCallbacks
def callManager(reactor, config, db, method, mac, ip):
    """
    Call the network manager's C{method} (C{leaseFixedIp} or
    C{releaseFixedIp}) on C{db}, as this host's network service would.

    @return: L{Deferred} firing with the manager's result; failing with
        L{nova.db.api.SchemaOutOfDate} for a database not synced, with the
        manager's errors (L{nova.network.errors.FixedIpNotFound},
        L{nova.network.errors.MacMismatch}, ...), or with L{ConfigError}
        for an unknown manager or driver.
    """
    from nova.network.manager import networkManagerFromConfig
    from nova.rpc.local import LocalRPC

    yield db.checkSchema()
    rpc = LocalRPC(reactor, config.rpc_call_timeout)
    manager = networkManagerFromConfig(config, db, rpc, reactor)
    result = yield getattr(manager, method)(adminContext(), address=ip, mac=mac)
    return result


def updateDatabase(reactor, config, method, mac, ip):
    """
    Apply the lease or release to the database directly (C{local}
    backend): open it, call the manager, close it whatever happened.

    @return: L{Deferred} firing with the manager's result once the database
        is closed.
    """

    def opened(db):
        d = callManager(reactor, config, db, method, mac, ip)
        return d.addBoth(lambda result: closeDatabase(db).addBoth(lambda _: result))

    return maybeDeferred(openDatabase, config, reactor).addCallback(opened)


def run(reactor, config, argv):
    """
    Hand the lease or release to this host's network manager: over RPC
    with the C{amqp} backend, in the database with the C{local} one.

    @return: L{Deferred} firing once it is delivered (C{amqp}) or applied
        (C{local}).
    """
    method, mac, ip, hostname = parseArguments(argv)
    if config.rpc_backend == "local":
        return updateDatabase(reactor, config, method, mac, ip)
    return castToNetworkHost(reactor, config, method, mac, ip)


def describeFailure(failure):
    """
    @return: one line naming the error a refused lease or release failed
        with.
    """
    error = failure.value
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def runAndReport(reactor, config, argv, err):
    """
    L{run}, with a refused lease or release (any L{NovaError} or
    L{ConfigError}) written to C{err} as one line.

    @param err: a text file, for the message.
    @return: L{Deferred} firing with the exit status: 0, or 1 if refused.
    """
    d = maybeDeferred(run, reactor, config, argv)

    def refused(failure):
        failure.trap(NovaError, ConfigError)
        err.write(f"nova-dhcpbridge: {' '.join(argv[:3])}: {describeFailure(failure)}\n")
        return 1

    return d.addCallbacks(lambda _: 0, refused)


def main(argv=None):
    """
    The C{nova-dhcpbridge} console script.
    """
    from twisted.internet.task import react

    argv = sys.argv[1:] if argv is None else argv
    flags = []
    if os.environ.get("FLAGFILE"):
        flags.append(f"--flagfile={os.environ['FLAGFILE']}")
    if argv[:1] == ["init"]:
        return
    try:
        config, positional = parseFlags(flags + argv, allowPositional=True)
        parseArguments(positional)
    except (ConfigError, ValueError) as e:
        sys.stderr.write(f"nova-dhcpbridge: {e}\n")
        raise SystemExit(2)

    def bridge(reactor):
        def exit(code):
            if code:
                # react exits with a SystemExit's code, without a traceback.
                raise SystemExit(code)

        return runAndReport(reactor, config, positional, sys.stderr).addCallback(exit)

    react(bridge)
