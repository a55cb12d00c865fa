package securedb

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/couchdb"
	"github.com/securedb-go/securedb/dbservice/dynamodb"
	"github.com/securedb-go/securedb/dbservice/firestore"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/validate"
)

// Provider names accepted in Config.Provider and DATABASE_PROVIDER.
const (
	Memory    = "memory"
	CouchDB   = "couchdb"
	DynamoDB  = "dynamodb"
	Firestore = "firestore"
)

// Providers lists the provider names Open accepts.
var Providers = []string{Memory, CouchDB, DynamoDB, Firestore}

// Config chooses and configures a provider and the Guard policy around it.
// The zero Config opens the in-memory provider with the default policy.
type Config struct {
	// Provider is one of Providers; "" means memory.
	Provider string
	// Policy is enforced by dbservice.Guard around the provider. Its Audit
	// logger defaults to slog.Default() unless DisableAudit is set.
	Policy dbservice.Policy
	// DisableAudit turns audit records off. The security guide asks for an
	// audit trail, so the posture report flags it.
	DisableAudit bool
	// SkipPing makes Open return without calling Ping. By default Open
	// pings, so a wrong endpoint or password fails Open (ErrUnavailable,
	// ErrUnauthorized) instead of the first call.
	SkipPing bool
	// CursorKey signs page cursors (HMAC-SHA256): at least 32 bytes, or a
	// secret reference to them (SECUREDB_CURSOR_KEY). Every instance of a
	// service must share it, so that a cursor survives a restart and a load
	// balancer. Empty means a random key per process, which the posture item
	// cursor-key reports as a warning.
	CursorKey string

	// Secrets resolves credential references (env://, file://, awssm://,
	// gcpsm://) in provider settings. nil means a cached resolver for env://
	// and file://, plus awssm:// (default AWS configuration) and gcpsm://
	// (Application Default Credentials) when a setting uses them.
	Secrets secrets.Resolver

	// CouchDB configures the couchdb provider (COUCHDB_* variables). URL,
	// User and Password may be secret references; the password is then
	// re-read from its secret after CouchDB refuses it (rotation).
	CouchDB couchdb.Config
	// DynamoDB configures the dynamodb provider (DYNAMODB_* variables).
	DynamoDB dynamodb.Config
	// Firestore configures the firestore provider (FIRESTORE_* variables
	// and GOOGLE_APPLICATION_CREDENTIALS).
	Firestore firestore.Config
}

// ConfigFromEnv reads the seed's variables: DATABASE_PROVIDER (memory when
// unset) and the chosen provider's own variables. It only reads; secret
// references in credential variables are resolved by Open.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		Provider:  strings.ToLower(strings.TrimSpace(os.Getenv("DATABASE_PROVIDER"))),
		CursorKey: strings.TrimSpace(os.Getenv(EnvCursorKey)),
	}
	if err := checkProvider(cfg.Provider); err != nil {
		return Config{}, err
	}
	var err error
	switch cfg.Provider {
	case CouchDB:
		cfg.CouchDB, err = couchdb.FromEnv()
	case DynamoDB:
		cfg.DynamoDB, err = dynamodb.FromEnv()
	case Firestore:
		cfg.Firestore, err = firestore.FromEnv()
	}
	if err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Open connects to the configured provider, pings it (unless
// Config.SkipPing) and returns it wrapped in dbservice.Guard. On error it
// closes whatever it opened. The caller closes the Service.
func Open(ctx context.Context, cfg Config) (dbservice.Service, error) {
	if err := checkProvider(cfg.Provider); err != nil {
		return nil, err
	}
	o := &opened{provider: cfg.Provider}
	cursors, err := cursorSigner(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	var svc dbservice.Service
	switch cfg.Provider {
	case "", Memory:
		o.provider = Memory
		svc = memory.New(memory.WithLimits(cfg.Policy.Limits), memory.WithCursorSigner(cursors))
	case CouchDB:
		if cfg.CouchDB.Cursors == nil {
			cfg.CouchDB.Cursors = cursors
		}
		svc, err = openCouchDB(ctx, cfg, o)
	case DynamoDB:
		dc := cfg.DynamoDB
		if dc.Limits == (validate.Limits{}) {
			dc.Limits = cfg.Policy.Limits
		}
		if dc.Cursors == nil {
			dc.Cursors = cursors
		}
		svc, err = dynamodb.New(ctx, dc)
	case Firestore:
		fc := cfg.Firestore
		if fc.Limits == (validate.Limits{}) {
			fc.Limits = cfg.Policy.Limits
		}
		if fc.Cursors == nil {
			fc.Cursors = cursors
		}
		svc, err = firestore.New(ctx, fc)
	}
	if err != nil {
		o.closeExtra()
		return nil, err
	}
	if !cfg.SkipPing {
		if err := svc.Ping(ctx); err != nil {
			_ = svc.Close()
			o.closeExtra()
			return nil, err
		}
	}
	p := cfg.Policy
	if p.Audit == nil && !cfg.DisableAudit {
		p.Audit = slog.Default()
	}
	o.Service = dbservice.Guard(svc, p)
	return o, nil
}

// openCouchDB resolves references in the CouchDB settings: the URL and
// user once, the password through a source that re-reads the secret after
// CouchDB refuses it.
func openCouchDB(ctx context.Context, cfg Config, o *opened) (dbservice.Service, error) {
	cc := cfg.CouchDB
	if cc.Limits == (validate.Limits{}) {
		cc.Limits = cfg.Policy.Limits
	}
	fail := func(err error) error { return dbservice.NewError("open", CouchDB, "", "", err) }
	r, closeFn, err := credentialResolver(ctx, cfg, cc.URL, cc.User, cc.Password)
	if err != nil {
		return nil, fail(err)
	}
	o.extraClose = closeFn
	if cc.URL, err = expandValue(ctx, r, cc.URL); err != nil {
		return nil, fail(err)
	}
	if cc.User, err = expandValue(ctx, r, cc.User); err != nil {
		return nil, fail(err)
	}
	if cc.PasswordSource == nil && cc.Password != "" {
		o.credVar, o.credSource = couchdb.EnvPassword, credentialOrigin(r, cc.Password)
		cc.PasswordSource = couchdb.PasswordSource(secrets.Source(r, cc.Password))
		cc.Password = ""
		// Resolve once now, so a wrong reference fails Open rather than the
		// first request; the cache serves the value afterwards.
		if _, err := cc.PasswordSource(ctx, false); err != nil {
			return nil, fail(secretErr(err))
		}
	}
	return couchdb.New(ctx, cc)
}

// OpenFromEnv is Open(ctx, ConfigFromEnv()).
func OpenFromEnv(ctx context.Context) (dbservice.Service, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg)
}

func checkProvider(name string) error {
	if name == "" {
		return nil
	}
	for _, p := range Providers {
		if name == p {
			return nil
		}
	}
	return dbservice.NewError("open", "", "", "", &validate.Error{
		Field:  "DATABASE_PROVIDER",
		Reason: "unknown provider; use one of " + strings.Join(Providers, ", "),
	})
}
