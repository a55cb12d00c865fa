#!/usr/bin/env bash
# The project's test command (`make test`): vet, staticcheck, then every test
# with the race detector against every real server that can be started here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATICCHECK_VERSION=v0.8.2

# Every server, the three-node CouchDB cluster included: the cluster suite
# (dbservice/couchdb/clustertest) and the fault tests run here.
servers=$(scripts/servers.sh list | tr '\n' ' ')
# The servers start in the background while the checks below run: starting
# them is mostly waiting (two JVMs, three CouchDB nodes joining). They are
# stopped at exit, also when a check fails, once their start has finished.
mkdir -p .cache
# shellcheck disable=SC2086
scripts/servers.sh start $servers >.cache/servers-start.log 2>&1 &
starting=$!
# shellcheck disable=SC2086
trap 'wait $starting 2>/dev/null || true; scripts/servers.sh stop $servers' EXIT

echo "== go mod tidy -diff"
# go.mod and go.sum must be what go mod tidy makes of them (direct
# dependencies not marked indirect, nothing missing or stale).
if ! go mod tidy -diff; then
    echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result" >&2
    exit 1
fi
# The go directive is the lowest the dependencies allow: the highest go
# directive in the build list, so users on that Go can build the module.
norm() { case "$1" in *.*.*) echo "$1" ;; *) echo "$1.0" ;; esac; }
need=$(norm "$(go list -m -f '{{if not .Main}}{{.GoVersion}}{{end}}' all | sort -V | tail -n 1)")
have=$(norm "$(go list -m -f '{{.GoVersion}}')")
if [ "$need" != "$have" ]; then
    echo "go.mod says go $have; the dependencies need go $need: set the go directive to $need" >&2
    exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck $STATICCHECK_VERSION"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...
echo "== promtool (examples/monitoring alert rules)"
# Installed into .cache/ from Debian's prometheus package (pinned,
# checksum-verified); examples/monitoring's tests run it. Missing, those
# tests skip, or fail under SECUREDB_REQUIRE_SERVERS=1.
if PROMTOOL=$(scripts/promtool.sh); then
    export PROMTOOL
else
    case "${SECUREDB_REQUIRE_SERVERS:-}" in
    ""|0|false|no) echo "WARNING: promtool could not be installed; the alert rule tests will SKIP" >&2 ;;
    *) echo "promtool could not be installed and SECUREDB_REQUIRE_SERVERS is set" >&2; exit 1 ;;
    esac
fi
echo "== servers ($servers)"
started=0
wait $starting || started=$?
cat .cache/servers-start.log
[ "$started" = 0 ] || exit "$started"
echo "== go test"
# Most integration tests wait on a server far more than they compute, so
# four test binaries run at once (-p 4) and up to four parallel tests in
# each (-parallel 4; the long independent ones call t.Parallel), instead of
# GOMAXPROCS (2 here) of each.
# shellcheck disable=SC2086
scripts/servers.sh run $servers -- \
    go test -race -count=1 -p 4 -parallel 4 -timeout 30m ./...
