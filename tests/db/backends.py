"""
Fresh databases on each backend for tests: a new SQLite file, or a new,
uniquely named PostgreSQL or MariaDB database dropped after the test.
"""

import os
import uuid

from twisted.internet import defer, reactor, task, threads

from nova.db.api import NovaDatabase
from nova.db.store import Transactor, openDatabase
from tests.util import START, requireServer

BACKENDS = ("sqlite", "postgres", "mysql")


def _createPostgres(testCase):
    requireServer("PostgreSQL", "127.0.0.1", 5432)
    import psycopg2

    name = "nova_t_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")

    def drop():
        cursor = admin.cursor()
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()

    testCase.addCleanup(drop)
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def _createMySQL(testCase):
    requireServer("MariaDB", "127.0.0.1", 3306)
    import MySQLdb

    name = "nova_t_" + uuid.uuid4().hex[:12]
    admin = MySQLdb.connect(host="127.0.0.1", port=3306, user="root")
    admin.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")

    def drop():
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()

    testCase.addCleanup(drop)
    return f"mysql://root@127.0.0.1:3306/{name}"


def postgresAdmin(name, *statements):
    """
    Run statements on the PostgreSQL server's C{postgres} database, in a
    thread: C{{db}} in them is the database C{name}, C{%s} its name as a
    parameter.

    @return: L{Deferred} firing when they ran.
    """
    import psycopg2

    def run():
        connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
        connection.autocommit = True
        try:
            cursor = connection.cursor()
            for statement in statements:
                cursor.execute(statement.replace("{db}", name), (name,) if "%s" in statement else None)
        finally:
            connection.close()

    return threads.deferToThread(run)


def freshURI(testCase, backend):
    """
    @return: the URI of a new, empty database of C{backend}, removed when
        C{testCase} ends.
    """
    if backend == "sqlite":
        return "sqlite:" + os.path.abspath(testCase.mktemp() + ".sqlite")
    if backend == "postgres":
        return _createPostgres(testCase)
    if backend == "mysql":
        return _createMySQL(testCase)
    raise ValueError(backend)


def freshDatabase(testCase, backend, clock=reactor):
    """
    @return: a L{NovaDatabase} over a thread-pool L{Transactor} on a new
        database of C{backend}, started now and stopped at cleanup.  The
        schema is not applied: call C{sync()}.
    """
    uri = freshURI(testCase, backend)
    transactor = Transactor(openDatabase(uri), reactor, maxThreads=2)
    transactor.startService()
    testCase.addCleanup(transactor.stopService)
    return NovaDatabase(transactor, clock)


class BackendTestsMixin:
    """
    Runs a test case on every backend: subclasses made by
    L{backendCases} set C{backend}.
    """

    backend = "sqlite"

    def makeDatabase(self, clock=reactor):
        return freshDatabase(self, self.backend, clock)

    @defer.inlineCallbacks
    def setUpDatabase(self):
        """
        Set C{self.clock}, a L{task.Clock} at L{START}, and C{self.db}, a
        fresh database of this case's backend on it with the schema
        applied.

        @return: L{Deferred} firing when it is ready.
        """
        self.clock = task.Clock()
        self.clock.advance(START)
        self.db = self.makeDatabase(self.clock)
        yield self.db.sync()


def backendCases(mixin, testBase, namespace, prefix):
    """
    Define one test case class per backend in C{namespace}.
    """
    for backend in BACKENDS:
        name = f"{prefix}{backend.capitalize()}Tests"
        # Named as if written in the module that asked, so that trial's
        # workers (-j) find them by name.
        namespace[name] = type(
            name,
            (mixin, testBase),
            {"backend": backend, "__module__": namespace["__name__"], "__qualname__": name},
        )
