"""
Schema patch 14: the C{console_tokens} table, the short-lived tokens that
open an instance's VNC console through nova-api's websocket proxy (see
L{nova.console.tokens}).  Each row keeps the SHA-256 of a token (never the
token itself), the instance and project it is bound to, the address and
port of the guest's VNC server on its compute host, and when it expires.
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        "CREATE TABLE console_tokens ("
        "token_hash VARCHAR(64) NOT NULL PRIMARY KEY, "
        "instance_id INTEGER NOT NULL, "
        "project_id VARCHAR(255), "
        "host VARCHAR(255) NOT NULL, "
        "port INTEGER NOT NULL, "
        "created_at {datetime} NOT NULL, "
        "expires_at {datetime} NOT NULL) {table}",
    )
    execute(store, "CREATE INDEX console_tokens_expires_at ON console_tokens (expires_at)")
