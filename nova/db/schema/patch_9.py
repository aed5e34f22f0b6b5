"""
Schema patch 9: the instance attributes ModifyInstanceAttribute changes
besides the launch columns: C{disable_api_termination} (termination
protection, off by default) and C{shutdown_behavior} (what a shutdown
from inside the guest does: C{stop} by default, or C{terminate}).
"""

from nova.db.schema import execute


def apply(store):
    # NOT NULL with a default fills the rows that exist on every backend.
    execute(
        store,
        "ALTER TABLE instances ADD COLUMN disable_api_termination {bool} NOT NULL DEFAULT FALSE",
    )
    execute(
        store,
        "ALTER TABLE instances ADD COLUMN shutdown_behavior VARCHAR(16) NOT NULL DEFAULT 'stop'",
    )
