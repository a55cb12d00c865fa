package fieldcrypt

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/securedb-go/securedb/dbservice"
)

// CheckPosture implements dbservice.PostureChecker for the
// encryption-at-rest item: Pass naming the encrypted fields and the kind of
// KEK that wraps their keys; Warn when documents written through this
// Service carried fields whose names look sensitive (email, token,
// password, ssn, phone, ...) that no configuration encrypts.
func (s *Service) CheckPosture(context.Context) []dbservice.Finding {
	var covered []string
	for _, coll := range sortedKeys(s.specs) {
		for _, f := range s.specs[coll] {
			covered = append(covered, coll+"."+f.path+" ("+f.mode.String()+")")
		}
	}
	f := dbservice.Finding{ID: dbservice.ItemEncryptionAtRest, Status: dbservice.Pass}
	kek := s.currentKEK()
	f.Detail = "client-side field encryption (Tink AES-256-GCM and AES-SIV data keys wrapped by a " + kek.Kind() +
		" KEK) covers " + strconv.Itoa(len(covered)) + " fields: " + shortList(covered, 8) +
		"; the database, its backups and its exports hold only their ciphertext"
	if len(covered) == 0 {
		f.Status = dbservice.Warn
		f.Detail = "the field encryption layer has no encrypted fields configured"
		f.Fix = "list the sensitive fields of each collection in fieldcrypt.Config.Collections"
	}
	if unc := s.seen.list(); len(unc) > 0 {
		f.Status = dbservice.Warn
		f.Detail += "; written unencrypted although the names look sensitive: " + shortList(unc, 8)
		f.Fix = "encrypt these fields: add them to fieldcrypt.Config.Collections, then run Reencrypt on their collections"
	}
	return []dbservice.Finding{f}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func shortList(names []string, n int) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + ", +" + strconv.Itoa(len(names)-n) + " more"
}

// maxSeen bounds the uncovered sensitive fields remembered for posture.
const maxSeen = 32

// seenFields remembers field paths with sensitive-looking names that were
// written unencrypted, bounded, for the posture report.
type seenFields struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *seenFields) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.m)
}

// observe records the sensitive-looking names of doc (three levels deep)
// that no spec covers. It reads names only, never values.
func (s *seenFields) observe(coll string, specs []fieldSpec, doc map[string]any) {
	var walk func(m map[string]any, prefix []string, depth int)
	walk = func(m map[string]any, prefix []string, depth int) {
		for k, v := range m {
			p := append(slices.Clip(prefix), k)
			if coveredBy(p, specs) {
				continue
			}
			if sensitiveName(k) {
				s.add(coll + "." + dbservice.Path(p...))
			}
			if sub, ok := v.(map[string]any); ok && depth < 3 {
				walk(sub, p, depth+1)
			}
		}
	}
	walk(doc, nil, 1)
}

func (s *seenFields) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	if len(s.m) < maxSeen {
		s.m[name] = true
	}
}

func coveredBy(p []string, specs []fieldSpec) bool {
	for _, f := range specs {
		if within(p, f.names) {
			return true
		}
	}
	return false
}

// Names that hold personal data or credentials, compared without case,
// "_" and "-"; the suffixes catch "github_token", "contactEmail", ...
var (
	sensitiveNames = map[string]bool{
		"email": true, "emailaddress": true, "mail": true, "token": true, "accesstoken": true, "refreshtoken": true,
		"apikey": true, "secret": true, "clientsecret": true, "password": true, "passwd": true, "pwd": true,
		"ssn": true, "socialsecuritynumber": true, "nationalid": true, "passport": true, "passportnumber": true,
		"taxid": true, "phone": true, "phonenumber": true, "mobile": true, "creditcard": true, "cardnumber": true,
		"iban": true, "dateofbirth": true, "birthdate": true, "dob": true, "privatekey": true,
	}
	nameFolder        = strings.NewReplacer("_", "", "-", "")
	sensitiveSuffixes = []string{"token", "secret", "password", "email", "phone", "apikey", "ssn", "nationalid"}
)

func sensitiveName(name string) bool {
	n := strings.ToLower(nameFolder.Replace(name))
	if sensitiveNames[n] {
		return true
	}
	for _, suf := range sensitiveSuffixes {
		if strings.HasSuffix(n, suf) {
			return true
		}
	}
	return false
}
