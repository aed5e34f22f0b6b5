# -*- test-case-name: tests.compute.test_manage -*-
"""
C{nova-manage instance_type ...}: the sizes instances come in.
"""

from twisted.internet.defer import inlineCallbacks

from nova.compute.instance_types import (
    createInstanceType,
    deleteInstanceType,
    listInstanceTypes,
)
from nova.manage import Commands, formatTable


class InstanceTypeCommands(Commands):
    """
    Instance types (m1.tiny ... m1.xlarge and your own).
    """

    @inlineCallbacks
    def do_create(self, name, memory_mb, vcpus, local_gb, flavorid=None):
        """Add an instance type: memory in MB, virtual CPUs, local disk in GB."""
        record = yield createInstanceType(
            self.env.db, name, memory_mb, vcpus, local_gb, flavorid
        )
        self.say(
            f"{record.name} created: {record.memory_mb} MB, {record.vcpus} vCPU(s), "
            f"{record.local_gb} GB, flavor id {record.flavorid}"
        )

    @inlineCallbacks
    def do_delete(self, name):
        """Remove an instance type (instances of it keep running)."""
        yield deleteInstanceType(self.env.db, name)
        self.say(f"{name} deleted")

    @inlineCallbacks
    def do_list(self):
        """List instance types: name, memory, vCPUs, local disk, flavor id."""
        types = yield listInstanceTypes(self.env.db)
        rows = [(t.name, t.memory_mb, t.vcpus, t.local_gb, t.flavorid) for t in types]
        self.say(formatTable(rows, ("Name", "Memory_MB", "VCPUs", "Local_GB", "FlavorID")))
