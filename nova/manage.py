# -*- test-case-name: tests.test_manage -*-
"""
C{nova-manage}: the operator's command line.

    nova-manage [--flag=value ...] <category> <action> [arguments ...]

Flags are Nova's usual flags (C{--flagfile=/etc/nova/nova.conf},
C{--sql_connection=...}).  Each category is a class whose C{do_<action>}
methods take the positional arguments as strings and return a value or a
L{Deferred}; output goes to C{self.out}.  An action may also accept
switches (C{--purge}), declared with L{switches}; C{--help} after any
category or action prints its help.

L{commandTable} renders every command as the Markdown table of
C{docs/manage.md} (a test keeps the two in sync).
"""

import code
import inspect
import re
import sys

from twisted.internet.defer import Deferred, inlineCallbacks, maybeDeferred
from twisted.internet.threads import blockingCallFromThread, deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.reflect import namedAny
from twisted.python.threadable import isInIOThread

from nova import exception
from nova.config import ConfigError, allFlags, parseFlags

# Category name -> class path; imported only when used.
CATEGORIES = {
    "db": "nova.manage.DbCommands",
    "service": "nova.manage.ServiceCommands",
    "shell": "nova.manage.ShellCommands",
    "log": "nova.manage.LogCommands",
    "config": "nova.manage.ConfigCommands",
    "version": "nova.manage.VersionCommands",
    "user": "nova.auth.manage.UserCommands",
    "project": "nova.auth.manage.ProjectCommands",
    "account": "nova.auth.manage.ProjectCommands",
    "role": "nova.auth.manage.RoleCommands",
    "network": "nova.network.manage.NetworkCommands",
    "fixed": "nova.network.manage.FixedCommands",
    "floating": "nova.network.manage.FloatingCommands",
    "vpn": "nova.network.vpn_manage.VpnCommands",
    "vm": "nova.compute.manage.VmCommands",
    "instance_type": "nova.compute.manage.InstanceTypeCommands",
    "flavor": "nova.compute.manage.InstanceTypeCommands",
    "image": "nova.image.manage.ImageCommands",
    "volume": "nova.volume.manage.VolumeCommands",
}

# Categories that are another category under Cactus's second name.
ALIASES = {"account": "project", "flavor": "instance_type"}

# Cactus commands this project does not provide: (category, action, why).
NOT_PROVIDED = (
    ("image", "image_register, kernel_register, ramdisk_register, all_register",
     "replaced by image bundle and image register (bundles, uploads and registers)"),
    ("image", "convert, convert_all",
     "no local (pre-Glance) image format to convert from"),
    ("agent", "create, delete, list, modify", "XenAPI guest agent builds: no XenAPI driver"),
)


class UsageError(Exception):
    """
    The command line does not name a known category, action or the right
    number of arguments.
    """


class ManageEnvironment:
    """
    What commands need: the configuration, the reactor, and a database
    opened on first use (and closed by L{close}).
    """

    def __init__(self, config, reactor, out, err):
        self.config = config
        self.reactor = reactor
        self.out = out
        self.err = err
        self._db = None
        self._rpc = None
        self._rpcParent = None

    @property
    def db(self):
        if self._db is None:
            from nova.db.api import databaseFromConfig

            self._db = databaseFromConfig(self.config, self.reactor)
            self._db.transactor.startService()
        return self._db

    @property
    def rpc(self):
        """
        The cloud's message bus, for the commands that ask a daemon; C{None}
        with C{--rpc_backend=local}, whose in-process bus reaches no daemon.
        """
        if self._rpc is None and self.config.rpc_backend != "local":
            from twisted.application.service import MultiService

            from nova.tap import rpcFromConfig

            self._rpcParent = MultiService()
            self._rpc = rpcFromConfig(self.config, self.reactor, self._rpcParent)
            self._rpcParent.startService()
        return self._rpc

    def close(self):
        """
        Close the database and the bus this command opened.

        @return: L{Deferred} firing when they are closed.
        """
        if self._db is not None:
            self._db.transactor.stopService()
            self._db = None
        parent, self._rpcParent = self._rpcParent, None
        if parent is not None:
            return maybeDeferred(parent.stopService)
        return maybeDeferred(lambda: None)


