package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestOutputNeverShowsTheSecret(t *testing.T) {
	const password = "canary-example-0c4f-DO-NOT-LEAK"
	var out bytes.Buffer
	if err := run(context.Background(), &out, password); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), password) {
		t.Fatalf("output reveals the password:\n%s", out.String())
	}
	for _, want := range []string{"[REDACTED]", `unknown scheme "vault" (registered: env, file)`, "insecure: true", "secret id arn:aws:secretsmanager:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
