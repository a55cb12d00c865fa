//go:build unix

package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/securedb-go/securedb/secrets"
)

// writeSecret writes data with exactly mode, whatever the umask.
func writeSecret(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func fileRef(path string, key string) string {
	ref := (secrets.Ref{Scheme: "file", Name: filepath.ToSlash(path), Key: key}).String()
	return ref
}

func TestFileResolver(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	writeSecret(t, path("0600"), canary+"\n", 0o600)
	writeSecret(t, path("0644"), canary, 0o644)
	writeSecret(t, path("0400"), canary, 0o400)
	writeSecret(t, path("0620"), canary, 0o620)
	writeSecret(t, path("0602"), canary, 0o602)
	writeSecret(t, path("two-newlines"), canary+"\n\n", 0o600)
	writeSecret(t, path("crlf"), canary+"\r\n", 0o600)
	writeSecret(t, path("json"), `{"url":"http://127.0.0.1:5984","username":"app","password":"`+canary+`"}`+"\n", 0o600)
	writeSecret(t, path("max"), strings.Repeat("x", secrets.MaxFileSize), 0o600)
	writeSecret(t, path("too-big"), strings.Repeat("x", secrets.MaxFileSize+1), 0o600)
	if err := os.Mkdir(path("dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(path("0620"), path("link-to-0620")); err != nil {
		t.Fatal(err)
	}

	// A Kubernetes secret volume: the visible file is a link through ..data
	// to a timestamped directory that the kubelet swaps atomically.
	k8s := path("k8s")
	if err := os.MkdirAll(filepath.Join(k8s, "..2026_11_22_10_00_00.123"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeSecret(t, filepath.Join(k8s, "..2026_11_22_10_00_00.123", "password"), canary+"\n", 0o644)
	if err := os.Symlink("..2026_11_22_10_00_00.123", filepath.Join(k8s, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/password", filepath.Join(k8s, "password")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		ref     string
		want    string
		wantErr error
	}{
		{"a 0600 file resolves with its trailing newline trimmed", fileRef(path("0600"), ""), canary, nil},
		{"a 0644 file is accepted because only writers matter", fileRef(path("0644"), ""), canary, nil},
		{"a 0400 file resolves", fileRef(path("0400"), ""), canary, nil},
		{"only one trailing newline is trimmed", fileRef(path("two-newlines"), ""), canary + "\n", nil},
		{"a CRLF line ending counts as one newline", fileRef(path("crlf"), ""), canary, nil},
		{"a #key picks a field of a JSON file", fileRef(path("json"), "password"), canary, nil},
		{"a file of exactly MaxFileSize is read", fileRef(path("max"), ""), strings.Repeat("x", secrets.MaxFileSize), nil},
		{"a Kubernetes secret volume symlink chain resolves", fileRef(filepath.Join(k8s, "password"), ""), canary, nil},
		{"a group-writable 0620 file is refused", fileRef(path("0620"), ""), "", secrets.ErrInsecure},
		{"an other-writable 0602 file is refused", fileRef(path("0602"), ""), "", secrets.ErrInsecure},
		{"a safe link to a group-writable file is refused", fileRef(path("link-to-0620"), ""), "", secrets.ErrInsecure},
		{"a directory is refused", fileRef(path("dir"), ""), "", secrets.ErrInsecure},
		{"a FIFO is refused without blocking", fileRef(path("fifo"), ""), "", secrets.ErrInsecure},
		{"a file over MaxFileSize is refused", fileRef(path("too-big"), ""), "", secrets.ErrInsecure},
		{"a missing file is not found", fileRef(path("missing"), ""), "", secrets.ErrNotFound},
		{"a missing #key is not found", fileRef(path("json"), "token"), "", secrets.ErrNotFound},
		{"a relative path is invalid", "file://relative/path", "", secrets.ErrInvalidRef},
		{"query parameters are invalid", fileRef(path("0600"), "") + "?mode=x", "", secrets.ErrInvalidRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := secrets.File().Resolve(context.Background(), tt.ref)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Resolve(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
			}
			if s.Reveal() != tt.want {
				t.Fatalf("Resolve(%q) = %d bytes, want %d", tt.ref, len(s.Reveal()), len(tt.want))
			}
			if err != nil && strings.Contains(err.Error(), canary) {
				t.Fatalf("error reveals the value: %v", err)
			}
		})
	}

	t.Run("a rotated Kubernetes volume serves the new value", func(t *testing.T) {
		next := filepath.Join(k8s, "..2026_11_23_10_00_00.456")
		if err := os.Mkdir(next, 0o755); err != nil {
			t.Fatal(err)
		}
		writeSecret(t, filepath.Join(next, "password"), "rotated\n", 0o644)
		tmp := filepath.Join(k8s, "..data_tmp")
		if err := os.Symlink(filepath.Base(next), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(k8s, "..data")); err != nil {
			t.Fatal(err)
		}
		s, err := secrets.File().Resolve(context.Background(), fileRef(filepath.Join(k8s, "password"), ""))
		if err != nil || s.Reveal() != "rotated" {
			t.Fatalf("after rotation: %q, %v", s.Reveal(), err)
		}
	})
	t.Run("a group-writable file error says how to fix it", func(t *testing.T) {
		_, err := secrets.File().Resolve(context.Background(), fileRef(path("0620"), ""))
		if err == nil || !strings.Contains(err.Error(), "0620") || !strings.Contains(err.Error(), "chmod go-w") {
			t.Fatalf("error %v", err)
		}
	})
}
