package dynamodb

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// testCallTimeout is short so the tests stay fast; the bound they check is
// a few times longer, well short of "forever".
const testCallTimeout = time.Second

// callWithin runs call in a goroutine and returns its error and how long
// it took, failing t when it has not returned within bound.
func callWithin(t *testing.T, bound time.Duration, call func() error) (time.Duration, error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(bound):
		t.Fatalf("the call has not returned after %v (CallTimeout %v)", bound, testCallTimeout)
		return 0, nil
	}
}

// TestAFrozenServerCostsACallTimeoutNotForever freezes a private DynamoDB
// Local with SIGSTOP (its port still accepts connections, nothing
// answers) and calls with context.Background(): each call is
// ErrUnavailable after about CallTimeout. Resumed, the server answers the
// same Service again; after Close no goroutine is left.
func TestAFrozenServerCostsACallTimeoutNotForever(t *testing.T) {
	testenv.Need(t, "dynamodb", EnvEndpointURL)
	srv := testenv.StartServer(t, "dynamodb")
	baseline := runtime.NumGoroutine()
	cfg := serverConfig(t)
	cfg.EndpointURL = srv.Env["DYNAMODB_ENDPOINT_URL"]
	cfg.Credentials = credentials.NewStaticCredentialsProvider(srv.Env["AWS_ACCESS_KEY_ID"], srv.Env["AWS_SECRET_ACCESS_KEY"], "")
	ctx, coll := context.Background(), dbtest.Collection(t)
	// A fresh DynamoDB Local takes seconds over its first table: warm it
	// up with the default timeout first.
	warm, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.Save(ctx, coll, "before", dbservice.Doc{"v": 1}); err != nil {
		t.Fatalf("Save before the freeze: %v", err)
	}
	_ = warm.Close()
	cfg.CallTimeout = testCallTimeout
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, coll, "before"); err != nil {
		t.Fatalf("Get before the freeze: %v", err)
	}

	srv.Freeze()
	calls := map[string]func() error{
		"Get":  func() error { _, err := s.Get(ctx, coll, "before"); return err },
		"Save": func() error { _, err := s.Save(ctx, coll, "during", dbservice.Doc{"v": 2}); return err },
		"Ping": func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		took, err := callWithin(t, 10*testCallTimeout, call)
		t.Logf("%s on a frozen server: %v after %v", name, err, took.Round(time.Millisecond))
		if !errors.Is(err, dbservice.ErrUnavailable) {
			t.Fatalf("%s on a frozen server: %v, want ErrUnavailable", name, err)
		}
		if took < testCallTimeout {
			t.Fatalf("%s gave up after %v, before the call timeout %v", name, took, testCallTimeout)
		}
	}

	srv.Resume()
	if d, err := s.Get(ctx, coll, "before"); err != nil || d["v"] != 1.0 {
		t.Fatalf("Get after the resume = %v, %v", d, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the Service's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

// TestAListenerThatNeverAnswersCostsACallTimeout points the Service at a
// TCP listener that accepts connections and never sends a byte: a call
// with context.Background() is ErrUnavailable after about CallTimeout,
// and after Close no goroutine is left.
func TestAListenerThatNeverAnswersCostsACallTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	baseline := runtime.NumGoroutine()
	s, err := New(context.Background(), Config{
		EndpointURL: "http://" + l.Addr().String(),
		Credentials: credentials.NewStaticCredentialsProvider("local-test-key", "local-test-secret", ""),
		CallTimeout: testCallTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	took, err := callWithin(t, 10*testCallTimeout, func() error {
		_, err := s.Get(context.Background(), "agents", "x")
		return err
	})
	t.Logf("Get from a silent listener: %v after %v", err, took.Round(time.Millisecond))
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("Get from a listener that never answers: %v, want ErrUnavailable", err)
	}
	if took < testCallTimeout {
		t.Fatalf("gave up after %v, before the call timeout %v", took, testCallTimeout)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the Service's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

// TestTheSDKsHTTPClientIsKept checks that New leaves the SDK's
// BuildableClient in place (so dynamodb.New applies its connect and TLS
// handshake timeouts) rather than a plain http.Client without them, and
// that a negative CallTimeout is refused.
func TestTheSDKsHTTPClientIsKept(t *testing.T) {
	s, err := New(context.Background(), Config{EndpointURL: "http://127.0.0.1:1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bc, ok := s.client.Options().HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("the client's HTTP client is %T, want the SDK's *awshttp.BuildableClient", s.client.Options().HTTPClient)
	}
	tr := bc.GetTransport()
	if tr.TLSHandshakeTimeout <= 0 || tr.DialContext == nil {
		t.Fatalf("the transport has TLS handshake timeout %v and dialer %v, want the SDK's", tr.TLSHandshakeTimeout, tr.DialContext != nil)
	}
	if _, err := New(context.Background(), Config{CallTimeout: -time.Second}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("New with a negative CallTimeout: %v, want ErrInvalid", err)
	}
}
