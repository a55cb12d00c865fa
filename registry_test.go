package securedb_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/couchdb"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/dbservice/dynamodb"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/validate"
)

// fakeSettings configures the fake provider below: Password may be a
// secret reference, resolved through the resolver Open hands the driver.
type fakeSettings struct{ Password string }

func (fakeSettings) Provider() string { return "fake" }

// fakeDriver is a test provider: a memory store that records what Open
// handed it.
type fakeDriver struct{}

var (
	fakeLimits   validate.Limits
	fakePassword string
)

func (fakeDriver) FromEnv() (driver.Settings, error) {
	return fakeSettings{Password: envOf("FAKE_PASSWORD")}, nil
}

func (fakeDriver) Open(ctx context.Context, s driver.Settings, env driver.Env) (driver.Opened, error) {
	fs, ok := s.(fakeSettings)
	if !ok && s != nil {
		return driver.Opened{}, driver.WrongSettings("fake", s)
	}
	fakeLimits = env.Limits
	out := driver.Opened{Service: memory.New()}
	if fs.Password != "" {
		pw, err := secrets.Expand(ctx, env.Secrets, fs.Password)
		if err != nil {
			return driver.Opened{}, err
		}
		fakePassword = pw.Reveal()
		origin := "literal"
		if scheme, ok := secrets.SchemeOf(fs.Password); ok && secrets.IsRef(env.Secrets, fs.Password) {
			origin = scheme
		}
		out.Provenance = driver.Provenance{Setting: "FAKE_PASSWORD", Origin: origin}
	}
	return out, nil
}

// fakesm is a secret scheme registered the way awssm and gcpsm register:
// its opener counts how often it runs, its resolver how often it resolves.
var fakesmOpens, fakesmCloses atomic.Int32

type fakesmResolver struct{}

func (fakesmResolver) Resolve(_ context.Context, ref string) (secrets.Secret, error) {
	return secrets.New("from-" + strings.TrimPrefix(ref, "fakesm://")), nil
}
func (fakesmResolver) Close() error { fakesmCloses.Add(1); return nil }

func init() {
	driver.Register("fake", fakeDriver{})
	secrets.RegisterOpener("fakesm", func(context.Context) (secrets.Resolver, error) {
		fakesmOpens.Add(1)
		return fakesmResolver{}, nil
	})
}

// TestOpenUsesARegisteredFake: a provider registered by a test opens
// through OpenFromEnv with the production wiring: behind Guard, with the
// policy's limits, its secret resolved through a scheme registered on
// import, and the credential's origin in the posture report.
func TestOpenUsesARegisteredFake(t *testing.T) {
	t.Setenv("DATABASE_PROVIDER", "fake")
	t.Setenv("FAKE_PASSWORD", "fakesm://prod-db")
	opens, closes := fakesmOpens.Load(), fakesmCloses.Load()
	ctx := context.Background()
	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Policy.Limits = validate.Limits{MaxStringLen: 7}
	db, err := securedb.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(fake): %v", err)
	}
	if fakePassword != "from-prod-db" || fakesmOpens.Load() != opens+1 {
		t.Fatalf("password = %q after %d opener calls; want it resolved through the registered fakesm scheme once", fakePassword, fakesmOpens.Load()-opens)
	}
	if fakeLimits.MaxStringLen != 7 {
		t.Fatalf("driver got limits %+v, want the policy's", fakeLimits)
	}
	_, err = db.Get(ctx, "agents", "../x")
	var e *dbservice.Error
	if !errors.As(err, &e) || e.Provider != "guard" {
		t.Fatalf("hostile ID reached the fake provider: %v", err)
	}
	var found bool
	for _, f := range dbservice.CheckPosture(ctx, db) {
		if f.ID == dbservice.ItemSecretsManager {
			found = f.Status == dbservice.Pass && strings.Contains(f.Detail, "FAKE_PASSWORD is a fakesm:// reference")
		}
	}
	if !found {
		t.Fatal("the posture report does not credit the fakesm:// reference")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fakesmCloses.Load() != closes+1 {
		t.Fatal("closing the service did not close the resolver client Open built")
	}

	// A scheme no setting uses is never opened.
	t.Setenv("FAKE_PASSWORD", "literal-password")
	opens = fakesmOpens.Load()
	db, err = securedb.OpenFromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if fakesmOpens.Load() != opens {
		t.Fatal("a resolver client was built for a configuration that does not use its scheme")
	}
}

// TestSettingsChooseTheProvider: Config.Settings alone selects its
// provider; settings of one provider under another's name are refused
// before anything is contacted.
func TestSettingsChooseTheProvider(t *testing.T) {
	ctx := context.Background()
	// A remote plain-http URL is refused by the couchdb provider itself,
	// which proves it was chosen, without any network call.
	_, err := securedb.Open(ctx, securedb.Config{Settings: couchdb.Config{URL: "http://db.example.com:5984", User: "u", Password: "p"}})
	if !errors.Is(err, dbservice.ErrInsecure) {
		t.Fatalf("Open(Settings: couchdb.Config) = %v, want the couchdb provider's ErrInsecure", err)
	}
	// The refusal comes before the password reference is resolved: no
	// secret manager is called for settings that cannot be used.
	opens := fakesmOpens.Load()
	_, err = securedb.Open(ctx, securedb.Config{Settings: couchdb.Config{URL: "http://db.example.com:5984", User: "u", Password: "fakesm://db"}})
	if !errors.Is(err, dbservice.ErrInsecure) || fakesmOpens.Load() != opens {
		t.Fatalf("insecure URL with a password reference: %v after %d secret-manager clients; want ErrInsecure and none", err, fakesmOpens.Load()-opens)
	}
	_, err = securedb.Open(ctx, securedb.Config{Provider: securedb.DynamoDB, Settings: &couchdb.Config{}})
	if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), "couchdb") {
		t.Fatalf("couchdb settings for dynamodb: %v, want ErrInvalid naming the mismatch", err)
	}
	var none *couchdb.Config
	if db, err := securedb.Open(ctx, securedb.Config{Settings: none}); err != nil {
		t.Fatalf("a nil *couchdb.Config: %v, want the zero Config's memory provider", err)
	} else {
		_ = db.Close()
	}
	_, err = securedb.Open(ctx, securedb.Config{Provider: securedb.Memory, Settings: dynamodb.Config{}})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("dynamodb settings for memory: %v, want ErrInvalid", err)
	}
	_, err = securedb.Open(ctx, securedb.Config{Provider: "fake", Settings: dynamodb.Config{}})
	if !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("dynamodb settings for fake: %v, want ErrInvalid", err)
	}
}

func TestImportPath(t *testing.T) {
	for name, want := range map[string]string{
		securedb.DynamoDB: "github.com/securedb-go/securedb/dbservice/dynamodb",
		"gcpsm":           "github.com/securedb-go/securedb/secrets/gcpsm",
	} {
		if got, ok := securedb.ImportPath(name); !ok || got != want {
			t.Errorf("ImportPath(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := securedb.ImportPath("oracle"); ok {
		t.Error("ImportPath knows a provider securedb does not ship")
	}
}
