package localkek_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek"
	"github.com/securedb-go/securedb/secrets"
)

const canary = "canary-localkek-5e9c-DO-NOT-LEAK"

var _ fieldcrypt.KEK = (*localkek.KEK)(nil)

var dev = localkek.Options{Development: true}

func generate(t *testing.T) []byte {
	t.Helper()
	js, err := localkek.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func fromJSON(t *testing.T, js []byte) *localkek.KEK {
	t.Helper()
	k, err := localkek.FromJSON(js, dev)
	if err != nil {
		t.Fatalf("FromJSON: %v", err)
	}
	return k
}

func TestWrapUnwrap(t *testing.T) {
	k := fromJSON(t, generate(t))
	if k.Kind() != "local-keyset" || !regexp.MustCompile(`^local-keyset:\d+$`).MatchString(k.ID()) {
		t.Fatalf("Kind, ID = %q, %q", k.Kind(), k.ID())
	}
	ad := []byte("collection users/keyset 3")
	ct, err := k.Encrypt([]byte(canary), ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte(canary)) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if pt, err := k.Decrypt(ct, ad); err != nil || string(pt) != canary {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
	flipped := bytes.Clone(ct)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name string
		kek  *localkek.KEK
		ct   []byte
		ad   []byte
	}{
		{"other associated data", k, ct, []byte("collection orders/keyset 3")},
		{"no associated data", k, ct, nil},
		{"a tampered ciphertext", k, flipped, ad},
		{"another keyset", fromJSON(t, generate(t)), ct, ad},
		{"garbage", k, []byte("x"), ad},
	} {
		t.Run("decrypting with "+tc.name+" fails typed", func(t *testing.T) {
			pt, err := tc.kek.Decrypt(tc.ct, tc.ad)
			if pt != nil || !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("Decrypt = %q, %v; want nil and ErrInvalid", pt, err)
			}
		})
	}
	t.Run("an ended context stops the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := k.EncryptWithContext(ctx, []byte("x"), nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("EncryptWithContext: %v", err)
		}
		if _, err := k.DecryptWithContext(ctx, ct, ad); !errors.Is(err, context.Canceled) {
			t.Fatalf("DecryptWithContext: %v", err)
		}
	})
}

func TestRotatedKeysetStillUnwraps(t *testing.T) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	old, err := localkek.New(h)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := old.Encrypt([]byte(canary), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrimary(id); err != nil {
		t.Fatal(err)
	}
	rotated, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	k, err := localkek.New(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID() == old.ID() {
		t.Fatalf("ID %q did not change with the primary key", k.ID())
	}
	if pt, err := k.Decrypt(ct, []byte("ad")); err != nil || string(pt) != canary {
		t.Fatalf("Decrypt of the old wrap = %q, %v", pt, err)
	}
}

// countingResolver records whether anything was resolved.
type countingResolver struct {
	secrets.Resolver
	n atomic.Int64
}

func (c *countingResolver) Resolve(ctx context.Context, ref string) (secrets.Secret, error) {
	c.n.Add(1)
	return c.Resolver.Resolve(ctx, ref)
}

func TestOpenFromSecretReferences(t *testing.T) {
	js := generate(t)
	want := fromJSON(t, js)
	dir := t.TempDir()
	good := filepath.Join(dir, "kek.json")
	if err := os.WriteFile(good, js, 0o600); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "loose.json")
	if err := os.WriteFile(loose, js, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o666); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECUREDB_TEST_KEK", string(js))
	t.Setenv("SECUREDB_TEST_NOT_A_KEYSET", `{"primaryKeyId": "`+canary+`"}`)
	r := &countingResolver{Resolver: secrets.Default()}
	ctx := context.Background()

	for _, ref := range []string{"env://SECUREDB_TEST_KEK", "file://" + good} {
		t.Run(ref+" opens", func(t *testing.T) {
			k, err := localkek.Open(ctx, r, ref, dev)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if k.ID() != want.ID() {
				t.Fatalf("ID = %q, want %q", k.ID(), want.ID())
			}
			ct, err := want.Encrypt([]byte(canary), []byte("ad"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := k.Decrypt(ct, []byte("ad")); err != nil || string(pt) != canary {
				t.Fatalf("Decrypt = %q, %v", pt, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		ref  string
		want []error
	}{
		{"a file others can write", "file://" + loose, []error{dbservice.ErrInsecure, secrets.ErrInsecure}},
		{"a missing variable", "env://SECUREDB_TEST_NO_SUCH_KEK", []error{dbservice.ErrNotFound, secrets.ErrNotFound}},
		{"an unknown scheme", "vault://kek", []error{dbservice.ErrInvalid, secrets.ErrInvalidRef}},
		{"a value that is no keyset", "env://SECUREDB_TEST_NOT_A_KEYSET", []error{dbservice.ErrInvalid}},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			k, err := localkek.Open(ctx, r, tc.ref, dev)
			for _, w := range tc.want {
				if k != nil || !errors.Is(err, w) {
					t.Errorf("Open = %v, %v; want %v", k, err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), canary) {
				t.Errorf("error reveals the secret's value: %v", err)
			}
		})
	}

	t.Run("without Development nothing is resolved", func(t *testing.T) {
		before := r.n.Load()
		if _, err := localkek.Open(ctx, r, "env://SECUREDB_TEST_KEK", localkek.Options{}); !errors.Is(err, dbservice.ErrInsecure) {
			t.Fatalf("Open: %v, want ErrInsecure", err)
		}
		if _, err := localkek.FromJSON(js, localkek.Options{}); !errors.Is(err, dbservice.ErrInsecure) {
			t.Fatalf("FromJSON: %v, want ErrInsecure", err)
		}
		if n := r.n.Load() - before; n != 0 {
			t.Fatalf("%d references resolved, want 0", n)
		}
	})
}

func TestKeysetsThatAreNotAEADAreInvalid(t *testing.T) {
	h, err := keyset.NewHandle(mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localkek.New(h); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("New(MAC keyset): %v, want ErrInvalid", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		t.Fatal(err)
	}
	if _, err := localkek.FromJSON(buf.Bytes(), dev); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("FromJSON(MAC keyset): %v, want ErrInvalid", err)
	}
	if _, err := localkek.New(nil); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("New(nil): %v", err)
	}
	if _, err := localkek.Open(context.Background(), nil, "env://X", dev); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("Open(nil resolver): %v", err)
	}
	for _, bad := range []string{"", "{", `{"key": [{"keyData": {"value": "` + canary + `"}}]}`, canary} {
		_, err := localkek.FromJSON([]byte(bad), dev)
		if !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("FromJSON(%q): %v, want ErrInvalid", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Errorf("error quotes the keyset: %v", err)
		}
	}
}
