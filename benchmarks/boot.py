#!/usr/bin/env python
# -*- test-case-name: tests.integration.test_libvirt_ec2 -*-
"""
Guest boots as users get them: seconds from RunInstances to the test
guest's banner on its console, beside a bare QEMU booting the same domain.

nova-all runs as its own process, started as users start it (C{nova-manage
db sync}, C{network create}, C{user create}, C{project create}, then
C{twistd -n nova-all}) with C{--connection_type=libvirt
--libvirt_type=qemu} (C{--accel kvm}: C{--libvirt_type=kvm}) on
C{qemu:///system}.  The test guest of C{make guest} (C{tools/build-test-
guest.sh}: a Debian kernel, a busybox initramfs, a 1 MiB disk) is uploaded
through the S3 API and registered with RegisterImage (kernel, ramdisk,
then the machine image naming them).  Each boot is one RunInstances of
one m1.tiny instance, timed until the banner (C{NOVA TEST GUEST}) is in
the console file libvirt writes (polled every 20 ms) and until
GetConsoleOutput shows it (polled every 250 ms); then the instance is
terminated.  The first boot fetches the images into the host's cache and
is reported on its own; the others (C{--repeat}) give the median.

The baseline is a bare C{qemu-system-x86_64} started with the command
line libvirt ran for the first instance's domain (its QEMU process's
C{/proc/<pid>/cmdline}; with C{--argv-source xml}, C{virsh dumpxml} then
C{virsh domxml-to-native qemu-argv}, which differs in the C{-cpu} flags
here; the run prints any difference): the same machine, CPU, memory,
devices, kernel, initrd, command line and disk (a new qcow2 overlay on the
same cached image), with only what libvirt passes as file descriptors
replaced (monitor socket, serial console to a file, a tap device of its
own, the master key file) and not started paused (C{-S}).  It is timed
from the process start to the banner in its console file, then killed.
One bare boot follows each nova boot.

    .venv/bin/python benchmarks/boot.py [--repeat N] [--accel tcg|kvm] [--show-argv]
        [--argv-source live|xml]

Needs root (it makes a bridge for the instances, removed at the end),
libvirtd answering on qemu:///system, qemu-system-x86_64 and qemu-img, and
the built test guest (C{make guest}).  Without libvirtd or the guest it
says what is missing and exits 0 without measuring.  Domains are named
C{nb<run>-*} and removed at the end.
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud  # noqa: E402

URI = "qemu:///system"
BANNER = "NOVA TEST GUEST"
RUN = uuid.uuid4().hex[:6]
PREFIX = f"nb{RUN}-"


def guestDirectory():
    """
    Where C{make guest} puts the test guest (the rules of
    C{tools/build-test-guest.sh}).
    """
    if os.environ.get("NOVA_TEST_GUEST_DIR"):
        return os.environ["NOVA_TEST_GUEST_DIR"]
    if os.environ.get("NOVA_INFRA_DIR"):
        return os.path.join(os.environ["NOVA_INFRA_DIR"], "test-guest")
    return os.path.join(cloud.ROOT, "var", "test-guest")


def missing(guest):
    """
    @return: what this benchmark needs and does not find, as text lines.
    """
    absent = []
    if not shutil.which("virsh"):
        absent.append("virsh (libvirt-clients; make services)")
    else:
        try:
            answer = subprocess.run(
                ["virsh", "-c", URI, "version"], capture_output=True, text=True, timeout=30
            )
            if answer.returncode:
                absent.append(f"libvirtd on {URI}: {answer.stderr.strip()} (make services)")
        except subprocess.TimeoutExpired:
            absent.append(f"libvirtd on {URI}: virsh version timed out")
    for tool in ("qemu-system-x86_64", "qemu-img", "ip"):
        if not shutil.which(tool):
            absent.append(f"{tool} (make services)")
    for name in ("vmlinuz", "initrd.img", "root.img", "cmdline"):
        if not os.path.isfile(os.path.join(guest, name)):
            absent.append(f"the test guest's {name} in {guest} (make guest)")
    if os.geteuid() != 0:
        absent.append("root (to make a bridge for the instances)")
    return absent


def run(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=120)


def banner(path):
    try:
        with open(path, "rb") as f:
            return BANNER.encode() in f.read()
    except FileNotFoundError:
        return False


def waitBanner(path, timeout=300, process=None):
    """
    @return: the L{time.monotonic} at which C{path} first held the banner
        (polled every 20 ms).
    """
    deadline = time.monotonic() + timeout
    while not banner(path):
        if process is not None and process.poll() is not None:
            raise SystemExit(f"qemu exited with status {process.returncode} before the banner")
        if time.monotonic() > deadline:
            raise SystemExit(f"no {BANNER!r} in {path} after {timeout} s")
        time.sleep(0.02)
    return time.monotonic()


def processStart(pid):
    """
    @return: the L{time.monotonic} at which process C{pid} started (from
        C{/proc}, to 10 ms), or L{None}.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return time.monotonic() - (time.clock_gettime(time.CLOCK_BOOTTIME) - started)


