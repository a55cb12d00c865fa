#!/usr/bin/env bash
# local-kms (an AWS KMS emulator in Go) for the AWS KMS key-encryption key's
# integration tests.
#
#   kms.sh install            build the loopback launcher into .cache/kms
#   kms.sh start STATE_DIR    run it on a free 127.0.0.1 port, write STATE_DIR/env
#   kms.sh stop STATE_DIR     stop it by its recorded PID
#
# local-kms's own main listens on every interface, so it is never run. The
# launcher in scripts/servers/kms/ (its own Go module, so securedb's go.mod
# never requires the emulator) serves the emulator's exported handler on a
# loopback address only. The emulator's version is pinned by that module's
# go.mod and checked by its go.sum.
#
# Set KMS_PORT to choose the port (a fault test starting a private emulator
# uses it); otherwise a free one is picked. local-kms checks no signatures;
# the tests sign with dummy credentials of their own.
set -euo pipefail
# shellcheck source=scripts/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$ROOT/scripts/servers/kms"
DIR="$CACHE/kms"
BIN="$DIR/kms"
REGION=us-east-1
ACCOUNT=111122223333

install() {
    command -v go >/dev/null || { log "go not found"; return 1; }
    # Rebuild when the launcher or its pins changed since the last build.
    if [ -x "$BIN" ] && [ -z "$(find "$SRC" -newer "$BIN" -type f 2>/dev/null)" ]; then
        return 0
    fi
    mkdir -p "$DIR"
    log "building the local-kms launcher (first time: about a minute)"
    # GOFLAGS=-mod=readonly: go.sum must already hold every checksum.
    (cd "$SRC" && GOFLAGS=-mod=readonly go build -trimpath -o "$BIN.tmp" .)
    mv "$BIN.tmp" "$BIN"
}

bound_to_loopback_only() {
    command -v ss >/dev/null || { log "ss not found; cannot verify the listen address"; return 0; }
    local addrs
    addrs=$(ss -Hltn "sport = :$1" | awk '{print $4}')
    [ -n "$addrs" ] || return 1
    ! grep -Eqv '^127\.0\.0\.1:' <<<"$addrs"
}

start() {
    local state=$1 port pid i
    install
    mkdir -p "$state"
    port=${KMS_PORT:-$(free_port)}
    if port_in_use "$port"; then
        log "port $port is in use"
        return 1
    fi
    rm -rf "$state/data"
    "$BIN" -addr "127.0.0.1:$port" -data "$state/data" -region "$REGION" -account "$ACCOUNT" \
        >"$state/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$state/pid"
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { log "local-kms exited; see $state/server.log"; return 1; }
        port_in_use "$port" && break
        sleep 0.1
    done
    wait_http "http://127.0.0.1:$port/" 10 || { log "local-kms did not answer on port $port"; return 1; }
    # Another process may have taken the port first (then this one exits
    # on its bind error while the other answers): the one recorded must live.
    kill -0 "$pid" 2>/dev/null || { log "local-kms exited (port $port taken?); see $state/server.log"; return 1; }
    if ! bound_to_loopback_only "$port"; then
        log "local-kms listens beyond 127.0.0.1 on port $port; refusing to run it"
        stop_pidfile "$state/pid"
        return 1
    fi
    cat >"$state/env" <<EOF2
export KMS_ENDPOINT_URL=http://127.0.0.1:$port
export KMS_REGION=$REGION
export KMS_ACCOUNT_ID=$ACCOUNT
EOF2
    chmod 600 "$state/env"
    log "local-kms on 127.0.0.1:$port (pid $pid)"
}

stop() {
    stop_pidfile "$1/pid"
    rm -rf "$1/data"
}

case "${1:-}" in
install) install ;;
start) [ -n "${2:-}" ] || { log "usage: $0 start STATE_DIR"; exit 2; }; start "$2" ;;
stop) [ -n "${2:-}" ] || { log "usage: $0 stop STATE_DIR"; exit 2; }; stop "$2" ;;
*) log "usage: $0 install | start STATE_DIR | stop STATE_DIR"; exit 2 ;;
esac
