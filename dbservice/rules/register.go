package rules

import (
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/driver"
)

func init() {
	driver.RegisterRules(func(path string) (driver.RuleLayer, error) { return LoadFile(path) })
}

// Wrap implements driver.RuleLayer: Enforce(next, rs) with cursors bound
// by the given signer. securedb.Open calls it with the provider's cursor
// signer.
func (rs *Ruleset) Wrap(next dbservice.Service, cursors *dbservice.CursorSigner) dbservice.Service {
	return Enforce(next, rs, WithCursorSigner(cursors))
}

var _ driver.RuleLayer = (*Ruleset)(nil)
