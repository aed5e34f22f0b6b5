"""
Schema patch 4: instance types (with the five default types),
reservations (RunInstances requests and their client tokens), and the
instance columns C{security_groups} and C{fixed_ip}.
"""

from datetime import datetime

from nova.db.schema import execute

DEFAULT_TYPES = (
    ("m1.tiny", 512, 1, 0, 1),
    ("m1.small", 2048, 1, 20, 2),
    ("m1.medium", 4096, 2, 40, 3),
    ("m1.large", 8192, 4, 80, 4),
    ("m1.xlarge", 16384, 8, 160, 5),
)


def apply(store):
    execute(
        store,
        """
        CREATE TABLE instance_types (
            id {id},
            name VARCHAR(255) NOT NULL UNIQUE,
            memory_mb INTEGER NOT NULL,
            vcpus INTEGER NOT NULL,
            local_gb INTEGER NOT NULL,
            flavorid INTEGER NOT NULL UNIQUE,
            created_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(
        store,
        """
        CREATE TABLE reservations (
            id {id},
            reservation_id VARCHAR(32) NOT NULL UNIQUE,
            project_id VARCHAR(255) NOT NULL,
            user_id VARCHAR(255) NOT NULL,
            client_token VARCHAR(64),
            request_hash VARCHAR(64) NOT NULL,
            created_at {datetime} NOT NULL,
            UNIQUE (project_id, client_token)
        ) {table}
        """,
    )
    execute(store, "ALTER TABLE instances ADD COLUMN security_groups {text}")
    execute(store, "ALTER TABLE instances ADD COLUMN fixed_ip VARCHAR(64)")
    execute(store, "CREATE INDEX instances_reservation ON instances (reservation_id)")
    execute(store, "CREATE INDEX instances_state ON instances (state)")
    now = datetime(2010, 10, 21)
    for name, memoryMb, vcpus, localGb, flavorId in DEFAULT_TYPES:
        store.execute(
            "INSERT INTO instance_types (name, memory_mb, vcpus, local_gb, flavorid, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, memoryMb, vcpus, localGb, flavorId, now),
        )
