#!/usr/bin/env bash
# The official Cloud Firestore emulator for the firestore provider's
# integration tests.
#
#   firestore.sh install            find and verify the emulator already on this machine
#   firestore.sh start STATE_DIR    run it on a free 127.0.0.1 port, write STATE_DIR/env
#   firestore.sh stop STATE_DIR     stop it by its recorded PID
#
# The emulator is Google's Java emulator from the Debian package
# google-cloud-cli-firestore-emulator. No registry reachable from here
# serves it, so install downloads nothing: it finds the jar (dpkg, or an
# existing gcloud installation, or FIRESTORE_EMULATOR_JAR) and, for the
# Debian package, checks the installed files against the package's own
# checksums with `dpkg --verify`. When there is no jar, start fails with
# that reason; servers.sh then makes the tests skip (or fail under
# SECUREDB_REQUIRE_SERVERS=1).
#
# start runs java directly rather than the gcloud wrapper script, whose
# child JVM would outlive the PID recorded here. Every port the emulator
# opens (gRPC/HTTP and its websocket) is checked to be bound to 127.0.0.1.
# The emulator has no authentication to configure: each start gets a
# generated project ID, which keeps its data apart from anything else.
#
# Set FIRESTORE_PORT to choose the port (a test restarting a private
# emulator uses it); otherwise a free one is picked.
set -euo pipefail
# shellcheck source=scripts/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKG=google-cloud-cli-firestore-emulator
MAIN=com.google.cloud.datastore.emulator.firestore.CloudFirestore

# find_jar prints the emulator jar's path, or fails.
find_jar() {
    local jar
    if [ -n "${FIRESTORE_EMULATOR_JAR:-}" ]; then
        [ -f "$FIRESTORE_EMULATOR_JAR" ] || { log "FIRESTORE_EMULATOR_JAR=$FIRESTORE_EMULATOR_JAR does not exist"; return 1; }
        echo "$FIRESTORE_EMULATOR_JAR"
        return 0
    fi
    if command -v dpkg >/dev/null; then
        jar=$(dpkg -L "$PKG" 2>/dev/null | grep 'cloud-firestore-emulator.jar$' | head -1) || true
        if [ -n "$jar" ] && [ -f "$jar" ]; then
            echo "$jar"
            return 0
        fi
    fi
    if command -v gcloud >/dev/null; then
        jar="$(cd "$(dirname "$(readlink -f "$(command -v gcloud)")")/.." && pwd)/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
        if [ -f "$jar" ]; then
            echo "$jar"
            return 0
        fi
    fi
    log "the Cloud Firestore emulator is not installed (Debian package $PKG, or \`gcloud components install cloud-firestore-emulator\`, or set FIRESTORE_EMULATOR_JAR)"
    return 1
}

install() {
    command -v java >/dev/null || { log "java not found (Java 11+ runs the Firestore emulator)"; return 1; }
    local jar
    jar=$(find_jar) || return 1
    if dpkg -S "$jar" >/dev/null 2>&1; then
        # dpkg --verify prints one line per file that differs from the
        # package's md5sums; silence means every file is as shipped.
        local bad
        bad=$(dpkg --verify "$PKG" 2>&1) || true
        if [ -n "$bad" ]; then
            log "installed files of $PKG differ from the package: $bad"
            return 1
        fi
        log "using $PKG $(dpkg-query -W -f='${Version}' "$PKG") ($jar), verified with dpkg --verify"
    else
        log "using $jar (not from a Debian package; not verified)"
    fi
}

# loopback_only PID: true when every TCP listener of PID is on 127.0.0.1
# (Java's dual-stack sockets show it as [::ffff:127.0.0.1]).
loopback_only() {
    command -v ss >/dev/null || { log "ss not found; cannot verify the listen addresses"; return 0; }
    local addrs
    addrs=$(ss -Hltnp | awk -v p="pid=$1," 'index($0, p) {print $4}')
    [ -n "$addrs" ] || return 1
    ! grep -Eqv '^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):' <<<"$addrs"
}

start() {
    local state=$1 port jar project pid i
    install
    jar=$(find_jar)
    mkdir -p "$state"
    port=${FIRESTORE_PORT:-$(free_port)}
    if port_in_use "$port"; then
        log "port $port is in use"
        return 1
    fi
    project="securedb-test-$(random_secret | head -c 12)"
    (
        cd "$state"
        exec java -Xmx1g -Duser.language=en -cp "$jar" "$MAIN" start --host=127.0.0.1 --port="$port"
    ) >"$state/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$state/pid"
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { log "the Firestore emulator exited; see $state/server.log"; return 1; }
        port_in_use "$port" && break
        sleep 0.1
    done
    wait_http "http://127.0.0.1:$port/" 20 || { log "the Firestore emulator did not answer on port $port"; return 1; }
    if ! loopback_only "$pid"; then
        log "the Firestore emulator listens beyond 127.0.0.1; refusing to run it"
        stop_pidfile "$state/pid"
        return 1
    fi
    cat >"$state/env" <<EOF
export FIRESTORE_EMULATOR_HOST=127.0.0.1:$port
export FIRESTORE_PROJECT_ID=$project
EOF
    chmod 600 "$state/env"
    log "Firestore emulator on 127.0.0.1:$port (pid $pid, project $project)"
}

stop() {
    stop_pidfile "$1/pid"
}

case "${1:-}" in
install) install ;;
start) [ -n "${2:-}" ] || { log "usage: $0 start STATE_DIR"; exit 2; }; start "$2" ;;
stop) [ -n "${2:-}" ] || { log "usage: $0 stop STATE_DIR"; exit 2; }; stop "$2" ;;
*) log "usage: $0 install | start STATE_DIR | stop STATE_DIR"; exit 2 ;;
esac
