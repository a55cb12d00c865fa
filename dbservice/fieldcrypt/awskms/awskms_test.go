package awskms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt/awskms"
	"github.com/securedb-go/securedb/internal/testenv"
)

// canary is a plaintext no error may ever contain, raw or encoded.
const canary = "canary-kek-7d21-DO-NOT-LEAK-0123456789abcdef"

var _ fieldcrypt.KEK = (*awskms.KEK)(nil)

// recorder counts the KMS operations a client sends and keeps their
// inputs, from an Initialize-step middleware, so zero proves nothing was
// sent.
type recorder struct {
	mu     sync.Mutex
	ops    []string
	inputs []any
	// httpRequests counts what reaches the HTTP client, retries included:
	// the requests the KMS actually receives.
	httpRequests atomic.Int64
}

// countingHTTP counts the requests the SDK sends over HTTP.
type countingHTTP struct {
	next kms.HTTPClient
	n    *atomic.Int64
}

func (c countingHTTP) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(r)
}

func (r *recorder) install(o *kms.Options) {
	next := o.HTTPClient
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	o.HTTPClient = countingHTTP{next: next, n: &r.httpRequests}
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("securedbRecorder",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.mu.Lock()
				r.ops = append(r.ops, middleware.GetOperationName(ctx))
				r.inputs = append(r.inputs, in.Parameters)
				r.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops, r.inputs = nil, nil
}

func (r *recorder) opsCopy() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ops...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops)
}

// client is the real SDK client for endpoint, signing with dummy
// credentials (local-kms checks no signatures).
func client(endpoint, region string, rec *recorder) *kms.Client {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("localtest", "localtest", ""),
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		if rec != nil {
			rec.install(o)
		}
	})
}

// sharedClient is a client for the local-kms of `scripts/servers.sh`, or
// skips (fails under SECUREDB_REQUIRE_SERVERS=1) without one.
func sharedClient(t testing.TB, rec *recorder) *kms.Client {
	t.Helper()
	v := testenv.Need(t, "kms", "KMS_ENDPOINT_URL", "KMS_REGION")
	return client(v[0], v[1], rec)
}

// createKey makes a fresh symmetric key and returns its ARN.
func createKey(t testing.TB, c *kms.Client) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{
		Description: aws.String("securedb test " + t.Name()),
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
	})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func newKEK(t testing.TB, c *kms.Client, keyID string) *awskms.KEK {
	t.Helper()
	k, err := awskms.New(c, awskms.Config{KeyID: keyID})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

// noLeak fails when err's message holds the canary in any encoding a
// request carries it in.
func noLeak(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error() + fmt.Sprintf(" %v %+v %#v", err, err, err)
	for _, form := range []string{canary, hex.EncodeToString([]byte(canary)), base64.StdEncoding.EncodeToString([]byte(canary))} {
		if strings.Contains(msg, form) {
			t.Errorf("error reveals the plaintext: %s", err)
		}
	}
}

func TestWrapUnwrapOnLocalKMS(t *testing.T) {
	rec := &recorder{}
	c := sharedClient(t, rec)
	arn := createKey(t, c)
	k := newKEK(t, c, arn)
	if k.Kind() != "aws-kms" || k.ID() != arn {
		t.Fatalf("Kind, ID = %q, %q; want aws-kms, %q", k.Kind(), k.ID(), arn)
	}
	ad := []byte("collection users/keyset 3")
	ct, err := k.Encrypt([]byte(canary), ad)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if bytes.Contains(ct, []byte(canary)) {
		t.Fatal("ciphertext contains the plaintext")
	}
	pt, err := k.Decrypt(ct, ad)
	if err != nil || string(pt) != canary {
		t.Fatalf("Decrypt = %q, %v; want the plaintext", pt, err)
	}

	t.Run("associated data travels hex-encoded in the encryption context", func(t *testing.T) {
		var in *kms.EncryptInput
		rec.mu.Lock()
		for _, i := range rec.inputs {
			if e, ok := i.(*kms.EncryptInput); ok && in == nil {
				in = e
			}
		}
		rec.mu.Unlock()
		if in == nil {
			t.Fatal("no Encrypt call recorded")
		}
		want := hex.EncodeToString(ad)
		if got := in.EncryptionContext[awskms.ContextName]; got != want || len(in.EncryptionContext) != 1 {
			t.Fatalf("EncryptionContext = %v, want {%s: %s}", in.EncryptionContext, awskms.ContextName, want)
		}
		// KMS itself enforces the binding: a plain Decrypt with the same
		// context succeeds, which is what Tink's AWS KMS AEAD sends.
		out, err := c.Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: map[string]string{"associatedData": want}})
		if err != nil || string(out.Plaintext) != canary {
			t.Fatalf("direct Decrypt = %v; want the plaintext", err)
		}
	})

	t.Run("empty associated data round-trips", func(t *testing.T) {
		ct, err := k.Encrypt([]byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := k.Decrypt(ct, nil); err != nil || string(pt) != "x" {
			t.Fatalf("Decrypt = %q, %v", pt, err)
		}
	})

	other := newKEK(t, c, createKey(t, c))
	flipped := bytes.Clone(ct)
	flipped[len(flipped)-1] ^= 1
	refused := []struct {
		name string
		kek  *awskms.KEK
		ct   []byte
		ad   []byte
	}{
		{"other associated data", k, ct, []byte("collection orders/keyset 3")},
		{"no associated data", k, ct, nil},
		{"a tampered ciphertext", k, flipped, ad},
		{"another key", other, ct, ad},
		{"garbage", k, []byte("not a kms ciphertext"), ad},
	}
	for _, tc := range refused {
		t.Run("decrypting with "+tc.name+" fails typed", func(t *testing.T) {
			pt, err := tc.kek.Decrypt(tc.ct, tc.ad)
			if !errors.Is(err, dbservice.ErrInvalid) || pt != nil {
				t.Fatalf("Decrypt = %q, %v; want nil and ErrInvalid", pt, err)
			}
			noLeak(t, err)
		})
	}
}

