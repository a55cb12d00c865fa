#!/usr/bin/env bash
# The one entry point for the real database servers integration tests use.
#
#   scripts/servers.sh start NAME...        start servers (installing what is missing)
#   scripts/servers.sh stop [NAME...]       stop servers (all by default), by recorded PID
#   scripts/servers.sh env [NAME...]        print `export` lines for running servers
#   scripts/servers.sh run NAME... -- CMD   start, export, run CMD, stop; exits with CMD's code
#   scripts/servers.sh list                 names of the servers this project knows
#
# NAME is a script in scripts/servers/ (couchdb, couchdb-cluster, dynamodb,
# firestore, kms); every one of them is started by `make test`. Each
# one implements `install`, `start STATE_DIR` and `stop STATE_DIR`; start
# listens on a free 127.0.0.1 port only, records PIDs in STATE_DIR and writes
# the variables tests read to STATE_DIR/env. Downloads are pinned and
# checksum-verified into .cache/ (git-ignored).
#
# A server that cannot start is reported loudly and left out, so its tests
# skip; with SECUREDB_REQUIRE_SERVERS=1 it is an error instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/scripts/servers"
STATE="${SECUREDB_STATE_DIR:-$ROOT/.cache/state}"

die() { echo "servers.sh: $*" >&2; exit 1; }
required() { case "${SECUREDB_REQUIRE_SERVERS:-}" in ""|0|false|no) return 1;; *) return 0;; esac; }

known() { for f in "$DIR"/*.sh; do [ "$(basename "$f")" = lib.sh ] || basename "$f" .sh; done; }

check_name() {
    [ -f "$DIR/$1.sh" ] && [ "$1" != lib ] || die "unknown server '$1' (known: $(known | tr '\n' ' '))"
}

start_one() {
    local name=$1
    check_name "$name"
    if [ -f "$STATE/$name/env" ]; then
        echo "servers.sh: $name already running" >&2
        return 0
    fi
    mkdir -p "$STATE/$name"
    echo "servers.sh: starting $name" >&2
    if ! bash "$DIR/$name.sh" start "$STATE/$name"; then
        bash "$DIR/$name.sh" stop "$STATE/$name" >/dev/null 2>&1 || true
        rm -f "$STATE/$name/env"
        if required; then
            die "$name could not start and SECUREDB_REQUIRE_SERVERS is set"
        fi
        echo "servers.sh: WARNING: $name could not start; its integration tests will SKIP" >&2
        return 0
    fi
    [ -f "$STATE/$name/env" ] || die "$name started but wrote no env file"
}

stop_one() {
    local name=$1
    check_name "$name"
    [ -d "$STATE/$name" ] || return 0
    bash "$DIR/$name.sh" stop "$STATE/$name" || echo "servers.sh: stopping $name failed" >&2
    rm -f "$STATE/$name/env"
}

env_of() {
    local name
    for name in "$@"; do
        [ -f "$STATE/$name/env" ] && cat "$STATE/$name/env"
    done
    return 0
}

running() { for n in $(known); do [ -f "$STATE/$n/env" ] && echo "$n"; done; return 0; }

cmd=${1:-}
[ -n "$cmd" ] || die "usage: servers.sh start|stop|env|run|list ..."
shift
case "$cmd" in
list) known ;;
start) for n in "$@"; do start_one "$n"; done ;;
stop)
    if [ $# -eq 0 ]; then set -- $(known); fi
    for n in "$@"; do stop_one "$n"; done ;;
env)
    if [ $# -eq 0 ]; then set -- $(running); fi
    env_of "$@" ;;
run)
    names=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do names+=("$1"); shift; done
    [ "${1:-}" = "--" ] || die "usage: servers.sh run NAME... -- CMD..."
    shift
    [ $# -gt 0 ] || die "run needs a command after --"
    trap 'for n in "${names[@]}"; do stop_one "$n"; done' EXIT INT TERM
    for n in "${names[@]}"; do start_one "$n"; done
    set +e
    (
        set -a
        # shellcheck disable=SC1090
        eval "$(env_of "${names[@]}")"
        set +a
        "$@"
    )
    rc=$?
    set -e
    exit $rc ;;
*) die "unknown command '$cmd'" ;;
esac
