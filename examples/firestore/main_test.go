package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/internal/testenv"
)

func TestWithNothingConfiguredItExplainsAndSucceeds(t *testing.T) {
	for _, v := range []string{"FIRESTORE_EMULATOR_HOST", "FIRESTORE_PROJECT_ID", "GOOGLE_APPLICATION_CREDENTIALS"} {
		t.Setenv(v, "")
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "nothing configured") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("output = %q, want a one-line explanation", out.String())
	}
}

func TestAgainstTheEmulatorItShowsEveryStep(t *testing.T) {
	testenv.Need(t, "firestore", "FIRESTORE_EMULATOR_HOST", "FIRESTORE_PROJECT_ID")
	t.Setenv("FIRESTORE_COLLECTION_PREFIX", "example_test_")
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"IfAbsent on an existing document: conflict=true",
		"IfRev with a stale revision: conflict=true",
		"a1: name=gofannon runs=2 owner.id=u1 grid=[[1 2] [3 4]]",
		"even documents with n >= 20: 5 [bulk-20 bulk-22 bulk-24 bulk-26 bulk-28]",
		"an ID with '/' (path injection): invalid=true",
		"a reserved field name: invalid=true",
		"a query on an operator field: invalid=true",
		"auth-enabled         warn",
		"security-rules       skip",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
