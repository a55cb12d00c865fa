// Command rules enforces the security guide's Firestore rules
// (firestore.rules, next to this file) on the provider DATABASE_PROVIDER
// picks, memory by default, and shows an allowed and a denied call for
// each line of the rules:
//
//	go run ./examples/rules
//	DATABASE_PROVIDER=couchdb go run ./examples/rules   # with COUCHDB_* set
//
// Firestore's own rules bind only its web and mobile SDKs; here the same
// rules bind every call the service makes on behalf of a user, on any
// backend.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	_ "github.com/securedb-go/securedb/dbservice/all"
	"github.com/securedb-go/securedb/dbservice/rules"
)

//go:embed firestore.rules
var files embed.FS

const serviceAccount = "service-account@project.iam.gserviceaccount.com"

func main() {
	prefix := flag.String("prefix", "", "prefix for the collection names (keeps runs on a shared server apart)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "rules:", err)
		os.Exit(1)
	}
}

// lastRule is an audit handler that keeps the rule of the latest record.
type lastRule struct {
	mu   sync.Mutex
	rule string
}

func (h *lastRule) Enabled(context.Context, slog.Level) bool { return true }
func (h *lastRule) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *lastRule) WithGroup(string) slog.Handler            { return h }
func (h *lastRule) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rule = ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == dbservice.AuditRuleKey {
			h.rule = a.Value.String()
		}
		return true
	})
	return nil
}

func (h *lastRule) take() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rule
}

func run(ctx context.Context, out io.Writer, prefix string) error {
	rs, err := loadRules(prefix)
	if err != nil {
		return err
	}
	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		return err
	}
	provider := cfg.Provider
	if provider == "" {
		provider = securedb.Memory
	}
	audit := &lastRule{}
	cfg.Policy.Audit = slog.New(audit)
	cfg.Rules = rs
	db, err := securedb.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// Setup writes go to the provider under the rules, as a migration or
	// an admin tool would; the application's calls go through them.
	setup := innermost(db)

	users, agents := prefix+"users", prefix+"agents"
	for _, d := range []struct {
		c, id string
		doc   dbservice.Doc
	}{
		{users, "alice", dbservice.Doc{"name": "Alice"}},
		{users, "bob", dbservice.Doc{"name": "Bob"}},
		{agents, "gofannon", dbservice.Doc{"name": "Gofannon"}},
	} {
		if _, err := setup.Save(ctx, d.c, d.id, d.doc); err != nil {
			return err
		}
	}
	defer func() {
		_ = setup.Delete(context.WithoutCancel(ctx), users, "alice")
		_ = setup.Delete(context.WithoutCancel(ctx), users, "bob")
		_ = setup.Delete(context.WithoutCancel(ctx), agents, "gofannon")
		_ = setup.Delete(context.WithoutCancel(ctx), agents, "scribe")
	}()

	fmt.Fprintf(out, "== security rules from firestore.rules on provider %s\n", provider)
	f := rs.Finding()
	fmt.Fprintf(out, "posture security-rules: %s\n", f.Status)

	who := func(uid string, claims map[string]any) context.Context {
		return dbservice.WithAuth(ctx, dbservice.Auth{UID: uid, Claims: claims})
	}
	anonymous := ctx
	alice, bob := who("alice", nil), who("bob", nil)
	admin := who("root", map[string]any{"admin": true})
	svcAcct := who("backend", map[string]any{"email": serviceAccount})
	impostor := who("mallory", map[string]any{"email": "mallory@example.com"})

	show := func(what string, err error) {
		verdict := "allowed"
		switch {
		case errors.Is(err, dbservice.ErrForbidden):
			verdict = "denied "
		case err != nil:
			verdict = "error  "
		}
		fmt.Fprintf(out, "  %s %-52s %s\n", verdict, what, audit.take())
		if err != nil && !errors.Is(err, dbservice.ErrForbidden) {
			fmt.Fprintf(out, "          %v\n", err)
		}
	}
	getErr := func(ctx context.Context, c, id string) error { _, err := db.Get(ctx, c, id); return err }
	saveErr := func(ctx context.Context, c, id string, d dbservice.Doc) error {
		_, err := db.Save(ctx, c, id, d)
		return err
	}
	listErr := func(ctx context.Context, c string, conds ...dbservice.Cond) error {
		_, err := db.Query(ctx, c, dbservice.Query{Where: conds})
		return err
	}

	fmt.Fprintln(out, "match /users/{userId}  allow read, write: if request.auth.uid == userId;")
	show("alice gets users/alice", getErr(alice, users, "alice"))
	show("bob gets users/alice", getErr(bob, users, "alice"))
	show("alice saves users/alice", saveErr(alice, users, "alice", dbservice.Doc{"name": "Alice A."}))
	show("bob saves users/alice", saveErr(bob, users, "alice", dbservice.Doc{"name": "mallory"}))
	show("alice lists users where _id == alice", listErr(alice, users, dbservice.Where("_id", dbservice.Eq, "alice")))
	err = listErr(alice, users)
	show("alice lists all users (rules are not filters)", err)
	fmt.Fprintf(out, "          %v\n", err)

	fmt.Fprintln(out, "match /agents/{agentId}  allow read: if request.auth != null;")
	show("alice gets agents/gofannon", getErr(alice, agents, "gofannon"))
	show("anonymous gets agents/gofannon", getErr(anonymous, agents, "gofannon"))
	show("bob lists agents", listErr(bob, agents))
	show("anonymous lists agents", listErr(anonymous, agents))

	fmt.Fprintln(out, "match /agents/{agentId}  allow write: if request.auth.token.admin == true;")
	show("admin saves agents/scribe", saveErr(admin, agents, "scribe", dbservice.Doc{"name": "Scribe"}))
	show("alice saves agents/scribe", saveErr(alice, agents, "scribe", dbservice.Doc{"name": "x"}))

	fmt.Fprintln(out, "match /{document=**}  allow read, write: if request.auth.token.email == \"service-account@...\";")
	show("service account gets users/bob", getErr(svcAcct, users, "bob"))
	show("service account lists users", listErr(svcAcct, users))
	show("another email gets users/bob", getErr(impostor, users, "bob"))
	show("anonymous deletes agents/gofannon", db.Delete(anonymous, agents, "gofannon"))

	doc, err := setup.Get(ctx, users, "alice")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "users/alice after the calls: name=%v\n", doc["name"])
	return nil
}

// innermost unwraps middleware (Guard, rules) down to the provider.
func innermost(s dbservice.Service) dbservice.Service {
	for range 32 {
		w, ok := s.(dbservice.Wrapper)
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	return s
}

// loadRules reads the embedded rules, with prefix put before every
// collection name (none by default).
func loadRules(prefix string) (*rules.Ruleset, error) {
	if prefix == "" {
		return rules.LoadFS(files, "firestore.rules")
	}
	b, err := files.ReadFile("firestore.rules")
	if err != nil {
		return nil, err
	}
	src := strings.NewReplacer("match /users/", "match /"+prefix+"users/", "match /agents/", "match /"+prefix+"agents/").Replace(string(b))
	return rules.Load("firestore.rules", src)
}
