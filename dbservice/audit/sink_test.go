package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
)

func TestARecordHoldsGuardsFieldsAndTheHashOfTheLineBefore(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 12, 1, 8, 30, 0, 123456789, time.FixedZone("CET", 3600))
	s := audit.New(&buf, audit.Options{Now: func() time.Time { return at }})
	ctx := context.Background()
	first := dbservice.AuditRecord{Op: "query", Collection: "agents", Principal: "svc-1", Outcome: "ok", Count: 2, HasCount: true, Duration: 1500 * time.Microsecond}
	second := dbservice.AuditRecord{Op: "get", Collection: "agents", ID: "a1", Outcome: "rejected", ErrorKind: "not_found", Duration: time.Millisecond}
	for _, r := range []dbservice.AuditRecord{first, second} {
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	lines := splitLines(buf.Bytes())
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (no checkpoints without a signer):\n%s", len(lines), buf.String())
	}
	var got [2]map[string]any
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &got[i]); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
	}
	zero := make([]byte, sha256.Size)
	h := leafHash(lines[0])
	want := [2]map[string]any{
		{"seq": 0.0, "time": "2026-12-01T07:30:00.123456789Z", "op": "query", "collection": "agents", "principal": "svc-1", "outcome": "ok", "count": 2.0, "duration_ns": 1.5e6, "prev": b64(zero)},
		{"seq": 1.0, "time": "2026-12-01T07:30:00.123456789Z", "op": "get", "collection": "agents", "id": "a1", "outcome": "rejected", "error_kind": "not_found", "duration_ns": 1e6, "prev": b64(h[:])},
	}
	for i := range got {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("record %d = %v\nwant %v", i, got[i], want[i])
		}
	}
	if info := s.TrailInfo(); !info.Chained || info.Signed || !info.FailClosed {
		t.Errorf("TrailInfo = %+v, want chained, unsigned, fail-closed", info)
	}
}

func b64(b []byte) string {
	s, _ := json.Marshal(b)
	return strings.Trim(string(s), `"`)
}

func TestProveShowsOneRecordIsInTheSignedTree(t *testing.T) {
	signer, vkey := newKey(t)
	trail := writeTrail(t, 37, audit.Options{Signer: signer, CheckpointEvery: 10, CheckpointInterval: -1})
	for _, seq := range []int64{0, 1, 17, 36} {
		p, err := audit.Prove(bytes.NewReader(trail), seq)
		if err != nil {
			t.Fatalf("Prove(%d): %v", seq, err)
		}
		if err := audit.CheckProof(p, vkey); err != nil {
			t.Fatalf("CheckProof(%d): %v", seq, err)
		}
		// The proof survives JSON, the form it travels in.
		b, _ := json.Marshal(p)
		var back audit.Proof
		if err := json.Unmarshal(b, &back); err != nil || audit.CheckProof(back, vkey) != nil {
			t.Fatalf("a proof read back from JSON does not check: %v", err)
		}
		forged := p
		forged.Record = strings.Replace(p.Record, `"outcome":"ok"`, `"outcome":"denied"`, 1)
		if err := audit.CheckProof(forged, vkey); !errors.Is(err, audit.ErrTampered) {
			t.Errorf("a proof for an edited record checks: %v", err)
		}
		other := p
		other.Seq = (seq + 1) % 37
		if err := audit.CheckProof(other, vkey); !errors.Is(err, audit.ErrTampered) {
			t.Errorf("a proof moved to another position checks: %v", err)
		}
	}
	_, wrongKey := newKey(t)
	p, _ := audit.Prove(bytes.NewReader(trail), 3)
	if err := audit.CheckProof(p, wrongKey); !errors.Is(err, audit.ErrTampered) {
		t.Errorf("a proof checks against another key: %v", err)
	}
	// Without the final checkpoint the last records are covered by none.
	lines := splitLines(trail)
	if _, err := audit.Prove(bytes.NewReader(joinLines(lines[:len(lines)-1])), 36); !errors.Is(err, audit.ErrNotCovered) {
		t.Errorf("Prove of an unsigned record = %v, want ErrNotCovered", err)
	}
}

