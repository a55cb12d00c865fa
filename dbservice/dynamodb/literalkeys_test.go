package dynamodb

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/validate"
)

// TestLiteralKeys runs the keys-as-data contract on the real server: a JSON
// Schema document and a map keyed by file names round-trip and are
// addressed by escaped paths with validate.Limits.LiteralKeys, and are
// refused without it.
func TestLiteralKeys(t *testing.T) {
	dbtest.RunLiteralKeys(t, func(t *testing.T, lim validate.Limits) dbservice.Service {
		return newServer(t, nil, func(c *Config) { c.Limits = lim })
	})
}
