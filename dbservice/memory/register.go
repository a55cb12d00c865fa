package memory

import (
	"context"

	"github.com/securedb-go/securedb/dbservice/driver"
)

// Name is the provider's name in DATABASE_PROVIDER and
// securedb.Config.Provider. The provider is always registered: the root
// package imports it, and it is what an unset DATABASE_PROVIDER opens.
const Name = provider

func init() { driver.Register(Name, drv{}) }

type drv struct{}

func (drv) FromEnv() (driver.Settings, error) { return nil, nil }

func (drv) Open(_ context.Context, s driver.Settings, env driver.Env) (driver.Opened, error) {
	if s != nil {
		return driver.Opened{}, driver.WrongSettings(Name, s)
	}
	return driver.Opened{Service: New(WithLimits(env.Limits), WithCursorSigner(env.Cursors))}, nil
}
