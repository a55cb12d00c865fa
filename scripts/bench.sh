#!/usr/bin/env bash
# `make bench`: every benchmark, against the same real servers in one run,
# written to bench/results.txt. Ratios (library vs raw SDK, cookie vs Basic,
# masking vs slog.JSONHandler, ...) are reported by the benchmarks themselves
# as custom metrics.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p bench
# shellcheck disable=SC2046
scripts/servers.sh run $(scripts/servers.sh list) -- \
    go test -run '^$' -bench . -benchmem -count=1 -timeout 120m ./... | tee bench/results.txt
