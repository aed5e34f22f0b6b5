#!/usr/bin/env python
# -*- test-case-name: tests.api.ec2.test_instances -*-
"""
Benchmark of nova-api's EC2 API with boto3, beside moto's EC2 server.

Measures, on loopback only and with bounded loops, one boto3 client
sending one request at a time:

  - DescribeInstances over 200 instances (one reservation of 200);
  - RunInstances of one instance;
  - DescribeKeyPairs with five key pairs;

and prints, for each, latency p50 and p99 (ms) and requests per second,
with the ratio of nova-api to moto's EC2 server measured in the same run.

Both servers run in their own processes.  nova-api is the web site
C{nova.api.tap.apiServices} builds, started by this script's C{--serve}
mode over a whole embedded cloud: an in-memory SQLite database with
inline transactions, the in-process bus, the chance scheduler, the flat
network manager with the fake network driver and two compute services on
fake hypervisors (so instances really go pending -> running, with fixed
addresses, while the benchmark runs).  moto runs as
C{moto.server.ThreadedMotoServer} in a child process.

    .venv/bin/python benchmarks/ec2_api.py [--describe N] [--run N] [--keys N] [--no-moto]
"""

import argparse
import socket
import subprocess
import sys
import time
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ACCESS, SECRET, USER = "bench-access", "bench-secret", "bench"
INSTANCES = 200


def serveNova(port):
    """
    Run nova-api over an embedded cloud in this process, listening on
    127.0.0.1:C{port}; print the port when ready.
    """
    sys.path.insert(0, ROOT)
    from twisted.internet import reactor
    from twisted.internet.defer import ensureDeferred

    from nova.api.tap import apiServices
    from nova.auth.manager import authManagerFromConfig
    from nova.compute.manager import ComputeManager
    from nova.config import configFromFlags
    from nova.db.api import inlineDatabase
    from nova.network.fake import FakeNetworkDriver
    from nova.network.manager import managerClass
    from nova.rpc.local import LocalRPC
    from nova.scheduler.manager import SchedulerManager
    from nova.service import NovaService
    from nova.virt.fake import FakeVirtDriver

    async def start():
        config = configFromFlags(
            host="controller",
            ec2_host="127.0.0.1",
            ec2_listen="127.0.0.1",
            ec2_port=port,
            network_manager="flat",
            network_driver="fake",
            fixed_range="10.0.0.0/21",
            scheduler_driver="chance",
            quota_instances=-1,
            quota_cores=-1,
        )
        db = inlineDatabase("sqlite:", reactor)
        await db.sync()
        auth = authManagerFromConfig(config, db, reactor)
        await auth.createUser(USER, ACCESS, SECRET, False)
        await auth.createProject(USER, USER)
        rpc = LocalRPC(reactor, callTimeout=30)
        networkConfig = config.replace(host="net1")
        cls = managerClass("flat")
        await db.networks.createNetworks(cls.planNetworks(networkConfig, "10.0.0.0/21", 1, 2048))
        services = [
            NovaService(
                "nova-network", "network",
                cls(networkConfig, db, rpc, reactor, driver=FakeNetworkDriver()),
                rpc, db, reactor, networkConfig,
            ),
            NovaService(
                "nova-scheduler", "scheduler", SchedulerManager(config, db, rpc, reactor),
                rpc, db, reactor, config,
            ),
        ]
        for host in ("node1", "node2"):
            hostConfig = config.replace(host=host)
            manager = ComputeManager(hostConfig, db, rpc, reactor, FakeVirtDriver(vcpus=1024))
            services.append(NovaService("nova-compute", "compute", manager, rpc, db, reactor, hostConfig))
        for service in services:
            service.startService()
            await service.ready
        await db.images.create(
            "machine", USER, USER, "bench/image.manifest.xml", state="available", name="bench"
        )
        for service in apiServices(config, reactor, db, rpc, auth):
            service.startService()
        print(port, flush=True)

    def failed(failure):
        failure.printTraceback()
        reactor.stop()

    reactor.callWhenRunning(lambda: ensureDeferred(start()).addErrback(failed))
    reactor.run()


