# -*- test-case-name: tests.cache.test_redis -*-
"""
Flags of the read cache.
"""

from nova.config import Flag

OPTIONS = (
    Flag(
        "cache_backend",
        "str",
        "memory",
        "Where credential lookups and failed-login counters are cached: "
        "'memory' (in each process; counters are per process) or 'redis' "
        "(shared by every API process; needed for lockouts to hold across "
        "several nova-api processes).",
        choices=("memory", "redis"),
    ),
    Flag("redis_host", "str", "127.0.0.1", "Host of the Redis server (cache_backend=redis)."),
    Flag("redis_port", "int", 6379, "Port of the Redis server.", minimum=1),
    Flag("redis_db", "int", 0, "Redis database number.", minimum=0),
    Flag(
        "redis_password",
        "str",
        "",
        "Password for Redis AUTH; empty for none.",
    ),
    Flag(
        "redis_prefix",
        "str",
        "nova:",
        "Prefix of every key Nova writes in Redis, so that several clouds "
        "can share one server.",
    ),
    Flag(
        "redis_timeout",
        "float",
        2.0,
        "Seconds to wait for Redis before a cache operation fails (callers "
        "then fall back to the database or directory).",
        minimum=0.1,
    ),
)
