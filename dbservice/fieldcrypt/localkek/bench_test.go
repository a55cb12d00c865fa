package localkek_test

import (
	"bytes"
	"testing"

	"github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek"
)

// BenchmarkLocal measures one wrap and one unwrap of a 100-byte data
// keyset with a local AES-256-GCM keyset.
func BenchmarkLocal(b *testing.B) {
	js, err := localkek.Generate()
	if err != nil {
		b.Fatal(err)
	}
	k, err := localkek.FromJSON(js, localkek.Options{Development: true})
	if err != nil {
		b.Fatal(err)
	}
	pt := bytes.Repeat([]byte{7}, 100)
	ad := []byte("collection users")
	ct, err := k.Encrypt(pt, ad)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Encrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Encrypt(pt, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Decrypt(ct, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}
