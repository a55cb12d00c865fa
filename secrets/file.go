package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FileScheme is the scheme of file references: file:///absolute/path[#key].
const FileScheme = "file"

// MaxFileSize is the largest secret file [File] reads.
const MaxFileSize = 64 << 10

// File returns a Resolver for file:///absolute/path[#key] references.
//
// Whoever can change the file chooses the database password, so on Unix
// the path is trusted only as far as root and the process's effective
// user control it:
//
//   - the file and every directory and symbolic link on the way to it must
//     be owned by root or the effective user;
//   - no directory on the way may let group or others write it unless it
//     has the sticky bit (as /tmp does), where only an entry's owner can
//     rename or delete it. Group-writable directories are refused like
//     world-writable ones: a group is as wide as its membership, which this
//     process cannot see;
//   - the file must be a regular file that group and others cannot write,
//     at most [MaxFileSize] bytes.
//
// Anything else is refused with [ErrInsecure]. Symbolic links are
// followed, one component at a time, because Kubernetes secret volumes are
// built from them (password -> ..data/password, ..data ->
// ..2026_11_22_10_00_00.123, all root-owned). The file is then opened
// without following a link and without blocking (O_NOFOLLOW|O_NONBLOCK) and
// checked again on the opened descriptor, so a path swapped for a link or a
// FIFO after the checks is refused rather than followed or waited on. The
// read runs apart from the caller, which stops waiting when ctx ends (a hung
// network file system), so a [Cache] in front of this resolver is never
// stuck behind it. One trailing newline ("\n" or "\r\n"), which editors and
// echo add, is trimmed.
//
// On other systems only the file's own mode is checked, and there the
// permission bits only reflect the read-only attribute, so only read-only
// files pass.
func File() Resolver { return fileResolver{} }

type fileResolver struct{}

// Schemes returns ["file"], so Expand recognises file:// values.
func (fileResolver) Schemes() []string { return []string{FileScheme} }

// Resolve implements [Resolver]; see [File].
func (fileResolver) Resolve(ctx context.Context, ref string) (Secret, error) {
	r, err := parseScheme(ref, FileScheme)
	if err != nil {
		return Secret{}, err
	}
	if r.Query != nil {
		return Secret{}, &Error{Ref: ref, Err: fmt.Errorf("%w: file %w", ErrInvalidRef, errNoParams)}
	}
	path := filepath.FromSlash(r.Name)
	if !filepath.IsAbs(path) {
		return Secret{}, &Error{Ref: ref, Err: fmt.Errorf("%w: want an absolute path, file:///path", ErrInvalidRef)}
	}
	if err := ctx.Err(); err != nil {
		return Secret{}, &Error{Ref: ref, Err: err}
	}
	data, err := readWithContext(ctx, path)
	if err != nil {
		return Secret{}, &Error{Ref: ref, Err: err}
	}
	s, err := r.Extract(data)
	if err != nil {
		return Secret{}, &Error{Ref: ref, Err: err}
	}
	return s, nil
}

// readWithContext reads the file in its own goroutine and gives up when
// ctx ends. A local read never blocks for long, but one on a hung NFS or
// FUSE mount can block forever, and the caller may be a Cache's
// singleflight that every other caller waits behind.
func readWithContext(ctx context.Context, path string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readSecretFile(path)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// beforeOpen, when set by a test, runs after the path has been checked and
// before the file is opened: the window an attacker would swap the path in.
var beforeOpen func(path string)

// readAll reads at most MaxFileSize bytes of f.
func readAll(f *os.File) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fileErr(err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: file is larger than %d bytes", ErrInsecure, MaxFileSize)
	}
	return trimNewline(data), nil
}

func checkMode(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file (%s)", ErrInsecure, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: file mode %#o lets group or others write it; chmod go-w", ErrInsecure, perm)
	}
	return nil
}

// fileErr maps OS errors to sentinels. The *fs.PathError it wraps names the
// path, which is configuration, not a secret.
func fileErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %w", ErrPermission, err)
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

func trimNewline(b []byte) []byte {
	if t, ok := bytes.CutSuffix(b, []byte("\n")); ok {
		return bytes.TrimSuffix(t, []byte("\r"))
	}
	return b
}
