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
        "libvirt_bridge_template",
        "str",
        "",
        "Bridge instances' network cards are plugged into, as a template in "
        "which {bridge} stands for the network's bridge (e.g. {bridge}a); "
        "empty for the network's bridge itself.  For compute hosts whose "
        "hypervisor runs in another network namespace than nova-compute, "
        "such as several compute hosts in namespaces of one machine sharing "
        "one libvirtd: each names its own bridge there (see docs/multihost.md).",
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
        "force_config_drive",
        "bool",
        False,
        "Give every instance a config drive: an ISO 9660 disk labelled "
        "config-2 holding its metadata, user data, public key and network "
        "settings in the layout cloud-init reads (the libvirt driver).  "
        "Instances on networks marked for injection (--flat_injected) get "
        "one whatever this says.",
    ),
    Flag(
        "snapshot_upload_user",
        "str",
        "",
        "For a nova-compute of its own (not nova-all): the administrator "
        "whose keys it signs snapshot uploads to nova-objectstore (--s3_host, "
        "--s3_port) with, as USER or USER:PROJECT (the project the uploads "
        "and the snapshot bucket belong to; each object is granted to the "
        "instance's project).  Empty: such a host cannot make snapshots.",
    ),
    Flag(
        "vncserver_listen",
        "str",
        "127.0.0.1",
        "Address of this host each libvirt guest's VNC server (password "
        "protected, port chosen by libvirt) listens on; nova-api's VNC "
        "proxy connects to it there.  Empty: guests get no VNC console.",
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
    Flag(
        "rescue_image_id",
        "str",
        "",
        "Machine image (ami-...) a rescued instance boots, with its own root "
        "disk attached as the second disk; empty for the instance's own "
        "image.  An image with a kernel and ramdisk boots them, otherwise "
        "the instance's.",
    ),
)
