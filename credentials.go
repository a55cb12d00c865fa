package securedb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/secrets"
)

// Secret cache settings for credentials Open resolves itself: a rotated
// secret is picked up within the TTL, at once after an authentication
// failure, and a secret-manager outage is bridged for MaxStale.
var credentialCache = secrets.Options{TTL: 5 * time.Minute, Jitter: 30 * time.Second, MaxStale: time.Hour}

// credentialResolver returns cfg.Secrets, or a cached resolver for env://
// and file:// plus every scheme a linked package registered
// (secrets.RegisterOpener). A registered scheme's client is built on first
// use, so no cloud client exists for a configuration that does not use it;
// a scheme this module ships but the program did not import resolves to an
// error naming the import to add. The returned close function releases the
// clients that were built.
func credentialResolver(cfg Config) (secrets.Resolver, func() error) {
	if cfg.Secrets != nil {
		return cfg.Secrets, func() error { return nil }
	}
	mux := secrets.Default()
	openers := secrets.Openers()
	var lazies []*lazyResolver
	for scheme, open := range openers {
		l := &lazyResolver{scheme: scheme, open: open}
		lazies = append(lazies, l)
		mux.Register(scheme, l)
	}
	for _, scheme := range []string{"awssm", "gcpsm"} {
		if _, ok := openers[scheme]; !ok {
			mux.Register(scheme, notLinkedResolver{scheme})
		}
	}
	closeAll := func() error {
		var errs []error
		for _, l := range lazies {
			errs = append(errs, l.Close())
		}
		return errors.Join(errs...)
	}
	opts := credentialCache
	// A forced refresh happens when the database refused the cached
	// credential: a rotation, or a credential someone revoked.
	opts.OnRefresh = func(ctx context.Context, ref string) {
		reason := "other"
		if scheme, ok := secrets.SchemeOf(ref); ok {
			reason = strings.ToLower(scheme)
		}
		dbservice.ReportSecurityEvent(ctx, dbservice.EventCredentialRefresh, reason)
	}
	return secrets.Cache(mux, opts), closeAll
}

// lazyResolver builds its scheme's resolver on first use. A failed build
// is retried on the next call, so a transient outage at start-up does not
// stick.
type lazyResolver struct {
	scheme string
	open   secrets.Opener
	mu     sync.Mutex
	r      secrets.Resolver
	closed bool
}

func (l *lazyResolver) get(ctx context.Context) (secrets.Resolver, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("%w: the service was closed", secrets.ErrUnavailable)
	}
	if l.r == nil {
		r, err := l.open(ctx)
		if err != nil {
			return nil, err
		}
		l.r = r
	}
	return l.r, nil
}

func (l *lazyResolver) Schemes() []string { return []string{l.scheme} }

func (l *lazyResolver) Resolve(ctx context.Context, ref string) (secrets.Secret, error) {
	r, err := l.get(ctx)
	if err != nil {
		return secrets.Secret{}, err
	}
	return r.Resolve(ctx, ref)
}

func (l *lazyResolver) Refresh(ctx context.Context, ref string) (secrets.Secret, error) {
	r, err := l.get(ctx)
	if err != nil {
		return secrets.Secret{}, err
	}
	return secrets.Refresh(ctx, r, ref)
}

// Close releases the resolver's client if one was built.
func (l *lazyResolver) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if c, ok := l.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// notLinkedResolver stands for a scheme this module ships whose package
// the program did not import: the reference is recognised as one, and the
// error says which import enables it.
type notLinkedResolver struct{ scheme string }

func (n notLinkedResolver) Schemes() []string { return []string{n.scheme} }

func (n notLinkedResolver) Resolve(context.Context, string) (secrets.Secret, error) {
	return secrets.Secret{}, fmt.Errorf("%w: no resolver for %s:// references is linked into this program; add the import _ %q",
		secrets.ErrInvalidRef, n.scheme, importPaths[n.scheme])
}
