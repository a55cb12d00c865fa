package dbservice_test

import (
	"errors"
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
