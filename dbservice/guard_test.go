package dbservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// counting records how many calls reach the guarded service.
type counting struct {
	dbservice.Service
	calls atomic.Int64
}

func (c *counting) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	c.calls.Add(1)
	return c.Service.Get(ctx, coll, id)
}

func (c *counting) Save(ctx context.Context, coll, id string, d dbservice.Doc, o ...dbservice.WriteOption) (string, error) {
	c.calls.Add(1)
	return c.Service.Save(ctx, coll, id, d, o...)
}

func (c *counting) Delete(ctx context.Context, coll, id string, o ...dbservice.WriteOption) error {
	c.calls.Add(1)
	return c.Service.Delete(ctx, coll, id, o...)
}

func (c *counting) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	c.calls.Add(1)
	return c.Service.Query(ctx, coll, q)
}

func newGuard(t *testing.T, p dbservice.Policy) (dbservice.Service, *counting, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	if p.Audit == nil {
		p.Audit = slog.New(slog.NewJSONHandler(&buf, nil))
	}
	inner := &counting{Service: memory.New()}
	return dbservice.Guard(inner, p), inner, &buf
}

func auditRecords(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func TestGuardRefusesBeforeReachingTheProvider(t *testing.T) {
	g, inner, _ := newGuard(t, dbservice.Policy{
		Collections: validate.Allowlist{"agents", "users"},
		ReadOnly:    []string{"users"},
		Limits:      validate.Limits{MaxStringLen: 10},
	})
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"a collection outside the allowlist", func() error { _, err := g.Get(ctx, "tickets", "a"); return err }, dbservice.ErrInvalid},
		{"a hostile ID", func() error { _, err := g.Get(ctx, "agents", "../x"); return err }, dbservice.ErrInvalid},
		{"an operator key", func() error {
			_, err := g.Save(ctx, "agents", "a", dbservice.Doc{"$where": "1"})
			return err
		}, dbservice.ErrInvalid},
		{"a string over the policy limit", func() error {
			_, err := g.Save(ctx, "agents", "a", dbservice.Doc{"s": "12345678901"})
			return err
		}, dbservice.ErrInvalid},
		{"a write to a read-only collection", func() error {
			_, err := g.Save(ctx, "users", "a", dbservice.Doc{"s": "x"})
			return err
		}, dbservice.ErrForbidden},
		{"a delete in a read-only collection", func() error { return g.Delete(ctx, "users", "a") }, dbservice.ErrForbidden},
		{"an operator in a query", func() error {
			_, err := g.Query(ctx, "agents", dbservice.Query{Where: []dbservice.Cond{{Field: "a", Op: "$regex", Value: "."}}})
			return err
		}, dbservice.ErrInvalid},
		{"a forged cursor", func() error { _, err := g.Query(ctx, "agents", dbservice.Query{Cursor: "{}"}); return err }, dbservice.ErrInvalid},
		{"a malformed revision", func() error {
			_, err := g.Save(ctx, "agents", "a", dbservice.Doc{}, dbservice.IfRev("a b"))
			return err
		}, dbservice.ErrInvalid},
		{"a bulk write with one bad document", func() error {
			return g.(dbservice.BulkWriter).SaveMany(ctx, "agents", []dbservice.BulkItem{{ID: "ok", Doc: dbservice.Doc{}}, {ID: "bad", Doc: dbservice.Doc{"$x": 1}}})
		}, dbservice.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := inner.calls.Load()
			err := c.call()
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if inner.calls.Load() != before {
				t.Fatal("the refused call reached the provider")
			}
			var e *dbservice.Error
			if !errors.As(err, &e) || e.Provider != "guard" {
				t.Fatalf("error %v is not a *dbservice.Error from the guard", err)
			}
		})
	}
	if _, err := g.Get(ctx, "users", "nobody"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("reads of a read-only collection must pass: %v", err)
	}
}

func TestGuardWritesOneAuditRecordPerOperation(t *testing.T) {
	g, _, buf := newGuard(t, dbservice.Policy{})
	ctx := dbservice.WithPrincipal(context.Background(), "alice@example.com")
	if _, err := g.Save(ctx, "agents", "a1", dbservice.Doc{"password": "CANARY-IN-DOC"}); err != nil {
		t.Fatal(err)
	}
	_, _ = g.Get(ctx, "agents", "missing")
	_, _ = g.Get(ctx, "agents", "../etc/passwd")
	if _, err := g.Query(ctx, "agents", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("password", dbservice.Eq, "CANARY-IN-DOC")}}); err != nil {
		t.Fatal(err)
	}
	recs := auditRecords(t, buf)
	if len(recs) != 4 {
		t.Fatalf("%d audit records for 4 operations:\n%s", len(recs), buf)
	}
	want := []struct{ op, id, outcome, kind, level string }{
		{"save", "a1", "ok", "", "INFO"},
		{"get", "missing", "rejected", "not_found", "INFO"},
		{"get", "(refused)", "denied", "invalid", "WARN"},
		{"query", "", "ok", "", "INFO"},
	}
	for i, w := range want {
		r := recs[i]
		if r["msg"] != "securedb.audit" || r["op"] != w.op || r["collection"] != "agents" || r["principal"] != "alice@example.com" || r["outcome"] != w.outcome || r["level"] != w.level {
			t.Errorf("record %d = %v, want op %s outcome %s level %s for principal alice", i, r, w.op, w.outcome, w.level)
		}
		if id, _ := r["id"].(string); id != w.id {
			t.Errorf("record %d id = %q, want %q", i, id, w.id)
		}
		if kind, _ := r["error_kind"].(string); kind != w.kind {
			t.Errorf("record %d error_kind = %q, want %q", i, kind, w.kind)
		}
		if _, ok := r["duration"]; !ok {
			t.Errorf("record %d has no duration", i)
		}
	}
	if recs[3]["count"] != 1.0 {
		t.Errorf("query record count = %v, want 1", recs[3]["count"])
	}
	if s := buf.String(); strings.Contains(s, "CANARY") || strings.Contains(s, "etc/passwd") {
		t.Fatalf("audit log holds document contents, query values or hostile input:\n%s", s)
	}
}