def domainPid(name):
    try:
        with open(f"/run/libvirt/qemu/{name}.pid") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class ApiWatch(threading.Thread):
    """
    Poll GetConsoleOutput every 250 ms until it shows the banner.

    @ivar seen: the L{time.monotonic} of the answer that showed it.
    """

    def __init__(self, ec2, instanceId, timeout=300):
        threading.Thread.__init__(self, daemon=True)
        self.ec2, self.instanceId, self.timeout = ec2, instanceId, timeout
        self.seen = self.error = None

    def run(self):
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                polled = time.monotonic()
                output = self.ec2.get_console_output(InstanceId=self.instanceId).get("Output", "")
                if BANNER in output:
                    self.seen = time.monotonic()
                    return
                time.sleep(max(0.0, 0.25 - (time.monotonic() - polled)))
        except Exception as e:
            self.error = e


def bootThroughNova(nova, ec2, machineId, instancesPath, known):
    """
    One RunInstances of one instance, timed to its banner.

    @param known: the instance directories seen already (updated).
    @return: a L{dict}: C{banner} (s, console file), C{api} (s,
        GetConsoleOutput), C{qemu} (s from the QEMU process start to the
        banner), C{name} (the domain), C{instanceId}, C{directory}.
    """
    started = time.monotonic()
    instanceId = ec2.run_instances(
        ImageId=machineId, MinCount=1, MaxCount=1, InstanceType="m1.tiny"
    )["Instances"][0]["InstanceId"]
    watch = ApiWatch(ec2, instanceId)
    watch.start()

    def newDirectory():
        if os.path.isdir(instancesPath):
            fresh = set(os.listdir(instancesPath)) - known - {"_base"}
            return sorted(name for name in fresh if name.startswith(PREFIX))
        return []

    cloud.waitUntil(lambda: newDirectory(), 300, "the instance's directory", step=0.02)
    name = newDirectory()[0]
    known.add(name)
    directory = os.path.join(instancesPath, name)
    seen = waitBanner(os.path.join(directory, "console.log"))
    pid = domainPid(name)
    qemuStarted = processStart(pid) if pid else None
    watch.join(300)
    if watch.error is not None or watch.seen is None:
        raise SystemExit(f"GetConsoleOutput never showed the banner: {watch.error}")
    return {
        "banner": seen - started,
        "api": watch.seen - started,
        "qemu": seen - qemuStarted if qemuStarted else None,
        "name": name,
        "instanceId": instanceId,
        "directory": directory,
    }


def terminate(ec2, instanceId, directory):
    ec2.terminate_instances(InstanceIds=[instanceId])

    def gone():
        states = cloud.countStates(ec2, [instanceId])
        return set(states) <= {"terminated"} and not os.path.exists(directory)

    cloud.waitUntil(gone, 120, f"{instanceId} to terminate", step=0.2)


# -- the bare QEMU ---------------------------------------------------------


def liveArgv(name):
    """
    The command line of the QEMU process libvirt runs for domain C{name}
    (C{/proc/<pid>/cmdline}).

    @return: C{argv}, or L{None} if the process is not found.
    """
    pid = domainPid(name)
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [word.decode() for word in f.read().split(b"\0") if word]
    except OSError:
        return None


def nativeArgv(name, scratch):
    """
    The QEMU command line libvirt makes of domain C{name}'s XML (C{virsh
    dumpxml}, then C{virsh domxml-to-native qemu-argv}).

    @return: C{(environment, argv)}.
    """
    xml = os.path.join(scratch, "domain.xml")
    with open(xml, "w") as f:
        f.write(run("virsh", "-c", URI, "dumpxml", name).stdout)
    text = run("virsh", "-c", URI, "domxml-to-native", "--format", "qemu-argv", "--xml", xml).stdout
    words = shlex.split(text.replace("\\\n", " "))
    environment = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        key, value = words.pop(0).split("=", 1)
        environment[key] = value
    return environment, words