def switches(*names):
    """
    Declare the switches (C{--name}, no value) an action accepts; each is
    passed as a keyword argument, C{True} when given, C{False} otherwise.

    @param names: the switch names, without the dashes.
    """

    def decorate(method):
        method.switches = tuple(names)
        return method

    return decorate


def actionSwitches(method):
    """
    @return: the names of the switches C{method} accepts (see L{switches}).
    """
    return getattr(method, "switches", ())


class Commands:
    """
    Base of a category.  Subclasses define C{do_<action>} methods whose
    docstring's first line is the action's help (the rest is shown by
    C{--help}).
    """

    def __init__(self, env):
        self.env = env
        self.config = env.config
        self.out = env.out

    def say(self, text=""):
        self.out.write(text + "\n")

    @classmethod
    def actions(cls):
        return {
            name[3:]: getattr(cls, name)
            for name in dir(cls)
            if name.startswith("do_")
        }


def formatTable(rows, headers):
    """
    @return: C{rows} (sequences of values) as aligned text columns.
    """
    cells = [list(map(str, headers))] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in cells
    )


class DbCommands(Commands):
    """
    The database schema.
    """

    @inlineCallbacks
    def do_sync(self, version=None):
        """Apply every pending schema patch (up to a version, if given).

        Patches only go forward: a version older than the database's is
        refused, as is one newer than the newest patch this code has.
        """
        from nova.db.schema import latestVersion

        if version is not None:
            try:
                version = int(version)
            except ValueError:
                raise exception.Invalid(f"version must be a number, not {version!r}")
            current = yield self.env.db.version()
            if version < current:
                raise exception.Invalid(
                    f"the database is at version {current}: patches cannot be undone"
                )
            if version > latestVersion():
                raise exception.Invalid(
                    f"no schema version {version}: the newest is {latestVersion()}"
                )
        applied = yield self.env.db.sync(version)
        version = yield self.env.db.version()
        if applied:
            self.say(f"applied patches {', '.join(map(str, applied))}; schema version {version}")
        else:
            self.say(f"schema is up to date at version {version}")

    @inlineCallbacks
    def do_version(self):
        """Print the schema version of the database."""
        version = yield self.env.db.version()
        self.say(str(version))


