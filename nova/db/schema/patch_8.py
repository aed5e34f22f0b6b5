"""
Schema patch 8: the client token of a CreateVolume request and the digest
of its parameters on C{volumes}, a token being unique per project.
"""

from nova.db.schema import execute


def apply(store):
    execute(store, "ALTER TABLE volumes ADD COLUMN client_token VARCHAR(64)")
    execute(store, "ALTER TABLE volumes ADD COLUMN request_hash VARCHAR(64)")
    # Volumes without a token (NULL) do not clash on any of the backends.
    execute(
        store, "CREATE UNIQUE INDEX volumes_client_token ON volumes (project_id, client_token)"
    )
