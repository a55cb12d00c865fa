package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/internal/testenv"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "127.0.0.1:0", false); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`securedb_security_event="refused_input",securedb_security_reason="id"} 2`,
		`securedb_security_event="refused_input",securedb_security_reason="document"} 1`,
		`securedb_security_event="conflict",securedb_security_reason="write"} 1`,
		`securedb_security_event="scan_budget_reached",securedb_security_reason="page"} 1`,
		`db_operation_name="save",db_system_name="securedb.memory",`,
		`securedb_secret_age_seconds{`,
		`securedb_secret_scheme="env"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	// What the alert rules query is what the exporter emits.
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`\b(?:securedb|db_client)_[a-z_]+\b`).FindAllString(string(rules), -1)
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		if !strings.Contains(got, n) {
			t.Errorf("alerts.yml uses %s, which the exporter does not emit", n)
		}
	}
	for _, label := range []string{"error_type=", "securedb_security_event=", "securedb_secret_scheme="} {
		if !strings.Contains(got, label) {
			t.Errorf("the exporter emits no label %s that alerts.yml matches on", label)
		}
	}
	if strings.Contains(got, "example-cursor-key") {
		t.Error("the cursor key is in the metrics")
	}
}

// promtool finds Prometheus's promtool: $PROMTOOL (scripts/test.sh sets
// it after scripts/promtool.sh installed it), or the copy that script
// installed. Without it the test skips, or fails when servers are
// required (make test installs it).
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	out, err := exec.Command("bash", filepath.Join("..", "..", "scripts", "promtool.sh"), "path").Output()
	if err == nil {
		return strings.TrimSpace(string(out))
	}
	testenv.Missing(t, "promtool", "promtool is not installed; run scripts/promtool.sh (make test does) or set PROMTOOL")
	return ""
}

func TestAlertRules(t *testing.T) {
	p := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		out, err := exec.Command(p, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Each alert's firing case is really checked: with its expression
// replaced by one that never fires, the unit tests fail.
func TestAlertTestsFailWithoutTheAlert(t *testing.T) {
	p := promtool(t)
	src, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\S+)$`).FindAllStringSubmatch(string(src), -1)
	if len(alerts) != 5 {
		t.Fatalf("found %d alerts in alerts.yml, want 5", len(alerts))
	}
	for _, a := range alerts {
		name := a[1]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(neverFires(t, string(src), name)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "alerts_test.yml"), tests, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(p, "test", "rules", "alerts_test.yml")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("promtool test rules passed with %s never firing:\n%s", name, out)
			}
			if !strings.Contains(string(out), "alertname: "+name) {
				t.Errorf("the failure does not name %s:\n%s", name, out)
			}
		})
	}
}

// neverFires returns the rules with alert name's expression replaced by
// one that has no result.
func neverFires(t *testing.T, src, name string) string {
	t.Helper()
	lines := strings.Split(src, "\n")
	var out []string
	in, replaced := false, false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "- alert: "+name {
			in = true
		}
		if in && strings.HasPrefix(strings.TrimSpace(l), "expr:") {
			indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
			out = append(out, indent+"expr: vector(0) > 1")
			// Skip the block scalar's lines, indented deeper.
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], indent+"  ") {
				i++
			}
			in, replaced = false, true
			continue
		}
		out = append(out, l)
	}
	if !replaced {
		t.Fatalf("no expr for %s", name)
	}
	return strings.Join(out, "\n")
}
