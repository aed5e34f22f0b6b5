# -*- test-case-name: tests.test_config -*-
"""
gflags-style configuration, parsed once into a frozen L{Config}.

Nova is configured the way its documentation has always said: flags on the
command line or in flagfiles::

    twistd -n nova-compute --flagfile=/etc/nova/nova.conf --connection_type=fake

A flagfile holds one C{--name=value} per line, C{#} comments and blank lines,
and may include other flagfiles with C{--flagfile=path} (a relative path is
taken relative to the including file's directory).  Values given on the
command line override values from flagfiles.  Boolean flags also accept the
bare forms C{--name} and C{--noname}.

Every flag is a L{Flag} with a type, a default and help text, defined in the
C{flags} module of the subsystem it belongs to and listed in L{FLAG_MODULES}.
Nothing here is global or mutable: L{parseFlags} returns a new frozen
L{Config}, which C{makeService} passes down to what it builds.
"""

import os
import socket
import sys
import textwrap
from types import MappingProxyType

import attr

from twisted.python.reflect import namedAny


class ConfigError(Exception):
    """
    A flag is unknown, malformed or has a value its type refuses.  The
    message is one line that names the flag.
    """


@attr.s(frozen=True)
class Computed:
    """
    A default computed when the flags are parsed, from the other values.

    @ivar compute: called with a mapping of the other flags' values.
    @ivar description: how the default reads in help and the sample file.
    """

    compute = attr.ib()
    description = attr.ib()


def _parseBool(text):
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", "t", "y"):
        return True
    if lowered in ("0", "false", "no", "off", "f", "n"):
        return False
    raise ValueError("expected true or false")


def _parseInt(text):
    return int(text.strip(), 10)


def _parseList(text):
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _parsePath(text):
    text = text.strip()
    return os.path.abspath(os.path.expanduser(text)) if text else ""


_PARSERS = {
    "str": str,
    "int": _parseInt,
    "float": float,
    "bool": _parseBool,
    "list": _parseList,
    "path": _parsePath,
}

_KIND_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a comma-separated list",
    "path": "a file or directory (a relative one is taken from the current directory)",
}


@attr.s(frozen=True)
class Flag:
    """
    One configuration flag.

    @ivar name: the flag's name, as written after C{--}.
    @ivar kind: one of C{str}, C{int}, C{float}, C{bool}, C{list},
        C{path} (made absolute from the current directory).
    @ivar default: the value when the flag is not given, or a L{Computed}.
    @ivar help: one or two sentences for operators.
    @ivar choices: if not empty, the only values allowed.
    @ivar minimum: for numbers, the smallest value allowed.
    """

    name = attr.ib()
    kind = attr.ib(validator=attr.validators.in_(_PARSERS))
    default = attr.ib()
    help = attr.ib()
    choices = attr.ib(default=(), converter=tuple)
    minimum = attr.ib(default=None)

    def parse(self, text):
        """
        Turn the text form of a value into a checked value.

        @raise ConfigError: naming the flag, if C{text} does not parse or is
            not allowed.
        """
        try:
            value = _PARSERS[self.kind](text)
        except ValueError:
            raise ConfigError(
                f"--{self.name}: expected {_KIND_NAMES[self.kind]}, got {text!r}"
            )
        return self.check(value)

    def check(self, value):
        """
        Check a value of the right Python type against choices and minimum.

        @raise ConfigError: naming the flag.
        """
        if self.kind == "path" and value:
            value = os.path.abspath(os.path.expanduser(value))
        if self.choices and value not in self.choices:
            raise ConfigError(
                f"--{self.name}: {value!r} is not one of {', '.join(self.choices)}"
            )
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(
                f"--{self.name}: {value!r} is less than the minimum {self.minimum}"
            )
        return value

    def describeDefault(self):
        """
        @return: the default as text for help and the sample flagfile.
        """
        if isinstance(self.default, Computed):
            return self.default.description
        return formatValue(self.default)


