"""
Schema patch 5: networks, fixed and floating IP addresses, security groups,
their rules and their instance memberships.
"""

from nova.db.schema import execute


def apply(store):
    execute(
        store,
        """
        CREATE TABLE networks (
            id {id},
            label VARCHAR(255),
            cidr VARCHAR(43) NOT NULL UNIQUE,
            netmask VARCHAR(39) NOT NULL,
            gateway VARCHAR(39) NOT NULL,
            broadcast VARCHAR(39) NOT NULL,
            dhcp_start VARCHAR(39) NOT NULL,
            dns VARCHAR(255),
            bridge VARCHAR(32) NOT NULL,
            bridge_interface VARCHAR(32),
            vlan INTEGER UNIQUE,
            injected {bool} NOT NULL DEFAULT FALSE,
            vpn_public_address VARCHAR(39),
            vpn_public_port INTEGER,
            vpn_private_address VARCHAR(39),
            project_id VARCHAR(255) UNIQUE,
            host VARCHAR(255),
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX networks_host ON networks (host)")
    execute(
        store,
        """
        CREATE TABLE fixed_ips (
            id {id},
            address VARCHAR(39) NOT NULL UNIQUE,
            network_id INTEGER NOT NULL REFERENCES networks (id),
            instance_id INTEGER,
            mac_address VARCHAR(17),
            allocated {bool} NOT NULL DEFAULT FALSE,
            leased {bool} NOT NULL DEFAULT FALSE,
            reserved {bool} NOT NULL DEFAULT FALSE,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX fixed_ips_network ON fixed_ips (network_id, instance_id)")
    execute(store, "CREATE INDEX fixed_ips_instance ON fixed_ips (instance_id)")
    execute(store, "CREATE UNIQUE INDEX fixed_ips_mac ON fixed_ips (mac_address)")
    execute(
        store,
        """
        CREATE TABLE floating_ips (
            id {id},
            address VARCHAR(39) NOT NULL UNIQUE,
            fixed_ip_id INTEGER REFERENCES fixed_ips (id),
            project_id VARCHAR(255),
            host VARCHAR(255) NOT NULL,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(store, "CREATE INDEX floating_ips_project ON floating_ips (project_id)")
    execute(store, "CREATE INDEX floating_ips_fixed ON floating_ips (fixed_ip_id)")
    execute(
        store,
        """
        CREATE TABLE security_groups (
            id {id},
            name VARCHAR(255) NOT NULL,
            description VARCHAR(255) NOT NULL,
            user_id VARCHAR(255),
            project_id VARCHAR(255) NOT NULL,
            created_at {datetime} NOT NULL,
            updated_at {datetime} NOT NULL,
            UNIQUE (project_id, name)
        ) {table}
        """,
    )
    execute(
        store,
        """
        CREATE TABLE security_group_rules (
            id {id},
            parent_group_id INTEGER NOT NULL REFERENCES security_groups (id),
            protocol VARCHAR(8) NOT NULL,
            from_port INTEGER,
            to_port INTEGER,
            cidr VARCHAR(43),
            group_id INTEGER REFERENCES security_groups (id),
            created_at {datetime} NOT NULL
        ) {table}
        """,
    )
    execute(
        store, "CREATE INDEX security_group_rules_parent ON security_group_rules (parent_group_id)"
    )
    execute(store, "CREATE INDEX security_group_rules_source ON security_group_rules (group_id)")
    execute(
        store,
        """
        CREATE TABLE security_group_instance_association (
            id {id},
            security_group_id INTEGER NOT NULL REFERENCES security_groups (id),
            instance_id INTEGER NOT NULL,
            created_at {datetime} NOT NULL,
            UNIQUE (security_group_id, instance_id)
        ) {table}
        """,
    )
    execute(
        store,
        "CREATE INDEX security_group_instance_association_instance "
        "ON security_group_instance_association (instance_id)",
    )
