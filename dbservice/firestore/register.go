package firestore

import (
	"context"

	"github.com/securedb-go/securedb/dbservice/driver"
)

// Name is the provider's name in DATABASE_PROVIDER and
// securedb.Config.Provider. Importing this package registers it.
const Name = provider

func init() { driver.Register(Name, driver.For(Name, FromEnv, open)) }

// Provider returns Name, so a Config in securedb.Config.Settings selects
// this provider.
func (Config) Provider() string { return Name }

// open takes no secret from securedb: Application Default Credentials or
// GOOGLE_APPLICATION_CREDENTIALS supply them.
func open(ctx context.Context, fc Config, env driver.Env) (driver.Opened, error) {
	env.Inherit(&fc.Limits, &fc.Cursors, &fc.TracerProvider)
	svc, err := New(ctx, fc)
	if err != nil {
		return driver.Opened{}, err
	}
	return driver.Opened{Service: svc}, nil
}
