#!/usr/bin/env bash
# The project's test command (`make test`): vet, staticcheck, then every test
# with the race detector against every real server that can be started here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATICCHECK_VERSION=v0.8.2

echo "== go vet"
go vet ./...
echo "== staticcheck $STATICCHECK_VERSION"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...
echo "== go test (servers: $(scripts/servers.sh list | tr '\n' ' '))"
# shellcheck disable=SC2046
scripts/servers.sh run $(scripts/servers.sh list) -- \
    go test -race -count=1 -timeout 20m ./...
