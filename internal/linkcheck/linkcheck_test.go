package linkcheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SDK families by import-path prefix.
var (
	awsPkgs    = []string{"github.com/aws/"}
	googlePkgs = []string{"cloud.google.com/", "google.golang.org/", "github.com/googleapis/", "go.opencensus.io/"}
	kivikPkgs  = []string{"github.com/go-kivik/"}
)

// maxMemoryBinary is the size budget of a memory-only program.
const maxMemoryBinary = 8_000_000

func goTool(t *testing.T, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check what a program links: %v", err)
	}
	cmd := exec.Command(goBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// deps lists the non-standard packages the program in dir links.
func deps(t *testing.T, dir string) []string {
	out := goTool(t, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./"+dir)
	return strings.Fields(out)
}

// TestEachProgramLinksOnlyItsSDK runs go list -deps on each one-provider
// program and fails when it links another provider's SDK.
func TestEachProgramLinksOnlyItsSDK(t *testing.T) {
	for _, c := range []struct {
		dir       string
		forbidden [][]string
	}{
		{"memory", [][]string{awsPkgs, googlePkgs, kivikPkgs}},
		{"dynamodb", [][]string{googlePkgs, kivikPkgs}},
		{"couchdb", [][]string{awsPkgs, googlePkgs}},
		{"firestore", [][]string{awsPkgs, kivikPkgs}},
	} {
		t.Run(c.dir, func(t *testing.T) {
			pkgs := deps(t, c.dir)
			for _, p := range pkgs {
				for _, family := range c.forbidden {
					for _, prefix := range family {
						if strings.HasPrefix(p, prefix) {
							t.Errorf("the %s-only program links %s", c.dir, p)
						}
					}
				}
			}
			t.Logf("%s-only program: %d non-standard packages", c.dir, len(pkgs))
		})
	}
	// The check can fail: the all program links every family.
	all := strings.Join(deps(t, "all"), "\n")
	for _, family := range [][]string{awsPkgs, googlePkgs, kivikPkgs} {
		if !strings.Contains(all, "\n"+family[0]) {
			t.Errorf("the all program does not link %s*; the prefixes above are stale", family[0])
		}
	}
}

// TestMemoryProgram builds the memory-only program, holds it to its size
// budget, runs it, and runs it with DATABASE_PROVIDER naming a provider it
// did not import: a clear ErrInvalid that names the import line to add.
func TestMemoryProgram(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "memory")
	goTool(t, "build", "-o", bin, "./memory")
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("memory-only program: %d bytes", fi.Size())
	if fi.Size() > maxMemoryBinary {
		t.Errorf("the memory-only program is %d bytes, over the %d budget", fi.Size(), maxMemoryBinary)
	}

	out, stderr, code := run(t, bin, "DATABASE_PROVIDER=")
	if code != 0 || out != "1 <nil>\n" {
		t.Fatalf("memory program: exit %d, %q %q; want it to save and read a document", code, out, stderr)
	}
	out, stderr, code = run(t, bin, "DATABASE_PROVIDER=dynamodb")
	want := `add the import _ "github.com/securedb-go/securedb/dbservice/dynamodb"`
	if code != 2 || out != "invalid: true\n" || !strings.Contains(stderr, want) {
		t.Fatalf("DATABASE_PROVIDER=dynamodb in a memory-only program: exit %d, %q, %q; want ErrInvalid containing %s", code, out, stderr, want)
	}
}

// TestSecretSchemeNotLinked: a CouchDB-only program given an awssm://
// password says which import enables the scheme, before any network call
// (the URL is a closed loopback port).
func TestSecretSchemeNotLinked(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "couchdb")
	goTool(t, "build", "-o", bin, "./couchdb")
	out, stderr, code := run(t, bin, "DATABASE_PROVIDER=couchdb", "COUCHDB_URL=http://127.0.0.1:1",
		"COUCHDB_USER=app", "COUCHDB_PASSWORD=awssm://prod/couchdb#password")
	want := `add the import _ "github.com/securedb-go/securedb/secrets/awssm"`
	if code != 2 || out != "invalid: true\n" || !strings.Contains(stderr, want) {
		t.Fatalf("awssm:// without secrets/awssm: exit %d, %q, %q; want ErrInvalid containing %s", code, out, stderr, want)
	}
}

func run(t *testing.T, bin string, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}
