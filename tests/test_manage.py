"""
Tests for L{nova.manage}, the nova-manage command line.
"""

import io
import os
import re

from twisted.internet import defer, reactor
from twisted.internet.defer import succeed
from twisted.trial.unittest import TestCase

from nova import exception, manage
from nova.config import parseFlags
from nova.manage import formatTable
from tests.util import ManageMixin

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "manage.md")


class ManageTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def test_dbSyncAndVersion(self):
        code, out, _ = yield self.manage("db", "version")
        self.assertEqual((code, out), (0, "0\n"))
        code, out, _ = yield self.manage("db", "sync")
        self.assertEqual(code, 0)
        self.assertIn("applied patches 1", out)
        code, out, _ = yield self.manage("db", "sync")
        self.assertIn("up to date", out)

    @defer.inlineCallbacks
    def test_serviceListEnableDisable(self):
        yield self.manage("db", "sync")
        from nova.db.api import inlineDatabase

        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        yield db.services.register("h1", "nova-compute", "compute", "nova")
        other = yield db.services.register("h2", "nova-network", "network", "nova")
        yield db.services.report(other.id, lost="message broker")
        db.transactor.close()
        code, out, _ = yield self.manage("service", "list")
        self.assertEqual(code, 0)
        header, row, lost = out.splitlines()
        self.assertEqual(
            header.split(), ["Host", "Binary", "Topic", "Zone", "Status", "State", "Updated_At", "Lost"]
        )
        self.assertEqual(row.split()[:6], ["h1", "nova-compute", "compute", "nova", "enabled", ":-)"])
        self.assertEqual(row.split()[-1], "-")
        self.assertTrue(lost.startswith("h2"), lost)
        self.assertTrue(lost.endswith("message broker"), lost)
        code, out, _ = yield self.manage("service", "disable", "h1", "nova-compute")
        self.assertEqual((code, out), (0, "nova-compute on h1 disabled\n"))
        code, out, _ = yield self.manage("service", "list")
        self.assertIn("disabled", out)
        code, _, err = yield self.manage("service", "enable", "h9", "nova-compute")
        self.assertEqual(code, 1)
        self.assertEqual(err, "error: no service nova-compute on host h9\n")

    @defer.inlineCallbacks
    def test_usage(self):
        code, _, err = yield self.manage()
        self.assertEqual(code, 2)
        self.assertIn("Categories:", err)
        code, _, err = yield self.manage("nothing")
        self.assertIn("unknown category 'nothing'", err)
        code, _, err = yield self.manage("db")
        self.assertIn("db sync", err)
        code, _, err = yield self.manage("db", "explode")
        self.assertIn("unknown action db 'explode'", err)
        code, _, err = yield self.manage("service", "enable", "onlyhost")
        self.assertEqual(code, 2)
        self.assertIn("wrong arguments for service enable", err)

    @defer.inlineCallbacks
    def test_badFlag(self):
        code, _, err = yield self.manage("--rabbit_port=x", "db", "version")
        self.assertEqual(code, 2)
        self.assertEqual(err, "nova-manage: --rabbit_port: expected an integer, got 'x'\n")

    @defer.inlineCallbacks
    def test_databaseUnreachable(self):
        code, _, err = yield self.manage(
            "--sql_connection=postgres://nobody@127.0.0.1:1/none", "db", "version"
        )
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith("error: cannot connect to the database"), err)


class FormatTableTests(TestCase):
    def test_aligned(self):
        self.assertEqual(
            formatTable([("a", 1), ("bbb", 22)], ("X", "Y")),
            "X    Y\na    1\nbbb  22",
        )


class DbSyncVersionTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def test_syncToVersion(self):
        from nova.db.schema import latestVersion

        code, out, _ = yield self.manage("db", "sync", "3")
        self.assertEqual((code, out), (0, "applied patches 1, 2, 3; schema version 3\n"))
        code, _, err = yield self.manage("db", "sync", "2")
        self.assertEqual((code, err), (1, "error: the database is at version 3: patches cannot be undone\n"))
        code, _, err = yield self.manage("db", "sync", "999")
        self.assertEqual(code, 1)
        self.assertIn(f"the newest is {latestVersion()}", err)
        code, _, err = yield self.manage("db", "sync", "x")
        self.assertEqual((code, err), (1, "error: version must be a number, not 'x'\n"))
        code, out, _ = yield self.manage("db", "sync")
        self.assertEqual(code, 0)
        self.assertIn("applied patches 4, ", out)
        code, out, _ = yield self.manage("db", "version")
        self.assertEqual(out, f"{latestVersion()}\n")


class HelpTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def test_everyActionHasHelp(self):
        """
        C{<category> <action> --help} prints a usage line and the action's
        docstring, for every action of every category; it needs no database.
        """
        for category in sorted(manage.CATEGORIES):
            cls = manage.namedAny(manage.CATEGORIES[category])
            code, out, err = yield self.manage(category, "--help")
            self.assertEqual((code, err), (0, ""), category)
            self.assertIn(f"Actions of {category}", out)
            for action, method in cls.actions().items():
                code, out, err = yield self.manage(category, action, "--help")
                self.assertEqual((code, err), (0, ""), (category, action))
                self.assertTrue(out.startswith(f"Usage: nova-manage {category} {action}"), out)
                summary = manage.summary(method)
                self.assertTrue(summary, (category, action))
                self.assertIn(summary, out)
        self.assertFalse(os.path.exists(self.state))

    @defer.inlineCallbacks
    def test_generalHelp(self):
        code, out, _ = yield self.manage("--help")
        self.assertEqual(code, 0)
        self.assertIn("Categories: account, config, db", out)
        code, _, err = yield self.manage("nothing", "--help")
        self.assertEqual(code, 2)
        self.assertIn("unknown category 'nothing'", err)
        code, _, err = yield self.manage("db", "nothing", "-h")
        self.assertEqual(code, 2)
        self.assertIn("unknown action db 'nothing'", err)

    @defer.inlineCallbacks
    def test_unknownSwitch(self):
        code, _, err = yield self.manage("db", "sync", "--purge")
        self.assertEqual((code, err), (2, "nova-manage: unknown flag --purge\n"))
        code, _, err = yield self.manage("--bogus", "db", "version")
        self.assertEqual((code, err), (2, "nova-manage: unknown flag --bogus\n"))
        code, _, err = yield self.manage("--bogus")
        self.assertEqual((code, err), (2, "nova-manage: unknown flag --bogus\n"))
        code, _, err = yield self.manage("instance_type", "delete", "x", "--bogus")
        self.assertEqual(code, 2)
        self.assertIn("unknown option --bogus for instance_type delete", err)

    def test_aliases(self):
        self.assertEqual(manage.CATEGORIES["account"], manage.CATEGORIES["project"])
        self.assertEqual(manage.CATEGORIES["flavor"], manage.CATEGORIES["instance_type"])
        for alias, name in manage.ALIASES.items():
            self.assertEqual(manage.CATEGORIES[alias], manage.CATEGORIES[name])

    @defer.inlineCallbacks
    def test_aliasUsage(self):
        code, _, err = yield self.manage("account")
        self.assertEqual(code, 2)
        self.assertIn("Actions of account (another name of project):", err)
        self.assertIn("account scrub <project_id>", err)


class CommandTableTests(TestCase):
    def test_docsInSync(self):
        """
        docs/manage.md holds exactly L{manage.commandTable} between its
        markers: regenerate it when a command changes (see the file).
        """
        with open(DOCS, encoding="utf-8") as f:
            text = f.read()
        match = re.search(
            r"<!-- BEGIN COMMAND TABLE[^>]*-->\n(.*)<!-- END COMMAND TABLE -->", text, re.S
        )
        self.assertIsNotNone(match, "docs/manage.md lacks the command table markers")
        self.assertEqual(match.group(1), manage.commandTable())

    def test_everyCommandListed(self):
        table = manage.commandTable()
        for category in manage.CATEGORIES:
            if category in manage.ALIASES:
                self.assertIn(f"| `{category}` | (any) |", table)
                continue
            for action in manage.namedAny(manage.CATEGORIES[category]).actions():
                self.assertIn(f"| `{category}` | `{action}` |", table)
        self.assertIn("| `agent` |", table)

    def test_pipesEscaped(self):
        row = [line for line in manage.commandTable().splitlines() if "`image` | `bundle`" in line][0]
        self.assertIn("[kernel\\|ramdisk]", row)
        self.assertEqual(row.replace("\\|", "").count("|"), 5)


