package gcpkms_test

import (
	"context"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// fakeKey is one CryptoKey of the fake service. Its key material is a Tink
// AES-GCM keyset standing in for what Cloud KMS holds.
type fakeKey struct {
	aead    tink.AEAD
	version int
}

// fakeKMS implements Encrypt and Decrypt of the real gRPC service
// definition, including the checksum handshake, so the real client (gax
// retries, routing headers, proto decoding) runs unmodified against it.
// Its faults break one part of the handshake at a time.
type fakeKMS struct {
	kmspb.UnimplementedKeyManagementServiceServer
	t testing.TB

	mu       sync.Mutex
	keys     map[string]*fakeKey   // CryptoKey name -> key
	failures map[string]codes.Code // CryptoKey name -> status for every call
	fault    string                // see the switch in Encrypt and Decrypt
	hang     bool                  // block every call until its context ends
	calls    atomic.Int64
}

func newFakeKMS(t testing.TB, names ...string) *fakeKMS {
	f := &fakeKMS{t: t, keys: map[string]*fakeKey{}, failures: map[string]codes.Code{}}
	for _, n := range names {
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		if err != nil {
			t.Fatal(err)
		}
		a, err := aead.New(h)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[n] = &fakeKey{aead: a, version: 1}
	}
	return f
}

func (f *fakeKMS) setFault(s string) {
	f.mu.Lock()
	f.fault = s
	f.mu.Unlock()
}

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

// check is the service's side of the handshake: the client must send a
// checksum, and a wrong one is refused before anything is decrypted.
func (f *fakeKMS) check(what string, data []byte, sum *wrapperspb.Int64Value) error {
	if sum == nil {
		f.t.Errorf("the client sent no %s checksum", what)
		return nil
	}
	if sum.GetValue() != crc(data) {
		return status.Errorf(codes.InvalidArgument, "The checksum in field %s_crc32c did not match the data in field %s.", what, what)
	}
	return nil
}

// enter counts the call, checks the routing header and applies the fault
// settings that come before any work.
func (f *fakeKMS) enter(ctx context.Context, name string) (*fakeKey, string, error) {
	f.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	if got := strings.Join(md.Get("x-goog-request-params"), ","); !strings.Contains(got, "name=") {
		f.t.Errorf("x-goog-request-params = %q, want the routing header naming the key", got)
	}
	f.mu.Lock()
	hang, fault, key := f.hang, f.fault, f.keys[name]
	code, isFailing := f.failures[name]
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, "", status.FromContextError(ctx.Err()).Err()
	}
	if isFailing {
		return nil, "", status.Errorf(code, "simulated %v for %s", code, name)
	}
	if key == nil {
		return nil, "", status.Errorf(codes.NotFound, "CryptoKey %s not found.", name)
	}
	return key, fault, nil
}

func (f *fakeKMS) Encrypt(ctx context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	key, fault, err := f.enter(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if err := f.check("plaintext", req.GetPlaintext(), req.GetPlaintextCrc32C()); err != nil {
		return nil, err
	}
	if err := f.check("additional_authenticated_data", req.GetAdditionalAuthenticatedData(), req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	ct, err := key.aead.Encrypt(req.GetPlaintext(), req.GetAdditionalAuthenticatedData())
	if err != nil {
		return nil, status.Error(codes.Internal, "encrypt failed")
	}
	resp := &kmspb.EncryptResponse{
		Name:                    req.GetName() + "/cryptoKeyVersions/1",
		Ciphertext:              ct,
		CiphertextCrc32C:        wrapperspb.Int64(crc(ct)),
		VerifiedPlaintextCrc32C: true,
		VerifiedAdditionalAuthenticatedDataCrc32C: true,
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
	}
	switch fault {
	case "unverified plaintext":
		resp.VerifiedPlaintextCrc32C = false
	case "unverified associated data":
		resp.VerifiedAdditionalAuthenticatedDataCrc32C = false
	case "corrupt ciphertext":
		resp.Ciphertext[0] ^= 1
	case "no ciphertext checksum":
		resp.CiphertextCrc32C = nil
	case "another key":
		resp.Name = "projects/p/locations/global/keyRings/r/cryptoKeys/other/cryptoKeyVersions/1"
	}
	return resp, nil
}

func (f *fakeKMS) Decrypt(ctx context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	key, fault, err := f.enter(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if err := f.check("ciphertext", req.GetCiphertext(), req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	if err := f.check("additional_authenticated_data", req.GetAdditionalAuthenticatedData(), req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	pt, err := key.aead.Decrypt(req.GetCiphertext(), req.GetAdditionalAuthenticatedData())
	if err != nil {
		// Cloud KMS's answer for a ciphertext it cannot decrypt.
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	resp := &kmspb.DecryptResponse{Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc(pt)), UsedPrimary: true}
	switch fault {
	case "corrupt plaintext":
		resp.Plaintext = append([]byte(nil), pt...)
		resp.Plaintext[0] ^= 1
	case "no plaintext checksum":
		resp.PlaintextCrc32C = nil
	}
	return resp, nil
}

// startFake serves f on a loopback port and returns the address and the
// server, which the test's cleanup stops.
func startFake(t testing.TB, f *fakeKMS) (string, *grpc.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(s, f)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().String(), s
}
