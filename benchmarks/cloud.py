"""
What the benchmarks share: Nova started the way its users start it, moto's
server beside it, boto3 clients, and the latency arithmetic.

Nova runs as real processes, configured with flags and administered with
C{nova-manage}, exactly as C{README.md} and C{docs/architecture.md} tell
users to run it:

  - L{embedded}: C{nova-manage db sync}, C{network create}, C{user create},
    C{project create}, quotas, then C{twistd -n nova-all} on its defaults
    (an SQLite file under C{--state_path}, the in-process bus, the fake
    hypervisor), its EC2 API and S3 object store on free loopback ports;
  - L{distributed}: the same administration, then separate daemons
    (nova-objectstore, nova-network, nova-scheduler, two nova-compute,
    nova-api) talking over RabbitMQ (a virtual host made for the run with
    C{rabbitmqctl}) and storing in PostgreSQL (a database made for the
    run), both removed at the end.

Images are uploaded through the S3 API and registered with RegisterImage
(L{Cloud.registerImage}).  Nothing here imports Nova: the benchmark
process is a client, like a user's.

This module is imported by the benchmarks beside it (it is not a
benchmark itself).
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.dirname(os.path.abspath(sys.executable))
TWISTD = os.path.join(BIN, "twistd")
MANAGE = os.path.join(BIN, "nova-manage")
MOTO_SERVER = os.path.join(BIN, "moto_server")

#: The user and project every benchmark cloud is made with.
USER = PROJECT = "bench"


class Missing(SystemExit):
    """
    Something a benchmark needs is absent: exits with status 2 and says
    what, and how to get it.
    """

    def __init__(self, what, hint=""):
        message = f"{os.path.basename(sys.argv[0])}: needs {what}"
        if hint:
            message += f" ({hint})"
        sys.stderr.write(message + "\n")
        SystemExit.__init__(self, 2)


def requireClients():
    """
    Check that this interpreter has boto3 and Nova's commands.

    @raise Missing: if not.
    """
    try:
        import boto3  # noqa: F401
    except ImportError:
        raise Missing("boto3", "run it with the project's .venv/bin/python; `make venv`")
    for path in (TWISTD, MANAGE):
        if not os.access(path, os.X_OK):
            raise Missing(path, "run it with the project's .venv/bin/python; `make venv`")


def requireMoto():
    """
    @raise Missing: if moto's server cannot run here.
    """
    try:
        import flask  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        raise Missing("moto's server (moto[server])", "pip install -e '.[test]' into .venv")


def freePort():
    """
    @return: a TCP port free on 127.0.0.1 now.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitUntil(check, timeout, what, step=0.1):
    """
    Call C{check} every C{step} seconds until it returns true.

    @raise SystemExit: after C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


def waitPort(port, process=None, timeout=60, what="a server"):
    """
    Wait until something accepts connections on 127.0.0.1:C{port}.

    @param process: a L{subprocess.Popen} whose exit is a failure.
    """

    def accepting():
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    waitUntil(accepting, timeout, f"{what} on port {port}")


def stopProcess(process, timeout=30):
    """
    Stop a child: SIGTERM, then SIGKILL after C{timeout} seconds.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def botoConfig(**extra):
    from botocore.config import Config

    return Config(
        retries={"total_max_attempts": 1}, read_timeout=600, connect_timeout=10, **extra
    )


def networkPlan(instances):
    """
    A fixed range for C{nova-manage network create} that holds
    C{instances} instances and some to spare.

    @return: C{(cidr, size)}.
    """
    size = 256
    while size < instances + 64:
        size *= 2
    prefix = 32 - size.bit_length() + 1
    return f"10.64.0.0/{prefix}", size


