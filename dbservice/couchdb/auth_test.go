package couchdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// rotatingSource is a PasswordSource whose value a test changes, as a
// secret manager would after a rotation. Until refresh is asked for it
// keeps serving what it served last (a cache).
type rotatingSource struct {
	mu        sync.Mutex
	current   string // what the secret manager holds
	cached    string // what the source hands out without refresh
	calls     int
	refreshes int
}

func newRotatingSource(pw string) *rotatingSource {
	return &rotatingSource{current: pw, cached: pw}
}

func (r *rotatingSource) get(_ context.Context, refresh bool) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if refresh {
		r.refreshes++
		r.cached = r.current
	}
	return r.cached, nil
}

func (r *rotatingSource) rotate(pw string) {
	r.mu.Lock()
	r.current = pw
	r.mu.Unlock()
}

func (r *rotatingSource) counts() (calls, refreshes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.refreshes
}

// setPassword changes user's password in _users the way an operator's
// rotation would, with Provision, and waits until CouchDB's credential
// cache, which follows _users asynchronously, refuses the old one.
func setPassword(t *testing.T, coll, user, old, pw string) {
	t.Helper()
	if err := Provision(t.Context(), serverConfig(t), Spec{Collections: []string{coll}, AppUser: user, AppPassword: pw}); err != nil {
		t.Fatalf("Provision with a new password: %v", err)
	}
	body, _ := json.Marshal(map[string]string{"name": user, "password": old})
	testenv.WaitFor(t, 30*time.Second, "CouchDB to refuse the old password", func() bool {
		resp, err := http.Post(os.Getenv(EnvURL)+"/_session", "application/json", bytes.NewReader(body))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
}

func TestRotatedPasswordIsPickedUpWithoutRestart(t *testing.T) {
	for _, mode := range []AuthMode{AuthCookie, AuthBasic} {
		t.Run("with "+string(mode)+" auth", func(t *testing.T) {
			coll := dbtest.Collection(t)
			user, pw1 := newAppUser(t, []string{coll}, nil)
			src := newRotatingSource(pw1)
			rec := newRecorder()
			cfg := appConfig(t, user, "")
			cfg.PasswordSource, cfg.Transport, cfg.AuthMode = src.get, rec, mode
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Save(t.Context(), coll, "before", dbservice.Doc{"v": 1}); err != nil {
				t.Fatalf("Save with the first password: %v", err)
			}

			pw2 := randomSecret(t)
			setPassword(t, coll, user, pw1, pw2)
			src.rotate(pw2)
			rec.reset()

			d, err := s.Get(t.Context(), coll, "before")
			if err != nil || d["v"] != 1.0 {
				t.Fatalf("Get after the rotation = %v, %v; want the document", d, err)
			}
			if _, refreshes := src.counts(); refreshes != 1 {
				t.Fatalf("the source was asked to refresh %d times, want 1", refreshes)
			}
			wantLogins := map[AuthMode]int{AuthCookie: 1, AuthBasic: 0}[mode]
			if n := rec.count(http.MethodPost, "/_session"); n != wantLogins {
				t.Fatalf("%d logins after the rotation, want %d", n, wantLogins)
			}
			// The refused request and its one retry.
			if n := rec.count(http.MethodGet, "/"+s.dbName(coll)+"/before"); n != 2 {
				t.Fatalf("the Get was sent %d times, want 2 (refused, then retried once)", n)
			}
		})
	}
}

func TestAStalePasswordIsUnauthorizedWithoutARetryLoop(t *testing.T) {
	for _, mode := range []AuthMode{AuthCookie, AuthBasic} {
		t.Run("with "+string(mode)+" auth", func(t *testing.T) {
			coll := dbtest.Collection(t)
			user, current := newAppUser(t, []string{coll}, nil)
			stale := canary + "-stale"
			src := newRotatingSource(stale)
			rec := newRecorder()
			logs := &logBuffer{}
			cfg := appConfig(t, user, "")
			cfg.PasswordSource, cfg.Transport, cfg.AuthMode = src.get, rec, mode
			cfg.Logger = slogTo(logs)
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Get(t.Context(), coll, "x")
			if !errors.Is(err, dbservice.ErrUnauthorized) {
				t.Fatalf("Get with a stale password: %v, want ErrUnauthorized", err)
			}
			calls, _ := src.counts()
			if calls > 3 || rec.count("", "") > 3 {
				t.Fatalf("a refused password led to %d source calls and %d requests, want at most 3 each", calls, rec.count("", ""))
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logs.String()} {
				if strings.Contains(text, canary) {
					t.Fatalf("the stale password shows in: %s", text)
				}
			}

			// Once the source has the right password, the same Service
			// works after the refusal's backoff (a second): nothing was
			// cached as permanently broken.
			fresh := randomSecret(t)
			setPassword(t, coll, user, current, fresh)
			src.rotate(fresh)
			var saveErr error
			testenv.WaitFor(t, 10*time.Second, "a Save with the rotated password", func() bool {
				_, saveErr = s.Save(t.Context(), coll, "x", dbservice.Doc{"v": 1})
				return saveErr == nil
			})
		})
	}
}

func TestConcurrentCallsDuringReauthenticationLogInOnce(t *testing.T) {
	coll := dbtest.Collection(t)
	user, pw1 := newAppUser(t, []string{coll}, nil)
	src := newRotatingSource(pw1)
	rec := newRecorder()
	cfg := appConfig(t, user, "")
	cfg.PasswordSource, cfg.Transport = src.get, rec
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Save(t.Context(), coll, "doc", dbservice.Doc{"v": 1}); err != nil {
		t.Fatal(err)
	}
	pw2 := randomSecret(t)
	setPassword(t, coll, user, pw1, pw2) // the session cookie is now refused
	src.rotate(pw2)
	rec.reset()

	const workers = 32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Get(t.Context(), coll, "doc")
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	if n := rec.count(http.MethodPost, "/_session"); n != 1 {
		t.Fatalf("%d concurrent calls logged in %d times, want once", workers, n)
	}
	if _, refreshes := src.counts(); refreshes != 1 {
		t.Fatalf("the password was refreshed %d times, want once", refreshes)
	}
}

func TestConcurrentFirstCallsLogInOnce(t *testing.T) {
	rec := newRecorder()
	s := newServer(t, func(c *Config) { c.Transport = rec })
	coll := dbtest.Collection(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := s.Get(t.Context(), coll, "missing"); !errors.Is(err, dbservice.ErrNotFound) {
				t.Errorf("Get: %v, want ErrNotFound", err)
			}
		})
	}
	wg.Wait()
	if n := rec.count(http.MethodPost, "/_session"); n != 1 {
		t.Fatalf("16 first calls logged in %d times, want once", n)
	}
}

