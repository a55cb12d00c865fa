package fieldcrypt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// provider is the name errors from this layer carry.
const provider = "fieldcrypt"

// ErrDecrypt is the error of a stored field that does not decrypt: a
// ciphertext that was edited, copied from another document or field, or
// written under a data key this service does not hold, or a plaintext
// value where ciphertext belongs. The stored data is refused the way bad
// input is, so it matches dbservice.ErrInvalid as well; its message names
// the field, never its value or ciphertext.
var ErrDecrypt = fmt.Errorf("%w: field does not decrypt", dbservice.ErrInvalid)

// Mode is how a field is encrypted.
type Mode int

const (
	// Randomized encrypts with AES-256-GCM (Tink AEAD): equal values give
	// different ciphertexts, and each ciphertext is bound to its
	// collection, document ID and field path. The field can only be read
	// back, not queried (Exists aside).
	Randomized Mode = iota + 1
	// Deterministic encrypts with AES-SIV (Tink deterministic AEAD): equal
	// values give equal ciphertexts, so Eq and In queries (and indexes on
	// the field) work. It reveals which documents hold equal values and
	// how often a value occurs. The ciphertext is bound to its collection
	// and field path but not to the document: it can be copied to the same
	// field of another document of the collection and still decrypt.
	Deterministic
)

func (m Mode) letter() string {
	if m == Deterministic {
		return "d"
	}
	return "r"
}

// String names the mode: "randomized" or "deterministic".
func (m Mode) String() string {
	switch m {
	case Randomized:
		return "randomized"
	case Deterministic:
		return "deterministic"
	}
	return "Mode(" + fmt.Sprint(int(m)) + ")"
}

// Fields maps dotted field paths ("email", "profile.phone") of one
// collection to how they are encrypted. A path must not lie inside
// another; the value at a path (any JSON value, maps and arrays included)
// is encrypted as one.
type Fields map[string]Mode

// Config configures New.
type Config struct {
	// KEK wraps the data keys. Required.
	KEK KEK
	// PreviousKEKs unwrap data keysets that are still wrapped by an
	// earlier KEK (matched by ID), so processes keep reading during a
	// Rewrap to a new KEK.
	PreviousKEKs []KEK
	// Collections lists the encrypted fields of each collection.
	// Collections not listed pass through untouched.
	Collections map[string]Fields
	// KeysCollection is where the wrapped data keysets are stored in the
	// same database; "" means DefaultKeysCollection. Calls through this
	// layer cannot read or write it except in the stored form of backups
	// (dbservice.WithStoredForm).
	KeysCollection string
	// CacheTTL is how long unwrapped data keys are used before their
	// stored keyset is read again; 0 means DefaultCacheTTL. Re-reading an
	// unchanged keyset does not call the KEK.
	CacheTTL time.Duration
}

// Service is a dbservice.Service that encrypts the configured fields
// before they reach next and decrypts them on the way back. It also
// implements dbservice.BulkWriter, dbservice.Explainer,
// dbservice.Wrapper and dbservice.PostureChecker.
type Service struct {
	next     dbservice.Service
	specs    map[string][]fieldSpec
	keysColl string
	ttl      time.Duration
	now      func() time.Time

	mu       sync.Mutex
	kek      KEK
	previous []KEK
	rings    map[string]*keyring

	loads singleflight.Group

	seen seenFields
}

type fieldSpec struct {
	path  string
	names []string
	mode  Mode
}

var (
	_ dbservice.Service        = (*Service)(nil)
	_ dbservice.BulkWriter     = (*Service)(nil)
	_ dbservice.Wrapper        = (*Service)(nil)
	_ dbservice.PostureChecker = (*Service)(nil)
	_ dbservice.Explainer      = (*Service)(nil)
)

