# -*- test-case-name: tests.test_process -*-
"""
Running commands: always an argv list, never a shell, through an injected
L{IProcessRunner}.

Drivers that shell out (LVM, iSCSI targets, C{qemu-img}, network tools)
take a runner in their constructor.  Production builds a
L{ReactorProcessRunner}; tests give a L{FakeProcessRunner}, which records
every command and answers with scripted results, so a test asserts the
exact argv a driver would run.  L{runChecked} turns a non-zero exit into a
L{ProcessFailed} failure.
"""

import os
import shutil

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from zope.interface import Interface, implementer

from nova import exception

#: The PATH commands are looked up in when the environment gives none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ProcessError(exception.NovaError):
    """A command could not be run."""

    code = "ProcessError"


class CommandNotFound(ProcessError):
    """The command does not exist."""

    code = "CommandNotFound"


class ProcessTimeout(ProcessError):
    """
    A command ran longer than its timeout and was killed.

    @ivar argv: the command.
    @ivar out: what it wrote to standard output before it was killed.
    @ivar err: what it wrote to standard error.
    """

    code = "ProcessTimeout"

    def __init__(self, message=None, argv=(), out=b"", err=b""):
        super().__init__(message)
        self.argv = tuple(argv)
        self.out = out
        self.err = err


class ProcessFailed(ProcessError):
    """
    A command exited with a code its caller does not accept.

    @ivar argv: the command.
    @ivar exitCode: its exit code (the negated signal number if a signal
        ended it).
    @ivar out: its standard output (L{bytes}).
    @ivar err: its standard error (L{bytes}).
    """

    code = "ProcessFailed"

    def __init__(self, message=None, argv=(), exitCode=None, out=b"", err=b""):
        super().__init__(message)
        self.argv = tuple(argv)
        self.exitCode = exitCode
        self.out = out
        self.err = err


class IProcessRunner(Interface):
    """
    Runs commands.
    """

    def run(argv, stdin=None, timeout=None):
        """
        Run C{argv[0]} with the arguments C{argv}: no shell, no splitting,
        no globbing.

        @param argv: a non-empty L{list} or L{tuple} of L{str}.
        @param stdin: L{bytes} written to the command's standard input
            (which is then closed), or C{None} for none.
        @param timeout: seconds after which the command is killed, or
            C{None} for the runner's default.
        @return: L{Deferred} firing with C{(out, err, code)}: standard
            output and error as L{bytes} and the exit code (negative: the
            signal that ended it).  A non-zero code is a result, not a
            failure.  Fails with L{ProcessTimeout} when killed for its
            timeout, L{CommandNotFound} when C{argv[0]} does not exist, and
            L{ProcessError} for an argv that is not a list of strings.
        """


def checkArgv(argv):
    """
    @return: C{argv} as a L{tuple} of L{str}.
    @raise ProcessError: unless C{argv} is a non-empty list or tuple of
        strings without NUL characters.
    """
    if not isinstance(argv, (list, tuple)) or not argv:
        raise ProcessError(f"a command is a non-empty list of strings, not {argv!r}")
    for arg in argv:
        if not isinstance(arg, str):
            raise ProcessError(f"command argument {arg!r} is not a string")
        if "\0" in arg:
            raise ProcessError(f"command argument {arg!r} holds a NUL character")
    return tuple(argv)


def describe(argv):
    """
    @return: C{argv} as one line for messages and logs.
    """
    return " ".join(argv)


def runChecked(runner, argv, stdin=None, timeout=None, okCodes=(0,)):
    """
    Run a command that must succeed.

    @param runner: an L{IProcessRunner}.
    @param okCodes: the exit codes that count as success.
    @return: L{Deferred} firing with C{(out, err)}; failing with
        L{ProcessFailed} (carrying the output) for any other exit code, or
        as L{IProcessRunner.run} fails.
    """
    d = runner.run(argv, stdin=stdin, timeout=timeout)

    def check(result):
        out, err, code = result
        if code not in okCodes:
            detail = err.decode("utf-8", "replace").strip() or out.decode(
                "utf-8", "replace"
            ).strip()
            raise ProcessFailed(
                f"{describe(argv)} exited with {code}: {detail[:500]}",
                argv=argv,
                exitCode=code,
                out=out,
                err=err,
            )
        return out, err

    return d.addCallback(check)


class _Collector(ProcessProtocol):
    """
    Collects a command's output, feeds its input, and fires C{done} with
    C{(out, err, code)} when it has ended.
    """

    def __init__(self, stdin):
        self.stdin = stdin
        self.out = []
        self.err = []
        self.done = Deferred()

    def connectionMade(self):
        if self.stdin:
            self.transport.write(self.stdin)
        self.transport.closeStdin()

    def outReceived(self, data):
        self.out.append(data)

    def errReceived(self, data):
        self.err.append(data)

    def processEnded(self, reason):
        value = reason.value
        if isinstance(value, ProcessDone):
            code = 0
        elif isinstance(value, ProcessTerminated) and value.exitCode is not None:
            code = value.exitCode
        elif isinstance(value, ProcessTerminated) and value.signal is not None:
            code = -value.signal
        else:
            code = -1
        self.done.callback((b"".join(self.out), b"".join(self.err), code))


