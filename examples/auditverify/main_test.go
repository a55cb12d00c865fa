package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTheDemonstrationDetectsEveryTampering(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(nil, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{
		"verify as written: 8 records, 3 checkpoints in 2 files; every record signed",
		"-> modified at t-1.jsonl:2",
		"-> deleted at t-1.jsonl:4",
		"-> reordered at t-2.jsonl:1",
		"-> duplicated at t-2.jsonl:3",
		"-> tail unsigned: 2 records",
		"-> forged-checkpoint at t-2.jsonl:4",
		"proof for record 3 (3 hashes against a checkpoint): ok",
		"the same proof for an edited record: audit trail does not verify",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestVerifyingFilesSetsTheExitStatus(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"-genkey", "cli.test", "-dir", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("-genkey: exit %d: %s", code, errOut.String())
	}
	skey, _ := os.ReadFile(filepath.Join(dir, "cli.test.key"))
	vkey, _ := os.ReadFile(filepath.Join(dir, "cli.test.vkey"))
	if fi, err := os.Stat(filepath.Join(dir, "cli.test.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v, %v; want mode 600", fi, err)
	}
	if strings.Contains(out.String(), strings.TrimSpace(string(skey))[20:]) {
		t.Fatal("-genkey printed the signing key")
	}
	if code := run([]string{"-genkey", "cli.test", "-dir", dir}, &out, &errOut); code != exitCannot {
		t.Fatal("-genkey overwrote an existing signing key")
	}

	good := filepath.Join(dir, "good.jsonl")
	writeTrail(t, good, strings.TrimSpace(string(skey)))
	b, _ := os.ReadFile(good)
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, bytes.Replace(b, []byte(`"outcome":"ok"`), []byte(`"outcome":"xx"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(vkey))
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"a good trail exits 0", []string{"-key", key, good}, exitOK, "every record signed"},
		{"an edited trail exits 1", []string{"-key", key, bad}, exitBroken, "modified"},
		{"no key: verified but not clean, 0", []string{good}, exitOK, "signatures not checked"},
		{"no key with -strict exits 1", []string{"-strict", good}, exitBroken, "signatures not checked"},
		{"a missing file exits 2", []string{"-key", key, filepath.Join(dir, "none.jsonl")}, exitCannot, ""},
		{"a key but no file exits 2", []string{"-key", key}, exitCannot, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d, output %q %q; want %d with %q", code, out.String(), errOut.String(), tc.code, tc.out)
			}
		})
	}
}
