# -*- test-case-name: tests.test_manage -*-
"""
C{nova-manage}: the operator's command line.

    nova-manage [--flag=value ...] <category> <action> [arguments ...]

Flags are Nova's usual flags (C{--flagfile=/etc/nova/nova.conf},
C{--sql_connection=...}).  Each category is a class whose C{do_<action>}
methods take the positional arguments as strings and return a value or a
L{Deferred}; output goes to C{self.out}.
"""

import inspect
import sys

from twisted.internet.defer import inlineCallbacks, maybeDeferred
from twisted.python.reflect import namedAny

from nova import exception
from nova.config import ConfigError, parseFlags

# Category name -> class path; imported only when used.
CATEGORIES = {
    "db": "nova.manage.DbCommands",
    "service": "nova.manage.ServiceCommands",
    "user": "nova.auth.manage.UserCommands",
    "project": "nova.auth.manage.ProjectCommands",
    "role": "nova.auth.manage.RoleCommands",
    "network": "nova.network.manage.NetworkCommands",
    "floating": "nova.network.manage.FloatingCommands",
    "vpn": "nova.network.vpn_manage.VpnCommands",
    "instance_type": "nova.compute.manage.InstanceTypeCommands",
    "image": "nova.image.manage.ImageCommands",
}


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

    @property
    def db(self):
        if self._db is None:
            from nova.db.api import databaseFromConfig

            self._db = databaseFromConfig(self.config, self.reactor)
            self._db.transactor.startService()
        return self._db

    def close(self):
        if self._db is not None:
            self._db.transactor.stopService()
            self._db = None


class Commands:
    """
    Base of a category.  Subclasses define C{do_<action>} methods whose
    docstring's first line is the action's help.
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
    def do_sync(self):
        """Apply every pending schema patch."""
        applied = yield self.env.db.sync()
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
        """List services: host, binary, topic, zone, status, state, last report."""
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
            )
            for s in services
        ]
        self.say(
            formatTable(
                rows, ("Host", "Binary", "Topic", "Zone", "Status", "State", "Updated_At")
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


def usageText():
    lines = [
        "Usage: nova-manage [--flag=value ...] <category> <action> [arguments ...]",
        "",
        "Categories: " + ", ".join(sorted(CATEGORIES)),
        "Run `nova-manage <category>` to list its actions.",
    ]
    return "\n".join(lines)


def categoryUsage(name, cls):
    lines = [f"Actions of {name}:"]
    for action, method in sorted(cls.actions().items()):
        params = list(inspect.signature(method).parameters.values())[1:]
        spec = " ".join(
            f"<{p.name}>" if p.default is inspect.Parameter.empty else f"[{p.name}]"
            for p in params
        )
        doc = (method.__doc__ or "").strip().splitlines()
        lines.append(f"  {name} {action} {spec}".rstrip())
        if doc:
            lines.append(f"      {doc[0]}")
    return "\n".join(lines)


def findAction(positional):
    """
    @return: C{(class, action name, method, arguments)}.
    @raise UsageError: with the help text to print.
    """
    if not positional or positional[0] in ("help", "-h"):
        raise UsageError(usageText())
    category = positional[0]
    if category not in CATEGORIES:
        raise UsageError(f"unknown category {category!r}\n\n{usageText()}")
    cls = namedAny(CATEGORIES[category])
    if len(positional) < 2:
        raise UsageError(categoryUsage(category, cls))
    action = positional[1]
    method = cls.actions().get(action)
    if method is None:
        raise UsageError(
            f"unknown action {category} {action!r}\n\n{categoryUsage(category, cls)}"
        )
    args = positional[2:]
    try:
        inspect.signature(method).bind(None, *args)
    except TypeError:
        raise UsageError(
            f"wrong arguments for {category} {action}\n\n{categoryUsage(category, cls)}"
        )
    return cls, action, method, args


def run(reactor, argv, out, err):
    """
    Run one command.

    @return: L{Deferred} firing with the exit code.
    """
    if "--help" in argv or "-h" in argv:
        out.write(usageText() + "\n")
        return maybeDeferred(lambda: 0)
    try:
        config, positional = parseFlags(argv, allowPositional=True)
        cls, _, method, args = findAction(positional)
    except ConfigError as e:
        err.write(f"nova-manage: {e}\n")
        return maybeDeferred(lambda: 2)
    except UsageError as e:
        err.write(f"{e}\n")
        return maybeDeferred(lambda: 2)
    env = ManageEnvironment(config, reactor, out, err)
    d = maybeDeferred(method, cls(env), *args)

    def ok(_):
        return 0

    def failed(failure):
        failure.trap(exception.NovaError)
        err.write(f"error: {failure.value}\n")
        return 1

    def close(code):
        env.close()
        return code

    d.addCallbacks(ok, failed)
    d.addBoth(close)
    return d


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
