# -*- test-case-name: tests.api.ec2.test_ebs -*-
"""
The C{block_device_mappings} table (schema patch 16): the block device
mappings of EBS-backed images and of instances.
"""

import attr
from storm.locals import Bool, Int, Unicode

from nova.db.store import readOnly


class BlockDeviceRow:
    __storm_table__ = "block_device_mappings"
    id = Int(primary=True)
    image_id = Unicode()
    instance_id = Int()
    device_name = Unicode()
    is_root = Bool()
    snapshot_id = Int()
    volume_id = Int()
    volume_size = Int()
    delete_on_termination = Bool()
    no_device = Bool()
    virtual_name = Unicode()


@attr.s(frozen=True)
class BlockDeviceMapping:
    """
    One block device mapping.

    @ivar deviceName: the device in the guest (C{/dev/sda1}, C{/dev/vdb}).
    @ivar isRoot: whether it is the root device the guest boots from.
    @ivar snapshotId: the number of the snapshot an EBS volume is made
        from, or L{None}.
    @ivar volumeId: the number of the EBS volume (an instance's, once made),
        or L{None}.
    @ivar volumeSize: the volume's size in GiB, or L{None} (the snapshot's).
    @ivar deleteOnTermination: whether the volume is deleted when the
        instance terminates.
    @ivar noDevice: whether the mapping suppresses the device.
    @ivar virtualName: C{ephemeralN} for an instance store, or L{None}.
    @ivar id: the row's number (L{None} before it is stored).
    """

    deviceName = attr.ib()
    isRoot = attr.ib(default=False)
    snapshotId = attr.ib(default=None)
    volumeId = attr.ib(default=None)
    volumeSize = attr.ib(default=None)
    deleteOnTermination = attr.ib(default=True)
    noDevice = attr.ib(default=False)
    virtualName = attr.ib(default=None)
    id = attr.ib(default=None)

    @property
    def isEbs(self):
        return not self.noDevice and self.virtualName is None


def _record(row):
    return BlockDeviceMapping(
        deviceName=row.device_name,
        isRoot=bool(row.is_root),
        snapshotId=row.snapshot_id,
        volumeId=row.volume_id,
        volumeSize=row.volume_size,
        deleteOnTermination=bool(row.delete_on_termination),
        noDevice=bool(row.no_device),
        virtualName=row.virtual_name,
        id=row.id,
    )


def _add(store, mapping, imageId=None, instanceId=None):
    row = BlockDeviceRow()
    row.image_id = imageId
    row.instance_id = instanceId
    row.device_name = mapping.deviceName
    row.is_root = bool(mapping.isRoot)
    row.snapshot_id = mapping.snapshotId
    row.volume_id = mapping.volumeId
    row.volume_size = mapping.volumeSize
    row.delete_on_termination = bool(mapping.deleteOnTermination)
    row.no_device = bool(mapping.noDevice)
    row.virtual_name = mapping.virtualName
    store.add(row)
    return row


def _ordered(rows):
    return [_record(row) for row in sorted(rows, key=lambda r: r.id)]


class BlockDeviceStore:
    """
    Rows of the C{block_device_mappings} table.  Every method returns a
    L{Deferred}.
    """

    def __init__(self, transactor, clock):
        self.transactor = transactor
        self.clock = clock

    def setImageMappings(self, imageId, mappings):
        """
        Store the mappings of an image (C{ami-...}), replacing any it had.

        @return: L{Deferred} firing with the stored L{BlockDeviceMapping}s.
        """
        return self.transactor.transact(self.thd_setImageMappings, imageId, tuple(mappings))

    def thd_setImageMappings(self, store, imageId, mappings):
        store.find(BlockDeviceRow, BlockDeviceRow.image_id == imageId).remove()
        rows = [_add(store, mapping, imageId=imageId) for mapping in mappings]
        store.flush()
        return _ordered(rows)

    def imageMappings(self, imageIds):
        """
        @param imageIds: EC2 image ids.
        @return: L{Deferred} firing with a L{dict} from image id to the
            L{list} of its L{BlockDeviceMapping}s (images without any are
            left out).
        """
        return self.transactor.transact(self.thd_imageMappings, tuple(imageIds))

    @readOnly
    def thd_imageMappings(self, store, imageIds):
        found = {}
        if not imageIds:
            return found
        for row in store.find(BlockDeviceRow, BlockDeviceRow.image_id.is_in(imageIds)):
            found.setdefault(row.image_id, []).append(row)
        return {imageId: _ordered(rows) for imageId, rows in found.items()}

    def setInstanceMappings(self, instanceIds, mappings):
        """
        Give each of the instances (numbers) its own copy of C{mappings}.

        @return: L{Deferred} firing with C{None}.
        """
        return self.transactor.transact(
            self.thd_setInstanceMappings, tuple(instanceIds), tuple(mappings)
        )

    def thd_setInstanceMappings(self, store, instanceIds, mappings):
        for instanceId in instanceIds:
            store.find(BlockDeviceRow, BlockDeviceRow.instance_id == instanceId).remove()
            for mapping in mappings:
                _add(store, mapping, instanceId=instanceId)
        store.flush()

    def instanceMappings(self, instanceIds):
        """
        @param instanceIds: instance numbers.
        @return: L{Deferred} firing with a L{dict} from instance number to
            the L{list} of its L{BlockDeviceMapping}s (instances without any
            are left out).
        """
        return self.transactor.transact(self.thd_instanceMappings, tuple(instanceIds))

    @readOnly
    def thd_instanceMappings(self, store, instanceIds):
        found = {}
        if not instanceIds:
            return found
        for row in store.find(BlockDeviceRow, BlockDeviceRow.instance_id.is_in(instanceIds)):
            found.setdefault(row.instance_id, []).append(row)
        return {instanceId: _ordered(rows) for instanceId, rows in found.items()}

    def setVolume(self, mappingId, volumeId):
        """
        Record the volume made for an instance's mapping.

        @return: L{Deferred} firing with the updated L{BlockDeviceMapping}.
        """
        return self.transactor.transact(self.thd_setVolume, mappingId, volumeId)

    def thd_setVolume(self, store, mappingId, volumeId):
        row = store.get(BlockDeviceRow, mappingId)
        row.volume_id = volumeId
        store.flush()
        return _record(row)