func TestRefusedKeysAreForbidden(t *testing.T) {
	c := sharedClient(t, nil)
	ctx := context.Background()
	disabled := createKey(t, c)
	k := newKEK(t, c, disabled)
	ct, err := k.Encrypt([]byte(canary), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &disabled}); err != nil {
		t.Fatal(err)
	}
	deleted := createKey(t, c)
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &deleted, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	missing := strings.TrimSuffix(disabled, disabled[strings.LastIndex(disabled, "/")+1:]) + "00000000-0000-4000-8000-000000000000"
	sign, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a signing key refuses to encrypt", func(t *testing.T) {
		// Encrypt only: local-kms answers Decrypt under an EC key with an
		// InternalFailure where KMS says InvalidKeyUsageException.
		_, err := newKEK(t, c, aws.ToString(sign.KeyMetadata.Arn)).Encrypt([]byte(canary), []byte("ad"))
		if !errors.Is(err, dbservice.ErrForbidden) {
			t.Errorf("Encrypt: %v, want ErrForbidden", err)
		}
		noLeak(t, err)
	})
	for _, tc := range []struct{ name, key string }{
		{"disabled", disabled},
		{"pending deletion", deleted},
		{"missing", missing},
	} {
		t.Run("a "+tc.name+" key refuses to encrypt and decrypt", func(t *testing.T) {
			k := newKEK(t, c, tc.key)
			_, err := k.Encrypt([]byte(canary), []byte("ad"))
			if !errors.Is(err, dbservice.ErrForbidden) {
				t.Errorf("Encrypt: %v, want ErrForbidden", err)
			}
			noLeak(t, err)
			pt, err := k.Decrypt(ct, []byte("ad"))
			if pt != nil || !(errors.Is(err, dbservice.ErrForbidden) || errors.Is(err, dbservice.ErrInvalid)) {
				t.Errorf("Decrypt = %q, %v; want ErrForbidden (or ErrInvalid for a key that never wrapped it)", pt, err)
			}
			if tc.name == "disabled" && !errors.Is(err, dbservice.ErrForbidden) {
				t.Errorf("Decrypt under the disabled key: %v, want ErrForbidden", err)
			}
			noLeak(t, err)
		})
	}
}

