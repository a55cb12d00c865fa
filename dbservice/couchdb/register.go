package couchdb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/secrets"
)

// Name is the provider's name in DATABASE_PROVIDER and
// securedb.Config.Provider. Importing this package registers it.
const Name = provider

func init() { driver.Register(Name, driver.For(Name, FromEnv, open)) }

// Provider returns Name, so a Config in securedb.Config.Settings selects
// this provider.
func (Config) Provider() string { return Name }

// open resolves secret references in the settings: the URL and user once,
// the password through a source that re-reads the secret after CouchDB
// refuses it (rotation).
func open(ctx context.Context, cc Config, env driver.Env) (driver.Opened, error) {
	env.Inherit(&cc.Limits, &cc.Cursors, &cc.TracerProvider)
	var out driver.Opened
	r := env.Secrets
	// Refuse what the settings themselves make insecure or invalid (plain
	// HTTP to a remote host, a bad prefix) before a reference is resolved,
	// which may be a call to a secret manager.
	if !secrets.IsRef(r, cc.URL) {
		pre := cc
		if secrets.IsRef(r, pre.User) {
			pre.User = "placeholder"
		}
		if _, err := pre.resolve(); err != nil {
			return out, openErr(err)
		}
	}
	var err error
	if cc.URL, err = expandValue(ctx, r, cc.URL); err != nil {
		return out, openErr(err)
	}
	if cc.User, err = expandValue(ctx, r, cc.User); err != nil {
		return out, openErr(err)
	}
	if cc.PasswordSource == nil && cc.Password != "" {
		out.Provenance = driver.Provenance{Setting: EnvPassword, Origin: credentialOrigin(r, cc.Password)}
		cc.PasswordSource = PasswordSource(secrets.Source(r, cc.Password))
		cc.Password = ""
		// Resolve once now, so a wrong reference fails Open rather than the
		// first request; the resolver's cache serves the value afterwards.
		if _, err := cc.PasswordSource(ctx, false); err != nil {
			return out, openErr(secretErr(err))
		}
	}
	svc, err := New(ctx, cc)
	if err != nil {
		return out, err
	}
	out.Service = svc
	return out, nil
}

// credentialOrigin names how value was given: "literal", or the scheme of
// the reference r resolves it through.
func credentialOrigin(r secrets.Resolver, value string) string {
	if scheme, ok := secrets.SchemeOf(value); ok && secrets.IsRef(r, value) {
		return strings.ToLower(scheme)
	}
	return "literal"
}

// expandValue resolves a configuration value that may be a reference (a URL
// or user name) once, at Open.
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