func TestGuardExposesTheProviderAndPassesThrough(t *testing.T) {
	inner := memory.New()
	g := dbservice.Guard(inner, dbservice.Policy{})
	w, ok := g.(dbservice.Wrapper)
	if !ok || w.Unwrap() != inner {
		t.Fatal("Guard does not unwrap to its provider")
	}
	ctx := context.Background()
	items := []dbservice.BulkItem{{ID: "a", Doc: dbservice.Doc{"n": 1}}, {ID: "b", Doc: dbservice.Doc{"n": 2}}}
	if err := g.(dbservice.BulkWriter).SaveMany(ctx, "agents", items); err != nil {
		t.Fatal(err)
	}
	if d, err := inner.Get(ctx, "agents", "b"); err != nil || d["n"] != 2.0 {
		t.Fatalf("bulk write did not reach the provider: %v %v", d, err)
	}
	if err := g.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := inner.Ping(ctx); !errors.Is(err, dbservice.ErrClosed) {
		t.Fatalf("Close did not reach the provider: %v", err)
	}
}

func TestGuardWithoutAuditLoggerLogsNothing(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	g := dbservice.Guard(memory.New(), dbservice.Policy{})
	_, _ = g.Get(context.Background(), "agents", "x")
	if buf.Len() != 0 {
		t.Fatalf("a nil Audit logger still logged: %s", buf.String())
	}
}

func TestRequireIndexRefusesQueriesNoIndexServes(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	g := dbservice.Guard(mem, dbservice.Policy{RequireIndex: true})
	for i, team := range []string{"red", "blue", "red"} {
		if _, err := g.Save(ctx, "agents", "a"+string(rune('0'+i)), dbservice.Doc{"team": team, "score": float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	byTeam := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "red")}}
	top := dbservice.Query{OrderBy: []dbservice.Order{dbservice.Desc("score")}, Limit: 5}
	_, err := g.Query(ctx, "agents", byTeam)
	if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), `EnsureIndex("agents", "team")`) {
		t.Fatalf("an unindexed filter: %v, want ErrInvalid naming EnsureIndex(\"agents\", \"team\")", err)
	}
	_, err = g.Query(ctx, "agents", top)
	if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), `EnsureIndex("agents", "score")`) {
		t.Fatalf("an unindexed order: %v, want ErrInvalid naming EnsureIndex(\"agents\", \"score\")", err)
	}
	if _, err := g.Query(ctx, "agents", dbservice.Query{Limit: 2}); err != nil {
		t.Fatalf("listing walks the primary index and is allowed: %v", err)
	}
	for _, f := range []string{"team", "score"} {
		if err := g.EnsureIndex(ctx, "agents", f); err != nil {
			t.Fatal(err)
		}
	}
	p, err := g.Query(ctx, "agents", byTeam)
	if err != nil || len(p.Docs) != 2 || p.Stats.Index == "" {
		t.Fatalf("with the index: %d docs, index %q, %v", len(p.Docs), p.Stats.Index, err)
	}
	p, err = g.Query(ctx, "agents", top)
	if err != nil || len(p.Docs) != 3 || p.Docs[0]["_id"] != "a2" || p.Stats.Index == "" {
		t.Fatalf("ordered through the index: %v, index %q, %v", p.Docs, p.Stats.Index, err)
	}
}

func TestPolicyScanBudgetLowersTheProvidersBudget(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	g := dbservice.Guard(mem, dbservice.Policy{ScanBudget: 3})
	for i := range 10 {
		if _, err := g.Save(ctx, "agents", "a"+string(rune('0'+i)), dbservice.Doc{"n": float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := g.Query(ctx, "agents", dbservice.Query{Where: []dbservice.Cond{dbservice.Where("n", dbservice.Gt, 7)}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stats.Read != 3 || !p.Stats.BudgetReached || len(p.Docs) != 0 || p.Next == "" {
		t.Fatalf("under a policy budget of 3: %+v, %d docs, next %q", p.Stats, len(p.Docs), p.Next)
	}
}
