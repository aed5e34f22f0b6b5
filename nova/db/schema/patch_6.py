"""
Schema patch 6: volumes (with their attachment) and snapshots.
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        """
        CREATE TABLE volumes (
            id {id},
            project_id VARCHAR(255) NOT NULL,
            user_id VARCHAR(255) NOT NULL,
            host VARCHAR(255),
            size INTEGER NOT NULL,
            availability_zone VARCHAR(255),
            status VARCHAR(32) NOT NULL,
            status_description VARCHAR(255),
            attach_status VARCHAR(32) NOT NULL,
            instance_id INTEGER,
            mountpoint VARCHAR(255),
            attach_time {datetime},
            snapshot_id INTEGER,
            display_name VARCHAR(255),
            display_description VARCHAR(255),
            provider_location VARCHAR(255),
            export_info {text},
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX volumes_project ON volumes (project_id)")
    execute(store, "CREATE INDEX volumes_host ON volumes (host)")
    execute(store, "CREATE INDEX volumes_instance ON volumes (instance_id)")
    execute(
        store,
        """
        CREATE TABLE snapshots (
            id {id},
            project_id VARCHAR(255) NOT NULL,
            user_id VARCHAR(255) NOT NULL,
            volume_id INTEGER NOT NULL,
            volume_size INTEGER NOT NULL,
            host VARCHAR(255),
            status VARCHAR(32) NOT NULL,
            status_description VARCHAR(255),
            display_name VARCHAR(255),
            display_description VARCHAR(255),
            provider_location VARCHAR(255),
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX snapshots_project ON snapshots (project_id)")
    execute(store, "CREATE INDEX snapshots_volume ON snapshots (volume_id)")
