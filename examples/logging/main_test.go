package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunShowsLeaksOnlyWithoutTheHandler(t *testing.T) {
	var buf bytes.Buffer
	run(&buf)
	before, after, ok := strings.Cut(buf.String(), "with masking.NewHandler:")
	if !ok {
		t.Fatalf("output lacks the masked section:\n%s", buf.String())
	}
	secrets := []string{"Xk9-pG2v", "sk-live-4f9a1c77e2d34b0b", "hunter2"}
	for _, s := range secrets {
		if !strings.Contains(before, s) {
			t.Errorf("the unmasked section does not show %q, so the demo shows no leak", s)
		}
		if strings.Contains(after, s) {
			t.Errorf("the masked section leaks %q:\n%s", s, after)
		}
	}
	for _, kept := range []string{"postgres://orders:[REDACTED]@db.internal:5432/orders",
		"Authorization: Bearer [REDACTED]", `\"password\":\"[REDACTED]\"`} {
		if !strings.Contains(after, kept) {
			t.Errorf("the masked section lacks %q:\n%s", kept, after)
		}
	}
}
