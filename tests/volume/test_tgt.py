"""
The LVM driver's iSCSI exports against a real tgtd: a private tgtd (its
own control port and portal) serves a file as the volume's logical unit,
and QEMU's iSCSI initiator reads it back.  Only the backing store differs
from production (a file instead of C{/dev/<group>/<volume>}, since this
machine has no device-mapper) and the control port is added to every
C{tgtadm}.
"""

import os
import shutil
import socket

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from nova.util.process import IProcessRunner, ReactorProcessRunner
from nova.volume.errors import VolumeBackendError
from nova.volume.interfaces import VolumeSpec
from nova.volume.lvm import LVMVolumeDriver
from tests.util import requireCondition

VOL = VolumeSpec(10, "volume-0000000a", 1)
IQN = "iqn.2010-10.org.openstack:volume-0000000a"


def freePort():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@implementer(IProcessRunner)
class PrivateTgtRunner:
    """
    Runs commands for real, sending C{tgtadm} to a private tgtd and
    pointing C{--backing-store} at a file (unless C{backingStore} is
    C{None}: then the driver's own backing store is kept).

    @ivar commands: the commands as the driver gave them.
    """

    def __init__(self, inner, controlPort, backingStore):
        self.inner = inner
        self.controlPort = controlPort
        self.backingStore = backingStore
        self.commands = []

    def run(self, argv, stdin=None, timeout=None):
        self.commands.append(tuple(argv))
        argv = list(argv)
        if argv[0] == "tgtadm":
            argv[1:1] = ["--control-port", str(self.controlPort)]
            if "--backing-store" in argv and self.backingStore is not None:
                argv[argv.index("--backing-store") + 1] = self.backingStore
        return self.inner.run(argv, stdin=stdin, timeout=timeout)


class _Daemon(ProcessProtocol):
    def __init__(self):
        self.ended = Deferred()
        self.output = []

    def outReceived(self, data):
        self.output.append(data)

    errReceived = outReceived

    def processEnded(self, reason):
        self.ended.callback(None)


class TgtExportTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def setUp(self):
        for tool in ("tgtd", "tgtadm"):
            requireCondition(shutil.which(tool) is not None, f"{tool} is not installed (Debian package tgt)")
        requireCondition(os.geteuid() == 0, "tgtd needs root")
        self.real = ReactorProcessRunner(reactor, timeout=20)
        self.controlPort = 20000 + os.getpid() % 10000
        self.portal = freePort()
        self.backing = os.path.abspath(self.mktemp())
        with open(self.backing, "wb") as f:
            f.truncate(VOL.size << 30)
        self.daemon = _Daemon()
        self.process = reactor.spawnProcess(
            self.daemon,
            shutil.which("tgtd"),
            ["tgtd", "-f", "-C", str(self.controlPort), "--iscsi", f"portal=127.0.0.1:{self.portal}"],
            env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
        )
        self.addCleanup(self.stopDaemon)
        for _ in range(100):
            out, err, code = yield self.tgtadm("--lld", "iscsi", "--mode", "target", "--op", "show")
            if code == 0:
                break
            yield deferLater(reactor, 0.05, lambda: None)
        else:
            self.fail(f"tgtd did not start: {b''.join(self.daemon.output)!r}")
        self.runner = PrivateTgtRunner(self.real, self.controlPort, self.backing)
        self.driver = LVMVolumeDriver(
            self.runner, "nova-volumes", iscsiAddress="127.0.0.1", iscsiPort=self.portal
        )

    def tgtadm(self, *args):
        return self.real.run(["tgtadm", "--control-port", str(self.controlPort), *args])

    @inlineCallbacks
    def stopDaemon(self):
        yield self.tgtadm("--lld", "iscsi", "--mode", "target", "--op", "delete", "--force", "--tid", "10")
        yield self.tgtadm("--op", "delete", "--mode", "system")
        timer = reactor.callLater(10, self.process.signalProcess, "KILL")
        yield self.daemon.ended
        if timer.active():
            timer.cancel()

    @inlineCallbacks
    def show(self):
        out, err, code = yield self.tgtadm("--lld", "iscsi", "--mode", "target", "--op", "show")
        self.assertEqual(code, 0, err)
        return out.decode()

    @inlineCallbacks
    def test_exportAndRemove(self):
        export = yield self.driver.exportVolume(VOL)
        self.assertEqual(
            (export["iqn"], export["portal"], export["lun"]),
            (IQN, f"127.0.0.1:{self.portal}", 1),
        )
        shown = yield self.show()
        self.assertIn(f"Target 10: {IQN}", shown)
        self.assertIn(f"Backing store path: {self.backing}", shown)
        self.assertIn("ACL information:\n        ALL", shown)
        # Exporting again changes nothing.
        before = len(self.runner.commands)
        self.assertEqual((yield self.driver.exportVolume(VOL)), export)
        self.assertEqual(len(self.runner.commands), before + 1)
        self.assertEqual((yield self.show()).count("Target "), 1)
        yield self.driver.removeExport(VOL)
        self.assertNotIn("Target 10", (yield self.show()))
        yield self.driver.removeExport(VOL)

    @inlineCallbacks
    def test_initiatorReadsIt(self):
        """
        QEMU's own iSCSI initiator (the way libvirt attaches such a
        volume) reaches the exported logical unit.
        """
        yield self.driver.exportVolume(VOL)
        out, err, code = yield self.real.run(
            ["qemu-img", "info", f"iscsi://127.0.0.1:{self.portal}/{IQN}/1"]
        )
        if code != 0 and b"iscsi" in err.lower() and b"protocol" in err.lower():
            self.skipTest("QEMU has no iSCSI block driver (qemu-block-extra)")
        self.assertEqual(code, 0, err)
        self.assertIn(b"virtual size: 1 GiB (1073741824 bytes)", out)

    @inlineCallbacks
    def test_failedLogicalUnitLeavesNoTarget(self):
        self.runner.backingStore = os.path.abspath(self.mktemp())   # does not exist
        yield self.assertFailure(self.driver.exportVolume(VOL), VolumeBackendError)
        self.assertNotIn("Target 10", (yield self.show()))


