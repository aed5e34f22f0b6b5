# -*- test-case-name: tests.network.test_iptables -*-
"""
An iptables manager: Nova's own chains, kept in memory and written to the
kernel as a whole, so that applying twice (or after a restart) converges on
the same rules and never touches rules Nova did not make.

Each user of the manager has a I{wrap} name (C{nova-network} for the
network driver, C{nova-compute} for the firewall): every chain it makes is
called C{<wrap>-<name>}, so two users on one host never clobber each
other.  The layout (with C{W} for the wrap name)::

    filter  INPUT       -> W-INPUT
            FORWARD     -> nova-filter-top (first), W-FORWARD
            OUTPUT      -> nova-filter-top (first), W-OUTPUT
            nova-filter-top -> W-local          (per-instance jumps live in W-local)
    nat     PREROUTING  -> W-PREROUTING         (DNAT: metadata, floating, VPN)
            OUTPUT      -> W-OUTPUT             (DNAT of the host's own traffic)
            POSTROUTING -> W-POSTROUTING (first), nova-postrouting-bottom (last)
            nova-postrouting-bottom -> W-snat -> W-float-snat, then the SNAT
                                                of the fixed range

C{nova-filter-top} and C{nova-postrouting-bottom} are shared: each user
only makes sure they exist and hold its own jump.

L{IptablesManager.apply} reads each table with C{iptables-save -t <table>}
and writes one C{iptables-restore --noflush} transaction per table that
declares (and so empties) and fills again only the chains of this wrap that
need it: those changed since they were last written, and those the kernel
lacks or holds with another number of rules (someone flushed or edited
them).  The same transaction deletes the chains of this wrap it no longer
has, and puts the jumps from the built-in chains back at their places if
they are not there.  A table that needs nothing is not written.  A new
manager (a restart) writes all of its chains once.  Rules of other
programs and other wraps are left as they are.  Applies run one at a time,
and changes made while one runs are written by the next.
"""

import re

from twisted.internet.defer import Deferred, DeferredLock
from twisted.logger import Logger
from twisted.python.failure import Failure

from nova.network.interfaces import NetworkDriverError
from nova.util.process import ProcessError, runChecked

log = Logger()

#: The chain every user's C{<wrap>-local} is jumped to from, first in
#: filter FORWARD and OUTPUT.
FILTER_TOP = "nova-filter-top"

#: The shared nat chain at the end of POSTROUTING, jumping to each user's
#: C{<wrap>-snat}.
POSTROUTING_BOTTOM = "nova-postrouting-bottom"

#: The built-in chains that get a C{<wrap>-<chain>} of their own, by table.
WRAPPED_BUILTINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "OUTPUT", "POSTROUTING"),
}

#: Further chains every user has, by table.
STANDARD_CHAINS = {
    "filter": ("local",),
    "nat": ("snat", "float-snat"),
}

#: The longest chain name iptables accepts.
MAX_CHAIN_NAME = 28

_TOKEN = re.compile(r"^\$?[A-Za-z0-9_.:/,+!=-]+$")
_CHAIN = re.compile(r"^[A-Za-z0-9_.-]+$")
_WRAP = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


class IptablesError(NetworkDriverError):
    """Nova's rules could not be read or written."""

    code = "IptablesError"


def _checkToken(token):
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise IptablesError(f"bad iptables rule token {token!r}")
    return token


