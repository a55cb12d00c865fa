package audit_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// reportCPU adds cpu-ns/op, the process's CPU time per operation, which
// a loaded machine does not inflate as it does ns/op. Benchmarks that use
// it run single-threaded, so that the figure is one operation's cost.
func reportCPU(b *testing.B, start time.Duration) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkAppend is the cost of one record with the writer's own cost
// taken out (io.Discard): the canonical encoding, two SHA-256 (chain and
// Merkle leaf) and the tree's interior hashes. The goal is 2 µs.
func BenchmarkAppend(b *testing.B) {
	r := dbservice.AuditRecord{Op: "get", Collection: "agents", ID: "a1", Principal: "svc-1", Outcome: "ok", Duration: 1234}
	b.Run("chained", func(b *testing.B) {
		s := audit.New(io.Discard, audit.Options{CheckpointInterval: -1})
		start := cpuTime()
		for b.Loop() {
			_ = s.Append(context.Background(), r)
		}
		reportCPU(b, start)
	})
	b.Run("signed every 1000", func(b *testing.B) {
		signer, _ := newKey(b)
		s := audit.New(io.Discard, audit.Options{Signer: signer, CheckpointInterval: -1})
		start := cpuTime()
		for b.Loop() {
			_ = s.Append(context.Background(), r)
		}
		reportCPU(b, start)
		_ = s.Close()
	})
	b.Run("parallel", func(b *testing.B) {
		s := audit.New(io.Discard, audit.Options{CheckpointInterval: -1})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = s.Append(context.Background(), r)
			}
		})
	})
}

// BenchmarkCheckpoint is the cost of one checkpoint: the Merkle root from
// the frontier, an Ed25519 signature in a note, one line.
func BenchmarkCheckpoint(b *testing.B) {
	signer, _ := newKey(b)
	s := audit.New(io.Discard, audit.Options{Signer: signer, CheckpointEvery: -1, CheckpointInterval: -1})
	r := dbservice.AuditRecord{Op: "get", Collection: "agents", ID: "a1", Outcome: "ok"}
	for range 1 << 20 {
		_ = s.Append(context.Background(), r)
	}
	var appends time.Duration
	start := cpuTime()
	for b.Loop() {
		b.StopTimer()
		t := cpuTime()
		_ = s.Append(context.Background(), r) // so that there is something new to sign
		appends += cpuTime() - t
		b.StartTimer()
		if err := s.Checkpoint(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start+appends)
}

// BenchmarkGuardGet is Guard over memory with the trail on and off: what
// the trail adds to an operation.
func BenchmarkGuardGet(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, p dbservice.Policy) {
		db := dbservice.Guard(memory.New(), p)
		if _, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"n": 1}); err != nil {
			b.Fatal(err)
		}
		start := cpuTime()
		for b.Loop() {
			if _, err := db.Get(ctx, "agents", "a1"); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	}
	b.Run("no trail", func(b *testing.B) { run(b, dbservice.Policy{}) })
	b.Run("trail", func(b *testing.B) {
		signer, _ := newKey(b)
		run(b, dbservice.Policy{AuditTrail: audit.New(io.Discard, audit.Options{Signer: signer, CheckpointInterval: -1})})
	})
}

// BenchmarkVerify is the cost of checking one record of a signed trail.
func BenchmarkVerify(b *testing.B) {
	signer, vkey := newKey(b)
	trail := writeTrail(b, 10000, audit.Options{Signer: signer, CheckpointInterval: -1})
	b.SetBytes(int64(len(trail)))
	start := cpuTime()
	for b.Loop() {
		if _, err := audit.Verify(bytes.NewReader(trail), vkey); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/record")
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N)/10000, "cpu-ns/record")
}
