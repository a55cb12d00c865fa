package gcpsm

import (
	"context"
	"fmt"

	"github.com/securedb-go/securedb/secrets"
)

// Importing this package enables gcpsm:// references in securedb.Open:
// the resolver is built on first use with Application Default
// Credentials, and closed when the service Open returned is closed.
func init() {
	secrets.RegisterOpener(Scheme, func(ctx context.Context) (secrets.Resolver, error) {
		r, err := New(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: creating the Secret Manager client for gcpsm:// references: %w", secrets.ErrUnavailable, err)
		}
		return r, nil
	})
}
