package fieldcrypt

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/secrets"
	"github.com/securedb-go/securedb/validate"
)

// Variables securedb.ConfigFromEnv reads for field encryption.
const (
	// EnvKEK names the key-encryption key: aws-kms://KEY (a key ARN or
	// ID; package awskms), gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K
	// (package gcpkms) or local-keyset:REF, a secret reference to a
	// cleartext Tink keyset (package localkek; development only).
	EnvKEK = "SECUREDB_FIELD_KEK"
	// EnvFields lists the encrypted fields: comma-separated
	// COLLECTION:FIELD=MODE entries (MODE deterministic or randomized,
	// FIELD a dotted path), or the same as a JSON object
	// {"COLLECTION": {"FIELD": "MODE"}}.
	EnvFields = "SECUREDB_FIELD_ENCRYPTION"
)

// KEKOpener returns the KEK that ref names (the configuration text after
// its scheme's "://" or ":"), resolving secret references with r. It may
// build a KMS client but makes no KMS call.
type KEKOpener func(ctx context.Context, ref string, r secrets.Resolver) (KEK, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]KEKOpener{}
)

// kekPackages names the package that registers each scheme this module
// ships, for the error when a program did not import it.
var kekPackages = map[string]string{
	"aws-kms":      "github.com/securedb-go/securedb/dbservice/fieldcrypt/awskms",
	"gcp-kms":      "github.com/securedb-go/securedb/dbservice/fieldcrypt/gcpkms",
	"local-keyset": "github.com/securedb-go/securedb/dbservice/fieldcrypt/localkek",
}

// RegisterKEK makes OpenKEK (and so SECUREDB_FIELD_KEK) accept scheme.
// Packages awskms ("aws-kms"), gcpkms ("gcp-kms") and localkek
// ("local-keyset") register theirs when imported, so a program links only
// the KMS SDK it configures.
func RegisterKEK(scheme string, open KEKOpener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	openers[scheme] = open
}

func init() {
	driver.RegisterFieldConfig(func(ctx context.Context, kek, fields string, r secrets.Resolver) (driver.FieldLayer, error) {
		cfg, err := ConfigFromText(ctx, kek, fields, r)
		if err != nil {
			return nil, err
		}
		return cfg, nil
	})
}

func configError(variable, reason string) error {
	return dbservice.NewError("open", provider, "", "", &validate.Error{Field: variable, Reason: reason})
}

// ConfigFromText returns the Config that kek (the form of EnvKEK) and
// fields (the form of EnvFields) describe, opening the KEK with the
// package registered for its scheme. Errors match dbservice.ErrInvalid
// and name the variable; they never quote the KEK text, which may hold a
// secret reference's details.
func ConfigFromText(ctx context.Context, kek, fields string, r secrets.Resolver) (Config, error) {
	colls, err := ParseFields(fields)
	if err != nil {
		return Config{}, err
	}
	k, err := OpenKEK(ctx, kek, r)
	if err != nil {
		return Config{}, err
	}
	return Config{KEK: k, Collections: colls}, nil
}

// OpenKEK opens the KEK that text names, in the form of EnvKEK.
func OpenKEK(ctx context.Context, text string, r secrets.Resolver) (KEK, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, configError(EnvKEK, "is empty; name a key-encryption key (aws-kms://, gcp-kms:// or local-keyset:)")
	}
	scheme, ref, ok := strings.Cut(text, ":")
	ref = strings.TrimPrefix(ref, "//")
	if !ok || ref == "" {
		return nil, configError(EnvKEK, "is not SCHEME://KEY (aws-kms://, gcp-kms:// or local-keyset:)")
	}
	openersMu.RLock()
	open := openers[scheme]
	openersMu.RUnlock()
	if open == nil {
		if p, known := kekPackages[scheme]; known {
			return nil, configError(EnvKEK, "names a "+scheme+" key, which needs the import _ \""+p+"\"")
		}
		return nil, configError(EnvKEK, "has an unknown scheme; want aws-kms://, gcp-kms:// or local-keyset:")
	}
	k, err := open(ctx, ref, r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKEK, err)
	}
	return k, nil
}

// ParseFields parses the encrypted fields in the form of EnvFields. An
// error names the entry by position, not by its text.
func ParseFields(text string) (map[string]Fields, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, configError(EnvFields, "is empty; list COLLECTION:FIELD=MODE entries")
	}
	out := map[string]Fields{}
	add := func(where, coll, field, mode string) error {
		coll, field = strings.TrimSpace(coll), strings.TrimSpace(field)
		if coll == "" || field == "" {
			return configError(EnvFields, where+" has no collection or no field")
		}
		var m Mode
		switch strings.ToLower(strings.TrimSpace(mode)) {
		case "deterministic":
			m = Deterministic
		case "randomized":
			m = Randomized
		default:
			return configError(EnvFields, where+" has a mode other than deterministic or randomized")
		}
		if out[coll] == nil {
			out[coll] = Fields{}
		}
		if _, dup := out[coll][field]; dup {
			return configError(EnvFields, where+" repeats a field")
		}
		out[coll][field] = m
		return nil
	}
	if strings.HasPrefix(text, "{") {
		var j map[string]map[string]string
		if err := json.Unmarshal([]byte(text), &j); err != nil {
			return nil, configError(EnvFields, "is not a JSON object of collections to {field: mode}")
		}
		colls := make([]string, 0, len(j))
		for c := range j {
			colls = append(colls, c)
		}
		sort.Strings(colls)
		for _, c := range colls {
			if len(j[c]) == 0 {
				return nil, configError(EnvFields, "lists a collection without fields")
			}
			for f, m := range j[c] {
				if err := add("an entry", c, f, m); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	for i, e := range strings.Split(text, ",") {
		where := fmt.Sprintf("entry %d", i+1)
		cf, mode, ok := strings.Cut(e, "=")
		if !ok {
			return nil, configError(EnvFields, where+" is not COLLECTION:FIELD=MODE")
		}
		coll, field, ok := strings.Cut(cf, ":")
		if !ok {
			return nil, configError(EnvFields, where+" is not COLLECTION:FIELD=MODE")
		}
		if err := add(where, coll, field, mode); err != nil {
			return nil, err
		}
	}
	return out, nil
}
