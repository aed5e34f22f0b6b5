#!/usr/bin/env python
"""
Where a large launch spends its time: nova-all on its defaults (see
C{benchmarks/cloud.py}) launches N instances (500 by default) through
boto3 while py-spy samples every thread of its process (the reactor, the
database threads, the thread pool), from the RunInstances call until
DescribeInstances shows them all running.

It prints the call sites (function, file and line of the innermost frame
of each sample: where the time was spent, not who called it) that took
the most samples, with their share of all samples, and the same by
function; then the largest share against a threshold (10% by default).
Idle threads (waiting in C{epoll}, on a lock or a queue) are not sampled,
so the shares are of the work done.  A thread waiting to take the GIL back
after a database call counts, at that call: with C{--gil} only the thread
holding the GIL is sampled, which shows where Python itself runs.

    .venv/bin/python benchmarks/profile_launch.py [--size 500] [--rate 200] [--top 15] [--gil]

py-spy (from the test extra) reads the process's memory, so it needs
ptrace: run as root, or with C{kernel.yama.ptrace_scope=0}.
"""

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud  # noqa: E402


#: Innermost frames that mean a thread waits for work (a pool thread on
#: its queue's condition, the reactor in epoll): idle, not counted.
IDLE = ("Condition.wait (threading.py:", "EPollReactor.doPoll (twisted/internet/epollreactor.py:")


def parseRaw(path):
    """
    Read py-spy's raw (collapsed stack) output.

    @return: a L{list} of C{(frames, samples)}, frames outermost first, as
        py-spy names them: C{function (file:line)}.
    """
    stacks = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def isIdle(frames):
    return frames[-1].startswith(IDLE)


def innermost(stacks):
    """
    @return: a L{collections.Counter} from each innermost frame (where the
        time was spent, in whatever library) to its samples.
    """
    counts = collections.Counter()
    for frames, count in stacks:
        counts[frames[-1]] += count
    return counts


#: Where samples with no frame of Nova's code count: the reactor, the
#: thread pools' hand-offs, the interpreter; many sites, not one.
OTHER = "(other: no frame of nova)"

#: Nova's shared helpers whose time is their caller's: the call site of a
#: query read with L{nova.db.records.findRecords}, or of an instance read
#: by C{_thd_read} (for a get, a transition or a change), is the store
#: method that asked for it.
HELPERS = ("(nova/db/records.py:", "_thd_read (nova/db/instances.py:")


def innermostOurs(stacks):
    """
    @return: a L{collections.Counter} from the innermost frame in Nova's
        own code (the call site that asked for the work: a query's caller
        rather than the database driver), not counting L{HELPERS}, to its
        samples; samples with no frame of Nova's count as C{(other)}.
    """

    def site(frames):
        for frame in reversed(frames):
            if "(nova/" in frame and not any(helper in frame for helper in HELPERS):
                return frame
        return OTHER

    counts = collections.Counter()
    for frames, count in stacks:
        counts[site(frames)] += count
    return counts


def byFunction(leaves):
    """
    @return: the samples of call sites added up per function (the line
        number dropped).
    """
    functions = collections.Counter()
    for site, count in leaves.items():
        name, _, where = site.partition(" (")
        functions[f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})"] += count
    return functions


def table(title, counter, total, top):
    print(title)
    for site, count in counter.most_common(top):
        print(f"  {100.0 * count / total:6.2f}%  {count:7d}  {site}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=500, help="instances to launch")
    parser.add_argument("--rate", type=int, default=200, help="py-spy's samples per second")
    parser.add_argument("--top", type=int, default=15, help="call sites to print")
    parser.add_argument(
        "--threshold", type=float, default=10.0, help="the share (%%) no call site should exceed"
    )
    parser.add_argument("--keep", metavar="PATH", help="keep py-spy's raw output there")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL (Python's work, not the waits for it)",
    )
    options = parser.parse_args()
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        raise cloud.Missing("py-spy", "pip install -e '.[test]'")

    with cloud.workDirectory() as work:
        with cloud.embedded(work, instances=options.size) as running:
            [(process, _)] = running.processes
            ec2 = running.client("ec2")
            raw = os.path.join(work, "launch.txt")
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(process.pid), "--format", "raw", "--rate",
                 str(options.rate), "--threads", "--output", raw]
                + (["--gil"] if options.gil else []),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1)
            if sampler.poll() is not None:
                raise SystemExit(f"py-spy failed: {sampler.stderr.read().decode()}")
            seconds, answered = cloud.launchToRunning(ec2, running.imageId, options.size)
            sampler.send_signal(signal.SIGINT)
            sampler.wait(60)
            stacks = parseRaw(raw)
            if options.keep:
                shutil.copy(raw, options.keep)
    busy = [(frames, count) for frames, count in stacks if not isIdle(frames)]
    idle = sum(count for frames, count in stacks if isIdle(frames))
    total = sum(count for _, count in busy)
    if not total:
        raise SystemExit("py-spy took no samples")
    print(
        f"nova-all, {options.size} instances to running in {seconds:.1f} s "
        f"(RunInstances answered in {answered:.2f} s); {total} samples of work at "
        f"{options.rate}/s per thread (and {idle} of threads waiting, left out)"
    )
    table("innermost frames (where the time went), share of samples:", innermost(busy), total, options.top)
    ours = innermostOurs(busy)
    table("call sites in nova (the innermost frame of Nova's code), share of samples:", ours, total, options.top)
    table("the same by function:", byFunction(ours), total, options.top)
    site, count = next((site, count) for site, count in ours.most_common() if site != OTHER)
    share = 100.0 * count / total
    verdict = "above" if share > options.threshold else "within"
    print(f"largest call site in nova: {share:.2f}% ({site}), {verdict} the {options.threshold:g}% threshold")
    outside = innermost([(frames, n) for frames, n in busy if not any("(nova/" in f for f in frames)])
    if outside:
        frame, n = outside.most_common(1)[0]
        print(
            f"samples with no frame of nova: {100.0 * ours[OTHER] / total:.2f}%, "
            f"the largest innermost frame of them {100.0 * n / total:.2f}% ({frame})"
        )

if __name__ == "__main__":
    main()
