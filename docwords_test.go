package securedb_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// insider matches words from the library's history that mean nothing to a
// reader: documentation names the rule itself, or the security guide.
var insider = regexp.MustCompile(`(?i)seed`)

// TestDocsSpeakTheLibrarysLanguage runs go doc -all on every package of
// the module and reads the README and docs/, and fails on a word a
// newcomer could not look up.
func TestDocsSpeakTheLibrarysLanguage(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the godoc: %v", err)
	}
	// Packages with source files only: a test-only package (the CouchDB
	// cluster suite) has no godoc to read.
	list, err := exec.Command(goBin, "list", "-f", "{{if .GoFiles}}{{.ImportPath}}{{end}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", err)
	}
	pkgs := strings.Fields(string(list))
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, pkg := range pkgs {
		out, err := exec.Command(goBin, "doc", "-all", pkg).CombinedOutput()
		if err != nil {
			t.Errorf("go doc -all %s: %v\n%s", pkg, err, out)
			continue
		}
		checkWords(t, "go doc -all "+pkg, string(out))
	}
	files, _ := filepath.Glob("docs/*.md")
	for _, f := range append(files, "README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkWords(t, f, string(b))
	}
}

func checkWords(t *testing.T, where, text string) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if insider.MatchString(line) {
			t.Errorf("%s:%d says %q: %s", where, i+1, insider.FindString(line), strings.TrimSpace(line))
		}
	}
}