class Cloud:
    """
    Nova daemons started as processes by C{twistd -n}, the C{nova-manage}
    that prepares them, and boto3 clients to reach them.

    @ivar state: the C{--state_path}; the daemons' logs are there too.
    @ivar ec2Port: the EC2 API's port on 127.0.0.1.
    @ivar s3Port: the S3 object store's port on 127.0.0.1.
    """

    def __init__(self, state, flags=()):
        self.state = state
        os.makedirs(state, exist_ok=True)
        self.ec2Port, self.s3Port = freePort(), freePort()
        self.flags = [
            f"--state_path={state}",
            f"--ec2_port={self.ec2Port}",
            "--ec2_listen=127.0.0.1",
            "--ec2_host=127.0.0.1",
            f"--s3_port={self.s3Port}",
            "--s3_listen=127.0.0.1",
            "--s3_host=127.0.0.1",
            *flags,
        ]
        if not any(flag.startswith("--osapi_port=") for flag in flags):
            # The OpenStack API (and the dashboard on its port) on a port
            # the system picks, so that no run needs port 8774 free.
            self.flags += ["--osapi_port=0", "--osapi_listen=127.0.0.1", "--dashboard_port=0"]
        self.processes = []
        self.cleanups = []
        self.access = "bench-" + uuid.uuid4().hex[:8]
        self.secret = uuid.uuid4().hex

    def manage(self, *argv, timeout=300):
        """
        Run C{nova-manage} with the cloud's flags.

        @return: its standard output.
        """
        result = subprocess.run(
            [MANAGE, *self.flags, *argv], capture_output=True, text=True, timeout=timeout
        )
        if result.returncode:
            raise SystemExit(
                f"nova-manage {' '.join(argv)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result.stdout

    def prepare(self, instances=1000):
        """
        Create the schema, a network for C{instances} instances (none if
        L{None}), the C{bench} user and project, and lift the project's
        instance and core quotas.
        """
        self.manage("db", "sync")
        if instances is not None:
            cidr, size = networkPlan(instances)
            self.manage("network", "create", cidr, "1", str(size))
        self.manage("user", "create", USER, self.access, self.secret)
        self.manage("project", "create", PROJECT, USER)
        for resource in ("instances", "cores"):
            self.manage("project", "quota", PROJECT, resource, "unlimited")

    def start(self, plugin, *extra, twistdArgs=()):
        """
        Start C{twistd -n <plugin>} with the cloud's flags and C{extra}.

        @param twistdArgs: options of twistd itself (e.g. its profiler's).
        """
        log = os.path.join(self.state, f"{plugin}-{len(self.processes)}.log")
        process = subprocess.Popen(
            [TWISTD, "-n", "--pidfile=", f"--logfile={log}", *twistdArgs, plugin, *self.flags, *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.state,
        )
        self.processes.append((process, log))
        return process

    def logs(self):
        """
        @return: the text of every daemon's log, concatenated.
        """
        text = []
        for _, log in self.processes:
            if os.path.exists(log):
                with open(log, encoding="utf-8", errors="replace") as f:
                    text.append(f.read())
        return "\n".join(text)

    def waitReady(self, patterns, timeout=120):
        """
        Wait until the daemons' logs hold each of C{patterns} as many times
        as it says.

        @param patterns: a L{dict} from text to count.
        """

        def ready():
            for process, log in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"a daemon exited with status {process.returncode}; see {log}")
            text = self.logs()
            return all(text.count(p) >= n for p, n in patterns.items())

        waitUntil(ready, timeout, "the daemons to start", step=0.2)

    def client(self, service="ec2"):
        """
        @return: a boto3 client of the cloud's EC2 API or S3 object store,
            with the C{bench} user's keys.
        """
        import boto3

        if service == "ec2":
            endpoint = f"http://127.0.0.1:{self.ec2Port}/services/Cloud"
            config = botoConfig()
        else:
            endpoint = f"http://127.0.0.1:{self.s3Port}"
            config = botoConfig(signature_version="s3v4", s3={"addressing_style": "path"})
        return boto3.client(
            service,
            endpoint_url=endpoint,
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            region_name="nova",
            config=config,
        )

    def registerImage(self, path=None, data=None, imageType="machine", key=None,
                      bucket="bench", kernelId=None, ramdiskId=None, timeout=120):
        """
        Upload an image through the S3 API (C{path}'s content, or C{data})
        and register it with RegisterImage; wait until it is available.

        @param imageType: C{machine}, C{kernel} or C{ramdisk} (the object's
            C{x-amz-meta-image-type}).
        @return: the image's id.
        """
        from botocore.exceptions import ClientError

        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket)
        key = key or (os.path.basename(path) if path else f"{imageType}.img")
        metadata = {"image-type": imageType}
        if path is not None:
            s3.upload_file(path, bucket, key, ExtraArgs={"Metadata": metadata})
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata)
        ec2 = self.client()
        extra = {}
        if kernelId:
            extra["KernelId"] = kernelId
        if ramdiskId:
            extra["RamdiskId"] = ramdiskId
        imageId = ec2.register_image(ImageLocation=f"{bucket}/{key}", Name=key, **extra)["ImageId"]

        def available():
            state = ec2.describe_images(ImageIds=[imageId])["Images"][0]["State"]
            if state == "failed":
                raise SystemExit(f"registering {bucket}/{key} failed")
            return state == "available"

        waitUntil(available, timeout, f"image {imageId} to be available", step=0.2)
        return imageId

    def stop(self):
        """
        Stop every daemon (SIGTERM, as twistd expects), then run the
        cleanups (a virtual host, a database).
        """
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            stopProcess(process)
        while self.cleanups:
            cleanup = self.cleanups.pop()
            try:
                cleanup()
            except Exception as e:
                sys.stderr.write(f"cleanup {getattr(cleanup, '__name__', cleanup)} failed: {e}\n")


