# -*- test-case-name: tests.test_legacy -*-
"""
The flags of Nova's Cactus release (2011.2) that this Nova does not define
itself: a Cactus flagfile still starts every daemon.

Each such flag is accepted with a one-line warning that says what replaces
it.  A few are translated into the flag that does their job now
(C{--fake_rabbit} is C{--rpc_backend=local}, C{--ec2_listen_port} is
C{--ec2_port}); the others are ignored.  A flag Cactus never had still
stops the daemon.  Cactus's class paths for drivers and managers are in the
drivers' registries (for example C{nova.volume.driver.ISCSIDriver} in
L{nova.volume.flags.VOLUME_DRIVERS}).
"""

import attr


@attr.s(frozen=True)
class LegacyFlag:
    """
    A Cactus flag and what became of it.

    @ivar name: the flag's name.
    @ivar note: what replaces it, for the warning.
    @ivar translate: L{None}, or called with the flag's value text (L{None}
        for the bare form C{--name}) and returning C{(name, value text)}
        pairs of current flags to set in its place.
    @ivar boolean: whether the flag is a boolean (its bare form takes no
        value from the next argument).
    """

    name = attr.ib()
    note = attr.ib()
    translate = attr.ib(default=None)
    boolean = attr.ib(default=False)

    def warning(self):
        """
        @return: the one-line warning for an occurrence of this flag.
        """
        return f"--{self.name} is a Cactus flag this Nova does not use: {self.note}"


def _fakeRabbit(value):
    if value is None or value.strip().lower() in ("1", "true", "yes", "on", "t", "y"):
        return [("rpc_backend", "local")]
    return []


def _renamed(newName):
    def translate(value):
        return [] if value is None else [(newName, value)]

    return translate


