# -*- test-case-name: tests.db.test_store -*-
"""
Tests for L{nova.db.store}: which errors are conflicts, and how a
transaction that loses one runs again.
"""

import weakref

from storm.exceptions import OperationalError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova import exception
from nova.db.store import (
    CONFLICT_RETRIES,
    InlineTransactor,
    TransactionConflict,
    isConflict,
    openDatabase,
)


class ConflictTests(TestCase):
    def test_isConflict(self):
        class PGError(Exception):
            pgcode = "40001"

        def wrapped(cause, message="boom"):
            error = exception.DatabaseError(message)
            error.__cause__ = cause
            return error

        self.assertTrue(isConflict(wrapped(PGError())))
        self.assertTrue(isConflict(wrapped(Exception(1213, "Deadlock found"))))
        self.assertTrue(isConflict(exception.DatabaseError("could not serialize: x")))
        self.assertFalse(isConflict(wrapped(Exception(1062, "Duplicate entry"))))
        self.assertFalse(isConflict(exception.NovaError("could not serialize")))

    def test_driverErrors(self):
        """
        The errors drivers and Storm raise, before they are wrapped.
        """

        class MySQLOperationalError(Exception):
            pass

        MySQLOperationalError.__name__ = "OperationalError"
        self.assertTrue(isConflict(MySQLOperationalError(1205, "Lock wait timeout exceeded")))
        self.assertTrue(isConflict(OperationalError("database is locked")))
        self.assertTrue(isConflict(TransactionConflict("taken concurrently")))
        self.assertFalse(isConflict(OperationalError("no such table: x")))
        self.assertFalse(isConflict(ValueError("deadlock")))


class RetryTests(SynchronousTestCase):
    """
    The retry of L{nova.db.store}'s transactors, through an
    L{InlineTransactor}.
    """

    def setUp(self):
        self.transactor = InlineTransactor(openDatabase("sqlite:"))
        self.addCleanup(self.transactor.close)

    def test_conflictRunsAgain(self):
        runs = []

        def work(store, value):
            runs.append(value)
            if len(runs) < 3:
                raise TransactionConflict("lost")
            return value * 2

        self.assertEqual(self.successResultOf(self.transactor.transact(work, 21)), 42)
        self.assertEqual(runs, [21, 21, 21])

    def test_attemptPassedWhenAsked(self):
        """
        A function with an C{attempt} parameter is told which run it is;
        one without is called as it is.
        """
        attempts = []

        def claim(store, name, attempt=0):
            attempts.append((name, attempt))
            if attempt < 2:
                raise TransactionConflict("taken concurrently")
            return name

        self.assertEqual(self.successResultOf(self.transactor.transact(claim, "a")), "a")
        self.assertEqual(attempts, [("a", 0), ("a", 1), ("a", 2)])

        class Component:
            def thd_claim(self, store, attempt):
                attempts.append(attempt)
                return attempt

        del attempts[:]
        self.assertEqual(self.successResultOf(self.transactor.transact(Component().thd_claim)), 0)
        self.assertEqual(self.successResultOf(self.transactor.transact(lambda s: "plain")), "plain")

    def test_givesUp(self):
        """
        After L{CONFLICT_RETRIES} runs the conflict is the result.
        """
        runs = []

        def work(store, attempt):
            runs.append(attempt)
            raise TransactionConflict("always lost")

        self.failureResultOf(self.transactor.transact(work), TransactionConflict)
        self.assertEqual(runs, list(range(CONFLICT_RETRIES)))

    def test_otherErrorsOnce(self):
        runs = []

        def work(store):
            runs.append(1)
            raise exception.NotFound("gone")

        self.failureResultOf(self.transactor.transact(work), exception.NotFound)
        self.assertEqual(runs, [1])

    def test_stormErrorWrapped(self):
        """
        A database error that is no conflict runs once and becomes a
        L{nova.exception.DatabaseError} whose cause is Storm's.
        """
        runs = []

        def work(s):
            runs.append(1)
            s.execute("SELECT * FROM missing_table")

        failure = self.failureResultOf(self.transactor.transact(work), exception.DatabaseError)
        self.assertIsInstance(failure.value.__cause__, OperationalError)
        self.assertEqual(runs, [1])

    def test_resultRefused(self):
        """
        A transaction may not hand a Storm result out of its thread: it
        would be read or freed there after the store is reset.
        """
        failure = self.failureResultOf(
            self.transactor.transact(lambda s: s.execute("SELECT 1")), TypeError
        )
        self.assertIn("returned a Storm result", str(failure.value))
        self.assertEqual(self.successResultOf(self.transactor.transact(lambda s: s.execute("SELECT 1").get_one())), (1,))

    def test_failedFramesLoseTheirLocals(self):
        """
        The frames of a failed transaction keep no local variables (such as
        cursors), so nothing of the connection outlives it in the error.
        """
        held = []

        class Marker:
            pass

        def work(s):
            marker = Marker()
            held.append(weakref.ref(marker))
            raise exception.NotFound("gone")

        failure = self.failureResultOf(self.transactor.transact(work), exception.NotFound)
        self.assertIsNone(held[0]())
        self.assertIsNotNone(failure.value.__traceback__)