def _option(value):
    """
    Parse a QEMU option value: JSON (C{{...}}) or C{key=value,...}.

    @return: C{(dict, is JSON)}; a bare leading word becomes C{""}.
    """
    if value.startswith("{"):
        return json.loads(value), True
    result = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if sep:
            result[key] = val
        else:
            result[""] = key
    return result, False


def _unparse(options, isJson):
    if isJson:
        return json.dumps(options, separators=(",", ":"))
    parts = []
    for key, val in options.items():
        parts.append(val if key == "" else f"{key}={val}")
    return ",".join(parts)


def bareArgv(argv, files, scratch, index):
    """
    Rewrite libvirt's command line for a QEMU of our own: the same
    options, but the monitor on a socket, the serial console on a file,
    a tap device of its own, our disk overlay, a copy of the kernel and
    ramdisk, and not paused.

    @param files: C{{"disk": path, "base": path, "kernel": path,
        "initrd": path}} of the instance, and their replacements under
        C{"new-..."}.
    @return: C{(argv, console path, changes)}: C{changes} lists what was
        replaced, for C{--show-argv}.
    """
    console = os.path.join(scratch, f"bare-{index}.log")
    out, changes = [], []
    words = list(argv)
    if not os.path.basename(words[0]).startswith("qemu-system"):
        raise SystemExit(f"unexpected command from domxml-to-native: {words[0]}")
    out.append(shutil.which(os.path.basename(words[0])) or words[0])
    i = 1
    while i < len(words):
        flag = words[i]
        value = words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("-") else None
        if flag.startswith("-") and value is None and i + 1 < len(words) and words[i + 1].startswith("{"):
            value = words[i + 1]
        step = 2 if value is not None else 1
        if flag == "-S":
            changes.append("-S dropped (libvirt starts the domain paused, then continues it)")
        elif flag == "-add-fd":
            changes.append(f"-add-fd {value} dropped (a descriptor libvirt passes)")
        elif flag == "-name":
            out += [flag, value.replace(PREFIX, f"bare{RUN}-", 1)]
        elif flag == "-object" and value and "secret" in value:
            options, isJson = _option(value)
            secret = os.path.join(scratch, "master-key.aes")
            if not os.path.exists(secret):
                with open(secret, "wb") as f:
                    f.write(os.urandom(32))
            options["file"] = secret
            out += [flag, _unparse(options, isJson)]
        elif flag == "-chardev" and value:
            options, isJson = _option(value)
            kind = options.get("backend", options.get(""))
            ident = options.get("id")
            if ident == "charmonitor" or kind == "socket":
                new = {"": "socket", "id": ident, "path": os.path.join(scratch, f"mon-{index}.sock"),
                       "server": "on", "wait": "off"}
                out += [flag, _unparse(new, False)]
                changes.append(f"-chardev {value} -> {out[-1]}")
            elif kind == "file" or "serial" in (ident or ""):
                new = {"": "file", "id": ident, "path": console}
                out += [flag, _unparse(new, False)]
                changes.append(f"-chardev {value} -> {out[-1]}")
            elif kind == "pty":
                new = {"": "file", "id": ident, "path": console}
                out += [flag, _unparse(new, False)]
                changes.append(f"-chardev {value} -> {out[-1]}")
            else:
                out += [flag, value]
        elif flag == "-netdev" and value:
            options, isJson = _option(value)
            ident = options.get("id")
            tap = f"nbt{RUN}{index % 100:02d}"
            if isJson:
                new = {"type": "tap", "id": ident, "ifname": tap, "script": "no", "downscript": "no"}
            else:
                new = {"": "tap", "id": ident, "ifname": tap, "script": "no", "downscript": "no"}
            out += [flag, _unparse(new, isJson)]
            changes.append(f"-netdev {value} -> {out[-1]}")
        elif flag in ("-kernel", "-initrd"):
            key = "kernel" if flag == "-kernel" else "initrd"
            out += [flag, files["new-" + key]]
            changes.append(f"{flag} {value} -> {files['new-' + key]}")
        elif flag in ("-blockdev", "-drive") and value:
            options, isJson = _option(value)
            field = "filename" if "filename" in options else "file"
            if options.get(field) == files["disk"]:
                options[field] = files["new-disk"].format(index=index)
                changes.append(f"{flag}: {files['disk']} -> {options[field]}")
            out += [flag, _unparse(options, isJson)]
        else:
            out += [flag] + ([value] if value is not None else [])
        i += step
    return out, console, changes