# Groups of flags sharing one note.
_GROUPS = (
    (
        "logging is twistd's: use twistd's --logfile, --syslog and --prefix",
        "verbose logdir logfile use_syslog default_log_levels logging_context_format_string "
        "logging_debug_format_suffix logging_default_format_string logging_exception_prefix",
    ),
    (
        "the RPC topics are fixed (compute, network, volume, scheduler)",
        "compute_topic network_topic volume_topic scheduler_topic console_topic "
        "ajax_console_proxy_topic vncproxy_topic",
    ),
    (
        "each daemon runs its own manager; choose its drivers with --connection_type, "
        "--network_manager, --volume_driver and --scheduler_driver",
        "compute_manager volume_manager scheduler_manager console_manager compute_driver "
        "console_driver",
    ),
    (
        "the database is the one --sql_connection names",
        "db_backend db_driver sqlite_db sqlite_clean_db",
    ),
    (
        "each database thread keeps its connection and a transaction that loses a conflict "
        "runs again (see --sql_max_threads)",
        "sql_idle_timeout sql_max_retries sql_retry_interval",
    ),
    (
        "images are served by nova-objectstore (--s3_host, --s3_port)",
        "image_service glance_host glance_port image_decryption_dir s3_dmz default_image "
        "null_kernel",
    ),
    (
        "fakes are chosen per driver: --connection_type=fake, --network_driver=fake, "
        "--volume_driver=fake",
        "fake_network fake_call fake_tests stub_network stub_compute",
    ),
    ("nothing here takes file locks", "lock_path"),
    ("the APIs are twisted.web resources; there is no paste configuration", "api_paste_config"),
    (
        "RPC runs on the reactor and reconnects with back-off (--rabbit_retry_interval, "
        "--rabbit_max_retry_interval)",
        "rpc_thread_pool_size rabbit_max_retries",
    ),
    (
        "the OpenStack API is served at the fixed paths of docs/openstack.md, over http, "
        "with its extensions built in",
        "osapi_path osapi_scheme osapi_extensions_path",
    ),
    (
        "a rescue boots --rescue_image_id with that image's kernel and ramdisk, and waits for "
        "no timeout; instance passwords are not provided by this release",
        "rescue_kernel_id rescue_ramdisk_id rescue_timeout password_length",
    ),
    (
        "consoles are the serial console output (GetConsoleOutput) and VNC through nova-api's "
        "websocket proxy (--vncproxy_base_url, --vncserver_listen; docs/libvirt.md)",
        "ajax_console_proxy_port ajax_console_proxy_url ajaxterm_portrange console_host "
        "console_public_hostname console_vmrc_error_retries console_vmrc_port console_xvp_conf "
        "console_xvp_conf_template console_xvp_log console_xvp_multiplex_port console_xvp_pid "
        "vnc_enabled vncproxy_url",
    ),
    (
        "only the libvirt and fake hypervisors are supported (--connection_type)",
        "xenapi_agent_path xenapi_connection_password xenapi_connection_url "
        "xenapi_connection_username xenapi_image_service xenapi_inject_image "
        "xenapi_login_timeout xenapi_remap_vbd_dev xenapi_remap_vbd_dev_prefix "
        "xenapi_sr_base_path xenapi_task_poll_interval xenapi_vhd_coalesce_max_attempts "
        "xenapi_vhd_coalesce_poll_interval vmwareapi_api_retry_count vmwareapi_host_ip "
        "vmwareapi_host_password vmwareapi_host_username vmwareapi_task_poll_interval "
        "vmwareapi_vlan_interface vmwareapi_wsdl_loc target_host target_port iqn_prefix "
        "block_device_creation_timeout default_os_type",
    ),
    (
        "volumes are LVM over iSCSI (--volume_driver=lvm) or files (--volume_driver=file)",
        "san_clustername san_ip san_login san_password san_privatekey san_ssh_port "
        "san_thin_provision rbd_pool aoe_eth_dev blades_per_shelf num_shelves "
        "use_local_volumes",
    ),
    (
        "tgt makes one target per exported volume (--iscsi_target_prefix, --iscsi_ip_address)",
        "iscsi_num_targets num_iscsi_scan_tries num_shell_tries",
    ),
    (
        "live migration is not provided by this release",
        "live_migration_bandwidth live_migration_flag live_migration_retry_count "
        "live_migration_uri",
    ),
    (
        "the libvirt driver writes its domain XML itself and makes disks with qemu-img "
        "(--libvirt_type, --libvirt_uri, --use_cow_images)",
        "cpuinfo_xml_template libvirt_xml_template injected_network_template qemu_img "
        "block_size max_nbd_devices timeout_nbd minimum_root_size",
    ),
    (
        "a guest a host restart left off stays stopped; StartInstances starts it",
        "start_guests_on_host_boot",
    ),
    (
        "instance monitoring is not provided by this release",
        "monitoring_instances_delay monitoring_instances_step monitoring_rrd_path",
    ),
    ("IPv6 is not supported", "use_ipv6 fixed_range_v6"),
    (
        "fixed addresses are handed out from the start of the network",
        "flat_network_dhcp_start",
    ),
    (
        "the DHCP hosts file is rewritten whenever an address is released",
        "update_dhcp_on_disassociate",
    ),
    ("use --flat_network_dns", "dns_server"),
    ("the iptables chains are Nova's own (nova-filter-top)", "input_chain"),
    (
        "the certificate authority and keys live under --ca_path; certificate subjects are "
        "--ca_cert_subject, --project_cert_subject and --user_cert_subject",
        "ca_file key_file crl_file keys_path vpn_cert_subject",
    ),
    (
        "credentials (nova-manage project zipfile) are written with fixed names: novarc, "
        "pk.pem, cert.pem, cacert.pem",
        "credential_cert_file credential_key_file credential_rc_file credential_vpn_file "
        "credentials_template",
    ),
    (
        "the cloudpipe image and its files are set with --vpn_image_id, --vpn_instance_type "
        "and --dmz_cidr",
        "vpn_client_template boot_script_template dmz_net dmz_mask",
    ),
    (
        "roles are fixed: cloudadmin, itsec, sysadmin, netadmin, developer; cloudadmin and "
        "admin users are superusers",
        "allowed_roles global_roles superuser_roles",
    ),
    ("the LDAP schema is the one in etc/", "ldap_schema_version"),
    (
        "the object store checks each user's own access and secret keys",
        "aws_access_key_id aws_secret_access_key",
    ),
    ("a user's default project is the first one they are a member of", "default_project"),
    (
        "zones are availability zones (--node_availability_zone)",
        "enable_zone_routing zone_name zone_capabilities zone_db_check_interval "
        "zone_failures_to_offline storage_availability_zone",
    ),
    ("the simple scheduler places networks with the instances", "max_networks"),
    (
        "failed-login lockouts are kept in the cache (--cache_backend)",
        "lockout_memcached_servers",
    ),
    (
        "the EC2 API trusts X-Forwarded-For only from --metadata_trusted_proxies",
        "use_forwarded_for",
    ),
    (
        "personality files are written to the config drive with Cactus's fixed limits "
        "(5 files of 10240 bytes, paths of 255 bytes; nova.api.openstack.servermeta)",
        "quota_max_injected_file_content_bytes quota_max_injected_file_path_bytes "
        "quota_max_injected_files",
    ),
)


def _table():
    table = {}
    for note, names in _GROUPS:
        for name in names.split():
            table[name] = LegacyFlag(name, note)
    for flag in (
        LegacyFlag(
            "fake_rabbit", "it is --rpc_backend=local (set now)", _fakeRabbit, boolean=True
        ),
        LegacyFlag("ec2_listen_port", "it is --ec2_port (set now)", _renamed("ec2_port")),
        LegacyFlag("osapi_listen_port", "it is --osapi_port (set now)", _renamed("osapi_port")),
        LegacyFlag("vncserver_host", "it is --vncserver_listen (set now)", _renamed("vncserver_listen")),
    ):
        table[flag.name] = flag
    return table


#: Cactus flag name -> its L{LegacyFlag}.
CACTUS_FLAGS = _table()
