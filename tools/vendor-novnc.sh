#!/usr/bin/env bash
# tools/vendor-novnc.sh [DEST]: fetch the pinned noVNC client from the npm
# registry, check the tarball's integrity hash (the registry's sha512
# "integrity" of that version), and unpack its ES modules (core/, vendor/)
# and licences under DEST (default nova/api/dashboard/static/novnc), where
# the dashboard serves them for its VNC console page.  Idempotent: nothing
# is fetched when the pinned version is already there.  `make novnc` runs
# it; `make venv` and `make run` do too.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$HERE/nova/api/dashboard/static/novnc}
VERSION=1.7.0
URL="https://registry.npmjs.org/@novnc/novnc/-/novnc-$VERSION.tgz"
INTEGRITY="sha512-ucEJOx4T2avIRCleodk7YobZj5O2Ga2AeLfQ69A/yjG9HHba2+PDgwSkN3FttrmG+70ZGx21sElNFouK13RzyA=="

if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$VERSION" ] && [ -f "$DEST/core/rfb.js" ]; then
  exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
curl -fsSL --retry 3 -o "$WORK/novnc.tgz" "$URL"
GOT="sha512-$(openssl dgst -sha512 -binary "$WORK/novnc.tgz" | base64 -w0)"
if [ "$GOT" != "$INTEGRITY" ]; then
  echo "vendor-novnc: $URL has integrity $GOT, expected $INTEGRITY; not unpacked" >&2
  exit 1
fi
mkdir -p "$WORK/unpacked"
tar -xzf "$WORK/novnc.tgz" -C "$WORK/unpacked" --no-same-owner
rm -rf "$DEST.new"
mkdir -p "$DEST.new"
cp -R "$WORK/unpacked/package/core" "$WORK/unpacked/package/vendor" "$DEST.new/"
cp "$WORK/unpacked/package/LICENSE.txt" "$DEST.new/" 2>/dev/null || true
cp -R "$WORK/unpacked/package/docs" "$DEST.new/licenses" 2>/dev/null || true
echo "$VERSION" > "$DEST.new/.version"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "vendor-novnc: noVNC $VERSION unpacked under $DEST"
