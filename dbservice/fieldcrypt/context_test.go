package fieldcrypt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// hungKEK is a KEK whose KMS never answers: its context-taking methods
// wait for their context, its plain ones for a long fallback, so a
// request's deadline reaches the KMS call only through the former.
type hungKEK struct {
	*testKEK
	withCtx chan struct{}
}

func (k *hungKEK) Encrypt(pt, ad []byte) ([]byte, error) {
	time.Sleep(20 * time.Second)
	return nil, errKMSDown
}

func (k *hungKEK) Decrypt(ct, ad []byte) ([]byte, error) {
	time.Sleep(20 * time.Second)
	return nil, errKMSDown
}

func (k *hungKEK) EncryptWithContext(ctx context.Context, pt, ad []byte) ([]byte, error) {
	k.withCtx <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (k *hungKEK) DecryptWithContext(ctx context.Context, ct, ad []byte) ([]byte, error) {
	k.withCtx <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestKEKCallEndsWithTheCallersDeadline(t *testing.T) {
	raw := memory.New()
	k := &hungKEK{testKEK: newTestKEK(t), withCtx: make(chan struct{}, 8)}
	fc := newLayer(t, raw, config(k))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fc.Save(ctx, users, "u1", dbservice.Doc{"email": "a@example.com"})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Save with a hung KEK = %v; want the deadline's error", err)
	}
	if len(k.withCtx) == 0 {
		t.Fatal("the KEK was called without the request's context")
	}
	// Scheduling slack on a loaded machine; the plain methods would take 20 s.
	if took > 5*time.Second {
		t.Fatalf("Save took %v with a 300ms deadline", took)
	}
	for _, c := range []string{users, keys} {
		if _, err := raw.Get(t.Context(), c, map[string]string{users: "u1", keys: users}[c]); !errors.Is(err, dbservice.ErrNotFound) {
			t.Fatalf("%s written below the layer after a failed KEK call: %v", c, err)
		}
	}
}
