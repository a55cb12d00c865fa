package dbservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

func sampleReport() dbservice.Report {
	return dbservice.Report{Provider: "couchdb", Findings: []dbservice.Finding{
		{ID: "auth-enabled", Title: "The database requires authentication", Status: dbservice.Pass, Detail: "require_valid_user is on"},
		{ID: "tls", Title: "Connections use TLS", Status: dbservice.Fail, Detail: "plain http to db.internal\nINJECTED ROW", Fix: "use https://"},
		{ID: "backups", Title: "Backups", Status: dbservice.Warn, Detail: "no replication target", Fix: "replicate nightly"},
		{ID: "monitoring", Title: "Monitoring", Status: dbservice.Skip, Detail: "not visible", Fix: "check alerts by hand"},
	}}
}

func TestReportWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")

	t.Run("every row starts its columns at the same offsets", func(t *testing.T) {
		var header string
		var rows []string
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "STATUS"):
				header = l
			case strings.HasPrefix(l, "PASS"), strings.HasPrefix(l, "FAIL"), strings.HasPrefix(l, "WARN"), strings.HasPrefix(l, "SKIP"):
				rows = append(rows, l)
			}
		}
		if header == "" || len(rows) != 4 {
			t.Fatalf("want a header and 4 rows, got:\n%s", out)
		}
		idCol, titleCol, detailCol := strings.Index(header, "ID"), strings.Index(header, "TITLE"), strings.Index(header, "DETAIL")
		for i, r := range rows {
			f := sampleReport().Findings[i]
			if strings.Index(r, f.ID) != idCol || strings.Index(r, f.Title) != titleCol || strings.Index(r, strings.Fields(f.Detail)[0]) != detailCol {
				t.Errorf("row %q is not aligned with header %q", r, header)
			}
		}
	})
	t.Run("fixes appear under failing and warning rows, checks under skipped ones", func(t *testing.T) {
		for _, want := range []string{"fix:   use https://", "fix:   replicate nightly", "check: check alerts by hand"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		for i, l := range lines {
			if strings.HasPrefix(l, "PASS") && i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "fix:") {
				t.Errorf("a passing row has a fix line: %q", lines[i+1])
			}
		}
	})
	t.Run("a newline in a detail cannot start a row of its own", func(t *testing.T) {
		for _, l := range lines {
			if strings.HasPrefix(l, "INJECTED") {
				t.Errorf("detail text broke out of its row: %q", l)
			}
		}
	})
	t.Run("the summary counts every status", func(t *testing.T) {
		if want := "1 pass, 1 warn, 1 fail, 1 skip; worst: fail"; lines[len(lines)-1] != want {
			t.Errorf("summary = %q, want %q", lines[len(lines)-1], want)
		}
	})
}

func TestReportJSONHasStableFieldNames(t *testing.T) {
	b, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, []string{"counts", "findings", "provider", "worst"}) {
		t.Errorf("top-level fields = %v", got)
	}
	var findings []map[string]any
	if err := json.Unmarshal(top["findings"], &findings); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(findings[1])); !slices.Equal(got, []string{"detail", "fix", "id", "status", "title"}) {
		t.Errorf("finding fields = %v", got)
	}
	if string(top["worst"]) != `"fail"` || string(top["counts"]) != `{"fail":1,"pass":1,"skip":1,"warn":1}` {
		t.Errorf("worst = %s, counts = %s", top["worst"], top["counts"])
	}

	var round struct {
		Findings []dbservice.Finding `json:"findings"`
	}
	if err := json.Unmarshal(b, &round); err != nil || !slices.Equal(round.Findings, sampleReport().Findings) {
		t.Errorf("findings do not survive a JSON round trip: %v", err)
	}
}

func TestReportJSONOfAnEmptyReportHasAnEmptyList(t *testing.T) {
	b, _ := json.Marshal(dbservice.Report{})
	if !strings.Contains(string(b), `"findings":[]`) {
		t.Errorf("empty report = %s, want findings as [] (not null) for consumers that iterate", b)
	}
}

func TestReportWorstAndHasFail(t *testing.T) {
	f := func(ss ...dbservice.Status) dbservice.Report {
		var r dbservice.Report
		for i, s := range ss {
			r.Findings = append(r.Findings, dbservice.Finding{ID: fmt.Sprint(i), Status: s})
		}
		return r
	}
	cases := []struct {
		name    string
		r       dbservice.Report
		worst   dbservice.Status
		hasFail bool
	}{
		{"an empty report is skip", f(), dbservice.Skip, false},
		{"skips only are skip", f(dbservice.Skip, dbservice.Skip), dbservice.Skip, false},
		{"a pass outranks skips", f(dbservice.Skip, dbservice.Pass), dbservice.Pass, false},
		{"a warn outranks passes", f(dbservice.Pass, dbservice.Warn, dbservice.Skip), dbservice.Warn, false},
		{"a fail outranks everything", f(dbservice.Warn, dbservice.Fail, dbservice.Pass), dbservice.Fail, true},
		{"an unknown status counts as fail", f(dbservice.Pass, "bogus"), dbservice.Fail, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Worst(); got != tc.worst {
				t.Errorf("Worst() = %s, want %s", got, tc.worst)
			}
			if got := tc.r.HasFail(); got != tc.hasFail {
				t.Errorf("HasFail() = %v, want %v", got, tc.hasFail)
			}
		})
	}
}

func ExampleCheckPosture() {
	db := dbservice.Guard(memory.New(), dbservice.Policy{
		Collections: validate.Allowlist{"agents"},
		Audit:       slog.Default(),
	})
	for _, f := range dbservice.CheckPosture(context.Background(), db) {
		fmt.Println(f.Status, f.ID)
	}
	// Output:
	// skip auth-enabled
	// skip tls
	// skip least-privilege
	// skip secrets-manager
	// pass input-validation
	// warn audit-logging
	// skip network-restricted
	// warn backups
	// skip encryption-at-rest
	// skip encryption-in-transit
	// warn security-rules
	// skip monitoring
	// skip incident-response
}

func ExampleReport_WriteText() {
	r := dbservice.Report{Provider: "couchdb", Findings: []dbservice.Finding{
		{ID: "auth-enabled", Title: "Authentication required", Status: dbservice.Pass, Detail: "require_valid_user is on"},
		{ID: "tls", Title: "Connections use TLS", Status: dbservice.Fail, Detail: "plain http to db.internal", Fix: "use an https:// URL"},
	}}
	_ = r.WriteText(os.Stdout)
	if r.HasFail() {
		fmt.Println("exit status 1")
	}
	// Output:
	// security checklist (provider: couchdb)
	//
	// STATUS  ID            TITLE                    DETAIL
	// PASS    auth-enabled  Authentication required  require_valid_user is on
	// FAIL    tls           Connections use TLS      plain http to db.internal
	//         fix:   use an https:// URL
	//
	// 1 pass, 0 warn, 1 fail, 0 skip; worst: fail
	// exit status 1
}
