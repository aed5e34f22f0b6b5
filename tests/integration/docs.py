"""
The commands the README and docs/ show, run as written.

A code block of a page is a test scenario's step when the line before it
(blank lines aside) is an HTML comment naming the scenario::

    <!-- doc-test: quickstart -->

        . var/novarc
        aws ec2 describe-instances

and is left out, with a reason the page's reader never sees, by::

    <!-- doc-test: skip changes the host's interfaces -->

Every block that shows a shell command carries one or the other
(L{unmarkedCommandBlocks} finds those that do not), so a new command in the
docs is either run by the tests or says why not.

L{ShellSession} runs a scenario's commands one by one in one long-lived
C{bash}, so that C{. var/novarc} and C{S3="aws ..."} hold for the commands
after them, in a fresh directory that holds the project's files by symbolic
link and a state directory of its own.  A command that runs a server in the
foreground (C{make run}, C{twistd -n ...}) runs beside the shell until the
session ends.  The example ids the pages use (C{ami-XXXXXXXX},
C{ami-0f1e2d3c}, C{aki-1a2b3c4d}, C{ari-5e6f7a8b}, C{i-00000001}) stand for
the last id of the same kind the scenario's commands printed before the
example's first use, and for that id from then on; L{EXAMPLES} lists them.
"""

import os
import re
import select
import signal
import subprocess
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: The pages whose commands are checked.
PAGES = ["README.md"] + sorted(
    os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs"))
    if name.endswith(".md")
)

_MARK = re.compile(r"^<!--\s*doc-test:\s*(?P<what>\S+)(?:\s+(?P<reason>.*?))?\s*-->\s*$")

#: What a line that is a shell command starts with.
_COMMAND = re.compile(
    r"^(\$ )?(make |\. |source |aws |nova-|\.venv/|twistd |euca-|ec2-|openstack |curl |"
    r"ip |virsh |echo |\$S3 |\$EC2 |S3=|EC2=|bash |python)"
)

#: Example ids of the pages, and the pattern of the real id each stands for.
EXAMPLES = {
    "ami-XXXXXXXX": r"ami-[0-9a-f]{8}",
    "ami-0f1e2d3c": r"ami-[0-9a-f]{8}",
    "ami-7a6b5c4d": r"ami-[0-9a-f]{8}",
    "aki-1a2b3c4d": r"aki-[0-9a-f]{8}",
    "ari-5e6f7a8b": r"ari-[0-9a-f]{8}",
    "i-00000001": r"i-[0-9a-f]{8,17}",
}


class Block:
    """
    One code block of a page.

    @ivar page: the page's path, relative to the project.
    @ivar line: the block's first line number (1-based).
    @ivar lines: its lines, without the indentation.
    @ivar mark: the scenario it belongs to, C{"skip"}, or L{None}.
    """

    def __init__(self, page, line, lines, mark):
        self.page = page
        self.line = line
        self.lines = lines
        self.mark = mark

    def showsCommands(self):
        return any(_COMMAND.match(line) for line in self.lines)

    def commands(self):
        """
        @return: the block's commands: its lines with backslash
            continuations joined, blank lines dropped.
        """
        result, pending = [], ""
        for line in self.lines:
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            line = pending + line.strip() if pending else line
            pending = ""
            if line.strip():
                result.append(line)
        return result

    def __repr__(self):
        return f"<Block {self.page}:{self.line} {self.mark}>"


def pageBlocks(page):
    """
    @return: the code blocks (indented, or fenced) of a page, in order.
    """
    with open(os.path.join(ROOT, page)) as f:
        text = f.read().split("\n")
    blocks = []
    mark = None
    current, start, fence = None, 0, False
    previous = ""
    for number, line in enumerate(text, 1):
        if fence:
            if line.startswith("```"):
                blocks.append(Block(page, start, current, mark))
                current, fence, mark = None, False, None
            else:
                current.append(line)
            continue
        if line.startswith("```"):
            fence, current, start = True, [], number + 1
            continue
        indented = line.startswith("    ") and (current is not None or not previous.strip())
        if indented:
            if current is None:
                current, start = [], number
            current.append(line[4:])
        elif current is not None and not line.strip():
            current.append("")
        else:
            if current is not None:
                while current and not current[-1].strip():
                    current.pop()
                blocks.append(Block(page, start, current, mark))
                current, mark = None, None
            found = _MARK.match(line.strip())
            if found:
                mark = found.group("what")
            elif line.strip():
                mark = None
        previous = line
    if current is not None:
        blocks.append(Block(page, start, current, mark))
    return blocks


def allBlocks():
    return [block for page in PAGES for block in pageBlocks(page)]


def scenario(name):
    """
    @return: the blocks of one scenario, in the order of L{PAGES}.
    """
    return [block for block in allBlocks() if block.mark == name]


def unmarkedCommandBlocks():
    return [block for block in allBlocks() if block.mark is None and block.showsCommands()]


