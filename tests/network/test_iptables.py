"""
Tests for L{nova.network.iptables}: the chains one wrap owns, the
C{iptables-restore --noflush} transactions that write them, and that
applying again, or from a fresh manager after a restart, converges without
touching anyone else's rules.
"""

import copy

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from nova.network.iptables import IptablesError, IptablesManager, IptablesTable
from nova.util.process import FakeProcessRunner
from tests.network.fakehost import FakeHost


class TableTests(SynchronousTestCase):
    def test_standardChains(self):
        filter = IptablesTable("filter", "nova-network")
        self.assertEqual(filter.chains, ["INPUT", "FORWARD", "OUTPUT", "local"])
        nat = IptablesTable("nat", "nova-network")
        self.assertEqual(nat.chains, ["PREROUTING", "OUTPUT", "POSTROUTING", "snat", "float-snat"])
        self.assertEqual(nat.rulesOf("snat"), [("-j", "$float-snat")])

    def test_addRuleOnce(self):
        table = IptablesTable("filter", "w")
        self.assertTrue(table.addRule("FORWARD", ("-i", "br100", "-j", "ACCEPT")))
        self.assertFalse(table.addRule("FORWARD", ("-i", "br100", "-j", "ACCEPT")))
        table.addRule("FORWARD", ("-o", "br100", "-j", "ACCEPT"), top=True)
        self.assertEqual(
            table.rulesOf("FORWARD"),
            [("-o", "br100", "-j", "ACCEPT"), ("-i", "br100", "-j", "ACCEPT")],
        )
        self.assertTrue(table.removeRule("FORWARD", ("-o", "br100", "-j", "ACCEPT")))
        self.assertFalse(table.removeRule("FORWARD", ("-o", "br100", "-j", "ACCEPT")))

    def test_removeChainRemovesJumps(self):
        table = IptablesTable("filter", "w")
        table.addChain("inst-1")
        table.addRule("inst-1", ("-j", "DROP"))
        table.addRule("local", ("-d", "10.0.0.2/32", "-j", "$inst-1"))
        table.addRule("local", ("-d", "10.0.0.3/32", "-j", "ACCEPT"))
        table.removeChain("inst-1")
        self.assertFalse(table.hasChain("inst-1"))
        self.assertEqual(table.rulesOf("local"), [("-d", "10.0.0.3/32", "-j", "ACCEPT")])

    def test_refusesInjection(self):
        """
        Tokens reach iptables-restore's input line by line: newlines,
        spaces, quotes and unknown chain references are refused.
        """
        table = IptablesTable("filter", "w")
        for bad in (
            ("-s", "10.0.0.1\n-A INPUT -j ACCEPT"),
            ("-s", "10.0.0.1 -j ACCEPT"),
            ("--comment", '"x"'),
            ("-j", "$nochain"),
            (),
        ):
            self.assertRaises(IptablesError, table.addRule, "FORWARD", bad)
        self.assertRaises(IptablesError, table.addChain, "bad name")
        self.assertRaises(IptablesError, table.addChain, "x" * 40)
        self.assertRaises(IptablesError, table.addRule, "nochain", ("-j", "ACCEPT"))
        self.assertRaises(IptablesError, IptablesManager, FakeProcessRunner(), "Bad Wrap")

    def test_restoreLinesFromEmpty(self):
        table = IptablesTable("filter", "nova-compute")
        table.addChain("inst-7")
        table.addRule("inst-7", ("-j", "DROP"))
        table.addRule("local", ("-d", "10.0.0.7/32", "-j", "$inst-7"))
        saved = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        self.assertEqual(
            table.restoreLines(saved),
            [
                "*filter",
                ":nova-compute-INPUT - [0:0]",
                ":nova-compute-FORWARD - [0:0]",
                ":nova-compute-OUTPUT - [0:0]",
                ":nova-compute-local - [0:0]",
                ":nova-compute-inst-7 - [0:0]",
                ":nova-filter-top - [0:0]",
                "-A nova-filter-top -j nova-compute-local",
                "-I INPUT 1 -j nova-compute-INPUT",
                "-I FORWARD 1 -j nova-compute-FORWARD",
                "-I OUTPUT 1 -j nova-compute-OUTPUT",
                "-I FORWARD 1 -j nova-filter-top",
                "-I OUTPUT 1 -j nova-filter-top",
                "-A nova-compute-local -d 10.0.0.7/32 -j nova-compute-inst-7",
                "-A nova-compute-inst-7 -j DROP",
                "COMMIT",
            ],
        )

    def test_restoreLinesAgain(self):
        """
        With its chains present, a new wrap (a restart) flushes them all by
        declaring them, moves its jumps back into place in the built-in
        chains where one is out of place, removes its stale chains, and
        leaves the shared chain's other jumps and everyone else's rules
        alone.
        """
        table = IptablesTable("filter", "nova-compute")
        saved = "\n".join(
            [
                "*filter",
                ":INPUT ACCEPT [0:0]",
                ":FORWARD DROP [0:0]",
                ":OUTPUT ACCEPT [0:0]",
                ":DOCKER - [0:0]",
                ":nova-compute-FORWARD - [0:0]",
                ":nova-compute-INPUT - [0:0]",
                ":nova-compute-OUTPUT - [0:0]",
                ":nova-compute-inst-9 - [0:0]",
                ":nova-compute-local - [0:0]",
                ":nova-filter-top - [0:0]",
                ":nova-network-local - [0:0]",
                "-A FORWARD -j DOCKER",
                "-A FORWARD -j nova-filter-top",
                "-A FORWARD -j nova-compute-FORWARD",
                "-A OUTPUT -j nova-filter-top",
                "-A OUTPUT -j nova-compute-OUTPUT",
                "-A INPUT -j nova-compute-INPUT",
                "-A nova-filter-top -j nova-network-local",
                "-A nova-filter-top -j nova-compute-local",
                "-A nova-compute-local -d 10.0.0.9/32 -j nova-compute-inst-9",
                "COMMIT",
            ]
        )
        lines = table.restoreLines(saved)
        self.assertEqual(
            lines,
            [
                "*filter",
                ":nova-compute-INPUT - [0:0]",
                ":nova-compute-FORWARD - [0:0]",
                ":nova-compute-OUTPUT - [0:0]",
                ":nova-compute-local - [0:0]",
                ":nova-compute-inst-9 - [0:0]",
                "-D FORWARD -j nova-compute-FORWARD",
                "-D FORWARD -j nova-filter-top",
                "-I FORWARD 1 -j nova-compute-FORWARD",
                "-I FORWARD 1 -j nova-filter-top",
                "-X nova-compute-inst-9",
                "COMMIT",
            ],
        )

    def test_restoreLinesOnlyWhatDiffers(self):
        """
        Once written, a table writes again only the chains changed since
        (or that the kernel holds with another number of rules), and
        nothing at all when the kernel holds what it wants.
        """
        table = IptablesTable("filter", "w")
        table.addChain("a")
        table.addChain("b")
        table.addRule("a", ("-s", "10.0.0.1/32", "-j", "ACCEPT"))
        table.addRule("b", ("-s", "10.0.0.2/32", "-j", "ACCEPT"))
        table.addRule("local", ("-j", "$a"))
        saved = "\n".join(
            [
                "*filter",
                ":INPUT ACCEPT [0:0]",
                ":FORWARD ACCEPT [0:0]",
                ":OUTPUT ACCEPT [0:0]",
                ":nova-filter-top - [0:0]",
                ":w-FORWARD - [0:0]",
                ":w-INPUT - [0:0]",
                ":w-OUTPUT - [0:0]",
                ":w-a - [0:0]",
                ":w-b - [0:0]",
                ":w-local - [0:0]",
                "-A INPUT -j w-INPUT",
                "-A FORWARD -j nova-filter-top",
                "-A FORWARD -j w-FORWARD",
                "-A FORWARD -j ACCEPT",
                "-A OUTPUT -j nova-filter-top",
                "-A OUTPUT -j w-OUTPUT",
                "-A nova-filter-top -j w-local",
                "-A w-a -s 10.0.0.1/32 -j ACCEPT",
                "-A w-b -s 10.0.0.2/32 -j ACCEPT",
                "-A w-local -j w-a",
                "COMMIT",
            ]
        )
        table.dirty.clear()
        self.assertEqual(table.restoreLines(saved), [])
        table.setRules("b", [("-s", "10.0.0.2/32", "-j", "ACCEPT"), ("-s", "10.0.0.3/32", "-j", "ACCEPT")])
        self.assertEqual(table.dirty, {"b"})
        self.assertEqual(
            table.restoreLines(saved),
            [
                "*filter",
                ":w-b - [0:0]",
                "-A w-b -s 10.0.0.2/32 -j ACCEPT",
                "-A w-b -s 10.0.0.3/32 -j ACCEPT",
                "COMMIT",
            ],
        )
        table.setRules("b", [("-s", "10.0.0.2/32", "-j", "ACCEPT")])
        table.dirty.clear()
        # Someone flushed w-a: it is written although it did not change.
        flushed = saved.replace("-A w-a -s 10.0.0.1/32 -j ACCEPT\n", "")
        self.assertEqual(
            table.restoreLines(flushed, dirty=set()),
            ["*filter", ":w-a - [0:0]", "-A w-a -s 10.0.0.1/32 -j ACCEPT", "COMMIT"],
        )
        # Another program put a rule before ours in INPUT: only INPUT's
        # jump moves.
        pushed = saved.replace("-A INPUT -j w-INPUT", "-A INPUT -j DROP\n-A INPUT -j w-INPUT")
        self.assertEqual(
            table.restoreLines(pushed, dirty=set()),
            ["*filter", "-D INPUT -j w-INPUT", "-I INPUT 1 -j w-INPUT", "COMMIT"],
        )

    def test_dirtyChains(self):
        """
        Every change marks the chains it changes, and only those.
        """
        table = IptablesTable("filter", "w")
        self.assertEqual(table.dirty, {"INPUT", "FORWARD", "OUTPUT", "local"})
        table.dirty.clear()
        table.addChain("a")
        table.addChain("b")
        self.assertEqual(table.dirty, {"a", "b"})
        table.dirty.clear()
        self.assertTrue(table.addRule("a", ("-j", "ACCEPT")))
        self.assertFalse(table.addRule("a", ("-j", "ACCEPT")))
        table.addRule("local", ("-j", "$a"))
        table.addRule("b", ("-j", "DROP"))
        self.assertEqual(table.dirty, {"a", "local", "b"})
        table.dirty.clear()
        self.assertFalse(table.setRules("a", [("-j", "ACCEPT")]))
        self.assertFalse(table.removeRule("a", ("-j", "DROP")))
        table.emptyChain("INPUT")
        self.assertEqual(table.dirty, set())
        self.assertTrue(table.setRules("a", [("-j", "DROP"), ("-j", "ACCEPT"), ("-j", "DROP")]))
        self.assertEqual(table.rulesOf("a"), [("-j", "DROP"), ("-j", "ACCEPT")])
        self.assertRaises(IptablesError, table.setRules, "a", [("-j", "$nochain")])
        self.assertEqual(table.rulesOf("a"), [("-j", "DROP"), ("-j", "ACCEPT")])
        table.dirty.clear()
        table.removeChain("a")
        self.assertEqual(table.dirty, {"local"})
        table.dirty.clear()
        table.removeChain("b")
        self.assertEqual(table.dirty, set())

    def test_natBottom(self):
        table = IptablesTable("nat", "nova-network")
        lines = table.restoreLines("*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n")
        self.assertIn("-A POSTROUTING -j nova-postrouting-bottom", lines)
        self.assertIn("-I POSTROUTING 1 -j nova-network-POSTROUTING", lines)
        self.assertIn("-A nova-postrouting-bottom -j nova-network-snat", lines)
        self.assertIn("-A nova-network-snat -j nova-network-float-snat", lines)