class UnavailableTests(SynchronousTestCase):
    """
    Errors saying the database cannot be reached become
    L{DatabaseUnavailable}; others do not.
    """

    def setUp(self):
        self.transactor = InlineTransactor(openDatabase("sqlite:"))
        self.addCleanup(self.transactor.close)

    def test_isUnavailable(self):
        from storm.exceptions import DisconnectionError, IntegrityError, ProgrammingError

        from nova.db.store import DatabaseUnavailable, isUnavailable

        class PGError(Exception):
            def __init__(self, pgcode):
                self.pgcode = pgcode

        class OperationalError(Exception):
            pass

        def wrapped(cause):
            error = exception.DatabaseError("boom")
            error.__cause__ = cause
            return error

        self.assertTrue(isUnavailable(DisconnectionError("server closed the connection")))
        self.assertTrue(isUnavailable(wrapped(PGError("57P01"))))
        self.assertTrue(isUnavailable(wrapped(PGError("08006"))))
        self.assertTrue(isUnavailable(OperationalError(2003, "Can't connect to MySQL server")))
        self.assertTrue(isUnavailable(OperationalError(2013, "Lost connection")))
        self.assertTrue(isUnavailable(DatabaseUnavailable("x")))
        self.assertFalse(isUnavailable(wrapped(PGError("23505"))))
        self.assertFalse(isUnavailable(IntegrityError("duplicate key")))
        self.assertFalse(isUnavailable(ProgrammingError("syntax error")))
        self.assertFalse(isUnavailable(OperationalError(1213, "Deadlock found")))
        self.assertFalse(isUnavailable(exception.DatabaseError("cannot connect")))

    def test_disconnectionIsUnavailable(self):
        from storm.exceptions import DisconnectionError

        from nova.db.store import DatabaseUnavailable

        runs = []

        def work(store):
            runs.append(1)
            raise DisconnectionError("server closed the connection unexpectedly")

        failure = self.failureResultOf(self.transactor.transact(work), DatabaseUnavailable)
        self.assertIsInstance(failure.value, exception.DatabaseError)
        self.assertEqual(failure.value.outage, "database")
        self.assertEqual(runs, [1])

    def test_readOnlyRunsOnceMore(self):
        """
        A read-only transaction whose connection was dead runs once more
        (on the connection Storm makes anew); once only.
        """
        from storm.exceptions import DisconnectionError

        from nova.db.store import DatabaseUnavailable, readOnly

        runs = []

        @readOnly
        def flaky(store):
            runs.append(1)
            if len(runs) == 1:
                raise DisconnectionError("terminating connection due to administrator command")
            return store.execute("SELECT 1").get_one()

        self.assertEqual(self.successResultOf(self.transactor.transact(flaky)), (1,))

        @readOnly
        def down(store):
            runs.append(1)
            raise DisconnectionError("could not connect to server")

        del runs[:]
        self.failureResultOf(self.transactor.transact(down), DatabaseUnavailable)
        self.assertEqual(runs, [1, 1])

    def test_constraintIsNotUnavailable(self):
        from nova.db.store import DatabaseUnavailable

        def work(s):
            s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            s.execute("INSERT INTO t VALUES (1)")
            s.execute("INSERT INTO t VALUES (1)")

        failure = self.failureResultOf(self.transactor.transact(work), exception.DatabaseError)
        self.assertNotIsInstance(failure.value, DatabaseUnavailable)


class ConnectFailureTests(TestCase):
    """
    A thread that cannot connect fails with L{DatabaseUnavailable} and
    connects on its next transaction.
    """

    def test_connectFailsThenRecovers(self):
        from twisted.internet import reactor

        from nova.db.store import DatabaseUnavailable, Transactor

        import os

        database = openDatabase("sqlite:" + os.path.abspath(self.mktemp() + ".sqlite"))
        transactor = Transactor(database, reactor, maxThreads=1)
        transactor.startService()
        self.addCleanup(transactor.stopService)
        real = database.raw_connect
        attempts = []

        def refuse():
            attempts.append(1)
            if len(attempts) == 1:
                from storm.exceptions import OperationalError

                raise OperationalError("connection refused")
            return real()

        database.raw_connect = refuse
        d = transactor.transact(lambda s: s.execute("SELECT 1").get_one())
        d = self.assertFailure(d, DatabaseUnavailable)
        d.addCallback(lambda _: transactor.transact(lambda s: s.execute("SELECT 1").get_one()))
        d.addCallback(self.assertEqual, (1,))
        return d
