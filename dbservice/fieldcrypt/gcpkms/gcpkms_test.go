package gcpkms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt/gcpkms"
)

const (
	canary  = "canary-gcpkek-3f0a-DO-NOT-LEAK-0123456789abcdef"
	keyA    = "projects/p/locations/global/keyRings/r/cryptoKeys/a"
	keyB    = "projects/p/locations/global/keyRings/r/cryptoKeys/b"
	denied  = "projects/p/locations/global/keyRings/r/cryptoKeys/denied"
	unauth  = "projects/p/locations/global/keyRings/r/cryptoKeys/unauth"
	off     = "projects/p/locations/global/keyRings/r/cryptoKeys/disabled"
	missing = "projects/p/locations/global/keyRings/r/cryptoKeys/missing"
	down    = "projects/p/locations/global/keyRings/r/cryptoKeys/down"
)

var _ fieldcrypt.KEK = (*gcpkms.KEK)(nil)

// newClient starts f and connects the real Cloud KMS client to it.
func newClient(t testing.TB, f *fakeKMS) (*kms.KeyManagementClient, *grpc.Server) {
	t.Helper()
	addr, srv := startFake(f.t, f)
	c, err := kms.NewKeyManagementClient(context.Background(),
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, srv
}

func newKEK(t testing.TB, c gcpkms.Client, name string) *gcpkms.KEK {
	t.Helper()
	k, err := gcpkms.New(c, gcpkms.Config{KeyName: name})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

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

func TestWrapUnwrapThroughTheRealClient(t *testing.T) {
	f := newFakeKMS(t, keyA, keyB)
	c, _ := newClient(t, f)
	k := newKEK(t, c, keyA)
	if k.Kind() != "gcp-kms" || k.ID() != keyA {
		t.Fatalf("Kind, ID = %q, %q", k.Kind(), k.ID())
	}
	ad := []byte("collection users/keyset 3")
	ct, err := k.Encrypt([]byte(canary), ad)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
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
		kek  *gcpkms.KEK
		ct   []byte
		ad   []byte
	}{
		{"other associated data", k, ct, []byte("collection orders/keyset 3")},
		{"no associated data", k, ct, nil},
		{"a tampered ciphertext", k, flipped, ad},
		{"another key", newKEK(t, c, keyB), ct, ad},
	} {
		t.Run("decrypting with "+tc.name+" fails typed", func(t *testing.T) {
			pt, err := tc.kek.Decrypt(tc.ct, tc.ad)
			if pt != nil || !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("Decrypt = %q, %v; want nil and ErrInvalid", pt, err)
			}
			noLeak(t, err)
		})
	}
}

func TestAnswersFailingTheIntegrityChecksAreNeverUsed(t *testing.T) {
	f := newFakeKMS(t, keyA)
	c, _ := newClient(t, f)
	k := newKEK(t, c, keyA)
	ad := []byte("ad")
	ct, err := k.Encrypt([]byte(canary), ad)
	if err != nil {
		t.Fatal(err)
	}
	for _, fault := range []string{"unverified plaintext", "unverified associated data", "corrupt ciphertext", "no ciphertext checksum", "another key"} {
		t.Run("encrypt with "+fault+" fails", func(t *testing.T) {
			f.setFault(fault)
			defer f.setFault("")
			out, err := k.Encrypt([]byte(canary), ad)
			if out != nil || !errors.Is(err, dbservice.ErrUnavailable) {
				t.Fatalf("Encrypt = %d bytes, %v; want nil and ErrUnavailable", len(out), err)
			}
			noLeak(t, err)
		})
	}
	for _, fault := range []string{"corrupt plaintext", "no plaintext checksum"} {
		t.Run("decrypt with "+fault+" fails", func(t *testing.T) {
			f.setFault(fault)
			defer f.setFault("")
			out, err := k.Decrypt(ct, ad)
			if out != nil || !errors.Is(err, dbservice.ErrUnavailable) {
				t.Fatalf("Decrypt = %q, %v; want nil and ErrUnavailable", out, err)
			}
			noLeak(t, err)
		})
	}
}

