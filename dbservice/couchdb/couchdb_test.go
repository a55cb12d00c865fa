package couchdb

import (
	"os"
	"strconv"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func testenvPassword() string { return os.Getenv(EnvPassword) }

// The long tests that share nothing (fresh collections, or a private
// server) call t.Parallel: they mostly wait on the server, so they overlap
// well. go test runs them after every serial test, so the tests that
// count the process's goroutines (the restart test) stay serial and see no
// one else's; the fault tests count only their own (testenv.Labeled).
func TestConformance(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return newServer(t) })
}

// TestDifferentialAgainstMemory runs 1000 random queries (conditions,
// orderings, projections, limits; half of them after EnsureIndex) on the
// real server and on the memory provider, and requires the same answers.
func TestDifferentialAgainstMemory(t *testing.T) {
	t.Parallel()
	dbtest.Differential(t, newServer(t), dbtest.DifferentialOptions{Replay: envReplay()})
}

// envReplay repeats a differential run: DBTEST_REPLAY=n.
func envReplay() uint64 {
	n, _ := strconv.ParseUint(os.Getenv("DBTEST_REPLAY"), 10, 64)
	return n
}
