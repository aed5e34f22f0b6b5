"""
Nova daemons as real processes for integration tests: C{twistd -n} with a
log file the test polls, stopped with SIGTERM (or killed) at cleanup.
"""

import os
import re
import signal
import subprocess
import sys

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, maybeDeferred
from twisted.internet.task import deferLater

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
NOVA_MANAGE = os.path.join(os.path.dirname(sys.executable), "nova-manage")


def poll(predicate, timeout=30.0, step=0.1, what="condition"):
    """
    @return: L{Deferred} firing with C{predicate()}'s first true value;
        failing with L{AssertionError} after C{timeout} seconds.
    """
    deadline = reactor.seconds() + timeout

    def check():
        value = predicate()
        if value:
            return value
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        return deferLater(reactor, step, check)

    return maybeDeferred(check)


def runManage(*argv, timeout=60):
    """
    Run nova-manage and return C{(code, stdout, stderr)} (blocking: call it
    in a thread or accept the short block).
    """
    result = subprocess.run(
        [NOVA_MANAGE, *argv], capture_output=True, text=True, timeout=timeout
    )
    return result.returncode, result.stdout, result.stderr


class Daemon:
    """
    One twistd process.
    """

    def __init__(self, testCase, plugin, *flags, name=None, prefix=()):
        """
        @param prefix: a command that runs twistd, as C{("ip", "netns",
            "exec", name)} (it must exec twistd, so that signals reach it).
        """
        self.plugin = plugin
        self.name = name or plugin
        self.logPath = os.path.abspath(testCase.mktemp() + ".log")
        self.argv = [*prefix, TWISTD, "-n", "--pidfile=", f"--logfile={self.logPath}", plugin, *flags]
        self.process = None
        testCase.addCleanup(self.kill)

    def start(self):
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        return self

    def log(self):
        try:
            with open(self.logPath, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def waitForLog(self, pattern, timeout=30.0):
        """
        @return: L{Deferred} firing with the first match of C{pattern}.
        """
        regex = re.compile(pattern)

        def found():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}: "
                    f"{self.process.stderr.read()}\n{self.log()[-3000:]}"
                )
            return regex.search(self.log())

        return poll(found, timeout, what=f"{pattern!r} in the log of {self.name}")

    def stop(self, timeout=30.0):
        """
        SIGTERM the process.

        @return: L{Deferred} firing with its exit code.
        """
        self.process.send_signal(signal.SIGTERM)
        return poll(
            lambda: self.process.poll() is not None, timeout, what=f"{self.name} to exit"
        ).addCallback(lambda _: self.process.returncode)

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()


def separateDaemons(testCase, flags, computeFlags=()):
    """
    A cloud's daemons as separate processes, not started yet:
    nova-objectstore on C{store}, nova-network on C{net1}, nova-scheduler
    on C{ctl}, nova-compute on C{c1} (with C{computeFlags} too) and
    nova-api on C{api}, each with C{flags}.

    @return: a L{list} of L{Daemon}s, in the order to start them.
    """
    return [
        Daemon(testCase, "nova-objectstore", *flags, "--host=store", name="objectstore"),
        Daemon(testCase, "nova-network", *flags, "--host=net1", name="network"),
        Daemon(testCase, "nova-scheduler", *flags, "--host=ctl", name="scheduler"),
        Daemon(testCase, "nova-compute", *flags, "--host=c1", *computeFlags, name="c1"),
        Daemon(testCase, "nova-api", *flags, "--host=api", name="api"),
    ]


def startDaemons(daemons, timeout=60):
    """
    Start C{daemons} and wait until each consumes (nova-api: serves).

    @return: L{Deferred} firing with C{daemons}.
    """
    for daemon in daemons:
        daemon.start()
    waits = [daemon.waitForLog(r"(consumes|on api started)", timeout=timeout) for daemon in daemons]
    return gatherResults(waits, consumeErrors=True).addCallback(lambda _: daemons)

