package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/internal/testenv"
)

func TestWithNothingConfiguredItExplainsAndSucceeds(t *testing.T) {
	t.Setenv("COUCHDB_URL", "")
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "nothing configured") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("output = %q, want a one-line explanation", out.String())
	}
}

func TestAgainstTheTestServerItShowsEveryStepAndNoSecret(t *testing.T) {
	password := testenv.Need(t, "couchdb", "COUCHDB_URL", "COUCHDB_USER", "COUCHDB_PASSWORD")[2]
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), password) {
		t.Fatal("output shows the password")
	}
	for _, want := range []string{
		"Password: [REDACTED]",
		"IfAbsent on an existing document: conflict=true",
		"IfRev with a stale revision: conflict=true",
		"IfRev with a revision CouchDB never issued: conflict=true",
		"a1: name=gofannon runs=2 owner.id=u1",
		"even documents with n >= 20: 5",
		"tag < \"alice\" by UTF-8 bytes (CouchDB's ICU order would say 0): 15",
		"invalid=true",
		"least-privilege",
		"auth-enabled       pass",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
