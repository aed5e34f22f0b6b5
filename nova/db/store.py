# -*- test-case-name: tests.db.test_store -*-
"""
Opening databases and running transactions in threads.

A transaction is a function C{fn(store, ...)} run by a L{Transactor}: in a
thread of its pool, committed if it returns, rolled back if it raises.  Its
result must not hold Storm objects: components turn them into records
first.

A transaction that loses a conflict with a concurrent one (L{isConflict})
runs again, up to L{CONFLICT_RETRIES} times in all.  A function that takes
a keyword argument C{attempt} is told which run this is (0, 1, ...), so
after a conflict it can try other rows than its rivals; it may itself
raise L{TransactionConflict} to be run again.

A function marked L{readOnly} only reads: its transaction ends with a
rollback instead of a commit (nothing to write, no fsync), and on SQLite
it runs in the reader threads, beside the one writer thread, so reads do
not queue behind writes.  Each thread keeps its own connection.  SQLite
files are opened in WAL mode with a busy timeout (unless the URI sets
C{journal_mode} or C{timeout}), so readers see the last committed state
while the writer works.

When the connection is the problem (the server cannot be reached, or the
connection died: L{isUnavailable}) a transaction fails with
L{DatabaseUnavailable}, which the APIs answer as a retryable 503.  The
transactor recovers on its own: a thread whose connection died reconnects
on its next transaction (Storm reconnects after the rollback that follows
a disconnection), and a thread that could not connect at all tries again
on its next one.  A read-only transaction whose connection turns out to
be dead is run once more on a new connection; a writing one is not (it
may have been committed before the connection died).
"""

import inspect
import os
import threading
import traceback

from storm.database import ConnectionWrapper, Result, create_database
from storm.databases.sqlite import SQLite, sqlite
from storm.uri import URI
from storm.exceptions import DisconnectionError, Error as StormDBError
from storm.store import ResultSet, Store
from twisted.application.service import Service
from twisted.internet.defer import fail, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from nova import exception

#: How many values one C{IN (...)} list holds at most (SQLite allows
#: 32,766 bound values; kept well below).
CHUNK = 500


def chunks(values, size=CHUNK):
    """
    @return: C{values} (a sequence) in lists of at most C{size}, for
        C{IN (...)} conditions.
    """
    values = list(values)
    return [values[i:i + size] for i in range(0, len(values), size)]


def normaliseURI(uri):
    """
    Accept the common spellings of database URIs.

    @return: the Storm form of C{uri}.
    """
    if uri.startswith("postgresql://"):
        return "postgres://" + uri[len("postgresql://"):]
    if uri.startswith("mysql+mysqldb://"):
        return "mysql://" + uri[len("mysql+mysqldb://"):]
    return uri


#: What an SQLite file URI gets unless it says otherwise: write-ahead
#: logging (readers do not block the writer, nor it them) and a busy
#: timeout in seconds.
SQLITE_OPTIONS = (("journal_mode", "WAL"), ("synchronous", "NORMAL"), ("timeout", "30"))


