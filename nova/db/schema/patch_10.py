"""
Schema patch 10: instance types as Cactus's C{nova-manage instance_type
create} makes them: C{swap} (MB of swap disk), C{rxtx_quota} and
C{rxtx_cap} (network transfer quota and cap; 0 is unlimited), and
C{deleted}, so that C{instance_type delete} can hide a type that
instances still name, and C{delete --purge} removes the row.
"""

from nova.db.schema import execute


def apply(store):
    # NOT NULL with a default fills the rows that exist on every backend.
    execute(store, "ALTER TABLE instance_types ADD COLUMN swap INTEGER NOT NULL DEFAULT 0")
    execute(store, "ALTER TABLE instance_types ADD COLUMN rxtx_quota INTEGER NOT NULL DEFAULT 0")
    execute(store, "ALTER TABLE instance_types ADD COLUMN rxtx_cap INTEGER NOT NULL DEFAULT 0")
    execute(
        store,
        "ALTER TABLE instance_types ADD COLUMN deleted {bool} NOT NULL DEFAULT FALSE",
    )
