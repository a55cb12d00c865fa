package fieldcrypt_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
)

// testKEK is a KEK held in memory: a Tink AES-256-GCM keyset. It counts
// its calls and can be made unreachable, like a KMS during an outage.
type testKEK struct {
	p        tink.AEAD
	id       string
	encrypts atomic.Int64
	decrypts atomic.Int64
	down     atomic.Bool
}

func newTestKEK(t testing.TB) *testKEK {
	t.Helper()
	k, err := makeTestKEK()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func makeTestKEK() (*testKEK, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, err
	}
	p, err := aead.New(h)
	if err != nil {
		return nil, err
	}
	return &testKEK{p: p, id: fmt.Sprintf("test-kek-%d", h.KeysetInfo().GetPrimaryKeyId())}, nil
}

// exampleKEK is the example's in-memory KEK.
func exampleKEK() fieldcrypt.KEK {
	k, err := makeTestKEK()
	if err != nil {
		panic(err)
	}
	return k
}

var errKMSDown = fmt.Errorf("%w: test KMS unreachable", dbservice.ErrUnavailable)

func (k *testKEK) Encrypt(pt, ad []byte) ([]byte, error) {
	if k.down.Load() {
		return nil, errKMSDown
	}
	k.encrypts.Add(1)
	return k.p.Encrypt(pt, ad)
}

func (k *testKEK) Decrypt(ct, ad []byte) ([]byte, error) {
	if k.down.Load() {
		return nil, errKMSDown
	}
	k.decrypts.Add(1)
	return k.p.Decrypt(ct, ad)
}

func (k *testKEK) Kind() string { return "local-keyset" }
func (k *testKEK) ID() string   { return k.id }

func (k *testKEK) calls() int64 { return k.encrypts.Load() + k.decrypts.Load() }
