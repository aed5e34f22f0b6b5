"""
Schema patch 2: users, projects, memberships and role grants of the SQL
auth driver; key pairs; per-project quota overrides.
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        """
        CREATE TABLE auth_users (
            id {id},
            name VARCHAR(255) NOT NULL UNIQUE,
            access_key VARCHAR(255) NOT NULL UNIQUE,
            secret_key VARCHAR(255) NOT NULL,
            is_admin {bool} NOT NULL DEFAULT FALSE,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(
        store,
        """
        CREATE TABLE auth_projects (
            id {id},
            name VARCHAR(255) NOT NULL UNIQUE,
            manager_name VARCHAR(255) NOT NULL,
            description {text} NOT NULL,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX auth_projects_manager ON auth_projects (manager_name)")
    execute(
        store,
        """
        CREATE TABLE auth_project_members (
            id {id},
            project_name VARCHAR(255) NOT NULL,
            user_name VARCHAR(255) NOT NULL,
            UNIQUE (project_name, user_name)
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX auth_project_members_user ON auth_project_members (user_name)")
    # project_name is '' for a global grant (a NULL would defeat UNIQUE).
    execute(
        store,
        """
        CREATE TABLE auth_role_grants (
            id {id},
            user_name VARCHAR(255) NOT NULL,
            role VARCHAR(64) NOT NULL,
            project_name VARCHAR(255) NOT NULL DEFAULT '',
            UNIQUE (user_name, project_name, role)
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX auth_role_grants_project ON auth_role_grants (project_name)")
    execute(
        store,
        """
        CREATE TABLE key_pairs (
            id {id},
            user_id VARCHAR(255) NOT NULL,
            name VARCHAR(255) NOT NULL,
            fingerprint VARCHAR(255) NOT NULL,
            public_key {text} NOT NULL,
            key_type VARCHAR(32) NOT NULL,
            created_at {datetime} NOT NULL,
            UNIQUE (user_id, name)
        ) {table}
        """,
    )
    # hard_limit -1 means unlimited.
    execute(
        store,
        """
        CREATE TABLE quotas (
            id {id},
            project_id VARCHAR(255) NOT NULL,
            resource VARCHAR(255) NOT NULL,
            hard_limit {bigint} NOT NULL,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL,
            UNIQUE (project_id, resource)
        ) {table}
        """,
    )
