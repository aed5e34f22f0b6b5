#!/usr/bin/env python
# -*- test-case-name: tests.objectstore.test_clients -*-
"""
S3 throughput of nova-objectstore as users get it, with boto3, against a
plain file copy, twisted.web serving the same file, and moto's S3 server.

nova-objectstore runs as its own process, started as users start it
(C{nova-manage db sync}, C{user create}, C{project create}, then C{twistd
-n nova-objectstore}, filesystem backend, fsync on unless C{--no-fsync}),
and is reached on loopback with the user's keys.  Measured, with bounded
loops:

  - PUT and GET of one large object (1 GiB unless C{--size} says
    otherwise): one streaming put_object / get_object, and boto3's managed
    upload_file / download_file (8 MiB parts, four at a time);
  - 4 KiB objects (C{--small} of them): PUT and GET operations per second,
    one client, one at a time.

Baselines, measured in the same run on the same disk:

  - PUT: C{sync}, then C{cp} of the same file and C{sync} (timed: the copy
    and the flush).  C{sync} flushes every file system, so other writers on
    the machine count against the baseline too; small objects: write and
    fsync of one 4 KiB file each;
  - GET: twisted.web's C{static.File} serving the same files over HTTP on
    loopback (in a child process), fetched with the same boto3 client
    calls (get_object, download_file with ranged GETs, small get_object).

moto's server runs in another process.  The table gives MB/s (or
operations/s) and the ratios nova/baseline and nova/moto; the peak
resident memory of nova-objectstore is printed, to show that large
objects stream.

    .venv/bin/python benchmarks/objectstore.py [--size MiB] [--small N] [--no-moto] [--no-fsync]
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud  # noqa: E402

MiB = 1024 * 1024
BUCKET = "bench"


def serveStatic(root, port):
    """
    Serve C{root} with twisted.web's C{static.File} on 127.0.0.1:C{port}
    (the GET baseline; run in a child process).
    """
    from twisted.internet import reactor
    from twisted.web.server import Site
    from twisted.web.static import File

    reactor.listenTCP(port, Site(File(root)), interface="127.0.0.1")
    reactor.run()


def peakRSS(pid):
    """
    @return: the peak resident memory of process C{pid} in MiB, or L{None}.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def staticClient(port):
    """
    @return: a boto3 S3 client of the static server (it ignores the
        signatures boto3 sends).
    """
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="static",
        aws_secret_access_key="static",
        region_name="us-east-1",
        config=cloud.botoConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def transferConfig():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)


def getMeasures(s3, size, smallCount, work, name, bigKey="big", managedKey="managed"):
    """
    The GET side: one get_object of the large object (read and hashed),
    download_file, and C{smallCount} small get_object calls.

    @return: a L{dict} of measurements, with the large object's MD5.
    """
    results = {}

    def getBig():
        body = s3.get_object(Bucket=BUCKET, Key=bigKey)["Body"]
        md5 = hashlib.md5()
        while True:
            chunk = body.read(MiB)
            if not chunk:
                break
            md5.update(chunk)
        results["md5"] = md5.hexdigest()

    results["get"] = size / timed(getBig) / MiB
    target = os.path.join(work, name + ".down")
    results["download_file"] = (
        size / timed(lambda: s3.download_file(BUCKET, managedKey, target, Config=transferConfig())) / MiB
    )
    if os.path.getsize(target) != size:
        raise SystemExit(f"{name}: download_file wrote {os.path.getsize(target)} bytes, not {size}")
    os.unlink(target)

    def getSmall():
        for i in range(smallCount):
            s3.get_object(Bucket=BUCKET, Key=f"small/{i:06d}")["Body"].read()

    results["get_small"] = smallCount / timed(getSmall)
    return results


def runS3(name, s3, bigPath, size, smallCount, work):
    """
    PUT, then GET, on one S3 server.

    @return: a L{dict} of measurements.
    """
    s3.create_bucket(Bucket=BUCKET)
    results = {}

    def putBig():
        with open(bigPath, "rb") as f:
            s3.put_object(Bucket=BUCKET, Key="big", Body=f)

    results["put"] = size / timed(putBig) / MiB
    results["upload_file"] = (
        size / timed(lambda: s3.upload_file(bigPath, BUCKET, "managed", Config=transferConfig())) / MiB
    )
    payload = os.urandom(4096)

    def putSmall():
        for i in range(smallCount):
            s3.put_object(Bucket=BUCKET, Key=f"small/{i:06d}", Body=payload)

    results["put_small"] = smallCount / timed(putSmall)
    results.update(getMeasures(s3, size, smallCount, work, name))
    return results