@implementer(IProcessRunner)
class ReactorProcessRunner:
    """
    Runs commands with C{reactor.spawnProcess}: the argv list goes to the
    kernel as it is.  The command gets a small environment (C{PATH} and
    C{LC_ALL=C}, so its messages are not translated) and is killed with
    SIGKILL when it outlives its timeout.

    @ivar reactor: an L{IReactorProcess} and L{IReactorTime}.
    @ivar timeout: the default timeout, in seconds.
    @ivar env: the environment of every command.
    """

    log = Logger()

    def __init__(self, reactor, timeout=120.0, env=None):
        self.reactor = reactor
        self.timeout = timeout
        if env is None:
            env = {"PATH": os.environ.get("PATH") or DEFAULT_PATH, "LC_ALL": "C"}
        self.env = dict(env)

    def _resolve(self, name):
        if "/" in name:
            if os.access(name, os.X_OK) and not os.path.isdir(name):
                return name
            return None
        return shutil.which(name, path=self.env.get("PATH", DEFAULT_PATH))

    def run(self, argv, stdin=None, timeout=None):
        try:
            argv = checkArgv(argv)
        except ProcessError as e:
            return fail(e)
        if stdin is not None and not isinstance(stdin, bytes):
            return fail(ProcessError("the standard input of a command is bytes"))
        executable = self._resolve(argv[0])
        if executable is None:
            return fail(CommandNotFound(f"{argv[0]}: command not found"))
        seconds = self.timeout if timeout is None else timeout
        collector = _Collector(stdin)
        try:
            transport = self.reactor.spawnProcess(
                collector, executable, list(argv), env=self.env, usePTY=False
            )
        except OSError as e:
            return fail(ProcessError(f"cannot run {describe(argv)}: {e}"))
        timedOut = []

        def kill():
            timedOut.append(True)
            try:
                transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass

        timer = self.reactor.callLater(seconds, kill)

        def ended(result):
            if timer.active():
                timer.cancel()
            out, err, code = result
            if timedOut:
                raise ProcessTimeout(
                    f"{describe(argv)} did not finish within {seconds:g} s and was killed",
                    argv=argv,
                    out=out,
                    err=err,
                )
            return result

        return collector.done.addCallback(ended)


@implementer(IProcessRunner)
class FakeProcessRunner:
    """
    An L{IProcessRunner} that runs nothing: it records each command and
    answers from a script.

    A script rule matches a command by a prefix of its argv; the newest
    matching rule answers.  A rule gives a result C{(out, err, code)}, an
    exception to fail with, or a callable C{(argv, stdin) -> result}; a
    rule made with C{once=True} answers one command only.  Commands no
    rule matches succeed with empty output, or fail if the runner is
    C{strict}.

    @ivar commands: every command run, as a L{tuple} of L{str}.
    @ivar stdins: the standard input given with each command (or C{None}).
    @ivar strict: whether unscripted commands fail.
    """

    def __init__(self, strict=False):
        self.commands = []
        self.stdins = []
        self.strict = strict
        self._rules = []

    def respond(self, prefix, out=b"", err=b"", code=0, once=False):
        """
        Answer commands starting with C{prefix} with C{(out, err, code)}.

        @param prefix: a L{tuple} (or L{list}) of leading argv items.
        @param out: L{bytes} or L{str} (encoded as UTF-8).
        """
        if isinstance(out, str):
            out = out.encode("utf-8")
        if isinstance(err, str):
            err = err.encode("utf-8")
        self._rules.append([tuple(prefix), (out, err, code), once])

    def failWith(self, prefix, error, once=False):
        """
        Fail commands starting with C{prefix} with C{error} (such as a
        L{ProcessTimeout}).
        """
        self._rules.append([tuple(prefix), error, once])

    def handle(self, prefix, handler, once=False):
        """
        Answer commands starting with C{prefix} with C{handler(argv,
        stdin)}, which returns C{(out, err, code)} or raises.
        """
        self._rules.append([tuple(prefix), handler, once])

    def run(self, argv, stdin=None, timeout=None):
        try:
            argv = checkArgv(argv)
        except ProcessError as e:
            return fail(e)
        self.commands.append(argv)
        self.stdins.append(stdin)
        for rule in reversed(self._rules):
            prefix, answer, once = rule
            if argv[: len(prefix)] != prefix:
                continue
            if once:
                self._rules.remove(rule)
            if isinstance(answer, BaseException):
                return fail(answer)
            if callable(answer):
                try:
                    return succeed(answer(argv, stdin))
                except Exception as e:
                    return fail(e)
            return succeed(answer)
        if self.strict:
            return fail(CommandNotFound(f"unscripted command: {describe(argv)}"))
        return succeed((b"", b"", 0))

    def commandsStartingWith(self, *prefix):
        """
        @return: the recorded commands that start with C{prefix}.
        """
        return [argv for argv in self.commands if argv[: len(prefix)] == prefix]
