// Package gcpkms provides a field encryption key-encryption key (KEK) held
// in Google Cloud KMS: data keysets are wrapped and unwrapped by the
// service's Encrypt and Decrypt calls on a symmetric CryptoKey, so the key
// itself never leaves Cloud KMS.
//
// The associated data Tink passes to Encrypt and Decrypt is Cloud KMS's
// additional authenticated data, so a wrapped keyset moved to another
// collection fails to unwrap. Every call carries CRC32C checksums of what
// it sends, and every answer is checked as Google's data-integrity guide
// asks: the service must confirm it verified the request's checksums, the
// checksum of what it returns must match, and the key version that
// encrypted must belong to the configured key. An answer that fails a
// check is never used and matches dbservice.ErrUnavailable (data corrupted
// in transit; a retry may succeed).
//
// Errors match the dbservice sentinels: Unavailable, DeadlineExceeded,
// ResourceExhausted, Internal and Aborted match dbservice.ErrUnavailable;
// PermissionDenied, Unauthenticated, NotFound and FailedPrecondition (a
// disabled or destroyed key version) match dbservice.ErrForbidden; a
// ciphertext the key cannot decrypt with this associated data
// (InvalidArgument) matches dbservice.ErrInvalid. Messages never contain
// the plaintext, the ciphertext or credentials.
//
// Every call is bounded by [Config.Timeout]; EncryptWithContext and
// DecryptWithContext are also bounded by the caller's context, whichever
// ends first, so a caller without a deadline still cannot hang on an
// unresponsive KMS.
package gcpkms

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/securedb-go/securedb/dbservice"
)

// Kind is what [KEK.Kind] reports.
const Kind = "gcp-kms"

// DefaultTimeout bounds one Encrypt or Decrypt call when
// [Config.Timeout] is zero.
const DefaultTimeout = 30 * time.Second

// Cloud KMS takes at most 64 KiB of plaintext and of additional
// authenticated data per call.
const maxData = 64 << 10

// keyName is a CryptoKey's resource name. Decrypt takes a CryptoKey, not a
// version, so that is what a KEK is configured with.
var keyName = regexp.MustCompile(`^projects/[^/\s]+/locations/[^/\s]+/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}$`)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Client is the part of *kms.KeyManagementClient (package
// cloud.google.com/go/kms/apiv1) a KEK uses.
type Client interface {
	Encrypt(ctx context.Context, req *kmspb.EncryptRequest, opts ...gax.CallOption) (*kmspb.EncryptResponse, error)
	Decrypt(ctx context.Context, req *kmspb.DecryptRequest, opts ...gax.CallOption) (*kmspb.DecryptResponse, error)
}

// Config says which Cloud KMS key wraps the data keysets.
type Config struct {
	// KeyName is the symmetric CryptoKey's resource name,
	// projects/P/locations/L/keyRings/R/cryptoKeys/K, which is also the
	// KEK's ID. Encrypt uses the key's primary version; Decrypt finds the
	// version in the ciphertext, so rotating the key in Cloud KMS keeps
	// old wrapped keysets readable.
	KeyName string
	// Timeout bounds each KMS call (the WithContext methods end sooner
	// if their context does). Zero means DefaultTimeout.
	Timeout time.Duration
}

// KEK is a key-encryption key in Google Cloud KMS. It implements tink.AEAD
// and tink.AEADWithContext and is safe for concurrent use.
type KEK struct {
	client  Client
	name    string
	timeout time.Duration
}

// New returns the KEK for cfg.KeyName, called through client (a
// *kms.KeyManagementClient from kms.NewKeyManagementClient). It makes no
// call; a key that does not exist or is refused shows on the first Encrypt
// or Decrypt. A malformed key name or a negative timeout is an error
// matching dbservice.ErrInvalid.
func New(client Client, cfg Config) (*KEK, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: gcpkms: nil KMS client", dbservice.ErrInvalid)
	}
	if !keyName.MatchString(cfg.KeyName) {
		return nil, fmt.Errorf("%w: gcpkms: key name must be projects/P/locations/L/keyRings/R/cryptoKeys/K", dbservice.ErrInvalid)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: gcpkms: negative timeout", dbservice.ErrInvalid)
	}
	t := cfg.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	return &KEK{client: client, name: cfg.KeyName, timeout: t}, nil
}

// Kind reports "gcp-kms".
func (k *KEK) Kind() string { return Kind }

// ID reports the CryptoKey's resource name.
func (k *KEK) ID() string { return k.name }

// Encrypt wraps plaintext (1 byte to 64 KiB) under the key's primary
// version, binding it to associatedData, within the configured timeout.
func (k *KEK) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	return k.EncryptWithContext(ctx, plaintext, associatedData)
}

