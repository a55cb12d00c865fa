package dynamodb

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

func TestNumbersOutsideDynamoDBsRangeAreRefused(t *testing.T) {
	cases := []struct {
		name string
		f    float64
		ok   bool
	}{
		{"zero", 0, true},
		{"negative zero", math.Copysign(0, -1), true},
		{"one tenth", 0.1, true},
		{"the largest safe integer", 1 << 53, true},
		{"the smallest magnitude DynamoDB holds", 1e-130, true},
		{"its negative", -1e-130, true},
		{"the largest float64 below 1E+126", math.Nextafter(1e126, 0), true},
		{"its negative", -math.Nextafter(1e126, 0), true},
		{"just below the smallest magnitude", 9.999999999999999e-131, false},
		{"one step beyond the largest", 1e126, false},
		{"the smallest float64", 5e-324, false},
		{"the largest float64", math.MaxFloat64, false},
		{"a large negative", -1.5e200, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text, _, ok := numberText(c.f)
			if ok != c.ok {
				t.Fatalf("numberText(%g) ok = %v, want %v", c.f, ok, c.ok)
			}
			_, _, err := encodeItem("x", "r", dbservice.Doc{"n": c.f}, time.Time{})
			if c.ok != (err == nil) {
				t.Fatalf("encodeItem with %g: err = %v, want ok %v", c.f, err, c.ok)
			}
			if err != nil {
				if !errors.Is(err, dbservice.ErrInvalid) || strings.Contains(err.Error(), text) {
					t.Fatalf("error %q: want ErrInvalid without the value", err)
				}
				return
			}
			if back, _ := strconv.ParseFloat(text, 64); back != c.f {
				t.Fatalf("%g sent as %q reads back as %g", c.f, text, back)
			}
		})
	}
}

func TestItemSizeIsCountedTheWayDynamoDBCountsIt(t *testing.T) {
	cases := []struct {
		name string
		doc  dbservice.Doc
		size int
	}{
		{"a string is its UTF-8 bytes", dbservice.Doc{"s": "héllo"}, 1 + 6},
		{"a number is one byte per two significant digits plus one", dbservice.Doc{"n": 12345.0}, 1 + 1 + 3},
		{"trailing zeros do not count", dbservice.Doc{"n": 1000000.0}, 1 + 1 + 1},
		{"null and bool are one byte", dbservice.Doc{"a": nil, "b": true}, 1 + 1 + 1 + 1},
		{"an empty map is three bytes", dbservice.Doc{"m": map[string]any{}}, 1 + 3},
		{"map entries add their names, values and one byte", dbservice.Doc{"m": map[string]any{"k": "v"}}, 1 + 3 + 1 + 1 + 1},
		{"list elements add their values and one byte", dbservice.Doc{"l": []any{"ab", true}}, 1 + 3 + 2 + 2 + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := encoder{}
			for k, v := range c.doc {
				e.size += len(k)
				if _, err := e.value(v, 2); err != nil {
					t.Fatal(err)
				}
			}
			if e.size != c.size {
				t.Fatalf("size = %d, want %d", e.size, c.size)
			}
		})
	}
}

