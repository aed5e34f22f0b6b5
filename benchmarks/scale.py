#!/usr/bin/env python
"""
Nova at scale, in one run and one table: for N = 100, 500 and 1,000
instances (C{--sizes}), the seconds from one RunInstances of N to all N
running, and DescribeInstances latency with those N instances, beside
moto's EC2 server holding the same number of instances.

For each N, a fresh nova-all (started as users start it, see
C{benchmarks/cloud.py}: an SQLite file, the in-process bus, the fake
hypervisor; or the distributed deployment over RabbitMQ and PostgreSQL
with C{--distributed}) launches N instances, polled at most once a second
until all run (C{run_instances.py}), then answers C{--requests}
DescribeInstances calls, one at a time, each returning the N instances
(C{ec2_api.py}).  moto's server, reset between sizes, does the same.

    .venv/bin/python benchmarks/scale.py [--sizes 100,500,1000] [--requests 20]
        [--distributed] [--no-moto]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud  # noqa: E402
import ec2_api  # noqa: E402
import run_instances  # noqa: E402


def measureNova(deployment, size, requests, work):
    """
    @return: C{(seconds to running, DescribeInstances L{cloud.Latency})}.
    """

    def describe(nova):
        return ec2_api.describeInstances(nova.client(), size, requests)

    seconds, _, latency = run_instances.instancesToRunning(deployment, size, work, after=describe)
    return seconds, latency


def measureMoto(moto, size, requests):
    moto.reset()
    ec2 = moto.client()
    seconds, _ = cloud.launchToRunning(ec2, moto.imageId(), size)
    return seconds, ec2_api.describeInstances(ec2, size, requests)


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}" if a is not None and b else ""


def printTable(rows, requests):
    """
    @param rows: C{(server label, size, seconds, Latency, moto seconds,
        moto Latency)}.
    """
    print(
        f"Launch of N instances to running, then DescribeInstances of all N "
        f"({requests} calls, one at a time); moto holds the same N"
    )
    header = (
        f"{'nova deployment':<12} {'N':>6} {'run s':>7} {'inst/s':>7} {'t ratio':>7} "
        f"{'moto s':>7} {'run/moto':>8} | {'Desc p50':>8} {'p99':>8} {'req/s':>6} "
        f"{'moto p50':>8} {'p99':>8} {'req/s':>6} {'p50 x':>6} {'req/s x':>7}"
    )
    print(header)
    print("-" * len(header))
    previous = {}
    for label, size, seconds, latency, motoSeconds, moto in rows:
        timeRatio = ""
        if label in previous:
            timeRatio = f"{seconds / previous[label]:.2f}"
        previous[label] = seconds
        line = (
            f"{label:<12} {size:>6} {seconds:>7.2f} {size / seconds:>7.1f} {timeRatio:>7} "
            f"{(f'{motoSeconds:.2f}' if motoSeconds is not None else ''):>7} "
            f"{ratio(seconds, motoSeconds):>8} | "
            f"{latency.p50:>8.1f} {latency.p99:>8.1f} {latency.rate:>6.1f} "
        )
        if moto is not None:
            line += (
                f"{moto.p50:>8.1f} {moto.p99:>8.1f} {moto.rate:>6.1f} "
                f"{ratio(latency.p50, moto.p50):>6} {ratio(latency.rate, moto.rate):>7}"
            )
        print(line)
    print(
        "run s: RunInstances to all running (polled once a second, so +-1 s); t ratio: run s over\n"
        "the previous N's (linear cost: equal to the size ratio, 2.0 per doubling); p50/p99 in ms;\n"
        "p50 x and req/s x: nova / moto (p50 x above 1, req/s x below 1: nova slower)."
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000", help="instance counts (100,500,1000)")
    parser.add_argument("--requests", type=int, default=20,
                        help="DescribeInstances calls per size (20)")
    parser.add_argument("--distributed", action="store_true",
                        help="also run nova distributed over RabbitMQ and PostgreSQL")
    parser.add_argument("--no-moto", action="store_true", help="measure nova only")
    args = parser.parse_args(argv)
    sizes = run_instances.parseSizes(parser, args.sizes)
    if not 1 <= args.requests <= 10000:
        parser.error("--requests must be between 1 and 10000")
    cloud.requireClients()
    if not args.no_moto:
        cloud.requireMoto()
    deployments = ["embedded"]
    if args.distributed:
        cloud.requireDistributed()
        deployments.append("distributed")
    nova = {}
    with cloud.workDirectory("nova-bench-scale-") as work:
        for deployment in deployments:
            for size in sizes:
                nova[deployment, size] = measureNova(deployment, size, args.requests, work)
                print(f"nova {deployment} {size}: {nova[deployment, size][0]:.2f} s",
                      file=sys.stderr, flush=True)
    moto = {}
    if not args.no_moto:
        with cloud.Moto() as server:
            for size in sizes:
                moto[size] = measureMoto(server, size, args.requests)
                print(f"moto {size}: {moto[size][0]:.2f} s", file=sys.stderr, flush=True)
    rows = []
    for deployment in deployments:
        for size in sizes:
            seconds, latency = nova[deployment, size]
            motoSeconds, motoLatency = moto.get(size, (None, None))
            rows.append((deployment, size, seconds, latency, motoSeconds, motoLatency))
    print()
    printTable(rows, args.requests)


if __name__ == "__main__":
    main()
