"""
Tests for L{nova.config}.
"""

import os

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from nova.config import (
    FLAG_MODULES,
    Computed,
    Config,
    ConfigError,
    allFlags,
    configFromFlags,
    parseFlags,
    referenceMarkdown,
    sampleText,
)


class ParseFlagsTests(SynchronousTestCase):
    def flagfile(self, text, name=None):
        path = FilePath(self.mktemp()) if name is None else name
        path.parent().makedirs(ignoreExistingDirectory=True)
        path.setContent(text.encode("utf-8"))
        return path.path

    def test_defaults(self):
        config, positional = parseFlags([])
        self.assertEqual(positional, [])
        self.assertEqual(config.report_interval, 10.0)
        self.assertEqual(config.periodic_interval, 60.0)
        self.assertEqual(config.service_down_time, 60.0)
        self.assertEqual(config.rpc_backend, "local")
        self.assertEqual(config.ec2_port, 8773)
        self.assertEqual(config.s3_port, 3333)

    def test_computedDefaultsFollowOtherFlags(self):
        config, _ = parseFlags(["--state_path=/srv/nova"])
        self.assertEqual(config.sql_connection, "sqlite:/srv/nova/nova.sqlite")
        self.assertEqual(config.buckets_path, "/srv/nova/buckets")

    def test_forms(self):
        config, _ = parseFlags(
            ["--host=h1", "--rabbit_port", "5673", "--report_interval=2.5"]
        )
        self.assertEqual((config.host, config.rabbit_port, config.report_interval), ("h1", 5673, 2.5))

    def test_booleanForms(self):
        flag = next(f for f in allFlags().values() if f.kind == "bool")
        on, _ = parseFlags([f"--{flag.name}"])
        off, _ = parseFlags([f"--no{flag.name}"])
        explicit, _ = parseFlags([f"--{flag.name}=false"])
        self.assertIs(getattr(on, flag.name), True)
        self.assertIs(getattr(off, flag.name), False)
        self.assertIs(getattr(explicit, flag.name), False)

    def test_flagfile(self):
        path = self.flagfile(
            "# a comment\n\n--host=from-file\n  --rabbit_port=5999  \n--control_exchange=nova two\n"
        )
        config, _ = parseFlags([f"--flagfile={path}"])
        self.assertEqual(config.host, "from-file")
        self.assertEqual(config.rabbit_port, 5999)
        self.assertEqual(config.control_exchange, "nova two")

    def test_commandLineOverridesFlagfile(self):
        path = self.flagfile("--host=from-file\n")
        before, _ = parseFlags(["--host=cli", f"--flagfile={path}"])
        after, _ = parseFlags([f"--flagfile={path}", "--host=cli"])
        self.assertEqual(before.host, "cli")
        self.assertEqual(after.host, "cli")

    def test_nestedFlagfileRelativeToIncluder(self):
        base = FilePath(self.mktemp())
        inner = base.child("conf.d").child("inner.conf")
        self.flagfile("--rabbit_port=6000\n--host=inner\n", inner)
        outer = base.child("nova.conf")
        self.flagfile("--host=outer\n--flagfile=conf.d/inner.conf\n", outer)
        config, _ = parseFlags([f"--flagfile={outer.path}"])
        self.assertEqual(config.rabbit_port, 6000)
        self.assertEqual(config.host, "inner")

    def test_flagfileCycle(self):
        base = FilePath(self.mktemp())
        base.makedirs()
        base.child("a.conf").setContent(b"--flagfile=b.conf\n")
        base.child("b.conf").setContent(b"--flagfile=a.conf\n")
        error = self.assertRaises(
            ConfigError, parseFlags, [f"--flagfile={base.child('a.conf').path}"]
        )
        self.assertIn("includes itself", str(error))

    def test_missingFlagfile(self):
        error = self.assertRaises(ConfigError, parseFlags, ["--flagfile=/nonexistent/nova.conf"])
        self.assertIn("/nonexistent/nova.conf", str(error))

    def test_unknownFlag(self):
        error = self.assertRaises(ConfigError, parseFlags, ["--no_such_flag=1"])
        self.assertEqual(str(error), "unknown flag --no_such_flag")

    def test_unknownFlagInFlagfile(self):
        path = self.flagfile("--bogus=1\n")
        error = self.assertRaises(ConfigError, parseFlags, [f"--flagfile={path}"])
        self.assertEqual(str(error), "unknown flag --bogus")

    def test_badValues(self):
        cases = [
            (["--rabbit_port=abc"], "--rabbit_port: expected an integer, got 'abc'"),
            (["--report_interval=soon"], "--report_interval: expected a number, got 'soon'"),
            (["--rpc_backend=zeromq"], "--rpc_backend: 'zeromq' is not one of local, amqp"),
            (["--rabbit_port=0"], "--rabbit_port: 0 is less than the minimum 1"),
            (["--rabbit_port"], "--rabbit_port: needs a value"),
        ]
        for argv, message in cases:
            error = self.assertRaises(ConfigError, parseFlags, argv)
            self.assertEqual(str(error), message)
            self.assertNotIn("\n", str(error))

    def test_malformedFlagfileLine(self):
        path = self.flagfile("host=oops\n")
        error = self.assertRaises(ConfigError, parseFlags, [f"--flagfile={path}"])
        self.assertIn(":1: expected --name=value", str(error))

    def test_positional(self):
        self.assertRaises(ConfigError, parseFlags, ["service", "list"])
        config, positional = parseFlags(
            ["--host=h", "service", "list", "--", "--literal"], allowPositional=True
        )
        self.assertEqual(positional, ["service", "list", "--literal"])
        self.assertEqual(config.host, "h")

    def test_daemonDefaults(self):
        config, _ = parseFlags([], defaults={"ec2_port": 1234})
        self.assertEqual(config.ec2_port, 1234)
        config, _ = parseFlags(["--ec2_port=99"], defaults={"ec2_port": 1234})
        self.assertEqual(config.ec2_port, 99)