class ServiceCommands(Commands):
    """
    Nova's services: which run where, and whether they are up.
    """

    @inlineCallbacks
    def do_list(self, host=None, binary=None):
        """List services: host, binary, topic, zone, status, state, last report, what it lost."""
        from nova.db.services import utcnow

        services = yield self.env.db.services.list(host=host, binary=binary)
        now = utcnow(self.env.reactor)
        rows = [
            (
                s.host,
                s.binary,
                s.topic,
                s.availability_zone,
                "disabled" if s.disabled else "enabled",
                ":-)" if s.isUp(now, self.config.service_down_time) else "XXX",
                s.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
                s.lost or "-",
            )
            for s in services
        ]
        self.say(
            formatTable(
                rows, ("Host", "Binary", "Topic", "Zone", "Status", "State", "Updated_At", "Lost")
            )
        )

    @inlineCallbacks
    def do_enable(self, host, binary):
        """Enable a service: schedulers may pick it again."""
        yield self.env.db.services.setDisabled(host, binary, False)
        self.say(f"{binary} on {host} enabled")

    @inlineCallbacks
    def do_disable(self, host, binary):
        """Disable a service: schedulers skip it."""
        yield self.env.db.services.setDisabled(host, binary, True)
        self.say(f"{binary} on {host} disabled")

    @inlineCallbacks
    def do_describe_resource(self, host):
        """Show a compute host's cores, memory and disk: total, used and free.

        Rows: C{(total)} and C{(used_now)} come from the host itself (its
        nova-compute answers C{getHostStats} over the bus, so give the
        cloud's C{--rpc_backend=amqp} and C{--rabbit_*} flags);
        C{(used_max)} adds up the sizes of the instances the database
        places on the host (not terminated); C{(free)} is total minus
        used_max; then one row per project with instances there.  Without
        a bus (C{--rpc_backend=local}) or when the host does not answer,
        the host's rows show C{?} and a note says why.
        """
        from nova.compute.states import TERMINATED
        from nova.context import adminContext

        services = yield self.env.db.services.list(host=host, binary="nova-compute")
        if not services:
            raise exception.NotFound(f"no nova-compute service on host {host}")
        instances = yield self.env.db.instances.list(host=host)
        instances = [i for i in instances if i.state != TERMINATED]
        used = (
            sum(i.vcpus or 0 for i in instances),
            sum(i.memory_mb or 0 for i in instances),
            sum(i.local_gb or 0 for i in instances),
        )
        stats, note = None, None
        rpc = self.env.rpc
        if rpc is None:
            note = "total and used_now need the cloud's bus: --rpc_backend=amqp"
        else:
            try:
                stats = yield rpc.call(
                    adminContext(), f"compute.{host}", "getHostStats", {},
                    timeout=self.config.rpc_call_timeout,
                )
            except exception.NovaError as e:
                note = f"{host} did not answer getHostStats: {e}"
        unknown = ("?", "?", "?")
        if stats is None:
            total = usedNow = free = unknown
        else:
            total = (stats["vcpus"], stats["memory_mb"], stats["local_gb"])
            usedNow = (stats["vcpus_used"], stats["memory_mb_used"], stats["local_gb_used"])
            free = tuple(t - u for t, u in zip(total, used))
        rows = [
            (host, "(total)") + tuple(total),
            (host, "(used_now)") + tuple(usedNow),
            (host, "(used_max)") + used,
            (host, "(free)") + tuple(free),
        ]
        for project in sorted({i.project_id for i in instances}):
            mine = [i for i in instances if i.project_id == project]
            rows.append(
                (
                    host,
                    project,
                    sum(i.vcpus or 0 for i in mine),
                    sum(i.memory_mb or 0 for i in mine),
                    sum(i.local_gb or 0 for i in mine),
                )
            )
        self.say(formatTable(rows, ("Host", "Project", "VCPUs", "Memory_MB", "Local_GB")))
        if note:
            self.say(f"note: {note}")

    def do_update_resource(self, host):
        """Not provided: describe_resource asks the host itself each time."""
        raise exception.Invalid(
            "service update_resource is not provided: there is no compute_nodes table "
            "to refresh; service describe_resource asks the host's nova-compute directly"
        )


def _fired(d):
    """
    @return: C{(True, result)} if C{d} has its result, else C{(False, None)};
        raises the failure's exception if it failed.
    """
    if not d.called:
        return False, None
    results = []

    def keep(result):
        results.append(result)
        return result

    d.addBoth(keep)
    if not results:
        return False, None
    result = results[0]
    if isinstance(result, Failure):
        # Handled here: the chain should not log it as unhandled.
        d.addErrback(lambda _: None)
        result.raiseException()
    return True, result


def shellNamespace(config, reactor, out):
    """
    The names C{nova-manage shell} gives its console and scripts:

      - C{config}: the L{nova.config.Config} of the command line;
      - C{db}: a L{nova.db.api.NovaDatabase} over an inline transactor (its
        methods return Deferreds that have already fired);
      - C{wait(d)}: the result of a Deferred (raising its failure), or
        C{wait(f, *args)}: call C{f} in the reactor thread and wait for the
        Deferred it returns (for RPC, timers and anything else that needs
        the reactor);
      - C{reactor}, C{adminContext} (L{nova.context.adminContext}), C{nova}
        (the package), and C{print}, writing to nova-manage's output.

    Call it in the thread the console runs in: the database connection
    belongs to that thread.  C{namespace["db"].transactor.close()} closes it.

    @return: a L{dict}.
    """
    import functools

    import nova
    from nova.context import adminContext
    from nova.db.api import inlineDatabase

    def wait(value, *args, **kwargs):
        if isinstance(value, Deferred):
            done, result = _fired(value)
            if done:
                return result
            if isInIOThread():
                raise exception.Invalid("wait() in the reactor thread needs a fired Deferred")
            return blockingCallFromThread(reactor, lambda: value)
        if callable(value):
            if isInIOThread():
                d = maybeDeferred(value, *args, **kwargs)
                return wait(d)
            return blockingCallFromThread(reactor, value, *args, **kwargs)
        return value

    return {
        "config": config,
        "db": inlineDatabase(config.sql_connection, reactor),
        "wait": wait,
        "reactor": reactor,
        "adminContext": adminContext,
        "nova": nova,
        "print": functools.partial(print, file=out, flush=True),
        "__name__": "__nova_shell__",
    }


