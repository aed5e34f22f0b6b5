"""
Tests for L{nova.legacy}: a flagfile written for Nova's Cactus release
starts every daemon, with a warning for each flag this Nova does not use.
"""

import os

from twisted.application.service import IServiceMaker
from twisted.internet import defer
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase, TestCase

from nova.config import ConfigError, allFlags, parseFlags
from nova.legacy import CACTUS_FLAGS
from nova.service import waitReady
from tests.integration.processes import runManage

#: Every flag Nova 2011.2 (Cactus) defined (its DEFINE_* calls under nova/
#: and bin/).
CACTUS = """
    ajax_console_proxy_port ajax_console_proxy_topic ajax_console_proxy_url
    ajaxterm_portrange allow_admin_api allow_project_net_traffic allowed_roles aoe_eth_dev
    api_paste_config auth_driver auth_token_ttl aws_access_key_id aws_secret_access_key
    blades_per_shelf block_device_creation_timeout block_size boot_script_template
    buckets_path ca_file ca_path cnt_vpn_clients compute_driver compute_manager
    compute_topic connection_type console_driver console_host console_manager
    console_public_hostname console_topic console_vmrc_error_retries console_vmrc_port
    console_xvp_conf console_xvp_conf_template console_xvp_log console_xvp_multiplex_port
    console_xvp_pid control_exchange cpuinfo_xml_template credential_cert_file
    credential_key_file credential_rc_file credential_vpn_file credentials_template crl_file
    db_backend db_driver default_image default_instance_type default_log_levels
    default_os_type default_project dhcp_domain dhcp_lease_time dhcpbridge
    dhcpbridge_flagfile dmz_cidr dmz_mask dmz_net dns_server ec2_dmz_host ec2_host
    ec2_listen ec2_listen_port ec2_path ec2_port ec2_scheme enable_new_services
    enable_zone_routing fake_call fake_network fake_rabbit fake_tests firewall_driver
    fixed_ip_disassociate_timeout fixed_range fixed_range_v6 flat_injected flat_interface
    flat_network_bridge flat_network_dhcp_start flat_network_dns floating_range glance_host
    glance_port global_roles host image_decryption_dir image_service images_path
    injected_network_template input_chain instance_name_template instances_path iqn_prefix
    iscsi_ip_prefix iscsi_num_targets iscsi_target_prefix key_file keys_path ldap_cloudadmin
    ldap_developer ldap_itsec ldap_netadmin ldap_password ldap_project_subtree
    ldap_schema_version ldap_sysadmin ldap_url ldap_user_dn ldap_user_id_attribute
    ldap_user_modify_only ldap_user_name_attribute ldap_user_subtree ldap_user_unit
    libvirt_type libvirt_uri libvirt_xml_template live_migration_bandwidth
    live_migration_flag live_migration_retry_count live_migration_uri lock_path
    lockout_attempts lockout_memcached_servers lockout_minutes lockout_window logdir logfile
    logging_context_format_string logging_debug_format_suffix logging_default_format_string
    logging_exception_prefix max_cores max_gigabytes max_nbd_devices max_networks
    minimum_root_size monitoring_instances_delay monitoring_instances_step
    monitoring_rrd_path my_ip network_driver network_host network_manager network_size
    network_topic networks_path node_availability_zone null_kernel num_iscsi_scan_tries
    num_networks num_shell_tries num_shelves osapi_extensions_path osapi_host osapi_listen
    osapi_listen_port osapi_max_limit osapi_path osapi_port osapi_scheme password_length
    periodic_interval project_cert_subject public_interface qemu_img quota_cores
    quota_floating_ips quota_gigabytes quota_instances quota_max_injected_file_content_bytes
    quota_max_injected_file_path_bytes quota_max_injected_files quota_metadata_items
    quota_volumes rabbit_host rabbit_max_retries rabbit_password rabbit_port
    rabbit_retry_interval rabbit_userid rabbit_virtual_host rbd_pool region_list
    report_interval rescue_image_id rescue_kernel_id rescue_ramdisk_id rescue_timeout
    role_project_subtree routing_source_ip rpc_thread_pool_size s3_dmz s3_host s3_port
    san_clustername san_ip san_login san_password san_privatekey san_ssh_port
    san_thin_provision scheduler_driver scheduler_manager scheduler_topic service_down_time
    sql_connection sql_idle_timeout sql_max_retries sql_retry_interval sqlite_clean_db
    sqlite_db start_guests_on_host_boot state_path storage_availability_zone stub_compute
    stub_network superuser_roles target_host target_port timeout_nbd
    update_dhcp_on_disassociate use_cow_images use_forwarded_for use_ipv6 use_local_volumes
    use_project_ca use_syslog user_cert_subject verbose vlan_interface vlan_start
    vmwareapi_api_retry_count vmwareapi_host_ip vmwareapi_host_password
    vmwareapi_host_username vmwareapi_task_poll_interval vmwareapi_vlan_interface
    vmwareapi_wsdl_loc vnc_enabled vncproxy_topic vncproxy_url vncserver_host volume_driver
    volume_group volume_manager volume_name_template volume_topic vpn_cert_subject
    vpn_client_template vpn_image_id vpn_ip vpn_key_suffix vpn_start xenapi_agent_path
    xenapi_connection_password xenapi_connection_url xenapi_connection_username
    xenapi_image_service xenapi_inject_image xenapi_login_timeout xenapi_remap_vbd_dev
    xenapi_remap_vbd_dev_prefix xenapi_sr_base_path xenapi_task_poll_interval
    xenapi_vhd_coalesce_max_attempts xenapi_vhd_coalesce_poll_interval zone_capabilities
    zone_db_check_interval zone_failures_to_offline zone_name
""".split()

