#!/usr/bin/env bash
# Installs Prometheus's promtool into .cache/promtool (idempotent) and
# prints its path. The binary comes from Debian's prometheus package, pinned
# by version and SHA-256, unpacked with dpkg -x so nothing is installed
# system-wide and no root is needed (apt-get download runs as any user once
# the package lists are there; the first `apt-get update` may need root).
#
#   scripts/promtool.sh          install if missing, print the path
#   scripts/promtool.sh path     print the path if installed, else fail
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.cache/promtool"
VERSION="2.42.0+ds-5+deb12u1"
SHA256="81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55"
BIN="$DEST/$VERSION/usr/bin/promtool"

if [ -x "$BIN" ]; then
    echo "$BIN"
    exit 0
fi
[ "${1:-}" = path ] && { echo "promtool.sh: promtool $VERSION is not installed in $DEST" >&2; exit 1; }

mkdir -p "$DEST"
tmp=$(mktemp -d "$DEST/dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log="$DEST/apt.log"
download() { (cd "$tmp" && apt-get download -qq "prometheus=$VERSION") >>"$log" 2>&1; }
if ! download; then
    # The package lists may be missing or stale: refresh them once.
    apt-get update -qq >>"$log" 2>&1 || true
    download || { echo "promtool.sh: apt-get download prometheus=$VERSION failed (see $log)" >&2; exit 1; }
fi
deb=$(ls "$tmp"/prometheus_*.deb)
got=$(sha256sum "$deb" | awk '{print $1}')
if [ "$got" != "$SHA256" ]; then
    echo "promtool.sh: $deb has SHA-256 $got, want $SHA256" >&2
    exit 1
fi
mkdir -p "$tmp/x"
dpkg -x "$deb" "$tmp/x"
[ -x "$tmp/x/usr/bin/promtool" ] || { echo "promtool.sh: the package holds no usr/bin/promtool" >&2; exit 1; }
mkdir -p "$DEST/$VERSION/usr/bin"
mv "$tmp/x/usr/bin/promtool" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
"$BIN" --version >/dev/null
echo "$BIN"