SHELL_BANNER = (
    "Nova shell: config, db (its methods return fired Deferreds), wait(d) or "
    "wait(f, *args), reactor, adminContext.  Leave with Ctrl-D."
)


class ShellCommands(Commands):
    """
    A Python console or script with Nova's objects at hand.
    """

    def _inThread(self, work):
        reactor = self.env.reactor

        def run():
            namespace = shellNamespace(self.config, reactor, self.out)
            try:
                return work(namespace)
            except SystemExit as e:
                return e.code
            finally:
                namespace["db"].transactor.close()

        d = deferToThreadPool(reactor, reactor.getThreadPool(), run)

        def exited(code):
            if code not in (None, 0):
                raise exception.NovaError(f"the shell exited with {code}")

        return d.addCallback(exited)

    def _console(self, kind):
        def work(namespace):
            if kind == "ipython":
                try:
                    import IPython
                except ImportError:
                    pass
                else:
                    return IPython.start_ipython(argv=[], user_ns=namespace)
            if kind == "bpython":
                try:
                    import bpython
                except ImportError:
                    pass
                else:
                    return bpython.embed(locals_=namespace, banner=SHELL_BANNER)
            try:
                import readline  # noqa: F401  (line editing and history)
            except ImportError:
                pass
            code.interact(banner=SHELL_BANNER, local=namespace, exitmsg="")

        return self._inThread(work)

    def do_python(self):
        """Run an interactive Python console with config, db and wait() (see shell run)."""
        return self._console("python")

    def do_ipython(self):
        """Run IPython with config, db and wait(); plain Python if IPython is absent."""
        return self._console("ipython")

    def do_bpython(self):
        """Run bpython with config, db and wait(); plain Python if bpython is absent."""
        return self._console("bpython")

    def do_run(self, shell=None):
        """Run a console: python (the default), ipython or bpython.

        Its names: C{config} (the flags), C{db} (the database: its methods
        return Deferreds that have already fired), C{wait(d)} (a Deferred's
        result) or C{wait(f, *args)} (call C{f} in the reactor thread and
        wait for its Deferred: RPC, timers), C{reactor}, C{adminContext},
        C{nova}.
        """
        kind = shell or "python"
        if kind not in ("python", "ipython", "bpython"):
            raise exception.Invalid(f"no shell {kind!r}: use python, ipython or bpython")
        return self._console(kind)

    def do_script(self, path):
        """Run a Python file with the shell's names (config, db, wait, ...)."""

        def work(namespace):
            try:
                with open(path, encoding="utf-8") as f:
                    source = f.read()
            except OSError as e:
                raise exception.Invalid(f"cannot read {path}: {e.strerror}")
            namespace["__file__"] = path
            exec(compile(source, path, "exec"), namespace)

        return self._inThread(work)


def _readLines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError as e:
        raise exception.Invalid(f"cannot read {path}: {e.strerror}")


class LogCommands(Commands):
    """
    The daemons' logs (twistd writes C{twistd.log} unless given C{--logfile}).
    """

    def _grep(self, logfile, match, what):
        reactor = self.env.reactor
        d = deferToThreadPool(reactor, reactor.getThreadPool(), _readLines, logfile)

        def show(lines):
            found = [line for line in lines if match(line)]
            for line in found:
                self.say(line)
            if not found:
                self.say(f"no {what} in {logfile}")

        return d.addCallback(show)

    def do_request(self, request_id, logfile="twistd.log"):
        """Print the log lines of one request (its EC2 RequestId)."""
        return self._grep(logfile, lambda line: request_id in line, f"lines of request {request_id}")

    def do_errors(self, logfile="twistd.log"):
        """Print the error and critical lines (and tracebacks) of a log."""

        def isError(line):
            return "#error]" in line or "#critical]" in line or "Traceback" in line

        return self._grep(logfile, isError, "errors")


_SECRET_WORDS = ("password", "secret", "token")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


