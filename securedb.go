package securedb

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/dbservice/telemetry"
	// The in-memory provider is always linked, so the zero Config opens.
	_ "github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Provider names accepted in Config.Provider and DATABASE_PROVIDER.
const (
	Memory    = "memory"
	CouchDB   = "couchdb"
	DynamoDB  = "dynamodb"
	Firestore = "firestore"
)

// Providers lists the providers this module ships. Open accepts memory
// always and each of the others once the program imports its package
// (see ImportPath and Registered).
var Providers = []string{Memory, CouchDB, DynamoDB, Firestore}

// importPaths says which import registers each shipped provider and secret
// resolver, for the error that tells a program what to add.
var importPaths = map[string]string{
	Memory:    modulePath + "/dbservice/memory",
	CouchDB:   modulePath + "/dbservice/couchdb",
	DynamoDB:  modulePath + "/dbservice/dynamodb",
	Firestore: modulePath + "/dbservice/firestore",
	"awssm":   modulePath + "/secrets/awssm",
	"gcpsm":   modulePath + "/secrets/gcpsm",
}

const modulePath = "github.com/securedb-go/securedb"

// ImportPath returns the package a program imports to enable a provider
// this module ships (such as "dynamodb") or a secret reference scheme
// ("awssm", "gcpsm"), and false for any other name.
func ImportPath(name string) (string, bool) {
	p, ok := importPaths[name]
	return p, ok
}

// Registered returns the providers this program can open: memory, and
// every provider whose package it imports. Sorted.
func Registered() []string { return driver.Names() }

// Config chooses and configures a provider and the Guard policy around it.
// The zero Config opens the in-memory provider with the default policy.
type Config struct {
	// Provider is the name of a registered provider (Registered); ""
	// means the provider Settings is for, or memory when Settings is nil.
	Provider string
	// Settings is the provider's own configuration: a couchdb.Config,
	// dynamodb.Config or firestore.Config (value or pointer), from the
	// package that registers the provider. nil means that provider's zero
	// configuration; ConfigFromEnv fills it from the provider's
	// variables. In couchdb.Config, URL, User and Password may be secret
	// references; the password is then re-read from its secret after
	// CouchDB refuses it (rotation). The memory provider takes no
	// settings.
	Settings driver.Settings
	// Policy is enforced by dbservice.Guard around the provider. Its Audit
	// logger defaults to slog.Default() unless DisableAudit is set.
	Policy dbservice.Policy
	// DisableAudit turns audit records off. The security guide asks for an
	// audit trail, so the posture report flags it.
	DisableAudit bool
	// AuditFile is a file Open appends a tamper-evident audit trail to
	// (package dbservice/audit; SECUREDB_AUDIT_FILE), continuing the trail
	// the file already holds, unless Policy.AuditTrail is set. Open fails
	// when the file's trail does not verify. Closing the Service writes the
	// last checkpoint and closes the file.
	AuditFile string
	// AuditSigningKey signs the trail's checkpoints: a signer key of
	// golang.org/x/mod/sumdb/note (note.GenerateKey), or a secret reference
	// to one (SECUREDB_AUDIT_KEY). Empty leaves the trail unsigned, which
	// the posture report flags.
	AuditSigningKey string
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
	// Rules, when set, are security rules enforced between Guard and the
	// provider on every call: a *rules.Ruleset from package
	// dbservice/rules (rules.Load, LoadFile, LoadFS). The principal comes
	// from dbservice.WithAuth or WithPrincipal in each call's context.
	Rules driver.RuleLayer
	// RulesFile names a rules file Open loads when Rules is nil
	// (SECUREDB_RULES). It needs the program to import
	// github.com/securedb-go/securedb/dbservice/rules.
	RulesFile string
	// FieldEncryption, when set, encrypts fields on the client between
	// the rules and the provider: a fieldcrypt.Config of package
	// dbservice/fieldcrypt (its KEK, and the fields of each collection).
	// The provider, its backups and its exports see only ciphertext.
	FieldEncryption driver.FieldLayer
	// FieldKEK and EncryptedFields configure field encryption from text
	// when FieldEncryption is nil (SECUREDB_FIELD_KEK,
	// SECUREDB_FIELD_ENCRYPTION): the key-encryption key (aws-kms://KEY,
	// gcp-kms://projects/.../cryptoKeys/K, or local-keyset:REF for
	// development) and COLLECTION:FIELD=MODE entries, comma-separated, or
	// a JSON object of them; see package dbservice/fieldcrypt. Both or
	// neither are set. They need the program to import the KEK's package
	// (dbservice/fieldcrypt/awskms, gcpkms or localkek).
	FieldKEK        string
	EncryptedFields string

	// TracerProvider makes a span per operation (see package
	// dbservice/telemetry) and is handed to the provider's SDK client, so
	// its spans nest under securedb's. nil means the global provider
	// (otel.SetTracerProvider); the SDK clients are instrumented only when
	// one of the two is set at Open.
	TracerProvider trace.TracerProvider
	// MeterProvider receives db.client.operation.duration, the security
	// event counter and the secret age gauge. nil means the global
	// provider (otel.SetMeterProvider). The posture item monitoring is a
	// warning until one of the two is set.
	MeterProvider metric.MeterProvider

	// Secrets resolves credential references in provider settings. nil
	// means a cached resolver for env:// and file://, plus every scheme
	// whose package the program imports: awssm:// (package secrets/awssm,
	// the AWS SDK's default configuration) and gcpsm:// (package
	// secrets/gcpsm, Application Default Credentials). A cloud client is
	// built only when a setting uses its scheme.
	Secrets secrets.Resolver
}