#: A nova.conf as Cactus's administration guide wrote them, with the
#: state and the database moved under the test's directory.
CACTUS_CONF = """\
--dhcpbridge_flagfile=/etc/nova/nova.conf
--dhcpbridge=/usr/bin/nova-dhcpbridge
--logdir=/var/log/nova
--state_path={state}
--lock_path=/var/lock/nova
--verbose
--s3_host=127.0.0.1
--rabbit_host=127.0.0.1
--ec2_host=127.0.0.1
--ec2_listen_port=0
--osapi_listen_port=0
--my_ip=127.0.0.1
--fixed_range=10.0.0.0/12
--network_size=8
--routing_source_ip=127.0.0.1
--sql_connection=sqlite:{state}/nova.sqlite
--sql_idle_timeout=3600
--glance_host=127.0.0.1
--glance_port=9292
--image_service=nova.image.glance.GlanceImageService
--network_manager=nova.network.manager.FlatDHCPManager
--volume_driver=nova.volume.driver.FakeISCSIDriver
--iscsi_num_targets=100
--iscsi_ip_prefix=192.168.
--firewall_driver=nova.virt.libvirt_conn.IptablesFirewallDriver
--scheduler_driver=nova.scheduler.simple.SimpleScheduler
--auth_driver=nova.auth.dbdriver.DbDriver
--connection_type=fake
--libvirt_type=qemu
--fake_rabbit
--use_ipv6=false
--compute_topic=compute
--osapi_path=/v1.0/
--allow_admin_api=true
--rescue_image_id=ami-rescue
--keys_path={state}/keys
--ca_path={state}/CA
--use_project_ca
--s3_port=0
"""


