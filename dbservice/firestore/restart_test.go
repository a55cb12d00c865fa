package firestore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

func TestEmulatorKilledMidRunThenRestarted(t *testing.T) {
	testenv.Need(t, "firestore", EnvEmulatorHost)
	srv := testenv.StartServer(t, "firestore")
	// The SDK would dial the shared emulator the variable names; the
	// private one is given in Config instead.
	t.Setenv(EnvEmulatorHost, "")
	cfg := Config{
		ProjectID:        srv.Env[EnvProjectID],
		EmulatorHost:     srv.Env[EnvEmulatorHost],
		CollectionPrefix: runPrefix,
		CallTimeout:      time.Second,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, coll := t.Context(), dbtest.Collection(t)
	warmUp(t, cfg)
	baseline := settledGoroutines()

	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, coll, "before", dbservice.Doc{"v": 1}); err != nil {
		t.Fatalf("Save before the kill: %v", err)
	}

	srv.Kill()
	start := time.Now()
	calls := map[string]func() error{
		"Get":  func() error { _, err := s.Get(ctx, coll, "before"); return err },
		"Save": func() error { _, err := s.Save(ctx, coll, "during", dbservice.Doc{"v": 2}); return err },
		"IfRev": func() error {
			_, err := s.Save(ctx, coll, "before", dbservice.Doc{"v": 2}, dbservice.IfRev(encodeRev(time.Now())))
			return err
		},
		"Delete": func() error { return s.Delete(ctx, coll, "before") },
		"Query":  func() error { _, err := s.Query(ctx, coll, dbservice.Query{}); return err },
		"SaveMany": func() error {
			return s.SaveMany(ctx, coll, []dbservice.BulkItem{{ID: "bulk", Doc: dbservice.Doc{"v": 3}}})
		},
		"Ping": func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		t0 := time.Now()
		err := call()
		t.Logf("%s while down: %v after %v", name, err, time.Since(t0).Round(time.Millisecond))
		if !errors.Is(err, dbservice.ErrUnavailable) {
			t.Fatalf("%s against a dead emulator: %v, want ErrUnavailable", name, err)
		}
		var e *dbservice.Error
		if !errors.As(err, &e) || e.Provider != provider {
			t.Fatalf("%s: %#v is not a firestore *dbservice.Error", name, err)
		}
	}
	// Each call gave up after CallTimeout (1 s), not the SDK's minute.
	if elapsed := time.Since(start); elapsed > time.Duration(len(calls))*5*time.Second {
		t.Fatalf("%d calls against a dead emulator took %v", len(calls), elapsed)
	}

	t0 := time.Now()
	if err := srv.Start(); err != nil {
		t.Fatalf("restarting the emulator: %v", err)
	}
	t.Logf("restarted in %v", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	defer func() { t.Logf("recovered in %v", time.Since(t0).Round(time.Millisecond)) }()
	// The restarted emulator is empty; the client reconnects by itself
	// once gRPC's reconnect backoff allows.
	testenv.WaitFor(t, 30*time.Second, "Ping to succeed after the restart", func() bool { return s.Ping(ctx) == nil })
	// A JVM that answers its first Ping can still take more than the 1 s
	// CallTimeout over its first writes and reads: the calls may fail, but
	// only as ErrUnavailable, and must succeed within dbtest.MaxRecovery
	// of the emulator answering again.
	answering := time.Now()
	withinRecovery := func(what string, call func() error) {
		t.Helper()
		for {
			err := call()
			if err == nil {
				if took := time.Since(answering); took > dbtest.MaxRecovery {
					t.Fatalf("%s after the restart succeeded only %v after the emulator answered a Ping, want within %v", what, took.Round(time.Millisecond), dbtest.MaxRecovery)
				}
				return
			}
			if !errors.Is(err, dbservice.ErrUnavailable) {
				t.Fatalf("%s after the restart: %v, want success or ErrUnavailable", what, err)
			}
			if time.Since(answering) > dbtest.MaxRecovery {
				t.Fatalf("%s after the restart still failing %v after the emulator answered a Ping: %v", what, dbtest.MaxRecovery, err)
			}
			t.Logf("%s after the restart: %v (retried)", what, err)
		}
	}
	withinRecovery("Save", func() error { _, err := s.Save(ctx, coll, "after", dbservice.Doc{"v": 3}); return err })
	withinRecovery("Get", func() error {
		d, err := s.Get(ctx, coll, "after")
		if err == nil && d["v"] != 3.0 {
			t.Fatalf("Get after the restart = %v", d)
		}
		return err
	})
	t.Logf("Save and Get succeeded %v after the emulator answered a Ping", time.Since(answering).Round(time.Millisecond))

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "the Service's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

// TestCloseReleasesTheSDKsConnection checks the usual set-up, where the SDK
// dials FIRESTORE_EMULATOR_HOST itself: Close must release that connection
// and its goroutines too.
func TestCloseReleasesTheSDKsConnection(t *testing.T) {
	cfg := serverConfig(t)
	warmUp(t, cfg)
	baseline := settledGoroutines()
	for range 3 {
		s, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Query(t.Context(), dbtest.Collection(t), dbservice.Query{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 30*time.Second, "the Services' goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

// warmUp opens, uses and closes a Service once, so that goroutines the SDK
// starts once per process are running before a baseline is taken, and a
// freshly started emulator has served its first (slow) requests.
func warmUp(t *testing.T, cfg Config) {
	t.Helper()
	cfg.CallTimeout = 0
	ctx, coll := context.Background(), dbtest.Collection(t)
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A JVM just started can take longer than a call timeout to answer its
	// first call on a loaded machine: warming up is waiting for that.
	testenv.WaitFor(t, 120*time.Second, "the emulator to answer a Ping while warming up", func() bool {
		err = s.Ping(ctx)
		return err == nil || !errors.Is(err, dbservice.ErrUnavailable)
	})
	if err != nil {
		t.Fatalf("Ping while warming up: %v", err)
	}
	if _, err := s.Save(ctx, coll, "warm", dbservice.Doc{"v": 1}); err != nil {
		t.Fatalf("Save while warming up: %v", err)
	}
	if _, err := s.Query(ctx, coll, dbservice.Query{}); err != nil {
		t.Fatalf("Query while warming up: %v", err)
	}
}

// TestATransactionTheRestartLostIsUnavailable restarts a private emulator
// between the BeginTransaction and the Commit of an IfRev write, the window
// a kill can fall into: the restarted emulator answers the Commit
// InvalidArgument, "Transaction is invalid or closed" (Firestore says "The
// referenced transaction has expired or is no longer valid" after an
// expiry). The request was valid, and whether an earlier attempt of the
// Commit was applied before the kill is unknown, so the write is
// ErrUnavailable, as a timeout is, not ErrInvalid. The fault is timed by a
// gRPC interceptor; the emulator serves every call.
func TestATransactionTheRestartLostIsUnavailable(t *testing.T) {
	testenv.Need(t, "firestore", EnvEmulatorHost)
	srv := testenv.StartServer(t, "firestore")
	t.Setenv(EnvEmulatorHost, "") // the private emulator is given in Config
	var armed atomic.Bool
	restartBeforeCommit := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if c, ok := req.(*firestorepb.CommitRequest); ok && len(c.GetTransaction()) > 0 && armed.CompareAndSwap(true, false) {
			srv.Kill()
			if err := srv.Start(); err != nil {
				t.Errorf("restarting the emulator: %v", err)
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	cfg := Config{
		ProjectID:        srv.Env[EnvProjectID],
		EmulatorHost:     srv.Env[EnvEmulatorHost],
		CollectionPrefix: runPrefix,
		ClientOptions:    []option.ClientOption{option.WithGRPCDialOption(grpc.WithUnaryInterceptor(restartBeforeCommit))},
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	warmUp(t, cfg)
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, coll := t.Context(), dbtest.Collection(t)
	rev, err := s.Save(ctx, coll, "counter", dbservice.Doc{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	_, err = s.Save(ctx, coll, "counter", dbservice.Doc{"n": 2}, dbservice.IfRev(rev))
	if armed.Load() {
		t.Fatalf("the IfRev write sent no transactional Commit (err %v)", err)
	}
	if !errors.Is(err, dbservice.ErrUnavailable) || errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("IfRev write whose transaction the restart lost: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "projects/") {
		t.Fatalf("the error passes the server's text on: %v", err)
	}
	// The restarted emulator holds nothing: the write was not applied there.
	if _, err := s.Get(ctx, coll, "counter"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get after the restart: %v, want ErrNotFound", err)
	}
}
