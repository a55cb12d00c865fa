package couchdb

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// cornerValues are values whose IndexKey the JavaScript map function must
// reproduce byte for byte: escapes, characters on both sides of the
// UTF-16/UTF-8 order difference, every number class, nesting.
func cornerValues() []any {
	strs := []any{"", "\x00", "\x01", "\x02", "a\x00b", "a\x01", "é", "\uffff", "😀", "\ue000", "\U0010ffff", "Zebra", "alpha", "a.b", `\`, `"q"`}
	nums := []any{0.0, math.Copysign(0, -1), 5e-324, -5e-324, 2.2250738585072014e-308, -1e300, 1e300, math.MaxFloat64, -math.MaxFloat64, float64(1 << 53), -float64(1 << 53), 1.5, -1.5, 42.0, -42.0}
	others := []any{nil, true, false,
		[]any{}, []any{"x", 1.0}, []any{[]any{}, []any{nil}}, []any{"\x00"},
		map[string]any{}, map[string]any{"b": 1.0, "a": 2.0},
		map[string]any{"\ue000": 1.0, "😀": 2.0, "é": 3.0, "z": []any{map[string]any{"\uffff": nil}}},
		map[string]any{"k": map[string]any{"\U0001f600": "\ue000"}},
	}
	return slices.Concat(strs, nums, others)
}

// TestViewKeysAreIndexKeys: the keys the server's map function emits are
// dbservice.IndexKey of the value and then of the ID, byte for byte, and
// the view returns them in Compare's order (raw collation).
func TestViewKeysAreIndexKeys(t *testing.T) {
	s := newServer(t)
	ctx, coll := t.Context(), dbtest.Collection(t)
	vals := cornerValues()
	want := map[string]string{}
	ids := []string{}
	for i, v := range vals {
		id := fmt.Sprintf("d%03d", i)
		if i%5 == 0 {
			id = "_" + id // stored as ~_...: the key holds the library's ID
		}
		if _, err := s.Save(ctx, coll, id, dbservice.Doc{"v": v, "n": map[string]any{"v": v}}); err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
		ids = append(ids, id)
		want[id] = dbservice.IndexKey(v) + dbservice.IndexKey(id)
	}
	if _, err := s.Save(ctx, coll, "nofield", dbservice.Doc{"w": 1.0}); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"v", "n.v"} {
		t.Run(field, func(t *testing.T) {
			if err := s.EnsureIndex(ctx, coll, field); err != nil {
				t.Fatal(err)
			}
			var keys []string
			byID := map[string]string{}
			_, _, err := s.viewRows(ctx, s.dbName(coll), indexName([]string{field}), map[string]any{}, func(r viewRow) bool {
				keys = append(keys, r.key)
				id, _ := userID(r.id)
				byID[id] = r.key
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(vals) {
				t.Fatalf("view has %d rows, want %d (one per document holding the field)", len(keys), len(vals))
			}
			for i, id := range ids {
				if byID[id] != want[id] {
					t.Errorf("value %d (%#v): view key %q, IndexKey %q", i, vals[i], byID[id], want[id])
				}
			}
			// Raw collation orders the rows as Compare orders (value, ID).
			order := slices.Clone(ids)
			slices.SortFunc(order, func(a, b string) int {
				ia, ib := slices.Index(ids, a), slices.Index(ids, b)
				if c := dbservice.Compare(vals[ia], vals[ib]); c != 0 {
					return c
				}
				return strings.Compare(a, b)
			})
			for i, id := range order {
				if keys[i] != want[id] {
					t.Fatalf("row %d is %q, want the key of %s (%#v)", i, keys[i], id, vals[slices.Index(ids, id)])
				}
			}
		})
	}
}
