package couchdb

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

const canary = "canary-Pa55w0rd-7f3c"

func TestPrintingAConfigShowsNoPassword(t *testing.T) {
	source := func(context.Context, bool) (string, error) { return canary, nil }
	configs := map[string]Config{
		"a password":                {URL: "https://couch.example:6984", User: "app", Password: canary},
		"a password source":         {URL: "https://couch.example:6984", User: "app", PasswordSource: source},
		"credentials in the URL":    {URL: "https://app:" + canary + "@couch.example:6984/db"},
		"an unparsable URL with it": {URL: "https://app:" + canary + "@couch example:6984/%zz"},
	}
	for name, cfg := range configs {
		t.Run("with "+name, func(t *testing.T) {
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
			encoded, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range []string{
				fmt.Sprint(cfg), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
				fmt.Sprintf("%s", cfg), cfg.String(), logged.String(), string(encoded),
			} {
				if strings.Contains(text, canary) {
					t.Fatalf("printed config shows the password: %s", text)
				}
				if !strings.Contains(text, "REDACTED") {
					t.Fatalf("printed config does not say a password is set: %s", text)
				}
			}
		})
	}
}

func TestNewRefusesIncompleteOrInsecureSettingsBeforeAnyRequest(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no URL", Config{User: "app", Password: canary}, dbservice.ErrInvalid},
		{"no user", Config{URL: "https://couch.example", Password: canary}, dbservice.ErrInsecure},
		{"no password", Config{URL: "https://couch.example", User: "app"}, dbservice.ErrInsecure},
		{"a user in the URL without password", Config{URL: "https://app@couch.example"}, dbservice.ErrInsecure},
		{"plain http to a remote host", Config{URL: "http://couch.example:5984", User: "app", Password: canary}, dbservice.ErrInsecure},
		{"plain http to a remote IP", Config{URL: "http://10.0.0.7:5984", User: "app", Password: canary}, dbservice.ErrInsecure},
		{"credentials twice", Config{URL: "https://app:" + canary + "@couch.example", User: "app", Password: canary}, dbservice.ErrInvalid},
		{"another scheme", Config{URL: "ftp://couch.example", User: "app", Password: canary}, dbservice.ErrInvalid},
		{"a relative URL", Config{URL: "couch.example:5984", User: "app", Password: canary}, dbservice.ErrInvalid},
		{"a query in the URL", Config{URL: "https://couch.example/?password=" + canary, User: "app", Password: canary}, dbservice.ErrInvalid},
		{"a bad prefix", Config{URL: "https://couch.example", User: "app", Password: canary, Prefix: "Upper_"}, dbservice.ErrInvalid},
		{"a bad auth mode", Config{URL: "https://couch.example", User: "app", Password: canary, AuthMode: "digest"}, dbservice.ErrInvalid},
		{"a user with a colon", Config{URL: "https://couch.example", User: "a:b", Password: canary}, dbservice.ErrInvalid},
		{"a negative timeout", Config{URL: "https://couch.example", User: "app", Password: canary, Timeout: -1}, dbservice.ErrInvalid},
		{"TLS settings for http", Config{URL: "http://127.0.0.1:5984", User: "app", Password: canary, TLSConfig: &tls.Config{}}, dbservice.ErrInvalid},
		{"a CA file that is not PEM", Config{URL: "https://couch.example", User: "app", Password: canary, CAFile: notPEM}, dbservice.ErrInvalid},
		{"a CA file that does not exist", Config{URL: "https://couch.example", User: "app", Password: canary, CAFile: filepath.Join(dir, "none.pem")}, dbservice.ErrInvalid},
		{"a transport with a CA file", Config{URL: "https://couch.example", User: "app", Password: canary, CAFile: notPEM, Transport: rec}, dbservice.ErrInvalid},
		{"an invalid collection to inspect", Config{URL: "https://couch.example", User: "app", Password: canary, Collections: []string{"_users"}}, dbservice.ErrInvalid},
	}
	for _, c := range cases {
		t.Run("refuses "+c.name, func(t *testing.T) {
			if c.cfg.Transport == nil {
				c.cfg.Transport = rec
			}
			s, err := New(context.Background(), c.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New accepted the configuration")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("New: %v, want %v", err, c.want)
			}
			var e *dbservice.Error
			if !errors.As(err, &e) || e.Op != "open" || e.Provider != provider {
				t.Fatalf("New: %#v, want a *dbservice.Error for op open", err)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), canary) {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
	if n := rec.count("", ""); n != 0 {
		t.Fatalf("refused configurations sent %d requests", n)
	}
}

func TestNewAcceptsWhatIsSafe(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"https", Config{URL: "https://couch.example:6984", User: "app", Password: canary}},
		{"http to 127.0.0.1", Config{URL: "http://127.0.0.1:5984", User: "app", Password: canary}},
		{"http to localhost", Config{URL: "http://localhost:5984", User: "app", Password: canary}},
		{"http to ::1", Config{URL: "http://[::1]:5984", User: "app", Password: canary}},
		{"http to a remote host when allowed", Config{URL: "http://couch.example:5984", User: "app", Password: canary, AllowInsecureHTTP: true}},
		{"credentials in the URL", Config{URL: "https://app:" + canary + "@couch.example:6984"}},
		{"a path prefix and Basic auth", Config{URL: "https://proxy.example/couchdb/", User: "app", Password: canary, AuthMode: AuthBasic}},
		{"a TLS config", Config{URL: "https://couch.example", User: "app", Password: canary, TLSConfig: &tls.Config{ServerName: "couch"}}},
	}
	for _, c := range cases {
		t.Run("accepts "+c.name, func(t *testing.T) {
			rec := newRecorder()
			c.cfg.Transport = rec
			if c.cfg.TLSConfig != nil {
				c.cfg.Transport = nil
			}
			s, err := New(context.Background(), c.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v %s", s, s, s, s.base), canary) {
				t.Fatalf("the Service prints the password: %v", s)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := rec.count("", ""); n != 0 {
				t.Fatalf("New and Close sent %d requests, want none", n)
			}
		})
	}
}

func TestCredentialsInTheURLAreMovedOutOfIt(t *testing.T) {
	r, err := Config{URL: "https://app:" + canary + "@couch.example:6984/couchdb/"}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.base.String(); got != "https://couch.example:6984/couchdb" {
		t.Fatalf("base URL = %q, want it without credentials or trailing slash", got)
	}
	pw, err := r.source(context.Background(), false)
	if r.user != "app" || pw != canary || err != nil {
		t.Fatalf("user %q, password ok %v, err %v; want the URL's", r.user, pw == canary, err)
	}
}

func TestFromEnvReadsTheVariables(t *testing.T) {
	t.Setenv(EnvURL, " https://couch.example:6984 ")
	t.Setenv(EnvUser, "app")
	t.Setenv(EnvPassword, canary)
	t.Setenv(EnvPrefix, "prod_")
	t.Setenv(EnvAuth, "Basic")
	t.Setenv(EnvCAFile, "")
	t.Setenv(EnvCreateMissing, "false")
	t.Setenv(EnvAllowInsecureHTTP, "")
	cfg, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "https://couch.example:6984" || cfg.User != "app" || cfg.Password != canary || cfg.Prefix != "prod_" ||
		cfg.AuthMode != AuthBasic || cfg.createMissing() || cfg.AllowInsecureHTTP {
		t.Fatalf("FromEnv = %v (create missing %v)", cfg, cfg.createMissing())
	}

	for name, set := range map[string][2]string{
		"a malformed boolean": {EnvCreateMissing, "sometimes"},
		"an unknown auth":     {EnvAuth, "kerberos"},
		"a bad prefix":        {EnvPrefix, "9lives"},
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			t.Setenv(set[0], set[1])
			if _, err := FromEnv(); !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("FromEnv with %s=%q: %v, want ErrInvalid", set[0], set[1], err)
			}
		})
	}
}

