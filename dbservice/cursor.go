package dbservice

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/securedb-go/securedb/validate"
)

// A cursor is base64url(JSON{"q": fingerprint, "s": provider state}). The
// fingerprint binds it to one collection and one query (conditions and
// projection, not the page size), so a cursor replayed against another
// query is refused instead of silently returning the wrong documents.

type cursorEnvelope struct {
	Q string          `json:"q"`
	S json.RawMessage `json:"s"`
}

// EncodeCursor returns an opaque cursor holding state (any JSON-encodable
// provider position) for collection and q.
func EncodeCursor(collection string, q Query, state any) (string, error) {
	s, err := json.Marshal(state)
	if err != nil {
		return "", err
	}
	env, err := json.Marshal(cursorEnvelope{Q: fingerprint(collection, q), S: s})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(env), nil
}

// DecodeCursor reads a cursor made by EncodeCursor for the same collection
// and query into state. Anything else is ErrInvalid. Providers must still
// validate the state's contents (an ID in it, for example), since a client
// can craft a well-formed cursor.
func DecodeCursor(collection string, q Query, cursor string, state any) error {
	bad := &validate.Error{Field: "query.cursor", Reason: "not a cursor this library issued"}
	if err := validate.Cursor(cursor); err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return bad
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var env cursorEnvelope
	if err := dec.Decode(&env); err != nil || dec.More() {
		return bad
	}
	if env.Q != fingerprint(collection, q) {
		return &validate.Error{Field: "query.cursor", Reason: "cursor belongs to another query or collection"}
	}
	if err := json.Unmarshal(env.S, state); err != nil {
		return bad
	}
	return nil
}

func fingerprint(collection string, q Query) string {
	h := sha256.New()
	h.Write([]byte(collection))
	h.Write([]byte{0})
	// Conditions and fields are already validated and normalized, so their
	// JSON encoding is deterministic.
	b, _ := json.Marshal(struct {
		W []Cond
		F []string
		O []Order `json:",omitempty"`
	}{q.Where, q.Fields, q.OrderBy})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:12])
}
