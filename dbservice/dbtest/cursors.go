package dbtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

// unkeyedCursor mints a cursor the way this library did before cursors
// were signed: base64url(JSON{"q": unkeyed fingerprint, "s": state}).
// Anyone could compute it; a provider must refuse it.
func unkeyedCursor(coll string, q dbservice.Query, state any) string {
	h := sha256.New()
	h.Write([]byte(coll))
	h.Write([]byte{0})
	b, _ := json.Marshal(struct {
		W []dbservice.Cond
		F []string
	}{q.Where, q.Fields})
	h.Write(b)
	s, _ := json.Marshal(state)
	env, _ := json.Marshal(struct {
		Q string          `json:"q"`
		S json.RawMessage `json:"s"`
	}{hex.EncodeToString(h.Sum(nil)[:12]), s})
	return base64.RawURLEncoding.EncodeToString(env)
}

// testForgedCursors: a cursor is only ever one the provider issued, for
// this collection and query, under its key. One minted without a key, one
// signed with another key, and a genuine one with any byte changed are all
// ErrInvalid; the genuine one still works.
func testForgedCursors(t *testing.T, s dbservice.Service) {
	coll := Collection(t)
	for i := range 5 {
		mustSave(t, s, coll, idN(i), dbservice.Doc{"i": i})
	}
	q := dbservice.Query{Limit: 2}
	p, err := s.Query(ctx(t), coll, q)
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %v, next %q", err, p.Next)
	}
	genuine := p.Next
	q.Cursor = genuine
	if p2, err := s.Query(ctx(t), coll, q); err != nil || len(p2.Docs) != 2 {
		t.Fatalf("second page with the genuine cursor: %d documents, %v", len(p2.Docs), err)
	}

	// Every provider's position field, so the state itself is well formed
	// whatever the provider calls it.
	state := map[string]string{"a": idN(0), "k": idN(0)}
	refused := func(what, cursor string) {
		t.Helper()
		q := dbservice.Query{Limit: 2, Cursor: cursor}
		_, err := s.Query(ctx(t), coll, q)
		wantErr(t, what, err, dbservice.ErrInvalid)
	}
	refused("a cursor minted with the old unkeyed fingerprint", unkeyedCursor(coll, dbservice.Query{Limit: 2}, state))

	var otherKey [32]byte
	if _, err := rand.Read(otherKey[:]); err != nil {
		t.Fatal(err)
	}
	foreign, err := dbservice.NewCursorSigner(otherKey[:])
	if err != nil {
		t.Fatal(err)
	}
	c, err := foreign.Encode(coll, dbservice.Query{Limit: 2}, state)
	if err != nil {
		t.Fatal(err)
	}
	refused("a cursor signed with another key", c)

	raw, err := base64.RawURLEncoding.DecodeString(genuine)
	if err != nil {
		t.Fatalf("the genuine cursor is not base64url: %v", err)
	}
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x01
		refused(fmt.Sprintf("the genuine cursor with byte %d of %d flipped", i, len(raw)), base64.RawURLEncoding.EncodeToString(bad))
	}
	refused("the genuine cursor with its last byte cut", base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]))
	refused("the genuine cursor with a byte appended", base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)))
	_, err = s.Query(ctx(t), Collection(t), dbservice.Query{Limit: 2, Cursor: genuine})
	wantErr(t, "the genuine cursor on another collection", err, dbservice.ErrInvalid)
}
