#!/usr/bin/env bash
# tools/stop-services.sh: stop what tools/services.sh started, by pid file.
# Services the machine already ran before (not started by services.sh) are
# left alone, except RabbitMQ, which `rabbitmqctl stop` stops either way.
INFRA=${NOVA_INFRA_DIR:-/tmp/nova-infra}
for f in "$INFRA/redis/redis.pid" "$INFRA/ldap/slapd.pid" "$INFRA/mysql/mysqld.pid" "$INFRA/libvirtd.pid"; do
  [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
if [ -d "$INFRA/pg/data" ]; then
  su postgres -c "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl -D $INFRA/pg/data -m fast stop" >/dev/null 2>&1
fi
tgtadm --lld iscsi --mode system --op delete 2>/dev/null
true
