package couchdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// refusingDesign is a validate_doc_update function that refuses, with
// CouchDB's 401 "unauthorized", every document carrying "refuse".
const refusingDesign = `{"validate_doc_update": "function (newDoc, oldDoc, userCtx) { if (newDoc.refuse) { throw({unauthorized: 'refused by the validate function'}); } }"}`

// putAsAdmin sends one request with the test server's admin credentials.
func putAsAdmin(t *testing.T, path, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, os.Getenv(EnvURL)+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(os.Getenv(EnvUser), os.Getenv(EnvPassword))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s as admin: HTTP %d", path, resp.StatusCode)
	}
}

// loginRequests counts the requests that present the password: POST
// /_session in cookie mode, GET /_session in Basic mode (its login check).
func loginRequests(rec *recorder, mode AuthMode) int {
	if mode == AuthBasic {
		return rec.count(http.MethodGet, "/_session")
	}
	return rec.count(http.MethodPost, "/_session")
}

// TestValidateDocUpdateRefusalsCostNoLogins saves 100 documents a real
// validate_doc_update function refuses with {unauthorized: ...} (HTTP 401
// from CouchDB 3.5): each is ErrForbidden, none is retried, and none
// costs a login or a password refresh, since the session is still valid.
func TestValidateDocUpdateRefusalsCostNoLogins(t *testing.T) {
	for _, mode := range []AuthMode{AuthCookie, AuthBasic} {
		t.Run("with "+string(mode)+" auth", func(t *testing.T) {
			coll := dbtest.Collection(t)
			user, pw := newAppUser(t, []string{coll}, nil)
			putAsAdmin(t, "/"+runPrefix+coll+"/_design/refuse", refusingDesign)
			src := newRotatingSource(pw)
			rec := newRecorder()
			cfg := appConfig(t, user, "")
			cfg.PasswordSource, cfg.Transport, cfg.AuthMode = src.get, rec, mode
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Save(t.Context(), coll, "accepted", dbservice.Doc{"v": 1}); err != nil {
				t.Fatalf("Save of an accepted document: %v", err)
			}
			_, refreshesBefore := src.counts()
			rec.reset()

			const refused = 100
			var wrong []error
			for i := range refused {
				_, err := s.Save(t.Context(), coll, "refused", dbservice.Doc{"refuse": true, "i": i})
				if !errors.Is(err, dbservice.ErrForbidden) || errors.Is(err, dbservice.ErrUnauthorized) {
					wrong = append(wrong, err)
				}
			}
			_, refreshes := src.counts()
			logins, puts := loginRequests(rec, mode), rec.count(http.MethodPut, "/"+s.dbName(coll)+"/refused")
			t.Logf("%d refused writes: %d logins, %d password refreshes, %d PUTs, %d GET /_session, %d not ErrForbidden", refused, logins, refreshes-refreshesBefore, puts, rec.count(http.MethodGet, "/_session"), len(wrong))
			if len(wrong) > 0 {
				t.Errorf("%d of %d writes refused by validate_doc_update were not ErrForbidden; the first: %v", len(wrong), refused, wrong[0])
			}
			if logins != 0 {
				t.Errorf("%d refused writes cost %d logins, want 0", refused, logins)
			}
			if refreshes != refreshesBefore {
				t.Errorf("%d refused writes cost %d password refreshes, want 0", refused, refreshes-refreshesBefore)
			}
			if puts != refused {
				t.Errorf("%d refused writes sent %d PUTs, want %d (none repeated)", refused, puts, refused)
			}
			// The session survived: the next accepted write needs no login.
			rec.reset()
			if _, err := s.Save(t.Context(), coll, "accepted", dbservice.Doc{"v": 2}); err != nil {
				t.Fatalf("Save after the refusals: %v", err)
			}
			if n := loginRequests(rec, mode); n != 0 {
				t.Errorf("the write after the refusals logged in %d times, want 0", n)
			}
		})
	}
}

// TestAWrongPasswordCostsABoundedNumberOfLogins sends 100 requests with a
// wrong password: each is ErrUnauthorized, but only the first tries the
// password (and refreshes it from its source); the rest repeat that
// refusal without a request. It then keeps calling until the throttle
// has allowed lockoutBudget attempts and checks that no more follow and
// that CouchDB's failed-login lockout ([chttpd_auth_lockout], 5 failures)
// has not locked the user out: the right password still logs in.
func TestAWrongPasswordCostsABoundedNumberOfLogins(t *testing.T) {
	for _, mode := range []AuthMode{AuthCookie, AuthBasic} {
		t.Run("with "+string(mode)+" auth", func(t *testing.T) {
			coll := dbtest.Collection(t)
			user, pw := newAppUser(t, []string{coll}, nil)
			src := newRotatingSource("wrong-" + randomSecret(t))
			rec := newRecorder()
			cfg := appConfig(t, user, "")
			cfg.PasswordSource, cfg.Transport, cfg.AuthMode = src.get, rec, mode
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const calls = 100
			var wrong []error
			for range calls {
				if _, err := s.Get(t.Context(), coll, "x"); !errors.Is(err, dbservice.ErrUnauthorized) {
					wrong = append(wrong, err)
				}
			}
			_, refreshes := src.counts()
			logins := loginRequests(rec, mode)
			t.Logf("%d calls with a wrong password: %d logins, %d password refreshes, %d requests, %d not ErrUnauthorized", calls, logins, refreshes, rec.count("", ""), len(wrong))
			if len(wrong) > 0 {
				t.Fatalf("%d of %d calls with a wrong password were not ErrUnauthorized; the first: %v", len(wrong), calls, wrong[0])
			}
			if logins > 2 || refreshes > 2 {
				t.Fatalf("%d calls with a wrong password cost %d logins and %d refreshes, want at most 2 each", calls, logins, refreshes)
			}

			// Keep failing until the throttle spent its budget.
			testenv.WaitFor(t, 30*time.Second, "the login budget to be spent", func() bool {
				_, _ = s.Get(t.Context(), coll, "x")
				return loginRequests(rec, mode) >= lockoutBudget
			})
			for range calls {
				_, _ = s.Get(t.Context(), coll, "x")
			}
			if n := loginRequests(rec, mode); n != lockoutBudget {
				t.Fatalf("%d logins after the budget was spent, want %d", n, lockoutBudget)
			}
			body, _ := json.Marshal(map[string]string{"name": user, "password": pw})
			resp, err := http.Post(os.Getenv(EnvURL)+"/_session", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("the right password after the library's failed logins: HTTP %d, want 200 (not locked out)", resp.StatusCode)
			}
		})
	}
}
