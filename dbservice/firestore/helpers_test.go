package firestore

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/securedb-go/securedb/internal/testenv"
)

// runPrefix keeps this run's collections apart from other runs on the
// shared emulator.
var runPrefix = testenv.RunPrefix

// serverConfig returns a Config for the Firestore test emulator, or skips
// (or fails, under SECUREDB_REQUIRE_SERVERS=1) when none is configured.
func serverConfig(t testing.TB) Config {
	t.Helper()
	testenv.Need(t, "firestore", EnvEmulatorHost, EnvProjectID)
	cfg, err := FromEnv()
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	cfg.CollectionPrefix = runPrefix
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// newServer returns a Service on the test emulator, connected the way
// FromEnv users are (the SDK dials FIRESTORE_EMULATOR_HOST); it is closed
// when the test ends.
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

// newCounted returns a Service on the test emulator whose every RPC passes
// rec. The SDK ignores dial options when it dials FIRESTORE_EMULATOR_HOST
// itself, so the variable is cleared for the test and the address given in
// Config.EmulatorHost instead: then New dials, with the options.
func newCounted(t *testing.T, rec *rpcCounter, adjust ...func(*Config)) *Service {
	t.Helper()
	cfg := serverConfig(t)
	t.Setenv(EnvEmulatorHost, "")
	cfg.ClientOptions = append(cfg.ClientOptions, rec.options()...)
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

// rpcCounter counts the RPCs a client starts, unary and streaming, by
// method, with client interceptors: every call passes them before
// anything is sent, so a count of zero proves nothing was.
type rpcCounter struct {
	mu      sync.Mutex
	methods map[string]int
}

func newRPCCounter() *rpcCounter { return &rpcCounter{methods: map[string]int{}} }

func (r *rpcCounter) options() []option.ClientOption {
	return []option.ClientOption{
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(
			func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				r.add(method)
				return invoker(ctx, method, req, reply, cc, opts...)
			})),
		option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(
			func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				r.add(method)
				return streamer(ctx, desc, cc, method, opts...)
			})),
	}
}

func (r *rpcCounter) add(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.methods[method]++
}

func (r *rpcCounter) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.methods {
		n += c
	}
	return n
}

func (r *rpcCounter) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.methods))
	for k, v := range r.methods {
		out[k] = v
	}
	return out
}

func (r *rpcCounter) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.methods)
}

// settledGoroutines waits for goroutines started by earlier tests to end
// and returns the count.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}
