#!/usr/bin/env python
# -*- test-case-name: tests.integration.test_libvirt_guest -*-
"""
Benchmark of guest boots through the libvirt driver.

Boots the test guest of C{tools/build-test-guest.sh} (a Debian kernel and
a busybox initramfs) and measures the seconds from the call of
C{LibvirtDriver.spawn} to the guest's banner (C{NOVA TEST GUEST}) in its
console file, for 1 and for 4 instances spawned at once.  Beside it, in
the same run, the same kernel, initramfs, command line, memory and disk
booted by a bare C{qemu-system-x86_64 -accel tcg -nographic -serial
file:...}, killed once the banner is there; the ratio of the two is the
cost of Nova and libvirt.  Images are cached before timing (a cold cache
adds one copy of each image).

    .venv/bin/python benchmarks/boot.py [--repeat N] [--accel tcg|kvm]

Needs libvirtd (C{make services}) and runs as root; guests are named
C{novabench-*} and destroyed at the end.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from twisted.internet import defer, protocol, task  # noqa: E402
from twisted.internet.error import ProcessExitedAlready  # noqa: E402
from twisted.internet.threads import deferToThread  # noqa: E402

from nova.util.process import ReactorProcessRunner  # noqa: E402
from nova.virt.errors import GuestNotFound  # noqa: E402
from nova.virt.images import DirectoryImageFetcher  # noqa: E402
from nova.virt.interfaces import InstanceSpec  # noqa: E402

BANNER = "NOVA TEST GUEST"
IMAGES = {"ami-be000001": "root.img", "aki-be000002": "vmlinuz", "ari-be000003": "initrd.img"}
MEMORY_MB = 192
RUN = uuid.uuid4().hex[:6]


def buildGuest():
    result = subprocess.run(
        ["bash", os.path.join(ROOT, "tools", "build-test-guest.sh")],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def consoleHas(path, marker=BANNER):
    try:
        with open(path, "rb") as f:
            return marker.encode() in f.read()
    except FileNotFoundError:
        return False


@defer.inlineCallbacks
def waitFile(reactor, path, timeout=180.0, marker=BANNER):
    start = reactor.seconds()
    while not consoleHas(path, marker):
        if reactor.seconds() - start > timeout:
            raise RuntimeError(f"no {marker!r} in {path} after {timeout:g} s")
        yield task.deferLater(reactor, 0.02, lambda: None)
    return reactor.seconds()


class _Ended(protocol.ProcessProtocol):
    def __init__(self):
        self.ended = defer.Deferred()

    def processEnded(self, reason):
        self.ended.callback(None)


@defer.inlineCallbacks
def bareBoot(reactor, guest, cmdline, scratch, index, accel):
    """
    Boot the guest with a bare QEMU.

    @return: seconds from the process start to the banner.
    """
    console = os.path.join(scratch, f"bare-{index}.log")
    disk = os.path.join(scratch, f"bare-{index}.qcow2")
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
         os.path.join(guest, "root.img"), disk],
        check=True,
    )
    argv = [
        "qemu-system-x86_64", "-accel", accel, "-m", str(MEMORY_MB), "-nographic",
        "-monitor", "none", "-serial", f"file:{console}", "-nic", "none",
        "-kernel", os.path.join(guest, "vmlinuz"), "-initrd", os.path.join(guest, "initrd.img"),
        "-append", cmdline, "-drive", f"file={disk},format=qcow2,if=virtio",
    ]
    ended = _Ended()
    start = reactor.seconds()
    transport = reactor.spawnProcess(ended, shutil.which(argv[0]), argv, env=os.environ.copy())
    try:
        seen = yield waitFile(reactor, console)
    finally:
        try:
            transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass
        yield ended.ended
    return seen - start


@defer.inlineCallbacks
def driverBoot(reactor, driver, instancesPath, index):
    """
    Spawn the guest through the driver.

    @return: C{(seconds to the banner, seconds until spawn returned)}.
    """
    name = f"novabench-{RUN}-{index:03d}"
    spec = InstanceSpec(
        name=name, vcpus=1, memoryMb=MEMORY_MB, localGb=0,
        imageId="ami-be000001", kernelId="aki-be000002", ramdiskId="ari-be000003",
    )
    start = reactor.seconds()
    try:
        yield driver.spawn(spec, None)
        spawned = reactor.seconds()
        seen = yield waitFile(reactor, os.path.join(instancesPath, name, "console.log"))
    finally:
        yield driver.destroy(name).addErrback(lambda f: f.trap(GuestNotFound))
    return seen - start, spawned - start


def summary(values):
    return statistics.median(values)


@defer.inlineCallbacks
def main(reactor, options):
    from nova.virt.libvirt import LibvirtDriver

    guest = yield deferToThread(buildGuest)
    with open(os.path.join(guest, "cmdline")) as f:
        cmdline = f.read().strip()
    scratch = tempfile.mkdtemp(prefix="nova-boot-bench-")
    os.chmod(scratch, 0o755)
    images = os.path.join(scratch, "images")
    os.mkdir(images)
    for imageId, fileName in IMAGES.items():
        os.symlink(os.path.join(guest, fileName), os.path.join(images, imageId))
    instancesPath = os.path.join(scratch, "instances")
    driver = LibvirtDriver(
        instancesPath, reactor, DirectoryImageFetcher(images, deferToThread),
        libvirtType="kvm" if options.accel == "kvm" else "qemu",
        uri="qemu:///system", runner=ReactorProcessRunner(reactor), cmdline=cmdline,
        pollInterval=0.05,
    )
    try:
        yield driver.initHost("bench")
        for imageId in IMAGES:
            yield driver.images.fetch(None, imageId)
        counter = iter(range(1000))
        results = []
        for concurrency in (1, 4):
            nova, spawnCalls, bare = [], [], []
            for _ in range(options.repeat):
                booted = yield defer.gatherResults(
                    [driverBoot(reactor, driver, instancesPath, next(counter))
                     for _ in range(concurrency)],
                    consumeErrors=True,
                )
                nova.append(max(b[0] for b in booted))
                spawnCalls.append(max(b[1] for b in booted))
                times = yield defer.gatherResults(
                    [bareBoot(reactor, guest, cmdline, scratch, next(counter), options.accel)
                     for _ in range(concurrency)],
                    consumeErrors=True,
                )
                bare.append(max(times))
            results.append((concurrency, summary(nova), summary(spawnCalls), summary(bare)))
        print(f"guest: {guest} ({cmdline}), {MEMORY_MB} MiB, accel {options.accel}, "
              f"median of {options.repeat} runs; times to the last banner of the batch")
        print(f"{'instances':>9} {'nova spawn->banner':>19} {'spawn() returned':>17} "
              f"{'bare qemu->banner':>18} {'ratio':>6}")
        for concurrency, nova, spawned, bare in results:
            print(f"{concurrency:>9} {nova:>18.2f}s {spawned:>16.2f}s {bare:>17.2f}s "
                  f"{nova / bare:>6.2f}")
    finally:
        yield driver.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--accel", choices=("tcg", "kvm"), default="tcg",
                        help="QEMU accelerator (kvm needs a usable /dev/kvm)")
    options = parser.parse_args()
    task.react(lambda reactor: main(reactor, options))
