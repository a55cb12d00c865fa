package gcpsm_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/secrets/gcpsm"
)

const canary = "canary-gcp-91b4-DO-NOT-LEAK"

func clientOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func newFake() *fakeSecretManager {
	stored := `{"url":"https://db.internal:6984","username":"app","password":"` + canary + `","port":6984}`
	return &fakeSecretManager{
		secrets: map[string][]fakeVersion{
			"projects/p/secrets/couchdb": {
				{data: []byte(`{"password":"first"}`)},
				{data: []byte(stored)},
				{data: []byte(`{"password":"disabled"}`), disabled: true},
			},
			"projects/p/secrets/plain":   {{data: []byte(canary)}},
			"projects/p/secrets/corrupt": {{data: []byte(`{"password":"` + canary + `"}`), badCRC: true}},
			"projects/p/secrets/old":     {{data: []byte("no-checksum"), noCRC: true}},
		},
		aliases: map[string]map[string]int{"projects/p/secrets/couchdb": {"stable": 1}},
		failures: map[string]codes.Code{
			"projects/p/secrets/denied":   codes.PermissionDenied,
			"projects/p/secrets/unauth":   codes.Unauthenticated,
			"projects/p/secrets/internal": codes.Internal,
		},
	}
}

// newResolver starts the fake and connects the real client to it with New.
func newResolver(t *testing.T) (*gcpsm.Resolver, *fakeSecretManager) {
	t.Helper()
	fake := newFake()
	r, err := gcpsm.New(context.Background(), clientOptions(startFake(t, fake))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r, fake
}

func TestResolveAgainstTheGRPCService(t *testing.T) {
	r, fake := newResolver(t)
	tests := []struct {
		name    string
		ref     string
		want    string
		wantErr error
		calls   int64
	}{
		{"latest is the newest enabled version", "gcpsm://projects/p/secrets/couchdb/versions/latest#password", canary, nil, 1},
		{"a missing version means latest", "gcpsm://projects/p/secrets/couchdb#password", canary, nil, 1},
		{"a version number selects that version", "gcpsm://projects/p/secrets/couchdb/versions/1#password", "first", nil, 1},
		{"a version alias selects its version", "gcpsm://projects/p/secrets/couchdb/versions/stable#password", "first", nil, 1},
		{"without a key the whole payload is returned", "gcpsm://projects/p/secrets/plain", canary, nil, 1},
		{"a payload without a checksum is accepted", "gcpsm://projects/p/secrets/old", "no-checksum", nil, 1},
		{"a corrupted checksum is refused", "gcpsm://projects/p/secrets/corrupt#password", "", secrets.ErrUnavailable, 1},
		{"a disabled version is not found", "gcpsm://projects/p/secrets/couchdb/versions/3", "", secrets.ErrNotFound, 1},
		{"an unknown version is not found", "gcpsm://projects/p/secrets/couchdb/versions/9", "", secrets.ErrNotFound, 1},
		{"an unknown secret is not found", "gcpsm://projects/p/secrets/nope", "", secrets.ErrNotFound, 1},
		{"a missing key is not found", "gcpsm://projects/p/secrets/couchdb#token", "", secrets.ErrNotFound, 1},
		{"a key on a non-JSON payload is not found", "gcpsm://projects/p/secrets/plain#password", "", secrets.ErrNotFound, 1},
		{"PermissionDenied is a permission error", "gcpsm://projects/p/secrets/denied", "", secrets.ErrPermission, 1},
		{"Unauthenticated is a permission error", "gcpsm://projects/p/secrets/unauth", "", secrets.ErrPermission, 1},
		{"Internal is unavailable", "gcpsm://projects/p/secrets/internal", "", secrets.ErrUnavailable, 1},
		{"a malformed resource name is refused before any call", "gcpsm://projects/p/couchdb", "", secrets.ErrInvalidRef, 0},
		{"query parameters are refused before any call", "gcpsm://projects/p/secrets/s?version=1", "", secrets.ErrInvalidRef, 0},
		{"another scheme is refused before any call", "awssm://prod/couchdb", "", secrets.ErrInvalidRef, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.calls.Load()
			s, err := r.Resolve(context.Background(), tt.ref)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Resolve(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
			}
			if s.Reveal() != tt.want {
				t.Fatalf("Resolve(%q) = %q, want %q", tt.ref, s.Reveal(), tt.want)
			}
			if got := fake.calls.Load() - before; got != tt.calls {
				t.Fatalf("%d calls, want %d", got, tt.calls)
			}
			if err != nil && !strings.Contains(err.Error(), tt.ref) {
				t.Fatalf("error %q does not name the reference", err)
			}
		})
	}
}

func TestStatusStaysInTheChain(t *testing.T) {
	r, _ := newResolver(t)
	_, err := r.Resolve(context.Background(), "gcpsm://projects/p/secrets/nope")
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status.Code(%v) = %v, want NotFound", err, status.Code(err))
	}
}

