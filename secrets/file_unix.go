//go:build unix

package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinks bounds the symbolic links one resolution follows, as the kernel
// does (ELOOP).
const maxLinks = 40

// readSecretFile resolves path with every check [File] describes, then
// opens and re-checks the file itself.
func readSecretFile(path string) ([]byte, error) {
	real, fi, err := securePath(path)
	if err != nil {
		return nil, err
	}
	if err := checkFile(real, fi); err != nil {
		return nil, err
	}
	if beforeOpen != nil {
		beforeOpen(real)
	}
	// O_NOFOLLOW: the last component was checked not to be a link and must
	// not have become one. O_NONBLOCK: a FIFO swapped in opens at once
	// instead of waiting for a writer, and fstat then refuses it.
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: %s became a symbolic link while opening it", ErrInsecure, real)
		}
		return nil, fileErr(err)
	}
	defer f.Close()
	after, err := f.Stat()
	if err != nil {
		return nil, fileErr(err)
	}
	if err := checkFile(real, after); err != nil {
		return nil, err
	}
	if !os.SameFile(fi, after) {
		return nil, fmt.Errorf("%w: file changed while opening it", ErrUnavailable)
	}
	return readAll(f)
}

// securePath follows path one component at a time, as the kernel would,
// checking every directory a name is looked up in and every link followed,
// so that only root and the effective user can have chosen where it leads.
// It returns the path with no link left in it and the Lstat of its last
// component.
func securePath(path string) (string, fs.FileInfo, error) {
	cur := string(filepath.Separator)
	fi, err := os.Lstat(cur)
	if err != nil {
		return "", nil, fileErr(err)
	}
	if err := checkDir(cur, fi); err != nil {
		return "", nil, err
	}
	todo := components(path)
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case ".":
			continue
		case "..":
			// cur holds no links, so its parent is the lexical one, and
			// was checked on the way down.
			cur = filepath.Dir(cur)
			continue
		}
		if !fi.IsDir() {
			return "", nil, fileErr(&fs.PathError{Op: "open", Path: cur, Err: syscall.ENOTDIR})
		}
		next := filepath.Join(cur, name)
		if fi, err = os.Lstat(next); err != nil {
			return "", nil, fileErr(err)
		}
		if err := checkOwner(next, fi); err != nil {
			return "", nil, err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxLinks {
				return "", nil, fileErr(&fs.PathError{Op: "open", Path: path, Err: syscall.ELOOP})
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", nil, fileErr(err)
			}
			if filepath.IsAbs(target) {
				cur = string(filepath.Separator)
			}
			// The directory the link sits in is the one names in the
			// target are looked up in next.
			if fi, err = os.Lstat(cur); err != nil {
				return "", nil, fileErr(err)
			}
			todo = append(components(target), todo...)
		case fi.IsDir():
			if err := checkDir(next, fi); err != nil {
				return "", nil, err
			}
			cur = next
		default:
			cur = next
		}
	}
	return cur, fi, nil
}

func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, string(filepath.Separator)) {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// checkFile is checkMode plus the owner.
func checkFile(path string, fi fs.FileInfo) error {
	if err := checkMode(fi); err != nil {
		return err
	}
	return checkOwner(path, fi)
}

// checkOwner refuses what neither root nor the effective user owns: its
// owner could rewrite it, or, for a directory, replace what is in it.
func checkOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: cannot tell who owns %s", ErrInsecure, path)
	}
	if euid := os.Geteuid(); st.Uid != 0 && int(st.Uid) != euid {
		return fmt.Errorf("%w: %s is owned by uid %d, neither root nor this process's user (uid %d); chown it", ErrInsecure, path, st.Uid, euid)
	}
	return nil
}

// checkDir refuses a directory in which others could replace the file:
// one that group or others may write, unless its sticky bit limits
// renaming and deleting an entry to the entry's owner (checked by
// checkOwner for each entry used).
func checkDir(path string, fi fs.FileInfo) error {
	if err := checkOwner(path, fi); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: directory %s (mode %#o) lets group or others replace its files; chmod go-w or set the sticky bit", ErrInsecure, path, perm)
	}
	return nil
}
