package rulestest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice/memory"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	_ "github.com/securedb-go/securedb/dbservice/couchdb"
	_ "github.com/securedb-go/securedb/dbservice/dynamodb"
	_ "github.com/securedb-go/securedb/dbservice/firestore"
	"github.com/securedb-go/securedb/dbservice/rules"
	"github.com/securedb-go/securedb/dbservice/rules/rulestest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// serverVars are the variables each real server's tests need.
var serverVars = map[string][]string{
	securedb.CouchDB:   {"COUCHDB_URL", "COUCHDB_USER", "COUCHDB_PASSWORD"},
	securedb.DynamoDB:  {"DYNAMODB_ENDPOINT_URL", "AWS_SECRET_ACCESS_KEY"},
	securedb.Firestore: {"FIRESTORE_EMULATOR_HOST", "FIRESTORE_PROJECT_ID"},
}

// openReal opens provider through securedb.Open twice: once as the store
// without rules (for setup), and once per ruleset with Config.Rules, the
// production wiring (Guard over rules over the provider).
func openReal(t *testing.T, provider string) (dbservice.Service, func(*rules.Ruleset) dbservice.Service) {
	t.Helper()
	testenv.Need(t, provider, serverVars[provider]...)
	open := func(rs *rules.Ruleset) dbservice.Service {
		cfg, err := securedb.ConfigFromEnvFor(provider)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DisableAudit = true
		if rs != nil {
			cfg.Rules = rs
		}
		svc, err := securedb.Open(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Close() })
		return svc
	}
	return open(nil), open
}

func TestGuideRulesOnRealServers(t *testing.T) {
	for _, p := range []string{securedb.CouchDB, securedb.DynamoDB, securedb.Firestore} {
		t.Run(p, func(t *testing.T) {
			raw, enforced := openReal(t, p)
			rulestest.RunGuide(t, raw, enforced)
		})
	}
}

func TestHostileOnRealServers(t *testing.T) {
	for _, p := range []string{securedb.CouchDB, securedb.DynamoDB, securedb.Firestore} {
		t.Run(p, func(t *testing.T) {
			raw, enforced := openReal(t, p)
			rulestest.RunHostile(t, raw, enforced)
		})
	}
}

func TestGuideRulesOnMemory(t *testing.T) {
	raw := memory.New()
	rulestest.RunGuide(t, raw, func(rs *rules.Ruleset) dbservice.Service {
		return dbservice.Guard(rules.Enforce(raw, rs), dbservice.Policy{})
	})
}

func find(fs []dbservice.Finding, id string) dbservice.Finding {
	for _, f := range fs {
		if f.ID == id {
			return f
		}
	}
	return dbservice.Finding{}
}

func TestSecurityRulesPostureOnEveryProvider(t *testing.T) {
	rs, err := rules.Load("firestore.rules", rulestest.Guide(rulestest.Prefix()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{securedb.Memory, securedb.CouchDB, securedb.DynamoDB, securedb.Firestore} {
		t.Run(p, func(t *testing.T) {
			var svc dbservice.Service
			if p == securedb.Memory {
				var err error
				if svc, err = securedb.Open(t.Context(), securedb.Config{Rules: rs, DisableAudit: true}); err != nil {
					t.Fatal(err)
				}
			} else {
				_, enforced := openReal(t, p)
				svc = enforced(rs)
			}
			// The rules' finding merges with what the provider says of
			// its own access control (CouchDB's _security); log both.
			f := find(dbservice.CheckPosture(t.Context(), svc), dbservice.ItemSecurityRules)
			t.Logf("%s: security-rules %s: %s", p, f.Status, f.Detail)
			if f.Status != dbservice.Pass {
				t.Errorf("security-rules = %s, want pass with rules loaded", f.Status)
			}
		})
	}
}

func TestOpenFromEnvLoadsSECUREDB_RULES(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "firestore.rules")
	if err := os.WriteFile(path, []byte(rulestest.Guide("")), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATABASE_PROVIDER", "")
	t.Setenv(securedb.EnvRules, path)
	db, err := securedb.OpenFromEnv(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	alice := dbservice.WithAuth(ctx, dbservice.Auth{UID: "alice"})
	if _, err := db.Save(alice, "users", "alice", dbservice.Doc{"name": "A"}); err != nil {
		t.Fatalf("alice saves her own document: %v", err)
	}
	if _, err := db.Get(dbservice.WithPrincipal(ctx, "bob"), "users", "alice"); !errors.Is(err, dbservice.ErrForbidden) {
		t.Errorf("bob reads alice's document: %v, want ErrForbidden", err)
	}
	if f := find(dbservice.CheckPosture(ctx, db), dbservice.ItemSecurityRules); f.Status != dbservice.Pass {
		t.Errorf("security-rules = %s %q, want pass", f.Status, f.Detail)
	}

	// A broken file fails Open with its line and column, before anything
	// connects.
	bad := filepath.Join(dir, "bad.rules")
	if err := os.WriteFile(bad, []byte("match /users/{u} {\n  allow read: if request.auth.uid == nope;\n}"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(securedb.EnvRules, bad)
	if _, err := securedb.OpenFromEnv(ctx); !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), "bad.rules:2:38") {
		t.Errorf("Open with a broken rules file = %v, want ErrInvalid at bad.rules:2:38", err)
	}
	if _, err := securedb.Open(ctx, securedb.Config{Rules: (*rules.Ruleset)(nil)}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("Open with a nil *Ruleset = %v, want ErrInvalid", err)
	}
}
