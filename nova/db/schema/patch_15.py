"""
Schema patch 15: C{instances.old_instance_type}, the instance type an
instance had before a resize that awaits its confirmation (C{NULL} when
none does: L{nova.compute.api.ComputeAPI.confirmResize} clears it,
L{nova.compute.api.ComputeAPI.revertResize} goes back to it), and
C{instances.display_description}, the free text Nova's C{UpdateInstance}
sets beside the display name.
"""

from nova.db.schema import execute


def apply(store):
    execute(store, "ALTER TABLE instances ADD COLUMN old_instance_type VARCHAR(255)")
    execute(store, "ALTER TABLE instances ADD COLUMN display_description VARCHAR(255)")
