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
	"time"

	"github.com/securedb-go/securedb/secrets"
)

// nobody is an unprivileged uid and gid that is neither root nor the test.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root; run the tests as root (as CI does) to cover it")
	}
}

func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func resolveFile(t *testing.T, path string) (string, error) {
	t.Helper()
	s, err := secrets.File().Resolve(context.Background(), fileRef(path, ""))
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Fatalf("error reveals the value: %v", err)
	}
	return s.Reveal(), err
}

func TestFileRefusesAPathOthersControl(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		root  bool // needs root to set up
		setup func(t *testing.T, dir string) string
		ok    bool
	}{
		{"a 0644 file of another unprivileged user is refused", true, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "f")
			writeSecret(t, p, canary, 0o644)
			if err := os.Chown(p, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
		{"a file of ours in a directory of another user is refused", true, func(t *testing.T, dir string) string {
			d := mkdir(t, filepath.Join(dir, "d"), 0o755)
			p := filepath.Join(d, "f")
			writeSecret(t, p, canary, 0o600)
			if err := os.Chown(d, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
		{"a root-owned file with another group that cannot write it is accepted", true, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "f")
			writeSecret(t, p, canary, 0o640)
			if err := os.Chown(p, 0, nobody); err != nil {
				t.Fatal(err)
			}
			return p
		}, true},
		{"a file in a world-writable directory without the sticky bit is refused", false, func(t *testing.T, dir string) string {
			d := mkdir(t, filepath.Join(dir, "d"), 0o777)
			p := filepath.Join(d, "f")
			writeSecret(t, p, canary, 0o600)
			return p
		}, false},
		{"a file in a group-writable directory without the sticky bit is refused", false, func(t *testing.T, dir string) string {
			d := mkdir(t, filepath.Join(dir, "d"), 0o770)
			p := filepath.Join(d, "f")
			writeSecret(t, p, canary, 0o600)
			return p
		}, false},
		{"a file below a world-writable directory is refused", false, func(t *testing.T, dir string) string {
			d := mkdir(t, filepath.Join(dir, "d"), 0o777)
			sub := mkdir(t, filepath.Join(d, "sub"), 0o700)
			p := filepath.Join(sub, "f")
			writeSecret(t, p, canary, 0o600)
			return p
		}, false},
		{"a file of ours in a sticky world-writable directory is accepted", false, func(t *testing.T, dir string) string {
			d := mkdir(t, filepath.Join(dir, "d"), 0o777|os.ModeSticky)
			p := filepath.Join(d, "f")
			writeSecret(t, p, canary, 0o600)
			return p
		}, true},
		{"a link planted by another user in a sticky directory is refused", true, func(t *testing.T, dir string) string {
			target := filepath.Join(dir, "target")
			writeSecret(t, target, canary, 0o600)
			d := mkdir(t, filepath.Join(dir, "d"), 0o777|os.ModeSticky)
			p := filepath.Join(d, "link")
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(p, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
		{"a link into a world-writable directory is refused", false, func(t *testing.T, dir string) string {
			d := mkdir(t, filepath.Join(dir, "d"), 0o777)
			target := filepath.Join(d, "f")
			writeSecret(t, target, canary, 0o600)
			p := filepath.Join(dir, "link")
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
		{"a relative link through a world-writable directory is refused", false, func(t *testing.T, dir string) string {
			mkdir(t, filepath.Join(dir, "d"), 0o777)
			safe := mkdir(t, filepath.Join(dir, "safe"), 0o700)
			writeSecret(t, filepath.Join(safe, "f"), canary, 0o600)
			p := filepath.Join(dir, "link")
			if err := os.Symlink("d/../safe/f", p); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root {
				needRoot(t)
			}
			sub := filepath.Join(dir, string(rune('a'+i)))
			mkdir(t, sub, 0o700)
			got, err := resolveFile(t, c.setup(t, sub))
			if c.ok {
				if err != nil || got != canary {
					t.Fatalf("got %d bytes, %v; want the secret", len(got), err)
				}
				return
			}
			if !errors.Is(err, secrets.ErrInsecure) {
				t.Fatalf("got %d bytes, error %v; want ErrInsecure", len(got), err)
			}
		})
	}
}

// TestFileKubernetesSecretVolumeWithFSGroup builds the layout the kubelet
// makes for a secret volume of a pod with an fsGroup: root-owned, setgid
// directories of the pod's group that the group cannot write, 0440 files,
// and the ..data link swapped on rotation.
func TestFileKubernetesSecretVolumeWithFSGroup(t *testing.T) {
	vol := mkdir(t, filepath.Join(t.TempDir(), "db-credentials"), 0o755|os.ModeSetgid)
	ts := mkdir(t, filepath.Join(vol, "..2026_11_22_10_00_00.123"), 0o755|os.ModeSetgid)
	writeSecret(t, filepath.Join(ts, "password"), canary+"\n", 0o440)
	if err := os.Symlink("..2026_11_22_10_00_00.123", filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/password", filepath.Join(vol, "password")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{vol, ts, filepath.Join(ts, "password"), filepath.Join(vol, "..data"), filepath.Join(vol, "password")} {
			if err := os.Lchown(p, 0, nobody); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, err := resolveFile(t, filepath.Join(vol, "password")); err != nil || got != canary {
		t.Fatalf("got %d bytes, %v; want the secret", len(got), err)
	}
	// Rotation: a new timestamped directory, then ..data renamed over.
	next := mkdir(t, filepath.Join(vol, "..2026_11_23_10_00_00.456"), 0o755|os.ModeSetgid)
	writeSecret(t, filepath.Join(next, "password"), "rotated\n", 0o440)
	tmp := filepath.Join(vol, "..data_tmp")
	if err := os.Symlink(filepath.Base(next), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	if got, err := resolveFile(t, filepath.Join(vol, "password")); err != nil || got != "rotated" {
		t.Fatalf("after rotation: %q, %v", got, err)
	}
}

// resolveAsync resolves ref in a goroutine and fails the test, rather than
// hanging it, when no answer comes within a generous bound.
func resolveAsync(t *testing.T, ctx context.Context, r secrets.Resolver, ref string) (secrets.Secret, error) {
	t.Helper()
	type result struct {
		s   secrets.Secret
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := r.Resolve(ctx, ref)
		done <- result{s, err}
	}()
	select {
	case res := <-done:
		return res.s, res.err
	case <-time.After(20 * time.Second):
		t.Fatal("Resolve is still blocked after 20s")
		return secrets.Secret{}, nil
	}
}

func TestFileSwappedAfterTheChecksIsRefused(t *testing.T) {
	swaps := map[string]func(t *testing.T, path string){
		"a FIFO": func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Error(err)
			}
		},
		"a symbolic link": func(t *testing.T, path string) {
			other := path + ".other"
			writeSecret(t, other, "not-the-secret", 0o600)
			if err := os.Symlink(other, path); err != nil {
				t.Error(err)
			}
		},
	}
	for name, swap := range swaps {
		t.Run(name+" put at the path is refused at once", func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "password")
			writeSecret(t, p, canary, 0o600)
			defer secrets.SetBeforeOpen(func(path string) {
				if err := os.Remove(path); err != nil {
					t.Error(err)
				}
				swap(t, path)
			})()
			s, err := resolveAsync(t, context.Background(), secrets.File(), fileRef(p, ""))
			if !errors.Is(err, secrets.ErrInsecure) {
				t.Fatalf("got %d bytes, error %v; want ErrInsecure", len(s.Reveal()), err)
			}
		})
	}
}

func TestFileResolveHonoursTheContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "password")
	writeSecret(t, p, canary, 0o600)
	entered, release := make(chan struct{}), make(chan struct{})
	defer secrets.SetBeforeOpen(func(string) {
		entered <- struct{}{}
		<-release // a read stuck on a hung file system
	})()
	defer close(release)

	t.Run("a cancelled caller returns at once", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-entered
			cancel()
		}()
		_, err := resolveAsync(t, ctx, secrets.File(), fileRef(p, ""))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})

	t.Run("a Cache in front gives up after its Timeout and resolves again later", func(t *testing.T) {
		c := secrets.Cache(secrets.File(), secrets.Options{Timeout: 50 * time.Millisecond})
		// Two callers share the flight; neither may hang.
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := c.Resolve(context.Background(), fileRef(p, ""))
				errs <- err
			}()
		}
		select {
		case <-entered: // the shared read is stuck
		case <-time.After(20 * time.Second):
			t.Fatal("the cache never called the file resolver")
		}
		for range 2 {
			select {
			case err := <-errs:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("error %v, want the cache's deadline", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("a caller is still blocked behind the cache's flight after 20s")
			}
		}
		secrets.SetBeforeOpen(nil)
		s, err := resolveAsync(t, context.Background(), c, fileRef(p, ""))
		if err != nil || s.Reveal() != canary {
			t.Fatalf("after the stall: %d bytes, %v", len(s.Reveal()), err)
		}
	})
}
