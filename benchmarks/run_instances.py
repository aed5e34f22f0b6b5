#!/usr/bin/env python
"""
RunInstances-to-running as users get it: seconds from one RunInstances of
N instances until DescribeInstances shows all N running, for N = 100, 500
and 1,000 (C{--sizes}), with the fake hypervisor.

Each size runs on a cloud of its own, started the way users start it (see
C{benchmarks/cloud.py}) and driven with boto3 over loopback:

  - embedded (always): C{twistd nova-all} on its defaults (an SQLite file,
    the in-process bus);
  - distributed (C{--distributed}): nova-api, nova-objectstore,
    nova-scheduler (simple), nova-network and two nova-compute processes
    over RabbitMQ (a virtual host made for the run) and PostgreSQL (a
    database made for the run).

The benchmark polls DescribeInstances (boto3's paginator, pages of 1,000,
filtered to the launched instances) at most once a second, so the polling
does not dominate; the times are therefore known to about a second.  It
prints seconds, instances per second, and the time ratio between
successive sizes: a cost linear in N gives a time ratio equal to the size
ratio (2.0 per doubling; 5.0 from 100 to 500); more means worse than
linear.

    .venv/bin/python benchmarks/run_instances.py [--sizes 100,500,1000] [--distributed]

C{--distributed} needs RabbitMQ (with rabbitmqctl) and PostgreSQL on
127.0.0.1 (C{make services}).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud  # noqa: E402

DEPLOYMENTS = {
    "embedded": ("nova-all, SQLite, in-process bus", cloud.embedded),
    "distributed": ("RabbitMQ, PostgreSQL, 2 nova-compute", cloud.distributed),
}


def instancesToRunning(deployment, size, work, after=None):
    """
    Start a cloud of C{deployment}, launch C{size} instances and time them
    to running.

    @param after: called with the cloud before it stops, e.g. to measure
        more on it.
    @return: C{(seconds to all running, seconds RunInstances took to
        answer, what C{after} returned)}.
    """
    start = DEPLOYMENTS[deployment][1]
    with start(work, instances=size, name=f"{deployment}-{size}") as nova:
        seconds, answered = cloud.launchToRunning(nova.client(), nova.imageId, size)
        extra = after(nova) if after is not None else None
    return seconds, answered, extra


def printTable(title, results):
    """
    @param results: C{{deployment: [(size, seconds, answered), ...]}}.
    """
    print(title)
    print(
        f"{'deployment':<50} {'instances':>9} {'seconds':>9} {'inst/s':>8} "
        f"{'API answer s':>12} {'time ratio':>10} {'size ratio':>10}"
    )
    for deployment, rows in results.items():
        label = f"{deployment}: {DEPLOYMENTS[deployment][0]}"
        previous = None
        for size, seconds, answered in rows:
            ratio = sizeRatio = ""
            if previous is not None:
                ratio = f"{seconds / previous[1]:.2f}"
                sizeRatio = f"{size / previous[0]:.2f}"
            print(
                f"{label:<50} {size:>9} {seconds:>9.2f} {size / seconds:>8.1f} "
                f"{answered:>12.2f} {ratio:>10} {sizeRatio:>10}"
            )
            label = ""
            previous = (size, seconds)
    print(
        "time ratio = this size's seconds / the previous size's; a linear cost gives the "
        "size ratio (2.0 per doubling).\nPolled at most once a second: times are known to about 1 s."
    )


def parseSizes(parser, text):
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        parser.error("sizes are a comma-separated list of numbers")
    if not sizes or sizes[0] < 1 or sizes[-1] > 20000:
        parser.error("sizes must be between 1 and 20000")
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000",
                        help="instance counts, comma-separated (100,500,1000)")
    parser.add_argument("--distributed", action="store_true",
                        help="also measure the distributed deployment (RabbitMQ, PostgreSQL)")
    args = parser.parse_args(argv)
    sizes = parseSizes(parser, args.sizes)
    cloud.requireClients()
    deployments = ["embedded"]
    if args.distributed:
        cloud.requireDistributed()
        deployments.append("distributed")
    results = {}
    with cloud.workDirectory("nova-bench-run-") as work:
        for deployment in deployments:
            results[deployment] = []
            for size in sizes:
                seconds, answered, _ = instancesToRunning(deployment, size, work)
                results[deployment].append((size, seconds, answered))
                print(f"{deployment} {size}: {seconds:.2f} s", file=sys.stderr, flush=True)
    print()
    printTable(
        "RunInstances of N instances until DescribeInstances shows all running (fake hypervisor)",
        results,
    )
    if args.distributed:
        print("ratio distributed/embedded (seconds): " + ", ".join(
            f"{e[0]}: {d[1] / e[1]:.2f}" for e, d in zip(results["embedded"], results["distributed"])
        ))


if __name__ == "__main__":
    main()
