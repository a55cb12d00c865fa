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
// It follows symbolic links, as Kubernetes secret volumes need
// (password -> ..data/password, ..data -> ..2026_11_22_10_00_00.123), and
// checks the final target: a target that is not a regular file, or that group
// or others can write, is refused with [ErrInsecure], because whoever can
// write the file can choose the database password. Files larger than
// [MaxFileSize] are refused. One trailing newline ("\n" or "\r\n"), which
// editors and echo add, is trimmed.
//
// On Windows the permission bits only reflect the read-only attribute, so
// only read-only files pass the check there.
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
	data, err := readSecretFile(path)
	if err != nil {
		return Secret{}, &Error{Ref: ref, Err: err}
	}
	s, err := r.Extract(data)
	if err != nil {
		return Secret{}, &Error{Ref: ref, Err: err}
	}
	return s, nil
}

func readSecretFile(path string) ([]byte, error) {
	// Stat before Open: opening a FIFO would block until a writer appears.
	before, err := os.Stat(path)
	if err != nil {
		return nil, fileErr(err)
	}
	if err := checkMode(before); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fileErr(err)
	}
	defer f.Close()
	// Check the opened file again so a link swapped between Stat and Open
	// cannot slip an unchecked file in.
	after, err := f.Stat()
	if err != nil {
		return nil, fileErr(err)
	}
	if !os.SameFile(before, after) {
		return nil, fmt.Errorf("%w: file changed while opening it", ErrUnavailable)
	}
	if err := checkMode(after); err != nil {
		return nil, err
	}
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
