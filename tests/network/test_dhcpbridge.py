"""
Tests for L{nova.network.dhcpbridge}: dnsmasq's C{init} call, that the
lease message is sent before the connection is let go (C{amqp}), and that
with the C{local} backend leases and releases change the database itself.
"""

import io
import os
import random
import sys

from twisted.application.service import Service
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SynchronousTestCase, TestCase

import nova
import nova.tap
from nova.config import configFromFlags
from nova.context import adminContext
from nova.db.api import inlineDatabase
from nova.network import dhcpbridge, errors
from nova.network.fake import FakeNetworkDriver
from nova.network.manager import FlatDHCPManager
from nova.rpc.local import LocalRPC

OTHER_MAC = "02:16:3e:7f:7f:7f"


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
        config = configFromFlags(host="net1", rpc_backend="amqp")
        d = dhcpbridge.run(Clock(), config, ["add", "02:16:3e:00:00:01", "10.0.0.2", "web1"])
        self.assertEqual(
            rpc.casts,
            [("network.net1", "leaseFixedIp", {"address": "10.0.0.2", "mac": "02:16:3e:00:00:01"})],
        )
        self.assertNoResult(d)
        stopping.stopping.callback(None)
        self.successResultOf(d)

    def test_usage(self):
        """
        Arguments dnsmasq does not send exit with status 2 and the usage.
        """
        err = io.StringIO()
        self.patch(sys, "stderr", err)
        exited = self.assertRaises(SystemExit, dhcpbridge.main, ["renew", "02:16:3e:00:00:01"])
        self.assertEqual(exited.code, 2)
        self.assertEqual(
            err.getvalue(), "nova-dhcpbridge: usage: nova-dhcpbridge add|old|del MAC IP [HOSTNAME]\n"
        )


