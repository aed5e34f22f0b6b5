"""
Schema patch 7: tags on EC2 resources (instances, images, volumes,
snapshots, security groups), named by their EC2 ids.
"""

from nova.db.schema import execute


def apply(store):
    # tag_key and tag_value: KEY is a reserved word in MySQL.
    execute(
        store,
        """
        CREATE TABLE tags (
            id {id},
            resource_id VARCHAR(64) NOT NULL,
            resource_type VARCHAR(32) NOT NULL,
            project_id VARCHAR(255) NOT NULL,
            tag_key VARCHAR(128) NOT NULL,
            tag_value VARCHAR(256) NOT NULL,
            created_at {datetime} NOT NULL,
            UNIQUE (resource_id, tag_key)
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX tags_project ON tags (project_id, resource_type)")
