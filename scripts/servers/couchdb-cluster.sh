#!/usr/bin/env bash
# A three-node Apache CouchDB 3.5.0 cluster (n=3, q=2) for the couchdb
# provider's cluster tests: real quorum, real conflict revisions.
#
#   couchdb-cluster.sh install            verify the shared release (as couchdb.sh does)
#   couchdb-cluster.sh start STATE_DIR    three nodes on free 127.0.0.1 ports, write STATE_DIR/env
#   couchdb-cluster.sh stop STATE_DIR     stop every node and the epmd by their recorded PIDs
#
# The nodes are started by the shared couchdb-server.sh cluster-start in
# STATE_DIR/cluster (node1..node3, one loopback epmd, one cookie) with a
# generated admin password. As for the single node, every node gets a
# test-only ini lowering [chttpd_auth] iterations to 1000.
#
# Variables written to STATE_DIR/env: COUCHDB_CLUSTER_URL (node 1, the
# coordinator the tests talk to), COUCHDB_CLUSTER_USER,
# COUCHDB_CLUSTER_PASSWORD, COUCHDB_CLUSTER_NODE_URLS (every node's URL,
# comma-separated, in node order) and COUCHDB_CLUSTER_DIR (the base
# directory: a test stops node N with `couchdb-server.sh stop DIR/nodeN` and
# restarts it with `couchdb-server.sh node-start DIR N`; the script's path
# is in COUCHDB_SERVER_SCRIPT). STATE_DIR/pid holds node 1's PID.
#
# COUCHDB_CLUSTER_PORT chooses node 1's port. With COUCHDB_RESTART=1, start
# brings back the nodes of the previous start in STATE_DIR that are gone,
# keeping their data; otherwise every start is fresh.
set -euo pipefail
# shellcheck source=scripts/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARED="${COUCHDB_SHARED_DIR:-$ROOT/../shared/couchdb}"
TARBALL_NAME=couchdb-3.5.0-bookworm-x86_64.tar.xz
ADMIN=admin
NODES=3

install() { bash "$(dirname "${BASH_SOURCE[0]}")/couchdb.sh" install; }

# restart STATE_DIR: start again every node of the cluster in STATE_DIR
# whose process is gone, with its name, cookie and data.
restart() {
    local state=$1 base=$1/cluster n pid
    for n in $(seq 1 $NODES); do
        pid=$(cat "$base/node$n/couchdb.pid" 2>/dev/null || true)
        # Alive and not a zombie (a killed node no one reaped yet).
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
            && [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" != Z ]; then continue; fi
        "$SHARED/couchdb-server.sh" node-start "$base" "$n" >>"$state/start.log" 2>&1 \
            || { log "node $n did not start again; see $state/start.log"; return 1; }
    done
    cp "$base/node1/couchdb.pid" "$state/pid"
    log "CouchDB cluster in $base running again"
}

start() {
    local state=$1 base pw ports=() p n urls=""
    mkdir -p "$CACHE" "$state"
    install
    SHARED="$(cd "$SHARED" && pwd -P)"
    state="$(cd "$state" && pwd -P)"
    [ "$state" != / ] || { log "refusing to use / as the state directory"; return 1; }
    base="$state/cluster"
    if [ "${COUCHDB_RESTART:-}" = 1 ] && [ -f "$base/cluster.env" ]; then
        restart "$state"
        return
    fi
    if [ -f "$base/cluster.env" ]; then
        "$SHARED/couchdb-server.sh" cluster-stop "$base" >/dev/null 2>&1 || true
    fi
    rm -rf "$base"
    mkdir -p "$base"
    # A private instance's first port comes from testenv.StartServer.
    p=${COUCHDB_CLUSTER_PORT:-$(printenv COUCHDB-CLUSTER_PORT || true)}
    [ -z "$p" ] || ports+=("$p")
    while [ ${#ports[@]} -lt $NODES ]; do
        p=$(free_port)
        [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
    done
    pw=$(random_secret)
    (umask 077 && printf '%s' "$pw" >"$state/admin.secret")
    # cluster-start unpacks each node only when its directory lacks the
    # release, so the test ini can go in first.
    for n in $(seq 1 $NODES); do
        mkdir -p "$base/node$n/etc/local.d"
        cat >"$base/node$n/etc/local.d/20-securedb-test.ini" <<'EOF'
; written by scripts/servers/couchdb-cluster.sh, for tests only: cheap
; password hashing for the users the tests create. Production keeps 600000.
[chttpd_auth]
iterations = 1000
EOF
        urls="${urls:+$urls,}http://127.0.0.1:${ports[$((n - 1))]}"
    done
    COUCHDB_TARBALL="$SHARED/$TARBALL_NAME" "$SHARED/couchdb-server.sh" cluster-start "$base" \
        "$(IFS=,; echo "${ports[*]}")" "$ADMIN" "$pw" >"$state/start.log" 2>&1 \
        || { log "the CouchDB cluster did not start; see $state/start.log"; tail -n 20 "$state/start.log" >&2; return 1; }
    for n in $(seq 1 $NODES); do chmod 600 "$base/node$n/etc/local.d/10-test.ini" 2>/dev/null || true; done
    (umask 077 && cat >"$state/env" <<EOF
export COUCHDB_CLUSTER_URL=http://127.0.0.1:${ports[0]}
export COUCHDB_CLUSTER_USER=$ADMIN
export COUCHDB_CLUSTER_PASSWORD=$pw
export COUCHDB_CLUSTER_NODE_URLS=$urls
export COUCHDB_CLUSTER_DIR=$base
export COUCHDB_SERVER_SCRIPT=$SHARED/couchdb-server.sh
EOF
    )
    cp "$base/node1/couchdb.pid" "$state/pid"
    log "CouchDB 3.5.0 cluster of $NODES nodes on 127.0.0.1 ports ${ports[*]}"
}

stop() {
    local base="$1/cluster"
    [ -f "$base/cluster.env" ] || return 0
    "$SHARED/couchdb-server.sh" cluster-stop "$base" >/dev/null
}

case "${1:-}" in
install) mkdir -p "$CACHE"; install ;;
start) [ -n "${2:-}" ] || { log "usage: $0 start STATE_DIR"; exit 2; }; start "$2" ;;
stop) [ -n "${2:-}" ] || { log "usage: $0 stop STATE_DIR"; exit 2; }; stop "$2" ;;
*) log "usage: $0 install | start STATE_DIR | stop STATE_DIR"; exit 2 ;;
esac
