#!/usr/bin/env python
# -*- test-case-name: tests.api.ec2.test_instances -*-
"""
EC2 API latency as users get it: boto3 against nova-all, beside moto's EC2
server, in the same run.

nova-all runs as its own process, started the way users start it
(C{nova-manage db sync}, C{network create}, C{user create}, C{project
create}, quotas, then C{twistd -n nova-all}) on its defaults: an SQLite
file under a temporary C{--state_path}, the in-process bus and the fake
hypervisor, so instances really go pending -> running.  moto's server
(C{moto_server}) runs in another process.  This process is only the
client: one boto3 client sending one request at a time, on loopback.

Measured, for each server, with C{--requests} requests each (bounded):

  - DescribeInstances (one call, no MaxResults: every instance in one
    answer, counted) with 200 and 1,000 instances (5,000 with
    C{--large});
  - RunInstances of one instance, idle;
  - RunInstances of one instance while a RunInstances of 500 (C{--launch})
    started in a thread of this process settles (until DescribeInstances,
    polled at most once a second, shows the 500 running);
  - DescribeKeyPairs (five key pairs), idle and during another such
    launch.

Requests during a launch start at least C{--pace} seconds (0.1) apart, so
that they spread over the launch instead of all landing in its first
second.  It prints p50 and p99 (ms), requests per second (one client back
to back: the count over the sum of the latencies) and the ratio nova/moto
of each, and how many requests were sent while the launch was still
settling.

    .venv/bin/python benchmarks/ec2_api.py [--sizes 200,1000] [--large]
        [--requests 50] [--launch 500] [--pace 0.1] [--no-moto]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud  # noqa: E402

KEY_PAIRS = 5


def totalInstances(ec2):
    """
    @return: the number of instances of one DescribeInstances call.
    """
    result = ec2.describe_instances()
    return sum(len(r["Instances"]) for r in result["Reservations"])


def waitSettled(ec2, interval=1.0, timeout=1800):
    """
    Poll (paginated, at most once a second) until no instance is pending.
    """
    deadline = time.monotonic() + timeout
    while True:
        polled = time.monotonic()
        states = cloud.countStates(ec2)
        if not states.get("pending"):
            return states
        if polled > deadline:
            raise SystemExit(f"instances still pending after {timeout} s: {states}")
        time.sleep(max(0.0, interval - (time.monotonic() - polled)))


def describeInstances(ec2, expected, requests):
    """
    Measure DescribeInstances over C{expected} instances.

    @return: a L{cloud.Latency}.
    """

    def describe():
        got = totalInstances(ec2)
        if got != expected:
            raise SystemExit(f"DescribeInstances gave {got} instances, not {expected}")

    return cloud.measure(describe, requests)


def growTo(ec2, imageId, have, size):
    """
    Launch instances until C{size} run (one RunInstances, polled until
    all run).

    @return: C{size}.
    """
    if size > have:
        cloud.waitRunning(ec2, cloud.launch(ec2, imageId, size - have))
    return size


def workload(name, ec2Factory, imageId, args):
    """
    Run every measurement against one server.

    @param ec2Factory: makes a boto3 EC2 client of the server.
    @return: a L{dict} from operation to L{cloud.Latency}, and notes.
    """
    ec2 = ec2Factory()
    results, notes = {}, []
    for n in range(KEY_PAIRS):
        ec2.create_key_pair(KeyName=f"bench-{n}")
    have = 0
    for size in args.sizes:
        started = time.monotonic()
        previous, have = have, growTo(ec2, imageId, have, size)
        notes.append(
            f"{name}: {have - previous} more instances running in "
            f"{time.monotonic() - started:.1f} s (to {have})"
        )
        results[f"DescribeInstances ({size} instances)"] = describeInstances(
            ec2, have, args.requests
        )

    def runOne():
        cloud.launch(ec2, imageId, 1)

    results["RunInstances (1), idle"] = cloud.measure(runOne, args.requests)
    waitSettled(ec2)
    results[f"DescribeKeyPairs ({KEY_PAIRS}), idle"] = cloud.measure(
        ec2.describe_key_pairs, args.requests
    )

    background = cloud.BackgroundLaunch(ec2Factory, imageId, args.launch).start()
    results[f"RunInstances (1), during a launch of {args.launch}"] = cloud.measure(
        runOne, args.requests, busy=background.busy, pace=args.pace
    )
    notes.append(
        f"{name}: launch of {args.launch} (with RunInstances (1)) settled in {background.join():.1f} s"
    )
    waitSettled(ec2)

    background = cloud.BackgroundLaunch(ec2Factory, imageId, args.launch).start()
    results[f"DescribeKeyPairs ({KEY_PAIRS}), during a launch of {args.launch}"] = cloud.measure(
        ec2.describe_key_pairs, args.requests, busy=background.busy, pace=args.pace
    )
    notes.append(
        f"{name}: launch of {args.launch} (with DescribeKeyPairs) settled in {background.join():.1f} s"
    )
    return results, notes


def instancesNeeded(args):
    return max(args.sizes) + 2 * args.requests + 2 * args.launch


def runNova(args):
    with cloud.workDirectory("nova-bench-ec2-") as work:
        with cloud.embedded(work, instances=instancesNeeded(args)) as nova:
            return workload("nova", nova.client, nova.imageId, args)


def runMoto(args):
    with cloud.Moto() as moto:
        return workload("moto", moto.client, moto.imageId(), args)


def parseArguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sizes", default="200,1000",
                        help="instance counts DescribeInstances is measured at (200,1000)")
    parser.add_argument("--large", action="store_true", help="also measure 5,000 instances")
    parser.add_argument("--requests", type=int, default=50, help="requests per measurement (50)")
    parser.add_argument("--launch", type=int, default=500,
                        help="instances of the launch measured under (500)")
    parser.add_argument("--pace", type=float, default=0.1,
                        help="least seconds between the starts of two requests sent during a "
                        "launch, to spread them over it (0.1)")
    parser.add_argument("--no-moto", action="store_true", help="measure nova only")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes is a comma-separated list of numbers")
    if args.large and 5000 not in args.sizes:
        args.sizes.append(5000)
    if not args.sizes or args.sizes[0] < 1:
        parser.error("--sizes must be positive")
    if not 1 <= args.requests <= 10000:
        parser.error("--requests must be between 1 and 10000")
    if not 1 <= args.launch <= 10000:
        parser.error("--launch must be between 1 and 10000")
    if not 0 <= args.pace <= 10:
        parser.error("--pace must be between 0 and 10 seconds")
    return args


def main(argv=None):
    args = parseArguments(argv)
    cloud.requireClients()
    if not args.no_moto:
        cloud.requireMoto()
    nova, novaNotes = runNova(args)
    moto, motoNotes = ({}, []) if args.no_moto else runMoto(args)
    print()
    print(
        f"EC2 API, one boto3 client on loopback, {args.requests} requests per measurement "
        f"(during a launch: {args.pace:g} s apart at least); "
        "nova-all (SQLite file, in-process bus, fake hypervisor) vs moto_server"
    )
    cloud.printLatencies([(operation, nova[operation], moto.get(operation)) for operation in nova])
    for note in novaNotes + motoNotes:
        print(note)


if __name__ == "__main__":
    main()
