package rules_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/dbservice/rules"
	"github.com/securedb-go/securedb/dbservice/rules/rulestest"
)

func memoryEnforced(raw dbservice.Service) func(*rules.Ruleset) dbservice.Service {
	return func(rs *rules.Ruleset) dbservice.Service {
		return dbservice.Guard(rules.Enforce(raw, rs), dbservice.Policy{})
	}
}

func TestGuideRulesOnMemory(t *testing.T) {
	raw := memory.New()
	rulestest.RunGuide(t, raw, memoryEnforced(raw))
	if n := len(rulestest.GuideCases("")); n < 60 {
		t.Errorf("%d cases, want at least 60", n)
	}
}

func TestHostileOnMemory(t *testing.T) {
	raw := memory.New()
	rulestest.RunHostile(t, raw, memoryEnforced(raw))
}

func mustLoad(t testing.TB, src string, opts ...rules.LoadOption) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Load("test.rules", src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestLoadErrorsNameLineAndColumn(t *testing.T) {
	for _, c := range []struct {
		src, want string
	}{
		{"match /a/{b} {\n  allow read: if request.auth.uid == nope;\n}", "test.rules:2:38: undeclared reference to 'nope'"},
		{"match /a/{b} {\n  allow read: if request.auth.uid ==\n      ;\n}", "test.rules:3:7:"},
		{"match /a/{b} {\n  allow read if true;\n}", "test.rules:2:14: expected ':' or ';'"},
		{"match /a/{b} {\n  allow peek: if true;\n}", "test.rules:2:9: unknown method \"peek\""},
		{"match /a/{b} {\n  allow read: if true\n}", "test.rules:2:18: condition does not end with ';'"},
		{"match /a/{b} {\n  match /c/{d} { allow read; }\n}", "test.rules:2:3: nested match blocks"},
		{"match /a/{b}/c/{d} { allow read; }", "test.rules:1:1: unsupported match path"},
		{"match /a/{b} {\n  allow read: if 'x';\n}", "test.rules:2:18: condition is of type string, not bool"},
		{"match /a/{b} {\n  allow read: if get(/databases/x).data.y == 1;\n}", "test.rules:2:"},
		{"function f() { return true; }", "test.rules:1:1: functions are not supported"},
		{"rules_version = '3';", "test.rules:1:17: rules_version"},
		{"service firebase.storage { }", "test.rules:1:9: service \"firebase.storage\""},
		{"match /a/{b} { allow read: if 'unterminated; }", "test.rules:1:31: unterminated string"},
		{"match /{a}/{a} { allow read; }", "bound twice"},
		{"match /a/{request} { allow read; }", "shadows a rules variable"},
		{"/* open", "test.rules:1:1: unterminated comment"},
		{"}", "test.rules:1:1: unexpected '}'"},
	} {
		_, err := rules.Load("test.rules", c.src)
		var pe *rules.ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%q) = %v, want a ParseError containing %q", c.src, err, c.want)
		}
	}
}

func TestOverBudgetConditionIsRefusedAtLoad(t *testing.T) {
	// A nested scan over two document lists: quadratic in their size.
	src := "match /a/{b} {\n  allow read: if resource.data.l.exists(x, resource.data.m.exists(y, y == x));\n}"
	_, err := rules.Load("test.rules", src)
	if err == nil || !strings.Contains(err.Error(), "test.rules:2:18: condition may cost up to") || !strings.Contains(err.Error(), "over the budget") {
		t.Fatalf("Load = %v, want a refusal naming the budget at 2:18", err)
	}
	// The same rule within a larger budget loads.
	if _, err := rules.Load("test.rules", src, rules.CostLimit(1<<30)); err != nil {
		t.Fatalf("with a larger budget: %v", err)
	}
}

func TestOverBudgetEvaluationFailsClosed(t *testing.T) {
	// Estimation assumes lists of at most 10 elements, so the rule loads;
	// a document with a far longer list exceeds the budget at run time.
	rs := mustLoad(t, "match /a/{b} {\n  allow get: if resource.data.l.all(x, x.startsWith('k') && x.size() < 100);\n}",
		rules.CostLimit(2000), rules.SizeBound(10))
	short := []any{"k1", "k2"}
	long := make([]any, 5000)
	for i := range long {
		long[i] = "k"
	}
	rulestest.Allowed(t, rs, rules.Request{Method: "get", Collection: "a", ID: "x", Resource: dbservice.Doc{"l": short}})
	rulestest.Denied(t, rs, rules.Request{Method: "get", Collection: "a", ID: "x", Resource: dbservice.Doc{"l": long}})
}

