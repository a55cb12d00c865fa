package securedb_test

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
)

func TestOpenAppendsToTheAuditFileAndContinuesItsTrail(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "open.test")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trail.jsonl")
	t.Setenv("SECUREDB_TEST_AUDIT_KEY", skey)
	t.Setenv(securedb.EnvAuditFile, path)
	t.Setenv(securedb.EnvAuditKey, "env://SECUREDB_TEST_AUDIT_KEY")
	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuditFile != path || cfg.AuditSigningKey == "" {
		t.Fatalf("ConfigFromEnv did not read the audit variables: %v", cfg)
	}
	cfg.DisableAudit = true // the trail alone
	ctx := dbservice.WithPrincipal(t.Context(), "svc-open")
	for run := range 2 {
		db, err := securedb.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("open %d: %v", run, err)
		}
		if _, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"run": run}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Get(ctx, "agents", "nope"); !errors.Is(err, dbservice.ErrNotFound) {
			t.Fatal(err)
		}
		if run == 0 {
			f := byIDs(dbservice.CheckPosture(ctx, db))[dbservice.ItemAuditLogging]
			if f.Status != dbservice.Pass || !strings.Contains(f.Detail, "signed with Ed25519 by key open.test") {
				t.Errorf("audit-logging through Open = %s (%s), want pass naming the key", f.Status, f.Detail)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the trail file has mode %o, want 600", fi.Mode().Perm())
	}
	rep, err := audit.VerifyFiles([]string{path}, vkey)
	if err != nil || !rep.Clean() || rep.Records != 4 || rep.Checkpoints != 2 {
		t.Fatalf("VerifyFiles = %v, %v; want 4 records from two runs under 2 checkpoints", rep, err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), skey[len(skey)-20:]) {
		t.Fatal("the signing key reached the trail")
	}
}

func TestOpenRefusesABrokenTrailAndABadKey(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.jsonl")
	if err := os.WriteFile(broken, []byte("{\"seq\":0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const canary = "CANARY-audit-key-0f9e"
	cases := []struct {
		name string
		cfg  securedb.Config
		also error
	}{
		{"a trail that does not verify is not extended", securedb.Config{AuditFile: broken}, audit.ErrTampered},
		{"a key that is not a note signer key", securedb.Config{AuditFile: filepath.Join(dir, "new.jsonl"), AuditSigningKey: "PRIVATE+KEY+x+" + canary}, nil},
		{"a key without a file", securedb.Config{AuditSigningKey: canary}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DisableAudit = true
			db, err := securedb.Open(t.Context(), tc.cfg)
			if err == nil {
				_ = db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, dbservice.ErrInvalid) || (tc.also != nil && !errors.Is(err, tc.also)) {
				t.Fatalf("Open = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

func byIDs(fs []dbservice.Finding) map[string]dbservice.Finding {
	m := map[string]dbservice.Finding{}
	for _, f := range fs {
		m[f.ID] = f
	}
	return m
}
