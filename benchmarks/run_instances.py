#!/usr/bin/env python
"""
RunInstances-to-running throughput: how long Nova takes from one
RunInstances call for N instances (default 100) until DescribeInstances
shows all of them running, with the fake hypervisor.

Two deployments are measured in the same run, each as real processes
driven with boto3 over loopback:

  - distributed: nova-api, nova-scheduler, nova-network and two nova-compute
    processes over RabbitMQ (a virtual host made for the run) and PostgreSQL
    (a database made for the run);
  - embedded: nova-all on its defaults (SQLite, the in-process bus), the
    baseline.

It prints instances per second for each and the ratio distributed/embedded.
Needs RabbitMQ, rabbitmqctl and PostgreSQL on 127.0.0.1 (`make services`).

    .venv/bin/python benchmarks/run_instances.py [--count N]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

BIN = os.path.dirname(sys.executable)
TWISTD = os.path.join(BIN, "twistd")
MANAGE = os.path.join(BIN, "nova-manage")


def freePort():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitUntil(check, timeout, what):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


class Cloud:
    """
    A set of Nova daemons started as processes, and a boto3 client.
    """

    def __init__(self, state, flags):
        self.state = state
        os.makedirs(state, exist_ok=True)
        self.flags = flags
        self.port = freePort()
        self.flags += [f"--ec2_port={self.port}", "--ec2_listen=127.0.0.1", f"--state_path={state}"]
        self.processes = []

    def manage(self, *argv):
        subprocess.run([MANAGE, *self.flags, *argv], check=True, capture_output=True, timeout=120)

    def prepare(self, count):
        self.manage("db", "sync")
        self.manage("network", "create", "10.30.0.0/22", "1", "1024")
        self.access, self.secret = "bench-" + uuid.uuid4().hex[:8], uuid.uuid4().hex
        self.manage("user", "create", "bench", self.access, self.secret)
        self.manage("project", "create", "bench", "bench")
        for resource in ("instances", "cores"):
            self.manage("project", "quota", "bench", resource, str(count * 4096))

    def start(self, plugin, *extra):
        log = os.path.join(self.state, f"{plugin}-{len(self.processes)}.log")
        process = subprocess.Popen(
            [TWISTD, "-n", "--pidfile=", f"--logfile={log}", plugin, *self.flags, *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append((process, log))

    def waitReady(self, pattern, expected):
        def ready():
            found = 0
            for process, log in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"a daemon exited; see {log}")
                if os.path.exists(log):
                    with open(log, encoding="utf-8", errors="replace") as f:
                        found += f.read().count(pattern)
            return found >= expected

        waitUntil(ready, 90, "the daemons to start")

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "ec2",
            endpoint_url=f"http://127.0.0.1:{self.port}/services/Cloud",
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            region_name="nova",
            config=Config(retries={"max_attempts": 1}),
        )

    def measure(self, count):
        """
        @return: seconds from RunInstances to all running.
        """
        ec2 = self.client()
        started = time.monotonic()
        reservation = ec2.run_instances(
            ImageId=self.imageId, MinCount=count, MaxCount=count, InstanceType="m1.tiny"
        )
        ids = [i["InstanceId"] for i in reservation["Instances"]]

        def allRunning():
            states = [
                i["State"]["Name"]
                for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
                for i in r["Instances"]
            ]
            if "terminated" in states:
                raise SystemExit("an instance failed to start")
            return states.count("running") == count

        waitUntil(allRunning, 600, f"{count} instances to run")
        elapsed = time.monotonic() - started
        ec2.terminate_instances(InstanceIds=ids)
        return elapsed

    def registerImage(self, s3Port):
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{s3Port}",
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            region_name="nova",
        )
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="disk.img", Body=b"\0" * 65536)
        ec2 = self.client()
        self.imageId = ec2.register_image(ImageLocation="bench/disk.img", Name="bench")["ImageId"]
        waitUntil(
            lambda: ec2.describe_images(ImageIds=[self.imageId])["Images"][0]["State"] == "available",
            60,
            "the image",
        )

    def stop(self):
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def embedded(count, workdir):
    state = os.path.join(workdir, "embedded")
    s3Port = freePort()
    cloud = Cloud(state, ["--host=allhost", f"--s3_port={s3Port}", "--s3_listen=127.0.0.1"])
    cloud.prepare(count)
    try:
        cloud.start("nova-all")
        cloud.waitReady("nova-objectstore on allhost consumes", 1)
        cloud.registerImage(s3Port)
        return cloud.measure(count)
    finally:
        cloud.stop()


def distributed(count, workdir):
    import psycopg2

    vhost = "nova-bench-" + uuid.uuid4().hex[:8]
    database = "nova_bench_" + uuid.uuid4().hex[:8]
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {database}")
    state = os.path.join(workdir, "distributed")
    s3Port = freePort()
    cloud = Cloud(
        state,
        [
            f"--sql_connection=postgres://postgres@127.0.0.1:5432/{database}",
            "--rpc_backend=amqp",
            f"--rabbit_virtual_host={vhost}",
            "--scheduler_driver=simple",
            f"--max_cores={count}",
            f"--s3_port={s3Port}",
            "--s3_listen=127.0.0.1",
        ],
    )
    try:
        cloud.prepare(count)
        cloud.start("nova-objectstore", "--host=store")
        cloud.start("nova-network", "--host=net1")
        cloud.start("nova-scheduler", "--host=ctl")
        cloud.start("nova-compute", "--host=c1")
        cloud.start("nova-compute", "--host=c2")
        cloud.start("nova-api", "--host=api")
        cloud.waitReady("consumes", 5)
        cloud.waitReady("nova-api on api started", 1)
        cloud.registerImage(s3Port)
        return cloud.measure(count)
    finally:
        cloud.stop()
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database}")
        admin.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    if not shutil.which("rabbitmqctl"):
        raise SystemExit("needs RabbitMQ (make services)")
    workdir = tempfile.mkdtemp(prefix="nova-bench-")
    base = embedded(args.count, workdir)
    dist = distributed(args.count, workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"RunInstances of {args.count} instances until all are running (fake hypervisor)")
    print(f"{'deployment':<44}{'seconds':>10}{'instances/s':>14}")
    print(f"{'embedded: nova-all, SQLite, in-process bus':<44}{base:>10.2f}{args.count / base:>14.1f}")
    print(f"{'distributed: RabbitMQ, PostgreSQL, 2 computes':<44}{dist:>10.2f}{args.count / dist:>14.1f}")
    print(f"ratio distributed/embedded (instances/s): {base / dist:.2f}")


if __name__ == "__main__":
    main()
