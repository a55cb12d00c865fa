package dbservice_test

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/masking"
	"github.com/securedb-go/securedb/validate"
)

// recorder keeps the records a logger hands it, before any encoding, so a
// test sees the attribute values a custom handler would see.
type recorder struct{ recs *[]slog.Record }

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	*r.recs = append(*r.recs, rec.Clone())
	return nil
}
func (r recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r recorder) WithGroup(string) slog.Handler      { return r }

func TestGuardAuditOfARefusedCollectionIsABoundedEscapedExcerpt(t *testing.T) {
	// 100 KB of a hostile name: control characters, a line break that
	// would forge a second audit line, an escape sequence, invalid UTF-8.
	hostile := strings.Repeat("ev\x00il\n{\"op\":\"x\"}\x1b[2J\xff", 100<<10/20)
	ctx := context.Background()
	calls := map[string]func(dbservice.Service) error{
		"get":   func(g dbservice.Service) error { _, err := g.Get(ctx, hostile, "a1"); return err },
		"save":  func(g dbservice.Service) error { _, err := g.Save(ctx, hostile, "a1", dbservice.Doc{}); return err },
		"query": func(g dbservice.Service) error { _, err := g.Query(ctx, hostile, dbservice.Query{}); return err },
		"save-many": func(g dbservice.Service) error {
			return g.(dbservice.BulkWriter).SaveMany(ctx, hostile, nil)
		},
	}
	for op, call := range calls {
		t.Run(op+" logs at most a short escaped excerpt", func(t *testing.T) {
			var buf bytes.Buffer
			var recs []slog.Record
			g, _, _ := newGuard(t, dbservice.Policy{Audit: slog.New(slog.NewTextHandler(&buf, nil))})
			if err := call(g); err == nil {
				t.Fatal("a hostile collection name was accepted")
			}
			g, _, _ = newGuard(t, dbservice.Policy{Audit: slog.New(recorder{&recs})})
			_ = call(g)

			line := buf.String()
			if len(line) > 1024 {
				t.Fatalf("audit line is %d bytes for a %d-byte name", len(line), len(hostile))
			}
			if strings.Count(line, "\n") != 1 {
				t.Fatalf("audit output is not one line: %q", line)
			}
			if len(recs) != 1 {
				t.Fatalf("%d audit records, want 1", len(recs))
			}
			var coll string
			recs[0].Attrs(func(a slog.Attr) bool {
				if a.Key == "collection" {
					coll = a.Value.Resolve().String()
				}
				return true
			})
			if coll == "" || len(coll) > 256 {
				t.Fatalf("collection attribute is %d bytes, want a short excerpt", len(coll))
			}
			if !utf8.ValidString(coll) {
				t.Fatalf("collection attribute is not valid UTF-8: %q", coll)
			}
			for _, c := range []byte(coll) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("collection attribute holds a raw control character: %q", coll)
				}
			}
			if !strings.HasPrefix(coll, `"ev\x00il\n`) {
				t.Fatalf("collection attribute %q does not start with the escaped name", coll)
			}
		})
	}
}

func TestGuardAuditOfValidatedFieldsIsNotMaskedByShape(t *testing.T) {
	const id = "prod-0123456789abcdef0123456789abcdef01234567" // embeds a git SHA
	const principal = "svc_0123456789abcdef0123456789abcdef01234567"
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	var buf bytes.Buffer
	audit := slog.New(masking.NewHandler(slog.NewJSONHandler(&buf, nil), nil))
	g, _, _ := newGuard(t, dbservice.Policy{Audit: audit})

	ctx := dbservice.WithPrincipal(context.Background(), principal)
	if _, err := g.Save(ctx, "agents", id, dbservice.Doc{"token": "CANARY-" + id}); err != nil {
		t.Fatal(err)
	}
	// A principal that is not a plain identifier gets no such trust: a
	// token put there by mistake is masked.
	_, _ = g.Get(dbservice.WithPrincipal(context.Background(), jwt), "agents", id)
	recs := auditRecords(t, &buf)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(recs), buf.String())
	}
	if recs[0]["id"] != id || recs[0]["principal"] != principal || recs[0]["collection"] != "agents" || recs[0]["op"] != "save" || recs[0]["outcome"] != "ok" {
		t.Errorf("validated audit fields were changed: %v", recs[0])
	}
	if recs[1]["id"] != id {
		t.Errorf("id = %v, want %s", recs[1]["id"], id)
	}
	if p, _ := recs[1]["principal"].(string); strings.Contains(p, "dozjgNry") {
		t.Errorf("a token-shaped principal was trusted: %q", p)
	}
	if strings.Contains(buf.String(), "CANARY") {
		t.Fatalf("document contents reached the audit log:\n%s", buf.String())
	}
}

func TestGuardAuditTrustsOnlyIDsOfTheDefaultShape(t *testing.T) {
	// A Policy may loosen the ID rule; such IDs are audited, but masked by
	// value as any other text would be.
	loose := validate.IDRule{Pattern: regexp.MustCompile(`^[a-z0-9=_-]+$`)}
	var buf bytes.Buffer
	audit := slog.New(masking.NewHandler(slog.NewJSONHandler(&buf, nil), nil))
	g, _, _ := newGuard(t, dbservice.Policy{Audit: audit, IDs: loose})
	_, _ = g.Get(context.Background(), "agents", "password=hunter2")
	recs := auditRecords(t, &buf)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1:\n%s", len(recs), buf.String())
	}
	if id, _ := recs[0]["id"].(string); strings.Contains(id, "hunter2") || !strings.HasPrefix(id, "password=") {
		t.Fatalf("id = %q, want the value after password= masked", id)
	}
}
