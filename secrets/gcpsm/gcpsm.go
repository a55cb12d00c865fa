// Package gcpsm resolves gcpsm:// secret references with Google Cloud Secret
// Manager.
//
// A reference is the secret version's resource name, optionally with a field
// of a JSON secret:
//
//	gcpsm://projects/my-project/secrets/couchdb/versions/latest#password
//	gcpsm://projects/my-project/secrets/couchdb/versions/7
//	gcpsm://projects/my-project/secrets/couchdb#password   (version defaults to latest)
//
// The version may be a number, "latest" or a version alias. Every payload
// that carries a CRC32C checksum is verified before use.
//
// Importing the package enables gcpsm:// references in securedb.Open,
// which builds the client on first use with Application Default
// Credentials. Elsewhere, register the resolver on a [secrets.Mux] with
// mux.Register(gcpsm.Scheme, r).
//
// gRPC status codes are mapped to the secrets sentinels: NotFound and
// FailedPrecondition (a disabled or destroyed version) to
// [secrets.ErrNotFound]; PermissionDenied and Unauthenticated to
// [secrets.ErrPermission]; Unavailable, ResourceExhausted, Internal, Aborted
// and DeadlineExceeded to [secrets.ErrUnavailable]; InvalidArgument to
// [secrets.ErrInvalidRef]. The original error stays in the chain.
package gcpsm

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/secrets"
)

// Scheme is the reference scheme this package resolves.
const Scheme = "gcpsm"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Resolver resolves gcpsm:// references. It is safe for concurrent use and
// does not cache; wrap it with [secrets.Cache].
type Resolver struct {
	client *secretmanager.Client
	owned  bool
}

// New returns a Resolver with its own gRPC client, created with
// secretmanager.NewClient(ctx, opts...) and Application Default Credentials
// unless opts say otherwise. Call Close when done.
func New(ctx context.Context, opts ...option.ClientOption) (*Resolver, error) {
	c, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcpsm: new client: %w", err)
	}
	return &Resolver{client: c, owned: true}, nil
}

// NewFromClient returns a Resolver that uses an existing client. The caller
// keeps ownership: [Resolver.Close] does not close it.
func NewFromClient(c *secretmanager.Client) *Resolver {
	return &Resolver{client: c}
}

// Close closes the client New created. It does nothing for a Resolver from
// NewFromClient.
func (r *Resolver) Close() error {
	if !r.owned {
		return nil
	}
	return r.client.Close()
}

// Schemes returns ["gcpsm"], so [secrets.Expand] knows what this resolver
// handles when it is used without a Mux.
func (r *Resolver) Schemes() []string { return []string{Scheme} }

// Resolve accesses the secret version ref names and returns its payload, or
// its #key field. A malformed reference fails with [secrets.ErrInvalidRef]
// before any network call; a payload whose CRC32C checksum does not match
// fails with [secrets.ErrUnavailable].
func (r *Resolver) Resolve(ctx context.Context, ref string) (secrets.Secret, error) {
	p, err := ParseRef(ref)
	if err != nil {
		return secrets.Secret{}, err
	}
	resp, err := r.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: p.Name()})
	if err != nil {
		return secrets.Secret{}, &secrets.Error{Ref: ref, Err: classify(ctx, err)}
	}
	payload := resp.GetPayload()
	if payload == nil {
		return secrets.Secret{}, &secrets.Error{Ref: ref, Err: fmt.Errorf("%w: response has no payload", secrets.ErrUnavailable)}
	}
	data := payload.GetData()
	if payload.DataCrc32C != nil && int64(crc32.Checksum(data, castagnoli)) != payload.GetDataCrc32C() {
		return secrets.Secret{}, &secrets.Error{Ref: ref, Err: fmt.Errorf("%w: payload CRC32C checksum mismatch, data corrupted in transit", secrets.ErrUnavailable)}
	}
	s, err := p.Extract(data)
	if err != nil {
		return secrets.Secret{}, &secrets.Error{Ref: ref, Err: err}
	}
	return s, nil
}

// classify wraps err with the sentinel for its gRPC status code, keeping err
// in the chain.
func classify(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return err
		}
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	var sentinel error
	switch status.Code(err) {
	case codes.NotFound, codes.FailedPrecondition:
		sentinel = secrets.ErrNotFound
	case codes.PermissionDenied, codes.Unauthenticated:
		sentinel = secrets.ErrPermission
	case codes.Unavailable, codes.ResourceExhausted, codes.Internal, codes.Aborted, codes.DeadlineExceeded:
		sentinel = secrets.ErrUnavailable
	case codes.InvalidArgument:
		sentinel = secrets.ErrInvalidRef
	default:
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