func TestServiceErrorsAreClassified(t *testing.T) {
	f := newFakeKMS(t, keyA)
	f.failures[denied] = codes.PermissionDenied
	f.failures[unauth] = codes.Unauthenticated
	f.failures[off] = codes.FailedPrecondition
	f.failures[down] = codes.Unavailable
	c, _ := newClient(t, f)
	ct, err := newKEK(t, c, keyA).Encrypt([]byte(canary), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  string
		want error
	}{
		{"permission denied", denied, dbservice.ErrForbidden},
		{"unauthenticated", unauth, dbservice.ErrForbidden},
		{"a disabled key version", off, dbservice.ErrForbidden},
		{"a missing key", missing, dbservice.ErrForbidden},
		{"an unavailable service", down, dbservice.ErrUnavailable},
	} {
		t.Run(tc.name+" is classified", func(t *testing.T) {
			k := newKEK(t, c, tc.key)
			// A deadline: the client retries Unavailable until it ends.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := k.EncryptWithContext(ctx, []byte(canary), nil); !errors.Is(err, tc.want) {
				t.Errorf("Encrypt: %v, want %v", err, tc.want)
			} else {
				noLeak(t, err)
			}
			if _, err := k.DecryptWithContext(ctx, ct, nil); !errors.Is(err, tc.want) {
				t.Errorf("Decrypt: %v, want %v", err, tc.want)
			} else {
				noLeak(t, err)
			}
		})
	}
}

func TestFaultUnreachableKMSIsUnavailable(t *testing.T) {
	f := newFakeKMS(t, keyA)
	c, srv := newClient(t, f)
	k := newKEK(t, c, keyA)
	ct, err := k.Encrypt([]byte(canary), nil)
	if err != nil {
		t.Fatal(err)
	}
	short, err := gcpkms.New(c, gcpkms.Config{KeyName: keyA, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	within := func(t *testing.T, call func() ([]byte, error)) {
		t.Helper()
		start := time.Now()
		out, err := call()
		if out != nil || !errors.Is(err, dbservice.ErrUnavailable) {
			t.Fatalf("got %d bytes, %v; want ErrUnavailable", len(out), err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("took %v, want about the 1 s deadline", took)
		}
		noLeak(t, err)
	}
	t.Run("a hung service fails within the deadline", func(t *testing.T) {
		f.mu.Lock()
		f.hang = true
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.hang = false; f.mu.Unlock() }()
		within(t, func() ([]byte, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return k.EncryptWithContext(ctx, []byte(canary), nil)
		})
		within(t, func() ([]byte, error) { return short.Decrypt(ct, nil) })
	})
	t.Run("a stopped service fails within the deadline", func(t *testing.T) {
		srv.Stop()
		within(t, func() ([]byte, error) { return short.Encrypt([]byte(canary), nil) })
		within(t, func() ([]byte, error) { return short.Decrypt(ct, nil) })
	})
}

func TestBadInputFailsBeforeAnyCall(t *testing.T) {
	f := newFakeKMS(t, keyA)
	c, _ := newClient(t, f)
	for _, name := range []string{"", "a", keyA + "/cryptoKeyVersions/1", "projects/p/locations/global/keyRings/r/cryptoKeys/a b", "projects//locations/l/keyRings/r/cryptoKeys/k"} {
		t.Run(fmt.Sprintf("key name %q is invalid", name), func(t *testing.T) {
			if _, err := gcpkms.New(c, gcpkms.Config{KeyName: name}); !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("New: %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := gcpkms.New(nil, gcpkms.Config{KeyName: keyA}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("New(nil): %v", err)
	}
	if _, err := gcpkms.New(c, gcpkms.Config{KeyName: keyA, Timeout: -1}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("New(negative timeout): %v", err)
	}
	k := newKEK(t, c, keyA)
	big := bytes.Repeat([]byte(canary), 2000)
	for _, tc := range []struct {
		name string
		call func() ([]byte, error)
	}{
		{"empty plaintext", func() ([]byte, error) { return k.Encrypt(nil, nil) }},
		{"plaintext over 64 KiB", func() ([]byte, error) { return k.Encrypt(big, nil) }},
		{"associated data over 64 KiB", func() ([]byte, error) { return k.Encrypt([]byte("x"), big) }},
		{"empty ciphertext", func() ([]byte, error) { return k.Decrypt(nil, nil) }},
		{"decrypt associated data over 64 KiB", func() ([]byte, error) { return k.Decrypt([]byte("x"), big) }},
	} {
		t.Run(tc.name+" is invalid", func(t *testing.T) {
			out, err := tc.call()
			if out != nil || !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("got %d bytes, %v; want ErrInvalid", len(out), err)
			}
			noLeak(t, err)
		})
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d calls reached the service for bad input, want 0", n)
	}
}
