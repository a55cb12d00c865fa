package awssm_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/secrets/awssm"
)

const (
	canary = "canary-aws-5e1d-DO-NOT-LEAK"
	arn    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf"
)

func ptr(s string) *string { return &s }

// testCredentials returns a fresh access key pair, so no real key is ever
// in the test and the fake can check the signature names this one.
func testCredentials() (akid, secret string) {
	return "AKIATEST" + strings.ToUpper(rand.Text()[:12]), rand.Text()
}

// newResolver starts a fake Secrets Manager and returns a Resolver whose real
// SDK client talks to it, with three attempts and no backoff delay.
func newResolver(t *testing.T) (*awssm.Resolver, *fakeSecretsManager, string) {
	t.Helper()
	akid, secretKey := testCredentials()
	stored := `{"url":"https://db.internal:6984","username":"app","password":"` + canary + `","port":6984}`
	versions := []fakeVersion{
		{id: "v2-0000-0000", stages: []string{"AWSCURRENT"}, str: ptr(stored)},
		{id: "v1-0000-0000", stages: []string{"AWSPREVIOUS"}, str: ptr(`{"password":"previous"}`)},
		{id: "v0-0000-0000", stages: nil, str: ptr(`{"password":"deprecated"}`)},
	}
	fake, url := startFake(t, akid, map[string][]fakeVersion{
		"prod/couchdb": versions,
		arn:            versions,
		"plain":        {{id: "p1", stages: []string{"AWSCURRENT"}, str: ptr(canary)}},
		"binary":       {{id: "b1", stages: []string{"AWSCURRENT"}, bin: []byte{0, 1, 2, 0xff}}},
		"flaky":        {{id: "f1", stages: []string{"AWSCURRENT"}, str: ptr("recovered")}},
		"denied":       versions,
		"throttled":    versions,
		"broken":       versions,
	}, map[string]fakeFailure{
		"denied":    {status: 400, code: "AccessDeniedException"},
		"throttled": {status: 400, code: "ThrottlingException"},
		"broken":    {status: 500, code: "InternalServiceError"},
		"flaky":     {status: 400, code: "ThrottlingException", times: 1},
	})
	return awssm.New(testConfig(akid, secretKey), func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(url)
	}), fake, secretKey
}

func testConfig(akid, secretKey string) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(akid, secretKey, ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

func TestResolveAgainstTheWireProtocol(t *testing.T) {
	r, fake, _ := newResolver(t)
	tests := []struct {
		name     string
		ref      string
		want     string
		wantErr  error
		requests int64
	}{
		{"a #key picks the field of the current version", "awssm://prod/couchdb#password", canary, nil, 1},
		{"another field of the same secret", "awssm://prod/couchdb#username", "app", nil, 1},
		{"an ARN with colons works as the secret ID", "awssm://" + arn + "#password", canary, nil, 1},
		{"version-stage selects a staging label", "awssm://prod/couchdb?version-stage=AWSPREVIOUS#password", "previous", nil, 1},
		{"version-id selects a version without stages", "awssm://prod/couchdb?version-id=v0-0000-0000#password", "deprecated", nil, 1},
		{"version-id and version-stage that match select it", "awssm://prod/couchdb?version-id=v1-0000-0000&version-stage=AWSPREVIOUS#password", "previous", nil, 1},
		{"version-id and version-stage that disagree are not found", "awssm://prod/couchdb?version-id=v1-0000-0000&version-stage=AWSCURRENT#password", "", secrets.ErrNotFound, 1},
		{"without a key the whole string is returned", "awssm://plain", canary, nil, 1},
		{"a binary secret is returned as its bytes", "awssm://binary", "\x00\x01\x02\xff", nil, 1},
		{"an unknown secret is not found", "awssm://nope#password", "", secrets.ErrNotFound, 1},
		{"an unknown version stage is not found", "awssm://prod/couchdb?version-stage=AWSPENDING", "", secrets.ErrNotFound, 1},
		{"a missing key is not found", "awssm://prod/couchdb#token", "", secrets.ErrNotFound, 1},
		{"a key on a non-JSON secret is not found", "awssm://plain#password", "", secrets.ErrNotFound, 1},
		{"a non-string field is not found", "awssm://prod/couchdb#port", "", secrets.ErrNotFound, 1},
		{"AccessDeniedException is a permission error", "awssm://denied#password", "", secrets.ErrPermission, 1},
		{"throttling is retried then unavailable", "awssm://throttled#password", "", secrets.ErrUnavailable, 3},
		{"a 500 is retried then unavailable", "awssm://broken#password", "", secrets.ErrUnavailable, 3},
		{"one throttled request is retried and succeeds", "awssm://flaky", "recovered", nil, 2},
		{"an unknown parameter is refused before any request", "awssm://prod/couchdb?version_stage=AWSCURRENT", "", secrets.ErrInvalidRef, 0},
		{"another scheme is refused before any request", "env://X", "", secrets.ErrInvalidRef, 0},
		{"an empty key is refused before any request", "awssm://prod/couchdb#", "", secrets.ErrInvalidRef, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.requests.Load()
			s, err := r.Resolve(context.Background(), tt.ref)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Resolve(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
			}
			if s.Reveal() != tt.want {
				t.Fatalf("Resolve(%q) = %q, want %q", tt.ref, s.Reveal(), tt.want)
			}
			if got := fake.requests.Load() - before; got != tt.requests {
				t.Fatalf("%d requests, want %d", got, tt.requests)
			}
			if err != nil && !strings.Contains(err.Error(), tt.ref) {
				t.Fatalf("error %q does not name the reference", err)
			}
		})
	}
}

