"""
Tests for the twistd plugins and L{nova.tap}: every daemon loads, parses
Nova's flags, and nova-all runs as a process.
"""

import os
import subprocess

from twisted.application.service import IServiceMaker
from twisted.internet import defer
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.tap import NovaOptions
from tests.integration.processes import TWISTD, Daemon, runManage

PLUGINS = (
    "nova-all",
    "nova-api",
    "nova-compute",
    "nova-network",
    "nova-objectstore",
    "nova-scheduler",
    "nova-volume",
)


class PluginTests(SynchronousTestCase):
    def plugins(self):
        return {p.tapname: p for p in getPlugins(IServiceMaker)}

    def test_allPluginsFound(self):
        found = self.plugins()
        for name in PLUGINS:
            self.assertIn(name, found)

    def test_optionsParseFlags(self):
        for name in PLUGINS:
            options = self.plugins()[name].options()
            self.assertIsInstance(options, NovaOptions)
            options.parseOptions(["--host=h7", "--report_interval=3"])
            self.assertEqual(options["config"].host, "h7")
            self.assertEqual(options["config"].report_interval, 3.0)

    def test_makeServiceBuildsTree(self):
        """
        makeService wires a service tree without starting anything.
        """
        for name in PLUGINS:
            maker = self.plugins()[name]
            options = maker.options()
            options.parseOptions([f"--state_path={os.path.abspath(self.mktemp())}"])
            top = maker.makeService(options)
            self.assertTrue(list(top), name)
            self.assertFalse(top.running)


class CommandLineTests(SynchronousTestCase):
    def twistd(self, *argv):
        return subprocess.run(
            [TWISTD, "-n", "--pidfile=", *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_helpListsFlags(self):
        result = self.twistd("nova-api", "--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("--ec2_port=<int> (default: 8773)", result.stdout)
        self.assertIn("--report_interval", result.stdout)

    def test_unknownFlagOneLine(self):
        result = self.twistd("nova-compute", "--connection_typo=fake")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr, "nova-compute: unknown flag --connection_typo\n")

    def test_badValueOneLine(self):
        result = self.twistd("nova-scheduler", "--report_interval=often")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr, "nova-scheduler: --report_interval: expected a number, got 'often'\n"
        )


class NovaAllProcessTests(TestCase):
    """
    nova-all as a real process on the embedded defaults.
    """

    timeout = 120

    @defer.inlineCallbacks
    def test_runsReportsAndStops(self):
        state = os.path.abspath(self.mktemp())
        flags = [f"--state_path={state}", "--host=allhost", "--report_interval=1"]
        code, out, err = runManage(*flags, "db", "sync")
        self.assertEqual(code, 0, err)
        daemon = Daemon(
            self, "nova-all", *flags, "--ec2_port=0", "--s3_port=0", "--ec2_listen=127.0.0.1", "--s3_listen=127.0.0.1",
            "--osapi_port=0", "--osapi_listen=127.0.0.1",
        ).start()
        yield daemon.waitForLog(r"EC2 API listening on http://127\.0\.0\.1:\d+/services/Cloud")
        yield daemon.waitForLog(r"S3 object store listening on http://127\.0\.0\.1:\d+/")
        yield daemon.waitForLog(r"nova-volume on allhost consumes volume")
        code, out, err = runManage(*flags, "service", "list")
        self.assertEqual(code, 0, err)
        rows = [line.split() for line in out.splitlines()[1:]]
        self.assertEqual(
            sorted(row[1] for row in rows),
            sorted(
                ["nova-api", "nova-objectstore", "nova-scheduler", "nova-compute", "nova-network", "nova-volume"]
            ),
        )
        for row in rows:
            self.assertEqual((row[0], row[4], row[5]), ("allhost", "enabled", ":-)"))
        exitCode = yield daemon.stop()
        # twistd shuts down cleanly, then may end itself with the signal it got.
        self.assertIn(exitCode, (0, -15))
        self.assertIn("nova-compute.allhost stopped", daemon.log())
        self.assertIn("Server Shut Down.", daemon.log())
        self.assertNotIn("Traceback", daemon.log())

    @defer.inlineCallbacks
    def test_refusesUnsyncedDatabase(self):
        """
        A daemon whose database has no schema says what to run and exits.
        """
        from tests.integration.processes import poll

        state = os.path.abspath(self.mktemp())
        daemon = Daemon(self, "nova-compute", f"--state_path={state}").start()
        yield poll(lambda: daemon.process.poll() is not None, 30, what="nova-compute to exit")
        self.assertIn("startup failed; stopping", daemon.log())
        self.assertIn("run `nova-manage db sync`", daemon.log())