@contextlib.contextmanager
def workDirectory(prefix="nova-bench-"):
    """
    A temporary directory (traversable by other users, for QEMU), removed
    at the end unless the block failed: then its path is printed, with the
    daemons' logs in it.
    """
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    try:
        yield path
    except BaseException:
        sys.stderr.write(f"kept {path} (daemon logs are there)\n")
        raise
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def embedded(workdir, instances=1000, flags=(), name="embedded", image=True, twistdArgs=()):
    """
    nova-all on its defaults (SQLite file, in-process bus, fake
    hypervisor), prepared with nova-manage, with a machine image
    registered through S3 (C{cloud.imageId}) unless C{image} is false.

    @param instances: how many instances the network must hold.
    @param flags: more flags for nova-manage and nova-all.
    @param twistdArgs: options of twistd itself.
    @return: a context manager giving the started L{Cloud}; it stops it.
    """
    requireClients()
    cloud = Cloud(os.path.join(workdir, name), ["--host=allhost", *flags])
    try:
        cloud.prepare(instances)
        cloud.start("nova-all", twistdArgs=twistdArgs)
        cloud.waitReady({"EC2 API listening on": 1, "S3 object store listening on": 1, " consumes ": 5})
        if image:
            cloud.imageId = cloud.registerImage(data=b"\0" * 65536, key="disk.img")
        yield cloud
    finally:
        cloud.stop()


def requireDistributed():
    """
    @raise Missing: if RabbitMQ's rabbitmqctl, psycopg2 or PostgreSQL on
        127.0.0.1:5432 are absent.
    """
    if not shutil.which("rabbitmqctl"):
        raise Missing("RabbitMQ's rabbitmqctl", "make services")
    try:
        import psycopg2
    except ImportError:
        raise Missing("psycopg2", "pip install -e . into .venv")
    try:
        psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres", connect_timeout=5).close()
    except psycopg2.OperationalError as e:
        raise Missing("PostgreSQL on 127.0.0.1:5432 (user postgres)", str(e).strip())
    with socket.socket() as s:
        s.settimeout(5)
        if s.connect_ex(("127.0.0.1", 5672)):
            raise Missing("RabbitMQ on 127.0.0.1:5672", "make services")