func TestServiceErrorsStayInTheChain(t *testing.T) {
	r, _, _ := newResolver(t)
	_, err := r.Resolve(context.Background(), "awssm://nope")
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("error %v does not carry *types.ResourceNotFoundException", err)
	}
}

func TestConnectionFailureIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	akid, secretKey := testCredentials()
	r := awssm.New(testConfig(akid, secretKey), func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String("http://" + addr)
	})
	if _, err := r.Resolve(context.Background(), "awssm://prod/couchdb#password"); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
}

func TestCancelledContextIsNotUnavailable(t *testing.T) {
	r, _, _ := newResolver(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Resolve(ctx, "awssm://prod/couchdb#password")
	if !errors.Is(err, context.Canceled) || errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("error = %v, want context.Canceled only", err)
	}
}

func TestWorksBehindMuxCacheAndExpand(t *testing.T) {
	r, fake, _ := newResolver(t)
	mux := secrets.Default()
	mux.Register(awssm.Scheme, secrets.Cache(r, secrets.Options{TTL: time.Hour}))
	ctx := context.Background()
	for range 3 {
		s, err := secrets.Expand(ctx, mux, "awssm://prod/couchdb#password")
		if err != nil || s.Reveal() != canary {
			t.Fatalf("Expand = %v", err)
		}
	}
	if fake.requests.Load() != 1 {
		t.Fatalf("%d requests, want 1 (cached)", fake.requests.Load())
	}
	if !secrets.IsRef(r, "AWSSM://x") || secrets.IsRef(r, "gcpsm://x") {
		t.Fatal("the resolver must list exactly its own scheme")
	}
}

func TestCanaryNeverLeaks(t *testing.T) {
	r, _, secretKey := newResolver(t)
	for _, ref := range []string{
		"awssm://prod/couchdb#token", "awssm://plain#password", "awssm://prod/couchdb#port",
		"awssm://denied#password", "awssm://throttled#password", "awssm://nope",
	} {
		t.Run(ref+" does not leak the value or the credentials", func(t *testing.T) {
			_, err := r.Resolve(context.Background(), ref)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(out, canary) || strings.Contains(out, secretKey) {
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
		want    awssm.Ref
		wantErr bool
	}{
		{"a name and key", "awssm://prod/couchdb#password", awssm.Ref{SecretID: "prod/couchdb", Key: "password"}, false},
		{"an ARN", "awssm://" + arn + "#password", awssm.Ref{SecretID: arn, Key: "password"}, false},
		{"an escaped ARN", "awssm://arn%3Aaws%3Asecretsmanager%3Aus-east-1%3A123456789012%3Asecret%3Aprod%2Fcouchdb-AbCdEf", awssm.Ref{SecretID: arn}, false},
		{"both version selectors", "awssm://x?version-stage=S&version-id=V#k", awssm.Ref{SecretID: "x", VersionStage: "S", VersionID: "V", Key: "k"}, false},
		{"an unknown parameter", "awssm://x?stage=S", awssm.Ref{}, true},
		{"a repeated parameter", "awssm://x?version-id=a&version-id=b", awssm.Ref{}, true},
		{"another scheme", "gcpsm://projects/p/secrets/s", awssm.Ref{}, true},
		{"an over-long secret ID", "awssm://" + strings.Repeat("a", 2049), awssm.Ref{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := awssm.ParseRef(tt.ref)
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
		"awssm://prod/couchdb#password", "awssm://" + arn + "?version-stage=AWSCURRENT#password",
		"awssm://x?version-id=a&version-id=b", "awssm://x?version-stage=", "awssm://%3F%23?version-id=%26#%23",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		r, err := awssm.ParseRef(ref)
		if err != nil {
			if !errors.Is(err, secrets.ErrInvalidRef) {
				t.Fatalf("error %v does not wrap ErrInvalidRef", err)
			}
			return
		}
		again, err := awssm.ParseRef(r.String())
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %q via %q: %#v, %v", ref, r.String(), again, err)
		}
	})
}
