"""
Storm classes, one per table.  Private to L{nova.db}: nothing outside this
package imports them; components return L{nova.db.records} instead.
"""

from storm.databases.postgres import compile as postgresCompile
from storm.locals import Bool, DateTime, Int, Unicode

# "binary" is a reserved word in PostgreSQL that Storm's PostgreSQL compiler
# does not quote by itself (its MySQL compiler does).
postgresCompile.add_reserved_words(["binary"])


class Service:
    __storm_table__ = "services"
    id = Int(primary=True)
    host = Unicode()
    binary = Unicode()
    topic = Unicode()
    availability_zone = Unicode()
    report_count = Int()
    disabled = Bool()
    created_at = DateTime()
    updated_at = DateTime()
    lost = Unicode()


class Instance:
    __storm_table__ = "instances"
    id = Int(primary=True)
    uuid = Unicode()
    reservation_id = Unicode()
    project_id = Unicode()
    user_id = Unicode()
    image_id = Unicode()
    kernel_id = Unicode()
    ramdisk_id = Unicode()
    instance_type = Unicode()
    vcpus = Int()
    memory_mb = Int()
    local_gb = Int()
    launch_index = Int()
    hostname = Unicode()
    display_name = Unicode()
    key_name = Unicode()
    key_data = Unicode()
    user_data = Unicode()
    host = Unicode()
    availability_zone = Unicode()
    state = Unicode()
    power_state = Int()
    state_description = Unicode()
    mac_address = Unicode()
    fixed_ip = Unicode()
    security_groups = Unicode()
    disable_api_termination = Bool()
    shutdown_behavior = Unicode()
    locked = Bool()
    launched_at = DateTime()
    terminated_at = DateTime()
    deleted = Bool()
    created_at = DateTime()
    updated_at = DateTime()
    old_instance_type = Unicode()
    display_description = Unicode()
    config_drive = Bool()
    personality = Unicode()


class ProjectUsage:
    __storm_table__ = "project_usage"
    project_id = Unicode(primary=True)
    instances = Int()
    cores = Int()
    ram = Int()


class HostUsage:
    __storm_table__ = "host_usage"
    host = Unicode(primary=True)
    instances = Int()
    cores = Int()
    ram = Int()


class InstanceType:
    __storm_table__ = "instance_types"
    id = Int(primary=True)
    name = Unicode()
    memory_mb = Int()
    vcpus = Int()
    local_gb = Int()
    flavorid = Int()
    swap = Int()
    rxtx_quota = Int()
    rxtx_cap = Int()
    deleted = Bool()
    created_at = DateTime()


class Reservation:
    __storm_table__ = "reservations"
    id = Int(primary=True)
    reservation_id = Unicode()
    project_id = Unicode()
    user_id = Unicode()
    client_token = Unicode()
    request_hash = Unicode()
    created_at = DateTime()
