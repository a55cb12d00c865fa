// Package awskms provides a field encryption key-encryption key (KEK) held
// in AWS Key Management Service: data keysets are wrapped and unwrapped by
// KMS Encrypt and Decrypt calls, so the key itself never leaves KMS.
//
// The associated data Tink passes to Encrypt and Decrypt travels in the KMS
// encryption context under the name "associatedData", hex-encoded (the
// encryption context is a map of strings). That is the layout of Tink's own
// AWS KMS AEAD, so either can unwrap what the other wrapped, and a wrapped
// keyset moved to another collection fails to unwrap.
//
// Errors match the dbservice sentinels: a KMS that cannot be reached, is
// throttling or fails on its side matches dbservice.ErrUnavailable (as does
// a call that runs out of its deadline); a refused key (access denied,
// disabled, pending deletion, not found, not for encryption) matches
// dbservice.ErrForbidden; a ciphertext KMS cannot decrypt under this key
// and associated data matches dbservice.ErrInvalid. Messages never contain
// the plaintext, the ciphertext or credentials.
//
// Every call is bounded by [Config.Timeout]; EncryptWithContext and
// DecryptWithContext are also bounded by the caller's context, whichever
// ends first, so a caller without a deadline still cannot hang on an
// unresponsive KMS.
package awskms

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/securedb-go/securedb/dbservice"
)

// Kind is what [KEK.Kind] reports.
const Kind = "aws-kms"

// ContextName is the encryption context entry that carries the associated
// data, hex-encoded.
const ContextName = "associatedData"

// DefaultTimeout bounds one Encrypt or Decrypt call when
// [Config.Timeout] is zero.
const DefaultTimeout = 30 * time.Second

// KMS limits: Encrypt takes at most 4096 bytes of plaintext, and a
// ciphertext blob is at most 6144 bytes. Key IDs are at most 2048
// characters.
const (
	maxPlaintext  = 4096
	maxCiphertext = 6144
	maxKeyID      = 2048
)

// Client is the part of *kms.Client a KEK uses.
type Client interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Config says which KMS key wraps the data keysets.
type Config struct {
	// KeyID names a symmetric ENCRYPT_DECRYPT key: preferably its key ARN
	// (arn:aws:kms:REGION:ACCOUNT:key/ID), which is also the KEK's ID. An
	// alias works, but Decrypt then checks the ciphertext against the key
	// the alias names now, so moving an alias to a new key needs a rewrap
	// of the data keysets first.
	KeyID string
	// Timeout bounds each KMS call (the WithContext methods end sooner
	// if their context does). Zero means DefaultTimeout.
	Timeout time.Duration
}

// KEK is a key-encryption key in AWS KMS. It implements tink.AEAD and
// tink.AEADWithContext and is safe for concurrent use.
type KEK struct {
	client  Client
	keyID   string
	timeout time.Duration
}

// New returns the KEK for cfg.KeyID, called through client (a *kms.Client
// from kms.NewFromConfig). It makes no call; a key that does not exist or
// is refused shows on the first Encrypt or Decrypt. A missing or malformed
// key ID or a negative timeout is an error matching dbservice.ErrInvalid.
func New(client Client, cfg Config) (*KEK, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: awskms: nil KMS client", dbservice.ErrInvalid)
	}
	if err := checkKeyID(cfg.KeyID); err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: awskms: negative timeout", dbservice.ErrInvalid)
	}
	t := cfg.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	return &KEK{client: client, keyID: cfg.KeyID, timeout: t}, nil
}

// Kind reports "aws-kms".
func (k *KEK) Kind() string { return Kind }

// ID reports the configured key ID (a key ARN, by preference).
func (k *KEK) ID() string { return k.keyID }

