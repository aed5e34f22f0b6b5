"""
Flags of nova-compute and of the compute API.
"""

import os

from nova.config import Computed, Flag

#: C{--connection_type} name -> the L{nova.virt.interfaces.IVirtDriver}
#: class, loaded by L{nova.drivers.loadDriver}.
VIRT_DRIVERS = {
    "fake": "nova.virt.fake.FakeVirtDriver",
    "libvirt": "nova.virt.libvirt.LibvirtDriver",
}

#: C{--firewall_driver} name -> the L{nova.compute.firewall.IFirewallDriver}
#: class, loaded by L{nova.drivers.loadDriver}.
FIREWALL_DRIVERS = {
    "noop": "nova.compute.firewall.NoopFirewallDriver",
    "iptables": "nova.compute.firewall.IptablesFirewallDriver",
    "nova.compute.firewall.NoopFirewallDriver": "nova.compute.firewall.NoopFirewallDriver",
    "nova.compute.firewall.IptablesFirewallDriver": "nova.compute.firewall.IptablesFirewallDriver",
    # Cactus's class path.
    "nova.virt.libvirt_conn.IptablesFirewallDriver": "nova.compute.firewall.IptablesFirewallDriver",
}

OPTIONS = (
    Flag(
        "connection_type",
        "str",
        "fake",
        "Virt driver: 'fake' (instances live in memory) or 'libvirt' "
        "(QEMU/KVM, LXC, UML or Xen through libvirt).",
        choices=tuple(VIRT_DRIVERS),
    ),
    Flag(
        "instances_path",
        "path",
        Computed(lambda v: os.path.join(v["state_path"], "instances"), "$state_path/instances"),
        "Directory for instance disks, console logs and the image cache (_base).",
    ),
    Flag(
        "instance_name_template",
        "str",
        "instance-%08x",
        "Name of an instance's guest on the hypervisor, made from its "
        "numeric id with Python %-formatting.",
    ),
    Flag(
        "default_instance_type",
        "str",
        "m1.small",
        "Instance type of RunInstances requests that name none.",
    ),
    Flag(
        "terminated_instance_ttl",
        "float",
        3600.0,
        "Seconds a terminated instance stays visible to DescribeInstances "
        "before it is deleted.",
        minimum=0.0,
    ),
    Flag(
        "console_log_cache",
        "int",
        100,
        "How many terminated instances' console output nova-compute keeps "
        "in memory for GetConsoleOutput.",
        minimum=0,
    ),
    Flag(
        "libvirt_type",
        "str",
        "kvm",
        "Hypervisor of the libvirt driver: kvm (QEMU with hardware "
        "acceleration), qemu (QEMU software emulation, for hosts without "
        "usable KVM), lxc, uml or xen.  It chooses the domain type and the "
        "libvirt URI.",
        choices=("kvm", "qemu", "lxc", "uml", "xen"),
    ),
    Flag(
        "libvirt_uri",
        "str",
        "",
        "libvirt connection URI; empty for the one --libvirt_type implies "
        "(qemu:///system for kvm and qemu, lxc:///, uml:///system, xen:///).",
    ),
    Flag(
        "use_cow_images",
        "bool",
        True,
        "Make instance root disks as qcow2 copy-on-write overlays on the "
        "cached image instead of full copies.",
    ),
    Flag(
        "libvirt_cmdline",
        "str",
        "root=/dev/vda console=ttyS0",
        "Kernel command line of instances booted from a kernel image (aki).",
    ),
    Flag(
        "libvirt_vif_model",
        "str",
        "",
        "Model of instances' network cards; empty for virtio under kvm and "
        "e1000 otherwise.",
        choices=("", "virtio", "e1000", "rtl8139"),
    ),
    Flag(
        "spawn_timeout",
        "float",
        60.0,
        "Seconds a started guest has to reach the running state before the "
        "spawn fails (and the instance goes to error).",
        minimum=1.0,
    ),
    Flag(
        "reboot_timeout",
        "float",
        60.0,
        "Seconds a guest has to shut down after an ACPI power-button press "
        "on reboot before it is reset by force.",
        minimum=0.0,
    ),
    Flag(
        "shutdown_timeout",
        "float",
        60.0,
        "Seconds a guest has to shut down after an ACPI power-button press "
        "on stop before it is powered off by force.",
        minimum=0.0,
    ),
    Flag(
        "firewall_driver",
        "str",
        "noop",
        "How security groups are enforced on this host: 'noop' (not at all) "
        "or 'iptables' (a chain per instance in the host's FORWARD path; "
        "needs root, and br_netfilter for traffic between guests on one "
        "bridge).",
        choices=tuple(FIREWALL_DRIVERS),
    ),
    Flag(
        "allow_project_net_traffic",
        "bool",
        False,
        "Let every address of an instance's own network reach it, whatever "
        "its security groups say (the iptables firewall only).",
    ),
)
