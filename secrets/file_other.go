//go:build !unix

package secrets

import (
	"fmt"
	"os"
)

// readSecretFile is the portable check: the file's own mode only, since
// ownership and directory permissions are not Unix bits here.
func readSecretFile(path string) ([]byte, error) {
	// Stat before Open: opening a FIFO would block until a writer appears.
	before, err := os.Stat(path)
	if err != nil {
		return nil, fileErr(err)
	}
	if err := checkMode(before); err != nil {
		return nil, err
	}
	if beforeOpen != nil {
		beforeOpen(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fileErr(err)
	}
	defer f.Close()
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
	return readAll(f)
}