class TableTests(SynchronousTestCase):
    def test_everyCactusFlagKnown(self):
        """
        Every Cactus flag is one of ours or a legacy flag, never both.
        """
        ours = allFlags()
        self.assertEqual(len(CACTUS), 272)
        self.assertEqual([name for name in CACTUS if name not in ours and name not in CACTUS_FLAGS], [])
        self.assertEqual([name for name in CACTUS_FLAGS if name in ours], [])
        self.assertEqual(sorted(name for name in CACTUS_FLAGS if name not in CACTUS), [])

    def test_warningSaysWhatReplacesIt(self):
        warnings = []
        config, _ = parseFlags(["--verbose", "--compute_topic=other"], warn=warnings.append)
        self.assertEqual(
            warnings,
            [
                "--verbose is a Cactus flag this Nova does not use: logging is twistd's: "
                "use twistd's --logfile, --syslog and --prefix",
                "--compute_topic is a Cactus flag this Nova does not use: the RPC topics are "
                "fixed (compute, network, volume, scheduler)",
            ],
        )

    def test_translated(self):
        warnings = []
        config, _ = parseFlags(
            ["--fake_rabbit", "--ec2_listen_port=8001", "--osapi_listen_port", "8002"],
            warn=warnings.append,
        )
        self.assertEqual((config.rpc_backend, config.ec2_port, config.osapi_port), ("local", 8001, 8002))
        self.assertEqual(len(warnings), 3)
        config, _ = parseFlags(
            ["--rpc_backend=amqp", "--fake_rabbit=false"], warn=warnings.append
        )
        self.assertEqual(config.rpc_backend, "amqp")
        config, _ = parseFlags(["--rpc_backend=amqp", "--nofake_rabbit"], warn=warnings.append)
        self.assertEqual(config.rpc_backend, "amqp")

    def test_translationCheckedAsOurs(self):
        with self.assertRaises(ConfigError) as caught:
            parseFlags(["--ec2_listen_port=many"], warn=lambda message: None)
        self.assertEqual(str(caught.exception), "--ec2_port: expected an integer, got 'many'")

    def test_unknownStillRefused(self):
        with self.assertRaises(ConfigError) as caught:
            parseFlags(["--not_a_cactus_flag=1"], warn=lambda message: None)
        self.assertEqual(str(caught.exception), "unknown flag --not_a_cactus_flag")

    def test_myIP(self):
        """
        --my_ip is the default of the SNAT source and of the address the
        metadata requests of guests are forwarded to.
        """
        config, _ = parseFlags(["--my_ip=192.0.2.10"])
        self.assertEqual(
            (config.routing_source_ip, config.ec2_dmz_host, config.vpn_ip),
            ("192.0.2.10",) * 3,
        )
        config, _ = parseFlags(["--my_ip=192.0.2.10", "--routing_source_ip=192.0.2.11"])
        self.assertEqual(config.ec2_dmz_host, "192.0.2.11")

    def test_cactusDriverPaths(self):
        config, _ = parseFlags(
            [
                "--volume_driver=nova.volume.driver.ISCSIDriver",
                "--firewall_driver=nova.virt.libvirt_conn.IptablesFirewallDriver",
                "--scheduler_driver=nova.scheduler.chance.ChanceScheduler",
                "--network_manager=nova.network.manager.VlanManager",
                "--auth_driver=nova.auth.ldapdriver.LdapDriver",
            ]
        )
        from nova.volume.flags import VOLUME_DRIVERS

        self.assertEqual(VOLUME_DRIVERS[config.volume_driver], "nova.volume.lvm.LVMVolumeDriver")


class DaemonTests(TestCase):
    """
    Each daemon starts from a Cactus nova.conf, in this process.
    """

    timeout = 120

    @defer.inlineCallbacks
    def test_everyDaemonStarts(self):
        state = os.path.abspath(self.mktemp())
        os.makedirs(state)
        conf = os.path.join(state, "nova.conf")
        with open(conf, "w") as f:
            f.write(CACTUS_CONF.format(state=state))
        code, out, err = runManage(f"--flagfile={conf}", "db", "sync")
        self.assertEqual(code, 0, err)
        self.assertIn("--verbose is a Cactus flag", err)
        makers = {p.tapname: p for p in getPlugins(IServiceMaker)}
        for name in (
            "nova-api",
            "nova-objectstore",
            "nova-scheduler",
            "nova-compute",
            "nova-network",
            "nova-volume",
            "nova-all",
        ):
            options = makers[name].options()
            warnings = []
            options.warn = warnings.append
            options.parseOptions([f"--flagfile={conf}", f"--host={name}"])
            config = options["config"]
            self.assertEqual(config.rpc_backend, "local")
            self.assertIn(
                "--fake_rabbit is a Cactus flag this Nova does not use: "
                "it is --rpc_backend=local (set now)",
                warnings,
            )
            top = makers[name].makeService(options)
            top.startService()
            try:
                yield waitReady(top.novaServices)
            finally:
                yield top.stopService()