// New returns a Service that encrypts the fields cfg names on their way to
// next. Place it under dbservice.Guard (and under security rules, which
// must see plaintext):
//
//	svc := dbservice.Guard(fieldcrypt.New(provider, cfg), policy)
//
// A configuration error is ErrInvalid; New makes no network call. Data
// keys are made on the first write to a collection.
func New(next dbservice.Service, cfg Config) (*Service, error) {
	bad := func(field, reason string) error {
		return dbservice.NewError("open", provider, "", "", &validate.Error{Field: field, Reason: reason})
	}
	if next == nil {
		return nil, bad("next", "a Service to wrap is required")
	}
	if cfg.KEK == nil {
		return nil, bad("Config.KEK", "a key-encryption key is required")
	}
	if cfg.CacheTTL < 0 {
		return nil, bad("Config.CacheTTL", "must not be negative")
	}
	s := &Service{
		next: next, specs: map[string][]fieldSpec{}, keysColl: cfg.KeysCollection, ttl: cfg.CacheTTL,
		now: time.Now, kek: cfg.KEK, previous: slices.Clone(cfg.PreviousKEKs), rings: map[string]*keyring{},
	}
	if s.keysColl == "" {
		s.keysColl = DefaultKeysCollection
	}
	if s.ttl == 0 {
		s.ttl = DefaultCacheTTL
	}
	if err := dbservice.CheckCollection(s.keysColl); err != nil {
		return nil, bad("Config.KeysCollection", "not a valid collection name")
	}
	for _, k := range s.previous {
		if k == nil {
			return nil, bad("Config.PreviousKEKs", "holds a nil KEK")
		}
	}
	for coll, fields := range cfg.Collections {
		if err := dbservice.CheckCollection(coll); err != nil {
			return nil, bad("Config.Collections", "holds an invalid collection name")
		}
		if coll == s.keysColl {
			return nil, bad("Config.Collections", "names the keys collection")
		}
		var specs []fieldSpec
		for path, mode := range fields {
			if mode != Randomized && mode != Deterministic {
				return nil, bad("Config.Collections["+coll+"]", "field "+path+" has no mode (Randomized or Deterministic)")
			}
			if err := validate.FieldPath(path); err != nil || path == "_id" || path[0] == '_' {
				return nil, bad("Config.Collections["+coll+"]", "holds an invalid field path")
			}
			specs = append(specs, fieldSpec{path: path, names: dbservice.SplitPath(path), mode: mode})
		}
		sort.Slice(specs, func(i, j int) bool { return specs[i].path < specs[j].path })
		for i, a := range specs {
			for _, b := range specs[:i] {
				if within(a.names, b.names) || within(b.names, a.names) {
					return nil, bad("Config.Collections["+coll+"]", "field "+a.path+" overlaps "+b.path)
				}
			}
		}
		if len(specs) > 0 {
			s.specs[coll] = specs
		}
	}
	return s, nil
}

// within reports whether path inner equals outer or lies inside it.
func within(inner, outer []string) bool {
	return len(inner) >= len(outer) && slices.Equal(inner[:len(outer)], outer)
}

// Unwrap implements dbservice.Wrapper.
func (s *Service) Unwrap() dbservice.Service { return s.next }

func (s *Service) currentKEK() KEK {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kek
}

// kekFor returns the KEK with the given ID: the current one or a previous
// one. An unknown ID gives the current KEK, whose unwrap then fails.
func (s *Service) kekFor(id string) KEK {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" || s.kek.ID() == id {
		return s.kek
	}
	for _, k := range s.previous {
		if k.ID() == id {
			return k
		}
	}
	return s.kek
}

var errNoKeys = errors.New("no data keys")

