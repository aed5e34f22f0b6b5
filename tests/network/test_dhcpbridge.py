"""
Tests for L{nova.network.dhcpbridge}: dnsmasq's C{init} call, and that the
lease message is sent before the connection is let go.
"""

import io
import sys

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

import nova.tap
from nova.config import configFromFlags
from nova.network import dhcpbridge


class SlowStop(Service):
    def __init__(self):
        self.stopping = Deferred()

    def stopService(self):
        Service.stopService(self)
        return self.stopping


class RecordingRPC:
    def __init__(self):
        self.casts = []

    def cast(self, context, topic, method, args):
        self.casts.append((topic, method, args))
        return succeed(None)


class DhcpbridgeTests(SynchronousTestCase):
    def test_init(self):
        """
        dnsmasq (with --leasefile-ro) starts only if C{init} exits 0; it
        prints no leases.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        self.assertIsNone(dhcpbridge.main(["init"]))
        self.assertEqual(out.getvalue(), "")

    def test_waitsForTheConnectionToClose(self):
        rpc, stopping = RecordingRPC(), SlowStop()

        def rpcFromConfig(config, reactor, parent):
            stopping.setServiceParent(parent)
            return rpc

        self.patch(nova.tap, "rpcFromConfig", rpcFromConfig)
        config = configFromFlags(host="net1")
        d = dhcpbridge.run(Clock(), config, ["add", "02:16:3e:00:00:01", "10.0.0.2", "web1"])
        self.assertEqual(
            rpc.casts,
            [("network.net1", "leaseFixedIp", {"address": "10.0.0.2", "mac": "02:16:3e:00:00:01"})],
        )
        self.assertNoResult(d)
        stopping.stopping.callback(None)
        self.successResultOf(d)