@contextlib.contextmanager
def distributed(workdir, instances=1000, computes=2, flags=(), name="distributed", image=True):
    """
    nova-objectstore, nova-network, nova-scheduler, C{computes}
    nova-compute (fake hypervisor) and nova-api as separate processes over
    RabbitMQ (a virtual host made for the run) and PostgreSQL (a database
    made for the run), the simple scheduler, with a machine image
    registered through S3.

    @return: a context manager giving the started L{Cloud}; it stops it
        and removes the virtual host and the database.
    """
    requireClients()
    requireDistributed()
    import psycopg2

    tag = uuid.uuid4().hex[:8]
    vhost, database = f"nova-bench-{tag}", f"nova_bench_{tag}"
    cloud = Cloud(
        os.path.join(workdir, name),
        [
            f"--sql_connection=postgres://postgres@127.0.0.1:5432/{database}",
            "--rpc_backend=amqp",
            f"--rabbit_virtual_host={vhost}",
            "--scheduler_driver=simple",
            f"--max_cores={max(16, instances)}",
            *flags,
        ],
    )
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True

    def dropDatabase():
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        admin.close()

    def deleteVhost():
        # RabbitMQ may be restarting (other tests on this host do that):
        # try for half a minute, then say what is left.
        for _ in range(15):
            result = subprocess.run(
                ["rabbitmqctl", "delete_vhost", vhost], capture_output=True, text=True
            )
            if result.returncode == 0 or "does not exist" in result.stderr + result.stdout:
                return
            time.sleep(2)
        sys.stderr.write(f"could not delete RabbitMQ virtual host {vhost}: "
                         f"rabbitmqctl delete_vhost {vhost}\n")

    try:
        subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
        cloud.cleanups.append(deleteVhost)
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {database}")
        cloud.cleanups.append(dropDatabase)
        cloud.prepare(instances)
        cloud.start("nova-objectstore", "--host=store")
        cloud.start("nova-network", "--host=net1")
        cloud.start("nova-scheduler", "--host=ctl")
        for n in range(computes):
            cloud.start("nova-compute", f"--host=c{n + 1}")
        cloud.start("nova-api", "--host=api")
        cloud.waitReady({" consumes ": 3 + computes, "nova-api on api started": 1})
        if image:
            cloud.imageId = cloud.registerImage(data=b"\0" * 65536, key="disk.img")
        yield cloud
    finally:
        cloud.stop()
        if not admin.closed:
            admin.close()


# -- instances -------------------------------------------------------------


def launch(ec2, imageId, count, instanceType="m1.tiny"):
    """
    One RunInstances of C{count} instances.

    @return: the ids of the instances.
    """
    reservation = ec2.run_instances(
        ImageId=imageId, MinCount=count, MaxCount=count, InstanceType=instanceType
    )
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    if len(ids) != count:
        raise SystemExit(f"RunInstances of {count} gave {len(ids)} instances")
    return ids


def countStates(ec2, ids=None):
    """
    One listing of DescribeInstances through boto3's paginator (pages of
    1,000), optionally of the instances C{ids} only (an C{instance-id}
    filter: moto has no C{reservation-id} filter).

    @return: a L{dict} from state name to count.
    """
    states = {}
    kwargs = {"PaginationConfig": {"PageSize": 1000}}
    if ids:
        kwargs["Filters"] = [{"Name": "instance-id", "Values": list(ids)}]
    for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                name = instance["State"]["Name"]
                states[name] = states.get(name, 0) + 1
    return states


