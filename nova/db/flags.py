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
        "mysql://user:password@host:port/nova.",
    ),
    Flag(
        "sql_max_threads",
        "int",
        4,
        "Threads that run database transactions (PostgreSQL and MySQL; "
        "SQLite always uses one).",
        minimum=1,
    ),
)
