package firestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func TestServerErrorsMapToSentinelsWithoutTheirText(t *testing.T) {
	const canary = "canary-from-the-server"
	cases := []struct {
		code codes.Code
		want error
	}{
		{codes.NotFound, dbservice.ErrNotFound},
		{codes.AlreadyExists, dbservice.ErrConflict},
		{codes.FailedPrecondition, dbservice.ErrConflict},
		{codes.PermissionDenied, dbservice.ErrForbidden},
		{codes.Unauthenticated, dbservice.ErrUnauthorized},
		{codes.Unavailable, dbservice.ErrUnavailable},
		{codes.DeadlineExceeded, dbservice.ErrUnavailable},
		{codes.ResourceExhausted, dbservice.ErrUnavailable},
		{codes.Internal, dbservice.ErrUnavailable},
		{codes.Aborted, dbservice.ErrUnavailable},
		{codes.InvalidArgument, dbservice.ErrInvalid},
		{codes.Unimplemented, dbservice.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.code.String()+" is "+dbservice.ErrorKind(c.want), func(t *testing.T) {
			err := classify(context.Background(), context.Background(), status.Error(c.code, "document /projects/p/x: "+canary))
			if !errors.Is(err, c.want) {
				t.Fatalf("classify(%s) = %v, want %v", c.code, err, c.want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("classify(%s) passes the server's text on: %v", c.code, err)
			}
		})
	}
}

// TestALostTransactionIsUnavailable: a Commit naming a transaction the
// server no longer holds (the emulator restarted, the transaction expired)
// was a valid request whose outcome is unknown, so it is ErrUnavailable;
// every other InvalidArgument stays ErrInvalid.
func TestALostTransactionIsUnavailable(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want error
	}{
		{"Transaction is invalid or closed.", dbservice.ErrUnavailable},                             // the emulator after a restart
		{"The referenced transaction has expired or is no longer valid.", dbservice.ErrUnavailable}, // Firestore
		{"timestamp cannot have more than microseconds precision", dbservice.ErrInvalid},
		{"Property n contains an invalid nested entity.", dbservice.ErrInvalid},
		{"transaction", dbservice.ErrInvalid},
	} {
		err := classify(context.Background(), context.Background(), status.Error(codes.InvalidArgument, c.msg))
		if !errors.Is(err, c.want) || c.want != dbservice.ErrInvalid && errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("classify(InvalidArgument %q) = %v, want %v", c.msg, err, c.want)
		}
		if strings.Contains(err.Error(), c.msg) {
			t.Errorf("classify(InvalidArgument %q) passes the server's text on: %v", c.msg, err)
		}
	}
	// OutOfRange is never about a transaction.
	if err := classify(context.Background(), context.Background(), status.Error(codes.OutOfRange, "Transaction is invalid or closed.")); !errors.Is(err, dbservice.ErrInvalid) {
		t.Errorf("classify(OutOfRange) = %v, want ErrInvalid", err)
	}
}

func TestAMissingIndexKeepsFirestoresLink(t *testing.T) {
	link := "https://console.firebase.google.com/v1/r/project/demo-project/firestore/indexes?create_composite=Ckxwcm9qZWN0cy9kZW1vLXByb2plY3Q"
	msg := "The query requires an index. You can create it here: " + link
	err := classify(context.Background(), context.Background(), status.Error(codes.FailedPrecondition, msg))
	if !errors.Is(err, dbservice.ErrUnavailable) || !strings.Contains(err.Error(), link) {
		t.Fatalf("classify(needs index) = %v, want ErrUnavailable with the link", err)
	}
	if !strings.Contains(err.Error(), "composite index") {
		t.Fatalf("classify(needs index) = %v, want it to say an index is missing", err)
	}

	// A link to anywhere else is not passed on.
	err = classify(context.Background(), context.Background(), status.Error(codes.FailedPrecondition, "The query requires an index: https://evil.example/steal"))
	if !errors.Is(err, dbservice.ErrUnavailable) || strings.Contains(err.Error(), "evil") {
		t.Fatalf("classify(index message with a foreign link) = %v", err)
	}
}

