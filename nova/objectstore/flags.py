# -*- test-case-name: tests.objectstore.test_tap -*-
"""
Flags of nova-objectstore.
"""

import os

from nova.config import Computed, Flag

OPTIONS = (
    Flag("s3_listen", "str", "0.0.0.0", "Address the object store listens on."),
    Flag("s3_port", "int", 3333, "Port of the S3-compatible object store.", minimum=0),
    Flag("s3_host", "str", "127.0.0.1", "Host name or address clients and compute hosts use to reach the object store."),
    Flag(
        "buckets_path",
        "path",
        Computed(lambda v: os.path.join(v["state_path"], "buckets"), "$state_path/buckets"),
        "Directory where the object store keeps buckets and objects.",
    ),
    Flag(
        "s3_store",
        "str",
        "filesystem",
        "Where the object store keeps objects: 'filesystem' (under "
        "--buckets_path) or 'memory' (lost when the process ends).",
        choices=("filesystem", "memory"),
    ),
    Flag(
        "s3_virtual_host_suffix",
        "str",
        "",
        "Domain under which <bucket>.<domain> in the Host header names a "
        "bucket (virtual-hosted-style requests).  Empty: --s3_host when it is "
        "a host name.  <bucket>.localhost always works; a Host that is an IP "
        "address, localhost or --s3_host itself is path-style.",
    ),
    Flag(
        "s3_cname_buckets",
        "bool",
        False,
        "Take any other Host name as the name of a bucket (for buckets named "
        "after a DNS name that points at the object store).",
    ),
    Flag(
        "s3_fsync",
        "bool",
        True,
        "Sync object data and metadata to disk before a write is acknowledged.",
    ),
    Flag(
        "s3_threads",
        "int",
        10,
        "Threads doing the object store's file work.",
        minimum=1,
    ),
    Flag(
        "s3_idle_timeout",
        "int",
        300,
        "Seconds after which an idle client connection is closed.",
        minimum=1,
    ),
)
