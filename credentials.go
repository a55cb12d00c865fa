package securedb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/secrets/awssm"
	"github.com/securedb-go/securedb/secrets/gcpsm"
)

// Secret cache settings for credentials Open resolves itself: a rotated
// secret is picked up within the TTL, at once after an authentication
// failure, and a secret-manager outage is bridged for MaxStale.
var credentialCache = secrets.Options{TTL: 5 * time.Minute, Jitter: 30 * time.Second, MaxStale: time.Hour}

// credentialResolver returns cfg.Secrets, or a cached resolver for env://
// and file:// plus awssm:// and gcpsm:// when one of values needs them, so
// no cloud client is built for a configuration that does not use it. The
// returned close function releases any client it built.
func credentialResolver(ctx context.Context, cfg Config, values ...string) (secrets.Resolver, func() error, error) {
	noop := func() error { return nil }
	if cfg.Secrets != nil {
		return cfg.Secrets, noop, nil
	}
	mux := secrets.Default()
	closers := []func() error{}
	for _, v := range values {
		scheme, ok := secrets.SchemeOf(v)
		if !ok || slices.Contains(mux.Schemes(), strings.ToLower(scheme)) {
			continue
		}
		switch strings.ToLower(scheme) {
		case awssm.Scheme:
			awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
			if err != nil {
				return nil, noop, fmt.Errorf("%w: loading the AWS configuration for awssm:// references: %w", dbservice.ErrUnavailable, err)
			}
			mux.Register(awssm.Scheme, awssm.New(awsCfg))
		case gcpsm.Scheme:
			r, err := gcpsm.New(ctx)
			if err != nil {
				return nil, noop, fmt.Errorf("%w: creating the Secret Manager client for gcpsm:// references: %w", dbservice.ErrUnavailable, err)
			}
			mux.Register(gcpsm.Scheme, r)
			closers = append(closers, r.Close)
		}
	}
	closeAll := func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	return secrets.Cache(mux, credentialCache), closeAll, nil
}

// credentialOrigin names how value was given: "literal", or the scheme of
// the reference r resolves it through.
func credentialOrigin(r secrets.Resolver, value string) string {
	if scheme, ok := secrets.SchemeOf(value); ok && secrets.IsRef(r, value) {
		return strings.ToLower(scheme)
	}
	return "literal"
}

// expandValue resolves a configuration value that may be a reference
// (a URL or user name) once, at Open.
func expandValue(ctx context.Context, r secrets.Resolver, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	s, err := secrets.Expand(ctx, r, value)
	if err != nil {
		return "", secretErr(err)
	}
	return s.Reveal(), nil
}

// secretErr maps a secrets error onto the dbservice sentinels, keeping both
// in the chain. Its text names the reference, never a value.
func secretErr(err error) error {
	switch {
	case errors.Is(err, secrets.ErrPermission):
		return fmt.Errorf("%w: %w", dbservice.ErrForbidden, err)
	case errors.Is(err, secrets.ErrUnavailable):
		return fmt.Errorf("%w: %w", dbservice.ErrUnavailable, err)
	case errors.Is(err, secrets.ErrInsecure):
		return fmt.Errorf("%w: %w", dbservice.ErrInsecure, err)
	}
	return fmt.Errorf("%w: %w", dbservice.ErrInvalid, err)
}
