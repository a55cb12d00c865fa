#!/usr/bin/env bash
# `make test-faults`: the fault tests (servers frozen with SIGSTOP, killed
# and restarted, on every backend) and the CouchDB cluster suite, built with
# the faults tag, against every server including the three-node cluster.
# They stay out of `make test`, whose 15 minutes they would exceed on a
# 2-core machine; COUNT=N repeats them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC2046
scripts/servers.sh run $(scripts/servers.sh list) -- \
    go test -tags faults -race -count="${COUNT:-1}" -timeout 40m -run 'Fault|Cluster|Conditional|KilledMidRun|FirstWrites|SeparateServices|Answered500' ./dbservice/...
