package awskms_test

import (
	"bytes"
	"testing"
)

// BenchmarkLocalKMS measures one wrap and one unwrap of a 100-byte data
// keyset against the real local-kms (loopback HTTP, SigV4 signing and the
// emulator's AES-GCM).
func BenchmarkLocalKMS(b *testing.B) {
	c := sharedClient(b, nil)
	k := newKEK(b, c, createKey(b, c))
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
