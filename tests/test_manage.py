"""
Tests for L{nova.manage}, the nova-manage command line.
"""

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from nova.manage import formatTable
from tests.util import ManageMixin


class ManageTests(ManageMixin, TestCase):
    @defer.inlineCallbacks
    def test_dbSyncAndVersion(self):
        code, out, _ = yield self.manage("db", "version")
        self.assertEqual((code, out), (0, "0\n"))
        code, out, _ = yield self.manage("db", "sync")
        self.assertEqual(code, 0)
        self.assertIn("applied patches 1", out)
        code, out, _ = yield self.manage("db", "sync")
        self.assertIn("up to date", out)

    @defer.inlineCallbacks
    def test_serviceListEnableDisable(self):
        yield self.manage("db", "sync")
        from nova.db.api import inlineDatabase

        db = inlineDatabase(f"sqlite:{self.state}/nova.sqlite", reactor)
        yield db.services.register("h1", "nova-compute", "compute", "nova")
        db.transactor.close()
        code, out, _ = yield self.manage("service", "list")
        self.assertEqual(code, 0)
        header, row = out.splitlines()
        self.assertEqual(header.split(), ["Host", "Binary", "Topic", "Zone", "Status", "State", "Updated_At"])
        self.assertEqual(row.split()[:6], ["h1", "nova-compute", "compute", "nova", "enabled", ":-)"])
        code, out, _ = yield self.manage("service", "disable", "h1", "nova-compute")
        self.assertEqual((code, out), (0, "nova-compute on h1 disabled\n"))
        code, out, _ = yield self.manage("service", "list")
        self.assertIn("disabled", out)
        code, _, err = yield self.manage("service", "enable", "h9", "nova-compute")
        self.assertEqual(code, 1)
        self.assertEqual(err, "error: no service nova-compute on host h9\n")

    @defer.inlineCallbacks
    def test_usage(self):
        code, _, err = yield self.manage()
        self.assertEqual(code, 2)
        self.assertIn("Categories:", err)
        code, _, err = yield self.manage("nothing")
        self.assertIn("unknown category 'nothing'", err)
        code, _, err = yield self.manage("db")
        self.assertIn("db sync", err)
        code, _, err = yield self.manage("db", "explode")
        self.assertIn("unknown action db 'explode'", err)
        code, _, err = yield self.manage("service", "enable", "onlyhost")
        self.assertEqual(code, 2)
        self.assertIn("wrong arguments for service enable", err)

    @defer.inlineCallbacks
    def test_badFlag(self):
        code, _, err = yield self.manage("--rabbit_port=x", "db", "version")
        self.assertEqual(code, 2)
        self.assertEqual(err, "nova-manage: --rabbit_port: expected an integer, got 'x'\n")

    @defer.inlineCallbacks
    def test_databaseUnreachable(self):
        code, _, err = yield self.manage(
            "--sql_connection=postgres://nobody@127.0.0.1:1/none", "db", "version"
        )
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith("error: cannot connect to the database"), err)


class FormatTableTests(TestCase):
    def test_aligned(self):
        self.assertEqual(
            formatTable([("a", 1), ("bbb", 22)], ("X", "Y")),
            "X    Y\na    1\nbbb  22",
        )
