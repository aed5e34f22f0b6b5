"""
Tests for L{nova.util.process}: the real runner with harmless commands,
and the recording fake.
"""

import os
import time

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from nova.util.process import (
    CommandNotFound,
    FakeProcessRunner,
    IProcessRunner,
    ProcessError,
    ProcessFailed,
    ProcessTimeout,
    ReactorProcessRunner,
    runChecked,
)


class ReactorProcessRunnerTests(TestCase):
    """
    L{ReactorProcessRunner} runs real commands.
    """

    def setUp(self):
        self.runner = ReactorProcessRunner(reactor, timeout=10)

    def test_provides(self):
        verifyObject(IProcessRunner, self.runner)

    @inlineCallbacks
    def test_echo(self):
        result = yield self.runner.run(["/bin/echo", "hello", "two words", "$HOME;*"])
        self.assertEqual(result, (b"hello two words $HOME;*\n", b"", 0))

    @inlineCallbacks
    def test_pathLookup(self):
        out, err, code = yield self.runner.run(["echo", "found"])
        self.assertEqual((out, code), (b"found\n", 0))

    @inlineCallbacks
    def test_exitCode(self):
        result = yield self.runner.run(["/bin/false"])
        self.assertEqual(result, (b"", b"", 1))

    @inlineCallbacks
    def test_stderrAndCode(self):
        out, err, code = yield self.runner.run(
            ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]
        )
        self.assertEqual((out, err, code), (b"out\n", b"err\n", 3))

    @inlineCallbacks
    def test_stdin(self):
        out, err, code = yield self.runner.run(["/bin/cat"], stdin=b"fed\nthrough")
        self.assertEqual((out, code), (b"fed\nthrough", 0))

    @inlineCallbacks
    def test_noStdinMeansEOF(self):
        """
        Without input, the command's standard input is closed at once (a
        command reading it does not hang).
        """
        out, err, code = yield self.runner.run(["/bin/cat"])
        self.assertEqual((out, code), (b"", 0))

    @inlineCallbacks
    def test_environment(self):
        out, err, code = yield self.runner.run(["/usr/bin/env"])
        names = sorted(line.split(b"=", 1)[0] for line in out.splitlines())
        self.assertEqual(names, [b"LC_ALL", b"PATH"])

    @inlineCallbacks
    def test_timeoutKills(self):
        started = time.monotonic()
        failure = yield self.assertFailure(
            self.runner.run(["/bin/sleep", "5"], timeout=0.2), ProcessTimeout
        )
        self.assertLess(time.monotonic() - started, 4)
        self.assertEqual(failure.argv, ("/bin/sleep", "5"))
        self.assertIn("0.2 s", str(failure))

    @inlineCallbacks
    def test_timeoutKeepsOutput(self):
        failure = yield self.assertFailure(
            self.runner.run(["/bin/sh", "-c", "echo partial; exec sleep 5"], timeout=0.5),
            ProcessTimeout,
        )
        self.assertEqual(failure.out, b"partial\n")

    @inlineCallbacks
    def test_signalCode(self):
        out, err, code = yield self.runner.run(["/bin/sh", "-c", "kill -TERM $$"])
        self.assertEqual(code, -15)

    @inlineCallbacks
    def test_missingCommand(self):
        yield self.assertFailure(
            self.runner.run(["no-such-command-for-nova-tests"]), CommandNotFound
        )
        yield self.assertFailure(
            self.runner.run(["/nonexistent/bin/tool"]), CommandNotFound
        )

    @inlineCallbacks
    def test_noShell(self):
        """
        Arguments are never interpreted by a shell.
        """
        marker = os.path.abspath(self.mktemp())
        out, err, code = yield self.runner.run(["/bin/echo", f"x; touch {marker}"])
        self.assertEqual(out, f"x; touch {marker}\n".encode())
        self.assertFalse(os.path.exists(marker))

    @inlineCallbacks
    def test_badArgv(self):
        for argv in ("/bin/echo hello", [], ["/bin/echo", 3], ["/bin/echo", "a\0b"], None):
            yield self.assertFailure(self.runner.run(argv), ProcessError)

    @inlineCallbacks
    def test_runChecked(self):
        out, err = yield runChecked(self.runner, ["/bin/echo", "ok"])
        self.assertEqual(out, b"ok\n")
        failure = yield self.assertFailure(
            runChecked(self.runner, ["/bin/sh", "-c", "echo broken >&2; exit 4"]),
            ProcessFailed,
        )
        self.assertEqual((failure.exitCode, failure.err), (4, b"broken\n"))
        self.assertIn("exited with 4: broken", str(failure))
        out, err = yield runChecked(self.runner, ["/bin/false"], okCodes=(0, 1))
        self.assertEqual(out, b"")


class FakeProcessRunnerTests(SynchronousTestCase):
    """
    L{FakeProcessRunner} records commands and answers from its script.
    """

    def test_provides(self):
        verifyObject(IProcessRunner, FakeProcessRunner())

    def test_recordsAndDefaults(self):
        runner = FakeProcessRunner()
        self.assertEqual(
            self.successResultOf(runner.run(["lvcreate", "-L", "1G"], stdin=b"x")),
            (b"", b"", 0),
        )
        self.assertEqual(runner.commands, [("lvcreate", "-L", "1G")])
        self.assertEqual(runner.stdins, [b"x"])

    def test_script(self):
        runner = FakeProcessRunner()
        runner.respond(("lvs",), out="a\nb\n")
        runner.respond(("lvs", "vg1"), code=5, err=b"no vg", once=True)
        self.assertEqual(self.successResultOf(runner.run(["lvs", "vg1"])), (b"", b"no vg", 5))
        self.assertEqual(self.successResultOf(runner.run(["lvs", "vg1"])), (b"a\nb\n", b"", 0))
        self.assertEqual(self.successResultOf(runner.run(["lvs"])), (b"a\nb\n", b"", 0))

    def test_failWithAndHandle(self):
        runner = FakeProcessRunner()
        runner.failWith(("dd",), ProcessTimeout("slow"))
        self.failureResultOf(runner.run(["dd", "if=/dev/zero"]), ProcessTimeout)
        runner.handle(("cat",), lambda argv, stdin: (stdin, b"", 0))
        self.assertEqual(self.successResultOf(runner.run(["cat"], stdin=b"hi")), (b"hi", b"", 0))

    def test_strict(self):
        runner = FakeProcessRunner(strict=True)
        self.failureResultOf(runner.run(["rm", "-rf", "/"]), CommandNotFound)
        self.assertEqual(runner.commands, [("rm", "-rf", "/")])

    def test_badArgv(self):
        runner = FakeProcessRunner()
        self.failureResultOf(runner.run("lvcreate -L 1G"), ProcessError)
        self.assertEqual(runner.commands, [])

    def test_runChecked(self):
        runner = FakeProcessRunner()
        runner.respond(("tgtadm",), code=22, err=b"this target already exists")
        failure = self.failureResultOf(runChecked(runner, ["tgtadm", "--op", "new"]), ProcessFailed)
        self.assertEqual(failure.value.exitCode, 22)
        self.assertIn("already exists", str(failure.value))

    def test_commandsStartingWith(self):
        runner = FakeProcessRunner()
        runner.run(["a", "1"])
        runner.run(["b", "2"])
        runner.run(["a", "3"])
        self.assertEqual(runner.commandsStartingWith("a"), [("a", "1"), ("a", "3")])
