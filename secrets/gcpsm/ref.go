package gcpsm

import (
	"fmt"
	"strings"

	"github.com/securedb-go/securedb/secrets"
)

// Ref is a parsed gcpsm:// reference.
type Ref struct {
	// Project is the project ID or number.
	Project string
	// Secret is the secret ID.
	Secret string
	// Version is a version number, "latest" or an alias.
	Version string
	// Key is the JSON field to return; empty means the whole payload.
	Key string
}

// ParseRef parses gcpsm://projects/P/secrets/S[/versions/V][#key]. A missing
// version is "latest". Errors wrap [secrets.ErrInvalidRef].
func ParseRef(ref string) (Ref, error) {
	r, err := secrets.ParseRef(ref)
	if err != nil {
		return Ref{}, err
	}
	p, err := fromRef(r)
	if err != nil {
		return Ref{}, &secrets.Error{Ref: ref, Err: err}
	}
	return p, nil
}

func fromRef(r secrets.Ref) (Ref, error) {
	if r.Scheme != Scheme {
		return Ref{}, fmt.Errorf("%w: scheme %q, want %q", secrets.ErrInvalidRef, r.Scheme, Scheme)
	}
	if r.Query != nil {
		return Ref{}, fmt.Errorf("%w: gcpsm takes no query parameters; put the version in the path", secrets.ErrInvalidRef)
	}
	parts := strings.Split(r.Name, "/")
	if (len(parts) != 4 && len(parts) != 6) || parts[0] != "projects" || parts[2] != "secrets" ||
		(len(parts) == 6 && parts[4] != "versions") {
		return Ref{}, fmt.Errorf("%w: want projects/PROJECT/secrets/SECRET[/versions/VERSION]", secrets.ErrInvalidRef)
	}
	p := Ref{Project: parts[1], Secret: parts[3], Version: "latest", Key: r.Key}
	if len(parts) == 6 {
		p.Version = parts[5]
	}
	switch {
	case !validSegment(p.Project, 100, ":."):
		return Ref{}, fmt.Errorf("%w: invalid project %q", secrets.ErrInvalidRef, p.Project)
	case !validSegment(p.Secret, 255, ""):
		return Ref{}, fmt.Errorf("%w: invalid secret ID %q", secrets.ErrInvalidRef, p.Secret)
	case !validSegment(p.Version, 63, ""):
		return Ref{}, fmt.Errorf("%w: invalid version %q", secrets.ErrInvalidRef, p.Version)
	}
	return p, nil
}

// validSegment allows letters, digits, '_', '-' and the extra characters;
// project IDs may carry a legacy "domain.com:" prefix.
func validSegment(s string, maxLen int, extra string) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		case strings.ContainsRune(extra, c):
		default:
			return false
		}
	}
	return true
}

// Name returns the secret version's resource name,
// projects/P/secrets/S/versions/V.
func (r Ref) Name() string {
	return "projects/" + r.Project + "/secrets/" + r.Secret + "/versions/" + r.Version
}

// String returns the reference in the form ParseRef accepts, with the
// version always spelled out.
func (r Ref) String() string {
	return secrets.Ref{Scheme: Scheme, Name: r.Name(), Key: r.Key}.String()
}

// Extract returns the part of the payload r asks for; see
// [secrets.Ref.Extract].
func (r Ref) Extract(data []byte) (secrets.Secret, error) {
	return secrets.Ref{Scheme: Scheme, Name: r.Name(), Key: r.Key}.Extract(data)
}
