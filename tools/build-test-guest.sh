#!/usr/bin/env bash
# tools/build-test-guest.sh [--force] [OUTDIR]: build Nova's small test
# guest from Debian's packages (`make guest`).
#
#   OUTDIR/vmlinuz     the kernel (register it as an aki), from Debian's
#                      linux-image package for this release
#   OUTDIR/initrd.img  the ramdisk (an ari): a static busybox, the init of
#                      etc/guest/init and a few modules (virtio, e1000, the
#                      ACPI button, cdrom and isofs for config drives); the
#                      guest runs from it
#   OUTDIR/root.img    the machine image (an ami): a 1 MiB raw disk whose
#                      first sector the guest uses as a boot counter
#   OUTDIR/cmdline     the kernel command line the guest expects
#
# OUTDIR defaults to $NOVA_TEST_GUEST_DIR, else $NOVA_INFRA_DIR/test-guest,
# else var/test-guest in the checkout.  The script is idempotent: when the
# output exists and was built from the same init, busybox, script and
# tools/guest-lib.sh (the builders' shared steps), it
# returns at once (--force rebuilds, e.g. for a newer kernel package).  It
# prints the output directory.  Needs dpkg-deb, cpio, gzip, busybox-static and
# `apt-get download` (or a linux-image .deb in /var/cache/apt/archives).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/guest-lib.sh
. "$HERE/tools/guest-lib.sh"
guest_options NOVA_TEST_GUEST_DIR test-guest "$@"
INIT=$HERE/etc/guest/init
BUSYBOX=${BUSYBOX:-/bin/busybox}
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  virtio_blk failover net_failover virtio_net e1000 button evdev cdrom isofs"

say() { printf '[guest] %s\n' "$*" >&2; }

guest_reuse "$0"

# The kernel package: what linux-image-amd64 depends on, or the newest one
# already in apt's cache when apt knows of none.
guest_kernel_package
guest_workdir
guest_kernel
guest_finish
