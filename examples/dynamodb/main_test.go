package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/internal/testenv"
)

func TestWithNothingConfiguredItExplainsAndSucceeds(t *testing.T) {
	t.Setenv("DYNAMODB_ENDPOINT_URL", "")
	t.Setenv("DYNAMODB_REGION", "")
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "nothing configured") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("output = %q, want a one-line explanation", out.String())
	}
}

func TestAgainstTheTestServerItShowsEveryStepAndNoSecret(t *testing.T) {
	secret := testenv.Need(t, "dynamodb", "DYNAMODB_ENDPOINT_URL", "AWS_SECRET_ACCESS_KEY")[1]
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), secret) {
		t.Fatal("output shows the secret access key")
	}
	for _, want := range []string{
		"IfAbsent on an existing document: conflict=true",
		"IfRev with a stale revision: conflict=true",
		"a1: name=gofannon runs=2 owner.id=u1",
		"even documents with n >= 20: 5",
		"invalid=true",
		"encryption-at-rest",
		`"dynamodb:PutItem"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