def runBaseline(bigPath, size, smallCount, work):
    """
    The file baselines: C{sync}; C{cp} + C{sync} timed; small writes with
    fsync; then GETs from twisted.web's static.File serving the copies.
    """
    results = {}
    root = os.path.join(work, "static")
    os.makedirs(os.path.join(root, BUCKET, "small"))
    copyPath = os.path.join(root, BUCKET, "big")
    subprocess.run(["sync"], check=True)

    def copy():
        subprocess.run(["cp", bigPath, copyPath], check=True)
        subprocess.run(["sync"], check=True)

    results["put"] = results["upload_file"] = size / timed(copy) / MiB
    os.link(copyPath, os.path.join(root, BUCKET, "managed"))
    payload = os.urandom(4096)

    def putSmall():
        for i in range(smallCount):
            with open(os.path.join(root, BUCKET, "small", f"{i:06d}"), "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())

    results["put_small"] = smallCount / timed(putSmall)
    port = cloud.freePort()
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve-static", root, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cloud.waitPort(port, server, what="twisted.web static.File")
        results.update(getMeasures(staticClient(port), size, smallCount, work, "static"))
    finally:
        cloud.stopProcess(server, timeout=10)
    shutil.rmtree(root)
    return results


def startObjectstore(work, fsync):
    """
    nova-objectstore as users start it.

    @return: the started L{cloud.Cloud}.
    """
    nova = cloud.Cloud(os.path.join(work, "nova"), ["--host=store"] + ([] if fsync else ["--nos3_fsync"]))
    try:
        nova.prepare(instances=None)
        nova.start("nova-objectstore")
        nova.waitReady({" consumes ": 1})
        cloud.waitPort(nova.s3Port, nova.processes[0][0], what="nova-objectstore")
    except BaseException:
        nova.stop()
        raise
    return nova


def report(table, args, novaRSS, motoRSS):
    rows = [
        ("put", f"PUT {args.size} MiB, one put_object (MB/s)"),
        ("get", f"GET {args.size} MiB, one get_object (MB/s)"),
        ("upload_file", f"upload_file {args.size} MiB, 8 MiB parts x4 (MB/s)"),
        ("download_file", f"download_file {args.size} MiB, 8 MiB ranges x4 (MB/s)"),
        ("put_small", f"PUT 4 KiB x{args.small} (ops/s)"),
        ("get_small", f"GET 4 KiB x{args.small} (ops/s)"),
    ]
    hasMoto = "moto" in table
    header = f"{'measure':<44} {'nova':>9} {'baseline':>9} {'nova/base':>10}"
    if hasMoto:
        header += f" {'moto':>9} {'nova/moto':>10}"
    print(header)
    print("-" * len(header))
    for key, label in rows:
        nova, base = table["nova"][key], table["baseline"][key]
        line = f"{label:<44} {nova:>9.1f} {base:>9.1f} {nova / base:>10.2f}"
        if hasMoto:
            moto = table["moto"][key]
            line += f" {moto:>9.1f} {nova / moto:>10.2f}"
        print(line)
    print()
    print("baseline: PUT and upload_file = sync, then cp of the same file + sync (timed);")
    print("          GET, download_file and small GET = twisted.web static.File over loopback HTTP,")
    print("          the same boto3 calls; small PUT = write + fsync of one 4 KiB file each.")
    print("MiB-based: MB/s here is MiB/s.  Ratios above 1: nova faster.")
    line = (
        f"nova-objectstore fsync: {'off' if args.no_fsync else 'on'}; "
        f"peak RSS of nova-objectstore: {novaRSS} MiB"
    )
    if motoRSS is not None:
        line += f"; of moto: {motoRSS} MiB"
    print(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="large object size in MiB (1024)")
    parser.add_argument("--small", type=int, default=300, help="number of 4 KiB objects (300)")
    parser.add_argument("--dir", default=None, help="working directory (default: a temporary one under /tmp)")
    parser.add_argument("--no-moto", action="store_true", help="skip moto")
    parser.add_argument("--no-fsync", action="store_true", help="run nova-objectstore with --nos3_fsync")
    parser.add_argument("--serve-static", nargs=2, metavar=("ROOT", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_static:
        serveStatic(args.serve_static[0], int(args.serve_static[1]))
        return
    if not 1 <= args.size <= 65536 or not 1 <= args.small <= 100000:
        parser.error("--size must be 1..65536 MiB and --small 1..100000")
    cloud.requireClients()
    if not args.no_moto:
        cloud.requireMoto()
    for tool in ("cp", "sync"):
        if not shutil.which(tool):
            raise cloud.Missing(tool)
    size = args.size * MiB
    with cloud.workDirectory("nova-bench-s3-") as work:
        if args.dir:
            work = os.path.join(os.path.abspath(args.dir), os.path.basename(work))
            os.makedirs(work)
        try:
            bigPath = os.path.join(work, "big")
            with open(bigPath, "wb") as f:
                block = os.urandom(MiB)
                for _ in range(args.size):
                    f.write(block)
            expected = hashlib.md5()
            with open(bigPath, "rb") as f:
                for chunk in iter(lambda: f.read(MiB), b""):
                    expected.update(chunk)
            table = {"baseline": runBaseline(bigPath, size, args.small, work)}

            nova = startObjectstore(work, not args.no_fsync)
            try:
                table["nova"] = runS3("nova", nova.client("s3"), bigPath, size, args.small, work)
                novaRSS = peakRSS(nova.processes[0][0].pid)
            finally:
                nova.stop()
            shutil.rmtree(os.path.join(work, "nova"), ignore_errors=True)

            motoRSS = None
            if not args.no_moto:
                with cloud.Moto() as moto:
                    table["moto"] = runS3("moto", moto.client("s3"), bigPath, size, args.small, work)
                    motoRSS = peakRSS(moto.process.pid)
            for name, results in table.items():
                if results["md5"] != expected.hexdigest():
                    raise SystemExit(f"{name}: get_object returned other bytes than were put")
        finally:
            if args.dir:
                shutil.rmtree(work, ignore_errors=True)
    print()
    report(table, args, novaRSS, motoRSS)


if __name__ == "__main__":
    main()
