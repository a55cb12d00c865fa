// Package awssm resolves awssm:// secret references with AWS Secrets Manager.
//
// A reference names a secret by name or ARN, optionally a version, and
// optionally a field of a JSON secret:
//
//	awssm://prod/couchdb#password
//	awssm://prod/couchdb?version-stage=AWSPREVIOUS#password
//	awssm://prod/couchdb?version-id=EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE
//	awssm://arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/couchdb-AbCdEf#password
//
// Everything between "awssm://" and the first '?' or '#' is the secret ID,
// path-unescaped, so an ARN's colons need no escaping. Without a version the
// service returns the AWSCURRENT stage.
//
// Importing the package enables awssm:// references in securedb.Open,
// which builds the client on first use from the AWS SDK's default
// configuration. Elsewhere, register the resolver on a [secrets.Mux] with
// mux.Register(awssm.Scheme, awssm.New(cfg)).
//
// Service errors are mapped to the secrets sentinels: ResourceNotFoundException
// to [secrets.ErrNotFound]; AccessDeniedException, DecryptionFailure and
// credential failures to [secrets.ErrPermission]; throttling, 5xx responses
// and connection failures to [secrets.ErrUnavailable]. The SDK's own error
// stays in the chain for errors.As.
package awssm

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/securedb-go/securedb/secrets"
)

// Scheme is the reference scheme this package resolves.
const Scheme = "awssm"

// Client is the part of *secretsmanager.Client the resolver uses.
type Client interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Resolver resolves awssm:// references. It is safe for concurrent use and
// does not cache; wrap it with [secrets.Cache].
type Resolver struct {
	client Client
}

// New returns a Resolver using a Secrets Manager client built from cfg, as
// loaded by config.LoadDefaultConfig. optFns adjust the client, for example
// to set BaseEndpoint for a VPC endpoint.
func New(cfg aws.Config, optFns ...func(*secretsmanager.Options)) *Resolver {
	return NewFromClient(secretsmanager.NewFromConfig(cfg, optFns...))
}

// NewFromClient returns a Resolver that uses an existing client.
func NewFromClient(c Client) *Resolver {
	return &Resolver{client: c}
}

// Schemes returns ["awssm"], so [secrets.Expand] knows what this resolver
// handles when it is used without a Mux.
func (r *Resolver) Schemes() []string { return []string{Scheme} }

// Resolve fetches the secret ref names and returns it, or its #key field. A
// malformed reference fails with [secrets.ErrInvalidRef] before any network
// call. A binary secret is returned as its raw bytes.
func (r *Resolver) Resolve(ctx context.Context, ref string) (secrets.Secret, error) {
	p, err := ParseRef(ref)
	if err != nil {
		return secrets.Secret{}, err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(p.SecretID)}
	if p.VersionStage != "" {
		in.VersionStage = aws.String(p.VersionStage)
	}
	if p.VersionID != "" {
		in.VersionId = aws.String(p.VersionID)
	}
	out, err := r.client.GetSecretValue(ctx, in)
	if err != nil {
		return secrets.Secret{}, &secrets.Error{Ref: ref, Err: classify(err)}
	}
	var data []byte
	switch {
	case out.SecretString != nil:
		data = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		data = out.SecretBinary
	default:
		return secrets.Secret{}, &secrets.Error{Ref: ref, Err: fmt.Errorf("%w: the version has no value", secrets.ErrNotFound)}
	}
	s, err := p.Extract(data)
	if err != nil {
		return secrets.Secret{}, &secrets.Error{Ref: ref, Err: err}
	}
	return s, nil
}

// classify wraps err with the sentinel for its kind, keeping err in the chain.
func classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var sentinel error
	var apiErr smithy.APIError
	var status interface{ HTTPStatusCode() int }
	var conn interface{ ConnectionError() bool }
	switch {
	case errors.As(err, &apiErr):
		switch apiErr.ErrorCode() {
		case "ResourceNotFoundException":
			sentinel = secrets.ErrNotFound
		case "AccessDeniedException", "DecryptionFailure", "UnrecognizedClientException",
			"InvalidSignatureException", "ExpiredTokenException", "IncompleteSignature":
			sentinel = secrets.ErrPermission
		case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
			"InternalServiceError", "InternalFailure", "ServiceUnavailable":
			sentinel = secrets.ErrUnavailable
		case "InvalidParameterException":
			sentinel = secrets.ErrInvalidRef
		}
	}
	if sentinel == nil {
		switch {
		case errors.As(err, &status) && status.HTTPStatusCode() >= 500,
			errors.As(err, &status) && status.HTTPStatusCode() == 429,
			errors.As(err, &conn) && conn.ConnectionError():
			sentinel = secrets.ErrUnavailable
		case errors.As(err, &status) && (status.HTTPStatusCode() == 401 || status.HTTPStatusCode() == 403):
			sentinel = secrets.ErrPermission
		}
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
