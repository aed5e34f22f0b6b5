"""
Schema patch 19: C{project_usage} and C{host_usage}, what the instances
that are neither terminated nor deleted use, per project (the quotas'
usage) and per host (the simple scheduler's): how many there are, their
virtual CPUs and their memory in MiB.  Every change of an instance adds
its difference in the same transaction (L{nova.db.instances}), so a
launch reads one row instead of summing every instance.  The patch fills
both from the instances that exist.
"""

from nova.db.schema import execute

_LIVE = "NOT deleted AND state <> 'terminated'"


def apply(store):
    for table, key in (("project_usage", "project_id"), ("host_usage", "host")):
        execute(
            store,
            f"""
            CREATE TABLE {table} (
                {key} VARCHAR(255) NOT NULL PRIMARY KEY,
                instances INTEGER NOT NULL,
                cores INTEGER NOT NULL,
                ram INTEGER NOT NULL
            ) {{table}}
            """,
        )
        execute(
            store,
            f"""
            INSERT INTO {table} ({key}, instances, cores, ram)
            SELECT {key}, COUNT(*), SUM(vcpus), SUM(memory_mb) FROM instances
            WHERE {_LIVE} AND {key} IS NOT NULL GROUP BY {key}
            """,
        )