class CommandFailed(AssertionError):
    pass


class ShellSession:
    """
    A C{bash} in a fresh directory that runs a scenario's commands.

    @ivar directory: the session's working directory.
    @ivar transcript: every command and what it printed.
    """

    #: Commands that run a server in the foreground, and what the server
    #: prints once it serves.
    SERVERS = [(re.compile(r"^make run\b"), "S3 object store listening on")]

    def __init__(self, directory, env=None, timeout=180):
        self.directory = directory
        self.timeout = timeout
        self.transcript = []
        self.servers = []
        self.ids = {}
        self.bound = {}
        for name in os.listdir(ROOT):
            if name in ("var", "_trial_temp", ".git") or name.startswith("_trial_temp"):
                continue
            os.symlink(os.path.join(ROOT, name), os.path.join(directory, name))
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + self.env["PATH"]
        for name in [n for n in self.env if n.startswith(("AWS_", "EC2_", "S3_", "OS_", "NOVA_CERT"))]:
            del self.env[name]
        self.env["AWS_CONFIG_FILE"] = os.path.join(directory, "aws-config")
        self.env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(directory, "aws-credentials")
        self.env["AWS_PAGER"] = ""
        self.sentinel = uuid.uuid4().hex
        self.bash = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=directory, env=self.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def substitute(self, command):
        for example, pattern in EXAMPLES.items():
            if example in command:
                real = self.bound.get(example) or self.ids.get(pattern)
                if real is None:
                    raise CommandFailed(f"{command!r}: no {example} was printed before")
                self.bound[example] = real
                command = command.replace(example, real)
        return command

    def _remember(self, output):
        for pattern in set(EXAMPLES.values()):
            found = re.findall(r"\b" + pattern + r"\b", output)
            if found:
                self.ids[pattern] = found[-1]

    def run(self, command):
        """
        Run one command; raise L{CommandFailed} unless it exits 0.

        @return: what it printed (standard output and error).
        """
        command = self.substitute(command)
        for pattern, ready in self.SERVERS:
            if pattern.match(command):
                return self._server(command, ready)
        script = f"{command}\n__status=$?; echo; echo {self.sentinel} $__status\n"
        self.bash.stdin.write(script.encode())
        self.bash.stdin.flush()
        output = self._readUntil(self.bash.stdout, re.compile(
            rf"{self.sentinel} (\d+)\n"), command)
        text, code = output
        self.transcript.append((command, text))
        if code != 0:
            raise CommandFailed(f"{command!r} exited {code}:\n{text}")
        self._remember(text)
        return text

    def _readUntil(self, stream, pattern, command):
        deadline = time.monotonic() + self.timeout
        data = b""
        while True:
            found = pattern.search(data.decode(errors="replace"))
            if found:
                text = data.decode(errors="replace")[:found.start()]
                if text.endswith("\n"):
                    text = text[:-1]
                return text, int(found.group(1)) if found.groups() else 0
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandFailed(f"{command!r} did not finish in {self.timeout} s:\n"
                                    + data.decode(errors="replace"))
            readable, _, _ = select.select([stream], [], [], remaining)
            if readable:
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    raise CommandFailed(f"{command!r}: the shell exited:\n"
                                        + data.decode(errors="replace"))
                data += chunk

    def _server(self, command, ready):
        log = open(os.path.join(self.directory, f"server-{len(self.servers)}.log"), "wb")
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=self.directory, env=self.env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.servers.append(process)
        deadline = time.monotonic() + self.timeout
        while True:
            with open(log.name, errors="replace") as f:
                text = f.read()
            if ready in text:
                self.transcript.append((command, text))
                return text
            if process.poll() is not None:
                raise CommandFailed(f"{command!r} exited {process.returncode}:\n{text}")
            if time.monotonic() > deadline:
                raise CommandFailed(f"{command!r} did not print {ready!r} in {self.timeout} s:\n{text}")
            time.sleep(0.2)

    def runBlocks(self, blocks, until=None, attempts=90):
        """
        Run the blocks' commands in order.

        @param until: maps a part of a command to the texts its runs must
            print, in order (the first run of such a command waits for the
            first text, the second for the second ...): it runs again (at
            most C{attempts} times) until its output holds the text, as a
            reader repeats it until it shows what the page says it shows.
        """
        expected = {part: list(texts) for part, texts in (until or {}).items()}
        for block in blocks:
            for command in block.commands():
                checks = [texts.pop(0) for part, texts in expected.items()
                          if part in command and texts]
                try:
                    for _ in range(attempts):
                        output = self.run(command)
                        if all(text in output for text in checks):
                            break
                    else:
                        raise CommandFailed(f"{command!r} still printed:\n{output}")
                except CommandFailed as e:
                    raise CommandFailed(f"{block.page}:{block.line}: {e}") from None

    def close(self):
        for process in [self.bash] + self.servers:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.bash.stdin.close()
        self.bash.stdout.close()
