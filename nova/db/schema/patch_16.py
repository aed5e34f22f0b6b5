"""
Schema patch 16: the C{block_device_mappings} table, the block device
mappings of EBS-backed images and of instances.

A row belongs either to an image (C{image_id}, its EC2 id: what
C{RegisterImage} was given) or to an instance (C{instance_id}, its number:
what it was launched with, the volumes made for it filled in).  A row is
an EBS volume (C{snapshot_id} and/or C{volume_id}, C{volume_size},
C{delete_on_termination}), an instance store (C{virtual_name}
C{ephemeralN}) or the suppression of a device (C{no_device}).
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        "CREATE TABLE block_device_mappings ("
        "id {id}, "
        "image_id VARCHAR(32), "
        "instance_id INTEGER, "
        "device_name VARCHAR(255) NOT NULL, "
        "is_root {bool} NOT NULL, "
        "snapshot_id INTEGER, "
        "volume_id INTEGER, "
        "volume_size INTEGER, "
        "delete_on_termination {bool} NOT NULL, "
        "no_device {bool} NOT NULL, "
        "virtual_name VARCHAR(255)) {table}",
    )
    execute(
        store, "CREATE INDEX block_device_mappings_image ON block_device_mappings (image_id)"
    )
    execute(
        store,
        "CREATE INDEX block_device_mappings_instance ON block_device_mappings (instance_id)",
    )