class ShellTests(ManageMixin, TestCase):
    def setUp(self):
        super().setUp()
        return self.manage("db", "sync")

    def script(self, text):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    @defer.inlineCallbacks
    def test_script(self):
        path = self.script(
            "t = wait(db.instanceTypes.get('m1.tiny'))\n"
            "print(t.name, t.memory_mb, config.state_path == STATE)\n"
            "from twisted.internet.task import deferLater\n"
            "print(wait(deferLater, reactor, 0, lambda: 'from the reactor'))\n"
            "print(adminContext().isAdmin, nova.__version__ is not None)\n".replace(
                "STATE", repr(self.state)
            )
        )
        code, out, err = yield self.manage("shell", "script", path)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, "m1.tiny 512 True\nfrom the reactor\nTrue True\n")

    @defer.inlineCallbacks
    def test_scriptWaitRaises(self):
        path = self.script(
            "from nova.db.instance_types import InstanceTypeNotFound\n"
            "try:\n"
            "    wait(db.instanceTypes.get('nothing'))\n"
            "except InstanceTypeNotFound as e:\n"
            "    print('not found:', e)\n"
        )
        code, out, err = yield self.manage("shell", "script", path)
        self.assertEqual((code, out, err), (0, "not found: no instance type named nothing\n", ""))

    @defer.inlineCallbacks
    def test_scriptExit(self):
        code, _, err = yield self.manage("shell", "script", self.script("raise SystemExit(3)\n"))
        self.assertEqual((code, err), (1, "error: the shell exited with 3\n"))
        code, _, err = yield self.manage("shell", "script", self.script("raise SystemExit(0)\n"))
        self.assertEqual((code, err), (0, ""))
        code, _, err = yield self.manage("shell", "script", "/nonexistent/x.py")
        self.assertEqual((code, err), (1, "error: cannot read /nonexistent/x.py: No such file or directory\n"))

    @defer.inlineCallbacks
    def test_consoles(self):
        """
        The consoles read standard input; each falls back to Python's own
        console when its package is absent.
        """
        import code as codeModule

        seen = []

        def interact(banner, local, exitmsg):
            seen.append((banner, sorted(k for k in local if not k.startswith("__"))))

        self.patch(codeModule, "interact", interact)
        for kind in ("python", "run", "bpython", "ipython"):
            kindArgs = ("shell", kind)
            if kind in ("bpython", "ipython"):
                try:
                    __import__(kind if kind == "bpython" else "IPython")
                    continue
                except ImportError:
                    pass
            code, _, err = yield self.manage(*kindArgs)
            self.assertEqual((code, err), (0, ""), kind)
        self.assertTrue(seen)
        self.assertEqual(seen[0][0], manage.SHELL_BANNER)
        self.assertEqual(
            seen[0][1], ["adminContext", "config", "db", "nova", "print", "reactor", "wait"]
        )
        code, _, err = yield self.manage("shell", "run", "perl")
        self.assertEqual((code, err), (1, "error: no shell 'perl': use python, ipython or bpython\n"))

    def test_waitInReactorThread(self):
        config, _ = parseFlags([f"--state_path={self.state}"])
        namespace = manage.shellNamespace(config, reactor, io.StringIO())
        self.addCleanup(namespace["db"].transactor.close)
        wait = namespace["wait"]
        self.assertEqual(wait(succeed(5)), 5)
        self.assertEqual(wait(lambda: succeed(6)), 6)
        self.assertEqual(wait(7), 7)
        self.assertRaises(exception.Invalid, wait, defer.Deferred())


class LogTests(ManageMixin, TestCase):
    def setUp(self):
        super().setUp()
        self.log = self.mktemp()
        with open(self.log, "w") as f:
            f.write(
                "2024-05-01T12:00:00+0000 [nova.api#info] RunInstances req-1 ok\n"
                "2024-05-01T12:00:01+0000 [nova.rpc#error] RPC method run failed (request req-2)\n"
                "\tTraceback (most recent call last):\n"
                "2024-05-01T12:00:02+0000 [nova.api#info] DescribeInstances req-2 done\n"
            )

    @defer.inlineCallbacks
    def test_request(self):
        code, out, _ = yield self.manage("log", "request", "req-2", self.log)
        self.assertEqual(code, 0)
        self.assertEqual(len(out.splitlines()), 2)
        self.assertIn("DescribeInstances req-2", out)
        code, out, _ = yield self.manage("log", "request", "req-9", self.log)
        self.assertEqual((code, out), (0, f"no lines of request req-9 in {self.log}\n"))
        code, _, err = yield self.manage("log", "request", "req-9", "/nonexistent.log")
        self.assertEqual((code, err), (1, "error: cannot read /nonexistent.log: No such file or directory\n"))

    @defer.inlineCallbacks
    def test_errors(self):
        code, out, _ = yield self.manage("log", "errors", self.log)
        self.assertEqual(code, 0)
        self.assertEqual(len(out.splitlines()), 2)
        self.assertIn("#error]", out)
        self.assertIn("Traceback", out)


class ConfigAndVersionTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def test_configList(self):
        code, out, _ = yield self.manage(
            "--rabbit_password=hush", "--sql_connection=postgres://nova:pw@db/nova", "config", "list"
        )
        self.assertEqual(code, 0)
        self.assertIn(f"--state_path={self.state}\n", out)
        self.assertIn("--rabbit_password=********\n", out)
        self.assertIn("--sql_connection=postgres://nova:********@db/nova\n", out)
        self.assertNotIn("hush", out)
        code, out, _ = yield self.manage("config", "list", "state_")
        self.assertEqual(out, f"--state_path={self.state}\n")

    @defer.inlineCallbacks
    def test_versionList(self):
        import nova
        from nova.db.schema import latestVersion

        code, out, _ = yield self.manage("version", "list")
        self.assertEqual(
            (code, out), (0, f"nova {nova.__version__} (schema version {latestVersion()})\n")
        )


class FakeRPC:
    def __init__(self, stats=None, error=None):
        self.stats, self.error, self.calls = stats, error, []

    def call(self, context, topic, method, args, timeout=None):
        self.calls.append((topic, method, args))
        if self.error is not None:
            return defer.fail(self.error)
        return succeed(self.stats)


class DescribeResourceTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        yield self.manage("db", "sync")
        from nova.db.api import inlineDatabase

        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        yield db.services.register("h1", "nova-compute", "compute", "nova")
        sizes = dict(instance_type="m1.small", vcpus=1, memory_mb=2048, local_gb=20)
        for project, state in (("p1", "running"), ("p1", "running"), ("p2", "running"), ("p2", "terminated")):
            yield db.instances.create(
                reservation_id="r", project_id=project, user_id="u", host="h1", state=state, **sizes
            )
        db.transactor.close()

    @defer.inlineCallbacks
    def describe(self, rpc, host="h1"):
        config, _ = parseFlags([f"--state_path={self.state}"])
        out = io.StringIO()
        env = manage.ManageEnvironment(config, reactor, out, io.StringIO())
        env._rpc = rpc
        try:
            yield manage.ServiceCommands(env).do_describe_resource(host)
        finally:
            yield env.close()
        return [line.split() for line in out.getvalue().splitlines()]

    @defer.inlineCallbacks
    def test_fromHostAndDatabase(self):
        stats = dict(
            vcpus=8, memory_mb=16384, local_gb=200, vcpus_used=2, memory_mb_used=4096,
            local_gb_used=40, hypervisor_type="fake",
        )
        rpc = FakeRPC(stats)
        rows = yield self.describe(rpc)
        self.assertEqual(rpc.calls, [("compute.h1", "getHostStats", {})])
        self.assertEqual(
            rows,
            [
                ["Host", "Project", "VCPUs", "Memory_MB", "Local_GB"],
                ["h1", "(total)", "8", "16384", "200"],
                ["h1", "(used_now)", "2", "4096", "40"],
                ["h1", "(used_max)", "3", "6144", "60"],
                ["h1", "(free)", "5", "10240", "140"],
                ["h1", "p1", "2", "4096", "40"],
                ["h1", "p2", "1", "2048", "20"],
            ],
        )

    @defer.inlineCallbacks
    def test_hostDoesNotAnswer(self):
        rows = yield self.describe(FakeRPC(error=exception.RPCTimeout("no answer in 60 s")))
        self.assertEqual(rows[1], ["h1", "(total)", "?", "?", "?"])
        self.assertEqual(rows[3], ["h1", "(used_max)", "3", "6144", "60"])
        self.assertEqual(rows[-1][:5], ["note:", "h1", "did", "not", "answer"])

    @defer.inlineCallbacks
    def test_localBus(self):
        code, out, err = yield self.manage("service", "describe_resource", "h1")
        self.assertEqual((code, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[1].split(), ["h1", "(total)", "?", "?", "?"])
        self.assertEqual(lines[-1], "note: total and used_now need the cloud's bus: --rpc_backend=amqp")

    @defer.inlineCallbacks
    def test_unknownHost(self):
        code, _, err = yield self.manage("service", "describe_resource", "h9")
        self.assertEqual((code, err), (1, "error: no nova-compute service on host h9\n"))

    @defer.inlineCallbacks
    def test_updateResourceRefuses(self):
        code, _, err = yield self.manage("service", "update_resource", "h1")
        self.assertEqual(code, 1)
        self.assertIn("service update_resource is not provided", err)
