# -*- test-case-name: tests.db.test_schema -*-
"""
Numbered schema patches (C{patch_1.py}, C{patch_2.py}, ...), applied in
order by C{nova-manage db sync}.  Each patch writes portable DDL with the
placeholders of L{COLUMN_TYPES}, expanded for the store's dialect by
L{execute}.  The table C{patch} records which patches are applied.
"""

import re

from storm.schema.patch import PatchApplier, PatchSet

from nova.db.store import dialect

COLUMN_TYPES = {
    "sqlite": {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "datetime": "TIMESTAMP",
        "bool": "BOOLEAN",
        "text": "TEXT",
        "blob": "BLOB",
        "bigint": "INTEGER",
        "table": "",
        "q": '"',
    },
    "postgres": {
        "id": "SERIAL PRIMARY KEY",
        "datetime": "TIMESTAMP",
        "bool": "BOOLEAN",
        "text": "TEXT",
        "blob": "BYTEA",
        "bigint": "BIGINT",
        "table": "",
        "q": '"',
    },
    "mysql": {
        "id": "INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY",
        "datetime": "DATETIME(6)",
        "bool": "BOOL",
        "text": "LONGTEXT",
        "blob": "LONGBLOB",
        "bigint": "BIGINT",
        "table": "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        "q": "`",
    },
}

_PATCH_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS patch (version INTEGER NOT NULL PRIMARY KEY)",
    "postgres": "CREATE TABLE IF NOT EXISTS patch (version INTEGER NOT NULL PRIMARY KEY)",
    "mysql": "CREATE TABLE IF NOT EXISTS patch (version INTEGER NOT NULL PRIMARY KEY) ENGINE=InnoDB",
}


def execute(store, ddl):
    """
    Run one DDL statement written with C{{id}}, C{{datetime}}, C{{bool}},
    C{{text}}, C{{blob}}, C{{bigint}}, C{{table}} (table options) and
    C{{q}} (identifier quote) placeholders.
    """
    types = COLUMN_TYPES[dialect(store)]
    store.execute(ddl.format(**types))


def _patchSet():
    from nova.db import schema

    return PatchSet(schema)


def _applier(store):
    store.execute(_PATCH_TABLE[dialect(store)])
    store.commit()
    return PatchApplier(store, _patchSet())


def latestVersion():
    """
    @return: the number of the newest patch this code knows.
    """
    from nova.db import schema
    import pkgutil

    numbers = [
        int(m.group(1))
        for info in pkgutil.iter_modules(schema.__path__)
        for m in [re.match(r"patch_(\d+)$", info.name)]
        if m
    ]
    return max(numbers, default=0)


def currentVersion(store):
    """
    @return: the newest applied patch, or 0 for an empty database.
    """
    _applier(store)
    result = store.execute("SELECT MAX(version) FROM patch").get_one()
    return result[0] or 0


def pendingVersions(store):
    """
    @return: the numbers of the patches not yet applied, in order.
    """
    return list(_applier(store).get_unapplied_versions())


def upgrade(store, version=None):
    """
    Apply every patch not yet applied (up to C{version}, if given), each
    in its own transaction.

    @param version: the newest patch to apply, or C{None} for all.
    @return: the list of patch numbers applied now.
    """
    applier = _applier(store)
    if version is None:
        pending = list(applier.get_unapplied_versions())
        applier.apply_all()
        return pending
    applier.check_unknown()
    pending = [v for v in applier.get_unapplied_versions() if v <= version]
    for number in pending:
        applier.apply(number)
    return pending
