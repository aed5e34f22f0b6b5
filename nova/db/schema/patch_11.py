"""
Schema patch 11: the C{generations} table, counters that processes poll
to learn that something they cache changed elsewhere (C{auth}: users,
projects, memberships and roles).
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        "CREATE TABLE generations ("
        "name VARCHAR(64) NOT NULL PRIMARY KEY, "
        "value {bigint} NOT NULL DEFAULT 0) {table}",
    )
    store.execute("INSERT INTO generations (name, value) VALUES ('auth', 0)")
