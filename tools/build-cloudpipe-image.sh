#!/usr/bin/env bash
# tools/build-cloudpipe-image.sh [--force] [OUTDIR]: build Nova's cloudpipe
# (per-project OpenVPN) image from Debian's packages (`make cloudpipe-image`).
#
#   OUTDIR/vmlinuz     the kernel (register it as an aki), from Debian's
#                      linux-image package for this release
#   OUTDIR/initrd.img  the ramdisk (an ari): a static busybox, the init of
#                      etc/cloudpipe/init, OpenVPN and iproute2's ip with the
#                      shared libraries they need (taken from Debian's
#                      packages, found with ldd), and the kernel modules for
#                      the NIC, tun and bridge; the VPN runs from it
#   OUTDIR/root.img    the machine image (an ami, give it as --vpn_image_id):
#                      a 1 MiB raw disk the image does not use
#   OUTDIR/cmdline     the kernel command line it expects
#
# OUTDIR defaults to $NOVA_CLOUDPIPE_DIR, else $NOVA_INFRA_DIR/cloudpipe,
# else var/cloudpipe in the checkout.  The script is idempotent: when the
# output exists and was built from the same init, busybox, script and
# tools/guest-lib.sh (the builders' shared steps), it
# returns at once (--force rebuilds).  It prints the output directory.
# Needs dpkg-deb, cpio, gzip, ldd, busybox-static and `apt-get download`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/guest-lib.sh
. "$HERE/tools/guest-lib.sh"
guest_options NOVA_CLOUDPIPE_DIR cloudpipe "$@"
INIT=$HERE/etc/cloudpipe/init
BUSYBOX=${BUSYBOX:-/bin/busybox}
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  virtio_blk failover net_failover virtio_net e1000 button cdrom isofs tun llc stp bridge"
# The programs autorun.sh runs, by package.
PACKAGES="openvpn iproute2"
PROGRAMS="usr/sbin/openvpn bin/ip"

say() { printf '[cloudpipe] %s\n' "$*" >&2; }

guest_reuse "$0"

guest_kernel_package
guest_workdir
mkdir -p "$WORK/pkg" "$WORK/root/sbin" "$WORK/root/etc" "$WORK/root/var/log"

# The kernel and its modules.
say "kernel and modules from $KPKG"
guest_kernel

# The programs and the libraries of their packages' direct dependencies,
# unpacked; ldd then names each library a program loads, found among those
# first (the host's loader resolves the rest).
deps=$(apt-cache depends $PACKAGES 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^lib/ {print $2}' | sort -u)
for p in $PACKAGES $deps; do
  say "unpacking $p"
  dpkg-deb -x "$(guest_fetch "$p")" "$WORK/pkg"
done
libpath=$(find "$WORK/pkg" -name '*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
for program in $PROGRAMS; do
  src=$WORK/pkg/$program
  [ -x "$src" ] || src=$WORK/pkg/usr/$program
  [ -x "$src" ] || { say "$program not in $PACKAGES"; exit 1; }
  cp "$src" "$WORK/root/sbin/"
  LD_LIBRARY_PATH=$libpath ldd "$src" | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}' \
    | while read -r lib; do
        [ -f "$lib" ] || continue
        mkdir -p "$WORK/root$(dirname "${lib#$WORK/pkg}")"
        cp -L "$lib" "$WORK/root${lib#$WORK/pkg}"
      done
  if LD_LIBRARY_PATH=$libpath ldd "$src" | grep -q 'not found'; then
    say "$program needs libraries that are not there:"
    LD_LIBRARY_PATH=$libpath ldd "$src" | grep 'not found' >&2
    exit 1
  fi
done
# Where the libraries are, for the loader inside the image.
# (listed before ld.so.conf is written: its own name matches '*.so*').
find "$WORK/root" -name '*.so*' -printf '/%P\n' | xargs -n1 dirname | sort -u \
  > "$WORK/ld.so.conf"
mv "$WORK/ld.so.conf" "$WORK/root/etc/ld.so.conf"
libdirs=$(tr '\n' ':' < "$WORK/root/etc/ld.so.conf")
# The loader reads no ld.so.cache here: give the paths to every program.
for program in $PROGRAMS; do
  name=$(basename "$program")
  mv "$WORK/root/sbin/$name" "$WORK/root/sbin/$name.bin"
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec /sbin/%s.bin "$@"\n' "${libdirs%:}" "$name" \
    > "$WORK/root/sbin/$name"
  chmod 0755 "$WORK/root/sbin/$name"
done
# The user and group OpenVPN drops to.
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
  > "$WORK/root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$WORK/root/etc/group"

guest_finish
