#!/usr/bin/env bash
# tools/services.sh: install and start the real back-ends Nova's tests and
# deployments use on one Debian host (run as root; `make services`).
# Idempotent: it installs only missing packages and starts only what does
# not already answer on its port.  Every daemon listens on 127.0.0.1.
#
#   RabbitMQ 5672 (guest/guest)  Redis 6379  PostgreSQL 5432 (trust)
#   MariaDB 3306 (root, no password)  OpenLDAP slapd 3890  libvirtd (qemu:///system)
#   tgtd 3260
#
# State of the daemons started here lives under $NOVA_INFRA_DIR (default
# /tmp/nova-infra); tools/stop-services.sh stops them.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
HERE=$(cd "$(dirname "$0")/.." && pwd)
INFRA=${NOVA_INFRA_DIR:-/tmp/nova-infra}
mkdir -p "$INFRA"
T0=$(date +%s)
say() { printf '[services] %s (%ss)\n' "$*" "$(( $(date +%s) - T0 ))"; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # wait_for SECONDS CMD...
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "[services] timeout waiting for: $*" >&2; return 1; }
    sleep 0.2
  done
}

PACKAGES=(rabbitmq-server amqp-specs redis-server slapd ldap-utils postgresql
  mariadb-server mariadb-client libmariadb-dev pkg-config libvirt-dev
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils qemu-block-extra
  busybox-static cpio dnsmasq-base dnsmasq-utils iptables nftables ebtables udhcpc tgt iproute2
  util-linux curl
  openvpn  # the cloudpipe tests' VPN client
  chromium)  # the dashboard's browser tests (Playwright drives /usr/bin/chromium)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "[services] missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$INFRA/apt.log" 2>&1 \
    || { tail -20 "$INFRA/apt.log" >&2; exit 1; }
fi

# ---------------------------------------------------------------- RabbitMQ
if ! answers 5672; then
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  rabbitmq-server -detached
  wait_for 90 rabbitmqctl await_startup --timeout 30
  say "rabbitmq started"
fi

# ---------------------------------------------------------------- Redis
if ! answers 6379; then
  mkdir -p "$INFRA/redis"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no \
    --dir "$INFRA/redis" --pidfile "$INFRA/redis/redis.pid" --logfile "$INFRA/redis/redis.log"
  wait_for 10 answers 6379
  say "redis started"
fi

# ---------------------------------------------------------------- PostgreSQL
if ! answers 5432; then
  PGB=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); P=$INFRA/pg
  if [ ! -d "$P/data" ]; then
    mkdir -p "$P"; chown postgres: "$P"
    su postgres -c "$PGB/initdb -D $P/data -A trust -U postgres -E UTF8 --no-sync" >"$INFRA/initdb.log"
  fi
  su postgres -c "$PGB/pg_ctl -D $P/data -l $P/log -w -o '-h 127.0.0.1 -p 5432 -k $P -F' start" >/dev/null
  say "postgresql started"
fi
for db in nova nova_test; do
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
done

# ---------------------------------------------------------------- MariaDB
if ! answers 3306; then
  M=$INFRA/mysql
  if [ ! -d "$M/data" ]; then
    mkdir -p "$M"; chown mysql: "$M"
    mariadb-install-db --user=mysql --datadir="$M/data" --auth-root-authentication-method=normal \
      --skip-test-db >/dev/null
  fi
  mariadbd --no-defaults --user=mysql --datadir="$M/data" --socket="$M/mysqld.sock" \
    --pid-file="$M/mysqld.pid" --bind-address=127.0.0.1 --port=3306 --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=2 >"$M/err.log" 2>&1 &
  wait_for 60 answers 3306
  say "mariadb started"
fi
wait_for 30 mariadb -h 127.0.0.1 -P 3306 -uroot -e "SELECT 1"
mariadb -h 127.0.0.1 -P 3306 -uroot -e \
  "CREATE DATABASE IF NOT EXISTS nova CHARACTER SET utf8mb4; CREATE DATABASE IF NOT EXISTS nova_test CHARACTER SET utf8mb4;"

# ---------------------------------------------------------------- OpenLDAP slapd
if ! answers 3890; then
  L=$INFRA/ldap; rm -rf "$L"; mkdir -p "$L/db"
  schema_includes="include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema"
  [ -f "$HERE/etc/ldap/nova.schema" ] && schema_includes="$schema_includes
include $HERE/etc/ldap/nova.schema"
  cat > "$L/slapd.conf" <<CONF
$schema_includes
pidfile $L/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 104857600
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw $(slappasswd -s changeme)
directory $L/db
index objectClass,uid,cn,member,accessKey eq
CONF
  if [ -f "$HERE/etc/ldap/base.ldif" ]; then
    cp "$HERE/etc/ldap/base.ldif" "$L/base.ldif"
  else
    printf '%s\n' "dn: dc=example,dc=com" "objectClass: dcObject" "objectClass: organization" \
      "dc: example" "o: Example" > "$L/base.ldif"
  fi
  slapadd -q -f "$L/slapd.conf" -l "$L/base.ldif"
  slapd -f "$L/slapd.conf" -h "ldap://127.0.0.1:3890/"
  wait_for 10 ldapsearch -x -H ldap://127.0.0.1:3890 -b dc=example,dc=com -s base
  say "slapd started (ldap://127.0.0.1:3890, cn=admin,dc=example,dc=com / changeme)"
fi

# ---------------------------------------------------------------- libvirtd (QEMU)
# Without udev, /dev/kvm stays root-only; libvirt then takes its cached QEMU
# capabilities for stale and probes QEMU again on every call (a define
# takes ~40 s).  Debian's udev rule gives it to group kvm, mode 0660.
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  pgrep -x virtlogd >/dev/null || virtlogd -d
  libvirtd -d -p "$INFRA/libvirtd.pid"
  wait_for 60 virsh -c qemu:///system version
  say "libvirtd started"
fi

# ---------------------------------------------------------------- tgtd (iSCSI target)
if ! answers 3260; then
  tgtd --iscsi portal=127.0.0.1:3260
  wait_for 10 tgtadm --lld iscsi --mode system --op show
  say "tgtd started"
fi

say "all services answer"