def formatValue(value):
    """
    @return: C{value} written the way a flagfile would hold it.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


# The modules whose OPTIONS tuples make up Nova's flags, in the order the
# sample flagfile and --help list them.  A closed list: nothing registers
# flags by being imported.
FLAG_MODULES = (
    "nova.config",
    "nova.service",
    "nova.db.flags",
    "nova.rpc.flags",
    "nova.auth.flags",
    "nova.api.flags",
    "nova.objectstore.flags",
    "nova.image.flags",
    "nova.scheduler.flags",
    "nova.compute.flags",
    "nova.network.flags",
    "nova.volume.flags",
    "nova.cache.flags",
    "nova.auth.manager",
    "nova.auth.ldapdriver",
    "nova.quota",
)


def _defaultStatePath(values):
    return os.path.abspath(os.path.join(os.getcwd(), "var"))


def _defaultHost(values):
    return socket.gethostname()


def _defaultMyIP(values):
    """
    @return: the IPv4 address this host's name resolves to, if it is not
        a loopback address; else C{127.0.0.1}.
    """
    try:
        addresses = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return "127.0.0.1"
    for *_, sockaddr in addresses:
        if not sockaddr[0].startswith("127."):
            return sockaddr[0]
    return "127.0.0.1"


OPTIONS = (
    Flag(
        "flagfile",
        "str",
        "",
        "Read further flags from this file: one --name=value per line, '#' "
        "starts a comment.  May be given several times and nested.",
    ),
    Flag(
        "host",
        "str",
        Computed(_defaultHost, "the machine's host name"),
        "Name of this host, used in RPC topics (<topic>.<host>) and the "
        "services table.",
    ),
    Flag(
        "my_ip",
        "str",
        Computed(_defaultMyIP, "the address the host's name resolves to, else 127.0.0.1"),
        "This host's address on the cloud's network: the default of "
        "--routing_source_ip, and so of the metadata service address guests' "
        "requests are forwarded to (--ec2_dmz_host).",
    ),
    Flag(
        "state_path",
        "path",
        Computed(_defaultStatePath, "./var"),
        "Top-level directory for Nova's state: the SQLite database, keys, "
        "certificates, images, instances and buckets.",
    ),
)


def allFlags():
    """
    @return: a L{dict} from name to L{Flag} of every flag Nova knows, in
        definition order.
    @raise RuntimeError: if two modules define the same flag.
    """
    flags = {}
    for moduleName in FLAG_MODULES:
        for flag in namedAny(moduleName).OPTIONS:
            if flag.name in flags:
                raise RuntimeError(f"flag --{flag.name} is defined twice")
            flags[flag.name] = flag
    return flags


def flagsByModule():
    """
    @return: a L{list} of C{(moduleName, flags)} in L{FLAG_MODULES} order.
    """
    return [(name, namedAny(name).OPTIONS) for name in FLAG_MODULES]


class Config:
    """
    Nova's configuration: every flag's value, read as an attribute.  Frozen:
    use L{Config.replace} to derive a changed copy.
    """

    __slots__ = ("_values",)

    def __init__(self, values):
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no flag named {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("Config is frozen; use replace()")

    def __repr__(self):
        return f"<Config {dict(self._values)!r}>"

    def asDict(self):
        """
        @return: a new L{dict} of every flag's value.
        """
        return dict(self._values)

    def replace(self, **changes):
        """
        @return: a new L{Config} with C{changes} applied and checked.
        @raise ConfigError: for an unknown flag or a refused value.
        """
        flags = allFlags()
        values = dict(self._values)
        for name, value in changes.items():
            if name not in flags:
                raise ConfigError(f"unknown flag --{name}")
            values[name] = flags[name].check(value)
        return Config(values)


def _splitToken(token):
    """
    Split C{--name=value}, C{--name} into C{(name, value-or-None)}.
    """
    body = token[2:]
    if "=" in body:
        name, value = body.split("=", 1)
        return name, value
    return body, None


def _readFlagfile(path, seen):
    path = os.path.abspath(path)
    if path in seen:
        raise ConfigError(f"--flagfile: {path} includes itself")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ConfigError(f"--flagfile: cannot read {path}: {e.strerror}")
    tokens = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("--"):
            raise ConfigError(
                f"--flagfile: {path}:{number}: expected --name=value, got {line!r}"
            )
        name, value = _splitToken(line)
        if name == "flagfile":
            if not value:
                raise ConfigError(f"--flagfile: {path}:{number}: empty path")
            if not os.path.isabs(value):
                value = os.path.join(os.path.dirname(path), value)
            tokens.extend(_readFlagfile(value, seen | {path}))
        else:
            tokens.append((name, value))
    return tokens


def _resolve(flags, name, value, nextToken):
    """
    Work out the value text for one flag occurrence.

    @return: C{(flag, parsed value, consumed next token)}.
    """
    if name not in flags and name.startswith("no") and value is None:
        positive = flags.get(name[2:])
        if positive is not None and positive.kind == "bool":
            return positive, False, False
    if name not in flags:
        raise ConfigError(f"unknown flag --{name}")
    flag = flags[name]
    if value is None:
        if flag.kind == "bool":
            return flag, True, False
        if nextToken is None or nextToken.startswith("--"):
            raise ConfigError(f"--{name}: needs a value")
        return flag, flag.parse(nextToken), True
    return flag, flag.parse(value), False


def _legacy(flags, name, value, nextToken, warn):
    """
    Accept a flag of Cactus's that is not one of ours: warn, and give the
    flags it stands for now.

    @return: C{(occurrences, consumed next token)}, each occurrence a
        C{(flag, parsed value)}; L{None} if C{name} is no Cactus flag.
    """
    from nova.legacy import CACTUS_FLAGS

    legacy = CACTUS_FLAGS.get(name)
    if legacy is None and name.startswith("no") and value is None:
        legacy = CACTUS_FLAGS.get(name[2:])
        if legacy is not None:
            value = "false"
    if legacy is None:
        return None
    consumed = False
    if value is None and nextToken is not None and not nextToken.startswith("--"):
        # Cactus's gflags took "--name value" as well; a boolean's bare
        # form is followed by another flag or nothing.
        if legacy.translate is not None and not legacy.boolean:
            value, consumed = nextToken, True
    warn(legacy.warning())
    occurrences = []
    if legacy.translate is not None:
        for newName, newValue in legacy.translate(value):
            flag, parsed, _ = _resolve(flags, newName, newValue, None)
            occurrences.append((flag, parsed))
    return occurrences, consumed


def _stderrWarning(message):
    sys.stderr.write(f"nova: warning: {message}\n")


def parseFlags(argv, allowPositional=False, defaults=None, warn=None):
    """
    Parse flags and flagfiles into a L{Config}.

    @param argv: the arguments, without the program name.
    @param allowPositional: if true, arguments that are not flags are
        returned; if false they are refused.
    @param defaults: a mapping of flag name to value that replaces the
        defined default (daemons use it, for example, to pick their own
        listening port); command line and flagfiles still override it.
    @param warn: called with the one-line warning for each flag of Nova's
        Cactus release that is accepted but not used
        (L{nova.legacy.CACTUS_FLAGS}); by default the warning is written
        to standard error.
    @return: C{(config, positional)} where C{positional} is a L{list}.
    @raise ConfigError: with a one-line message naming the offending flag.
    """
    if warn is None:
        warn = _stderrWarning
    flags = allFlags()
    fromFiles, fromCommandLine, positional = {}, {}, []
    index = 0
    onlyPositional = False
    while index < len(argv):
        token = argv[index]
        index += 1
        if onlyPositional or not token.startswith("--"):
            if not allowPositional:
                raise ConfigError(f"unexpected argument {token!r}")
            positional.append(token)
            continue
        if token == "--":
            onlyPositional = True
            continue
        name, value = _splitToken(token)
        if name == "flagfile":
            if value is None:
                if index >= len(argv):
                    raise ConfigError("--flagfile: needs a value")
                value = argv[index]
                index += 1
            for fileName, fileValue in _readFlagfile(value, frozenset()):
                legacy = None
                if fileName not in flags:
                    legacy = _legacy(flags, fileName, fileValue, None, warn)
                if legacy is not None:
                    for flag, parsed in legacy[0]:
                        fromFiles[flag.name] = parsed
                    continue
                flag, parsed, _ = _resolve(flags, fileName, fileValue, None)
                fromFiles[flag.name] = parsed
            continue
        nextToken = argv[index] if index < len(argv) else None
        legacy = None
        if name not in flags:
            legacy = _legacy(flags, name, value, nextToken, warn)
        if legacy is not None:
            occurrences, consumed = legacy
            if consumed:
                index += 1
            for flag, parsed in occurrences:
                fromCommandLine[flag.name] = parsed
            continue
        flag, parsed, consumed = _resolve(flags, name, value, nextToken)
        if consumed:
            index += 1
        fromCommandLine[flag.name] = parsed
    values = {}
    computed = []
    for name, flag in flags.items():
        if name in fromCommandLine:
            values[name] = fromCommandLine[name]
        elif name in fromFiles:
            values[name] = fromFiles[name]
        elif defaults and name in defaults:
            values[name] = flag.check(defaults[name])
        elif isinstance(flag.default, Computed):
            computed.append(flag)
        else:
            values[name] = flag.default
    # A computed default may depend on another: compute those whose
    # dependencies are known until none is left.
    while computed:
        waiting = []
        for flag in computed:
            try:
                values[flag.name] = flag.default.compute(values)
            except KeyError:
                waiting.append(flag)
        if len(waiting) == len(computed):
            names = ", ".join(f"--{flag.name}" for flag in waiting)
            raise RuntimeError(f"the defaults of {names} depend on each other")
        computed = waiting
    return Config(values), positional


def configFromFlags(**values):
    """
    Build a L{Config} for tests: every default, with C{values} applied.

    @raise ConfigError: for an unknown flag or a refused value.
    """
    config, _ = parseFlags([])
    return config.replace(**values)


def helpText():
    """
    @return: the text C{--help} prints: every flag, its default and help.
    """
    out = []
    for moduleName, flags in flagsByModule():
        out.append(f"{moduleName}:")
        for flag in flags:
            out.append(f"  --{flag.name}=<{flag.kind}> (default: {flag.describeDefault()})")
            for line in textwrap.wrap(flag.help, 72):
                out.append(f"      {line}")
            if flag.choices:
                out.append(f"      choices: {', '.join(flag.choices)}")
    return "\n".join(out) + "\n"


def sampleText():
    """
    @return: the contents of C{etc/nova/nova.conf.sample}: every flag,
        commented out, with its help and default.
    """
    out = [
        "# nova.conf.sample: every flag Nova knows, with its default.",
        "# Generated from the flag definitions by `make sample`; do not edit by hand.",
        "# Uncomment a line and change its value to use it; pass the file with",
        "# --flagfile=/etc/nova/nova.conf.",
        "",
    ]
    for moduleName, flags in flagsByModule():
        out.append("#" * 72)
        out.append(f"# {moduleName}")
        out.append("#" * 72)
        out.append("")
        for flag in flags:
            for line in textwrap.wrap(flag.help, 70):
                out.append(f"# {line}")
            if flag.choices:
                out.append(f"# Choices: {', '.join(flag.choices)}")
            out.append(f"# ({flag.kind}) --{flag.name}={flag.describeDefault()}")
            out.append("")
    return "\n".join(out)


def _markdownText(text):
    """
    @return: C{text} as Markdown: its C{`code`} spans and C{--flag} names as
        code, everything else with Markdown's special characters escaped.
    """
    import re

    out = []
    for index, part in enumerate(re.split(r"(`[^`]*`)", text)):
        if index % 2:
            out.append(part)
            continue
        for piece in re.split(r"(--[a-z][a-z0-9_]*(?:=[^\s,;()]*[^\s,;().])?)", part):
            if piece.startswith("--"):
                out.append(f"`{piece}`")
            else:
                piece = re.sub(r"([\\*\[\]<>|])", r"\\\1", piece)
                out.append(re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", piece))
    return "".join(out)


def referenceMarkdown():
    """
    @return: the flags reference of the documentation site, as Markdown:
        one section for each module of L{FLAG_MODULES}, one for each of its
        flags with its type, default, help, choices and minimum.
    """
    out = [
        "<!-- Generated from the flag definitions by nova.config.referenceMarkdown(); do not edit. -->",
        "",
    ]
    for moduleName, flags in flagsByModule():
        out.append(f"## `{moduleName}`")
        out.append("")
        for flag in flags:
            out.append(f"### `--{flag.name}`")
            out.append("")
            if isinstance(flag.default, Computed):
                default = _markdownText(flag.default.description)
            elif flag.describeDefault():
                default = f"`{flag.describeDefault()}`"
            else:
                default = "empty"
            out.append(f"Type: {_KIND_NAMES[flag.kind]} (`{flag.kind}`).  Default: {default}.")
            out.append("")
            out.append(_markdownText(flag.help))
            out.append("")
            if flag.choices:
                choices = ", ".join(f"`{choice}`" for choice in flag.choices)
                out.append(f"Choices: {choices}.")
                out.append("")
            if flag.minimum is not None:
                out.append(f"Minimum: `{flag.minimum}`.")
                out.append("")
    return "\n".join(out)
