package fieldcrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/securedb-go/securedb/dbservice"
)

// DefaultKeysCollection is where data keysets are stored, wrapped by the
// KEK, one document per encrypted collection (its ID is the collection's
// name).
const DefaultKeysCollection = "securedb_keys"

// DefaultCacheTTL is how long unwrapped data keys are used before the
// stored keyset is read again (to see a rotation by another process).
const DefaultCacheTTL = 5 * time.Minute

// keysFormat tags a stored keyset document.
const keysFormat = "sdbkeys:v1"

// keyring holds the unwrapped data keys of one collection.
type keyring struct {
	aead        tink.AEAD
	aeadPrimary uint32
	// daead decrypts under any key version; perKey encrypts under one,
	// so that a query value can be encrypted under every version still
	// present in stored documents.
	daead        tink.DeterministicAEAD
	daeadPrimary uint32
	perKey       []daeadVersion
	// wrapped is the stored form it was read from: an unchanged stored
	// keyset is reused without a KEK call.
	wrappedAEAD, wrappedDAEAD string
	kekID                     string
	versions                  int
	loaded                    time.Time
}

type daeadVersion struct {
	id uint32
	p  tink.DeterministicAEAD
}

// storedKeys is the document a keyset is stored as.
type storedKeys struct {
	aead, daead string // base64 of the wrapped Tink keysets
	kekKind     string
	kekID       string
	rev         string
}

func (k storedKeys) doc(collection string, versions int) dbservice.Doc {
	return dbservice.Doc{
		"format":     keysFormat,
		"collection": collection,
		"kek_kind":   k.kekKind,
		"kek_id":     k.kekID,
		"aead":       k.aead,
		"daead":      k.daead,
		"versions":   float64(versions),
	}
}

func parseStoredKeys(collection string, d dbservice.Doc) (storedKeys, error) {
	var k storedKeys
	str := func(name string) string { s, _ := d[name].(string); return s }
	if str("format") != keysFormat || str("collection") != collection || str("aead") == "" || str("daead") == "" {
		return k, fmt.Errorf("%w: the stored data keyset of this collection is malformed", ErrDecrypt)
	}
	k.aead, k.daead, k.kekKind, k.kekID = str("aead"), str("daead"), str("kek_kind"), str("kek_id")
	k.rev, _ = d["_rev"].(string)
	return k, nil
}

// wrapAD binds a wrapped keyset to its collection and primitive, so a
// stored keyset copied to another collection does not unwrap.
func wrapAD(collection, primitive string) []byte {
	var b []byte
	for _, p := range []string{"securedb fieldcrypt keyset v1", collection, primitive} {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

func wrap(ctx context.Context, h *keyset.Handle, kek KEK, collection, primitive string) (string, error) {
	var buf bytes.Buffer
	rec := &recordingKEK{ctx: ctx, kek: kek}
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), rec, wrapAD(collection, primitive)); err != nil {
		return "", kekError("wrapping the data keyset", rec.err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

func unwrap(ctx context.Context, s string, kek KEK, collection, primitive string) (*keyset.Handle, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: the stored data keyset of this collection is malformed", ErrDecrypt)
	}
	rec := &recordingKEK{ctx: ctx, kek: kek}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(raw)), rec, wrapAD(collection, primitive))
	if err != nil {
		return nil, kekError("unwrapping the data keyset", rec.err)
	}
	return h, nil
}

// recordingKEK keeps the KEK's own error, which Tink's keyset functions
// flatten into text: whether the KMS was unreachable must survive. It
// also carries the request's context to a KEK that takes one
// (tink.AEADWithContext), because Tink's keyset functions call the plain
// AEAD methods: a KMS call then ends with the caller's deadline instead
// of only the KEK's own timeout.
type recordingKEK struct {
	ctx context.Context
	kek KEK
	err error
}

func (r *recordingKEK) Encrypt(pt, ad []byte) ([]byte, error) {
	var ct []byte
	var err error
	if c, ok := r.kek.(tink.AEADWithContext); ok && r.ctx != nil {
		ct, err = c.EncryptWithContext(r.ctx, pt, ad)
	} else {
		ct, err = r.kek.Encrypt(pt, ad)
	}
	r.err = err
	return ct, err
}

func (r *recordingKEK) Decrypt(ct, ad []byte) ([]byte, error) {
	var pt []byte
	var err error
	if c, ok := r.kek.(tink.AEADWithContext); ok && r.ctx != nil {
		pt, err = c.DecryptWithContext(r.ctx, ct, ad)
	} else {
		pt, err = r.kek.Decrypt(ct, ad)
	}
	r.err = err
	return pt, err
}

// kekError keeps what a KEK failure means (unavailable, forbidden) and
// makes anything else (nil: the KEK answered, the keyset was bad) a
// decryption failure.
func kekError(what string, err error) error {
	switch {
	case err == nil:
	case errors.Is(err, dbservice.ErrUnavailable), errors.Is(err, dbservice.ErrForbidden),
		errors.Is(err, dbservice.ErrUnauthorized), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s with the KEK: %w", what, err)
	}
	return fmt.Errorf("%w: %s with the KEK failed", ErrDecrypt, what)
}

// newKeysets makes the first data keys of a collection.
func newKeysets() (a, d *keyset.Handle, err error) {
	if a, err = keyset.NewHandle(aead.AES256GCMKeyTemplate()); err != nil {
		return nil, nil, err
	}
	if d, err = keyset.NewHandle(daead.AESSIVKeyTemplate()); err != nil {
		return nil, nil, err
	}
	return a, d, nil
}

// addVersion returns h with a new primary key from its template.
func addVersion(h *keyset.Handle, deterministic bool) (*keyset.Handle, error) {
	m := keyset.NewManagerFromHandle(h)
	t := aead.AES256GCMKeyTemplate()
	if deterministic {
		t = daead.AESSIVKeyTemplate()
	}
	id, err := m.Add(t)
	if err != nil {
		return nil, err
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, err
	}
	return m.Handle()
}

func newKeyring(a, d *keyset.Handle) (*keyring, error) {
	r := &keyring{versions: a.Len()}
	var err error
	if r.aead, err = aead.New(a); err != nil {
		return nil, err
	}
	if r.daead, err = daead.New(d); err != nil {
		return nil, err
	}
	r.aeadPrimary = a.KeysetInfo().GetPrimaryKeyId()
	r.daeadPrimary = d.KeysetInfo().GetPrimaryKeyId()
	// The primary first: most stored values are under it.
	ids := []uint32{r.daeadPrimary}
	for _, ki := range d.KeysetInfo().GetKeyInfo() {
		if ki.GetKeyId() != r.daeadPrimary && ki.GetStatus().String() == "ENABLED" {
			ids = append(ids, ki.GetKeyId())
		}
	}
	for _, id := range ids {
		m := keyset.NewManagerFromHandle(d)
		if err := m.SetPrimary(id); err != nil {
			return nil, err
		}
		h, err := m.Handle()
		if err != nil {
			return nil, err
		}
		p, err := daead.New(h)
		if err != nil {
			return nil, err
		}
		r.perKey = append(r.perKey, daeadVersion{id: id, p: p})
	}
	return r, nil
}
