package couchdb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/internal/testenv"
)

// runPrefix keeps this run's databases apart from other runs on a shared
// server.
var runPrefix = testenv.RunPrefix

// randomSecret returns a fresh password-like value.
func randomSecret(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b[:])
}

// serverConfig returns a Config for the CouchDB test server with its admin
// credentials, or skips (or fails, under SECUREDB_REQUIRE_SERVERS=1) when
// none is configured.
func serverConfig(t testing.TB) Config {
	t.Helper()
	testenv.Need(t, "couchdb", EnvURL, EnvUser, EnvPassword)
	cfg, err := FromEnv()
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	cfg.Prefix = runPrefix
	cfg.Logger = testLogger(t)
	return cfg
}

// newServer returns a Service on the test server, closed when the test
// ends.
func newServer(t testing.TB, adjust ...func(*Config)) *Service {
	t.Helper()
	cfg := serverConfig(t)
	for _, a := range adjust {
		a(&cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// logBuffer collects log records so tests can search them for secrets.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testLogger logs at debug level into a buffer that is checked, when the
// test ends, for the server's admin password.
func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	lb := &logBuffer{}
	t.Cleanup(func() {
		if pw := testenvPassword(); pw != "" && strings.Contains(lb.String(), pw) {
			t.Errorf("a log record holds the admin password")
		}
	})
	return slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// recorder is an http.RoundTripper under the provider's authentication
// that counts requests by method and path.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func newRecorder() *recorder { return &recorder{next: http.DefaultTransport} }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// count returns how many requests matched method and path ("" matches
// any).
func (r *recorder) count(method, path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		m, p, _ := strings.Cut(q, " ")
		if (method == "" || m == method) && (path == "" || p == path) {
			n++
		}
	}
	return n
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// slogTo returns a debug-level JSON logger writing to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