// Decrypt unwraps a ciphertext made by Encrypt with the same associated
// data, within the configured timeout.
func (k *KEK) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	return k.DecryptWithContext(ctx, ciphertext, associatedData)
}

// EncryptWithContext is Encrypt bounded by ctx as well as the timeout.
func (k *KEK) EncryptWithContext(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if len(plaintext) == 0 || len(plaintext) > maxData {
		return nil, fmt.Errorf("%w: gcpkms: plaintext of %d bytes (Cloud KMS takes 1 to %d)", dbservice.ErrInvalid, len(plaintext), maxData)
	}
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if len(associatedData) > maxData {
		return nil, fmt.Errorf("%w: gcpkms: associated data of %d bytes (Cloud KMS takes up to %d)", dbservice.ErrInvalid, len(associatedData), maxData)
	}
	resp, err := k.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              k.name,
		Plaintext:                         plaintext,
		PlaintextCrc32C:                   checksum(plaintext),
		AdditionalAuthenticatedData:       associatedData,
		AdditionalAuthenticatedDataCrc32C: checksum(associatedData),
	})
	if err != nil {
		return nil, classify(ctx, "encrypt", err)
	}
	switch {
	case !resp.GetVerifiedPlaintextCrc32C():
		return nil, corrupted("encrypt", "the service did not confirm the plaintext checksum")
	case !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C():
		return nil, corrupted("encrypt", "the service did not confirm the associated data checksum")
	case resp.GetCiphertextCrc32C() == nil || resp.GetCiphertextCrc32C().GetValue() != checksum(resp.GetCiphertext()).GetValue():
		return nil, corrupted("encrypt", "the ciphertext does not match its checksum")
	case !strings.HasPrefix(resp.GetName(), k.name+"/cryptoKeyVersions/"):
		// The key version that encrypted must be one of ours, or the
		// request reached another key.
		return nil, corrupted("encrypt", "the answer names another key")
	case len(resp.GetCiphertext()) == 0:
		return nil, corrupted("encrypt", "the service returned no ciphertext")
	}
	return resp.GetCiphertext(), nil
}

// DecryptWithContext is Decrypt bounded by ctx as well as the timeout.
func (k *KEK) DecryptWithContext(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) == 0 {
		return nil, fmt.Errorf("%w: gcpkms: empty ciphertext", dbservice.ErrInvalid)
	}
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if len(associatedData) > maxData {
		return nil, fmt.Errorf("%w: gcpkms: associated data of %d bytes (Cloud KMS takes up to %d)", dbservice.ErrInvalid, len(associatedData), maxData)
	}
	resp, err := k.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name:                              k.name,
		Ciphertext:                        ciphertext,
		CiphertextCrc32C:                  checksum(ciphertext),
		AdditionalAuthenticatedData:       associatedData,
		AdditionalAuthenticatedDataCrc32C: checksum(associatedData),
	})
	if err != nil {
		return nil, classify(ctx, "decrypt", err)
	}
	if resp.GetPlaintextCrc32C() == nil || resp.GetPlaintextCrc32C().GetValue() != checksum(resp.GetPlaintext()).GetValue() {
		return nil, corrupted("decrypt", "the plaintext does not match its checksum")
	}
	return resp.GetPlaintext(), nil
}

func checksum(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, castagnoli)))
}

func corrupted(op, what string) error {
	return fmt.Errorf("%w: gcpkms: %s: %s (corrupted in transit; retry)", dbservice.ErrUnavailable, op, what)
}

// classify wraps err with the dbservice sentinel its gRPC status stands
// for, keeping err in the chain. Status messages from Cloud KMS name the
// key and the failure, never the request's data.
func classify(ctx context.Context, op string, err error) error {
	var sentinel error
	switch code := status.Code(err); {
	case errors.Is(err, context.Canceled) && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The caller gave up; nothing to say about KMS.
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded):
		// A KMS that stops answering looks like this to the caller.
		sentinel = dbservice.ErrUnavailable
	default:
		switch code {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Aborted:
			sentinel = dbservice.ErrUnavailable
		case codes.PermissionDenied, codes.Unauthenticated, codes.NotFound, codes.FailedPrecondition:
			sentinel = dbservice.ErrForbidden
		case codes.InvalidArgument:
			sentinel = dbservice.ErrInvalid
		}
	}
	if sentinel == nil {
		return fmt.Errorf("gcpkms: %s: %w", op, err)
	}
	return fmt.Errorf("%w: gcpkms: %s: %w", sentinel, op, err)
}