def bareBoot(argv, environment, console, process=None):
    """
    Start the bare QEMU and time it to the banner; kill it.

    @return: seconds from the process start to the banner.
    """
    if os.path.exists(console):
        os.unlink(console)
    env = dict(os.environ)
    env.update(environment)
    started = time.monotonic()
    qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    try:
        try:
            seen = waitBanner(console, process=qemu)
        except SystemExit:
            if qemu.poll() is not None:
                sys.stderr.write(qemu.stderr.read().decode("utf-8", "replace"))
            raise
    finally:
        if qemu.poll() is None:
            qemu.kill()
        qemu.wait()
        qemu.stderr.close()
    return seen - started


# -- the run ---------------------------------------------------------------


def undefineLeftovers():
    names = run("virsh", "-c", URI, "list", "--all", "--name", check=False).stdout.split()
    for name in names:
        if name.startswith(PREFIX):
            run("virsh", "-c", URI, "destroy", name, check=False)
            run("virsh", "-c", URI, "undefine", name, "--managed-save", check=False)


def measure(args, guest, work):
    with open(os.path.join(guest, "cmdline")) as f:
        cmdline = f.read().strip()
    bridge = f"nbb{RUN}"
    run("ip", "link", "add", "name", bridge, "type", "bridge")
    try:
        run("ip", "link", "set", bridge, "up")
        flags = [
            "--connection_type=libvirt",
            f"--libvirt_type={'kvm' if args.accel == 'kvm' else 'qemu'}",
            f"--libvirt_cmdline={cmdline}",
            f"--flat_network_bridge={bridge}",
            f"--instance_name_template={PREFIX}%08x",
        ]
        with cloud.embedded(work, instances=16, flags=flags, name="nova", image=False) as nova:
            return bootAll(args, guest, work, nova)
    finally:
        undefineLeftovers()
        run("ip", "link", "del", bridge, check=False)


def bootAll(args, guest, work, nova):
    ec2 = nova.client()
    kernelId = nova.registerImage(os.path.join(guest, "vmlinuz"), imageType="kernel")
    ramdiskId = nova.registerImage(os.path.join(guest, "initrd.img"), imageType="ramdisk")
    machineId = nova.registerImage(
        os.path.join(guest, "root.img"), imageType="machine", kernelId=kernelId, ramdiskId=ramdiskId
    )
    instancesPath = os.path.join(nova.state, "instances")
    scratch = os.path.join(work, "bare")
    os.makedirs(scratch)
    known = set()
    novaRuns, bareRuns, changes = [], [], []
    bare = None
    for index in range(args.repeat + 1):
        result = bootThroughNova(nova, ec2, machineId, instancesPath, known)
        if bare is None:
            bare = prepareBare(result, machineId, instancesPath, scratch, args)
            changes = bare["changes"]
        terminate(ec2, result["instanceId"], result["directory"])
        novaRuns.append(result)
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", bare["base"],
             bare["files"]["new-disk"].format(index=index)],
            check=True,
        )
        argv, console, _ = bareArgv(bare["argv"], bare["files"], scratch, index)
        bareRuns.append(bareBoot(argv, bare["environment"], console))
        print(
            f"boot {index}: nova RunInstances->banner {result['banner']:.2f} s "
            f"(GetConsoleOutput {result['api']:.2f} s), bare qemu {bareRuns[-1]:.2f} s",
            file=sys.stderr, flush=True,
        )
    return novaRuns, bareRuns, bare, changes


def prepareBare(result, machineId, instancesPath, scratch, args):
    """
    While the first instance runs: its domain's command line (from its
    XML), and copies of its kernel and ramdisk.
    """
    environment, native = nativeArgv(result["name"], scratch)
    live = liveArgv(result["name"])
    if args.argv_source == "live" and live is None:
        raise SystemExit(f"cannot read the command line of {result['name']}'s QEMU process")
    argv = live if args.argv_source == "live" else native
    directory = result["directory"]
    files = {
        "disk": os.path.join(directory, "disk"),
        "new-disk": os.path.join(scratch, "bare-{index}.qcow2"),
    }
    for key, fileName in (("kernel", "kernel"), ("initrd", "ramdisk")):
        source = os.path.join(directory, fileName)
        files["new-" + key] = os.path.join(scratch, fileName)
        shutil.copyfile(source, files["new-" + key])
    base = os.path.join(instancesPath, "_base", machineId)
    if not os.path.exists(base):
        raise SystemExit(f"no cached image {base}")
    _, _, changes = bareArgv(argv, files, scratch, 0)
    differences = []
    if live is not None:
        mine = bareArgv(native, files, scratch, 0)[0]
        theirs = bareArgv(live, files, scratch, 0)[0]
        differences = [f"domxml-to-native only: {w}" for w in mine[1:] if w not in theirs[1:]]
        differences += [f"live process only: {w}" for w in theirs[1:] if w not in mine[1:]]
    return {
        "differences": differences,
        "environment": environment,
        "argv": argv,
        "files": files,
        "base": base,
        "changes": changes,
        "scratch": scratch,
    }


