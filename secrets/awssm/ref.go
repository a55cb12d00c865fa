package awssm

import (
	"fmt"
	"net/url"

	"github.com/securedb-go/securedb/secrets"
)

// Limits from the GetSecretValue API reference.
const (
	maxSecretID     = 2048
	maxVersionID    = 64
	maxVersionStage = 256
)

// Ref is a parsed awssm:// reference.
type Ref struct {
	// SecretID is the secret's name or ARN.
	SecretID string
	// VersionStage selects a staging label such as AWSCURRENT or
	// AWSPREVIOUS (query parameter version-stage).
	VersionStage string
	// VersionID selects a version by its ID (query parameter version-id).
	VersionID string
	// Key is the JSON field to return; empty means the whole secret.
	Key string
}

// ParseRef parses awssm://SECRET-ID[?version-stage=S][&version-id=V][#key].
// Errors wrap [secrets.ErrInvalidRef].
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
	if len(r.Name) > maxSecretID {
		return Ref{}, fmt.Errorf("%w: secret ID longer than %d bytes", secrets.ErrInvalidRef, maxSecretID)
	}
	stage, err := r.Param("version-stage", "version-stage", "version-id")
	if err != nil {
		return Ref{}, err
	}
	id, err := r.Param("version-id", "version-stage", "version-id")
	if err != nil {
		return Ref{}, err
	}
	if len(stage) > maxVersionStage || len(id) > maxVersionID {
		return Ref{}, fmt.Errorf("%w: version-stage or version-id too long", secrets.ErrInvalidRef)
	}
	return Ref{SecretID: r.Name, VersionStage: stage, VersionID: id, Key: r.Key}, nil
}

// String returns the reference in the form ParseRef accepts.
func (r Ref) String() string {
	g := secrets.Ref{Scheme: Scheme, Name: r.SecretID, Key: r.Key}
	if r.VersionStage != "" || r.VersionID != "" {
		g.Query = url.Values{}
		if r.VersionStage != "" {
			g.Query.Set("version-stage", r.VersionStage)
		}
		if r.VersionID != "" {
			g.Query.Set("version-id", r.VersionID)
		}
	}
	return g.String()
}

// Extract returns the part of the raw secret r asks for; see
// [secrets.Ref.Extract].
func (r Ref) Extract(data []byte) (secrets.Secret, error) {
	return secrets.Ref{Scheme: Scheme, Name: r.SecretID, Key: r.Key}.Extract(data)
}