// Encrypt wraps plaintext (1 to 4096 bytes) under the KMS key, binding it
// to associatedData, within the configured timeout.
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
	if len(plaintext) == 0 || len(plaintext) > maxPlaintext {
		return nil, fmt.Errorf("%w: awskms: plaintext of %d bytes (KMS takes 1 to %d)", dbservice.ErrInvalid, len(plaintext), maxPlaintext)
	}
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	out, err := k.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(k.keyID),
		Plaintext:         plaintext,
		EncryptionContext: encryptionContext(associatedData),
	})
	if err != nil {
		return nil, classify(ctx, "encrypt", err)
	}
	if len(out.CiphertextBlob) == 0 {
		return nil, fmt.Errorf("%w: awskms: encrypt: KMS returned no ciphertext", dbservice.ErrUnavailable)
	}
	return out.CiphertextBlob, nil
}

// DecryptWithContext is Decrypt bounded by ctx as well as the timeout.
func (k *KEK) DecryptWithContext(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) == 0 || len(ciphertext) > maxCiphertext {
		return nil, fmt.Errorf("%w: awskms: ciphertext of %d bytes (KMS takes 1 to %d)", dbservice.ErrInvalid, len(ciphertext), maxCiphertext)
	}
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	// KeyId is sent so that KMS refuses a ciphertext wrapped by any other
	// key instead of silently using it.
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(k.keyID),
		CiphertextBlob:    ciphertext,
		EncryptionContext: encryptionContext(associatedData),
	})
	if err != nil {
		return nil, classify(ctx, "decrypt", err)
	}
	return out.Plaintext, nil
}

// encryptionContext carries the associated data as Tink's AWS KMS AEAD
// does; none when there is none (KMS rejects an empty context value).
func encryptionContext(ad []byte) map[string]string {
	if len(ad) == 0 {
		return nil
	}
	return map[string]string{ContextName: hex.EncodeToString(ad)}
}

func checkKeyID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: awskms: empty key ID", dbservice.ErrInvalid)
	}
	if len(id) > maxKeyID {
		return fmt.Errorf("%w: awskms: key ID longer than %d characters", dbservice.ErrInvalid, maxKeyID)
	}
	if strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("%w: awskms: key ID contains spaces or control characters", dbservice.ErrInvalid)
	}
	return nil
}

// classify wraps err with the dbservice sentinel its KMS error code or
// transport failure stands for, keeping err in the chain. The SDK's
// messages name the operation, status and request ID, never the request's
// plaintext or ciphertext.
func classify(ctx context.Context, op string, err error) error {
	var sentinel error
	var api smithy.APIError
	var resp *smithyhttp.ResponseError
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	var attempts *retry.MaxAttemptsError
	switch {
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "AccessDeniedException", "DisabledException", "KMSInvalidStateException",
			"NotFoundException", "InvalidKeyUsageException", "InvalidGrantTokenException",
			"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
			"MissingAuthenticationToken", "ExpiredTokenException":
			sentinel = dbservice.ErrForbidden
		case "InvalidCiphertextException", "IncorrectKeyException":
			sentinel = dbservice.ErrInvalid
		case "ThrottlingException", "LimitExceededException", "KMSInternalException",
			"DependencyTimeoutException", "KeyUnavailableException", "ServiceUnavailable",
			"InternalFailure", "RequestTimeout", "RequestTimeoutException":
			sentinel = dbservice.ErrUnavailable
		case "ValidationException", "InvalidArnException":
			sentinel = dbservice.ErrInvalid
		default:
			if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
				sentinel = dbservice.ErrUnavailable
			}
		}
	case errors.As(err, &resp) && (resp.HTTPStatusCode() >= 500 || resp.HTTPStatusCode() == 429):
		sentinel = dbservice.ErrUnavailable
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		// A KMS that stops answering looks like this to the caller.
		sentinel = dbservice.ErrUnavailable
	case errors.Is(err, context.Canceled):
		// The caller gave up; nothing to say about KMS.
	case errors.As(err, &send), errors.As(err, &netErr), errors.As(err, &attempts):
		sentinel = dbservice.ErrUnavailable
	}
	if sentinel == nil {
		return fmt.Errorf("awskms: %s: %w", op, err)
	}
	return fmt.Errorf("%w: awskms: %s: %w", sentinel, op, err)
}
