// Package driver is the registry securedb.Open picks providers from, and
// the interface a provider implements to be in it.
//
// A provider package registers itself from an init function, the way
// database/sql drivers and gocloud.dev URL openers do, so a program links a
// provider's SDK only when it imports that provider:
//
//	import _ "github.com/securedb-go/securedb/dbservice/dynamodb" // DATABASE_PROVIDER=dynamodb
//
// The in-memory provider is always registered, because the root package
// imports it. Package dbservice/all imports every provider at once.
//
// Most programs never use this package directly. It is for provider
// authors and for tests that open a fake provider through securedb.Open:
// register it under a name of its own, once per process (from an init
// function or a sync.Once), and set DATABASE_PROVIDER or Config.Provider to
// that name.
package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/otel/trace"
)

// Driver opens one kind of provider.
type Driver interface {
	// FromEnv reads the provider's own environment variables (COUCHDB_*,
	// DYNAMODB_*, ...) into its settings. It only reads: nothing is
	// resolved or contacted. A provider without settings returns nil.
	FromEnv() (Settings, error)
	// Open connects the provider. s is nil for the provider's zero
	// settings, or a Settings whose Provider method names this driver;
	// any other type is refused with dbservice.ErrInvalid. Secret
	// references in the settings are resolved through env.Secrets.
	Open(ctx context.Context, s Settings, env Env) (Opened, error)
}

// Settings is a provider's own configuration type, such as couchdb.Config
// or dynamodb.Config, as carried by securedb.Config.Settings.
type Settings interface {
	// Provider names the registered driver these settings are for.
	Provider() string
}

// Env is what securedb.Open hands every driver besides its settings.
type Env struct {
	// Limits bounds documents; a driver uses it when its settings leave
	// their own limits at the zero value. The zero Limits means
	// validate.DefaultLimits.
	Limits validate.Limits
	// Secrets resolves references (env://, file://, awssm://, gcpsm://)
	// in credential settings. It is never nil and caches what it resolves.
	Secrets secrets.Resolver
	// Cursors signs page cursors; a driver uses it when its settings name
	// no signer of their own. nil means dbservice.ProcessCursorSigner.
	Cursors *dbservice.CursorSigner
	// TracerProvider, when set, is the OpenTelemetry provider securedb's
	// own spans come from; a driver hands it to its SDK client so the
	// client's spans nest under securedb's. nil means no tracing was
	// configured: the driver adds no instrumentation.
	TracerProvider trace.TracerProvider
}

// Inherit fills the settings a provider's own configuration left unset
// (zero limits, no cursor signer, no tracer provider) from e, so every
// driver gives its own settings precedence the same way.
func (e Env) Inherit(lim *validate.Limits, cursors **dbservice.CursorSigner, tp *trace.TracerProvider) {
	if *lim == (validate.Limits{}) {
		*lim = e.Limits
	}
	if *cursors == nil {
		*cursors = e.Cursors
	}
	if *tp == nil {
		*tp = e.TracerProvider
	}
}

// String describes the environment without the resolver's or the
// signer's contents.
func (e Env) String() string {
	sec := "nil"
	if e.Secrets != nil {
		sec = "set"
	}
	tp := ""
	if e.TracerProvider != nil {
		tp = ", TracerProvider: set"
	}
	return fmt.Sprintf("driver.Env{Limits: %+v, Secrets: %s, Cursors: %s%s}", e.Limits, sec, e.Cursors.String(), tp)
}

// GoString implements fmt.GoStringer with the same text as String.
func (e Env) GoString() string { return e.String() }

// Format implements fmt.Formatter, so that no verb prints a field.
func (e Env) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(e.String())) }

// LogValue implements slog.LogValuer with the redacted text.
func (e Env) LogValue() slog.Value { return slog.StringValue(e.String()) }

// MarshalJSON implements json.Marshaler with the redacted text.
func (e Env) MarshalJSON() ([]byte, error) { return json.Marshal(e.String()) }

// Opened is an open provider and what the posture report needs to know
// about how it was configured.
type Opened struct {
	// Service is the provider. securedb.Open wraps it in dbservice.Guard.
	Service dbservice.Service
	// Provenance says where the provider's secret came from; the zero
	// value means the provider took none (its credentials come from an
	// SDK's own chain, such as an IAM role).
	Provenance Provenance
}

// Provenance names the setting that held a provider's secret and how it
// was given, for the secrets-manager item of the security checklist. It
// holds names only, never the secret.
type Provenance struct {
	// Setting is the environment variable the secret belongs in, such as
	// COUCHDB_PASSWORD.
	Setting string
	// Origin is "literal" when the setting held the secret itself, or the
	// scheme of the reference it was resolved through ("env", "file",
	// "awssm", "gcpsm").
	Origin string
}

var (
	mu      sync.RWMutex
	drivers = map[string]Driver{}
)

// nameRe is the rule for driver names: what DATABASE_PROVIDER can carry
// without quoting.
var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Register makes d available to securedb.Open under name. It is safe for
// concurrent use. Like database/sql.Register it panics when name is already
// taken, when name does not match ^[a-z][a-z0-9_-]{0,31}$, or when d is
// nil: each is a mistake in the program, not in its input.
func Register(name string, d Driver) {
	if !nameRe.MatchString(name) {
		panic(fmt.Sprintf("driver: Register: invalid provider name %q", name))
	}
	if d == nil {
		panic("driver: Register: nil driver for provider " + name)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("driver: Register called twice for provider " + name)
	}
	drivers[name] = d
}

// Lookup returns the driver registered under name.
func Lookup(name string) (Driver, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := drivers[name]
	return d, ok
}

// Names returns the registered provider names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(drivers))
}

// For returns the Driver of a provider whose settings type is C: FromEnv
// is fromEnv, and Open hands open the settings as a C (see SettingsAs),
// so that a provider writes only what is its own.
func For[C Settings](name string, fromEnv func() (C, error), open func(context.Context, C, Env) (Opened, error)) Driver {
	return typed[C]{name: name, fromEnv: fromEnv, open: open}
}

type typed[C Settings] struct {
	name    string
	fromEnv func() (C, error)
	open    func(context.Context, C, Env) (Opened, error)
}

func (d typed[C]) FromEnv() (Settings, error) {
	c, err := d.fromEnv()
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (d typed[C]) Open(ctx context.Context, s Settings, env Env) (Opened, error) {
	c, err := SettingsAs[C](d.name, s)
	if err != nil {
		return Opened{}, err
	}
	return d.open(ctx, c, env)
}

// SettingsAs returns s as a driver's own settings type C, given as a C or
// a *C; nil (or a nil *C) is the zero C. Settings of any other type are
// WrongSettings.
func SettingsAs[C Settings](provider string, s Settings) (C, error) {
	var zero C
	switch c := any(s).(type) {
	case nil:
		return zero, nil
	case C:
		return c, nil
	case *C:
		if c == nil {
			return zero, nil
		}
		return *c, nil
	}
	return zero, WrongSettings(provider, s)
}

// WrongSettings is the error a driver returns for settings of another
// provider's type: it names both types, never a field's value.
func WrongSettings(provider string, s Settings) error {
	return dbservice.NewError("open", provider, "", "", &validate.Error{
		Field:  "settings",
		Reason: fmt.Sprintf("the %s provider takes its own Config, not a %T", provider, s),
	})
}
