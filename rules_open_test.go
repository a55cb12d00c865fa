package securedb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
)

// This test binary does not import dbservice/rules, so a rules file
// cannot be loaded: Open must say which import enables it, not ignore it.
func TestOpenWithRulesFileNeedsTheRulesPackage(t *testing.T) {
	t.Setenv(securedb.EnvRules, "firestore.rules")
	t.Setenv("DATABASE_PROVIDER", "")
	cfg, err := securedb.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RulesFile != "firestore.rules" {
		t.Fatalf("RulesFile = %q, want it from %s", cfg.RulesFile, securedb.EnvRules)
	}
	_, err = securedb.Open(t.Context(), cfg)
	if !errors.Is(err, dbservice.ErrInvalid) || !strings.Contains(err.Error(), `_ "github.com/securedb-go/securedb/dbservice/rules"`) {
		t.Errorf("Open = %v, want ErrInvalid naming the import", err)
	}
	if s := cfg.String(); !strings.Contains(s, "RulesFile: set") {
		t.Errorf("Config.String() = %q, want the rules file said to be set", s)
	}
}
