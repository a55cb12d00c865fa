package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBackupDrillRunsWithZeroSetup(t *testing.T) {
	t.Setenv(envFrom, "")
	t.Setenv(envTo, "")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 0 {
		t.Fatalf("exit status %d\n%s\n%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"== backup drill: memory -> memory",
		"stored 675 demo documents",
		"dry run: 675 documents valid",
		"import: 675 documents in 10 batches",
		"agents: 20 in a, 20 in b, identical",
		"demos: 205 in a, 205 in b, identical",
		"verify: ok",
		"tampered backup refused: securedb: backup import: line 2: invalid id",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "etc/passwd") || strings.Contains(got, "sleep(") {
		t.Error("the refusal repeats the tampered line")
	}
	// The temporary backup is gone.
	for line := range strings.SplitSeq(got, "\n") {
		if _, path, ok := strings.Cut(line, " -> "); ok && strings.HasPrefix(line, "export:") {
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("temporary backup %s was left behind", path)
			}
		}
	}
}

func TestBackupDrillKeepsAPrivateFileWhenAsked(t *testing.T) {
	t.Setenv(envFrom, "")
	t.Setenv(envTo, "")
	path := filepath.Join(t.TempDir(), "agents.jsonl")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-file", path, "-collections", "agents,users"}, &out, &errOut); code != 0 {
		t.Fatalf("exit status %d\n%s\n%s", code, out.String(), errOut.String())
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup file mode %o, want 600: it holds every document", perm)
	}
	f, _ := os.Open(path)
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines++
	}
	if lines != 20+57 {
		t.Errorf("backup has %d lines, want 77", lines)
	}

	t.Run("it never overwrites an existing backup", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"-file", path}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "exists") {
			t.Errorf("exit status %d, stderr %q; want 2 and a refusal", code, errOut.String())
		}
	})
}

func TestBackupDrillRefusesBadSetups(t *testing.T) {
	cases := []struct {
		name, from, to string
		args           []string
		stderr         string
	}{
		{"the same real provider on both sides", "dynamodb", "DynamoDB", nil, "both name dynamodb"},
		{"an unknown provider", "oracle", "", nil, "unknown provider"},
		{"an invalid collection name", "", "", []string{"-collections", "agents,../x"}, "invalid collection"},
		{"an unknown flag", "", "", []string{"-force"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run("it refuses "+tc.name, func(t *testing.T) {
			t.Setenv(envFrom, tc.from)
			t.Setenv(envTo, tc.to)
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("exit status %d, stderr %q; want 2 and %q", code, errOut.String(), tc.stderr)
			}
		})
	}
}