class LocalBackendTests(TestCase):
    """
    With C{--rpc_backend=local} the bridge applies leases and releases to
    the network host's SQLite database file, closing it afterwards.
    """

    def setUp(self):
        statePath = os.path.abspath(self.mktemp())
        self.config = configFromFlags(
            state_path=statePath,
            sql_connection=f"sqlite:{statePath}/nova.sqlite",
            host="net1",
            network_manager="flatdhcp",
            network_driver="fake",
            rpc_backend="local",
        )
        self.db = inlineDatabase(self.config.sql_connection, reactor)
        self.addCleanup(self.db.transactor.close)
        self.successResultOf(self.db.sync())
        plans = FlatDHCPManager.planNetworks(self.config, "10.0.0.0/25", 1, 128)
        self.successResultOf(self.db.networks.createNetworks(plans))
        self.manager = FlatDHCPManager(
            self.config,
            self.db,
            LocalRPC(reactor),
            reactor,
            driver=FakeNetworkDriver(),
            floatingQuota=lambda projectId: 0,
            rng=random.Random(0),
        )
        self.instance = self.successResultOf(
            self.db.instances.create(
                reservation_id="r-00000001",
                project_id="proj1",
                user_id="alice",
                instance_type="m1.tiny",
                vcpus=1,
                memory_mb=512,
                local_gb=0,
                hostname="web1",
            )
        )
        info = self.successResultOf(self.manager.allocateFixedIp(adminContext(), self.instance.id))
        self.address, self.mac = info["address"], info["mac"]
        # The driver the bridge's own manager builds from --network_driver.
        self.bridgeDrivers = []

        def fromConfig(cls, config, **dependencies):
            driver = FakeNetworkDriver()
            self.bridgeDrivers.append(driver)
            return driver

        self.patch(FakeNetworkDriver, "fromConfig", classmethod(fromConfig))

    def fixed(self):
        return self.successResultOf(self.db.networks.getFixedIp(self.address))

    def bridge(self, action, mac=None):
        return dhcpbridge.run(reactor, self.config, [action, mac or self.mac, self.address, "web1"])

    @inlineCallbacks
    def test_leaseAndRelease(self):
        yield self.bridge("add")
        self.assertTrue(self.fixed().leased)
        yield self.bridge("old")
        self.assertTrue(self.fixed().leased)
        # Released while the instance still has it: only unleased.
        yield self.bridge("del")
        fixed = self.fixed()
        self.assertEqual(
            (fixed.leased, fixed.allocated, fixed.instance_id), (False, True, self.instance.id)
        )

    @inlineCallbacks
    def test_releaseFreesDeallocated(self):
        """
        Once the instance gave the address back, the release disassociates
        it, and the driver rewrites the network's DHCP hosts without it.
        """
        yield self.bridge("add")
        self.successResultOf(self.manager.deallocateFixedIp(adminContext(), self.instance.id))
        fixed = self.fixed()
        self.assertEqual((fixed.allocated, fixed.leased), (False, True))
        yield self.bridge("del")
        fixed = self.fixed()
        self.assertEqual((fixed.instance_id, fixed.mac_address, fixed.leased), (None, None, False))
        driver = self.bridgeDrivers[-1]
        self.assertEqual(driver.calls[-1], ("updateDhcp", "br100", ()))

    @inlineCallbacks
    def test_macMismatch(self):
        """
        A lease to another MAC fails with the manager's error and changes
        nothing; reported, it is one line and exit status 1.
        """
        yield self.assertFailure(self.bridge("add", OTHER_MAC), errors.MacMismatch)
        err = io.StringIO()
        code = yield dhcpbridge.runAndReport(
            reactor, self.config, ["add", OTHER_MAC, self.address, "web1"], err
        )
        self.assertEqual(code, 1)
        self.assertEqual(
            err.getvalue(),
            f"nova-dhcpbridge: add {OTHER_MAC} {self.address}: MacMismatch: fixed address "
            f"{self.address} was given to {self.mac}, not {OTHER_MAC}\n",
        )
        self.assertFalse(self.fixed().leased)

    @inlineCallbacks
    def test_unknownAddress(self):
        err = io.StringIO()
        code = yield dhcpbridge.runAndReport(
            reactor, self.config, ["del", self.mac, "10.9.9.9"], err
        )
        self.assertEqual(code, 1)
        self.assertEqual(
            err.getvalue(),
            f"nova-dhcpbridge: del {self.mac} 10.9.9.9: FixedIpNotFound: "
            "fixed address 10.9.9.9 not found\n",
        )

    @inlineCallbacks
    def test_databaseNotSynced(self):
        statePath = os.path.abspath(self.mktemp())
        config = self.config.replace(
            state_path=statePath, sql_connection=f"sqlite:{statePath}/nova.sqlite"
        )
        err = io.StringIO()
        code = yield dhcpbridge.runAndReport(reactor, config, ["add", self.mac, self.address], err)
        self.assertEqual(code, 1)
        self.assertIn("SchemaOutOfDate", err.getvalue())
        self.assertEqual(len(err.getvalue().splitlines()), 1)

    @inlineCallbacks
    def test_script(self):
        """
        The console script, with its flags from C{FLAGFILE}: a refused
        lease exits 1 with one line on standard error and no traceback; an
        accepted one exits 0 silently.
        """
        flagfile = os.path.abspath(self.mktemp())
        with open(flagfile, "w") as f:
            f.write(
                f"--state_path={self.config.state_path}\n--host=net1\n"
                "--network_manager=flatdhcp\n--network_driver=fake\n--rpc_backend=local\n"
            )
        env = dict(os.environ, FLAGFILE=flagfile)
        top = os.path.dirname(os.path.dirname(os.path.abspath(nova.__file__)))
        script = "from nova.network.dhcpbridge import main; main()"

        def bridge(action, mac):
            return getProcessOutputAndValue(
                sys.executable, ["-c", script, action, mac, self.address, "web1"], env=env, path=top
            )

        out, errText, code = yield bridge("add", OTHER_MAC)
        self.assertEqual((out, code), (b"", 1))
        self.assertEqual(
            errText.decode(),
            f"nova-dhcpbridge: add {OTHER_MAC} {self.address}: MacMismatch: fixed address "
            f"{self.address} was given to {self.mac}, not {OTHER_MAC}\n",
        )
        out, errText, code = yield bridge("add", self.mac)
        self.assertEqual((out, errText, code), (b"", b"", 0))
        self.assertTrue(self.fixed().leased)
