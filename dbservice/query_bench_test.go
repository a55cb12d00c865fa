package dbservice_test

import (
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// benchCursorState has the shape of the DynamoDB provider's cursor state
// at the end of a page read from an index: the index name and the full
// index key the page ended at.
type benchCursorState struct {
	After string `json:"k,omitempty"`
	X     string `json:"x,omitempty"`
	F     string `json:"f,omitempty"`
	In    bool   `json:"i,omitempty"`
}

// benchEqQuery is an eq page as a provider holds it after CheckQueryWith.
func benchEqQuery(b *testing.B) dbservice.Query {
	q, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "team-11")}, Limit: 10})
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// BenchmarkCursorEncode is the signer's share of every full page: one
// Encode of an index position.
func BenchmarkCursorEncode(b *testing.B) {
	s, err := dbservice.NewCursorSigner([]byte(cursorKeyCanary))
	if err != nil {
		b.Fatal(err)
	}
	q := benchEqQuery(b)
	st := benchCursorState{X: "by_team", F: "5team-11 $ $5d000111 $ $"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Encode("agents", q, st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCursorDecode is the signer's share of every page after the
// first: one Decode of the cursor Encode made.
func BenchmarkCursorDecode(b *testing.B) {
	s, err := dbservice.NewCursorSigner([]byte(cursorKeyCanary))
	if err != nil {
		b.Fatal(err)
	}
	q := benchEqQuery(b)
	c, err := s.Encode("agents", q, benchCursorState{X: "by_team", F: "5team-11 $ $5d000111 $ $"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var st benchCursorState
		if err := s.Decode("agents", q, c, &st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckQueryWith is the check a provider's Query starts with, on
// an eq page as a caller writes it.
func BenchmarkCheckQueryWith(b *testing.B) {
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "team-11")}, Limit: 10}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dbservice.CheckQueryWith(q, validate.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchItem is the check a provider makes of every item it reads
// (an eq page of 10 makes it ten times): Expired, then Match against the
// query's conditions.
func BenchmarkMatchItem(b *testing.B) {
	doc := dbservice.Doc{"_id": "d000111", "_rev": "2VbX7sozEHVzWdnu", "created_at": "2026-01-01T00:01:51.000000000Z",
		"name": "agent 111", "score": 107.0, "team": "team-11"}
	q := benchEqQuery(b)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if dbservice.Expired(doc, now) || !dbservice.Match(doc, q.Where) {
			b.Fatal("the item does not match")
		}
	}
}
