# -*- test-case-name: tests.volume.test_drivers -*-
"""
The volume driver interface, and the descriptions of volumes and
snapshots that the manager hands to drivers.

A driver knows nothing of the database: it gets a L{VolumeSpec} or
L{SnapshotSpec} (a checked back-end name and a size) and works on its
host.  Every method returns a L{Deferred}; failures are
L{nova.volume.errors.VolumeBackendError} (or a subclass), and a method that
fails leaves nothing half-made behind.
"""

import attr
from zope.interface import Attribute, Interface

from nova.volume.names import checkName


def _checkName(instance, attribute, value):
    try:
        checkName(value)
    except ValueError as e:
        raise ValueError(f"{attribute.name}: {e}")


def _checkSize(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive number of GiB, not {value!r}")


def _checkId(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


@attr.s(frozen=True)
class VolumeSpec:
    """
    A volume as a driver sees it.

    @ivar id: the volume's numeric id (the LVM driver uses it as the
        iSCSI target id).
    @ivar name: its back-end name (C{volume-0000000a}), checked with
        L{nova.volume.names.checkName}.
    @ivar size: its size in GiB.
    """

    id = attr.ib(validator=_checkId)
    name = attr.ib(validator=_checkName)
    size = attr.ib(validator=_checkSize)


@attr.s(frozen=True)
class SnapshotSpec:
    """
    A snapshot as a driver sees it.

    @ivar id: the snapshot's numeric id.
    @ivar name: its back-end name (C{snapshot-0000000a}).
    @ivar volumeName: the back-end name of the volume it is (or was)
        taken of.
    @ivar size: the size of that volume when it was taken, in GiB.
    """

    id = attr.ib(validator=_checkId)
    name = attr.ib(validator=_checkName)
    volumeName = attr.ib(validator=_checkName)
    size = attr.ib(validator=_checkSize)


class IVolumeDriver(Interface):
    """
    Makes, removes and exports the block volumes of one volume host.

    An export is the JSON form of a L{nova.virt.interfaces.VolumeConnection}
    (see there): what the volume API hands to the compute host of the
    instance a volume is attached to, and what its virt driver attaches:

      - C{{"type": "file", "path": "/var/lib/nova/volumes/volume-0000000a",
        "format": "raw"}} for the file driver that exports files as they
        are (the path is on the volume host, so the compute host must be
        the same host or share the directory);
      - C{{"type": "iscsi", "portal": "10.0.0.2:3260", "iqn":
        "iqn.2010-10.org.openstack:volume-0000000a", "lun": 1}} for the LVM
        driver, the file driver with C{--volume_export=iscsi} (both through
        tgt) and the fake driver (no target behind it).
    """

    name = Attribute("The driver's short name (C{file}, C{lvm}, C{fake}).")

    def checkForSetupError():
        """
        Check that the back-end can work (its directory, volume group or
        iSCSI daemon exist): nova-volume calls it when it starts.

        @return: L{Deferred} firing with C{None}; failing with
            L{nova.volume.errors.VolumeBackendError} saying what is missing.
        """

    def createVolume(volume):
        """
        Make an empty volume of C{volume.size} GiB.

        @param volume: a L{VolumeSpec}.
        @return: L{Deferred} firing with its location on this host (a path,
            L{str}); failing with L{nova.volume.errors.VolumeBackendError},
            nothing made.
        """

    def deleteVolume(volume):
        """
        Remove a volume and its data.  A volume that does not exist is not
        an error.

        @return: L{Deferred} firing with C{None}; failing with
            L{nova.volume.errors.VolumeBusy} if the back-end cannot remove
            it now (an LVM origin with snapshots), nothing changed.
        """

    def createSnapshot(snapshot, volume):
        """
        Take a snapshot of C{volume} (a L{VolumeSpec}).

        @param snapshot: a L{SnapshotSpec}.
        @return: L{Deferred} firing with the snapshot's location on this
            host.
        """

    def deleteSnapshot(snapshot):
        """
        Remove a snapshot.  A snapshot that does not exist is not an error.

        @return: L{Deferred} firing with C{None}.
        """

    def createVolumeFromSnapshot(volume, snapshot):
        """
        Make a volume of C{volume.size} GiB (at least C{snapshot.size})
        holding the snapshot's data.

        @return: L{Deferred} firing with the volume's location; failing
            with nothing made.
        """

    def exportVolume(volume):
        """
        Make a volume reachable by compute hosts.  Exporting a volume that
        is already exported answers with the same export.

        @return: L{Deferred} firing with the export (a L{dict}, see the
            class docstring); failing with nothing half-made.
        """

    def removeExport(volume):
        """
        Stop exporting a volume.  A volume that is not exported is not an
        error.

        @return: L{Deferred} firing with C{None}.
        """

    def getStats():
        """
        @return: L{Deferred} firing with a L{dict}: C{driver} (the name),
            C{total_gb} and C{free_gb} (the back-end's capacity, L{float}).
        """
