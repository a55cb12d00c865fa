package secrets_test

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/securedb-go/securedb/secrets"
)

// backend is a Resolver whose answers the test controls and whose calls it
// counts.
type backend struct {
	calls   atomic.Int64
	schemes []string

	mu    sync.Mutex
	value string
	err   error
	gate  chan struct{} // when set, Resolve waits for it to close
	// entered, when set, receives once per call before Resolve waits on
	// gate, so a test knows a backend call is in flight.
	entered chan struct{}
}

func (b *backend) set(value string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.value, b.err = value, err
}

func (b *backend) Resolve(ctx context.Context, ref string) (secrets.Secret, error) {
	b.calls.Add(1)
	if b.entered != nil {
		b.entered <- struct{}{}
	}
	b.mu.Lock()
	gate, value, err := b.gate, b.value, b.err
	b.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return secrets.Secret{}, ctx.Err()
		}
	}
	if err != nil {
		return secrets.Secret{}, err
	}
	return secrets.New(value), nil
}

func (b *backend) Schemes() []string { return b.schemes }