def serveMoto(port):
    """
    Run moto's EC2 server (C{ThreadedMotoServer}) in this process.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(port, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def freePort():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def startServer(mode, port):
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", mode, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{mode} server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"{mode} server did not start")


def client(endpoint, region, access, secret):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
    )


def measure(function, count):
    """
    Call C{function} C{count} times, one at a time.

    @return: C{(p50 ms, p99 ms, requests per second)}.
    """
    latencies = []
    start = time.perf_counter()
    for _ in range(count):
        before = time.perf_counter()
        function()
        latencies.append(time.perf_counter() - before)
    total = time.perf_counter() - start
    latencies.sort()

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))] * 1000

    return percentile(50), percentile(99), count / total


def waitRunning(ec2, expected, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        running = 0
        for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
        ):
            running += sum(len(r["Instances"]) for r in page["Reservations"])
        if running >= expected:
            return running
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {expected} instances running after {timeout} s")


def runWorkload(ec2, imageId, args):
    """
    @return: a L{dict} from operation to C{(p50, p99, req/s)}.
    """
    for n in range(5):
        ec2.create_key_pair(KeyName=f"bench-{n}")
    ec2.run_instances(ImageId=imageId, MinCount=INSTANCES, MaxCount=INSTANCES)
    waitRunning(ec2, INSTANCES)

    def describe():
        result = ec2.describe_instances()
        count = sum(len(r["Instances"]) for r in result["Reservations"])
        if count < INSTANCES:
            raise RuntimeError(f"DescribeInstances gave {count} instances")

    results = {"DescribeInstances (200)": measure(describe, args.describe)}
    results["RunInstances (1)"] = measure(
        lambda: ec2.run_instances(ImageId=imageId, MinCount=1, MaxCount=1), args.run
    )
    results["DescribeKeyPairs (5)"] = measure(ec2.describe_key_pairs, args.keys)
    return results


def report(table):
    operations = list(table["nova"])
    print()
    print(f"{'operation':<26} {'server':<6} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9}")
    for operation in operations:
        for server in ("nova", "moto"):
            if server in table:
                p50, p99, rate = table[server][operation]
                print(f"{operation:<26} {server:<6} {p50:>9.2f} {p99:>9.2f} {rate:>9.1f}")
        if "moto" in table:
            n, m = table["nova"][operation], table["moto"][operation]
            print(
                f"{'':<26} {'ratio':<6} {n[0] / m[0]:>8.2f}x {n[1] / m[1]:>8.2f}x {n[2] / m[2]:>8.2f}x"
                "   (nova / moto; latency below 1 and req/s above 1 favour nova)"
            )
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--describe", type=int, default=100, help="DescribeInstances calls (100)")
    parser.add_argument("--run", type=int, default=50, help="RunInstances calls (50)")
    parser.add_argument("--keys", type=int, default=300, help="DescribeKeyPairs calls (300)")
    parser.add_argument("--no-moto", action="store_true", help="skip moto")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        kind, port = args.serve
        (serveNova if kind == "nova" else serveMoto)(int(port))
        return
    for name in ("describe", "run", "keys"):
        if not 1 <= getattr(args, name) <= 10000:
            parser.error(f"--{name} must be between 1 and 10000")
    table = {}
    processes = []
    try:
        port = freePort()
        processes.append(startServer("nova", port))
        ec2 = client(f"http://127.0.0.1:{port}/services/Cloud", "nova", ACCESS, SECRET)
        imageId = ec2.describe_images()["Images"][0]["ImageId"]
        table["nova"] = runWorkload(ec2, imageId, args)
        if not args.no_moto:
            port = freePort()
            processes.append(startServer("moto", port))
            ec2 = client(f"http://127.0.0.1:{port}", "us-east-1", "testing", "testing")
            table["moto"] = runWorkload(ec2, "ami-12c6146b", args)
        report(table)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
