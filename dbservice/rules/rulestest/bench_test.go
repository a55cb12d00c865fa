package rulestest_test

import (
	"syscall"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/dbservice/rules"
	"github.com/securedb-go/securedb/dbservice/rules/rulestest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// benchOps are the calls timed with and without rules: one per method the
// guide's rules decide differently (a rule on the ID, one on the stored
// document, a list decided from its conditions, writes).
func benchOps(b *testing.B, svc dbservice.Service, prefix string) map[string]func() error {
	ctx := dbservice.WithAuth(b.Context(), dbservice.Auth{UID: "alice"})
	users, agents, notes := prefix+"users", prefix+"agents", prefix+"notes"
	ownNotes := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "alice")}, Limit: 10}
	return map[string]func() error{
		"get-users":   func() error { _, err := svc.Get(ctx, users, "alice"); return err },
		"get-agents":  func() error { _, err := svc.Get(ctx, agents, "a1"); return err },
		"get-notes":   func() error { _, err := svc.Get(ctx, notes, "n1"); return err },
		"save-users":  func() error { _, err := svc.Save(ctx, users, "alice", dbservice.Doc{"name": "Alice"}); return err },
		"query-notes": func() error { _, err := svc.Query(ctx, notes, ownNotes); return err },
	}
}

var benchNames = []string{"get-users", "get-agents", "get-notes", "save-users", "query-notes"}

// BenchmarkRulesOverheadMemory times Guard+rules against Guard alone on
// the memory provider, where the difference is the rules' own cost:
// overhead-ns/op is what rules add to each call (goal: at most 2 µs for
// the guide's rules).
func BenchmarkRulesOverheadMemory(b *testing.B) {
	prefix := rulestest.Prefix()
	rs, err := rules.Load("firestore.rules", rulestest.Guide(prefix))
	if err != nil {
		b.Fatal(err)
	}
	raw := memory.New()
	setupBench(b, raw, prefix)
	plain := benchOps(b, dbservice.Guard(raw, dbservice.Policy{}), prefix)
	ruled := benchOps(b, dbservice.Guard(rules.Enforce(raw, rs), dbservice.Policy{}), prefix)
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			dbtest.Pair(b, plain[name], ruled[name])
			// On a loaded machine wall time is mostly waiting for a CPU;
			// the process CPU time of each side measures the work itself.
			rawCPU, libCPU := cpuPair(b, plain[name], ruled[name])
			b.ReportMetric(rawCPU, "raw-cpu-ns/op")
			b.ReportMetric(libCPU, "lib-cpu-ns/op")
			b.ReportMetric(libCPU-rawCPU, "overhead-cpu-ns/op")
		})
	}
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuPair runs raw and lib in alternating blocks of 1000 calls, as many
// blocks as b.N covers (at least one), and returns each side's CPU time
// per call.
func cpuPair(b *testing.B, raw, lib func() error) (rawNs, libNs float64) {
	const block = 1000
	var rawT, libT int64
	blocks := max(1, b.N/block)
	for i := range blocks {
		fns := []func() error{raw, lib}
		ts := []*int64{&rawT, &libT}
		if i%2 == 1 {
			fns[0], fns[1], ts[0], ts[1] = lib, raw, &libT, &rawT
		}
		for j, f := range fns {
			c0 := cpuTime()
			for range block {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			*ts[j] += cpuTime() - c0
		}
	}
	n := float64(blocks * block)
	return float64(rawT) / n, float64(libT) / n
}

// BenchmarkRulesOnRealServers times Guard+rules against Guard on each
// real server through securedb.Open (goal: x-vs-raw at most 1.03).
func BenchmarkRulesOnRealServers(b *testing.B) {
	for _, p := range []string{securedb.CouchDB, securedb.DynamoDB, securedb.Firestore} {
		b.Run(p, func(b *testing.B) {
			testenv.Need(b, p, serverVars[p]...)
			prefix := rulestest.Prefix()
			rs, err := rules.Load("firestore.rules", rulestest.Guide(prefix))
			if err != nil {
				b.Fatal(err)
			}
			open := func(rs *rules.Ruleset) dbservice.Service {
				cfg, err := securedb.ConfigFromEnvFor(p)
				if err != nil {
					b.Fatal(err)
				}
				cfg.DisableAudit = true
				if rs != nil {
					cfg.Rules = rs
				}
				svc, err := securedb.Open(b.Context(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = svc.Close() })
				return svc
			}
			raw := open(nil)
			setupBench(b, raw, prefix)
			plain, ruled := benchOps(b, raw, prefix), benchOps(b, open(rs), prefix)
			for _, name := range benchNames {
				b.Run(name, func(b *testing.B) { dbtest.Pair(b, plain[name], ruled[name]) })
			}
		})
	}
}

func setupBench(b *testing.B, raw dbservice.Service, prefix string) {
	ctx := b.Context()
	for _, d := range []struct {
		c, id string
		doc   dbservice.Doc
	}{
		{"users", "alice", dbservice.Doc{"name": "Alice"}},
		{"agents", "a1", dbtest.BenchDoc(1)},
		{"notes", "n1", dbservice.Doc{"owner": "alice", "text": "x"}},
		{"notes", "n2", dbservice.Doc{"owner": "bob", "text": "y"}},
	} {
		if _, err := raw.Save(ctx, prefix+d.c, d.id, d.doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck times one decision of the guide's rules without a store:
// the evaluation cost the rules layer adds to a call.
func BenchmarkCheck(b *testing.B) {
	rs, err := rules.Load("firestore.rules", rulestest.Guide(""))
	if err != nil {
		b.Fatal(err)
	}
	note := dbservice.Doc{"_id": "n1", "_rev": "1-a", "owner": "alice", "text": "x"}
	own := &dbservice.Query{Where: []dbservice.Cond{dbservice.Where("owner", dbservice.Eq, "alice")}, Limit: 10}
	for _, c := range []struct {
		name string
		req  rules.Request
	}{
		{"get-users", rules.Request{Auth: rulestest.Alice, Method: "get", Collection: "users", ID: "alice"}},
		{"update-agents-admin", rules.Request{Auth: rulestest.Admin, Method: "update", Collection: "agents", ID: "a1"}},
		{"get-notes", rules.Request{Auth: rulestest.Alice, Method: "get", Collection: "notes", ID: "n1", Resource: note}},
		{"denied-get-users", rules.Request{Auth: rulestest.Bob, Method: "get", Collection: "users", ID: "alice"}},
		{"list-notes-partial", rules.Request{Auth: rulestest.Alice, Method: "list", Collection: "notes", Query: own}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			c0 := cpuTime()
			for b.Loop() {
				rs.Check(c.req)
			}
			b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}