class PrivateTgtd:
    """
    A tgtd of a test's own: its own control port and portal (on
    127.0.0.1), stopped (its targets deleted first) when the test ends.

    @ivar controlPort: the control port C{tgtadm --control-port} takes.
    @ivar portalPort: the TCP port of its iSCSI portal.
    """

    def __init__(self, testCase, controlPort, portalPort):
        self.testCase = testCase
        self.controlPort = controlPort
        self.portalPort = portalPort
        self.real = ReactorProcessRunner(reactor, timeout=20)

    def tgtadm(self, *args):
        return self.real.run(["tgtadm", "--control-port", str(self.controlPort), *args])

    def runner(self):
        """
        @return: an L{IProcessRunner} sending C{tgtadm} to this daemon.
        """
        return PrivateTgtRunner(self.real, self.controlPort, None)

    @inlineCallbacks
    def start(self):
        """
        Start the daemon (skipping the test when tgt is missing or the
        portal's port is taken), and wait until it answers.
        """
        for tool in ("tgtd", "tgtadm"):
            requireCondition(shutil.which(tool) is not None, f"{tool} is not installed (Debian package tgt)")
        requireCondition(os.geteuid() == 0, "tgtd needs root")
        with socket.socket() as s:
            # (Connections of an earlier daemon may linger in TIME_WAIT.)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.portalPort))
            except OSError:
                requireCondition(False, f"port {self.portalPort} is taken")
        self.daemon = _Daemon()
        self.process = reactor.spawnProcess(
            self.daemon,
            shutil.which("tgtd"),
            ["tgtd", "-f", "-C", str(self.controlPort), "--iscsi",
             f"portal=127.0.0.1:{self.portalPort}"],
            env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
        )
        self.testCase.addCleanup(self.stop)
        for _ in range(100):
            out, err, code = yield self.tgtadm("--lld", "iscsi", "--mode", "target", "--op", "show")
            if code == 0:
                return
            yield deferLater(reactor, 0.05, lambda: None)
        self.testCase.fail(f"tgtd did not start: {b''.join(self.daemon.output)!r}")

    @inlineCallbacks
    def stop(self):
        out, err, code = yield self.tgtadm("--lld", "iscsi", "--mode", "target", "--op", "show")
        for line in out.decode("utf-8", "replace").splitlines():
            if line.startswith("Target ") and ":" in line:
                tid = line.split(":", 1)[0].split()[1]
                yield self.tgtadm(
                    "--lld", "iscsi", "--mode", "target", "--op", "delete", "--force", "--tid", tid
                )
        yield self.tgtadm("--op", "delete", "--mode", "system")
        timer = reactor.callLater(10, self.process.signalProcess, "KILL")
        yield self.daemon.ended
        if timer.active():
            timer.cancel()
        for suffix in ("", ".lock"):
            try:
                os.remove(f"/var/run/tgtd/socket.{self.controlPort}{suffix}")
            except OSError:
                pass