func TestLoadFromFileAndFS(t *testing.T) {
	src := rulestest.Guide("")
	path := filepath.Join(t.TempDir(), "firestore.rules")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := rulestest.Allowed(t, rs, rules.Request{Auth: rulestest.Alice, Method: "get", Collection: "users", ID: "alice"})
	if d.Rule != "firestore.rules:6" {
		t.Errorf("rule %q, want firestore.rules:6", d.Rule)
	}
	fsys := fstest.MapFS{"rules/app.rules": {Data: []byte(src)}}
	rs, err = rules.LoadFS(fsys, "rules/app.rules")
	if err != nil {
		t.Fatal(err)
	}
	if d := rulestest.Denied(t, rs, rules.Request{Auth: rulestest.Bob, Method: "get", Collection: "users", ID: "alice"}); d.Rule != "app.rules:6,app.rules:22" {
		t.Errorf("denied rule %q, want the two statements tried", d.Rule)
	}
	if _, err := rules.LoadFile(filepath.Join(t.TempDir(), "missing.rules")); err == nil {
		t.Error("a missing file loaded")
	}
	big := filepath.Join(t.TempDir(), "big.rules")
	if err := os.WriteFile(big, bytes.Repeat([]byte("// x\n"), 300_000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.LoadFile(big); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a 1.5 MB rules file: %v, want refused", err)
	}
}

func TestDecisionsWithoutAStore(t *testing.T) {
	rs := mustLoad(t, rulestest.Guide(""))
	q := func(conds ...dbservice.Cond) *dbservice.Query { return &dbservice.Query{Where: conds} }
	rulestest.Allowed(t, rs, rules.Request{Auth: rulestest.Alice, Method: "list", Collection: "notes", Query: q(dbservice.Where("owner", dbservice.Eq, "alice"))})
	d := rulestest.Denied(t, rs, rules.Request{Auth: rulestest.Alice, Method: "list", Collection: "notes", Query: q()})
	if len(d.Missing) != 1 || d.Missing[0] != "owner" {
		t.Errorf("missing %v, want [owner]", d.Missing)
	}
	d = rulestest.Denied(t, rs, rules.Request{Auth: rulestest.Alice, Method: "list", Collection: "users", Query: q()})
	if len(d.Missing) != 1 || d.Missing[0] != "_id" {
		t.Errorf("missing %v, want [_id]", d.Missing)
	}
	if d := rulestest.Denied(t, rs, rules.Request{Auth: rulestest.Alice, Method: "get", Collection: "nowhere", ID: "x"}); d.Rule != "test.rules:22" {
		t.Errorf("an unnamed collection is decided by the wildcard only: %q", d.Rule)
	}
	bare := mustLoad(t, "match /a/{b} { allow get: if true; }")
	if d := rulestest.Denied(t, bare, rules.Request{Method: "list", Collection: "a", Query: q()}); d.Rule != rules.DefaultDeny {
		t.Errorf("list with only a get rule: %q, want default deny", d.Rule)
	}
	// The databases block's variable is bound, to the default database.
	db := mustLoad(t, "service cloud.firestore { match /databases/{database}/documents { match /a/{b} { allow read: if database == '(default)' && b != 'x'; } } }")
	rulestest.Allowed(t, db, rules.Request{Method: "get", Collection: "a", ID: "y"})
	rulestest.Allowed(t, db, rules.Request{Method: "list", Collection: "a", Query: &dbservice.Query{Where: []dbservice.Cond{dbservice.Where("_id", dbservice.Eq, "y")}}})
	rulestest.Denied(t, db, rules.Request{Method: "get", Collection: "a", ID: "x"})
	// A rule that reads request.query.limit is decided from the query.
	lim := mustLoad(t, "match /a/{b} { allow list: if request.query.limit <= 50; }")
	rulestest.Allowed(t, lim, rules.Request{Method: "list", Collection: "a", Query: &dbservice.Query{Limit: 50}})
	rulestest.Denied(t, lim, rules.Request{Method: "list", Collection: "a", Query: &dbservice.Query{Limit: 51}})
}

func TestAuditNamesTheDecidingRule(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	raw := memory.New()
	rs := mustLoad(t, rulestest.Guide(""))
	svc := dbservice.Guard(rules.Enforce(raw, rs), dbservice.Policy{Audit: logger})
	ctx := t.Context()
	if _, err := raw.Save(ctx, "users", "alice", dbservice.Doc{"name": "A"}); err != nil {
		t.Fatal(err)
	}
	alice := dbservice.WithAuth(ctx, dbservice.Auth{UID: "alice", Claims: map[string]any{"email": "canary-claim@example.com"}})
	if _, err := svc.Get(alice, "users", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(dbservice.WithPrincipal(ctx, "bob"), "users", "alice"); !errors.Is(err, dbservice.ErrForbidden) {
		t.Fatalf("bob: %v", err)
	}
	if _, err := svc.Query(alice, "users", dbservice.Query{}); !errors.Is(err, dbservice.ErrForbidden) {
		t.Fatalf("list: %v", err)
	}
	if _, err := svc.Get(alice, "nowhere", "x"); !errors.Is(err, dbservice.ErrForbidden) {
		t.Fatalf("nowhere: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d audit records, want 4:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		"op=get collection=users id=alice principal=alice rule=test.rules:6 outcome=ok",
		"op=get collection=users id=alice principal=bob rule=test.rules:6,test.rules:22 outcome=denied error_kind=forbidden",
		"op=query collection=users principal=alice rule=test.rules:6,test.rules:22 outcome=denied",
		"op=get collection=nowhere id=x principal=alice rule=test.rules:22 outcome=denied",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("record %d = %q, want %q", i, lines[i], want)
		}
	}
	if strings.Contains(buf.String(), "canary-claim") {
		t.Error("a claim reached the audit trail")
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// raceStore is a real memory store in which another writer changes a
// document right after the rules layer has read it: the moment between
// check and write.
type raceStore struct {
	dbservice.Service
	once   sync.Once
	change func()
}

func (r *raceStore) Get(ctx context.Context, c, id string) (dbservice.Doc, error) {
	d, err := r.Service.Get(ctx, c, id)
	r.once.Do(r.change)
	return d, err
}

func TestWriteIsConditionalOnTheRevisionChecked(t *testing.T) {
	rs := mustLoad(t, rulestest.Guide(""))
	for _, c := range []struct {
		name  string
		write func(ctx context.Context, s dbservice.Service) error
	}{
		{"Update", func(ctx context.Context, s dbservice.Service) error {
			_, err := s.Update(ctx, "notes", "n1", []dbservice.Mutation{dbservice.Set("text", "alice was here")})
			return err
		}},
		{"Save", func(ctx context.Context, s dbservice.Service) error {
			_, err := s.Save(ctx, "notes", "n1", dbservice.Doc{"owner": "alice", "text": "alice was here"})
			return err
		}},
		{"Delete", func(ctx context.Context, s dbservice.Service) error { return s.Delete(ctx, "notes", "n1") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			mem := memory.New()
			if _, err := mem.Save(ctx, "notes", "n1", dbservice.Doc{"owner": "alice", "text": "x"}); err != nil {
				t.Fatal(err)
			}
			// Between alice's check (owner alice) and her write, the note
			// passes to bob.
			store := &raceStore{Service: mem, change: func() {
				if _, err := mem.Save(ctx, "notes", "n1", dbservice.Doc{"owner": "bob", "text": "bob's now"}); err != nil {
					t.Error(err)
				}
			}}
			svc := rules.Enforce(store, rs)
			if err := c.write(dbservice.WithPrincipal(ctx, "alice"), svc); !errors.Is(err, dbservice.ErrConflict) {
				t.Errorf("write after the note changed hands: %v, want ErrConflict", err)
			}
			d, err := mem.Get(ctx, "notes", "n1")
			if err != nil || d["owner"] != "bob" || d["text"] != "bob's now" {
				t.Errorf("n1 = %v, %v; bob's version must stand", d, err)
			}
		})
	}
	t.Run("create", func(t *testing.T) {
		ctx := t.Context()
		mem := memory.New()
		// Bob creates the user document alice is about to create as hers:
		// her Save, checked as a create, must not overwrite it.
		store := &raceStore{Service: mem, change: func() {
			if _, err := mem.Save(ctx, "users", "alice", dbservice.Doc{"planted": true}); err != nil {
				t.Error(err)
			}
		}}
		rs := mustLoad(t, "match /users/{u} {\n allow create: if request.auth.uid == u;\n allow update: if false;\n}")
		_, err := rules.Enforce(store, rs).Save(dbservice.WithPrincipal(ctx, "alice"), "users", "alice", dbservice.Doc{"name": "A"})
		if !errors.Is(err, dbservice.ErrConflict) {
			t.Errorf("create raced by another create: %v, want ErrConflict", err)
		}
	})
}

func TestPosture(t *testing.T) {
	rs := mustLoad(t, rulestest.Guide(""))
	svc := dbservice.Guard(rules.Enforce(memory.New(), rs), dbservice.Policy{})
	f := find(dbservice.CheckPosture(t.Context(), svc), dbservice.ItemSecurityRules)
	if f.Status != dbservice.Pass || !strings.Contains(f.Detail, "over 3 collections (agents, notes, users)") || !strings.Contains(f.Detail, "no collection is left open") {
		t.Errorf("security-rules = %s %q", f.Status, f.Detail)
	}
	open := mustLoad(t, "match /logs/{id} { allow create; allow read: if request.auth != null; }")
	f = find(dbservice.CheckPosture(t.Context(), dbservice.Guard(rules.Enforce(memory.New(), open), dbservice.Policy{})), dbservice.ItemSecurityRules)
	if f.Status != dbservice.Warn || !strings.Contains(f.Detail, "logs: create (test.rules:1)") || f.Fix == "" {
		t.Errorf("an unconditional create: %s %q, want warn naming it", f.Status, f.Detail)
	}
	f = find(dbservice.CheckPosture(t.Context(), dbservice.Guard(memory.New(), dbservice.Policy{})), dbservice.ItemSecurityRules)
	if f.Status != dbservice.Warn {
		t.Errorf("without rules: %s, want warn", f.Status)
	}
}

func find(fs []dbservice.Finding, id string) dbservice.Finding {
	for _, f := range fs {
		if f.ID == id {
			return f
		}
	}
	return dbservice.Finding{}
}

func TestConcurrentUse(t *testing.T) {
	rs := mustLoad(t, rulestest.Guide(""))
	raw := memory.New()
	svc := rules.Enforce(raw, rs)
	ctx := t.Context()
	if _, err := raw.Save(ctx, "notes", "n1", dbservice.Doc{"owner": "alice"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			who := []string{"alice", "bob"}[i%2]
			c := dbservice.WithPrincipal(ctx, who)
			for range 200 {
				_, err := svc.Get(c, "notes", "n1")
				if (who == "alice") != (err == nil) {
					t.Errorf("%s: %v", who, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestUnitTestingHelper(t *testing.T) {
	rs := mustLoad(t, rulestest.Guide(""))
	env := rulestest.New(t, rs)
	ctx := t.Context()
	if _, err := env.WithoutRules().Save(ctx, "users", "alice", dbservice.Doc{"name": "Alice"}); err != nil {
		t.Fatal(err)
	}
	_, err := env.Service().Get(env.Authenticated("alice", nil), "users", "alice")
	rulestest.AssertSucceeds(t, err)
	_, err = env.Service().Get(env.Unauthenticated(), "users", "alice")
	rulestest.AssertFails(t, err)
	_, err = env.Service().Save(env.Authenticated("root", map[string]any{"admin": true}), "agents", "a1", dbservice.Doc{"name": "x"})
	rulestest.AssertSucceeds(t, err)

	// The assertions themselves fail when they should.
	ft := &fakeT{TB: t}
	rulestest.AssertFails(ft, dbservice.ErrNotFound)
	rulestest.AssertSucceeds(ft, dbservice.ErrForbidden)
	rulestest.Allowed(ft, rs, rules.Request{Method: "get", Collection: "users", ID: "alice"})
	rulestest.Denied(ft, rs, rules.Request{Auth: rulestest.Alice, Method: "get", Collection: "users", ID: "alice"})
	if ft.errors != 4 {
		t.Errorf("%d assertion failures, want 4", ft.errors)
	}
}

type fakeT struct {
	testing.TB
	errors int
}

func (f *fakeT) Errorf(string, ...any) { f.errors++ }
func (f *fakeT) Helper()               {}
