package securedb_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/couchdb"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// TestOpenErrorsSayWhoOnce: an error of Open itself reads
// "securedb: open: ...", not "securedb: securedb open: ...".
func TestOpenErrorsSayWhoOnce(t *testing.T) {
	_, err := securedb.Open(context.Background(), securedb.Config{Provider: "mongo"})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("Open of an unknown provider: %v, want ErrInvalid", err)
	}
	t.Setenv("DATABASE_PROVIDER", "mongo")
	_, envErr := securedb.ConfigFromEnv()
	for what, err := range map[string]error{"Open": err, "ConfigFromEnv": envErr} {
		if msg := err.Error(); !strings.HasPrefix(msg, "securedb: open: ") || strings.Count(msg, "securedb") != 1 {
			t.Errorf("%s error %q: want one prefix, \"securedb: open: \"", what, msg)
		}
	}
}

// connCounter is a reverse proxy in front of a real server that counts
// the client connections still open.
type connCounter struct {
	srv    *httptest.Server
	mu     sync.Mutex
	open   int
	closed chan struct{}
}

func newConnCounter(t *testing.T, target string) *connCounter {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &connCounter{closed: make(chan struct{}, 64)}
	c.srv = httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(u))
	c.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch st {
		case http.StateNew:
			c.open++
		case http.StateClosed, http.StateHijacked:
			c.open--
			c.closed <- struct{}{}
		}
	}
	c.srv.Start()
	t.Cleanup(c.srv.Close)
	return c
}

// waitAllClosed waits until the client has closed every connection it
// opened; an Open that fails must not leave its transport behind.
func (c *connCounter) waitAllClosed(t *testing.T) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		n := c.open
		c.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-c.closed:
		case <-timeout:
			t.Fatalf("%d connections still open after Open failed: it did not close what it opened", n)
		}
	}
}

// TestOpenPingsSoAWrongPasswordOrEndpointFailsOpen: Open pings by default,
// so a wrong CouchDB password is ErrUnauthorized and an endpoint nobody
// listens on is ErrUnavailable from Open itself, with the connections it
// made closed; SkipPing defers the failure to the first call.
func TestOpenPingsSoAWrongPasswordOrEndpointFailsOpen(t *testing.T) {
	vals := testenv.Need(t, securedb.CouchDB, "COUCHDB_URL")
	ctx := context.Background()
	const canary = "wrong-CANARY-77f1"
	// A user nobody created: CouchDB refuses it like a wrong password, and
	// its failed-login lockout cannot lock out the user other tests share.
	user := "nobody-" + dbtest.Collection(t)

	proxy := newConnCounter(t, vals[0])
	cfg := securedb.Config{Provider: securedb.CouchDB, Settings: couchdb.Config{URL: proxy.srv.URL, User: user, Password: canary}}
	db, err := securedb.Open(ctx, cfg)
	if err == nil {
		_ = db.Close()
		t.Fatal("Open with a wrong password succeeded; the failure would surface at the first call")
	}
	if !errors.Is(err, dbservice.ErrUnauthorized) || strings.Contains(err.Error(), canary) {
		t.Fatalf("Open with a wrong password: %v; want ErrUnauthorized without the password", err)
	}
	proxy.waitAllClosed(t)

	cfg.SkipPing = true
	db, err = securedb.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open with SkipPing: %v", err)
	}
	_, err = db.Get(ctx, "agents", "a1")
	_ = db.Close()
	if !errors.Is(err, dbservice.ErrUnauthorized) {
		t.Fatalf("first call after Open with SkipPing and a wrong password: %v, want ErrUnauthorized", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + l.Addr().String()
	_ = l.Close()
	db, err = securedb.Open(ctx, securedb.Config{Provider: securedb.CouchDB, Settings: couchdb.Config{URL: nobody, User: user, Password: canary}})
	if err == nil {
		_ = db.Close()
		t.Fatal("Open of an endpoint nobody listens on succeeded")
	}
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("Open of an endpoint nobody listens on: %v, want ErrUnavailable", err)
	}
}
