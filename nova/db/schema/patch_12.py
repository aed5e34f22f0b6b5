"""
Schema patch 12: C{instances.locked}, set by an administrator
(C{ComputeAPI.lockInstance}) to keep the instance's owners from changing
its state through the API (off by default).
"""

from nova.db.schema import execute


def apply(store):
    # NOT NULL with a default fills the rows that exist on every backend.
    execute(store, "ALTER TABLE instances ADD COLUMN locked {bool} NOT NULL DEFAULT FALSE")