// ConfigFromEnv reads DATABASE_PROVIDER (memory when unset) and the chosen
// provider's own variables (COUCHDB_*, DYNAMODB_*, FIRESTORE_*; see the
// provider package's FromEnv). It only reads; secret references in
// credential variables are resolved by Open. A provider whose package the
// program does not import is ErrInvalid, naming the import to add.
func ConfigFromEnv() (Config, error) {
	return configFromEnv(strings.ToLower(strings.TrimSpace(os.Getenv("DATABASE_PROVIDER"))), "DATABASE_PROVIDER")
}

// ConfigFromEnvFor is ConfigFromEnv for the named provider, whatever
// DATABASE_PROVIDER says: a program that opens two providers at once (a
// migration, a restore drill) reads each one's variables with it.
func ConfigFromEnvFor(provider string) (Config, error) {
	return configFromEnv(provider, "provider")
}

func configFromEnv(provider, field string) (Config, error) {
	cfg := Config{
		Provider:        provider,
		CursorKey:       strings.TrimSpace(os.Getenv(EnvCursorKey)),
		AuditFile:       strings.TrimSpace(os.Getenv(EnvAuditFile)),
		AuditSigningKey: strings.TrimSpace(os.Getenv(EnvAuditKey)),
		RulesFile:       strings.TrimSpace(os.Getenv(EnvRules)),
		FieldKEK:        strings.TrimSpace(os.Getenv(EnvFieldKEK)),
		EncryptedFields: strings.TrimSpace(os.Getenv(EnvFieldEncryption)),
	}
	d, err := lookup(provider, field)
	if err != nil {
		return Config{}, err
	}
	if cfg.Settings, err = d.FromEnv(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Open connects to the configured provider, pings it (unless
// Config.SkipPing) and returns it wrapped in dbservice.Guard, and that in
// the OpenTelemetry layer of package dbservice/telemetry (outermost, so
// refused input is traced and counted too). On error it closes whatever it
// opened. The caller closes the Service.
func Open(ctx context.Context, cfg Config) (dbservice.Service, error) {
	tel := telemetry.New(telemetry.Options{TracerProvider: cfg.TracerProvider, MeterProvider: cfg.MeterProvider})
	// The provider keeps this context for its background work (a CouchDB
	// login), so the security events of that work reach tel too.
	ctx = tel.Context(ctx)
	svc, err := open(ctx, cfg, tel)
	if e, ok := dbservice.ErrorEvent(err); ok && e.Kind == dbservice.EventInsecureTransport {
		tel.Record(ctx, e.Kind, "open")
	}
	return svc, err
}

func open(ctx context.Context, cfg Config, tel *telemetry.Telemetry) (dbservice.Service, error) {
	name := cfg.Provider
	if v := reflect.ValueOf(cfg.Settings); v.Kind() == reflect.Pointer && v.IsNil() {
		cfg.Settings = nil // a typed nil pointer is no settings, not a panic
	}
	if cfg.Settings != nil {
		switch s := cfg.Settings.Provider(); {
		case name == "":
			name = s
		case name != s:
			return nil, openError("Config.Settings", "Settings are for the "+strings.ToLower(s)+" provider, Provider is "+strings.ToLower(name))
		}
	}
	d, err := lookup(name, "Config.Provider")
	if err != nil {
		return nil, err
	}
	// Rules load before anything connects, so a bad file fails fast.
	layer, err := rulesLayer(cfg)
	if err != nil {
		return nil, err
	}
	o := &opened{provider: name}
	if o.provider == "" {
		o.provider = Memory
	}
	r, closeFn := credentialResolver(cfg)
	o.extraClose = closeFn
	cursors, err := cursorSigner(ctx, cfg, o, r)
	if err != nil {
		o.closeExtra()
		return nil, err
	}
	// Field encryption is configured before anything connects, so a bad
	// configuration fails fast.
	fields, err := fieldLayer(ctx, cfg, r)
	if err != nil {
		o.closeExtra()
		return nil, err
	}
	p := cfg.Policy
	if p.AuditTrail == nil {
		trail, closeTrail, err := openAuditTrail(ctx, cfg, r)
		if err != nil {
			o.closeExtra()
			return nil, err
		}
		if trail != nil {
			p.AuditTrail = trail
			o.addClose(closeTrail)
		}
	}
	env := driver.Env{Limits: cfg.Policy.Limits, Secrets: r, Cursors: cursors}
	if tel.TracerConfigured() {
		env.TracerProvider = tel.TracerProvider()
	}
	res, err := d.Open(ctx, cfg.Settings, env)
	if err != nil {
		o.closeExtra()
		return nil, err
	}
	o.credVar, o.credSource = res.Provenance.Setting, res.Provenance.Origin
	if !cfg.SkipPing {
		if err := res.Service.Ping(ctx); err != nil {
			_ = res.Service.Close()
			o.closeExtra()
			return nil, err
		}
	}
	if p.Audit == nil && !cfg.DisableAudit {
		p.Audit = slog.Default()
	}
	o.audit = p.Audit
	inner := res.Service
	if fields != nil {
		enc, err := fields.Layer(inner)
		if err != nil {
			_ = res.Service.Close()
			o.closeExtra()
			return nil, err
		}
		inner = enc
	}
	if layer != nil {
		inner = layer.Wrap(inner, cursors)
	}
	o.Service = tel.Wrap(dbservice.Guard(inner, p))
	if c, ok := r.(telemetry.SecretAges); ok {
		o.stopObserving = tel.ObserveSecrets(c)
	}
	return o, nil
}

// EnvRules is the variable ConfigFromEnv reads into Config.RulesFile.
const EnvRules = "SECUREDB_RULES"

// Variables ConfigFromEnv reads into Config.FieldKEK and
// Config.EncryptedFields.
const (
	EnvFieldKEK        = "SECUREDB_FIELD_KEK"
	EnvFieldEncryption = "SECUREDB_FIELD_ENCRYPTION"
)

// fieldLayer returns the configured field encryption: Config.FieldEncryption,
// or the one FieldKEK and EncryptedFields describe.
func fieldLayer(ctx context.Context, cfg Config, r secrets.Resolver) (driver.FieldLayer, error) {
	if cfg.FieldEncryption != nil {
		if cfg.FieldKEK != "" || cfg.EncryptedFields != "" {
			return nil, openError("Config.FieldKEK", "set either FieldEncryption or FieldKEK and EncryptedFields, not both")
		}
		return cfg.FieldEncryption, nil
	}
	switch {
	case cfg.FieldKEK == "" && cfg.EncryptedFields == "":
		return nil, nil
	case cfg.FieldKEK == "":
		return nil, openError(EnvFieldKEK, "is required with "+EnvFieldEncryption)
	case cfg.EncryptedFields == "":
		return nil, openError(EnvFieldEncryption, "is required with "+EnvFieldKEK)
	}
	layer, ok, err := driver.OpenFieldConfig(ctx, cfg.FieldKEK, cfg.EncryptedFields, r)
	switch {
	case !ok:
		return nil, openError(EnvFieldKEK, "field encryption needs its KEK's package linked into this program; add the import _ \""+modulePath+"/dbservice/fieldcrypt/awskms\" (or gcpkms, localkek)")
	case err != nil:
		return nil, err
	}
	return layer, nil
}

// rulesLayer returns the configured rules, loading Config.RulesFile with
// the loader package dbservice/rules registers.
func rulesLayer(cfg Config) (driver.RuleLayer, error) {
	if cfg.Rules != nil {
		if v := reflect.ValueOf(cfg.Rules); v.Kind() == reflect.Pointer && v.IsNil() {
			return nil, openError("Config.Rules", "a nil rule set; leave Rules unset for none")
		}
		return cfg.Rules, nil
	}
	if cfg.RulesFile == "" {
		return nil, nil
	}
	layer, ok, err := driver.LoadRules(cfg.RulesFile)
	switch {
	case !ok:
		return nil, openError("Config.RulesFile", "security rules need the rules engine linked into this program; add the import _ \""+modulePath+"/dbservice/rules\"")
	case err != nil:
		return nil, dbservice.NewError("open", "rules", "", "", fmt.Errorf("%w: %w", dbservice.ErrInvalid, err))
	}
	return layer, nil
}

// OpenFromEnv is Open(ctx, ConfigFromEnv()).
func OpenFromEnv(ctx context.Context) (dbservice.Service, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg)
}

// lookup finds the registered driver for name ("" is memory). A provider
// this module ships that the program did not import gets an error naming
// the import line; any other name lists what is registered.
func lookup(name, field string) (driver.Driver, error) {
	if name == "" {
		name = Memory
	}
	if d, ok := driver.Lookup(name); ok {
		return d, nil
	}
	if p, ok := importPaths[name]; ok {
		return nil, openError(field, "provider "+name+" is not linked into this program; add the import _ \""+p+"\" (or _ \""+modulePath+"/dbservice/all\" for every provider)")
	}
	reason := "unknown provider; use one of " + strings.Join(driver.Names(), ", ")
	if missing := notLinked(); len(missing) > 0 {
		reason += " (" + strings.Join(missing, ", ") + " need their package imported)"
	}
	return nil, openError(field, reason)
}

// notLinked lists the shipped providers this program did not import.
func notLinked() []string {
	var out []string
	for _, p := range Providers {
		if _, ok := driver.Lookup(p); !ok {
			out = append(out, p)
		}
	}
	return out
}

func openError(field, reason string) error {
	return dbservice.NewError("open", "", "", "", &validate.Error{Field: field, Reason: reason})
}
