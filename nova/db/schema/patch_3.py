"""
Schema patch 3: machine, kernel and ramdisk images and their launch
permissions.
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        """
        CREATE TABLE images (
            id {id},
            ec2_id VARCHAR(16) NOT NULL UNIQUE,
            image_type VARCHAR(16) NOT NULL,
            project_id VARCHAR(255) NOT NULL,
            user_id VARCHAR(255) NOT NULL,
            location {text} NOT NULL,
            state VARCHAR(32) NOT NULL,
            state_reason {text},
            architecture VARCHAR(32),
            kernel_id VARCHAR(16),
            ramdisk_id VARCHAR(16),
            is_public {bool} NOT NULL DEFAULT FALSE,
            name VARCHAR(255),
            description {text},
            root_device_name VARCHAR(255),
            disk_format VARCHAR(16),
            size {bigint},
            checksum VARCHAR(64),
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX images_project ON images (project_id)")
    execute(
        store,
        """
        CREATE TABLE image_launch_permissions (
            id {id},
            image_id INTEGER NOT NULL,
            project_id VARCHAR(255) NOT NULL,
            UNIQUE (image_id, project_id)
        ) {table}
        """,
    )
    execute(
        store,
        "CREATE INDEX image_launch_permissions_project ON image_launch_permissions (project_id)",
    )