// TestTheCanaryPasswordNeverLeaves drives the Service through success,
// refusal, forbidden access and not-found with a recognisable password and
// searches every error text and log record for it.
func TestTheCanaryPasswordNeverLeaves(t *testing.T) {
	coll, other := dbtest.Collection(t), dbtest.Collection(t)
	user, first := newAppUser(t, []string{coll}, nil)
	pw := canary + "-" + randomSecret(t)
	setPassword(t, coll, user, first, pw)
	logs := &logBuffer{}
	var errs []error
	for _, mode := range []AuthMode{AuthCookie, AuthBasic} {
		cfg := appConfig(t, user, pw)
		cfg.AuthMode, cfg.Logger = mode, slogTo(logs)
		s, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		_, err = s.Save(ctx, coll, "a", dbservice.Doc{"password": "not this one"})
		errs = append(errs, err)
		_, err = s.Get(ctx, coll, "missing")
		errs = append(errs, err)
		_, err = s.Get(ctx, other, "x")
		errs = append(errs, err)
		errs = append(errs, s.EnsureIndex(ctx, coll, "new"))
		_ = s.CheckPosture(ctx)
		s.Close()

		wrong := appConfig(t, user, canary+"-wrong")
		wrong.AuthMode, wrong.Logger = mode, slogTo(logs)
		w, err := New(t.Context(), wrong)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Get(ctx, coll, "a")
		errs = append(errs, err)
		errs = append(errs, w.Ping(ctx))
		w.Close()
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(text, canary) {
				t.Fatalf("an error shows the password: %s", text)
			}
		}
	}
	if strings.Contains(logs.String(), canary) {
		t.Fatalf("a log record shows the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "couchdb refused the login") {
		t.Fatalf("the refused logins were not logged:\n%s", logs.String())
	}
}
