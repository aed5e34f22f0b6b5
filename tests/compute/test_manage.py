"""
Tests for C{nova-manage instance_type}.
"""

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.util import ManageMixin


class InstanceTypeCommandTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def test_createListDelete(self):
        yield self.manage("db", "sync")
        code, out, _ = yield self.manage("instance_type", "list")
        self.assertEqual(code, 0)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["Name", "Memory_MB", "VCPUs", "Local_GB", "FlavorID"])
        self.assertEqual(lines[1].split(), ["m1.tiny", "512", "1", "0", "1"])
        self.assertEqual(len(lines), 6)
        code, out, _ = yield self.manage("instance_type", "create", "c1.big", "3000", "6", "50")
        self.assertEqual((code, out), (0, "c1.big created: 3000 MB, 6 vCPU(s), 50 GB, flavor id 6\n"))
        code, out, _ = yield self.manage("instance_type", "create", "c1.bigger", "6000", "8", "50", "99")
        self.assertIn("flavor id 99", out)
        code, out, _ = yield self.manage("instance_type", "list")
        self.assertEqual(out.splitlines()[-1].split(), ["c1.bigger", "6000", "8", "50", "99"])
        code, out, _ = yield self.manage("instance_type", "delete", "c1.big")
        self.assertEqual((code, out), (0, "c1.big deleted\n"))
        code, out, _ = yield self.manage("instance_type", "list")
        self.assertNotIn("c1.big ", out)

    @defer.inlineCallbacks
    def test_errors(self):
        yield self.manage("db", "sync")
        code, _, err = yield self.manage("instance_type", "create", "m1.tiny", "1", "1", "1")
        self.assertEqual((code, err), (1, "error: instance type m1.tiny exists\n"))
        code, _, err = yield self.manage("instance_type", "create", "c1", "lots", "1", "1")
        self.assertEqual((code, err), (1, "error: memory_mb must be an integer, not 'lots'\n"))
        code, _, err = yield self.manage("instance_type", "delete", "nothing")
        self.assertEqual((code, err), (1, "error: no instance type named nothing\n"))
        code, _, err = yield self.manage("instance_type", "create", "c1")
        self.assertEqual(code, 2)
        self.assertIn("instance_type create <name> <memory_mb> <vcpus> <local_gb> [flavorid]", err)
