#!/usr/bin/env bash
# tools/first-run.sh STATE [FLAGS...]: on the first start of `make run`,
# create the network and floating addresses, the admin user and project,
# and write their credentials to STATE/nova.zip and STATE/novarc (with the
# certificates novarc names beside it); then print how to use them.
set -euo pipefail
STATE=$1; shift
VENV="$(dirname "$0")/../.venv/bin"
MANAGE="$VENV/nova-manage --state_path=$STATE $*"
if [ ! -f "$STATE/novarc" ]; then
  # One network of 256 addresses for instances, and the
  # floating addresses (--floating_range) this host's nova-network serves.
  HOST=$("$VENV/python" -c 'import sys; from nova.config import parseFlags; print(parseFlags(sys.argv[1:])[0].host)' "$@")
  $MANAGE network create 10.0.0.0/24 1 256 >/dev/null
  $MANAGE floating create "$HOST" >/dev/null
  $MANAGE user admin admin >/dev/null
  $MANAGE project create admin admin "The cloud's administrators" >/dev/null
  $MANAGE project zipfile admin admin "$STATE/nova.zip" >/dev/null
  $MANAGE project environment admin admin "$STATE/novarc" >/dev/null
  # The certificates novarc names (bundling, ec2-* tools), beside it.
  "$VENV/python" - "$STATE" <<'PY'
import os, sys, zipfile
state = sys.argv[1]
with zipfile.ZipFile(os.path.join(state, "nova.zip")) as archive:
    for name in ("pk.pem", "cert.pem", "cacert.pem", "cloud-cert.pem"):
        path = os.path.join(state, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(archive.read(name))
PY
  echo "created user admin in project admin"
fi
echo
echo "Credentials of user admin (project admin): $STATE/novarc (EC2, S3), $STATE/openrc (OpenStack), $STATE/nova.zip"
grep -E '^export (EC2_ACCESS_KEY|EC2_SECRET_KEY|EC2_URL|S3_URL)=' "$STATE/novarc" | sed 's/^export /  /'
# The web dashboard: on the OpenStack API's port unless --dashboard_port gives one.
DASHBOARD=$("$VENV/python" -c 'import sys; from nova.config import parseFlags; c = parseFlags(sys.argv[1:])[0]; print(f"http://{c.osapi_host}:{c.dashboard_port or c.osapi_port}{c.dashboard_path}")' "$@")
echo "Dashboard: $DASHBOARD (user name admin, EC2_SECRET_KEY as the secret key)"
echo
echo "Use them with the aws CLI or boto3:"
echo "  . $STATE/novarc"
echo "  aws ec2 describe-availability-zones"
echo "  aws s3 mb s3://images"
echo