class ConfigCommands(Commands):
    """
    The configuration nova-manage reads (flags and flagfiles).
    """

    def do_list(self, prefix=None):
        """Print every flag's value as --name=value (passwords hidden), or those starting with prefix."""
        values = self.config.asDict()
        for name in allFlags():
            if prefix and not name.startswith(prefix):
                continue
            value = values.get(name)
            if value is not None and any(word in name for word in _SECRET_WORDS):
                value = "********"
            elif isinstance(value, str):
                value = _URL_PASSWORD.sub(r"\1********@", value)
            if isinstance(value, bool):
                value = "true" if value else "false"
            self.say(f"--{name}={'' if value is None else value}")


class VersionCommands(Commands):
    """
    This Nova's version.
    """

    def do_list(self):
        """Print the version of Nova and of the schema it knows."""
        import nova
        from nova.db.schema import latestVersion

        self.say(f"nova {nova.__version__} (schema version {latestVersion()})")


def usageText():
    lines = [
        "Usage: nova-manage [--flag=value ...] <category> <action> [arguments ...]",
        "",
        "Categories: " + ", ".join(sorted(CATEGORIES)),
        "Run `nova-manage <category>` to list its actions, and",
        "`nova-manage <category> <action> --help` for one action's help.",
    ]
    return "\n".join(lines)


def actionSpec(method):
    """
    @return: the arguments of an action as help shows them: C{<name>} for
        a required one, C{[name]} for an optional one, C{[name ...]} for
        any number, C{[--switch]} for a switch.
    """
    parts = []
    for p in list(inspect.signature(method).parameters.values())[1:]:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"[{p.name} ...]")
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            continue
        elif p.default is inspect.Parameter.empty:
            parts.append(f"<{p.name}>")
        else:
            parts.append(f"[{p.name}]")
    parts.extend(f"[--{name}]" for name in actionSwitches(method))
    return " ".join(parts)


def _docLines(method):
    return inspect.cleandoc(method.__doc__ or "").splitlines()


def summary(method):
    """
    @return: the first line of an action's docstring.
    """
    lines = _docLines(method)
    return lines[0] if lines else ""


def categoryUsage(name, cls):
    lines = [f"Actions of {name}:"]
    if name in ALIASES:
        lines[0] = f"Actions of {name} (another name of {ALIASES[name]}):"
    for action, method in sorted(cls.actions().items()):
        lines.append(f"  {name} {action} {actionSpec(method)}".rstrip())
        if summary(method):
            lines.append(f"      {summary(method)}")
    return "\n".join(lines)


def actionUsage(category, action, method):
    """
    @return: one action's help: its usage line and its whole docstring.
    """
    lines = [f"Usage: nova-manage {category} {action} {actionSpec(method)}".rstrip(), ""]
    lines.extend(
        line.replace("C{", "").replace("L{", "").replace("}", "") for line in _docLines(method)
    )
    return "\n".join(lines).rstrip()


def _category(name):
    if name not in CATEGORIES:
        raise UsageError(f"unknown category {name!r}\n\n{usageText()}")
    return namedAny(CATEGORIES[name])


def findAction(positional, given=()):
    """
    @param given: the switches given on the command line (names).
    @return: C{(class, action name, method, arguments, keyword arguments)}.
    @raise UsageError: with the help text to print.
    """
    if not positional or positional[0] in ("help", "-h"):
        raise UsageError(usageText())
    category = positional[0]
    cls = _category(category)
    if len(positional) < 2:
        raise UsageError(categoryUsage(category, cls))
    action = positional[1]
    method = cls.actions().get(action)
    if method is None:
        raise UsageError(
            f"unknown action {category} {action!r}\n\n{categoryUsage(category, cls)}"
        )
    accepted = actionSwitches(method)
    for name in given:
        if not accepted:
            # As parseFlags would say: the word is no flag and no switch.
            raise ConfigError(f"unknown flag --{name}")
        if name not in accepted:
            raise UsageError(
                f"unknown option --{name} for {category} {action}\n\n"
                f"{actionUsage(category, action, method)}"
            )
    kwargs = {name: name in given for name in accepted}
    args = positional[2:]
    try:
        inspect.signature(method).bind(None, *args, **kwargs)
    except TypeError:
        raise UsageError(
            f"wrong arguments for {category} {action}\n\n{categoryUsage(category, cls)}"
        )
    return cls, action, method, args, kwargs


