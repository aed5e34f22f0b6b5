#!/usr/bin/env bash
# tools/build-test-guest.sh [--force] [OUTDIR]: build Nova's small test
# guest from Debian's packages (`make guest`).
#
#   OUTDIR/vmlinuz     the kernel (register it as an aki), from Debian's
#                      linux-image package for this release
#   OUTDIR/initrd.img  the ramdisk (an ari): a static busybox, the init of
#                      etc/guest/init and a few modules (virtio, e1000, the
#                      ACPI button); the guest runs from it
#   OUTDIR/root.img    the machine image (an ami): a 1 MiB raw disk whose
#                      first sector the guest uses as a boot counter
#   OUTDIR/cmdline     the kernel command line the guest expects
#
# OUTDIR defaults to $NOVA_TEST_GUEST_DIR, else $NOVA_INFRA_DIR/test-guest,
# else var/test-guest in the checkout.  The script is idempotent: when the
# output exists and was built from the same init, busybox and script, it
# returns at once (--force rebuilds, e.g. for a newer kernel package).  It
# prints the output directory.  Needs dpkg-deb, cpio, gzip, busybox-static and
# `apt-get download` (or a linux-image .deb in /var/cache/apt/archives).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
FORCE=
if [ "${1:-}" = --force ]; then FORCE=1; shift; fi
if [ $# -gt 0 ]; then
  OUT=$1
elif [ -n "${NOVA_TEST_GUEST_DIR:-}" ]; then
  OUT=$NOVA_TEST_GUEST_DIR
elif [ -n "${NOVA_INFRA_DIR:-}" ]; then
  OUT=$NOVA_INFRA_DIR/test-guest
else
  OUT=$HERE/var/test-guest
fi
INIT=$HERE/etc/guest/init
BUSYBOX=${BUSYBOX:-/bin/busybox}
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  virtio_blk failover net_failover virtio_net e1000 button evdev"

say() { printf '[guest] %s\n' "$*" >&2; }

[ -x "$BUSYBOX" ] || { say "$BUSYBOX missing (Debian package busybox-static)"; exit 1; }
INPUTS="init=$(sha256sum "$INIT" | cut -c1-16) busybox=$(sha256sum "$BUSYBOX" | cut -c1-16) script=$(sha256sum "$0" | cut -c1-16)"
if [ -z "$FORCE" ] && [ -f "$OUT/stamp" ] && [ "$(cut -d' ' -f2- "$OUT/stamp")" = "$INPUTS" ] \
   && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/root.img" ]; then
  echo "$OUT"
  exit 0
fi

# The kernel package: what linux-image-amd64 depends on, or the newest one
# already in apt's cache when apt knows of none.
KPKG=${NOVA_GUEST_KERNEL_PACKAGE:-$(apt-cache depends linux-image-amd64 2>/dev/null \
  | awk '/Depends: linux-image-[0-9]/ && !p {p=$2} END {print p}')}
if [ -z "$KPKG" ]; then
  KPKG=$(ls /var/cache/apt/archives/linux-image-[0-9]*-amd64_*.deb 2>/dev/null \
    | sed 's,.*/\(linux-image-[^_]*\)_.*,\1,' | sort -V | tail -1)
fi
[ -n "$KPKG" ] || { say "no linux-image package known to apt"; exit 1; }

mkdir -p "$OUT"
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

deb=$(ls /var/cache/apt/archives/"$KPKG"_*.deb 2>/dev/null | tail -1 || true)
if [ -z "$deb" ]; then
  say "downloading $KPKG"
  (cd "$WORK" && apt-get download -qq "$KPKG" 2>"$WORK/apt.log") \
    || { cat "$WORK/apt.log" >&2; exit 1; }
  deb=$(ls "$WORK/$KPKG"_*.deb)
fi

mkdir -p "$WORK/x" "$WORK/root/bin" "$WORK/root/lib/modules"
# One pass over the package: the kernel and the modules, wherever they sit.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK/x" --wildcards --no-anchored \
  'boot/vmlinuz-*' $(for m in $MODULES; do printf '*/%s.ko ' "$m"; done)
cp "$WORK"/x/boot/vmlinuz-* "$WORK/vmlinuz"
for m in $MODULES; do
  found=$(find "$WORK/x/lib" -name "$m.ko" | head -1)
  [ -n "$found" ] || { say "module $m.ko not in $KPKG"; exit 1; }
  cp "$found" "$WORK/root/lib/modules/"
done

cp "$BUSYBOX" "$WORK/root/bin/busybox"
cp "$INIT" "$WORK/root/init"
chmod 0755 "$WORK/root/init" "$WORK/root/bin/busybox"
(cd "$WORK/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > "$WORK/initrd.img")
truncate -s 1M "$WORK/root.img"
echo "console=ttyS0 root=/dev/vda panic=-1 quiet" > "$WORK/cmdline"

for f in vmlinuz initrd.img root.img cmdline; do mv -f "$WORK/$f" "$OUT/$f"; done
echo "kernel=$KPKG $INPUTS" > "$OUT/stamp"
say "built in $OUT from $KPKG"
echo "$OUT"
