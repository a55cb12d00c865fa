#!/usr/bin/env bash
# Apache CouchDB 3.5.0 for the couchdb provider's integration tests.
#
#   couchdb.sh install            verify the shared release and its runtime packages
#   couchdb.sh start STATE_DIR    run it on a free 127.0.0.1 port, write STATE_DIR/env
#   couchdb.sh stop STATE_DIR     stop it by its recorded PIDs
#
# The release is the prebuilt, unmodified CouchDB 3.5.0 in ../shared/couchdb
# (override with COUCHDB_SHARED_DIR): its tarball is checked against the
# SHA256SUMS shipped beside it before every start, and its own
# couchdb-server.sh unpacks and runs it in STATE_DIR/couchdb with a generated
# admin password. couchjs (JavaScript views, validate_doc_update) needs
# libmozjs-102-0 from apt; Mango (_find, _index), which the provider uses,
# does not, so a failed apt install is a warning, not an error.
#
# For tests only, STATE_DIR/couchdb/etc/local.d/20-securedb-test.ini lowers
# [chttpd_auth] iterations from CouchDB's 600000 to 1000: each user created
# with a password then costs about 1 ms instead of 0.3 s on its first login.
# A production server keeps the default. Passwords hashed before a change
# keep their own iteration count (stored with the hash).
#
# Variables written to STATE_DIR/env: COUCHDB_URL, COUCHDB_USER and
# COUCHDB_PASSWORD (the server admin: the suite provisions its own non-admin
# users with it), and SECUREDB_COUCHDB_DIR (the server's directory).
#
# Set COUCHDB_PORT to choose the port. With COUCHDB_RESTART=1, start reuses
# the port, admin password and data of the previous start in the same
# STATE_DIR (a test stopping and restarting a private server uses it);
# otherwise every start is fresh.
set -euo pipefail
# shellcheck source=scripts/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARED="${COUCHDB_SHARED_DIR:-$ROOT/../shared/couchdb}"
TARBALL_NAME=couchdb-3.5.0-bookworm-x86_64.tar.xz
ADMIN=admin

install() {
    [ -d "$SHARED" ] || { log "no CouchDB release at $SHARED (set COUCHDB_SHARED_DIR, or point COUCHDB_URL at your own server)"; return 1; }
    SHARED="$(cd "$SHARED" && pwd -P)"
    local tarball="$SHARED/$TARBALL_NAME" want
    [ -f "$tarball" ] && [ -f "$SHARED/SHA256SUMS" ] && [ -x "$SHARED/couchdb-server.sh" ] \
        || { log "$SHARED lacks $TARBALL_NAME, SHA256SUMS or couchdb-server.sh"; return 1; }
    want=$(awk -v f="$TARBALL_NAME" '$2 == f || $2 == "*"f {print $1}' "$SHARED/SHA256SUMS")
    [ -n "$want" ] || { log "SHA256SUMS has no line for $TARBALL_NAME"; return 1; }
    sha256_check "$tarball" "$want"
    if ! dpkg -s libmozjs-102-0 >/dev/null 2>&1; then
        log "installing libmozjs-102-0 (couchjs, for JavaScript views)"
        if ! { apt-get update -qq && apt-get install -y -qq libmozjs-102-0; } >"$CACHE/couchdb-apt.log" 2>&1; then
            log "WARNING: apt-get install libmozjs-102-0 failed (see $CACHE/couchdb-apt.log); JavaScript views will not work, Mango does"
        fi
    fi
}

start() {
    local state=$1 port pw srv
    mkdir -p "$CACHE" "$state"
    install
    state="$(cd "$state" && pwd -P)"
    srv="$state/couchdb"
    # A killed server no one reaped yet is a zombie: gone, though kill -0 works.
    if [ -f "$srv/couchdb.pid" ] && kill -0 "$(cat "$srv/couchdb.pid")" 2>/dev/null \
        && [ "$(sed 's/.*) //' "/proc/$(cat "$srv/couchdb.pid")/stat" 2>/dev/null | cut -c1)" != Z ]; then
        log "a CouchDB is already running in $srv (pid $(cat "$srv/couchdb.pid"))"
        return 1
    fi
    if [ "${COUCHDB_RESTART:-}" = 1 ] && [ -f "$state/port" ] && [ -f "$state/admin.secret" ]; then
        port=$(cat "$state/port")
        pw=$(cat "$state/admin.secret")
    else
        # Fresh: no data, and no configuration a previous run changed
        # through the config API (CouchDB writes those into its ini files).
        [ "$state" != / ] || { log "refusing to use / as the state directory"; return 1; }
        rm -rf "$srv"
        port=${COUCHDB_PORT:-$(free_port)}
        pw=$(random_secret)
        (umask 077 && printf '%s' "$pw" >"$state/admin.secret")
        echo "$port" >"$state/port"
    fi
    if port_in_use "$port"; then
        log "port $port is in use"
        return 1
    fi
    mkdir -p "$srv/etc/local.d"
    cat >"$srv/etc/local.d/20-securedb-test.ini" <<'EOF'
; written by scripts/servers/couchdb.sh, for tests only: cheap password
; hashing for the users the tests create. Production keeps 600000.
[chttpd_auth]
iterations = 1000
EOF
    # The shared script takes the password as an argument; keep it off this
    # script's own output.
    COUCHDB_TARBALL="$SHARED/$TARBALL_NAME" "$SHARED/couchdb-server.sh" start "$srv" "$port" "$ADMIN" "$pw" >"$state/start.log" 2>&1 \
        || { log "CouchDB did not start; see $state/start.log"; tail -n 20 "$state/start.log" >&2; return 1; }
    chmod 600 "$srv/etc/local.d/10-test.ini" 2>/dev/null || true
    (umask 077 && cat >"$state/env" <<EOF
export COUCHDB_URL=http://127.0.0.1:$port
export COUCHDB_USER=$ADMIN
export COUCHDB_PASSWORD=$pw
export SECUREDB_COUCHDB_DIR=$srv
EOF
    )
    # The serving process (beam.smp), for tests that signal it.
    cp "$srv/couchdb.pid" "$state/pid"
    log "CouchDB 3.5.0 on 127.0.0.1:$port (pid $(cat "$srv/couchdb.pid"))"
}

stop() {
    local srv="$1/couchdb"
    [ -f "$srv/couchdb.pid" ] || [ -f "$srv/epmd.pid" ] || return 0
    "$SHARED/couchdb-server.sh" stop "$srv" >/dev/null
}

case "${1:-}" in
install) mkdir -p "$CACHE"; install ;;
start) [ -n "${2:-}" ] || { log "usage: $0 start STATE_DIR"; exit 2; }; start "$2" ;;
stop) [ -n "${2:-}" ] || { log "usage: $0 stop STATE_DIR"; exit 2; }; stop "$2" ;;
*) log "usage: $0 install | start STATE_DIR | stop STATE_DIR"; exit 2 ;;
esac
