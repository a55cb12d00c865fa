package dbservice_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/securedb-go/securedb/dbservice"
)

// randomValue draws a value of the JSON data model with the corners the
// encoding has to get right: signs, zero, extremes and subnormals; strings
// with U+0000, U+0001, U+0002, non-ASCII and common prefixes; nested
// arrays and objects.
func randomValue(rng *rand.Rand, depth int) any {
	k := rng.IntN(8)
	if depth > 2 && k >= 6 {
		k = rng.IntN(6)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		nums := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 1e300, -1e300, 5e-324, -5e-324,
			math.MaxFloat64, -math.MaxFloat64, 2, -2, 1 << 53, 3.25}
		if rng.IntN(2) == 0 {
			return nums[rng.IntN(len(nums))]
		}
		return (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(20)-10))
	case 3, 4, 5:
		alphabet := []string{"", "a", "b", "\x00", "\x01", "\x02", "é", "\uffff", "😀", "~", " ", "z"}
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	case 6:
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = randomValue(rng, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for range rng.IntN(3) {
			m[stringValue(rng)] = randomValue(rng, depth+1)
		}
		return m
	}
}

func stringValue(rng *rand.Rand) string {
	for {
		if s, ok := randomValue(rng, 9).(string); ok {
			return s
		}
	}
}

func TestIndexKeyOrderIsCompare(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		a, b := randomValue(rng, 0), randomValue(rng, 0)
		if i%3 == 0 { // many pairs of one type, where the body decides
			for typeOf(b) != typeOf(a) {
				b = randomValue(rng, 0)
			}
		}
		ka, kb := dbservice.IndexKey(a), dbservice.IndexKey(b)
		if got, want := strings.Compare(ka, kb), dbservice.Compare(a, b); got != want {
			t.Fatalf("IndexKey order %d, Compare %d for %s and %s", got, want, show(a), show(b))
		}
		if ka != kb && (strings.HasPrefix(ka, kb) || strings.HasPrefix(kb, ka)) {
			t.Fatalf("key of %s is a prefix of the key of %s", show(a), show(b))
		}
		// Concatenation orders as the tuple: value, then ID.
		ida, idb := stringValue(rng), stringValue(rng)
		want := dbservice.Compare(a, b)
		if want == 0 {
			want = strings.Compare(ida, idb)
		}
		if got := strings.Compare(ka+dbservice.IndexKey(ida), kb+dbservice.IndexKey(idb)); got != want {
			t.Fatalf("tuple order %d, want %d for (%s, %q) and (%s, %q)", got, want, show(a), ida, show(b), idb)
		}
		if !utf8.ValidString(ka) || strings.IndexByte(ka, 0) >= 0 {
			t.Fatalf("key of %s is not NUL-free UTF-8: %q", show(a), ka)
		}
	}
}

func TestIndexKeyKnownValues(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "1"},
		{false, "2"},
		{true, "3"},
		{0.0, "48000000000000000"},
		{math.Copysign(0, -1), "48000000000000000"},
		{1.0, "4bff0000000000000"},
		{-1.0, "4400fffffffffffff"},
		{"", "5\x01\x01"},
		{"a\x00b\x01", "5a\x01\x02b\x01\x03\x01\x01"},
		{[]any{}, "6\x01\x01"},
		{[]any{"a", nil}, "65a\x01\x011\x01\x01"},
		{map[string]any{"b": true, "a": 1.0}, "75a\x01\x014bff00000000000005b\x01\x013\x01\x01"},
	} {
		if got := dbservice.IndexKey(c.v); got != c.want {
			t.Errorf("IndexKey(%s) = %q, want %q", show(c.v), got, c.want)
		}
	}
}

func FuzzIndexKeyStrings(f *testing.F) {
	f.Add("a", "a\x00")
	f.Add("\x01", "\x00\xff")
	f.Add("é", "e\x01")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		if got, want := strings.Compare(dbservice.IndexKey(a), dbservice.IndexKey(b)), strings.Compare(a, b); got != want {
			t.Fatalf("IndexKey order %d, byte order %d for %q and %q", got, want, a, b)
		}
	})
}

func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
