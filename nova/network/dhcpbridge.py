# -*- test-case-name: tests.network.test_dhcpbridge -*-
"""
C{nova-dhcpbridge}: the script dnsmasq runs (C{--dhcp-script}) when it
hands out, renews or takes back a lease.  dnsmasq calls it as::

    nova-dhcpbridge add|old|del <mac> <ip> [<hostname>]

and it tells this host's network service over RPC (C{leaseFixedIp} or
C{releaseFixedIp} cast to C{network.<host>}).  Flags come from the
C{--flagfile} named in the environment variable C{FLAGFILE} (dnsmasq passes
its environment through), or the default flagfile.

Because dnsmasq runs with C{--leasefile-ro}, it also calls the script once
at start as C{nova-dhcpbridge init}, expecting the leases it should know on
standard output: the answer is none (every host has a static entry, so a
renewal of a lease dnsmasq forgot is answered all the same), and an exit
code of 0, without which dnsmasq refuses to start.
"""

import os
import sys

from twisted.internet.defer import maybeDeferred

from nova.config import ConfigError, parseFlags
from nova.context import adminContext

ACTIONS = {"add": "leaseFixedIp", "old": "leaseFixedIp", "del": "releaseFixedIp"}


def parseArguments(argv):
    """
    @return: C{(method, mac, ip, hostname)} for the RPC cast.
    @raise ValueError: for arguments dnsmasq does not send.
    """
    if len(argv) < 3 or argv[0] not in ACTIONS:
        raise ValueError("usage: nova-dhcpbridge add|old|del MAC IP [HOSTNAME]")
    action, mac, ip = argv[:3]
    hostname = argv[3] if len(argv) > 3 else None
    return ACTIONS[action], mac, ip, hostname


def run(reactor, config, argv):
    """
    Send the lease or release to this host's network service.

    @return: L{Deferred} firing once the message is on the bus.
    """
    from nova.tap import rpcFromConfig
    from twisted.application.service import MultiService

    method, mac, ip, hostname = parseArguments(argv)
    parent = MultiService()
    rpc = rpcFromConfig(config, reactor, parent)
    parent.startService()
    d = rpc.cast(
        adminContext(), f"network.{config.host}", method, {"address": ip, "mac": mac}
    )


    def stop(result):
        # Wait for the connection to close cleanly: stopping the reactor
        # before that could lose the message.
        return maybeDeferred(parent.stopService).addBoth(lambda _: result)

    return d.addBoth(stop)


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
    react(lambda reactor: run(reactor, config, positional))
