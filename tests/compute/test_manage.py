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
        self.assertEqual(
            lines[0].split(),
            ["Name", "Memory_MB", "VCPUs", "Local_GB", "FlavorID", "Swap", "RXTX_Quota", "RXTX_Cap"],
        )
        self.assertEqual(lines[1].split(), ["m1.tiny", "512", "1", "0", "1", "0", "0", "0"])
        self.assertEqual(len(lines), 6)
        code, out, _ = yield self.manage("instance_type", "create", "c1.big", "3000", "6", "50")
        self.assertEqual((code, out), (0, "c1.big created: 3000 MB, 6 vCPU(s), 50 GB, flavor id 6\n"))
        code, out, _ = yield self.manage("instance_type", "create", "c1.bigger", "6000", "8", "50", "99")
        self.assertIn("flavor id 99", out)
        code, out, _ = yield self.manage("instance_type", "list")
        self.assertEqual(out.splitlines()[-1].split(), ["c1.bigger", "6000", "8", "50", "99", "0", "0", "0"])
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
        self.assertIn(
            "instance_type create <name> <memory_mb> <vcpus> <local_gb> [flavorid] [swap] "
            "[rxtx_quota] [rxtx_cap]",
            err,
        )
        code, _, err = yield self.manage("instance_type", "create", "c2", "1", "1", "1", "", "-1")
        self.assertEqual((code, err), (1, "error: swap must be at least 0, not -1\n"))

    @defer.inlineCallbacks
    def test_swapAndRxtx(self):
        """
        Cactus's create: a flavor id, then swap (MB), rxtx quota and cap;
        C{auto} or C{''} takes the next flavor id.
        """
        yield self.manage("db", "sync")
        code, out, _ = yield self.manage("instance_type", "create", "c1.swap", "1024", "2", "10", "auto", "512", "100", "10")
        self.assertEqual(
            (code, out),
            (0, "c1.swap created: 1024 MB, 2 vCPU(s), 10 GB, flavor id 6, swap 512 MB, rxtx quota 100, rxtx cap 10\n"),
        )
        code, out, _ = yield self.manage("flavor", "list", "c1.swap")
        self.assertEqual(out.splitlines()[1].split(), ["c1.swap", "1024", "2", "10", "6", "512", "100", "10"])
        self.assertEqual(len(out.splitlines()), 2)
        code, _, err = yield self.manage("flavor", "list", "nothing")
        self.assertEqual((code, err), (1, "error: no instance type named nothing\n"))

    @defer.inlineCallbacks
    def test_deleteMarksThenPurge(self):
        yield self.manage("db", "sync")
        yield self.manage("instance_type", "create", "c1.old", "100", "1", "1", "42")
        code, out, _ = yield self.manage("instance_type", "delete", "c1.old")
        self.assertEqual((code, out), (0, "c1.old deleted\n"))
        code, out, _ = yield self.manage("instance_type", "list")
        self.assertNotIn("c1.old", out)
        code, out, _ = yield self.manage("instance_type", "list", "--all")
        self.assertEqual(out.splitlines()[0].split()[-1], "Deleted")
        self.assertEqual(out.splitlines()[-1].split(), ["c1.old", "100", "1", "1", "42", "0", "0", "0", "deleted"])
        # Its name and flavor id stay taken until it is purged.
        code, _, err = yield self.manage("instance_type", "create", "c1.old", "1", "1", "1")
        self.assertEqual((code, err), (1, "error: instance type c1.old exists (deleted: purge it first)\n"))
        code, _, err = yield self.manage("instance_type", "create", "c1.new", "1", "1", "1", "42")
        self.assertEqual((code, err), (1, "error: flavor id 42 is taken\n"))
        code, _, err = yield self.manage("instance_type", "delete", "c1.old")
        self.assertEqual((code, err), (1, "error: no instance type named c1.old\n"))
        code, out, _ = yield self.manage("flavor", "delete", "--purge", "c1.old")
        self.assertEqual((code, out), (0, "c1.old purged\n"))
        code, out, _ = yield self.manage("instance_type", "list", "--all")
        self.assertNotIn("c1.old", out)
        code, out, _ = yield self.manage("instance_type", "create", "c1.old", "1", "1", "1", "42")
        self.assertEqual(code, 0)
        code, out, _ = yield self.manage("instance_type", "purge", "c1.old")
        self.assertEqual((code, out), (0, "c1.old purged\n"))
        code, _, err = yield self.manage("instance_type", "purge", "c1.old")
        self.assertEqual((code, err), (1, "error: no instance type named c1.old\n"))

    @defer.inlineCallbacks
    def test_deletedTypeCannotLaunch(self):
        from twisted.internet import reactor

        from nova.compute.instance_types import getInstanceType
        from nova.compute.errors import InstanceTypeNotFound
        from nova.config import configFromFlags
        from nova.db.api import inlineDatabase

        yield self.manage("db", "sync")
        yield self.manage("instance_type", "delete", "m1.small")
        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        self.addCleanup(db.transactor.close)
        yield self.assertFailure(getInstanceType(db, configFromFlags(), "m1.small"), InstanceTypeNotFound)
        yield self.assertFailure(db.instanceTypes.getByFlavorId(2), InstanceTypeNotFound)


class VmCommandTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def test_list(self):
        from datetime import datetime

        from twisted.internet import reactor

        from nova.db.api import inlineDatabase

        yield self.manage("db", "sync")
        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        sizes = dict(instance_type="m1.tiny", vcpus=1, memory_mb=512, local_gb=0)
        yield db.instances.create(
            reservation_id="r-1", project_id="p1", user_id="alice", image_id="ami-00000001",
            kernel_id="aki-00000002", host="h1", availability_zone="nova", state="running",
            launched_at=datetime(2024, 5, 1, 12, 0, 0), launch_index=0, **sizes,
        )
        yield db.instances.create(
            reservation_id="r-2", project_id="p2", user_id="bob", image_id="ami-00000001",
            host="h2", availability_zone="nova", state="error",
            state_description="spawn failed", launch_index=1, **sizes,
        )
        db.transactor.close()
        code, out, _ = yield self.manage("vm", "list")
        self.assertEqual(code, 0)
        lines = out.splitlines()
        self.assertEqual(
            lines[0].split(),
            ["Instance", "Host", "Type", "State", "State_Reason", "Launched", "Image", "Kernel",
             "Ramdisk", "Project", "User", "Zone", "Index"],
        )
        self.assertEqual(
            lines[1].split(),
            ["i-00000001", "h1", "m1.tiny", "running", "-", "2024-05-01", "12:00:00", "ami-00000001",
             "aki-00000002", "-", "p1", "alice", "nova", "0"],
        )
        self.assertIn("spawn failed", lines[2])
        code, out, _ = yield self.manage("vm", "list", "h2")
        self.assertEqual(len(out.splitlines()), 2)
        self.assertTrue(out.splitlines()[1].startswith("i-00000002  h2"))
        code, out, _ = yield self.manage("vm", "list", "h9")
        self.assertEqual(len(out.splitlines()), 1)

    @defer.inlineCallbacks
    def test_liveMigrationRefuses(self):
        code, out, err = yield self.manage("vm", "live_migration", "i-00000001", "h2")
        self.assertEqual((code, out), (1, ""))
        self.assertIn("cannot live-migrate i-00000001 to h2: live migration is not provided", err)