// ring returns the collection's data keys from the cache, or reads (and,
// with create, makes) them; concurrent callers share one load.
func (s *Service) ring(ctx context.Context, coll string, create bool) (*keyring, error) {
	s.mu.Lock()
	r := s.rings[coll]
	s.mu.Unlock()
	if r != nil && s.now().Sub(r.loaded) < s.ttl {
		return r, nil
	}
	key := coll
	if create {
		key += "\x00create"
	}
	v, err, _ := s.loads.Do(key, func() (any, error) {
		nr, err := s.load(ctx, coll, create, r)
		if err != nil {
			if r != nil && !errors.Is(err, errNoKeys) {
				// The store or the KEK failed on a refresh: the keys in
				// hand still decrypt what they always did. Try again
				// after another TTL rather than on every call.
				stale := *r
				stale.loaded = s.now()
				s.mu.Lock()
				s.rings[coll] = &stale
				s.mu.Unlock()
				return &stale, nil
			}
			return nil, err
		}
		s.mu.Lock()
		s.rings[coll] = nr
		s.mu.Unlock()
		return nr, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*keyring), nil
}

func (s *Service) load(ctx context.Context, coll string, create bool, cached *keyring) (*keyring, error) {
	d, err := s.next.Get(ctx, s.keysColl, coll)
	switch {
	case errors.Is(err, dbservice.ErrNotFound):
		if !create {
			return nil, errNoKeys
		}
		return s.create(ctx, coll)
	case err != nil:
		return nil, err
	}
	k, err := parseStoredKeys(coll, d)
	if err != nil {
		return nil, err
	}
	if cached != nil && cached.wrappedAEAD == k.aead && cached.wrappedDAEAD == k.daead {
		nr := *cached
		nr.loaded = s.now()
		return &nr, nil
	}
	return s.ringFrom(ctx, coll, k)
}

func (s *Service) ringFrom(ctx context.Context, coll string, k storedKeys) (*keyring, error) {
	kek := s.kekFor(k.kekID)
	a, err := unwrap(ctx, k.aead, kek, coll, "aead")
	if err != nil {
		return nil, err
	}
	d, err := unwrap(ctx, k.daead, kek, coll, "daead")
	if err != nil {
		return nil, err
	}
	r, err := newKeyring(a, d)
	if err != nil {
		return nil, fmt.Errorf("%w: the stored data keyset of this collection is unusable", ErrDecrypt)
	}
	r.wrappedAEAD, r.wrappedDAEAD, r.kekID, r.loaded = k.aead, k.daead, k.kekID, s.now()
	return r, nil
}

// create makes, wraps and stores the first data keys of coll. IfAbsent
// makes two processes that race agree on one keyset: the loser reads the
// winner's.
func (s *Service) create(ctx context.Context, coll string) (*keyring, error) {
	a, d, err := newKeysets()
	if err != nil {
		return nil, err
	}
	kek := s.currentKEK()
	k := storedKeys{kekKind: kek.Kind(), kekID: kek.ID()}
	if k.aead, err = wrap(ctx, a, kek, coll, "aead"); err != nil {
		return nil, err
	}
	if k.daead, err = wrap(ctx, d, kek, coll, "daead"); err != nil {
		return nil, err
	}
	_, err = s.next.Save(ctx, s.keysColl, coll, k.doc(coll, 1), dbservice.IfAbsent())
	if errors.Is(err, dbservice.ErrConflict) {
		return s.load(ctx, coll, false, nil)
	}
	if err != nil {
		return nil, err
	}
	r, err := newKeyring(a, d)
	if err != nil {
		return nil, err
	}
	r.wrappedAEAD, r.wrappedDAEAD, r.kekID, r.loaded = k.aead, k.daead, k.kekID, s.now()
	return r, nil
}

// encryptValue returns the stored text of v at path of document id.
func encryptValue(r *keyring, coll, id string, f fieldSpec, v any) (string, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return "", &validate.Error{Field: "doc." + f.path, Reason: "value cannot be encoded"}
	}
	var e envelope
	e.mode = f.mode
	if f.mode == Deterministic {
		e.keyID = r.daeadPrimary
		e.ct, err = r.daead.EncryptDeterministically(pt, associatedData(e.header(), coll, id, f.path, f.mode))
	} else {
		e.keyID = r.aeadPrimary
		e.ct, err = r.aead.Encrypt(pt, associatedData(e.header(), coll, id, f.path, f.mode))
	}
	if err != nil {
		return "", fmt.Errorf("encrypting field %s failed", f.path)
	}
	return e.String(), nil
}

// queryValues encrypts v under every deterministic key version, so an
// equality finds documents written before the last rotation too.
func queryValues(r *keyring, coll string, f fieldSpec, v any) ([]any, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return nil, &validate.Error{Field: "query." + f.path, Reason: "value cannot be encoded"}
	}
	out := make([]any, 0, len(r.perKey))
	for _, k := range r.perKey {
		e := envelope{mode: Deterministic, keyID: k.id}
		if e.ct, err = k.p.EncryptDeterministically(pt, associatedData(e.header(), coll, "", f.path, Deterministic)); err != nil {
			return nil, fmt.Errorf("encrypting the query value of field %s failed", f.path)
		}
		out = append(out, e.String())
	}
	return out, nil
}

