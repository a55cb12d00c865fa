package securedb_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	_ "github.com/securedb-go/securedb/dbservice/all" // the tests open every provider
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// serverVars names, per provider, the variables that say its test server is
// there (scripts/servers.sh exports them under make test).
var serverVars = map[string][]string{
	securedb.CouchDB:   {"COUCHDB_URL", "COUCHDB_USER", "COUCHDB_PASSWORD"},
	securedb.DynamoDB:  {"DYNAMODB_ENDPOINT_URL"},
	securedb.Firestore: {"FIRESTORE_EMULATOR_HOST", "FIRESTORE_PROJECT_ID"},
}

// openFromEnv opens provider the way a service would, through
// DATABASE_PROVIDER and the provider's own variables.
func openFromEnv(t *testing.T, provider string) dbservice.Service {
	t.Helper()
	if vars := serverVars[provider]; vars != nil {
		testenv.Need(t, provider, vars...)
	}
	t.Setenv("DATABASE_PROVIDER", provider)
	db, err := securedb.OpenFromEnv(context.Background())
	if err != nil {
		t.Fatalf("OpenFromEnv with DATABASE_PROVIDER=%s: %v", provider, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestOpenFromEnvEveryProvider proves the root wiring: each provider opens
// from DATABASE_PROVIDER and its own variables, stores and finds a document, and sits behind
// Guard.
func TestOpenFromEnvEveryProvider(t *testing.T) {
	for _, provider := range securedb.Providers {
		t.Run(provider, func(t *testing.T) {
			db := openFromEnv(t, provider)
			ctx := dbservice.WithPrincipal(context.Background(), "root-test")
			coll := dbtest.Collection(t)
			rev, err := db.Save(ctx, coll, "gofannon", dbservice.Doc{"name": "Gofannon", "owner": map[string]any{"id": "u1"}})
			if err != nil {
				t.Fatalf("Save: %v", err)
			}
			doc, err := db.Get(ctx, coll, "gofannon")
			if err != nil || doc["_rev"] != rev || doc["name"] != "Gofannon" {
				t.Fatalf("Get = %v, %v; want the saved document at revision %s", doc, err, rev)
			}
			page, err := db.Query(ctx, coll, dbservice.Query{Where: []dbservice.Cond{dbservice.Where("owner.id", dbservice.Eq, "u1")}})
			if err != nil || len(page.Docs) != 1 {
				t.Fatalf("Query = %d docs, %v; want 1", len(page.Docs), err)
			}
			_, err = db.Get(ctx, coll, "../x")
			var e *dbservice.Error
			if !errors.As(err, &e) || e.Provider != "guard" {
				t.Fatalf("hostile ID reached the provider: %v", err)
			}
			if err := db.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}

// TestCouchDBPasswordFromAFileReference: COUCHDB_PASSWORD may name a
// secret instead of holding it; Open resolves it and the posture report
// credits it.
func TestCouchDBPasswordFromAFileReference(t *testing.T) {
	vals := testenv.Need(t, securedb.CouchDB, "COUCHDB_URL", "COUCHDB_USER", "COUCHDB_PASSWORD")
	file := filepath.Join(t.TempDir(), "couchdb.json")
	body, _ := json.Marshal(map[string]string{"password": vals[2]})
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COUCHDB_PASSWORD", "file://"+file+"#password")
	db := openFromEnv(t, securedb.CouchDB)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping with a file:// password reference: %v", err)
	}
	pc, ok := db.(dbservice.PostureChecker)
	if !ok {
		t.Fatal("the service Open returns does not report posture")
	}
	var found bool
	for _, f := range pc.CheckPosture(context.Background()) {
		if f.ID == "secrets-manager" {
			found = true
			if f.Status != dbservice.Pass || !strings.Contains(f.Detail, "file://") {
				t.Errorf("secrets-manager finding = %+v, want pass for a file:// reference", f)
			}
		}
		if strings.Contains(f.Detail+f.Fix, vals[2]) {
			t.Errorf("a finding shows the password: %+v", f)
		}
	}
	if !found {
		t.Error("no secrets-manager finding")
	}

	t.Setenv("COUCHDB_PASSWORD", "file://"+filepath.Join(t.TempDir(), "missing")+"#password")
	t.Setenv("DATABASE_PROVIDER", securedb.CouchDB)
	_, err := securedb.OpenFromEnv(context.Background())
	if err == nil || strings.Contains(err.Error(), vals[2]) {
		t.Fatalf("a missing secret file: %v, want an error that names the reference only", err)
	}
}

func envOf(name string) string { return os.Getenv(name) }