class IptablesTable:
    """
    The chains and rules of one table that one wrap owns.

    Chain names given to methods are short names (C{inst-42}); in rule
    arguments, a token C{$name} stands for this wrap's chain C{name}
    (C{-j $inst-42} becomes C{-j nova-compute-inst-42}).

    @ivar name: C{filter} or C{nat}.
    @ivar chains: the short names of the chains, in order of creation.
    @ivar rules: from short chain name to the L{list} of rules, each a
        L{tuple} of argument tokens.
    @ivar dirty: the short names of the chains changed since they were
        last written to the kernel.
    """

    def __init__(self, name, wrap):
        self.name = name
        self.wrap = wrap
        self.chains = []
        self.rules = {}
        self.dirty = set()
        for chain in WRAPPED_BUILTINS[name] + STANDARD_CHAINS[name]:
            self.addChain(chain)
        if name == "nat":
            self.addRule("snat", ("-j", "$float-snat"))

    def fullName(self, chain):
        """
        @return: the kernel's name of this wrap's chain C{chain}.
        """
        return f"{self.wrap}-{chain}"

    def checkChainName(self, chain):
        """
        @raise IptablesError: if C{chain} is not a short chain name this
            wrap can have (bad characters, or too long once prefixed).
        """
        if not isinstance(chain, str) or not _CHAIN.match(chain):
            raise IptablesError(f"bad chain name {chain!r}")
        if len(self.fullName(chain)) > MAX_CHAIN_NAME:
            raise IptablesError(f"chain name {self.fullName(chain)!r} is too long")

    def addChain(self, chain):
        """
        Make the chain C{chain} (nothing if it exists).

        @raise IptablesError: for a bad or too long name.
        """
        self.checkChainName(chain)
        if chain not in self.rules:
            self.chains.append(chain)
            self.rules[chain] = []
            self.dirty.add(chain)

    def hasChain(self, chain):
        return chain in self.rules

    def removeChain(self, chain):
        """
        Remove the chain C{chain} and every rule of this wrap that jumps to
        it (nothing if there is no such chain).
        """
        if chain not in self.rules:
            return
        self.chains.remove(chain)
        del self.rules[chain]
        self.dirty.discard(chain)
        target = "$" + chain
        for name, rules in self.rules.items():
            kept = [rule for rule in rules if target not in rule]
            if len(kept) != len(rules):
                self.rules[name] = kept
                self.dirty.add(name)

    def emptyChain(self, chain):
        """
        Remove every rule of C{chain}.
        """
        rules = self._rulesOf(chain)
        if rules:
            rules[:] = []
            self.dirty.add(chain)

    def setRules(self, chain, rules):
        """
        Make C{chain} hold exactly C{rules} (a rule given twice is kept
        once), in time linear in their number.

        @param rules: an iterable of rules, each a sequence of tokens.
        @return: C{True} if the chain changed.
        @raise IptablesError: for a bad rule; the chain is then unchanged.
        """
        current = self._rulesOf(chain)
        wanted = list(dict.fromkeys(self._checkRule(args) for args in rules))
        if wanted == current:
            return False
        current[:] = wanted
        self.dirty.add(chain)
        return True

    def _rulesOf(self, chain):
        rules = self.rules.get(chain)
        if rules is None:
            raise IptablesError(f"no chain {chain!r} in table {self.name}")
        return rules

    def _checkRule(self, args):
        args = tuple(args)
        if not args:
            raise IptablesError("an empty rule")
        for token in args:
            _checkToken(token)
            if token.startswith("$") and token[1:] not in self.rules:
                raise IptablesError(f"rule jumps to unknown chain {token[1:]!r}")
        return args

    def addRule(self, chain, args, top=False):
        """
        Add a rule to C{chain} unless it holds that rule already.

        @param args: the rule's arguments (after C{-A chain}), as a
            sequence of tokens.
        @param top: put it first rather than last.
        @return: C{True} if it was added.
        """
        rules = self._rulesOf(chain)
        args = self._checkRule(args)
        if args in rules:
            return False
        if top:
            rules.insert(0, args)
        else:
            rules.append(args)
        self.dirty.add(chain)
        return True

    def removeRule(self, chain, args):
        """
        Remove a rule from C{chain}.

        @return: C{True} if it was there.
        """
        rules = self._rulesOf(chain)
        args = tuple(args)
        if args in rules:
            rules.remove(args)
            self.dirty.add(chain)
            return True
        return False

    def rulesOf(self, chain):
        """
        @return: the rules of C{chain}, as tuples, in order.
        """
        return list(self._rulesOf(chain))

    def render(self, args):
        """
        @return: C{args} with each C{$chain} replaced by its full name.
        """
        return tuple(
            self.fullName(token[1:]) if token.startswith("$") else token for token in args
        )

    def restoreLines(self, saved, dirty=None):
        """
        The C{iptables-restore --noflush} input that makes the kernel's
        table hold exactly this wrap's chains and rules, and writes only
        what differs: it declares (empties) and fills the chains in
        C{dirty} and those the kernel lacks or holds with another number
        of rules, deletes this wrap's chains that are no longer wanted,
        adds the shared chain's jump if it is missing, and moves the jumps
        from each built-in chain back into place if one of them is not
        there.

        @param saved: the table as C{iptables-save -t <table>} printed it
            (L{str}).
        @param dirty: the short names of the chains to write whatever the
            kernel holds; by default L{dirty}.
        @return: a L{list} of lines (without newlines); empty if the
            kernel holds the table as wanted already.
        """
        if dirty is None:
            dirty = self.dirty
        existing, savedRules = parseSave(saved)
        savedByChain = {}
        for line in savedRules:
            savedByChain.setdefault(line.split(None, 2)[1], []).append(line)
        prefix = self.wrap + "-"
        ours = {self.fullName(chain) for chain in self.chains}
        stale = sorted(c for c in existing if c.startswith(prefix) and c not in ours)
        write = [
            chain
            for chain in self.chains
            if chain in dirty
            or self.fullName(chain) not in existing
            or len(savedByChain.get(self.fullName(chain), ())) != len(self.rules[chain])
        ]
        lines = []
        lines.extend(f":{self.fullName(chain)} - [0:0]" for chain in write)
        lines.extend(f":{chain} - [0:0]" for chain in stale)
        shared = {"filter": FILTER_TOP, "nat": POSTROUTING_BOTTOM}[self.name]
        sharedTarget = self.fullName("local" if self.name == "filter" else "snat")
        if shared not in existing:
            lines.append(f":{shared} - [0:0]")
        sharedJump = f"-A {shared} -j {sharedTarget}"
        if sharedJump not in savedByChain.get(shared, ()):
            lines.append(sharedJump)
        # Put the jumps from the built-in chains back where they belong:
        # in each built-in chain where one is out of place, delete each
        # one present (once per copy), then add them again.
        wanted = []
        for builtin in WRAPPED_BUILTINS[self.name]:
            wanted.append((builtin, self.fullName(builtin), "top"))
        if self.name == "filter":
            wanted.append(("FORWARD", FILTER_TOP, "first"))
            wanted.append(("OUTPUT", FILTER_TOP, "first"))
        else:
            wanted.append(("POSTROUTING", POSTROUTING_BOTTOM, "bottom"))
        misplaced = _misplacedBuiltins(wanted, savedByChain)
        wanted = [jump for jump in wanted if jump[0] in misplaced]
        for builtin, target, _ in wanted:
            jump = f"-A {builtin} -j {target}"
            for _ in range(savedByChain.get(builtin, []).count(jump)):
                lines.append(f"-D {builtin} -j {target}")
        for builtin, target, where in wanted:
            if where == "top":
                lines.append(f"-I {builtin} 1 -j {target}")
        for builtin, target, where in wanted:
            if where == "first":
                lines.append(f"-I {builtin} 1 -j {target}")
            elif where == "bottom":
                lines.append(f"-A {builtin} -j {target}")
        for chain in write:
            full = self.fullName(chain)
            for args in self.rules[chain]:
                lines.append(" ".join(("-A", full) + self.render(args)))
        lines.extend(f"-X {chain}" for chain in stale)
        if not lines:
            return []
        return [f"*{self.name}"] + lines + ["COMMIT"]