func TestBadInputFailsBeforeAnyCall(t *testing.T) {
	rec := &recorder{}
	// No server is needed: nothing may be sent.
	c := client("http://127.0.0.1:9", "us-east-1", rec)
	for _, tc := range []struct {
		name string
		cfg  awskms.Config
	}{
		{"empty key ID", awskms.Config{}},
		{"key ID with a space", awskms.Config{KeyID: "alias/a b"}},
		{"key ID with a newline", awskms.Config{KeyID: "alias/a\n"}},
		{"key ID too long", awskms.Config{KeyID: strings.Repeat("k", 2049)}},
		{"negative timeout", awskms.Config{KeyID: "alias/a", Timeout: -time.Second}},
	} {
		t.Run(tc.name+" is invalid", func(t *testing.T) {
			if _, err := awskms.New(c, tc.cfg); !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("New: %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := awskms.New(nil, awskms.Config{KeyID: "alias/a"}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("New(nil client): %v, want ErrInvalid", err)
	}
	k := newKEK(t, c, "alias/a")
	big := bytes.Repeat([]byte(canary), 200)
	for _, tc := range []struct {
		name string
		call func() ([]byte, error)
	}{
		{"empty plaintext", func() ([]byte, error) { return k.Encrypt(nil, []byte("ad")) }},
		{"plaintext over 4096 bytes", func() ([]byte, error) { return k.Encrypt(big, []byte("ad")) }},
		{"empty ciphertext", func() ([]byte, error) { return k.Decrypt(nil, []byte("ad")) }},
		{"ciphertext over 6144 bytes", func() ([]byte, error) { return k.Decrypt(big, []byte("ad")) }},
	} {
		t.Run(tc.name+" is invalid", func(t *testing.T) {
			out, err := tc.call()
			if out != nil || !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("got %d bytes, %v; want ErrInvalid", len(out), err)
			}
			noLeak(t, err)
		})
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d KMS calls sent for bad input, want 0", n)
	}
}

func TestFaultUnreachableKMSIsUnavailable(t *testing.T) {
	srv := testenv.StartServer(t, "kms")
	c := client(srv.Env["KMS_ENDPOINT_URL"], srv.Env["KMS_REGION"], nil)
	k := newKEK(t, c, createKey(t, c))
	ct, err := k.Encrypt([]byte(canary), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	short, err := awskms.New(c, awskms.Config{KeyID: k.ID(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	// within checks that call fails with ErrUnavailable no later than
	// its deadline allows (plus scheduling slack on a loaded machine).
	within := func(t *testing.T, limit time.Duration, call func() ([]byte, error)) {
		t.Helper()
		start := time.Now()
		out, err := call()
		took := time.Since(start)
		if out != nil || !errors.Is(err, dbservice.ErrUnavailable) {
			t.Fatalf("got %d bytes, %v; want ErrUnavailable", len(out), err)
		}
		if took > limit+2*time.Second {
			t.Fatalf("took %v, want at most about %v", took, limit)
		}
		noLeak(t, err)
	}
	withDeadline := func(f func(context.Context, []byte, []byte) ([]byte, error), in []byte) func() ([]byte, error) {
		return func() ([]byte, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return f(ctx, in, []byte("ad"))
		}
	}

	t.Run("a hung KMS fails encrypt and decrypt within the deadline", func(t *testing.T) {
		srv.Freeze()
		defer srv.Resume()
		within(t, time.Second, withDeadline(k.EncryptWithContext, []byte(canary)))
		within(t, time.Second, withDeadline(k.DecryptWithContext, ct))
		within(t, time.Second, func() ([]byte, error) { return short.Encrypt([]byte(canary), []byte("ad")) })
		within(t, time.Second, func() ([]byte, error) { return short.Decrypt(ct, []byte("ad")) })
	})
	t.Run("after resuming, the key works again", func(t *testing.T) {
		if pt, err := k.Decrypt(ct, []byte("ad")); err != nil || string(pt) != canary {
			t.Fatalf("Decrypt = %v", err)
		}
	})
	t.Run("a killed KMS fails encrypt and decrypt", func(t *testing.T) {
		srv.Kill()
		within(t, 10*time.Second, func() ([]byte, error) { return short.Encrypt([]byte(canary), []byte("ad")) })
		within(t, 10*time.Second, func() ([]byte, error) { return short.Decrypt(ct, []byte("ad")) })
	})
}
