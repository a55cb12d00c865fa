package dbservice_test

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

// layer is middleware that reports findings of its own.
type layer struct {
	dbservice.Service
	findings []dbservice.Finding
}

func (l *layer) Unwrap() dbservice.Service                        { return l.Service }
func (l *layer) CheckPosture(context.Context) []dbservice.Finding { return l.findings }

// inspecting is a provider that can inspect its deployment.
type inspecting struct {
	*memory.Service
	findings []dbservice.Finding
}

func (p *inspecting) CheckPosture(context.Context) []dbservice.Finding { return p.findings }

// selfWrapper unwraps to itself, as a buggy middleware might.
type selfWrapper struct{ dbservice.Service }

func (s *selfWrapper) Unwrap() dbservice.Service { return s }

func auditLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: level}))
}

func byID(t *testing.T, fs []dbservice.Finding) map[string]dbservice.Finding {
	t.Helper()
	m := map[string]dbservice.Finding{}
	for _, f := range fs {
		if _, dup := m[f.ID]; dup {
			t.Errorf("finding %q reported twice after merging", f.ID)
		}
		m[f.ID] = f
	}
	return m
}

func TestCheckPostureCoversTheWholeChecklistInOrder(t *testing.T) {
	svc := dbservice.Guard(memory.New(), dbservice.Policy{Audit: auditLogger(slog.LevelInfo)})
	got := dbservice.CheckPosture(context.Background(), svc)
	var ids []string
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	var want []string
	for _, item := range dbservice.Checklist() {
		want = append(want, item.ID)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("finding IDs = %v\nwant the checklist order %v", ids, want)
	}
	for _, f := range got {
		if f.Title == "" {
			t.Errorf("%s has no title", f.ID)
		}
	}
}

func TestCheckPostureOnAGuardedMemoryProvider(t *testing.T) {
	svc := dbservice.Guard(memory.New(), dbservice.Policy{
		Collections: validate.Allowlist{"agents", "users"},
		ReadOnly:    []string{"users"},
		Audit:       auditLogger(slog.LevelInfo),
		AuditTrail:  audit.New(&bytes.Buffer{}, audit.Options{Signer: testSigner(t), CheckpointInterval: -1}),
	})
	got := byID(t, dbservice.CheckPosture(context.Background(), svc))

	iv := got[dbservice.ItemInputValidation]
	if iv.Status != dbservice.Pass {
		t.Errorf("input-validation = %s, want pass", iv.Status)
	}
	for _, want := range []string{"allowlist of 2 (agents, users)", "default rule " + validate.DefaultIDPattern, "read-only: users"} {
		if !strings.Contains(iv.Detail, want) {
			t.Errorf("input-validation detail %q lacks %q", iv.Detail, want)
		}
	}
	if a := got[dbservice.ItemAuditLogging]; a.Status != dbservice.Pass {
		t.Errorf("audit-logging = %s (%s), want pass", a.Status, a.Detail)
	}
	for _, id := range []string{
		dbservice.ItemAuthEnabled, dbservice.ItemTLS, dbservice.ItemNetworkRestricted,
		dbservice.ItemMonitoring, dbservice.ItemIncidentResponse,
	} {
		f := got[id]
		if f.Status != dbservice.Skip || f.Fix == "" {
			t.Errorf("%s = %s with fix %q; an item nobody checked must be skip with a way to check it", id, f.Status, f.Fix)
		}
	}
	if r := got[dbservice.ItemSecurityRules]; r.Status != dbservice.Warn || !strings.Contains(r.Fix, "dbservice/rules") {
		t.Errorf("security-rules = %s with fix %q; without a rules layer every caller reads every document: want warn naming the rules package", r.Status, r.Fix)
	}
	if b := got[dbservice.ItemBackups]; b.Status != dbservice.Warn || b.Fix == "" {
		t.Errorf("backups = %s with fix %q; the memory provider loses its data on exit: want warn with a fix", b.Status, b.Fix)
	}
}

func TestCheckPostureWithoutGuardFailsInputValidation(t *testing.T) {
	got := byID(t, dbservice.CheckPosture(context.Background(), memory.New()))
	iv := got[dbservice.ItemInputValidation]
	if iv.Status != dbservice.Fail || !strings.Contains(iv.Fix, "dbservice.Guard") {
		t.Errorf("input-validation = %s with fix %q, want fail telling to wrap with dbservice.Guard", iv.Status, iv.Fix)
	}
	if a := got[dbservice.ItemAuditLogging]; a.Status != dbservice.Warn {
		t.Errorf("audit-logging = %s, want warn: nothing in the chain audits", a.Status)
	}
}

