package driver

import (
	"sync"

	"github.com/securedb-go/securedb/dbservice"
)

// RuleLayer is a set of security rules that securedb.Open places between
// Guard and the provider: a *rules.Ruleset of package dbservice/rules.
type RuleLayer interface {
	// Wrap returns next with the rules enforced on every call; cursors
	// binds page cursors to their principal (nil means
	// dbservice.ProcessCursorSigner).
	Wrap(next dbservice.Service, cursors *dbservice.CursorSigner) dbservice.Service
}

// RulesLoader loads a rules file by path.
type RulesLoader func(path string) (RuleLayer, error)

var (
	rulesMu     sync.RWMutex
	rulesLoader RulesLoader
)

// RegisterRules makes securedb.Open able to load a rules file
// (Config.RulesFile, SECUREDB_RULES). Package dbservice/rules calls it
// when imported, so that a program without rules does not link the rules
// engine.
func RegisterRules(l RulesLoader) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	rulesLoader = l
}

// LoadRules loads the rules file at path with the registered loader; ok is
// false when no package registered one.
func LoadRules(path string) (layer RuleLayer, ok bool, err error) {
	rulesMu.RLock()
	l := rulesLoader
	rulesMu.RUnlock()
	if l == nil {
		return nil, false, nil
	}
	layer, err = l(path)
	return layer, true, err
}
