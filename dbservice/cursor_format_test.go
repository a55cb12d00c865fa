package dbservice_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
)

// pinnedCursorCase is a cursor as a provider makes one: a collection, the
// query as the caller wrote it (CheckQuery normalizes it first) and a
// state of the shape some provider keeps.
type pinnedCursorCase struct {
	name  string
	coll  string
	q     dbservice.Query
	state benchCursorState
}

func pinnedCursorCases() []pinnedCursorCase {
	eq := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "team-11")}, Limit: 10}
	return []pinnedCursorCase{
		{"an eq page of an index", "agents", eq, benchCursorState{X: "by_team", F: "5team-11 $ $5d000111 $ $"}},
		{"a scan page", "agents", dbservice.Query{}, benchCursorState{After: "d000111"}},
		{"a state JSON escapes", "agents", eq, benchCursorState{After: "a<b&c>\u00e9\u2028"}},
		{"a page that starts at its key", "agents", eq, benchCursorState{X: "by_team", F: "5team-11 $ $", In: true}},
		{"a query of every kind of condition, projected and ordered", "agents_2026", dbservice.Query{
			Where: []dbservice.Cond{
				dbservice.Where("score", dbservice.Gt, 900),
				dbservice.Where("owner.team", dbservice.In, []string{"a", "b\u00e9", "<&>"}),
				dbservice.Where("active", dbservice.Exists, true),
				dbservice.Where("gone", dbservice.Eq, nil),
				dbservice.Where("created", dbservice.Lt, time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)),
				dbservice.Where("name", dbservice.Prefix, "ag\"ent\\"),
				dbservice.Where("ratio", dbservice.Ne, 0.1),
			},
			OrderBy: []dbservice.Order{dbservice.Desc("score"), dbservice.Asc("_id")},
			Fields:  []string{"name", "owner.team"},
			Limit:   3,
		}, benchCursorState{After: "x", X: "ix", F: strings.Repeat("k", 130)}},
	}
}

// pinnedCursors were made by the signer of securedb before its tag reused
// HMAC state (commit 8d74012), under cursorKeyCanary. Cursors already
// handed to clients must keep paging, and two versions of the service
// behind one load balancer must accept each other's cursors: a change of
// these strings is a change of the cursor format.
var pinnedCursors = map[string]string{
	"an eq page of an index":        "eyJ4IjoiYnlfdGVhbSIsImYiOiI1dGVhbS0xMSAkICQ1ZDAwMDExMSAkICQifdA0_PrkFbLN6aCzQTxBWtDpMD-3XEFthWeexeQNMPKX",
	"a scan page":                   "eyJrIjoiZDAwMDExMSJ9H8dRTvWBhk5ULPTVikSBtfu-3a2hENmChEnuteYcc18",
	"a state JSON escapes":          "eyJrIjoiYVx1MDAzY2JcdTAwMjZjXHUwMDNlw6lcdTIwMjgifZYTezW6kxVrzBQCI6Q-a4slF1kTgCsuuKnx2I-QVoJ-",
	"a page that starts at its key": "eyJ4IjoiYnlfdGVhbSIsImYiOiI1dGVhbS0xMSAkICQiLCJpIjp0cnVlfalA1aqiWejwTNzvG9Lu4C3_oyOGG-ToCUMbopQhYwMq",
	"a query of every kind of condition, projected and ordered": "eyJrIjoieCIsIngiOiJpeCIsImYiOiJra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2trIn2homVbdSwI0wu4K7deFnycTS5Z0R40RNq3dvhhTuzhyg",
}

// TestCursorFormatIsPinned: Encode gives, byte for byte, the cursors an
// earlier version gave for the same key, collection, query and state, and
// Decode reads them back.
func TestCursorFormatIsPinned(t *testing.T) {
	s, err := dbservice.NewCursorSigner([]byte(cursorKeyCanary))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pinnedCursorCases() {
		t.Run(c.name, func(t *testing.T) {
			want, ok := pinnedCursors[c.name]
			if !ok {
				t.Fatal("no pinned cursor")
			}
			q, err := dbservice.CheckQuery(c.q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Encode(c.coll, q, c.state)
			if err != nil || got != want {
				t.Fatalf("Encode = %q, %v; want %q", got, err, want)
			}
			var st benchCursorState
			if err := s.Decode(c.coll, q, want, &st); err != nil || st != c.state {
				t.Fatalf("Decode = %+v, %v; want %+v", st, err, c.state)
			}
			if err := s.Decode(c.coll+"x", q, want, &st); !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("Decode for another collection: %v, want ErrInvalid", err)
			}
		})
	}
}

// refCursor is the cursor construction of the pinned version, written out
// as it was: base64url(state JSON ‖ HMAC-SHA256(key, "len:part" for the
// context, the collection, the query JSON and the state JSON)).
func refCursor(key []byte, collection string, q dbservice.Query, state any) string {
	payload, err := json.Marshal(state)
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	qj, _ := json.Marshal(struct {
		W []dbservice.Cond
		F []string
		O []dbservice.Order `json:",omitempty"`
	}{q.Where, q.Fields, q.OrderBy})
	for _, part := range [][]byte{[]byte("securedb cursor v1"), []byte(collection), qj, payload} {
		m.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		m.Write([]byte{':'})
		m.Write(part)
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(payload))
}

// TestCursorsMatchTheReferenceConstruction: over many collections,
// queries and states (lengths crossing every digit count of the length
// prefixes), and from many goroutines at once (the signer reuses HMAC
// state), Encode gives the reference construction's cursor.
func TestCursorsMatchTheReferenceConstruction(t *testing.T) {
	key := []byte(cursorKeyCanary)
	s, err := dbservice.NewCursorSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		coll  string
		q     dbservice.Query
		state any
	}
	var jobs []job
	for i := range 300 {
		q, err := dbservice.CheckQuery(dbservice.Query{
			Where:  []dbservice.Cond{dbservice.Where("f"+strconv.Itoa(i%7), dbservice.Eq, strings.Repeat("v", i))},
			Fields: []string{"a", "b"}[:i%3],
			Limit:  1 + i%50,
		})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{"c" + strings.Repeat("o", i%90), q, benchCursorState{After: strings.Repeat("<", i%11), F: strings.Repeat("k", i*4), In: i%2 == 0}})
		jobs = append(jobs, job{"agents", dbservice.Query{Limit: 10}, map[string]any{"p": []any{float64(i), "x"}}})
	}
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := w; i < len(jobs); i += 4 {
				j := jobs[i]
				got, err := s.Encode(j.coll, j.q, j.state)
				if want := refCursor(key, j.coll, j.q, j.state); err != nil || got != want {
					errs <- fmt.Errorf("job %d: Encode = %q, %v; want %q", i, got, err, want)
					return
				}
				var st any
				if err := s.Decode(j.coll, j.q, got, &st); err != nil {
					errs <- fmt.Errorf("job %d: Decode: %v", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