func TestGuardAuditFinding(t *testing.T) {
	signer := testSigner(t)
	trail := func(o audit.Options) dbservice.AuditTrail { return audit.New(&bytes.Buffer{}, o) }
	cases := []struct {
		name   string
		audit  *slog.Logger
		trail  dbservice.AuditTrail
		want   dbservice.Status
		detail []string
	}{
		{"a signed trail passes", nil, trail(audit.Options{Signer: signer, CheckpointEvery: 500, CheckpointInterval: time.Minute}), dbservice.Pass,
			[]string{"hash-chained (SHA-256)", `signed with Ed25519 by key posture.test every 500 records, every 1m0s, on close`, "fail-closed"}},
		{"a fail-open signed trail passes and says so", nil, trail(audit.Options{Signer: signer, FailOpen: true, CheckpointEvery: -1, CheckpointInterval: -1}), dbservice.Pass,
			[]string{"hash-chained", "by key posture.test on close", "fail-open"}},
		{"a signed trail passes beside a logger that discards everything", slog.New(slog.DiscardHandler), trail(audit.Options{Signer: signer}), dbservice.Pass, []string{"signed with Ed25519"}},
		{"an unsigned trail warns", auditLogger(slog.LevelInfo), trail(audit.Options{}), dbservice.Warn, []string{"hash-chained", "not signed"}},
		{"an Info logger alone warns: a log shows no tampering", auditLogger(slog.LevelInfo), nil, dbservice.Warn, []string{"no audit trail"}},
		{"a logger that drops Info records warns", auditLogger(slog.LevelWarn), nil, dbservice.Warn, []string{"drops Info"}},
		{"a logger that discards everything fails", slog.New(slog.DiscardHandler), nil, dbservice.Fail, []string{"discards every record"}},
		{"no logger fails", nil, nil, dbservice.Fail, []string{"no audit trail"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := dbservice.Guard(memory.New(), dbservice.Policy{Audit: tc.audit, AuditTrail: tc.trail})
			f := byID(t, dbservice.CheckPosture(context.Background(), svc))[dbservice.ItemAuditLogging]
			if f.Status != tc.want {
				t.Errorf("audit-logging = %s (%s), want %s", f.Status, f.Detail, tc.want)
			}
			for _, d := range tc.detail {
				if !strings.Contains(f.Detail, d) {
					t.Errorf("detail %q lacks %q", f.Detail, d)
				}
			}
			if tc.want != dbservice.Pass && f.Fix == "" {
				t.Error("a failing or warning audit-logging finding has no fix")
			}
		})
	}
}

func TestIncidentResponseIsSkippedWithTheRunbookAsItsFix(t *testing.T) {
	got := byID(t, dbservice.CheckPosture(context.Background(), dbservice.Guard(memory.New(), dbservice.Policy{})))
	f := got[dbservice.ItemIncidentResponse]
	if f.Status != dbservice.Skip || !strings.Contains(f.Fix, "docs/incident-response.md") {
		t.Fatalf("incident-response = %s with fix %q, want skip pointing to docs/incident-response.md", f.Status, f.Fix)
	}
}

// testSigner returns a checkpoint signer named posture.test.
func testSigner(t *testing.T) note.Signer {
	t.Helper()
	skey, _, err := note.GenerateKey(nil, "posture.test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGuardValidationFindingFlagsWeakPolicies(t *testing.T) {
	cases := []struct {
		name   string
		policy dbservice.Policy
		want   dbservice.Status
		detail string
	}{
		{"the default policy passes", dbservice.Policy{}, dbservice.Pass, "no allowlist"},
		{"an anchored custom pattern passes", dbservice.Policy{IDs: validate.IDRule{Pattern: regexp.MustCompile(`^[a-z]{1,8}$`)}}, dbservice.Pass, "custom pattern"},
		{"a \\A..\\z pattern passes", dbservice.Policy{IDs: validate.IDRule{Pattern: regexp.MustCompile(`\A[a-z]+\z`)}}, dbservice.Pass, "custom pattern"},
		{"a grouped anchored pattern passes", dbservice.Policy{IDs: validate.IDRule{Pattern: regexp.MustCompile(`(^[a-z]+$)`)}}, dbservice.Pass, "custom pattern"},
		{"an unanchored pattern warns", dbservice.Policy{IDs: validate.IDRule{Pattern: regexp.MustCompile(`[a-z]+`)}}, dbservice.Warn, "not anchored"},
		{"an alternation anchored at its ends only warns", dbservice.Policy{IDs: validate.IDRule{Pattern: regexp.MustCompile(`^a|b$`)}}, dbservice.Warn, "not anchored"},
		{"a disabled document bound warns", dbservice.Policy{Limits: validate.Limits{MaxDocBytes: -1}}, dbservice.Warn, "MaxDocBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.policy.Audit = auditLogger(slog.LevelInfo)
			f := byID(t, dbservice.CheckPosture(context.Background(), dbservice.Guard(memory.New(), tc.policy)))[dbservice.ItemInputValidation]
			if f.Status != tc.want || !strings.Contains(f.Detail, tc.detail) {
				t.Errorf("input-validation = %s %q, want %s mentioning %q", f.Status, f.Detail, tc.want, tc.detail)
			}
			if tc.want == dbservice.Warn && f.Fix == "" {
				t.Error("a warning has no fix")
			}
		})
	}
}

