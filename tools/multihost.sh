#!/usr/bin/env bash
# tools/multihost.sh up [--guest DIR] [--mode flat|vxlan] | down | tgtadm ARGS...: three
# Nova hosts on this machine, each its own network namespace (docs/multihost.md).
#
#   up     a controller (mh-TAG-ctl: nova-api, nova-objectstore,
#          nova-scheduler, nova-network, nova-volume) and two compute hosts
#          (mh-TAG-c1, mh-TAG-c2: nova-compute with libvirt QEMU guests),
#          plus an "outside" namespace mh-TAG-pub on the controller's public
#          side; the daemons run over this machine's RabbitMQ and
#          PostgreSQL (forwarded to the namespaces on the management
#          bridge), FlatDHCP with dnsmasq on the controller, the iptables
#          firewall on each compute host, and volumes: nova-volume keeps
#          them in files that the controller's own tgtd exports over iSCSI
#          on its management address (port 3260).  With --guest DIR (e.g.
#          the output of `make guest`) the test guest is registered for
#          user and project admin (with the integration tests' additions
#          to its init: port probes and volume markers driven by its user
#          data).  --mode vxlan: vlan mode, the project network
#          carried between the hosts over VXLAN (--vlan_backend=vxlan)
#          instead of FlatDHCP on a shared bridge.
#          State, flag files and logs: $NOVA_MULTIHOST_DIR
#          (default var/multihost).
#   down   stop the daemons, destroy the run's guests, remove the
#          iSCSI targets and stop the controller's tgtd, remove the
#          namespaces, bridges and database; fails if anything is left.
#   tgtadm ARGS...  run `tgtadm --lld iscsi ARGS` against the controller's
#          tgtd, e.g. `tgtadm --mode target --op show` (its control socket
#          is in $NOVA_MULTIHOST_DIR/ctl-tgtd, not the machine's
#          /var/run/tgtd).
#
# Needs root, `make services` (RabbitMQ, PostgreSQL, libvirtd), tgt and the
# project's virtualenv (.venv, or $PYTHON).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
PYTHON=${PYTHON:-$HERE/.venv/bin/python}
[ "$(id -u)" = 0 ] || { echo "multihost: needs root (network namespaces)" >&2; exit 1; }
case "${1:-}" in
  up|down|tgtadm) ;;
  *) echo "usage: $0 up [--guest DIR] [--mode flat|vxlan] | down | tgtadm ARGS..." >&2; exit 2 ;;
esac
BASE=${NOVA_MULTIHOST_DIR:-$HERE/var/multihost}
if [ "$1" = up ] && [ -e "$BASE/multihost.env" ]; then
  echo "multihost: $BASE holds a deployment already: run '$0 down' first" >&2
  exit 1
fi
if [ "$1" != up ] && [ ! -e "$BASE/multihost.env" ]; then
  echo "multihost: no deployment in $BASE" >&2
  exit 1
fi
"$PYTHON" -m tests.integration.multihost --base "$BASE" "$@"
if [ "$1" = down ]; then rm -rf "$BASE"; fi
