package couchdb

import (
	"os"
	"strconv"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func testenvPassword() string { return os.Getenv(EnvPassword) }

func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return newServer(t) })
}

// TestDifferentialAgainstMemory runs 1000 random queries (conditions,
// orderings, projections, limits; half of them after EnsureIndex) on the
// real server and on the memory provider, and requires the same answers.
func TestDifferentialAgainstMemory(t *testing.T) {
	dbtest.Differential(t, newServer(t), dbtest.DifferentialOptions{Replay: envReplay()})
}

// envReplay repeats a differential run: DBTEST_REPLAY=n.
func envReplay() uint64 {
	n, _ := strconv.ParseUint(os.Getenv("DBTEST_REPLAY"), 10, 64)
	return n
}
