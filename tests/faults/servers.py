"""
Private RabbitMQ and PostgreSQL servers for the fault tests: each test
starts its own on ports of its own (never the shared ones), restarts or
kills them as its fault requires, and removes them at cleanup.

Their methods block (they run the servers' own tools): call them in a
thread.
"""

import os
import shutil
import signal
import subprocess
import time
import uuid

from tests.util import workerPort

#: The ports the fault tests use (18500-18599 belongs to them; see
#: L{tests.util.workerPort}).
RABBIT_PORT = workerPort(18510)
RABBIT_DIST_PORT = workerPort(18511)
POSTGRES_PORT = workerPort(18520)
EC2_PORT = workerPort(18530)
S3_PORT = workerPort(18531)


def _postgresBin(name):
    base = "/usr/lib/postgresql"
    if os.path.isdir(base):
        for version in sorted(os.listdir(base), reverse=True):
            path = os.path.join(base, version, "bin", name)
            if os.path.exists(path):
                return path
    return shutil.which(name)


def missingTools():
    """
    @return: why the private servers cannot run here, or C{None}.
    """
    for tool in ("rabbitmq-server", "rabbitmqctl", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for tool in ("initdb", "pg_ctl"):
        if _postgresBin(tool) is None:
            return f"PostgreSQL's {tool} is not installed"
    if os.geteuid() != 0:
        return "the private servers need root (to run as the rabbitmq and postgres users)"
    return None


def _waitPort(port, deadline, process=None, what="server"):
    import socket

    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} in time")
        time.sleep(0.1)


def _portFree(port, deadline):
    import socket

    while True:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {port} is still taken")
        time.sleep(0.1)


class PrivateRabbit:
    """
    A RabbitMQ node of its own: its node name, ports, configuration,
    database and logs under C{directory} (the machine's epmd is shared).
    """

    def __init__(self, directory, port=RABBIT_PORT, distPort=RABBIT_DIST_PORT):
        self.directory = directory
        self.port = port
        self.distPort = distPort
        self.node = f"nova-faults-{uuid.uuid4().hex[:6]}@localhost"
        self.process = None

    def _environment(self):
        d = self.directory
        return dict(
            os.environ,
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.distPort),
            RABBITMQ_CONFIG_FILE=os.path.join(d, "rabbitmq.conf"),
            RABBITMQ_MNESIA_BASE=os.path.join(d, "mnesia"),
            RABBITMQ_LOG_BASE=os.path.join(d, "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(d, "enabled_plugins"),
        )

    def start(self, timeout=60.0):
        """
        Start the node (again, with its data, if it ran before) and wait
        until it takes connections.
        """
        d = self.directory
        if not os.path.exists(os.path.join(d, "rabbitmq.conf")):
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "rabbitmq.conf"), "w") as f:
                f.write(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
            with open(os.path.join(d, "enabled_plugins"), "w") as f:
                f.write("[].\n")
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", d], check=True)
        self.process = subprocess.Popen(
            ["rabbitmq-server"],
            env=self._environment(),
            cwd=d,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _waitPort(self.port, time.monotonic() + timeout, self.process, "RabbitMQ")

    def ctl(self, *argv, timeout=60):
        return subprocess.run(
            ["rabbitmqctl", "-n", self.node, *argv],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def restartApp(self):
        """
        Restart the broker inside the running node: every connection is
        closed, transient queues and messages are gone, durable queues and
        their persistent messages stay.
        """
        self.ctl("stop_app")
        self.ctl("start_app")
        _waitPort(self.port, time.monotonic() + 60, None, "RabbitMQ")

    def stopApp(self):
        self.ctl("stop_app")

    def startApp(self):
        self.ctl("start_app")
        _waitPort(self.port, time.monotonic() + 60, None, "RabbitMQ")

    def kill(self):
        """
        Kill the node's processes (the process group it was started in).
        """
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        _portFree(self.port, time.monotonic() + 30)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.ctl("stop", timeout=60)
        except (subprocess.SubprocessError, OSError):
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


class PrivatePostgres:
    """
    A PostgreSQL cluster of its own (C{initdb} as user postgres in
    C{directory}), on loopback at C{port}.
    """

    def __init__(self, directory, port=POSTGRES_PORT):
        self.directory = directory
        self.port = port
        self.data = os.path.join(directory, "data")

    def _run(self, *argv, timeout=60):
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result

    def start(self):
        if not os.path.exists(self.data):
            os.makedirs(self.directory, exist_ok=True)
            subprocess.run(["chown", "postgres", self.directory], check=True)
            self._run(
                _postgresBin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                "--no-sync",
            )
        self._run(
            _postgresBin("pg_ctl"),
            "-D", self.data,
            "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
            "-l", os.path.join(self.directory, "log"),
            "-w", "start",
        )

    def stop(self, mode="fast"):
        """
        Stop the server: C{fast} (clients disconnected cleanly) or
        C{immediate} (as a crash).
        """
        if not os.path.exists(os.path.join(self.data, "postmaster.pid")):
            return
        self._run(_postgresBin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop")

    def createDatabase(self, name):
        """
        @return: the Storm URI of a new database C{name}.
        """
        self._run(
            shutil.which("psql") or _postgresBin("psql"),
            "-h", self.directory, "-p", str(self.port), "-U", "postgres",
            "-c", f"CREATE DATABASE {name}",
        )
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"
