"""
Schema patch 1: services and instances.
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        """
        CREATE TABLE services (
            id {id},
            host VARCHAR(255) NOT NULL,
            {q}binary{q} VARCHAR(255) NOT NULL,
            topic VARCHAR(255) NOT NULL,
            availability_zone VARCHAR(255) NOT NULL,
            report_count INTEGER NOT NULL DEFAULT 0,
            disabled {bool} NOT NULL DEFAULT FALSE,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL,
            UNIQUE (host, {q}binary{q})
        ) {table}
        """,
    )
    execute(
        store,
        """
        CREATE TABLE instances (
            id {id},
            uuid VARCHAR(36) NOT NULL UNIQUE,
            reservation_id VARCHAR(32) NOT NULL,
            project_id VARCHAR(255) NOT NULL,
            user_id VARCHAR(255) NOT NULL,
            image_id VARCHAR(32),
            kernel_id VARCHAR(32),
            ramdisk_id VARCHAR(32),
            instance_type VARCHAR(255) NOT NULL,
            vcpus INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL,
            local_gb INTEGER NOT NULL,
            launch_index INTEGER NOT NULL DEFAULT 0,
            hostname VARCHAR(255),
            display_name VARCHAR(255),
            key_name VARCHAR(255),
            key_data {text},
            user_data {text},
            host VARCHAR(255),
            availability_zone VARCHAR(255),
            state VARCHAR(32) NOT NULL,
            power_state INTEGER NOT NULL DEFAULT 0,
            state_description VARCHAR(255),
            mac_address VARCHAR(32),
            launched_at {datetime},
            terminated_at {datetime},
            deleted {bool} NOT NULL DEFAULT FALSE,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX instances_project ON instances (project_id)")
    execute(store, "CREATE INDEX instances_host ON instances (host)")