func TestContextErrorsWin(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := classify(cancelled, cancelled, status.Error(codes.Canceled, "x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("classify with the caller's context cancelled = %v, want context.Canceled", err)
	}
	call, stop := context.WithTimeoutCause(context.Background(), time.Nanosecond, errCallTimeout)
	defer stop()
	<-call.Done()
	err := classify(context.Background(), call, status.Error(codes.DeadlineExceeded, "x"))
	if !errors.Is(err, dbservice.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("classify after CallTimeout = %v, want ErrUnavailable", err)
	}
	if err := classify(context.Background(), context.Background(), fmt.Errorf("firestore: cannot set %v", "whole document")); !errors.Is(err, dbservice.ErrUnavailable) || strings.Contains(err.Error(), "whole document") {
		t.Fatalf("classify of an SDK error = %v", err)
	}
}

func TestAbortedCommitsAreRetriedABoundedNumberOfTimes(t *testing.T) {
	defer func(d time.Duration) { abortedDelay = d }(abortedDelay)
	abortedDelay = 0
	s := &Service{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	aborted := status.Error(codes.Aborted, "too much contention")
	cases := []struct {
		name      string
		failures  int // Aborted answers before success
		wantCalls int
		wantErr   bool
	}{
		{"a commit that succeeds is sent once", 0, 1, false},
		{"a commit aborted twice is sent a third time", 2, 3, false},
		{"a commit that keeps being aborted gives up", 100, abortedAttempts, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := s.retryAborted(context.Background(), func(context.Context) error {
				calls++
				if calls <= c.failures {
					return aborted
				}
				return nil
			})
			if calls != c.wantCalls || (err != nil) != c.wantErr {
				t.Fatalf("%d calls, err %v; want %d calls, error %v", calls, err, c.wantCalls, c.wantErr)
			}
		})
	}
	t.Run("other errors are not retried", func(t *testing.T) {
		calls := 0
		err := s.retryAborted(context.Background(), func(context.Context) error {
			calls++
			return status.Error(codes.FailedPrecondition, "stale")
		})
		if calls != 1 || status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("%d calls, err %v; want 1 call and the error", calls, err)
		}
	})
}

// TestIfAbsentLeftAbortedIsUnavailableNotConflict makes the emulator's
// client see Aborted for every Commit (an interceptor answers in the
// server's place), so the retries run out: a create that never ran says
// nothing about the document, and must not be reported as "exists".
func TestIfAbsentLeftAbortedIsUnavailableNotConflict(t *testing.T) {
	defer func(d time.Duration) { abortedDelay = d }(abortedDelay)
	abortedDelay = time.Millisecond
	var commits atomic.Int32
	abort := option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if strings.HasSuffix(method, "/Commit") || strings.HasSuffix(method, "/BeginTransaction") {
				commits.Add(1)
				return status.Error(codes.Aborted, "too much contention")
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}))
	s := newCounted(t, newRPCCounter(), func(c *Config) { c.ClientOptions = append(c.ClientOptions, abort) })
	coll := dbtest.Collection(t)
	_, err := s.Save(t.Context(), coll, "never-written", dbservice.Doc{"v": 1}, dbservice.IfAbsent())
	if errors.Is(err, dbservice.ErrConflict) || !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("IfAbsent Save left Aborted after %d commits: %v, want ErrUnavailable, not ErrConflict", commits.Load(), err)
	}
	if n := commits.Load(); n != abortedAttempts {
		t.Fatalf("%d commits sent, want %d (the retry bound)", n, abortedAttempts)
	}
	if _, err := s.Get(t.Context(), coll, "never-written"); !errors.Is(err, dbservice.ErrNotFound) {
		t.Fatalf("Get after the aborted create: %v, want ErrNotFound", err)
	}
}
