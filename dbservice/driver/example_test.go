package driver_test

import (
	"context"
	"fmt"
	"os"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// countingDriver is a stand-in provider for a test: a memory store that
// records how often it was opened.
type countingDriver struct{ opens *int }

func (countingDriver) FromEnv() (driver.Settings, error) { return nil, nil }

func (d countingDriver) Open(_ context.Context, s driver.Settings, env driver.Env) (driver.Opened, error) {
	if s != nil {
		return driver.Opened{}, driver.WrongSettings("example-fake", s)
	}
	*d.opens++
	return driver.Opened{Service: memory.New(memory.WithLimits(env.Limits))}, nil
}

var exampleOpens int

// Register once per process, from init, under a name no shipped provider
// uses.
func init() { driver.Register("example-fake", countingDriver{&exampleOpens}) }

// A test opens its fake provider through securedb.OpenFromEnv, so the code
// under test keeps its production wiring (Guard, audit, posture).
func Example() {
	os.Setenv("DATABASE_PROVIDER", "example-fake")
	defer os.Unsetenv("DATABASE_PROVIDER")

	ctx := context.Background()
	db, err := securedb.OpenFromEnv(ctx)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	_, err = db.Get(ctx, "agents", "../etc/passwd")
	fmt.Println(exampleOpens, dbservice.HTTPStatus(err))
	// Output: 1 400
}
