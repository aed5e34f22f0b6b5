"""
Schema patch 17: C{instances.config_drive}, whether the instance asked for
a config drive (C{config_drive} of the OpenStack API's server create), and
C{instances.personality}, the files it hands its guest there: a JSON list
of C{{"path": ..., "contents": <base64>}} (C{NULL} when none).
"""

from nova.db.schema import execute


def apply(store):
    execute(store, "ALTER TABLE instances ADD COLUMN config_drive {bool}")
    execute(store, "ALTER TABLE instances ADD COLUMN personality {text}")
