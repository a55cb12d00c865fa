package couchdb

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

// TestLiteralKeys runs the contract of validate.Limits.LiteralKeys: keys
// with "$" and "." as data, addressed by escaped paths (Mango's `\.`; a name
// starting with "$" is left to the client).
func TestLiteralKeys(t *testing.T) {
	dbtest.RunLiteralKeys(t, func(t *testing.T, lim validate.Limits) dbservice.Service {
		return newServer(t, func(c *Config) { c.Limits = lim })
	})
}