class SQLiteFile(SQLite):
    """
    Storm's SQLite database whose connections may be closed by another
    thread than the one that made them (L{Transactor.stopService} closes
    every thread's connection).  Each connection is still used by one
    thread only.
    """

    def _raw_connect(self):
        raw = sqlite.connect(
            self._filename, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        connection = ConnectionWrapper(raw, self)
        for pragma, value in (
            ("synchronous", self._synchronous),
            ("journal_mode", self._journal_mode),
            ("foreign_keys", self._foreign_keys),
        ):
            if value is not None:
                connection.execute(f"PRAGMA {pragma} = {value}")
        return connection


def _withSQLiteOptions(uri):
    """
    @return: C{uri} (an SQLite file URI) with L{SQLITE_OPTIONS} it does not
        set itself.
    """
    base, _, query = uri.partition("?")
    given = {part.split("=", 1)[0] for part in query.split("&") if part}
    extra = [f"{name}={value}" for name, value in SQLITE_OPTIONS if name not in given]
    parts = [part for part in query.split("&") if part] + extra
    return base + ("?" + "&".join(parts) if parts else "")


def openDatabase(uri):
    """
    @return: a Storm database for C{uri}.
    @raise nova.exception.DatabaseError: for an unsupported URI.
    """
    uri = normaliseURI(uri)
    scheme = uri.split(":", 1)[0]
    if scheme not in ("sqlite", "postgres", "mysql"):
        raise exception.DatabaseError(
            f"unsupported database {scheme!r}: use sqlite:, postgres:// or mysql://"
        )
    if scheme == "sqlite":
        path = uri[len("sqlite:"):].split("?", 1)[0]
        if path and path != ":memory:":
            if not path.startswith("/"):
                raise exception.DatabaseError(f"sqlite path must be absolute: {uri!r}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return SQLiteFile(URI(_withSQLiteOptions(uri)))
    try:
        return create_database(uri)
    except ImportError as e:
        raise exception.DatabaseError(f"no driver for {scheme}: {e}")


def dialect(store):
    """
    @return: C{"sqlite"}, C{"postgres"} or C{"mysql"} for C{store}'s database.
    """
    for cls in type(store.get_database()).__mro__:
        if cls.__module__.startswith("storm.databases."):
            return cls.__module__.rsplit(".", 1)[-1]
    raise exception.DatabaseError(f"unknown database {store.get_database()!r}")


#: How many times in all a transaction that keeps losing conflicts with
#: concurrent ones (L{isConflict}) runs before its error is returned.
CONFLICT_RETRIES = 5


class DatabaseUnavailable(exception.DatabaseError):
    """
    The database cannot be reached: connecting failed or the connection
    was lost.  Transient: the same request may succeed later.

    @cvar outage: what is out, for L{nova.util.outage.OutageLog}.
    """

    code = "DatabaseUnavailable"
    outage = "database"


#: PostgreSQL SQLSTATEs that say the connection is the problem: class 08
#: (connection exception) and the shutdown and too-many-connections codes.
_PG_UNAVAILABLE = frozenset(("53300", "57000", "57P01", "57P02", "57P03"))

#: MySQL client errors that say the same: cannot connect (2002, 2003, 2005),
#: server gone away or connection lost (2006, 2013), too many connections
#: (1040).
_MYSQL_UNAVAILABLE = frozenset((1040, 2002, 2003, 2005, 2006, 2013))


def isUnavailable(error):
    """
    @param error: an exception a transaction raised (as for
        L{isConflict}).
    @return: C{True} if it says the database could not be reached or the
        connection died (Storm's C{DisconnectionError}, PostgreSQL's
        connection SQLSTATEs, MySQL's connection errors, a failed connect):
        not for constraint violations, programming errors or conflicts.
    """
    while error is not None:
        if isinstance(error, (DatabaseUnavailable, DisconnectionError)):
            return True
        pgcode = getattr(error, "pgcode", None)
        if isinstance(pgcode, str) and (pgcode.startswith("08") or pgcode in _PG_UNAVAILABLE):
            return True
        if type(error).__name__ == "OperationalError":
            args = getattr(error, "args", ())
            if args and isinstance(args[0], int) and args[0] in _MYSQL_UNAVAILABLE:
                return True
        error = error.__cause__
    return False


class TransactionConflict(exception.DatabaseError):
    """
    The transaction lost to a concurrent one and may simply run again.
    """

    code = "TransactionConflict"


#: What the database says when a transaction lost to a concurrent one
#: (PostgreSQL's serialization failure, deadlocks, SQLite's lock).
_CONFLICT_TEXT = ("could not serialize", "deadlock", "database is locked")


def isConflict(error):
    """
    @param error: an exception a transaction raised: the driver's, Storm's
        wrapper of it (whose C{__cause__} is the driver's), or a
        L{nova.exception.DatabaseError} wrapping either.
    @return: C{True} if it says the transaction lost to a concurrent one
        (L{TransactionConflict}, PostgreSQL's serialization failure or
        deadlock, MySQL's deadlock or lock wait timeout, SQLite's lock) and
        may simply run again.
    """
    while error is not None:
        if isinstance(error, TransactionConflict):
            return True
        if getattr(error, "pgcode", None) in ("40001", "40P01"):
            return True
        args = getattr(error, "args", ())
        if args and isinstance(args[0], int) and args[0] in (1205, 1213):
            return True
        if isinstance(error, (exception.DatabaseError, StormDBError)) or (
            type(error).__name__ == "OperationalError"
        ):
            text = str(error).lower()
            if any(phrase in text for phrase in _CONFLICT_TEXT):
                return True
        error = error.__cause__
    return False


def readOnly(function):
    """
    Mark a transaction function as one that only reads: its transaction
    is rolled back rather than committed, and on SQLite it runs in a
    reader thread.  (Anything it wrote would be lost.)

    @return: C{function}.
    """
    function.readOnly = True
    return function


def isReadOnly(function):
    """
    @return: whether C{function} (or the function of a bound method) is
        marked L{readOnly}.
    """
    return getattr(function, "readOnly", False)


class _Signatures:
    """
    Which transaction functions take an C{attempt} argument, worked out
    once per function rather than once per transaction.
    """

    def __init__(self):
        self._takes = {}

    def takesAttempt(self, function):
        """
        @return: whether C{function} has a parameter named C{attempt}.
        """
        key = getattr(function, "__func__", function)
        try:
            return self._takes[key]
        except (KeyError, TypeError):
            pass
        try:
            takes = "attempt" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            takes = False
        try:
            self._takes[key] = takes
        except TypeError:
            pass
        return takes


def _dropLocals(error):
    """
    Clear the local variables of the finished frames in the tracebacks of
    C{error} and its causes, so that the cursors and results they hold are
    freed here, in the thread that owns their connection.  (mysqlclient
    refuses a connection used by two threads at once, and freeing a result
    takes its connection: a result freed later in another thread, by the
    garbage collector say, could make this thread's next query fail.)
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__


def _runTransaction(store, fn, args, kwargs, takesAttempt):
    takesAttempt = takesAttempt and "attempt" not in kwargs
    readOnly = isReadOnly(fn)
    for attempt in range(CONFLICT_RETRIES):
        try:
            if takesAttempt:
                result = fn(store, *args, attempt=attempt, **kwargs)
            else:
                result = fn(store, *args, **kwargs)
            if isinstance(result, (Result, ResultSet)):
                # It would be read (or freed) in another thread, after the
                # store is reset.
                raise TypeError(f"{fn!r} returned a Storm result; return its values")
            if readOnly:
                store.rollback()
            else:
                store.commit()
            return result
        except BaseException as e:
            try:
                store.rollback()
            except DisconnectionError:
                pass
            _dropLocals(e)
            if attempt < CONFLICT_RETRIES - 1 and isConflict(e):
                continue
            unavailable = isinstance(e, StormDBError) and isUnavailable(e)
            if unavailable and readOnly and attempt == 0:
                # The thread's connection had died (the server restarted,
                # an administrator ended it): the rollback above made
                # Storm reconnect on next use.
                continue
            if unavailable:
                raise DatabaseUnavailable(f"{type(e).__name__}: {e}") from e
            if isinstance(e, StormDBError) and not isinstance(e, exception.NovaError):
                raise exception.DatabaseError(f"{type(e).__name__}: {e}") from e
            raise
        finally:
            store.reset()


class Transactor(Service):
    """
    Runs transactions in thread pools owned by this service; each thread
    keeps one store (one connection).  C{count} is the number of
    transactions asked for so far.

    On PostgreSQL and MySQL one pool of C{maxThreads} threads runs every
    transaction.  An SQLite file has one writer thread, since SQLite
    takes one writer at a time, and C{maxThreads} reader threads for the
    transactions marked L{readOnly}.  An in-memory SQLite database lives
    in one connection: every transaction runs in its one thread.
    """

    def __init__(self, database, reactor, maxThreads=4):
        self.database = database
        self.reactor = reactor
        self.isSQLite = isinstance(database, SQLite)
        inMemory = self.isSQLite and database._filename == ":memory:"
        writers = 1 if self.isSQLite else maxThreads
        self.pool = ThreadPool(minthreads=0, maxthreads=writers, name="nova-db")
        if self.isSQLite and not inMemory:
            self.readers = ThreadPool(minthreads=0, maxthreads=maxThreads, name="nova-db-read")
        else:
            self.readers = self.pool
        self._signatures = _Signatures()
        self.count = 0
        self._local = threading.local()
        self._stores = []
        self._lock = threading.Lock()

    def _pools(self):
        return [self.pool] if self.readers is self.pool else [self.pool, self.readers]

    def startService(self):
        Service.startService(self)
        for pool in self._pools():
            pool.start()

    def stopService(self):
        Service.stopService(self)
        for pool in self._pools():
            pool.stop()
        with self._lock:
            stores, self._stores = self._stores, []
        for store in stores:
            store.close()

    def _threadStore(self):
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.database)
            with self._lock:
                self._stores.append(store)
        return store

    def _work(self, fn, args, kwargs, takesAttempt):
        try:
            store = self._threadStore()
        except StormDBError as e:
            # Nothing is kept: the next transaction of this thread tries
            # to connect again.
            raise DatabaseUnavailable(f"cannot connect to the database: {e}") from e
        return _runTransaction(store, fn, args, kwargs, takesAttempt)

    def transact(self, fn, *args, **kwargs):
        """
        Run C{fn(store, *args, **kwargs)} in a transaction.

        @return: L{Deferred} firing with C{fn}'s result, or failing with its
            exception (database errors become
            L{nova.exception.DatabaseError}).
        """
        self.count += 1
        pool = self.readers if isReadOnly(fn) else self.pool
        if not pool.started:
            pool.start()
        takesAttempt = self._signatures.takesAttempt(fn)
        return deferToThreadPool(self.reactor, pool, self._work, fn, args, kwargs, takesAttempt)


class InlineTransactor:
    """
    Runs transactions at once in the calling thread, on one store: for
    tests and command-line tools.
    """

    def __init__(self, database):
        self.database = database
        self.store = Store(database)
        self._signatures = _Signatures()

    def transact(self, fn, *args, **kwargs):
        try:
            takesAttempt = self._signatures.takesAttempt(fn)
            return succeed(_runTransaction(self.store, fn, args, kwargs, takesAttempt))
        except BaseException as e:
            return fail(e)

    def close(self):
        self.store.close()
