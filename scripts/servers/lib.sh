# Shared helpers for scripts/servers/NAME.sh; sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.cache"

log() { echo "[$(basename "$0" .sh)] $*" >&2; }

# port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" >/dev/null 2>&1; }

# free_port: a random free loopback port between 20000 and 22767. It stays
# below the kernel's ephemeral range (32768-60999), where a port that
# answers no connection may still be bound by an outgoing socket, and so
# does CouchDB's private epmd at port+10000.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 2768))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}

# wait_http URL SECONDS: wait until URL answers with any HTTP status.
wait_http() {
    local url=$1 secs=$2 i code
    for i in $(seq 1 $((secs * 10))); do
        code=$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$url" 2>/dev/null) || true
        [ -n "$code" ] && [ "$code" != 000 ] && return 0
        sleep 0.1
    done
    return 1
}

# random_secret: a generated password, letters and digits only.
random_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 32; }

# stop_pidfile FILE: SIGTERM the recorded process (and its children), SIGKILL after 20 s.
stop_pidfile() {
    local f=$1 pid i
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

# sha256_check FILE SUM: fail unless FILE has the SHA-256 SUM.
sha256_check() {
    local got
    got=$(sha256sum "$1" | awk '{print $1}')
    [ "$got" = "$2" ] || { log "checksum mismatch for $1: got $got, want $2"; return 1; }
}
