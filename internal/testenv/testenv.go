// Package testenv finds the real database servers integration tests run
// against, and decides what happens when one is missing.
//
// Servers are described by environment variables, the same ones a user sets
// for their own deployment (COUCHDB_URL, DYNAMODB_ENDPOINT_URL,
// FIRESTORE_EMULATOR_HOST, ...). `make test` starts the servers with
// scripts/servers.sh and exports them. Under plain `go test ./...` a test
// whose server is missing skips with a one-line reason; with
// SECUREDB_REQUIRE_SERVERS=1 (CI) it fails instead, so a skipped
// integration test can never pass for a green run.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// RequireVar is the variable that turns a missing server into a failure.
const RequireVar = "SECUREDB_REQUIRE_SERVERS"

// Required reports whether missing servers must fail tests.
func Required() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv(RequireVar)))
	return v != "" && v != "0" && v != "false" && v != "no"
}

// Need returns the values of vars for server, in order. When any is unset it
// skips t with a reason naming the variables, or fails t when servers are
// required.
func Need(t testing.TB, server string, vars ...string) []string {
	t.Helper()
	vals := make([]string, len(vars))
	var missing []string
	for i, v := range vars {
		vals[i] = os.Getenv(v)
		if vals[i] == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		Missing(t, server, strings.Join(missing, ", ")+" not set; run `make test` or `scripts/servers.sh run "+server+" -- go test ./...`")
	}
	return vals
}

// Missing skips t (or fails it when servers are required) because server
// cannot be used, for the given reason.
func Missing(t testing.TB, server, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s integration test cannot run: %s (%s=1 forbids skipping)", server, reason, RequireVar)
	}
	t.Skipf("%s integration test skipped: %s", server, reason)
}

// RunPrefix is a random "sdbtXXXXXXXX_" prefix, fixed for one test binary,
// that keeps this run's databases, tables and collections apart from other
// runs on a shared server.
var RunPrefix = func() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "sdbt" + hex.EncodeToString(b[:]) + "_"
}()
