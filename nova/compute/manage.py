# -*- test-case-name: tests.compute.test_manage -*-
"""
C{nova-manage instance_type ...} (also C{flavor}): the sizes instances
come in; C{nova-manage vm ...}: the instances themselves.
"""

from twisted.internet.defer import inlineCallbacks

from nova import exception
from nova.compute.instance_types import (
    createInstanceType,
    deleteInstanceType,
    listInstanceTypes,
)
from nova.manage import Commands, formatTable, switches


def _dash(value):
    return "-" if value is None or value == "" else value


class InstanceTypeCommands(Commands):
    """
    Instance types (m1.tiny ... m1.xlarge and your own).
    """

    @inlineCallbacks
    def do_create(self, name, memory_mb, vcpus, local_gb, flavorid=None, swap="0",
                  rxtx_quota="0", rxtx_cap="0"):
        """Add an instance type: memory in MB, virtual CPUs, local disk in GB, swap in MB, rxtx quota and cap.

        The flavor id is the type's number in the OpenStack API: C{''} or
        C{auto} (or leaving it out) takes the next free one.  Swap is in
        MB; a rxtx quota or cap of 0 means unlimited.
        """
        if flavorid in ("", "auto"):
            flavorid = None
        record = yield createInstanceType(
            self.env.db, name, memory_mb, vcpus, local_gb, flavorid, swap, rxtx_quota, rxtx_cap
        )
        extra = ""
        if record.swap or record.rxtx_quota or record.rxtx_cap:
            extra = (
                f", swap {record.swap} MB, rxtx quota {record.rxtx_quota}, "
                f"rxtx cap {record.rxtx_cap}"
            )
        self.say(
            f"{record.name} created: {record.memory_mb} MB, {record.vcpus} vCPU(s), "
            f"{record.local_gb} GB, flavor id {record.flavorid}{extra}"
        )

    @switches("purge")
    @inlineCallbacks
    def do_delete(self, name, *, purge=False):
        """Mark an instance type deleted (instances of it keep running); --purge removes its row.

        A deleted type is hidden from C{list} and from RunInstances, but
        keeps its name and flavor id until purged.
        """
        yield deleteInstanceType(self.env.db, name, purge)
        self.say(f"{name} purged" if purge else f"{name} deleted")

    def do_purge(self, name):
        """Remove an instance type's row, deleted or not (as delete --purge)."""
        return self.do_delete(name, purge=True)

    @switches("all")
    @inlineCallbacks
    def do_list(self, name=None, *, all=False):
        """List instance types (or one): name, memory, vCPUs, disk, flavor id, swap, rxtx; --all adds deleted ones."""
        types = yield self.env.db.instanceTypes.list(includeDeleted=all)
        if name is not None:
            types = [t for t in types if t.name == name]
            if not types:
                raise exception.NotFound(f"no instance type named {name}")
        rows = [
            (
                t.name,
                t.memory_mb,
                t.vcpus,
                t.local_gb,
                t.flavorid,
                t.swap,
                t.rxtx_quota,
                t.rxtx_cap,
            )
            + (("deleted" if t.deleted else "",) if all else ())
            for t in types
        ]
        headers = ("Name", "Memory_MB", "VCPUs", "Local_GB", "FlavorID", "Swap", "RXTX_Quota",
                   "RXTX_Cap")
        self.say(formatTable(rows, headers + (("Deleted",) if all else ())))


class VmCommands(Commands):
    """
    Instances, as the database records them.
    """

    @inlineCallbacks
    def do_list(self, host=None):
        """List instances (on one host): id, host, type, state, state reason, launched, image, project, user, zone, index."""
        instances = yield self.env.db.instances.list(host=host)
        rows = [
            (
                i.ec2Id,
                _dash(i.host),
                i.instance_type,
                i.state,
                _dash(i.state_description),
                i.launched_at.strftime("%Y-%m-%d %H:%M:%S") if i.launched_at else "-",
                i.image_id,
                _dash(i.kernel_id),
                _dash(i.ramdisk_id),
                i.project_id,
                i.user_id,
                _dash(i.availability_zone),
                i.launch_index,
            )
            for i in instances
        ]
        headers = ("Instance", "Host", "Type", "State", "State_Reason", "Launched", "Image",
                   "Kernel", "Ramdisk", "Project", "User", "Zone", "Index")
        self.say(formatTable(rows, headers))

    def do_live_migration(self, ec2_id, dest):
        """Refused: live migration is not provided (no shared instance storage or migration in the virt drivers)."""
        raise exception.Invalid(
            f"cannot live-migrate {ec2_id} to {dest}: live migration is not provided; "
            "it needs several hypervisor hosts on shared instance storage and a virt "
            "driver that migrates, and neither the fake nor the libvirt driver here does"
        )
