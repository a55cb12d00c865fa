package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestQuickstartRunsWithZeroSetup(t *testing.T) {
	t.Setenv("DATABASE_PROVIDER", "")
	prev := slog.Default()
	defer slog.SetDefault(prev)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"provider: memory",
		"gofannon: name=Gofannon",
		"active: gofannon", "active: scribe",
		"second write with the same revision: securedb: memory save agents/gofannon: conflict",
		"(HTTP 409)",
		"path traversal ID: securedb: guard get agents/",
		"(HTTP 400)",
		"operator injection in a document: securedb: guard save agents/evil: invalid doc.$where",
		"operator injection in a query: securedb: guard query agents: invalid query.op",
		"msg=securedb.audit op=get collection=agents id=(refused) principal=quickstart outcome=denied error_kind=invalid",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(got, "active: archivist") {
		t.Error("the inactive agent matched the active query")
	}
	if n := strings.Count(got, "msg=securedb.audit"); n != 10 {
		t.Errorf("%d audit records, want one per operation (10)", n)
	}
	if t.Failed() {
		t.Log(got)
	}
}
