package firestore

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/genproto/googleapis/type/latlng"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

func TestNestedArraysAreWrappedAndUnwrapped(t *testing.T) {
	cases := []struct {
		name   string
		doc    dbservice.Doc
		stored map[string]any // what Firestore receives
	}{
		{"a flat array stays an array",
			dbservice.Doc{"a": []any{1.0, "x"}},
			map[string]any{"a": []any{1.0, "x"}}},
		{"an array in an array becomes a map",
			dbservice.Doc{"a": []any{1.0, []any{"two"}}},
			map[string]any{"a": []any{1.0, map[string]any{arrayKey: []any{"two"}}}}},
		{"every level of nesting is wrapped",
			dbservice.Doc{"a": []any{[]any{[]any{}}}},
			map[string]any{"a": []any{map[string]any{arrayKey: []any{map[string]any{arrayKey: []any{}}}}}}},
		{"arrays in maps in arrays are not wrapped",
			dbservice.Doc{"a": []any{map[string]any{"b": []any{1.0}}}},
			map[string]any{"a": []any{map[string]any{"b": []any{1.0}}}}},
		{"nested arrays inside maps are found",
			dbservice.Doc{"m": map[string]any{"grid": []any{[]any{1.0, 2.0}, []any{3.0, 4.0}}}},
			map[string]any{"m": map[string]any{"grid": []any{map[string]any{arrayKey: []any{1.0, 2.0}}, map[string]any{arrayKey: []any{3.0, 4.0}}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := dbservice.NormalizeDoc(c.doc, validate.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want := dbservice.Clone(in)
			stored, err := encodeDoc("coll", "id", in)
			if err != nil {
				t.Fatalf("encodeDoc: %v", err)
			}
			if !reflect.DeepEqual(stored, c.stored) {
				t.Fatalf("stored form = %#v, want %#v", stored, c.stored)
			}
			back, err := decodeData(dbservice.Clone(stored))
			if err != nil {
				t.Fatalf("decodeData: %v", err)
			}
			if !reflect.DeepEqual(back, want) {
				t.Fatalf("decoded = %#v, want %#v", back, want)
			}
		})
	}
}

func TestAWrapperOutsideAnArrayIsAnOrdinaryMap(t *testing.T) {
	// Only another writer could store this key; outside an array it is
	// not ours, so it is left alone.
	got, err := decodeData(map[string]any{"m": map[string]any{arrayKey: []any{1.0}}})
	if err != nil {
		t.Fatal(err)
	}
	want := dbservice.Doc{"m": map[string]any{arrayKey: []any{1.0}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded = %#v, want %#v", got, want)
	}
}

// nest returns v wrapped in n containers, alternating maps and arrays when
// mixed, else arrays only.
func nest(v any, n int, mixed bool) any {
	for i := range n {
		if mixed && i%2 == 1 {
			v = map[string]any{"m": v}
		} else {
			v = []any{v}
		}
	}
	return v
}

func TestEncodingRefusesWhatFirestoreWouldRefuse(t *testing.T) {
	nestedMaps := func(n int) any {
		var v any = 1.0
		for range n {
			v = map[string]any{"m": v}
		}
		return v
	}
	cases := []struct {
		name string
		doc  map[string]any
		ok   bool
	}{
		{"20 maps below a field fit", map[string]any{"f": nestedMaps(20)}, true},
		{"21 maps below a field do not", map[string]any{"f": nestedMaps(21)}, false},
		{"maps and arrays alternating count alike", map[string]any{"f": nest(1.0, 21, true)}, false},
		{"10 arrays nested in each other fit with their wrappers", map[string]any{"f": nest(1.0, 10, false)}, true},
		{"11 arrays nested in each other need 21 levels", map[string]any{"f": nest(1.0, 11, false)}, false},
		{"a string of 1048487 bytes fits", map[string]any{"s": strings.Repeat("a", maxValueBytes-100)}, true},
		{"a string over 1048487 bytes does not", map[string]any{"s": strings.Repeat("a", maxValueBytes+1)}, false},
		{"a document over 1 MiB does not", map[string]any{"a": strings.Repeat("a", 600000), "b": strings.Repeat("b", 600000)}, false},
		{"a reserved field name does not", map[string]any{"__name__": 1.0}, false},
		{"a reserved nested field name does not", map[string]any{"m": map[string]any{"__x__": 1.0}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := encodeDoc("coll", "id", c.doc)
			switch {
			case c.ok && err != nil:
				t.Fatalf("encodeDoc: %v", err)
			case !c.ok && !errors.Is(err, dbservice.ErrInvalid):
				t.Fatalf("encodeDoc = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestTheDocumentNameCountsTowardsTheSize(t *testing.T) {
	// 1 MiB minus the fixed overheads leaves room for a value exactly as
	// big as the name is short.
	id := strings.Repeat("i", 100)
	room := maxDocBytes - 32 - nameSize("coll", id) - (len("s") + 1) - 1
	if _, err := encodeDoc("coll", id, map[string]any{"s": strings.Repeat("a", min(room, maxValueBytes))}); err != nil {
		t.Fatalf("a document of exactly the limit: %v", err)
	}
	longer := strings.Repeat("i", 1000)
	if _, err := encodeDoc("coll", longer, map[string]any{"a": strings.Repeat("a", 600000), "b": strings.Repeat("b", 448400)}); !errors.Is(err, dbservice.ErrInvalid) {
		t.Fatalf("a document pushed over the limit by its name = %v, want ErrInvalid", err)
	}
}

func TestValuesOtherWritersStoreComeBackAsJSON(t *testing.T) {
	when := time.Date(2026, 11, 22, 23, 40, 12, 123456000, time.UTC)
	got, err := decodeData(map[string]any{
		"int":    int64(42),
		"time":   when,
		"bytes":  []byte("hi"),
		"geo":    &latlng.LatLng{Latitude: 52.5, Longitude: 13.4},
		"vec":    firestore.Vector64{1, 2.5},
		"vec32":  firestore.Vector32{0.5},
		"nested": map[string]any{"list": []any{int64(1), when}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := dbservice.Doc{
		"int":    42.0,
		"time":   "2026-11-22T23:40:12.123456000Z",
		"bytes":  "aGk=",
		"geo":    map[string]any{"latitude": 52.5, "longitude": 13.4},
		"vec":    []any{1.0, 2.5},
		"vec32":  []any{0.5},
		"nested": map[string]any{"list": []any{1.0, "2026-11-22T23:40:12.123456000Z"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded = %#v, want %#v", got, want)
	}
	_, err = decodeData(map[string]any{"odd": firestore.BSONMinKey{}})
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("a value without a JSON form = %v, want ErrUnavailable", err)
	}
}

func TestRevisions(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 23, 40, 12, 123456000, time.UTC)
	rev := encodeRev(t0)
	if got, ok := decodeRev(rev); !ok || !got.Equal(t0) {
		t.Fatalf("decodeRev(encodeRev(%v)) = %v, %v", t0, got, ok)
	}
	for _, bad := range []string{
		"", "0", "-" + rev, "+" + rev, strings.ToUpper(rev), "0" + rev, rev + "!", "1-notarevision",
		"zzzzzzzzzzzzzz", "1y2p0ij32e8e8", "1y2p0ij32e8e7x",
	} {
		if _, ok := decodeRev(bad); ok {
			t.Errorf("decodeRev(%q) accepted a revision this provider never issues", bad)
		}
	}
}

func FuzzDecodeRev(f *testing.F) {
	f.Add(encodeRev(time.Now()))
	f.Add("1-notarevision")
	f.Add("0")
	f.Fuzz(func(t *testing.T, rev string) {
		tm, ok := decodeRev(rev)
		if ok && encodeRev(tm) != rev {
			t.Fatalf("decodeRev(%q) = %v, which encodes as %q", rev, tm, encodeRev(tm))
		}
	})
}

// FuzzNestedArrayCodec stores arbitrary JSON documents the way Save does
// and reads them back the way Get does: what Firestore receives never has
// an array directly in an array, and what comes back equals what went in.
func FuzzNestedArrayCodec(f *testing.F) {
	f.Add(`{"list":["x",1,true,null,{"k":"v"},[1,["two"]]]}`)
	f.Add(`{"a":[[[]]],"b":{"c":[[1],[2,[3]]]}}`)
	f.Add(`{"m":{"securedb":[1]}}`)
	f.Fuzz(func(t *testing.T, text string) {
		var doc map[string]any
		if json.Unmarshal([]byte(text), &doc) != nil {
			return
		}
		nd, err := dbservice.NormalizeDoc(doc, validate.Limits{})
		if err != nil {
			return
		}
		want := dbservice.Clone(nd)
		stored, err := encodeDoc("coll", "id", nd)
		if err != nil {
			if !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("encodeDoc: %v, want nil or ErrInvalid", err)
			}
			return
		}
		if arrayInArray(stored, false) {
			t.Fatalf("stored form has an array directly in an array: %#v", stored)
		}
		back, err := decodeData(dbservice.Clone(stored))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("round trip = %#v, want %#v", back, want)
		}
	})
}

func arrayInArray(v any, inArray bool) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if arrayInArray(e, false) {
				return true
			}
		}
	case []any:
		if inArray {
			return true
		}
		for _, e := range x {
			if arrayInArray(e, true) {
				return true
			}
		}
	}
	return false
}

// TestTheWrapperKeyIsRefusedInCallerDocuments: even where names with '.'
// are allowed, a caller's map keyed by the wrapper's name would come back
// as a nested array, so encodeDoc refuses it at any depth.
func TestTheWrapperKeyIsRefusedInCallerDocuments(t *testing.T) {
	for _, doc := range []dbservice.Doc{
		{"list": []any{map[string]any{arrayKey: []any{1.0}}}},
		{"m": map[string]any{"n": map[string]any{arrayKey: "x"}}},
	} {
		if _, err := encodeDoc("c", "id", doc); !errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("encodeDoc(%v): %v, want ErrInvalid", doc, err)
		}
	}
}