#: A saved rule that only jumps to a chain of Nova's.
_NOVA_JUMP = re.compile(r"^-A \S+ -j nova-\S+$")


def _misplacedBuiltins(wanted, savedByChain):
    """
    @param wanted: C{(built-in chain, target, where)} for each jump a wrap
        keeps in a built-in chain: C{where} is C{first} (the chain's first
        rule), C{top} (before any rule but Nova's jumps) or C{bottom} (the
        last rule).
    @param savedByChain: from chain name to its saved C{-A} lines, in
        order.
    @return: the L{set} of the built-in chains where one of these jumps is
        missing, repeated or out of place.
    """
    misplaced = set()
    for builtin, target, where in wanted:
        rules = savedByChain.get(builtin, [])
        jump = f"-A {builtin} -j {target}"
        if rules.count(jump) != 1:
            misplaced.add(builtin)
            continue
        index = rules.index(jump)
        if where == "first":
            inPlace = index == 0
        elif where == "bottom":
            inPlace = index == len(rules) - 1
        else:
            inPlace = all(_NOVA_JUMP.match(rule) for rule in rules[:index])
        if not inPlace:
            misplaced.add(builtin)
    return misplaced


def parseSave(text):
    """
    @param text: the output of C{iptables-save -t <table>}.
    @return: C{(chains, rules)}: the set of chain names and the L{list} of
        C{-A ...} lines.
    """
    chains, rules = set(), []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(":"):
            chains.add(line[1:].split()[0])
        elif line.startswith("-A "):
            rules.append(line)
    return chains, rules