func TestResumeContinuesTheTrail(t *testing.T) {
	signer, vkey := newKey(t)
	opts := audit.Options{Signer: signer, Now: clock(), CheckpointEvery: 3, CheckpointInterval: -1}
	var trail bytes.Buffer
	s := audit.New(&trail, opts)
	for i := range 5 {
		_ = s.Append(t.Context(), rec(i))
	}
	// A crash: no Close, so records 3 and 4 are after the last checkpoint.
	s2, err := audit.Resume(&trail, bytes.NewReader(bytes.Clone(trail.Bytes())), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 9; i++ {
		if err := s2.Append(t.Context(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(bytes.NewReader(trail.Bytes()), vkey)
	if err != nil || !rep.Clean() || rep.Records != 9 {
		t.Fatalf("the resumed trail: %v, %v; want 9 clean records", rep, err)
	}

	broken := bytes.Replace(trail.Bytes(), []byte(`"outcome":"ok"`), []byte(`"outcome":"no"`), 1)
	if _, err := audit.Resume(io.Discard, bytes.NewReader(broken), opts); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("Resume of a broken trail = %v, want ErrTampered", err)
	}
}

// provider counts the calls that reach the provider under Guard.
type provider struct {
	dbservice.Service
	mu    sync.Mutex
	calls int
}

func (p *provider) Save(ctx context.Context, c, id string, d dbservice.Doc, o ...dbservice.WriteOption) (string, error) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	return p.Service.Save(ctx, c, id, d, o...)
}

func TestFailClosedRefusesOperationsOnceARecordIsLost(t *testing.T) {
	signer, vkey := newKey(t)
	w := &failingWriter{ok: 2}
	var onError []error
	s := audit.New(w, audit.Options{Signer: signer, Now: clock(), CheckpointEvery: -1, CheckpointInterval: -1, OnError: func(err error) { onError = append(onError, err) }})
	p := &provider{Service: memory.New()}
	db := dbservice.Guard(p, dbservice.Policy{AuditTrail: s})
	ctx := t.Context()
	for i := range 2 {
		if _, err := db.Save(ctx, "agents", fmt.Sprint("a", i), dbservice.Doc{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	// The third record cannot be written: the save it records has happened,
	// and says so by failing with the trail's error.
	_, err := db.Save(ctx, "agents", "a2", dbservice.Doc{"n": 2})
	if !errors.Is(err, audit.ErrWriteFailed) || !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("Save whose record was lost = %v, want ErrWriteFailed and ErrUnavailable", err)
	}
	if p.calls != 3 {
		t.Fatalf("%d saves reached the provider, want 3", p.calls)
	}
	// From now on nothing reaches the provider, reads included.
	if _, err := db.Save(ctx, "agents", "a3", dbservice.Doc{"n": 3}); !errors.Is(err, audit.ErrWriteFailed) {
		t.Fatalf("Save after the loss = %v, want ErrWriteFailed", err)
	}
	if doc, err := db.Get(ctx, "agents", "a0"); !errors.Is(err, audit.ErrWriteFailed) || doc != nil {
		t.Fatalf("Get after the loss = %v, %v; want no document and ErrWriteFailed", doc, err)
	}
	refused := map[string]func() error{
		"query": func() error { _, err := db.Query(ctx, "agents", dbservice.Query{}); return err },
		"get-many": func() error {
			docs, _, err := db.GetMany(ctx, "agents", []string{"a0"})
			if docs != nil {
				t.Error("GetMany returned documents")
			}
			return err
		},
		"count":        func() error { _, err := db.Count(ctx, "agents", nil); return err },
		"delete-many":  func() error { return db.DeleteMany(ctx, "agents", []string{"a0"}) },
		"delete":       func() error { return db.Delete(ctx, "agents", "a0") },
		"ensure-index": func() error { return db.EnsureIndex(ctx, "agents", "n") },
		"ping":         func() error { return db.Ping(ctx) },
		"update": func() error {
			_, err := db.Update(ctx, "agents", "a0", []dbservice.Mutation{dbservice.Set("n", 9)})
			return err
		},
		"save-many": func() error {
			return db.(dbservice.BulkWriter).SaveMany(ctx, "agents", []dbservice.BulkItem{{ID: "b1", Doc: dbservice.Doc{}}})
		},
	}
	for op, call := range refused {
		if err := call(); !errors.Is(err, audit.ErrWriteFailed) {
			t.Errorf("%s after the loss = %v, want ErrWriteFailed", op, err)
		}
	}
	if n, _ := p.Service.Count(ctx, "agents", nil); n != 3 {
		t.Errorf("the provider holds %d documents, want the 3 saved before the loss", n)
	}
	if p.calls != 3 {
		t.Fatalf("%d saves reached the provider after the trail failed, want none", p.calls-3)
	}
	if s.Failures() != 1 || len(onError) != 1 {
		t.Fatalf("Failures = %d, OnError calls = %d; want 1 and 1", s.Failures(), len(onError))
	}

	// Rotate repairs the trail; its first record says how much it missed.
	var next bytes.Buffer
	if err := s.Rotate(&next); err != nil {
		t.Fatal(err) // a failed sink writes no final checkpoint to the writer that failed
	}
	if _, err := db.Save(ctx, "agents", "a4", dbservice.Doc{"n": 4}); err != nil {
		t.Fatalf("Save after Rotate: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(io.MultiReader(bytes.NewReader(w.buf.Bytes()), bytes.NewReader(next.Bytes())), vkey)
	if err != nil || !rep.Clean() || rep.Records != 4 {
		t.Fatalf("old+new trail: %v, %v; want 4 clean records", rep, err)
	}
	var gap struct {
		Op    string
		Count int
	}
	_ = json.Unmarshal([]byte(splitLines(next.Bytes())[0]), &gap)
	if gap.Op != "audit-gap" || gap.Count != 12 {
		t.Fatalf("first record after Rotate = %+v, want an audit-gap of 12 (the lost save and the 11 refused operations)", gap)
	}
}

func TestFailOpenLetsOperationsGoOnAndTheTrailShowsTheGap(t *testing.T) {
	signer, vkey := newKey(t)
	w := &failingWriter{ok: 1 << 30}
	var failures int
	s := audit.New(w, audit.Options{Signer: signer, Now: clock(), FailOpen: true, CheckpointEvery: -1, CheckpointInterval: -1, OnError: func(error) { failures++ }})
	db := dbservice.Guard(memory.New(), dbservice.Policy{AuditTrail: s})
	ctx := t.Context()
	for i := range 5 {
		w.broken = i == 2
		if _, err := db.Save(ctx, "agents", fmt.Sprint("a", i), dbservice.Doc{"n": i}); err != nil {
			t.Fatalf("save %d: %v (a fail-open trail must not fail operations)", i, err)
		}
	}
	if info := s.TrailInfo(); info.FailClosed {
		t.Error("a fail-open sink says it fails closed")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Failures() != 1 || failures != 1 {
		t.Fatalf("Failures = %d, OnError calls = %d; want 1 and 1", s.Failures(), failures)
	}
	_, err := audit.Verify(bytes.NewReader(w.buf.Bytes()), vkey)
	var b *audit.Break
	if !errors.As(err, &b) || b.Kind != audit.Deleted || b.Line != 3 {
		t.Fatalf("Verify = %v, want record 2 missing at line 3", err)
	}
}

func TestEightGoroutinesOfAThousandOperationsVerifyClean(t *testing.T) {
	signer, vkey := newKey(t)
	var buf bytes.Buffer
	s := audit.New(&buf, audit.Options{Signer: signer})
	db := dbservice.Guard(memory.New(), dbservice.Policy{AuditTrail: s})
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := dbservice.WithPrincipal(context.Background(), fmt.Sprint("worker-", w))
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i%50)
				var err error
				switch i % 4 {
				case 0:
					_, err = db.Save(ctx, "agents", id, dbservice.Doc{"i": i})
				case 1:
					_, err = db.Get(ctx, "agents", id)
				case 2:
					_, err = db.Query(ctx, "agents", dbservice.Query{Limit: 5})
				default:
					err = db.Delete(ctx, "agents", id)
				}
				if err != nil && !errors.Is(err, dbservice.ErrNotFound) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(bytes.NewReader(buf.Bytes()), vkey)
	if err != nil || !rep.Clean() || rep.Records != workers*each {
		t.Fatalf("Verify = %v, %v; want %d clean records", rep, err, workers*each)
	}
	perWorker := map[string]int{}
	var seq int64
	for _, l := range splitLines(buf.Bytes()) {
		var r struct {
			Seq        *int64
			Principal  string
			Checkpoint string
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.Checkpoint != "" {
			continue
		}
		if *r.Seq != seq {
			t.Fatalf("record %d has seq %d", seq, *r.Seq)
		}
		seq++
		perWorker[r.Principal]++
	}
	for w := range workers {
		if n := perWorker[fmt.Sprint("worker-", w)]; n != each {
			t.Errorf("worker %d has %d records, want %d", w, n, each)
		}
	}
	if rep.Checkpoints != workers*each/audit.DefaultCheckpointEvery {
		t.Errorf("%d checkpoints, want one per %d records", rep.Checkpoints, audit.DefaultCheckpointEvery)
	}
}