def waitRunning(ec2, ids, interval=1.0, timeout=1800):
    """
    Poll DescribeInstances (a paginated listing of the instances C{ids})
    at most once every C{interval} seconds until they all run.

    @return: the L{time.monotonic} at which a listing saw them all
        running (the end of that listing).
    @raise SystemExit: if one fails (C{terminated}, C{error}) or after
        C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        polled = time.monotonic()
        states = countStates(ec2, ids)
        seen = time.monotonic()
        if states.get("running", 0) >= len(ids):
            return seen
        if states.get("terminated") or states.get("shutting-down"):
            raise SystemExit(f"instances failed to start: {states}")
        if seen > deadline:
            raise SystemExit(f"not all {len(ids)} instances running after {timeout} s: {states}")
        time.sleep(max(0.0, interval - (time.monotonic() - polled)))


def launchToRunning(ec2, imageId, count, interval=1.0):
    """
    RunInstances of C{count}, then poll until all run.

    @return: C{(seconds from the call to all running, seconds the
        RunInstances call took)}.
    """
    started = time.monotonic()
    ids = launch(ec2, imageId, count)
    answered = time.monotonic()
    done = waitRunning(ec2, ids, interval=interval)
    return done - started, answered - started


class BackgroundLaunch:
    """
    A RunInstances of many instances in a thread of the benchmark, and its
    wait until they all run (polled at most once a second): the load other
    requests are measured under.

    @ivar settled: the L{time.monotonic} at which all were running, or
        L{None} while they are not.
    """

    def __init__(self, ec2Factory, imageId, count):
        self.ec2Factory = ec2Factory
        self.imageId = imageId
        self.count = count
        self.answered = self.settled = self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            ec2 = self.ec2Factory()
            self.started = time.monotonic()
            ids = launch(ec2, self.imageId, self.count)
            self.answered = time.monotonic()
            self.settled = waitRunning(ec2, ids)
        except BaseException as e:
            self.error = e

    def start(self):
        self.thread.start()
        return self

    def busy(self):
        """
        @return: whether the launch has not settled yet.
        """
        return self.settled is None and self.error is None

    def join(self, timeout=1800):
        self.thread.join(timeout)
        if self.error is not None:
            raise SystemExit(f"the background launch of {self.count} failed: {self.error}")
        return self.settled - self.started


# -- moto ------------------------------------------------------------------


class Moto:
    """
    moto's server (C{moto_server} from the virtualenv, or
    C{moto.server.ThreadedMotoServer} in a child Python) on a free
    loopback port.
    """

    def __init__(self):
        requireMoto()
        self.port = freePort()
        if os.access(MOTO_SERVER, os.X_OK):
            argv = [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)]
        else:
            argv = [
                sys.executable,
                "-c",
                "import sys, time; from moto.server import ThreadedMotoServer as S; "
                "s = S(ip_address='127.0.0.1', port=int(sys.argv[1]), verbose=False); "
                "s.start(); time.sleep(10**9)",
                str(self.port),
            ]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            waitPort(self.port, self.process, what="moto's server")
        except BaseException:
            self.stop()
            raise
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self, service="ec2"):
        import boto3

        extra = {}
        if service == "s3":
            extra = {"signature_version": "s3v4", "s3": {"addressing_style": "path"}}
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
            config=botoConfig(**extra),
        )

    def imageId(self):
        """
        @return: the id of an image moto offers.
        """
        return sorted(i["ImageId"] for i in self.client().describe_images()["Images"])[0]

    def reset(self):
        """
        Forget every resource (moto's C{/moto-api/reset}).
        """
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=60).read()

    def stop(self):
        stopProcess(self.process, timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# -- latency ---------------------------------------------------------------


class Latency:
    """
    C{count} requests sent one at a time: p50 and p99 in milliseconds,
    and requests per second one client gets sending them back to back
    (C{count} over the sum of the latencies, so that pacing does not
    count).

    @ivar during: how many of the requests were sent while a background
        load was still busy (L{None} when there was none).
    """

    def __init__(self, latencies, during=None):
        ordered = sorted(latencies)
        self.count = len(ordered)
        self.p50 = percentile(ordered, 50) * 1000
        self.p99 = percentile(ordered, 99) * 1000
        self.rate = self.count / sum(ordered)
        self.during = during


def percentile(ordered, p):
    """
    The nearest-rank percentile of sorted C{ordered} (with fewer than 100
    samples, p99 is the largest).
    """
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[int(rank) - 1]


def measure(function, count, busy=None, pace=0.0):
    """
    Call C{function} C{count} times, one at a time, timing each call.

    @param busy: a callable telling whether a background load is still
        busy; counted in L{Latency.during}.
    @param pace: the least seconds from one call's start to the next's,
        to spread the calls over a background load.
    @return: a L{Latency}.
    """
    latencies = []
    during = 0 if busy is not None else None
    for _ in range(count):
        if busy is not None and busy():
            during += 1
        before = time.perf_counter()
        function()
        after = time.perf_counter()
        latencies.append(after - before)
        if pace:
            time.sleep(max(0.0, pace - (after - before)))
    return Latency(latencies, during)


def printLatencies(rows, note=True):
    """
    Print p50/p99/req/s of nova and moto for each operation, and the ratio
    nova/moto.

    @param rows: C{(operation, nova Latency, moto Latency or None)}.
    """
    print(f"{'operation':<44} {'server':<6} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9}  {'n':>5}")
    for operation, nova, moto in rows:
        for server, result in (("nova", nova), ("moto", moto)):
            if result is None:
                continue
            line = (
                f"{operation:<44} {server:<6} {result.p50:>9.2f} {result.p99:>9.2f} "
                f"{result.rate:>9.1f}  {result.count:>5}"
            )
            if result.during is not None:
                line += f"  ({result.during} sent during the launch)"
            print(line)
            operation = ""
        if nova is not None and moto is not None:
            print(
                f"{'':<44} {'ratio':<6} {nova.p50 / moto.p50:>8.2f}x {nova.p99 / moto.p99:>8.2f}x "
                f"{nova.rate / moto.rate:>8.2f}x"
            )
    if note:
        print("ratio = nova / moto: latency ratios above 1 and req/s ratios below 1 mean nova is slower.")