def helpFor(positional):
    """
    @return: the help C{--help} prints after C{positional}: the general
        usage, a category's actions, or one action's help.
    @raise UsageError: for an unknown category or action.
    """
    if not positional:
        return usageText()
    cls = _category(positional[0])
    if len(positional) < 2:
        return categoryUsage(positional[0], cls)
    method = cls.actions().get(positional[1])
    if method is None:
        raise UsageError(
            f"unknown action {positional[0]} {positional[1]!r}\n\n"
            f"{categoryUsage(positional[0], cls)}"
        )
    return actionUsage(positional[0], positional[1], method)


def _splitSwitches(argv):
    """
    Take out of C{argv} the help options and the words C{--name} that are
    no Nova flag (an action's switches).

    @return: C{(rest of argv, help wanted, switch names)}.
    """
    flags = allFlags()
    rest, given, helpWanted = [], [], False
    for token in argv:
        if token in ("--help", "-h"):
            helpWanted = True
            continue
        name = token[2:]
        if (
            token.startswith("--")
            and name
            and "=" not in name
            and name not in flags
            and not (name.startswith("no") and getattr(flags.get(name[2:]), "kind", None) == "bool")
        ):
            given.append(name)
            continue
        rest.append(token)
    return rest, helpWanted, given


def run(reactor, argv, out, err):
    """
    Run one command.

    @return: L{Deferred} firing with the exit code.
    """
    argv, helpWanted, given = _splitSwitches(argv)
    try:
        config, positional = parseFlags(argv, allowPositional=True)
        if helpWanted:
            out.write(helpFor(positional) + "\n")
            return maybeDeferred(lambda: 0)
        if given and not positional:
            raise ConfigError(f"unknown flag --{given[0]}")
        cls, _, method, args, kwargs = findAction(positional, given)
    except ConfigError as e:
        err.write(f"nova-manage: {e}\n")
        return maybeDeferred(lambda: 2)
    except UsageError as e:
        err.write(f"{e}\n")
        return maybeDeferred(lambda: 2)
    env = ManageEnvironment(config, reactor, out, err)
    d = maybeDeferred(method, cls(env), *args, **kwargs)

    def ok(_):
        return 0

    def failed(failure):
        failure.trap(exception.NovaError)
        err.write(f"error: {failure.value}\n")
        return 1

    def close(code):
        return env.close().addCallback(lambda _: code)

    d.addCallbacks(ok, failed)
    d.addBoth(close)
    return d


def commandTable():
    """
    Every command, as the Markdown table of C{docs/manage.md}: category,
    action, arguments and the first line of its help; then the Cactus
    commands this project does not provide, and why.

    @return: the table's text (L{str}), ending with a newline.
    """
    lines = [
        "| category | command | arguments | what it does |",
        "|---|---|---|---|",
    ]

    def cell(text):
        return text.replace("|", "\\|")

    for category in sorted(CATEGORIES):
        if category in ALIASES:
            lines.append(
                f"| `{category}` | (any) | | another name of `{ALIASES[category]}`: "
                f"`nova-manage {category} list` is `nova-manage {ALIASES[category]} list` |"
            )
            continue
        cls = namedAny(CATEGORIES[category])
        for action, method in sorted(cls.actions().items()):
            spec = actionSpec(method)
            lines.append(
                f"| `{category}` | `{action}` | {f'`{cell(spec)}`' if spec else ''} "
                f"| {cell(summary(method))} |"
            )
    lines += [
        "",
        "Not provided (Cactus had them):",
        "",
        "| category | command | why |",
        "|---|---|---|",
    ]
    for category, action, why in NOT_PROVIDED:
        lines.append(f"| `{category}` | {action} | {cell(why)} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """
    The C{nova-manage} console script.
    """
    from twisted.internet.task import react

    argv = sys.argv[1:] if argv is None else argv

    def command(reactor):
        def exit(code):
            if code:
                raise SystemExit(code)

        return run(reactor, argv, sys.stdout, sys.stderr).addCallback(exit)

    react(command)
