"""
Schema patch 18: C{services.lost}, what a service's last heartbeat said it
could not reach (C{message broker}), or C{NULL}: C{nova-manage service
list} shows it beside the service's state.
"""

from nova.db.schema import execute


def apply(store):
    execute(store, "ALTER TABLE services ADD COLUMN lost {text}")
