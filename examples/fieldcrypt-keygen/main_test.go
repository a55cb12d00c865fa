package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek"
	"github.com/securedb-go/securedb/secrets"
)

func TestWritesAKeysetOpenReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.json")
	var stdout, stderr bytes.Buffer
	if err := run(&stdout, &stderr, path); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Fatalf("with -out, stdout got %q", stdout.String())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	ref := "file://" + path
	if !strings.Contains(stderr.String(), "secret reference: "+ref+"\n") {
		t.Fatalf("stderr lacks the reference:\n%s", stderr.String())
	}
	k, err := localkek.Open(context.Background(), secrets.Default(), ref, localkek.Options{Development: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", ref, err)
	}
	if !strings.Contains(stderr.String(), "("+k.ID()+")") {
		t.Fatalf("stderr names another key than %s:\n%s", k.ID(), stderr.String())
	}

	t.Run("an existing file is never replaced", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		if err := run(&stdout, &stderr, path); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Fatalf("second run: %v, want a refusal", err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Fatal("the keyset file changed")
		}
	})
}

func TestStdoutHoldsADifferentKeysetEachRun(t *testing.T) {
	var a, b, stderr bytes.Buffer
	if err := run(&a, &stderr, ""); err != nil {
		t.Fatal(err)
	}
	if err := run(&b, &stderr, ""); err != nil {
		t.Fatal(err)
	}
	ka, err := localkek.FromJSON(a.Bytes(), localkek.Options{Development: true})
	if err != nil {
		t.Fatal(err)
	}
	kb, err := localkek.FromJSON(b.Bytes(), localkek.Options{Development: true})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := ka.Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kb.Decrypt(ct, nil); err == nil {
		t.Fatal("two runs made the same key")
	}
}
