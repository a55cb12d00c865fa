package couchdb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func statuses(fs []dbservice.Finding) map[string]dbservice.Status {
	m := map[string]dbservice.Status{}
	for _, f := range fs {
		m[f.ID] = f.Status
	}
	return m
}

func checkFindings(t *testing.T, fs []dbservice.Finding, want map[string]dbservice.Status) {
	t.Helper()
	for _, f := range fs {
		t.Logf("%-18s %-4s %s", f.ID, f.Status, f.Detail)
		if f.Fix != "" {
			t.Logf("%-23s fix: %s", "", f.Fix)
		}
		if f.Status != dbservice.Pass && f.Fix == "" {
			t.Errorf("finding %s (%s) has no Fix", f.ID, f.Status)
		}
	}
	got := statuses(fs)
	if len(got) != len(want) {
		t.Errorf("%d findings, want %d", len(got), len(want))
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("finding %s = %q, want %q", id, got[id], st)
		}
	}
}

func TestPostureOfTheTestServerWithAdminCredentials(t *testing.T) {
	s := newServer(t)
	coll := dbtest.Collection(t)
	if _, err := s.Save(t.Context(), coll, "x", dbservice.Doc{"v": 1}); err != nil {
		t.Fatal(err)
	}
	checkFindings(t, s.CheckPosture(t.Context()), map[string]dbservice.Status{
		"tls":                dbservice.Warn, // plain HTTP, loopback only
		"cursor-key":         dbservice.Warn, // no shared key: a per-process one
		"version":            dbservice.Pass,
		"auth-enabled":       dbservice.Pass,
		"auth-required":      dbservice.Warn, // require_valid_user is off by default
		"least-privilege":    dbservice.Warn, // the suite runs as the server admin
		"security-rules":     dbservice.Pass, // CouchDB 3 makes new databases admin-only
		"encryption-at-rest": dbservice.Skip,
		"backups":            dbservice.Skip,
	})
}

func TestPostureWithProvisionedAppCredentials(t *testing.T) {
	coll := dbtest.Collection(t)
	user, pw := newAppUser(t, []string{coll}, nil)
	cfg := appConfig(t, user, pw)
	cfg.Collections = []string{coll}
	var err error
	if cfg.Cursors, err = dbservice.NewCursorSigner([]byte("a cursor key every instance shares")); err != nil {
		t.Fatal(err)
	}
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs := s.CheckPosture(t.Context())
	checkFindings(t, fs, map[string]dbservice.Status{
		"tls":                dbservice.Warn,
		"cursor-key":         dbservice.Pass,
		"version":            dbservice.Pass,
		"auth-enabled":       dbservice.Pass,
		"auth-required":      dbservice.Warn,
		"least-privilege":    dbservice.Pass,
		"security-rules":     dbservice.Pass,
		"encryption-at-rest": dbservice.Skip,
		"backups":            dbservice.Skip,
	})
	for _, f := range fs {
		if f.ID == "security-rules" && !strings.Contains(f.Detail, "members 1 names") {
			t.Fatalf("security-rules = %q, want the provisioned member", f.Detail)
		}
	}
}

func TestPostureWithoutAServerSkipsWhatItCannotSee(t *testing.T) {
	s, err := New(context.Background(), Config{URL: "https://couch.example", User: "app", Password: canary})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fs := s.CheckPosture(context.Background())
	want := map[string]dbservice.Status{"tls": dbservice.Pass}
	for _, c := range postureChecks[1:] {
		want[c.id] = dbservice.Skip
	}
	got := statuses(fs)
	for id, st := range want {
		if got[id] != st {
			t.Errorf("finding %s = %q, want %q", id, got[id], st)
		}
	}
	for _, f := range fs {
		if f.Status != dbservice.Pass && f.Fix == "" {
			t.Errorf("finding %s (%s) has no Fix", f.ID, f.Status)
		}
	}
}

func TestPlainHTTPToARemoteHostIsAFailingFinding(t *testing.T) {
	s, err := New(context.Background(), Config{URL: "http://couch.example:5984", User: "app", Password: canary, AllowInsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f := s.tlsFinding(); f.Status != dbservice.Fail || f.Fix == "" {
		t.Fatalf("tls finding = %+v, want a failure with a fix", f)
	}
}

// TestTLSPostureJudgesTheEffectiveSettings checks that "tls" looks past
// the https:// scheme at what the transport will do.
func TestTLSPostureJudgesTheEffectiveSettings(t *testing.T) {
	pinned := func(tls.ConnectionState) error { return nil }
	cases := []struct {
		name string
		cfg  func(*Config)
		want dbservice.Status
	}{
		{"the default transport", func(*Config) {}, dbservice.Pass},
		{"TLSConfig with a private root", func(c *Config) { c.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} }, dbservice.Pass},
		{"TLSConfig with InsecureSkipVerify", func(c *Config) { c.TLSConfig = &tls.Config{InsecureSkipVerify: true} }, dbservice.Fail},
		{"InsecureSkipVerify with custom verification", func(c *Config) {
			c.TLSConfig = &tls.Config{InsecureSkipVerify: true, VerifyConnection: pinned}
		}, dbservice.Warn},
		{"a custom *http.Transport with InsecureSkipVerify", func(c *Config) {
			c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		}, dbservice.Fail},
		{"a custom *http.Transport that verifies", func(c *Config) {
			c.Transport = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
		}, dbservice.Pass},
		{"an opaque custom Transport", func(c *Config) { c.Transport = newRecorder() }, dbservice.Warn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{URL: "https://couch.example:6984", User: "app", Password: "pw"}
			c.cfg(&cfg)
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f := s.tlsFinding()
			t.Logf("%s: %s", f.Status, f.Detail)
			if f.Status != c.want {
				t.Fatalf("tls = %s (%s), want %s", f.Status, f.Detail, c.want)
			}
			if c.want != dbservice.Pass && f.Fix == "" {
				t.Fatalf("a %s finding without a Fix", f.Status)
			}
		})
	}
}