class IptablesManager:
    """
    One wrap's chains in the filter and nat tables, and the means to write
    them to the kernel.

    @ivar tables: C{{"filter": IptablesTable, "nat": IptablesTable}}.
    @ivar applied: how many applies wrote to the kernel.
    """

    #: How many times an apply reads and writes a table before it fails.
    attempts = 3

    def __init__(self, runner, wrap="nova-network", timeout=30.0):
        """
        @param runner: the L{nova.util.process.IProcessRunner} that runs
            C{iptables-save} and C{iptables-restore} (in the host's
            network namespace, or a namespace's).
        @param wrap: the prefix of this user's chains.
        @param timeout: seconds each command may take.
        """
        if not _WRAP.match(wrap or ""):
            raise IptablesError(f"bad wrap name {wrap!r}")
        self.runner = runner
        self.wrap = wrap
        self.timeout = timeout
        self.tables = {name: IptablesTable(name, wrap) for name in ("filter", "nat")}
        self.applied = 0
        self._lock = DeferredLock()
        self._queued = None

    @property
    def filter(self):
        return self.tables["filter"]

    @property
    def nat(self):
        return self.tables["nat"]

    def apply(self):
        """
        Write to the kernel what it lacks of the chains (see the module
        docstring).  Calls made while an apply runs share the next one.

        @return: L{Deferred} firing with C{None} once an apply that
            started after this call finished; failing with
            L{IptablesError}.
        """
        d = Deferred()
        if self._queued is not None:
            self._queued.append(d)
        else:
            self._queued = [d]
            self._lock.run(self._applyQueued)
        return d

    async def _applyQueued(self):
        waiters, self._queued = self._queued, None
        try:
            await self._applyNow()
        except BaseException:
            failure = Failure()
            for d in waiters:
                d.errback(failure)
        else:
            for d in waiters:
                d.callback(None)

    async def _applyNow(self):
        for name in ("filter", "nat"):
            for attempt in range(1, self.attempts + 1):
                try:
                    await self._applyTable(name)
                    break
                except ProcessError as e:
                    # Another program may have changed the table between
                    # our save and our restore: read it again and retry.
                    if attempt < self.attempts:
                        log.info(
                            "writing the {table} table failed ({error}); retrying",
                            table=name,
                            error=e,
                        )
                        continue
                    log.error("writing the {table} table failed: {error}", table=name, error=e)
                    raise IptablesError(f"cannot write iptables table {name}: {e}") from e
        self.applied += 1

    async def _applyTable(self, name):
        table = self.tables[name]
        out, _ = await runChecked(
            self.runner, ["iptables-save", "-t", name], timeout=self.timeout
        )
        written = set(table.dirty)
        lines = table.restoreLines(out.decode("utf-8", "replace"), written)
        if not lines:
            return
        # Changes made while the write runs mark their chains again, for
        # the next apply; a failed write leaves its chains to write.
        table.dirty -= written
        try:
            await runChecked(
                self.runner,
                ["iptables-restore", "-w", "5", "--noflush"],
                stdin=("\n".join(lines) + "\n").encode("ascii"),
                timeout=self.timeout,
            )
        except BaseException:
            table.dirty.update(chain for chain in written if table.hasChain(chain))
            raise
