package couchdb

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// holdingProxy forwards to the test server, but holds the answer to every
// request whose path ends in hold until release is closed.
type holdingProxy struct {
	*httptest.Server
	held    chan struct{} // closed when the first held request arrived
	release chan struct{}
}

func newHoldingProxy(t *testing.T, hold string) *holdingProxy {
	t.Helper()
	target, err := url.Parse(os.Getenv(EnvURL))
	if err != nil {
		t.Fatal(err)
	}
	p := &holdingProxy{held: make(chan struct{}), release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, hold) {
			once.Do(func() { close(p.held) })
			<-p.release
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// TestCloseWaitsForCallsInProgress starts a Get whose answer a proxy
// holds, calls Close, and checks that Close returns only after the Get
// ended (and the Get itself succeeded), and that calls after Close are
// ErrClosed.
func TestCloseWaitsForCallsInProgress(t *testing.T) {
	coll := dbtest.Collection(t)
	direct := newServer(t) // skips without a server
	if _, err := direct.Save(t.Context(), coll, "slow", dbservice.Doc{"v": 1}); err != nil {
		t.Fatal(err)
	}
	proxy := newHoldingProxy(t, "/slow")
	s := newServer(t, func(c *Config) { c.URL = proxy.URL })

	var callEnded, closeReturned time.Time
	var mu sync.Mutex
	getDone := make(chan error, 1)
	go func() {
		_, err := s.Get(t.Context(), coll, "slow")
		mu.Lock()
		callEnded = time.Now()
		mu.Unlock()
		getDone <- err
	}()
	select {
	case <-proxy.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the Get never reached the proxy")
	}
	closeDone := make(chan error, 1)
	go func() {
		err := s.Close()
		mu.Lock()
		closeReturned = time.Now()
		mu.Unlock()
		closeDone <- err
	}()
	// Close must still be waiting while the Get is held. A Close that does
	// not wait returns at once; give it a bounded moment to show that.
	select {
	case <-closeDone:
		close(proxy.release)
		t.Fatal("Close returned while a Get was in progress")
	case <-time.After(300 * time.Millisecond):
	}
	close(proxy.release)
	if err := <-getDone; err != nil {
		t.Fatalf("the Get in progress during Close: %v, want the document", err)
	}
	select {
	case err := <-closeDone:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return after the call ended")
	}
	mu.Lock()
	if closeReturned.Before(callEnded) {
		t.Errorf("Close returned %v before the call ended", callEnded.Sub(closeReturned))
	}
	mu.Unlock()
	if _, err := s.Get(t.Context(), coll, "slow"); !errors.Is(err, dbservice.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
}
