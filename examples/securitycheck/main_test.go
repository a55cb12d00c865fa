package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
)

// quietAudit keeps the check's audit records out of the test output. The
// handler is enabled: a discarding one would (rightly) fail audit-logging.
func quietAudit(t *testing.T) {
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
}

func TestSecuritycheckExitStatus(t *testing.T) {
	skey, _, err := note.GenerateKey(rand.Reader, "securitycheck.test")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		cfg      securedb.Config
		want     int
		contains []string
	}{
		{
			name: "the zero-setup memory provider has no failing item",
			cfg:  securedb.Config{},
			want: exitOK,
			contains: []string{
				"security checklist (provider: memory)",
				"PASS    input-validation",
				"WARN    audit-logging",
				"fix:   set Policy.AuditTrail",
				"SKIP    network-restricted",
				"check: firewall rules",
				"SKIP    incident-response",
				"check: fill in the runbook template docs/incident-response.md",
			},
		},
		{
			name: "a signed audit trail passes audit-logging",
			cfg:  securedb.Config{AuditFile: filepath.Join(t.TempDir(), "trail.jsonl"), AuditSigningKey: skey},
			want: exitOK,
			contains: []string{
				"PASS    audit-logging",
				"hash-chained (SHA-256)",
				"signed with Ed25519 by key securitycheck.test",
			},
		},
		{
			name:     "disabled audit records fail the gate",
			cfg:      securedb.Config{DisableAudit: true},
			want:     exitFail,
			contains: []string{"FAIL    audit-logging", "fix:   set Policy.Audit", "worst: fail"},
		},
		{
			name:     "an unknown provider cannot be checked",
			cfg:      securedb.Config{Provider: "oracle"},
			want:     exitCannot,
			contains: []string{"unknown provider"},
		},
		{
			name:     "an unknown flag is a usage error",
			args:     []string{"-yaml"},
			want:     exitCannot,
			contains: []string{"flag provided but not defined"},
		},
		{
			name:     "a stray argument is a usage error",
			args:     []string{"memory"},
			want:     exitCannot,
			contains: []string{"unexpected arguments"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			quietAudit(t)
			var out bytes.Buffer
			got := run(context.Background(), tc.args, tc.cfg, &out, &out)
			if got != tc.want {
				t.Errorf("exit status %d, want %d\n%s", got, tc.want, out.String())
			}
			for _, want := range tc.contains {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestSecuritycheckJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   securedb.Config
		exit  int
		worst dbservice.Status
	}{
		{"the default configuration reports no failure", securedb.Config{}, exitOK, dbservice.Warn},
		{"disabled audit records report a failure", securedb.Config{DisableAudit: true}, exitFail, dbservice.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			quietAudit(t)
			var out, errOut bytes.Buffer
			if got := run(context.Background(), []string{"-json"}, tc.cfg, &out, &errOut); got != tc.exit {
				t.Fatalf("exit status %d, want %d: %s", got, tc.exit, errOut.String())
			}
			var rep struct {
				Provider string              `json:"provider"`
				Worst    dbservice.Status    `json:"worst"`
				Findings []dbservice.Finding `json:"findings"`
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
			}
			if rep.Provider != "memory" || rep.Worst != tc.worst || len(rep.Findings) < len(dbservice.Checklist()) {
				t.Errorf("report = provider %q, worst %s, %d findings", rep.Provider, rep.Worst, len(rep.Findings))
			}
		})
	}
}
