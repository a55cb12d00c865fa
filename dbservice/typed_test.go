package dbservice_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/validate"
)

type session struct {
	ID      string    `json:"_id"`
	Rev     string    `json:"_rev"`
	Expires time.Time `json:"_expires"`
	User    string    `json:"user"`
}

// System fields reach the tagged fields of every typed helper, and a
// document that does not fit stops AllAs with ErrInvalid naming the field.
func TestTypedHelpersReceiveSystemFields(t *testing.T) {
	ctx := t.Context()
	db := memory.New()
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	rev, err := dbservice.SaveAs(ctx, db, "sessions", "s1", session{User: "u1", ID: "ignored", Expires: time.Unix(0, 0)}, dbservice.ExpiresAt(at))
	if err != nil {
		t.Fatal(err)
	}
	want := session{ID: "s1", Rev: rev, Expires: at, User: "u1"}
	check := func(what string, got session) {
		t.Helper()
		if got.ID != want.ID || got.Rev != want.Rev || !got.Expires.Equal(want.Expires) || got.User != want.User {
			t.Errorf("%s = %+v, want %+v", what, got, want)
		}
	}
	got, err := dbservice.GetAs[session](ctx, db, "sessions", "s1")
	if err != nil {
		t.Fatal(err)
	}
	check("GetAs", got)
	many, missing, err := dbservice.GetManyAs[session](ctx, db, "sessions", []string{"s0", "s1"})
	if err != nil || len(many) != 1 || len(missing) != 1 || missing[0] != "s0" {
		t.Fatalf("GetManyAs = %v, %v, %v", many, missing, err)
	}
	check("GetManyAs", many[0])
	page, err := dbservice.QueryAs[session](ctx, db, "sessions", dbservice.Query{})
	if err != nil || len(page.Items) != 1 || page.Stats.Returned != 1 {
		t.Fatalf("QueryAs = %+v, %v", page, err)
	}
	check("QueryAs", page.Items[0])

	if _, err := db.Save(ctx, "sessions", "s2", dbservice.Doc{"user": 7.0}); err != nil {
		t.Fatal(err)
	}
	n := 0
	var last error
	for s, err := range dbservice.AllAs[session](ctx, db, "sessions", dbservice.Query{Limit: 1}) {
		if err != nil {
			last = err
			if s != (session{}) {
				t.Errorf("AllAs yielded %+v with its error, want the zero value", s)
			}
			continue
		}
		n++
	}
	var ve *validate.Error
	if n != 1 || !errors.Is(last, dbservice.ErrInvalid) || !errors.As(last, &ve) || ve.Reason != "document does not fit the type: field user cannot hold a number" {
		t.Errorf("AllAs: %d values, then %v", n, last)
	}
}

// TestTimesOfEarlierVersionsMigrate: the README's migration note holds.
// Earlier versions stored a time as encoding/json writes it (a fraction
// of any length, the caller's zone offset), which does not order as
// instants; reading such a document typed and saving it back stores
// validate.TimeLayout text, and a range then finds it exactly.
func TestTimesOfEarlierVersionsMigrate(t *testing.T) {
	ctx, s := t.Context(), memory.New()
	type event struct {
		At time.Time `json:"at"`
	}
	old := map[string]string{ // as earlier versions stored them
		"a": "2026-01-01T01:30:00+01:00", // 00:30 UTC: after
		"b": "2026-01-01T00:00:00.5Z",    // after
		"c": "2026-01-01T00:30:00+01:00", // 23:30 UTC the day before
		"d": "2026-01-01T00:00:00Z",      // the instant itself, not after it
	}
	for id, at := range old {
		if _, err := s.Save(ctx, "events", id, dbservice.Doc{"at": at}); err != nil {
			t.Fatal(err)
		}
	}
	since := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("at", dbservice.Gt, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}}
	ids := func() []string {
		var got []string
		for d, err := range dbservice.All(ctx, s, "events", since) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, d["_id"].(string))
		}
		slices.Sort(got)
		return got
	}
	if got := ids(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("before the migration at > 2026-01-01 finds %v; want the wrong [a b c d] that text order gives", got)
	}
	for id := range old {
		e, err := dbservice.GetAs[event](ctx, s, "events", id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dbservice.SaveAs(ctx, s, "events", id, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after the migration at > 2026-01-01 finds %v, want [a b]", got)
	}
	d, err := s.Get(ctx, "events", "a")
	if err != nil || d["at"] != "2026-01-01T00:30:00.000000000Z" {
		t.Fatalf("migrated a holds %v (%v), want validate.TimeLayout text in UTC", d["at"], err)
	}
}
