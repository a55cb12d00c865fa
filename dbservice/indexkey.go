package dbservice

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// IndexKey returns the order-preserving text encoding of a value of the
// JSON data model: for any two values a and b,
//
//	strings.Compare(IndexKey(a), IndexKey(b)) == Compare(a, b)
//
// The encoding is prefix-free (no key is a proper prefix of another), so
// keys of several values concatenated compare as the values compared one
// after the other: IndexKey(a)+IndexKey(id) orders by a, then by id. That
// is what a backend that compares text by its bytes (DynamoDB sort keys,
// CouchDB views with raw collation) needs to keep Compare's order across
// types without knowing about types.
//
// The text is valid UTF-8 and holds no NUL byte. Layout: one ASCII digit
// for the type ('1' null, '2' false, '3' true, '4' number, '5' string,
// '6' array, '7' object), then
//   - a number: 16 lowercase hex digits of its float64 bits, the sign bit
//     flipped for positive numbers and every bit flipped for negative
//     ones (-0 encodes as 0);
//   - a string: its bytes with U+0000 written as "\x01\x02" and U+0001 as
//     "\x01\x03", then the terminator "\x01\x01";
//   - an array: its elements' keys, then the terminator;
//   - an object: key and value, as a string's key and a value's key, for
//     each key in byte order, then the terminator.
//
// Values outside the data model encode as null, as Compare ranks them.
func IndexKey(v any) string {
	var b strings.Builder
	appendIndexKey(&b, v)
	return b.String()
}

const (
	keyEscape = '\x01'
	keyEnd    = "\x01\x01"
)

func appendIndexKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case bool:
		if x {
			b.WriteByte('3')
		} else {
			b.WriteByte('2')
		}
	case float64:
		b.WriteByte('4')
		bits := math.Float64bits(x)
		if x == 0 {
			bits = 0 // -0 and 0 are one number
		}
		if bits>>63 == 1 {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
		var hex [16]byte
		s := strconv.AppendUint(hex[:0], bits, 16)
		for range 16 - len(s) {
			b.WriteByte('0')
		}
		b.Write(s)
	case string:
		b.WriteByte('5')
		appendKeyString(b, x)
	case []any:
		b.WriteByte('6')
		for _, e := range x {
			appendIndexKey(b, e)
		}
		b.WriteString(keyEnd)
	case map[string]any:
		b.WriteByte('7')
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteByte('5')
			appendKeyString(b, k)
			appendIndexKey(b, x[k])
		}
		b.WriteString(keyEnd)
	default:
		b.WriteByte('1')
	}
}

// appendKeyString writes s so that byte order is kept and the end is
// unambiguous: the two smallest bytes are escaped, so the terminator sorts
// below every byte a string can continue with.
func appendKeyString(b *strings.Builder, s string) {
	for {
		i := strings.IndexAny(s, "\x00\x01")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteByte(keyEscape)
		b.WriteByte(s[i] + 2)
		s = s[i+1:]
	}
	b.WriteString(keyEnd)
}
