"""
Flags of nova-volume and of the volume API.
"""

import os

from nova.config import Computed, Flag

#: C{--volume_driver} name -> the L{nova.volume.interfaces.IVolumeDriver}
#: class, loaded by L{nova.drivers.loadDriver}.
VOLUME_DRIVERS = {
    "file": "nova.volume.file.FileVolumeDriver",
    "lvm": "nova.volume.lvm.LVMVolumeDriver",
    "fake": "nova.volume.fake.FakeVolumeDriver",
    # Cactus's class paths.
    "nova.volume.driver.ISCSIDriver": "nova.volume.lvm.LVMVolumeDriver",
    "nova.volume.driver.FakeISCSIDriver": "nova.volume.fake.FakeVolumeDriver",
    "nova.volume.driver.LoggingVolumeDriver": "nova.volume.fake.FakeVolumeDriver",
}

OPTIONS = (
    Flag(
        "volume_driver",
        "str",
        "file",
        "Volume back-end: 'file' (raw or qcow2 files on this host), 'lvm' (LVM "
        "logical volumes exported over iSCSI with tgt) or 'fake' (nothing on "
        "disk, for tests and demonstrations).",
        choices=tuple(VOLUME_DRIVERS),
    ),
    Flag(
        "volumes_path",
        "path",
        Computed(lambda v: os.path.join(v["state_path"], "volumes"), "$state_path/volumes"),
        "Directory of the file volume driver.",
    ),
    Flag(
        "volume_format",
        "str",
        "raw",
        "Format of the file volume driver's files: 'raw' (sparse files) or "
        "'qcow2' (made with qemu-img).",
        choices=("raw", "qcow2"),
    ),
    Flag(
        "volume_export",
        "str",
        "file",
        "How the file volume driver exports volumes: 'file' (compute hosts "
        "open the file itself, so they must be this host or share "
        "--volumes_path) or 'iscsi' (each raw file becomes a target of the tgt "
        "daemon at --iscsi_ip_address:--iscsi_port, which compute hosts reach "
        "with QEMU's own iSCSI initiator).",
        choices=("file", "iscsi"),
    ),
    Flag(
        "volume_group",
        "str",
        "nova-volumes",
        "LVM volume group the lvm volume driver makes logical volumes in.",
    ),
    Flag(
        "volume_clear",
        "str",
        "zero",
        "What the lvm volume driver does to a logical volume before removing "
        "it: 'zero' (overwrite it with zeros, so the next volume made from the "
        "same extents does not show its data) or 'none'.",
        choices=("zero", "none"),
    ),
    Flag(
        "iscsi_ip_address",
        "str",
        "127.0.0.1",
        "Address of this volume host's iSCSI portal, as compute hosts reach "
        "it.",
    ),
    Flag(
        "iscsi_port",
        "int",
        3260,
        "TCP port of this volume host's iSCSI portal.",
        minimum=1,
    ),
    Flag(
        "iscsi_ip_prefix",
        "str",
        "127.0",
        "Compute hosts that discover iSCSI targets use only the portals whose "
        "address starts with this prefix.",
    ),
    Flag(
        "iscsi_target_prefix",
        "str",
        "iqn.2010-10.org.openstack:",
        "Prefix of the iSCSI qualified names of exported volumes; the volume's "
        "name follows it.",
    ),
    Flag(
        "volume_name_template",
        "str",
        "volume-%08x",
        "Back-end name (file or logical volume) of a volume, made from its "
        "numeric id with Python %-formatting.",
    ),
    Flag(
        "snapshot_name_template",
        "str",
        "snapshot-%08x",
        "Back-end name of a snapshot, made from its numeric id with Python "
        "%-formatting.",
    ),
    Flag(
        "volume_command_timeout",
        "float",
        120.0,
        "Seconds a command of a volume driver (lvcreate, tgtadm, qemu-img...) "
        "may run before it is killed; copies of whole volumes get a minute "
        "more per gigabyte.",
        minimum=0.1,
    ),
    Flag(
        "volume_root_helper",
        "list",
        (),
        "Command put before every command the lvm volume driver runs, for a "
        "nova-volume that does not run as root (for example: sudo,-n).",
    ),
)
