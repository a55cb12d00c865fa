package securedb_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/masking"
)

// TestLogMaskingChecksTheAuditLogger checks that "log-masking" judges the
// logger the audit trail really goes to (Policy.Audit), and the default
// slog logger, and says which in Detail: a masked default does not make
// an unmasked audit logger a pass.
func TestLogMaskingChecksTheAuditLogger(t *testing.T) {
	plain := func() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
	masked := func() *slog.Logger { return slog.New(masking.NewHandler(slog.NewJSONHandler(io.Discard, nil), nil)) }
	cases := []struct {
		name         string
		audit        *slog.Logger // nil: the default
		disableAudit bool
		def          *slog.Logger
		want         dbservice.Status
		detail       string // must appear in Detail
	}{
		{"an unmasked audit logger, a masked default", plain(), false, masked(), dbservice.Warn, "the audit logger (Policy.Audit) does not mask"},
		{"a masked audit logger, an unmasked default", masked(), false, plain(), dbservice.Warn, "the default slog logger does not mask"},
		{"both masked", masked(), false, masked(), dbservice.Pass, "the audit logger (Policy.Audit) and the default slog logger mask"},
		{"a masked audit logger behind a wrapper that exposes it", slog.New(wrapper{masked().Handler()}), false, masked(), dbservice.Pass, "the audit logger (Policy.Audit)"},
		{"the default as the audit logger, masked", nil, false, masked(), dbservice.Pass, "the audit logger (Policy.Audit, the default slog logger) mask"},
		{"the default as the audit logger, unmasked", nil, false, plain(), dbservice.Warn, "the audit logger (Policy.Audit, the default slog logger) does not mask"},
		{"auditing off, the default masked", nil, true, masked(), dbservice.Pass, "auditing is off"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prev := slog.Default()
			slog.SetDefault(c.def)
			defer slog.SetDefault(prev)
			db, err := securedb.Open(t.Context(), securedb.Config{Policy: dbservice.Policy{Audit: c.audit}, DisableAudit: c.disableAudit})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var f *dbservice.Finding
			for _, x := range db.(dbservice.PostureChecker).CheckPosture(context.Background()) {
				if x.ID == "log-masking" {
					f = &x
				}
			}
			if f == nil {
				t.Fatal("no log-masking finding")
			}
			t.Logf("%s: %s", f.Status, f.Detail)
			if f.Status != c.want || !strings.Contains(f.Detail, c.detail) {
				t.Fatalf("log-masking = %s (%s), want %s mentioning %q", f.Status, f.Detail, c.want, c.detail)
			}
		})
	}
}

// wrapper is a handler that forwards to another and exposes it, as
// middleware handlers may.
type wrapper struct{ slog.Handler }

func (w wrapper) Unwrap() slog.Handler { return w.Handler }
