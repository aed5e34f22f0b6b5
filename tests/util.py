"""
Test helpers shared by the whole suite.

Tests of real servers call L{requireServer}: on a bare machine they skip,
and with C{NOVA_TEST_REQUIRE_SERVICES=1} (set by CI) they fail instead.

Tests of services on one L{twisted.internet.task.Clock} share L{START},
the contexts L{ALICE}, L{BOB} and L{ADMIN}, L{DictQuotas},
L{makeDatabase}, L{createInstance} and L{ManageMixin} (nova-manage
in-process).
"""

import io
import os
import socket

from twisted.trial.unittest import SkipTest

from nova.context import RequestContext


#: How far apart the fixed ports of trial's workers are (L{workerPort}).
WORKER_PORT_STRIDE = 2000


def workerPort(port):
    """
    A fixed port of a test (a private server's, a target's) as this trial
    process uses it: C{port} itself in a plain run, and C{port} plus
    L{WORKER_PORT_STRIDE} times N in worker N of C{trial -jN} (whose
    working directory is C{_trial_temp/N}), so that two tests of one
    module running at once in two workers never share a port.
    """
    name = os.path.basename(os.getcwd())
    return port + (WORKER_PORT_STRIDE * int(name) if name.isdigit() else 0)


def makeTraversable(*paths):
    """
    Let other users (QEMU's, dnsmasq's, a server's) read and traverse the
    directories C{paths}: add the read and search bits for group and
    others, keeping every other bit, so that a shared parent such as
    C{/tmp} keeps its sticky, world-writable mode.
    """
    for path in paths:
        os.chmod(path, os.stat(path).st_mode | 0o055)


def servicesRequired():
    """
    @return: C{True} when tests of real servers must not skip.
    """
    return os.environ.get("NOVA_TEST_REQUIRE_SERVICES") == "1"


def portOpen(host, port, timeout=1.0):
    """
    @return: C{True} if a TCP connection to C{(host, port)} succeeds.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def requireServer(name, host, port):
    """
    Skip the calling test (or fail it, under CI) when C{name} does not
    answer on C{host:port}.

    @raise SkipTest: when the server is absent and not required.
    @raise AssertionError: when the server is absent and required.
    """
    if portOpen(host, port):
        return
    message = f"{name} is not answering on {host}:{port} (run `make services`)"
    if servicesRequired():
        raise AssertionError(message)
    raise SkipTest(message)


def requireCondition(ok, message):
    """
    Skip (or, under CI, fail) unless C{ok}.
    """
    if ok:
        return
    if servicesRequired():
        raise AssertionError(message)
    raise SkipTest(message)


POSTGRES_URI = os.environ.get("NOVA_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/nova_test")
MYSQL_URI = os.environ.get("NOVA_TEST_MYSQL", "mysql://root@127.0.0.1:3306/nova_test")
RABBIT = (os.environ.get("NOVA_TEST_RABBIT_HOST", "127.0.0.1"), 5672)
REDIS = ("127.0.0.1", 6379)
LDAP_URL = os.environ.get("NOVA_TEST_LDAP_URL", "ldap://127.0.0.1:3890")


#: When the clocks of tests start: 2023-11-14 22:13:20 UTC.
START = 1_700_000_000

ALICE = RequestContext(userId="alice", projectId="wonderland")
BOB = RequestContext(userId="bob", projectId="builders")
ADMIN = RequestContext(userId="root", projectId="ops", isAdmin=True)


class DictQuotas:
    """
    Quotas from a L{dict} of project -> limits.
    """

    def __init__(self, limits=None):
        self.limits = limits or {}

    def getQuota(self, projectId):
        return dict(self.limits.get(projectId, {}))


def createInstance(testCase, db, **fields):
    """
    Add an instance row: an C{m1.tiny} of alice's in project
    C{wonderland}, with C{fields} on top.

    @return: its L{nova.db.records.InstanceRecord}.
    """
    values = dict(
        reservation_id="r-00000001",
        project_id="wonderland",
        user_id="alice",
        instance_type="m1.tiny",
        vcpus=1,
        memory_mb=512,
        local_gb=0,
    )
    values.update(fields)
    return testCase.successResultOf(db.instances.create(**values))


def makeDatabase(testCase, clock):
    """
    @return: a L{nova.db.api.NovaDatabase} on an in-memory SQLite
        database with the schema applied, closed when C{testCase} ends.
    """
    from nova.db.api import inlineDatabase

    db = inlineDatabase("sqlite:", clock)
    testCase.successResultOf(db.sync())
    testCase.addCleanup(db.transactor.close)
    return db


class ManageMixin:
    """
    For trial C{TestCase}s of nova-manage: C{self.state} is a directory of
    the test's own for C{--state_path}, and L{manage} runs the command
    in-process on the reactor.
    """

    def setUp(self):
        self.state = os.path.abspath(self.mktemp())
        return super().setUp()

    def manageFlags(self):
        """
        @return: the flags given before every command (C{--state_path}).
        """
        return (f"--state_path={self.state}",)

    def manage(self, *argv):
        """
        Run C{nova-manage <manageFlags> <argv>}.

        @return: L{Deferred} firing with C{(exit code, standard output,
            standard error)}.
        """
        from twisted.internet import reactor

        from nova.manage import run

        out, err = io.StringIO(), io.StringIO()
        d = run(reactor, [*self.manageFlags(), *argv], out, err)
        return d.addCallback(lambda code: (code, out.getvalue(), err.getvalue()))