func decryptValue(r *keyring, coll, id string, f fieldSpec, stored any) (any, error) {
	text, ok := stored.(string)
	if !ok {
		return nil, decryptErr(f, "holds no ciphertext")
	}
	e, err := parseEnvelope(text)
	if err != nil {
		return nil, decryptErr(f, "holds no ciphertext")
	}
	if e.mode != f.mode {
		return nil, decryptErr(f, "was encrypted in another mode")
	}
	if r == nil {
		return nil, decryptErr(f, "has no data keys in this database")
	}
	ad := associatedData(e.header(), coll, id, f.path, f.mode)
	var pt []byte
	if f.mode == Deterministic {
		pt, err = r.daead.DecryptDeterministically(e.ct, ad)
	} else {
		pt, err = r.aead.Decrypt(e.ct, ad)
	}
	if err != nil {
		return nil, decryptErr(f, "does not decrypt here: tampered, copied from another document or field, or under a key this service does not hold")
	}
	var v any
	if err := json.Unmarshal(pt, &v); err != nil {
		return nil, decryptErr(f, "decrypts to no JSON value")
	}
	return v, nil
}

func decryptErr(f fieldSpec, why string) error {
	return fmt.Errorf("%w: field %s %s", ErrDecrypt, f.path, why)
}

// lookup returns the value at names in doc, through maps only.
func lookup(doc map[string]any, names []string) (any, bool) {
	cur := doc
	for i, n := range names {
		v, ok := cur[n]
		if !ok {
			return nil, false
		}
		if i == len(names)-1 {
			return v, true
		}
		if cur, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// encryptDoc returns doc with the encrypted fields of coll replaced by
// their stored text. The subtrees that hold encrypted fields are first
// brought to the JSON data model, so that what is encrypted is what a
// provider would have stored (a number past 2^53 is refused, never
// rounded).
func (s *Service) encryptDoc(ctx context.Context, coll, id string, specs []fieldSpec, doc dbservice.Doc) (dbservice.Doc, error) {
	var out dbservice.Doc
	var r *keyring
	var normalized []string
	for _, f := range specs {
		top := f.names[0]
		v, ok := doc[top]
		if !ok {
			continue
		}
		if out == nil {
			out = maps.Clone(doc)
		}
		if !slices.Contains(normalized, top) {
			// Sanitize returns a deep copy: from here on the subtree is
			// this call's own and is changed in place.
			clean, err := validate.Sanitize(map[string]any{top: v}, validate.Limits{})
			if err != nil {
				return nil, err
			}
			out[top] = clean[top]
			normalized = append(normalized, top)
		}
		fv, ok := lookup(out, f.names)
		if !ok {
			continue
		}
		if r == nil {
			var err error
			if r, err = s.ring(ctx, coll, true); err != nil {
				return nil, err
			}
		}
		text, err := encryptValue(r, coll, id, f, fv)
		if err != nil {
			return nil, err
		}
		setIn(out, f.names, text)
	}
	if out == nil {
		return doc, nil
	}
	return out, nil
}

// decryptDoc decrypts the encrypted fields of doc in place (doc is the
// provider's copy, owned by this call).
func (s *Service) decryptDoc(ctx context.Context, coll string, specs []fieldSpec, doc dbservice.Doc) error {
	id, _ := doc["_id"].(string)
	var r *keyring
	loaded := false
	for _, f := range specs {
		stored, ok := lookup(doc, f.names)
		if !ok {
			continue
		}
		if !loaded {
			var err error
			r, err = s.ring(ctx, coll, false)
			if err != nil && !errors.Is(err, errNoKeys) {
				return err
			}
			loaded = true
		}
		v, err := decryptValue(r, coll, id, f, stored)
		if err != nil {
			return err
		}
		setIn(doc, f.names, v)
	}
	return nil
}

// setIn sets an existing path in place.
func setIn(doc map[string]any, names []string, v any) {
	for _, n := range names[:len(names)-1] {
		doc = doc[n].(map[string]any)
	}
	doc[names[len(names)-1]] = v
}

// checkStored refuses a stored-form write whose encrypted fields hold
// anything but well-formed ciphertext of their mode: a restore never
// writes plaintext where ciphertext belongs.
func checkStored(specs []fieldSpec, doc dbservice.Doc) error {
	for _, f := range specs {
		v, ok := lookup(doc, f.names)
		if !ok {
			continue
		}
		text, _ := v.(string)
		e, err := parseEnvelope(text)
		if err != nil || e.mode != f.mode {
			return &validate.Error{Field: "doc." + f.path, Reason: "an encrypted field must hold its ciphertext in the stored form; refusing to store it unencrypted"}
		}
	}
	return nil
}

// Layer implements driver.FieldLayer, so a Config can be given to
// securedb.Config.FieldEncryption: it returns New(next, c).
func (c Config) Layer(next dbservice.Service) (dbservice.Service, error) {
	return New(next, c)
}
