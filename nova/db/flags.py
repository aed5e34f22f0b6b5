"""
Flags of the database layer.
"""

import os

from nova.config import Computed, Flag


def _defaultConnection(values):
    return "sqlite:" + os.path.join(values["state_path"], "nova.sqlite")


OPTIONS = (
    Flag(
        "sql_connection",
        "str",
        Computed(_defaultConnection, "sqlite:$state_path/nova.sqlite"),
        "Database URI (Storm form): sqlite:/path/nova.sqlite, "
        "postgres://user:password@host:port/nova or "
        "mysql://user:password@host:port/nova.  An SQLite file is opened "
        "with journal_mode=WAL, synchronous=NORMAL and timeout=30 (seconds "
        "a writer waits for the lock) unless the URI sets them, e.g. "
        "sqlite:/path/nova.sqlite?synchronous=FULL.",
    ),
    Flag(
        "sql_max_threads",
        "int",
        4,
        "Threads that run database transactions, each with its own "
        "connection.  On PostgreSQL and MySQL they run every transaction; "
        "an SQLite file has one more thread, its only writer, and these "
        "run the transactions that only read.",
        minimum=1,
    ),
)
