#!/usr/bin/env python
# -*- test-case-name: tests.objectstore.test_clients -*-
"""
Benchmark of nova-objectstore through the S3 API with boto3.

Measures, on loopback only and with bounded loops:

  - PUT and GET throughput (MB/s) of one large object (1 GiB unless
    C{--size} says otherwise) with a single streaming put_object /
    get_object, and with boto3's managed upload_file / download_file
    (multipart, concurrent ranged GETs);
  - small-object (4 KiB) PUT and GET operations per second, one client;

and prints each as a ratio to a plain file copy on the same disk and to
moto's S3 server run in the same session.  Both servers run in their own
processes; the peak resident memory of nova-objectstore is reported, to
show that large objects stream.

    .venv/bin/python benchmarks/objectstore.py [--size MiB] [--small N] [--no-moto]
"""

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1024 * 1024
ACCESS, SECRET = "AKBENCH", "bench-secret"


def serve(port, root, fsync):
    """
    Run nova-objectstore (filesystem backend) in this process.
    """
    sys.path.insert(0, ROOT)
    from twisted.internet import reactor
    from twisted.python.threadpool import ThreadPool

    from nova.objectstore.auth import StaticKey, StaticKeyAuthenticator
    from nova.objectstore.filesystem import FilesystemObjectStore
    from nova.objectstore.resource import S3Resource, makeSite

    pool = ThreadPool(minthreads=2, maxthreads=10)
    pool.start()
    store = FilesystemObjectStore(root, reactor, pool, fsync=fsync)
    auth = StaticKeyAuthenticator({ACCESS: StaticKey(SECRET, "bench", "bench")}, reactor)
    site = makeSite(S3Resource(store, auth), stagingDirectory=store.stagingDirectory)
    listening = reactor.listenTCP(port, site, interface="127.0.0.1")
    print(listening.getHost().port, flush=True)
    reactor.addSystemEventTrigger("after", "shutdown", pool.stop)
    reactor.run()


def freePort():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitForPort(port, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def peakRSS(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def runS3(name, endpoint, bigPath, size, smallCount, work):
    """
    @return: a L{dict} of measurements for one server.
    """
    from boto3.s3.transfer import TransferConfig

    s3 = client(endpoint)
    s3.create_bucket(Bucket="bench")
    results = {}

    def putBig():
        with open(bigPath, "rb") as f:
            s3.put_object(Bucket="bench", Key="big", Body=f)

    results["put"] = size / timed(putBig) / MiB

    def getBig():
        body = s3.get_object(Bucket="bench", Key="big")["Body"]
        md5 = hashlib.md5()
        while True:
            chunk = body.read(MiB)
            if not chunk:
                break
            md5.update(chunk)
        results["getOK"] = md5.hexdigest()

    results["get"] = size / timed(getBig) / MiB
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    results["upload_file"] = size / timed(lambda: s3.upload_file(bigPath, "bench", "managed", Config=config)) / MiB
    target = os.path.join(work, name + ".down")
    results["download_file"] = size / timed(lambda: s3.download_file("bench", "managed", target, Config=config)) / MiB
    os.unlink(target)
    payload = os.urandom(4096)

    def putSmall():
        for i in range(smallCount):
            s3.put_object(Bucket="bench", Key=f"small/{i:06d}", Body=payload)

    def getSmall():
        for i in range(smallCount):
            s3.get_object(Bucket="bench", Key=f"small/{i:06d}")["Body"].read()

    results["put_small"] = smallCount / timed(putSmall)
    results["get_small"] = smallCount / timed(getSmall)
    s3.close()
    return results


def runFile(bigPath, size, smallCount, work):
    """
    The same work as plain file operations on the same disk.
    """
    results = {}
    copyPath = os.path.join(work, "copy")

    def copy():
        with open(bigPath, "rb") as source, open(copyPath, "wb") as target:
            while True:
                chunk = source.read(MiB)
                if not chunk:
                    break
                target.write(chunk)
            target.flush()
            os.fsync(target.fileno())

    results["put"] = size / timed(copy) / MiB

    def read():
        with open(copyPath, "rb") as f:
            md5 = hashlib.md5()
            while True:
                chunk = f.read(MiB)
                if not chunk:
                    break
                md5.update(chunk)

    results["get"] = size / timed(read) / MiB
    results["upload_file"], results["download_file"] = results["put"], results["get"]
    os.unlink(copyPath)
    smallDir = os.path.join(work, "small")
    os.mkdir(smallDir)
    payload = os.urandom(4096)

    def putSmall():
        for i in range(smallCount):
            with open(os.path.join(smallDir, f"{i:06d}"), "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())

    def getSmall():
        for i in range(smallCount):
            with open(os.path.join(smallDir, f"{i:06d}"), "rb") as f:
                f.read()

    results["put_small"] = smallCount / timed(putSmall)
    results["get_small"] = smallCount / timed(getSmall)
    shutil.rmtree(smallDir)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="large object size in MiB (default 1024)")
    parser.add_argument("--small", type=int, default=300, help="number of 4 KiB objects (default 300)")
    parser.add_argument("--dir", default=None, help="working directory (default: a temporary one under /tmp)")
    parser.add_argument("--no-moto", action="store_true", help="skip moto")
    parser.add_argument("--no-fsync", action="store_true", help="run nova-objectstore with --nos3_fsync")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], not args.no_fsync)
        return
    work = tempfile.mkdtemp(prefix="nova-s3-bench-", dir=args.dir)
    processes = []
    try:
        size = args.size * MiB
        bigPath = os.path.join(work, "big")
        with open(bigPath, "wb") as f:
            block = os.urandom(MiB)
            for _ in range(args.size):
                f.write(block)
        table = {"file": runFile(bigPath, size, args.small, work)}

        port = freePort()
        command = [sys.executable, os.path.abspath(__file__), "--serve", str(port), os.path.join(work, "buckets")]
        if args.no_fsync:
            command.append("--no-fsync")
        nova = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        processes.append(nova)
        waitForPort(port, nova)
        table["nova"] = runS3("nova", f"http://127.0.0.1:{port}", bigPath, size, args.small, work)
        novaRSS = peakRSS(nova.pid)
        shutil.rmtree(os.path.join(work, "buckets"), ignore_errors=True)

        if not args.no_moto:
            port = freePort()
            moto = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(moto)
            waitForPort(port, moto)
            table["moto"] = runS3("moto", f"http://127.0.0.1:{port}", bigPath, size, args.small, work)
            motoRSS = peakRSS(moto.pid)
        report(table, args, novaRSS, motoRSS if not args.no_moto else None)
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


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
    header = f"{'measure':<44} {'nova':>9} {'file':>9} {'nova/file':>10}"
    if hasMoto:
        header += f" {'moto':>9} {'nova/moto':>10}"
    print(header)
    print("-" * len(header))
    for key, label in rows:
        nova, base = table["nova"][key], table["file"][key]
        line = f"{label:<44} {nova:>9.1f} {base:>9.1f} {nova / base:>10.2f}"
        if hasMoto:
            moto = table["moto"][key]
            line += f" {moto:>9.1f} {nova / moto:>10.2f}"
        print(line)
    print()
    print("file: PUT = copy of the file with fsync, GET = read of the file (page cache warm);")
    print("      small = write+fsync / read of one 4 KiB file each.")
    print(f"nova-objectstore fsync: {'off' if args.no_fsync else 'on'}; peak RSS of nova-objectstore: {novaRSS} MiB", end="")
    print(f"; of moto: {motoRSS} MiB" if motoRSS is not None else "")


if __name__ == "__main__":
    main()