def report(args, guest, novaRuns, bareRuns, bare, changes):
    with open(os.path.join(guest, "cmdline")) as f:
        cmdline = f.read().strip()
    print()
    print(f"test guest {guest} ({cmdline}); m1.tiny; libvirt_type "
          f"{'kvm' if args.accel == 'kvm' else 'qemu'} (accel {args.accel}); one instance at a time")
    print(f"{'boot':<28} {'RunInstances->banner':>21} {'->GetConsoleOutput':>19} "
          f"{'qemu start->banner':>19} {'bare qemu->banner':>18} {'ratio':>6}")

    def row(label, nova, bareSeconds):
        qemu = f"{nova['qemu']:.2f}" if nova["qemu"] is not None else "?"
        print(f"{label:<28} {nova['banner']:>21.2f} {nova['api']:>19.2f} {qemu:>19} "
              f"{bareSeconds:>18.2f} {nova['banner'] / bareSeconds:>6.2f}")

    row("first (image cache cold)", novaRuns[0], bareRuns[0])
    for n, (nova, bareSeconds) in enumerate(zip(novaRuns[1:], bareRuns[1:]), 1):
        row(f"boot {n} (cache warm)", nova, bareSeconds)
    if len(novaRuns) > 1:
        warm = novaRuns[1:]
        median = {
            "banner": statistics.median(r["banner"] for r in warm),
            "api": statistics.median(r["api"] for r in warm),
            "qemu": statistics.median(r["qemu"] for r in warm) if all(r["qemu"] for r in warm) else None,
        }
        row(f"median of {len(warm)} warm", median, statistics.median(bareRuns[1:]))
    print("seconds; ratio = nova RunInstances->banner (console file) / bare qemu process start->banner.")
    print("qemu start->banner: from the start of libvirt's QEMU process (/proc, 10 ms) to the banner.")
    source = {"live": "libvirt's QEMU process (/proc/<pid>/cmdline)",
              "xml": "virsh dumpxml + domxml-to-native qemu-argv"}[args.argv_source]
    print(f"bare qemu: the command line of {source}, with descriptors replaced (--show-argv)")
    if bare["differences"]:
        print("the live command line and domxml-to-native differ in: "
              + "; ".join(bare["differences"]))
    if args.show_argv:
        print()
        print(f"bare qemu command line (from {source}, rewritten):")
        argv, _, _ = bareArgv(bare["argv"], bare["files"], bare["scratch"], 0)
        print(" ".join(shlex.quote(a) for a in argv))
        print("replaced:")
        for change in changes:
            print("  " + change)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="boots after the first (cold) one; the median is of these (3)")
    parser.add_argument("--accel", choices=("tcg", "kvm"), default="tcg",
                        help="tcg: --libvirt_type=qemu; kvm: --libvirt_type=kvm (needs a usable /dev/kvm)")
    parser.add_argument("--show-argv", action="store_true", help="print the bare QEMU command line")
    parser.add_argument("--argv-source", choices=("live", "xml"), default="live",
                        help="the bare QEMU's command line: live (what libvirt ran, from /proc) "
                        "or xml (virsh domxml-to-native of the domain's XML)")
    args = parser.parse_args(argv)
    if not 0 <= args.repeat <= 50:
        parser.error("--repeat must be between 0 and 50")
    cloud.requireClients()
    guest = guestDirectory()
    absent = missing(guest)
    if absent:
        print("boot.py: not measured; missing:")
        for line in absent:
            print("  - " + line)
        return 0
    with cloud.workDirectory("nova-bench-boot-") as work:
        novaRuns, bareRuns, bare, changes = measure(args, guest, work)
        report(args, guest, novaRuns, bareRuns, bare, changes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
