"""
Schema patch 13: the C{auth_tokens} table, the tokens the OpenStack API's
identity endpoint issues (C{POST /v3/auth/tokens}, C{POST /v2.0/tokens}).
Each row keeps the SHA-256 of a token (never the token itself), the user
and project it acts for, and when it expires.
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        "CREATE TABLE auth_tokens ("
        "token_hash VARCHAR(64) NOT NULL PRIMARY KEY, "
        "user_id VARCHAR(255) NOT NULL, "
        "project_id VARCHAR(255), "
        "created_at {datetime} NOT NULL, "
        "expires_at {datetime} NOT NULL) {table}",
    )
    execute(store, "CREATE INDEX auth_tokens_expires_at ON auth_tokens (expires_at)")