// newClientWithoutRetries connects a client whose AccessSecretVersion does
// not retry, because the default policy backs off for seconds on Unavailable.
func newClientWithoutRetries(t *testing.T, addr string) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(context.Background(), clientOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	c.CallOptions.AccessSecretVersion = nil
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestUnavailable(t *testing.T) {
	t.Run("an Unavailable status is unavailable", func(t *testing.T) {
		fake := newFake()
		fake.failures["projects/p/secrets/down"] = codes.Unavailable
		r := gcpsm.NewFromClient(newClientWithoutRetries(t, startFake(t, fake)))
		if _, err := r.Resolve(context.Background(), "gcpsm://projects/p/secrets/down"); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("error = %v, want ErrUnavailable", err)
		}
	})
	t.Run("a server that is not listening is unavailable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		r := gcpsm.NewFromClient(newClientWithoutRetries(t, addr))
		if _, err := r.Resolve(context.Background(), "gcpsm://projects/p/secrets/plain"); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("error = %v, want ErrUnavailable", err)
		}
	})
	t.Run("a cancelled context is reported as such, not as unavailable", func(t *testing.T) {
		r, _ := newResolver(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := r.Resolve(ctx, "gcpsm://projects/p/secrets/plain")
		if !errors.Is(err, context.Canceled) || errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("error = %v, want context.Canceled only", err)
		}
	})
	t.Run("Close on a resolver from NewFromClient leaves the client open", func(t *testing.T) {
		fake := newFake()
		c := newClientWithoutRetries(t, startFake(t, fake))
		if err := gcpsm.NewFromClient(c).Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := gcpsm.NewFromClient(c).Resolve(context.Background(), "gcpsm://projects/p/secrets/plain"); err != nil {
			t.Fatalf("client closed: %v", err)
		}
	})
}

func TestWorksBehindMuxCacheAndSource(t *testing.T) {
	r, fake := newResolver(t)
	mux := secrets.Default()
	mux.Register(gcpsm.Scheme, r)
	c := secrets.Cache(mux, secrets.Options{TTL: time.Hour})
	src := secrets.Source(c, "gcpsm://projects/p/secrets/couchdb#password")
	for _, refresh := range []bool{false, false, true} {
		if got, err := src(context.Background(), refresh); err != nil || got != canary {
			t.Fatalf("source(refresh=%v): %v", refresh, err)
		}
	}
	if fake.calls.Load() != 2 {
		t.Fatalf("%d calls, want 2 (one cached read, one refresh)", fake.calls.Load())
	}
}

func TestCanaryNeverLeaks(t *testing.T) {
	r, _ := newResolver(t)
	for _, ref := range []string{
		"gcpsm://projects/p/secrets/couchdb#token", "gcpsm://projects/p/secrets/couchdb#port",
		"gcpsm://projects/p/secrets/plain#password", "gcpsm://projects/p/secrets/corrupt#password",
		"gcpsm://projects/p/secrets/denied",
	} {
		t.Run(ref+" does not leak the value", func(t *testing.T) {
			_, err := r.Resolve(context.Background(), ref)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(out, canary) {
					t.Fatalf("leak: %s", out)
				}
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		want    gcpsm.Ref
		wantErr bool
	}{
		{"a full version name", "gcpsm://projects/p/secrets/s/versions/7#password", gcpsm.Ref{Project: "p", Secret: "s", Version: "7", Key: "password"}, false},
		{"no version means latest", "gcpsm://projects/p/secrets/s", gcpsm.Ref{Project: "p", Secret: "s", Version: "latest"}, false},
		{"a project number", "gcpsm://projects/123456789/secrets/s/versions/latest", gcpsm.Ref{Project: "123456789", Secret: "s", Version: "latest"}, false},
		{"a legacy domain-scoped project", "gcpsm://projects/example.com:proj/secrets/s", gcpsm.Ref{Project: "example.com:proj", Secret: "s", Version: "latest"}, false},
		{"a missing secrets segment", "gcpsm://projects/p/s", gcpsm.Ref{}, true},
		{"an empty version", "gcpsm://projects/p/secrets/s/versions/", gcpsm.Ref{}, true},
		{"a trailing slash", "gcpsm://projects/p/secrets/s/", gcpsm.Ref{}, true},
		{"a secret ID with a dot", "gcpsm://projects/p/secrets/a.b", gcpsm.Ref{}, true},
		{"an escaped slash in the secret ID", "gcpsm://projects/p/secrets/a%2Fb/versions/1", gcpsm.Ref{}, true},
		{"a locations path, which needs a regional endpoint", "gcpsm://projects/p/locations/l/secrets/s", gcpsm.Ref{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gcpsm.ParseRef(tt.ref)
			if tt.wantErr {
				if !errors.Is(err, secrets.ErrInvalidRef) {
					t.Fatalf("error = %v, want ErrInvalidRef", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRef(%q) = %#v, %v; want %#v", tt.ref, got, err, tt.want)
			}
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"gcpsm://projects/p/secrets/s/versions/latest#password", "gcpsm://projects/p/secrets/s",
		"gcpsm://projects/example.com:p/secrets/s/versions/1", "gcpsm://projects//secrets/s", "gcpsm://projects/p/secrets/s?x=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		r, err := gcpsm.ParseRef(ref)
		if err != nil {
			if !errors.Is(err, secrets.ErrInvalidRef) {
				t.Fatalf("error %v does not wrap ErrInvalidRef", err)
			}
			return
		}
		again, err := gcpsm.ParseRef(r.String())
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %q via %q: %#v, %v", ref, r.String(), again, err)
		}
	})
}