func TestItemsOverFourHundredKilobytesAreRefused(t *testing.T) {
	// The boundary was measured on DynamoDB Local: an item of exactly
	// MaxItemBytes is stored, one byte more is refused.
	id := "size-test"
	fixed := len(idAttr) + len(id) + len(revAttr) + len("rev") + len("s")
	for _, c := range []struct {
		name string
		n    int
		ok   bool
	}{
		{"exactly at the limit", MaxItemBytes - fixed, true},
		{"one byte over", MaxItemBytes - fixed + 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := encodeItem(id, "rev", dbservice.Doc{"s": strings.Repeat("a", c.n)}, time.Time{})
			if c.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
			if err != nil && !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func nested(levels int, leaf any, list bool) any {
	v := leaf
	for range levels {
		if list {
			v = []any{v}
		} else {
			v = map[string]any{"d": v}
		}
	}
	return v
}

func TestNestingBeyondThirtyTwoLevelsIsRefused(t *testing.T) {
	// The item is level 1, so an attribute may hold 31 nested maps or lists.
	for _, list := range []bool{false, true} {
		kind := "maps"
		if list {
			kind = "lists"
		}
		t.Run("31 nested "+kind+" are stored", func(t *testing.T) {
			if _, _, err := encodeItem("x", "r", dbservice.Doc{"d": nested(31, "leaf", list)}, time.Time{}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("32 nested "+kind+" are refused", func(t *testing.T) {
			_, _, err := encodeItem("x", "r", dbservice.Doc{"d": nested(32, "leaf", list)}, time.Time{})
			if !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestDocumentsRoundTripThroughAttributeValues(t *testing.T) {
	in := dbservice.Doc{
		"str": "hello", "empty": "", "unicode": "héllo 世界 🚀", "int": 42, "neg": -7, "tenth": 0.1,
		"large": 1.5e100, "small": 2.5e-100, "maxSafe": int64(1 << 53), "zero": 0, "yes": true, "no": false,
		"nothing": nil, "emptyMap": map[string]any{}, "emptyList": []any{},
		"nested":     map[string]any{"a": map[string]any{"b": []any{1, "two", nil, map[string]any{}}}},
		"spaced key": "ok", "ünïcødé": "ok",
	}
	nd, err := dbservice.NormalizeDoc(in, validate.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	item, _, err := encodeItem("doc-1", "rev-1", nd, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeItem(item)
	if err != nil {
		t.Fatal(err)
	}
	want := dbservice.Clone(nd)
	want["_id"], want["_rev"] = "doc-1", "rev-1"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
	}
}

func TestForeignAttributeTypesReadAsJSON(t *testing.T) {
	item := map[string]types.AttributeValue{
		"_id":  &types.AttributeValueMemberS{Value: "x"},
		"_rev": &types.AttributeValueMemberS{Value: "r"},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"b":    &types.AttributeValueMemberB{Value: []byte("hi")},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{[]byte("hi")}},
		"big":  &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
	}
	got, err := decodeItem(item)
	if err != nil {
		t.Fatal(err)
	}
	want := dbservice.Doc{"_id": "x", "_rev": "r", "ss": []any{"a", "b"}, "ns": []any{1.0, 2.5}, "b": "aGk=", "bs": []any{"aGk="}, "big": 1.2345678901234568e37}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	for name, bad := range map[string]map[string]types.AttributeValue{
		"no _id":             {"_rev": &types.AttributeValueMemberS{Value: "r"}},
		"a numeric _rev":     {"_id": &types.AttributeValueMemberS{Value: "x"}, "_rev": &types.AttributeValueMemberN{Value: "1"}},
		"a malformed number": {"_id": &types.AttributeValueMemberS{Value: "x"}, "_rev": &types.AttributeValueMemberS{Value: "r"}, "n": &types.AttributeValueMemberN{Value: "1e9999"}},
	} {
		t.Run("an item with "+name+" is refused", func(t *testing.T) {
			if _, err := decodeItem(bad); !errors.Is(err, errMalformed) {
				t.Fatalf("err = %v, want errMalformed", err)
			}
		})
	}
}

// FuzzNumberText checks that every float64 DynamoDB can hold is sent in a
// form that parses back to exactly the same value, and that every refusal
// is a number really outside DynamoDB's range.
func FuzzNumberText(f *testing.F) {
	for _, v := range []float64{0, 0.1, 1e-130, math.Nextafter(1e126, 0), 1e126, 5e-324, -2.5e-100, 1 << 53} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		text, digits, ok := numberText(v)
		a := math.Abs(v)
		inRange := a == 0 || (a >= 1e-130 && a < 1e126)
		if ok != inRange {
			t.Fatalf("numberText(%g) ok = %v, want %v", v, ok, inRange)
		}
		if digits < 1 || digits > 17 {
			t.Fatalf("numberText(%g) counts %d significant digits", v, digits)
		}
		if back, err := strconv.ParseFloat(text, 64); err != nil || back != v {
			t.Fatalf("%g sent as %q reads back as %g (%v)", v, text, back, err)
		}
	})
}
