package dynamodb

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
)

// refDecodeItem is decodeItem as it was before it sized the document for
// the attributes it keeps. The benchmarks and the differential tests
// compare against it. It decodes values with decodeValue: the one change
// there, parseNumber's fast path, has its own reference (refParseNumber).
func refDecodeItem(item map[string]types.AttributeValue) (dbservice.Doc, error) {
	doc := make(dbservice.Doc, len(item))
	for k, av := range item {
		if k == ttlAttr || strings.HasPrefix(k, indexAttrPrefix) {
			continue
		}
		v, err := decodeValue(av)
		if err != nil {
			return nil, err
		}
		doc[k] = v
	}
	if _, ok := doc[idAttr].(string); !ok {
		return nil, errMalformed
	}
	if _, ok := doc[revAttr].(string); !ok {
		return nil, errMalformed
	}
	return doc, nil
}

// refParseNumber is parseNumber before its fast path for integers.
func refParseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, errMalformed
	}
	return f, nil
}

// sameNumber reports whether parseNumber and refParseNumber agree on s:
// the same bits (so -0 and NaN count) and the same error.
func sameNumber(s string) (got, want float64, ok bool) {
	got, gotErr := parseNumber(s)
	want, wantErr := refParseNumber(s)
	return got, want, math.Float64bits(got) == math.Float64bits(want) && gotErr == wantErr
}

// TestParseNumberAgreesWithParseFloat: on integers around every digit
// count and 2^53, signs, leading zeros, and text the fast path must leave
// to strconv, parseNumber gives bit for bit what strconv.ParseFloat gave.
func TestParseNumberAgreesWithParseFloat(t *testing.T) {
	inputs := []string{"", "-", "+", "--1", "+1", "-0", "0", "00", "-000", "007", "1.", ".5", "1e3", "1E+21",
		"0x10", "0x1p4", "1_000", " 1", "1 ", "Inf", "-inf", "NaN", "1e400", "-1e400", "1e-400",
		"123456789012345", "-123456789012345", "999999999999999", "-999999999999999", "000000000000001",
		"1234567890123456", "9007199254740992", "9007199254740993", "-9007199254740993", "99999999999999999999",
		"0000000000000000", "-0000000000000000", "12345678901234567890123456789012345678", "1\x00", "١٢"}
	for i := range int64(20001) {
		inputs = append(inputs, strconv.FormatInt(i-10000, 10))
	}
	for d := 1; d <= 20; d++ {
		nines := strings.Repeat("9", d)
		inputs = append(inputs, nines, "-"+nines, "1"+strings.Repeat("0", d-1), nines+".5", "0"+nines)
	}
	for _, s := range inputs {
		if got, want, ok := sameNumber(s); !ok {
			t.Errorf("parseNumber(%q) = %v (%#x), want %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
}

// FuzzParseNumber: for any text, parseNumber gives what
// strconv.ParseFloat gave, bit for bit, and the same error.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"107", "-0", "0", "123456789012345", "1234567890123456", "-5", "1.5", "1e5", "", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want, ok := sameNumber(s); !ok {
			t.Fatalf("parseNumber(%q) = %v, want %v", s, got, want)
		}
	})
}

// TestDecodeItemAgreesWithTheReference: items with and without index keys
// and the TTL attribute, with fewer and more attributes than decodeItem
// keeps on its stack, and malformed ones, decode as they did before.
func TestDecodeItemAgreesWithTheReference(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	items := map[string]map[string]types.AttributeValue{
		"the benchmark's item": benchItem(),
		"no _id":               {"_rev": s("r"), "a": n("1")},
		"a number _rev":        {"_id": s("a"), "_rev": n("1")},
		"a bad number":         {"_id": s("a"), "_rev": s("r"), "x": n("1e999")},
		"expiring":             {"_id": s("a"), "_rev": s("r"), ttlAttr: n("1893456000"), expiresAttr: s("2030-01-01T00:00:00.000000Z")},
		"nested": {"_id": s("a"), "_rev": s("r"), "m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{n("-0"), n("0.25"), &types.AttributeValueMemberNULL{Value: true}}},
			"b": &types.AttributeValueMemberBOOL{Value: true}}}},
	}
	for _, size := range []int{0, 1, 13, 14, 15, 16, 40} {
		item := map[string]types.AttributeValue{"_id": s("a"), "_rev": s("r")}
		for i := range size {
			item["f"+strconv.Itoa(i)] = n(strconv.Itoa(i * 7))
			item[indexAttrPrefix+strconv.Itoa(i)+"h"] = s("k")
		}
		items["2+"+strconv.Itoa(size)+" attributes"] = item
	}
	for name, item := range items {
		t.Run(name, func(t *testing.T) {
			got, gotErr := decodeItem(item)
			want, wantErr := refDecodeItem(item)
			if gotErr != wantErr || !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeItem = %v, %v; want %v, %v", got, gotErr, want, wantErr)
			}
		})
	}
}
