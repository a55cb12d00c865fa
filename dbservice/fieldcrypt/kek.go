// Package fieldcrypt encrypts chosen document fields on the client, before
// they leave the process, on every provider: a Service middleware whose
// data keys are Tink keysets wrapped by a key-encryption key (KEK) held in
// AWS KMS, Google Cloud KMS or a local Tink keyset.
package fieldcrypt

import "github.com/tink-crypto/tink-go/v2/tink"

// KEK is a key-encryption key: it wraps and unwraps the data keysets that
// encrypt fields. Encrypt and Decrypt are Tink's AEAD contract (the
// associated data binds a wrapped keyset to its collection). Errors from a
// KEK that cannot be reached match dbservice.ErrUnavailable; a wrapped
// keyset the KEK refuses matches dbservice.ErrForbidden or is a
// decryption error, never plaintext.
type KEK interface {
	tink.AEAD
	// Kind names where the key lives: "aws-kms", "gcp-kms" or
	// "local-keyset". Posture reports it.
	Kind() string
	// ID identifies the key without revealing it (a KMS key ARN or
	// resource name, or a local keyset's primary key ID), so stored
	// wrapped keysets say which KEK wraps them.
	ID() string
}
