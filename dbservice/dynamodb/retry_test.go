package dynamodb

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

// TestRetriesAfterAFailedConnectionWaitLittle checks the backoff of the
// client New builds: after a failure that is not throttling, at most
// 50 ms·2^attempt and never more than a second, so a call that met a
// restarting server tries again soon after it answers; after throttling,
// the SDK's own backoff (up to 4 s before the third attempt).
func TestRetriesAfterAFailedConnectionWaitLittle(t *testing.T) {
	s, err := New(context.Background(), Config{EndpointURL: "http://127.0.0.1:1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := s.client.Options().Retryer
	if r.MaxAttempts() != retry.DefaultMaxAttempts {
		t.Fatalf("MaxAttempts = %d, want the SDK's %d", r.MaxAttempts(), retry.DefaultMaxAttempts)
	}
	reset := errors.New("connection reset by peer")
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"}
	var longest time.Duration
	for range 200 {
		for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: time.Second, 30: time.Second} {
			d, err := r.RetryDelay(attempt, reset)
			if err != nil || d < 0 || d > ceiling {
				t.Fatalf("delay after attempt %d failed = %v, %v; want at most %v", attempt, d, err, ceiling)
			}
		}
		d, err := r.RetryDelay(2, throttled)
		if err != nil {
			t.Fatal(err)
		}
		longest = max(longest, d)
	}
	if longest <= time.Second {
		t.Fatalf("the longest of 200 delays after throttling was %v, want the SDK's backoff (up to 4 s)", longest)
	}
}

// TestTheCallersRetryerIsKept: a retryer given in Config.AWS is the one the
// client uses.
func TestTheCallersRetryerIsKept(t *testing.T) {
	mine := retry.AddWithMaxBackoffDelay(retry.NewStandard(), 7*time.Second)
	s, err := New(context.Background(), Config{
		EndpointURL: "http://127.0.0.1:1",
		AWS:         &aws.Config{Retryer: func() aws.Retryer { return retry.AddWithMaxAttempts(mine, 9) }},
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := s.client.Options().Retryer.MaxAttempts(); n != 9 {
		t.Fatalf("MaxAttempts = %d, want the caller's 9", n)
	}
}

// TestA5xxIsStillRetried: the quicker backoff keeps the SDK's attempts, so
// two HTTP 500s followed by an answer make one successful Ping.
func TestA5xxIsStillRetried(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}`))
			return
		}
		_, _ = w.Write([]byte(`{"AccountMaxReadCapacityUnits":80000,"AccountMaxWriteCapacityUnits":80000,"TableMaxReadCapacityUnits":40000,"TableMaxWriteCapacityUnits":40000}`))
	}))
	defer srv.Close()
	s, err := New(context.Background(), Config{EndpointURL: srv.URL, Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping after two 500s: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d requests, want 3 (two failed attempts and one answered)", n)
	}
}
