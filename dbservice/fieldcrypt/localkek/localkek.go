// Package localkek provides a field encryption key-encryption key (KEK)
// from a Tink keyset the process holds itself, for development, tests and
// programs that keep their own master keyset: no KMS call is made.
//
// A local KEK is only as safe as the keyset: whoever reads it can unwrap
// every data keyset and so decrypt every encrypted field, there is no
// audit log of its use and no way to revoke it short of rotating. For
// production use AWS KMS (package awskms) or Google Cloud KMS (package
// gcpkms), where the key never leaves the service.
//
// [Open] reads a cleartext keyset in Tink's JSON format from a secret
// reference (env://, file://, awssm://, gcpsm://; see package secrets).
// Because a cleartext keyset is a development arrangement, Open and
// [FromJSON] refuse one with an error matching dbservice.ErrInsecure
// unless [Options.Development] says so in the program's code, where review
// sees it. [New] takes a keyset handle the program obtained some other way
// (for instance an encrypted keyset unwrapped with keyset.Read), and
// [Generate] makes a new AES-256-GCM keyset; go run
// ./examples/fieldcrypt-keygen writes one to a file.
//
// Errors never contain key material: a keyset that does not parse is
// reported without the parser's message, which could quote it.
package localkek

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/secrets"
)

// Kind is what [KEK.Kind] reports.
const Kind = "local-keyset"

// Options control how a cleartext keyset is accepted.
type Options struct {
	// Development accepts a cleartext keyset, which is for development
	// and tests only (see the package documentation). Without it Open and
	// FromJSON refuse, before resolving anything.
	Development bool
}

// KEK is a key-encryption key from a local Tink AEAD keyset. It implements
// tink.AEAD and tink.AEADWithContext and is safe for concurrent use.
type KEK struct {
	aead tink.AEAD
	id   string
}

// New returns the KEK for an AEAD keyset handle (AES-GCM, AES-GCM-SIV,
// XChaCha20-Poly1305, AES-CTR-HMAC). Encrypt uses the primary key; Decrypt
// accepts any key of the keyset, so a keyset rotated by adding a new
// primary still unwraps what the old one wrapped. A keyset of another kind
// is an error matching dbservice.ErrInvalid.
func New(h *keyset.Handle) (*KEK, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: localkek: nil keyset handle", dbservice.ErrInvalid)
	}
	a, err := aead.New(h)
	if err != nil {
		// Tink's message names key types, never key material.
		return nil, fmt.Errorf("%w: localkek: not an AEAD keyset: %w", dbservice.ErrInvalid, err)
	}
	return &KEK{aead: a, id: fmt.Sprintf("%s:%d", Kind, h.KeysetInfo().GetPrimaryKeyId())}, nil
}

// FromJSON returns the KEK for a cleartext keyset in Tink's JSON format,
// which opts must accept (see [Options.Development]).
func FromJSON(keysetJSON []byte, opts Options) (*KEK, error) {
	if !opts.Development {
		return nil, errCleartext
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(keysetJSON)))
	if err != nil {
		// Deliberately without err: a JSON parser's message quotes the input.
		return nil, fmt.Errorf("%w: localkek: not a Tink JSON keyset", dbservice.ErrInvalid)
	}
	return New(h)
}

// Open resolves ref with r and returns the KEK for the cleartext JSON
// keyset it holds, which opts must accept (see [Options.Development]).
// Resolver errors keep their secrets sentinel and also match the dbservice
// one: ErrInvalid for a malformed reference, ErrNotFound, ErrForbidden for
// a refused one, ErrUnavailable, ErrInsecure for unsafe storage.
func Open(ctx context.Context, r secrets.Resolver, ref string, opts Options) (*KEK, error) {
	if !opts.Development {
		return nil, errCleartext
	}
	if r == nil {
		return nil, fmt.Errorf("%w: localkek: nil secret resolver", dbservice.ErrInvalid)
	}
	s, err := r.Resolve(ctx, ref)
	if err != nil {
		return nil, resolveErr(err)
	}
	return FromJSON([]byte(s.Reveal()), opts)
}

// Generate returns a new keyset of one AES-256-GCM key in Tink's JSON
// format, in cleartext: store it as a secret (a file only its owner can
// read, or a secret manager), never in the source tree.
func Generate() ([]byte, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("localkek: generate: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("localkek: generate: %w", err)
	}
	return buf.Bytes(), nil
}

// Kind reports "local-keyset".
func (k *KEK) Kind() string { return Kind }

// ID reports "local-keyset:" and the primary key's ID, a number Tink
// assigns that reveals nothing about the key.
func (k *KEK) ID() string { return k.id }

// Encrypt wraps plaintext under the primary key, binding it to
// associatedData.
func (k *KEK) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	ct, err := k.aead.Encrypt(plaintext, associatedData)
	if err != nil {
		return nil, fmt.Errorf("localkek: encrypt: %w", err)
	}
	return ct, nil
}

// Decrypt unwraps a ciphertext made by Encrypt with the same associated
// data. Any other ciphertext or associated data is an error matching
// dbservice.ErrInvalid.
func (k *KEK) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	pt, err := k.aead.Decrypt(ciphertext, associatedData)
	if err != nil {
		return nil, fmt.Errorf("%w: localkek: decryption failed (wrong keyset, associated data or a damaged ciphertext)", dbservice.ErrInvalid)
	}
	return pt, nil
}

// EncryptWithContext is Encrypt; it fails only if ctx has already ended.
func (k *KEK) EncryptWithContext(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.Encrypt(plaintext, associatedData)
}

// DecryptWithContext is Decrypt; it fails only if ctx has already ended.
func (k *KEK) DecryptWithContext(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.Decrypt(ciphertext, associatedData)
}

var errCleartext = fmt.Errorf("%w: localkek: a cleartext keyset is for development only; set Options.Development to accept it, or use a KMS key", dbservice.ErrInsecure)

// resolveErr adds the dbservice sentinel for a secrets error.
func resolveErr(err error) error {
	var sentinel error
	switch {
	case errors.Is(err, secrets.ErrInvalidRef):
		sentinel = dbservice.ErrInvalid
	case errors.Is(err, secrets.ErrNotFound):
		sentinel = dbservice.ErrNotFound
	case errors.Is(err, secrets.ErrPermission):
		sentinel = dbservice.ErrForbidden
	case errors.Is(err, secrets.ErrUnavailable):
		sentinel = dbservice.ErrUnavailable
	case errors.Is(err, secrets.ErrInsecure):
		sentinel = dbservice.ErrInsecure
	default:
		return fmt.Errorf("localkek: %w", err)
	}
	return fmt.Errorf("%w: localkek: %w", sentinel, err)
}