class ConfigTests(SynchronousTestCase):
    def test_frozen(self):
        config = configFromFlags(host="h")
        self.assertRaises(AttributeError, setattr, config, "host", "x")
        self.assertRaises(AttributeError, getattr, config, "nonexistent")

    def test_replace(self):
        config = configFromFlags(host="h")
        changed = config.replace(host="h2")
        self.assertEqual((config.host, changed.host), ("h", "h2"))
        self.assertRaises(ConfigError, config.replace, bogus=1)
        self.assertRaises(ConfigError, config.replace, rpc_backend="nope")

    def test_isConfig(self):
        self.assertIsInstance(configFromFlags(), Config)

    def test_everyFlagHasHelpAndValidDefault(self):
        for flag in allFlags().values():
            self.assertTrue(flag.help.strip(), flag.name)
            self.assertTrue(flag.help.strip().endswith("."), flag.name)


class SampleTests(SynchronousTestCase):
    def test_sampleInSync(self):
        """
        etc/nova/nova.conf.sample is what `make sample` generates from the
        flag definitions.
        """
        path = os.path.join(os.path.dirname(__file__), "..", "etc", "nova", "nova.conf.sample")
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), sampleText(), "run `make sample`")

    def test_sampleListsEveryFlag(self):
        text = sampleText()
        for name in allFlags():
            self.assertIn(f" --{name}=", text)


class ReferenceMarkdownTests(SynchronousTestCase):
    """
    Tests for L{referenceMarkdown}, the flags reference of the
    documentation site.
    """

    def test_everyModuleInOrder(self):
        """
        There is one section for each module of FLAG_MODULES, in order.
        """
        text = referenceMarkdown()
        positions = [text.index(f"\n## `{name}`\n") for name in FLAG_MODULES]
        self.assertEqual(positions, sorted(positions))

    def test_listsEveryFlag(self):
        """
        Every flag of allFlags() has a heading, and its type and default
        follow it.
        """
        text = referenceMarkdown()
        for name, flag in allFlags().items():
            heading = f"\n### `--{name}`\n\nType: "
            self.assertIn(heading, text)
            section = text[text.index(heading):].split("\n### ", 2)[1]
            self.assertIn(f"(`{flag.kind}`)", section)
            if not isinstance(flag.default, Computed) and flag.describeDefault():
                self.assertIn(f"Default: `{flag.describeDefault()}`.", section)
            for choice in flag.choices:
                self.assertIn(f"`{choice}`", section)

    def test_markdownEscaped(self):
        """
        Help text is escaped for Markdown: angle brackets do not become
        HTML, and flag names become code.
        """
        text = referenceMarkdown()
        self.assertIn(r"RPC topics (\<topic\>.\<host\>)", text)
        self.assertIn("the default of `--routing_source_ip`", text)