// A Service pointed at nothing proves refused input is refused before any
// request: the recorder under the authentication counts every attempt.
func TestRefusedInputSendsNothing(t *testing.T) {
	rec := newRecorder()
	s, err := New(context.Background(), Config{URL: "http://127.0.0.1:9", User: "app", Password: canary, Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	W := dbservice.Where
	other, err := dbservice.ProcessCursorSigner().Encode("other", dbservice.Query{Limit: 100}, cursorState{After: "x"})
	if err != nil {
		t.Fatal(err)
	}
	badID, err := dbservice.ProcessCursorSigner().Encode("agents", dbservice.Query{Limit: 100}, cursorState{After: "a\x00b"})
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Get with a path in the ID": func() error { _, err := s.Get(ctx, "agents", "../_users"); return err },
		"Get in a system database":  func() error { _, err := s.Get(ctx, "_users", "x"); return err },
		"Save of an operator key":   func() error { _, err := s.Save(ctx, "agents", "a", dbservice.Doc{"$where": 1}); return err },
		"Save of NaN":               func() error { _, err := s.Save(ctx, "agents", "a", dbservice.Doc{"x": math.NaN()}); return err },
		"Save with a malformed rev": func() error {
			_, err := s.Save(ctx, "agents", "a", dbservice.Doc{}, dbservice.IfRev("a b"))
			return err
		},
		"Delete with IfAbsent": func() error { return s.Delete(ctx, "agents", "a", dbservice.IfAbsent()) },
		"Query on an operator": func() error {
			_, err := s.Query(ctx, "agents", dbservice.Query{Where: []dbservice.Cond{W("$gt", dbservice.Eq, 1)}})
			return err
		},
		"Query with a foreign cursor": func() error { _, err := s.Query(ctx, "agents", dbservice.Query{Cursor: other}); return err },
		"Query with a crafted cursor": func() error { _, err := s.Query(ctx, "agents", dbservice.Query{Cursor: badID}); return err },
		"EnsureIndex without fields":  func() error { return s.EnsureIndex(ctx, "agents") },
		"SaveMany with one bad item": func() error {
			return s.SaveMany(ctx, "agents", []dbservice.BulkItem{{ID: "ok", Doc: dbservice.Doc{}}, {ID: "a/b"}})
		},
		"Provision with a weak password": func() error {
			return Provision(ctx, Config{URL: "http://127.0.0.1:9", User: "admin", Password: canary, Transport: rec}, Spec{AppUser: "app", AppPassword: "short"})
		},
	}
	for name, call := range calls {
		t.Run(name+" is ErrInvalid", func(t *testing.T) {
			err := call()
			if !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
	if n := rec.count("", ""); n != 0 {
		t.Fatalf("refused calls sent %d requests", n)
	}
}

// TLS settings are honoured: a certificate nobody vouches for is
// ErrInsecure, and trusting its CA with CAFile or TLSConfig gets past the
// handshake (the handler refuses everything, so the call then fails with
// ErrUnauthorized, which proves the request arrived).
func TestTLSSettingsAreHonoured(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unauthorized","reason":"Name or password is incorrect."}`))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case fails the handshake on purpose
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pemOf(srv.Certificate().Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"an untrusted certificate is ErrInsecure", Config{}, dbservice.ErrInsecure},
		{"a CA file makes it trusted", Config{CAFile: caFile}, dbservice.ErrUnauthorized},
		{"a TLS config makes it trusted", Config{TLSConfig: &tls.Config{RootCAs: pool}}, dbservice.ErrUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.URL, c.cfg.User, c.cfg.Password = srv.URL, "app", canary
			c.cfg.Logger = testLogger(t)
			s, err := New(context.Background(), c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Ping(context.Background())
			if !errors.Is(err, c.want) {
				t.Fatalf("Ping: %v, want %v", err, c.want)
			}
		})
	}
}

func pemOf(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