func TestCheckPostureMergesLayers(t *testing.T) {
	tls := func(s dbservice.Status, detail, fix string) dbservice.Finding {
		return dbservice.Finding{ID: dbservice.ItemTLS, Title: "layer title", Status: s, Detail: detail, Fix: fix}
	}
	cases := []struct {
		name       string
		provider   []dbservice.Finding
		above      []dbservice.Finding
		wantStatus dbservice.Status
		wantDetail string
		wantFix    string
	}{
		// Details and fixes are in walk order: the outer layer first.
		{"fail beats pass and keeps both details",
			[]dbservice.Finding{tls(dbservice.Pass, "endpoint is https", "")},
			[]dbservice.Finding{tls(dbservice.Fail, "certificate checks off", "turn verification on")},
			dbservice.Fail, "certificate checks off; endpoint is https", "turn verification on"},
		{"warn beats pass",
			[]dbservice.Finding{tls(dbservice.Warn, "loopback http", "use https")},
			[]dbservice.Finding{tls(dbservice.Pass, "proxy terminates tls", "")},
			dbservice.Warn, "proxy terminates tls; loopback http", "use https"},
		{"pass beats skip and drops the skip's how-to-check",
			[]dbservice.Finding{tls(dbservice.Skip, "cannot see", "check by hand")},
			[]dbservice.Finding{tls(dbservice.Pass, "https", "")},
			dbservice.Pass, "https; cannot see", ""},
		{"fail keeps only the fixes of failures",
			[]dbservice.Finding{tls(dbservice.Warn, "a", "milder fix"), tls(dbservice.Fail, "b", "fix one")},
			[]dbservice.Finding{tls(dbservice.Fail, "c", "fix two"), tls(dbservice.Fail, "c", "fix two")},
			dbservice.Fail, "c; a; b", "fix two; fix one"},
		{"an unknown status counts as fail",
			[]dbservice.Finding{tls("broken", "x", "")},
			nil,
			dbservice.Fail, `x (reported with unknown status "broken")`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prov := &inspecting{Service: memory.New(), findings: tc.provider}
			svc := &layer{Service: dbservice.Guard(prov, dbservice.Policy{Audit: auditLogger(slog.LevelInfo)}), findings: tc.above}
			f := byID(t, dbservice.CheckPosture(context.Background(), svc))[dbservice.ItemTLS]
			if f.Status != tc.wantStatus || f.Detail != tc.wantDetail || f.Fix != tc.wantFix {
				t.Errorf("merged = {%s %q fix %q}\nwant     {%s %q fix %q}", f.Status, f.Detail, f.Fix, tc.wantStatus, tc.wantDetail, tc.wantFix)
			}
			if f.Title != "Connections to the database use TLS" {
				t.Errorf("title = %q, want the checklist's wording", f.Title)
			}
		})
	}
}

func TestCheckPostureKeepsIDsOutsideTheChecklistAfterIt(t *testing.T) {
	extra := dbservice.Finding{ID: "log-masking", Title: "Logs mask credentials", Status: dbservice.Warn, Detail: "plain handler", Fix: "use masking.NewHandler"}
	svc := &layer{Service: dbservice.Guard(memory.New(), dbservice.Policy{}), findings: []dbservice.Finding{extra}}
	got := dbservice.CheckPosture(context.Background(), svc)
	last := got[len(got)-1]
	if last != extra {
		t.Errorf("last finding = %+v, want the layer's own %+v", last, extra)
	}
	if len(got) != len(dbservice.Checklist())+1 {
		t.Errorf("%d findings, want the checklist plus one", len(got))
	}
}

func TestCheckPostureStopsOnAWrapperThatUnwrapsToItself(t *testing.T) {
	got := byID(t, dbservice.CheckPosture(context.Background(), &selfWrapper{Service: memory.New()}))
	if got[dbservice.ItemInputValidation].Status != dbservice.Fail {
		t.Error("a chain without Guard must fail input-validation")
	}
}

func TestChecklistIsACopy(t *testing.T) {
	c := dbservice.Checklist()
	c[0].Title = "changed"
	if dbservice.Checklist()[0].Title == "changed" {
		t.Error("Checklist returned the package's own slice")
	}
	if len(c) != 13 {
		t.Errorf("checklist has %d items, want 13: the guide's 15 less the two that share an ID or are a process", len(c))
	}
}
