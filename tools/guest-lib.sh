# tools/guest-lib.sh: what the builders of Nova's small guest images
# (tools/build-test-guest.sh, tools/build-cloudpipe-image.sh) share, sourced
# by both once they set HERE (the checkout).  Past guest_options, the
# functions use OUT, FORCE, INIT (the image's init), BUSYBOX, MODULES (the
# kernel modules it needs) and say (the builder's log function).
#
# guest_options VAR NAME [--force] [OUTDIR]
#                        set FORCE (with --force) and OUT: OUTDIR, else $VAR,
#                        else $NOVA_INFRA_DIR/NAME, else var/NAME in the
#                        checkout
# guest_reuse SCRIPT     when OUT holds images built from the same init,
#                        busybox, SCRIPT and this library, print OUT and exit
#                        (sets INPUTS, what the stamp records)
# guest_kernel_package   set KPKG: what linux-image-amd64 depends on, or the
#                        newest linux-image .deb in apt's cache
# guest_workdir          make WORK, a build directory in OUT removed on exit,
#                        with root/bin and root/lib/modules in it
# guest_fetch PACKAGE    print the path of PACKAGE's .deb: from apt's cache,
#                        else downloaded into WORK/debs
# guest_kernel           WORK/vmlinuz and the MODULES in WORK/root/lib/modules,
#                        from KPKG
# guest_finish           the ramdisk (busybox, the init and WORK/root), a 1 MiB
#                        root.img and the cmdline, moved into OUT with the
#                        stamp; prints OUT

guest_options() {
  local var=$1 name=$2
  shift 2
  FORCE=
  if [ "${1:-}" = --force ]; then FORCE=1; shift; fi
  if [ $# -gt 0 ]; then
    OUT=$1
  elif [ -n "${!var:-}" ]; then
    OUT=${!var}
  elif [ -n "${NOVA_INFRA_DIR:-}" ]; then
    OUT=$NOVA_INFRA_DIR/$name
  else
    OUT=$HERE/var/$name
  fi
}

guest_reuse() {
  [ -x "$BUSYBOX" ] || { say "$BUSYBOX missing (Debian package busybox-static)"; exit 1; }
  INPUTS="init=$(sha256sum "$INIT" | cut -c1-16) busybox=$(sha256sum "$BUSYBOX" | cut -c1-16) script=$(sha256sum "$1" | cut -c1-16) lib=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
  if [ -z "$FORCE" ] && [ -f "$OUT/stamp" ] && [ "$(cut -d' ' -f2- "$OUT/stamp")" = "$INPUTS" ] \
     && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/root.img" ]; then
    echo "$OUT"
    exit 0
  fi
}

guest_kernel_package() {
  KPKG=${NOVA_GUEST_KERNEL_PACKAGE:-$(apt-cache depends linux-image-amd64 2>/dev/null \
    | awk '/Depends: linux-image-[0-9]/ && !p {p=$2} END {print p}')}
  if [ -z "$KPKG" ]; then
    KPKG=$(ls /var/cache/apt/archives/linux-image-[0-9]*-amd64_*.deb 2>/dev/null \
      | sed 's,.*/\(linux-image-[^_]*\)_.*,\1,' | sort -V | tail -1)
  fi
  [ -n "$KPKG" ] || { say "no linux-image package known to apt"; exit 1; }
}

guest_workdir() {
  mkdir -p "$OUT"
  WORK=$(mktemp -d "$OUT/.build.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$WORK/debs" "$WORK/x" "$WORK/root/bin" "$WORK/root/lib/modules"
}

guest_fetch() {
  local deb
  deb=$(ls /var/cache/apt/archives/"$1"_*.deb 2>/dev/null | tail -1 || true)
  if [ -z "$deb" ]; then
    say "downloading $1"
    (cd "$WORK/debs" && apt-get download -qq "$1" 2>"$WORK/apt.log") \
      || { cat "$WORK/apt.log" >&2; exit 1; }
    deb=$(ls "$WORK/debs/$1"_*.deb | tail -1)
  fi
  echo "$deb"
}

guest_kernel() {
  local deb m found
  deb=$(guest_fetch "$KPKG")
  # One pass over the package: the kernel and the modules, wherever they sit.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK/x" --wildcards --no-anchored \
    'boot/vmlinuz-*' $(for m in $MODULES; do printf '*/%s.ko ' "$m"; done)
  cp "$WORK"/x/boot/vmlinuz-* "$WORK/vmlinuz"
  for m in $MODULES; do
    found=$(find "$WORK/x/lib" -name "$m.ko" | head -1)
    [ -n "$found" ] || { say "module $m.ko not in $KPKG"; exit 1; }
    cp "$found" "$WORK/root/lib/modules/"
  done
}

guest_finish() {
  local f
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
}
