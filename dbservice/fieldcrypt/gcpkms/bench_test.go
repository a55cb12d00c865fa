package gcpkms_test

import (
	"bytes"
	"testing"
)

// BenchmarkGRPCFake measures one wrap and one unwrap of a 100-byte data
// keyset through the real client and a loopback gRPC fake: the client's
// own cost (checksums, proto, gRPC) plus a loopback round trip, not
// Cloud KMS's latency.
func BenchmarkGRPCFake(b *testing.B) {
	f := newFakeKMS(b, keyA)
	c, _ := newClient(b, f)
	k := newKEK(b, c, keyA)
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