class ManagerTests(SynchronousTestCase):
    def setUp(self):
        self.host = FakeHost(self.mktemp())
        self.manager = IptablesManager(self.host.runner, "nova-network")

    def test_applyWritesBothTables(self):
        self.manager.filter.addRule("FORWARD", ("-i", "br100", "-j", "ACCEPT"))
        self.manager.nat.addRule("snat", ("-s", "10.0.0.0/8", "-j", "SNAT", "--to-source", "192.0.2.1"))
        self.successResultOf(self.manager.apply())
        self.assertEqual(
            self.host.commands(),
            [
                ("iptables-save", "-t", "filter"),
                ("iptables-restore", "-w", "5", "--noflush"),
                ("iptables-save", "-t", "nat"),
                ("iptables-restore", "-w", "5", "--noflush"),
            ],
        )
        ipt = self.host.iptables
        self.assertEqual(
            ipt.rules("filter", "FORWARD"), ["-j nova-filter-top", "-j nova-network-FORWARD"]
        )
        self.assertEqual(ipt.rules("filter", "nova-network-FORWARD"), ["-i br100 -j ACCEPT"])
        self.assertEqual(ipt.rules("nat", "POSTROUTING"), ["-j nova-network-POSTROUTING", "-j nova-postrouting-bottom"])
        self.assertEqual(
            ipt.rules("nat", "nova-network-snat"),
            ["-j nova-network-float-snat", "-s 10.0.0.0/8 -j SNAT --to-source 192.0.2.1"],
        )
        self.assertEqual(self.manager.applied, 1)

    def test_idempotent(self):
        self.manager.nat.addRule("PREROUTING", ("-d", "192.0.2.5/32", "-j", "DNAT", "--to-destination", "10.0.0.5"))
        self.successResultOf(self.manager.apply())
        before = copy.deepcopy(self.host.iptables.tables)
        self.successResultOf(self.manager.apply())
        self.assertEqual(self.host.iptables.tables, before)

    def test_applyWritesOnlyChanges(self):
        """
        After the first apply, an apply writes only the chains that
        changed, and a table with no change is only read.
        """
        self.manager.filter.addChain("a")
        self.manager.filter.addChain("b")
        self.manager.filter.addRule("a", ("-s", "10.0.0.1/32", "-j", "ACCEPT"))
        self.manager.filter.addRule("FORWARD", ("-j", "$a"))
        self.successResultOf(self.manager.apply())
        self.host.clear()
        self.manager.filter.setRules("b", [("-s", "10.0.0.2/32", "-j", "ACCEPT")])
        self.successResultOf(self.manager.apply())
        self.assertEqual(
            self.host.commands(),
            [
                ("iptables-save", "-t", "filter"),
                ("iptables-restore", "-w", "5", "--noflush"),
                ("iptables-save", "-t", "nat"),
            ],
        )
        [stdin] = [stdin for stdin in self.host.runner.stdins if stdin is not None]
        self.assertEqual(
            stdin.decode(),
            "*filter\n:nova-network-b - [0:0]\n-A nova-network-b -s 10.0.0.2/32 -j ACCEPT\nCOMMIT\n",
        )
        self.assertEqual(self.host.iptables.rules("filter", "nova-network-a"), ["-s 10.0.0.1/32 -j ACCEPT"])
        self.assertEqual(self.host.iptables.rules("filter", "nova-network-b"), ["-s 10.0.0.2/32 -j ACCEPT"])
        self.host.clear()
        self.successResultOf(self.manager.apply())
        self.assertEqual(
            self.host.commands(), [("iptables-save", "-t", "filter"), ("iptables-save", "-t", "nat")]
        )
        self.assertEqual(self.manager.applied, 3)

    def test_applyRepairsTheKernel(self):
        """
        A chain of ours that someone flushed, or a jump someone deleted, is
        written again by the next apply, though nothing changed in memory.
        """
        self.manager.filter.addRule("FORWARD", ("-i", "br100", "-j", "ACCEPT"))
        self.successResultOf(self.manager.apply())
        reference = copy.deepcopy(self.host.iptables.tables)
        ipt = self.host.iptables
        ipt.tables["filter"]["nova-network-FORWARD"] = []
        ipt.tables["filter"]["FORWARD"].remove("-j nova-filter-top")
        ipt.tables["nat"]["POSTROUTING"].append("-j MASQUERADE")
        self.successResultOf(self.manager.apply())
        reference["nat"]["POSTROUTING"].insert(1, "-j MASQUERADE")
        self.assertEqual(ipt.tables, reference)

    def test_failedWriteIsWrittenNext(self):
        """
        The chains a failed write carried are written by the next apply.
        """
        self.successResultOf(self.manager.apply())
        self.manager.filter.addRule("FORWARD", ("-i", "br100", "-j", "ACCEPT"))
        runner = self.host.runner
        original = runner.run

        def run(argv, stdin=None, timeout=None):
            if argv[0] == "iptables-restore":
                return original(["false"], stdin=stdin, timeout=timeout)
            return original(argv, stdin=stdin, timeout=timeout)

        runner.respond(("false",), err=b"iptables-restore: line 2 failed", code=1)
        runner.run = run
        self.failureResultOf(self.manager.apply(), IptablesError)
        self.assertEqual(self.manager.filter.dirty, {"FORWARD"})
        self.assertEqual(self.host.iptables.rules("filter", "nova-network-FORWARD"), [])
        runner.run = original
        self.successResultOf(self.manager.apply())
        self.assertEqual(self.host.iptables.rules("filter", "nova-network-FORWARD"), ["-i br100 -j ACCEPT"])
        self.assertEqual(self.manager.filter.dirty, set())

    def test_restartConverges(self):
        """
        A new manager (nova-network restarted) that sets up less removes
        what is gone, and ends where the first one would have.
        """
        self.manager.filter.addChain("old")
        self.manager.filter.addRule("FORWARD", ("-j", "$old"))
        self.manager.nat.addRule("PREROUTING", ("-d", "192.0.2.5/32", "-j", "DNAT", "--to-destination", "10.0.0.5"))
        self.successResultOf(self.manager.apply())
        self.assertIn("nova-network-old", self.host.iptables.chains("filter"))
        fresh = IptablesManager(self.host.runner, "nova-network")
        self.successResultOf(fresh.apply())
        reference = FakeHost(self.mktemp())
        self.successResultOf(IptablesManager(reference.runner, "nova-network").apply())
        self.assertEqual(self.host.iptables.tables, reference.iptables.tables)

    def test_twoWrapsShareTheHost(self):
        compute = IptablesManager(self.host.runner, "nova-compute")
        compute.filter.addChain("inst-1")
        compute.filter.addRule("inst-1", ("-j", "DROP"))
        compute.filter.addRule("local", ("-d", "10.0.0.2/32", "-j", "$inst-1"))
        self.manager.filter.addRule("FORWARD", ("-o", "br100", "-j", "ACCEPT"))
        self.successResultOf(self.manager.apply())
        self.successResultOf(compute.apply())
        self.successResultOf(self.manager.apply())
        ipt = self.host.iptables
        self.assertEqual(
            ipt.rules("filter", "nova-filter-top"),
            ["-j nova-network-local", "-j nova-compute-local"],
        )
        self.assertEqual(ipt.rules("filter", "FORWARD")[0], "-j nova-filter-top")
        self.assertEqual(sorted(ipt.rules("filter", "FORWARD")), sorted([
            "-j nova-filter-top", "-j nova-network-FORWARD", "-j nova-compute-FORWARD",
        ]))
        self.assertEqual(ipt.rules("filter", "nova-compute-local"), ["-d 10.0.0.2/32 -j nova-compute-inst-1"])
        self.assertEqual(ipt.rules("filter", "nova-network-FORWARD"), ["-o br100 -j ACCEPT"])
        # Others' rules stay.
        ipt.tables["filter"]["FORWARD"].append("-j ACCEPT")
        compute.filter.removeChain("inst-1")
        self.successResultOf(compute.apply())
        self.assertNotIn("nova-compute-inst-1", ipt.chains("filter"))
        self.assertEqual(ipt.rules("filter", "FORWARD")[-1], "-j ACCEPT")
        self.assertEqual(ipt.rules("filter", "nova-network-FORWARD"), ["-o br100 -j ACCEPT"])

    def test_appliesShareTheNextRun(self):
        """
        While an apply runs, further calls wait for one more apply, which
        they share.
        """
        runner = FakeProcessRunner()
        pending = []
        manager = IptablesManager(runner, "w")
        gate = Deferred()
        original = runner.run

        def run(argv, stdin=None, timeout=None):
            if argv[0] == "iptables-save" and not pending:
                pending.append(argv)
                return gate.addCallback(lambda _: (b"", b"", 0))
            return original(argv, stdin=stdin, timeout=timeout)

        runner.run = run
        first = manager.apply()
        second = manager.apply()
        third = manager.apply()
        self.assertNoResult(first)
        self.assertNoResult(second)
        gate.callback(None)
        self.successResultOf(first)
        self.successResultOf(second)
        self.successResultOf(third)
        self.assertEqual(manager.applied, 2)
        self.assertEqual(len(runner.commandsStartingWith("iptables-restore")), 4)

    def test_retriesThenFails(self):
        self.host.failures[("iptables-restore", "-w", "5", "--noflush")] = (b"", b"busy", 4)
        self.successResultOf(self.manager.apply())
        self.assertEqual(len([c for c in self.host.commands() if c[0] == "iptables-restore"]), 3)
        runner = FakeProcessRunner()
        runner.respond(("iptables-restore",), err=b"iptables-restore: line 3 failed", code=1)
        failure = self.failureResultOf(IptablesManager(runner, "w").apply(), IptablesError)
        self.assertIn("line 3 failed", str(failure.value))
        self.assertEqual(len(runner.commandsStartingWith("iptables-restore")), 3)
