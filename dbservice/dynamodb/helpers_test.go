package dynamodb

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/securedb-go/securedb/internal/testenv"
)

// runPrefix keeps this run's tables apart from other runs on a shared
// server.
var runPrefix = testenv.RunPrefix

// serverConfig returns a Config for the DynamoDB test server, or skips (or
// fails, under SECUREDB_REQUIRE_SERVERS=1) when none is configured.
func serverConfig(t testing.TB) Config {
	t.Helper()
	testenv.Need(t, "dynamodb", EnvEndpointURL)
	cfg, err := FromEnv()
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	cfg.TablePrefix = runPrefix
	// Short, so that the wait before a backfill stays short; writes then
	// ask for the table's indexes about twice a second.
	cfg.IndexRefresh = 500 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// cachedIndexes keeps a Service's list of a table's indexes for the whole
// test, for tests that count every operation: the list is then asked for
// once, on the first call that needs it.
func cachedIndexes(c *Config) { c.IndexRefresh = time.Hour }

// newServer returns a Service on the test server with rec (if any)
// recording its requests; the Service is closed when the test ends.
func newServer(t testing.TB, rec *recorder, adjust ...func(*Config)) *Service {
	t.Helper()
	cfg := serverConfig(t)
	if rec != nil {
		cfg.ClientOptions = append(cfg.ClientOptions, rec.install)
	}
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

// recorder counts the operations a client sends, by name, with an
// Initialize-step middleware: every call passes it before anything else, so
// a count of zero proves nothing was sent.
type recorder struct {
	mu     sync.Mutex
	ops    map[string]int
	inputs []any
}

func newRecorder() *recorder { return &recorder{ops: map[string]int{}} }

func (r *recorder) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("securedbRecorder",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.mu.Lock()
				r.ops[middleware.GetOperationName(ctx)]++
				r.inputs = append(r.inputs, in.Parameters)
				r.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.ops {
		n += c
	}
	return n
}

func (r *recorder) count(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op]
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.ops))
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.ops)
	r.inputs = nil
}

// createInputs returns the CreateTable inputs sent so far.
func (r *recorder) createInputs() []*dynamodb.CreateTableInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*dynamodb.CreateTableInput
	for _, in := range r.inputs {
		if c, ok := in.(*dynamodb.CreateTableInput); ok {
			out = append(out, c)
		}
	}
	return out
}
