package dynamodb

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// DynamoDB's own limits, checked before sending so that a refused item is
// ErrInvalid without a round trip.
const (
	// MaxItemBytes is DynamoDB's item size limit (400 KB), counted the way
	// DynamoDB counts: attribute names plus values, see itemSize.
	MaxItemBytes = 400 * 1024
	// MaxNesting is the deepest nesting DynamoDB stores, counted like
	// validate.Limits.MaxDepth: the item is level 1 and every map or list
	// adds one. DynamoDB Local refuses the 32nd nested map or list of an
	// attribute with "Nesting Levels have exceeded supported limits".
	MaxNesting = 32
	// minExp and maxExp bound the decimal exponent of a non-zero number:
	// DynamoDB stores magnitudes from 1E-130 to
	// 9.9999999999999999999999999999999999999E+125 only.
	minExp = -130
	maxExp = 125
)

// Attribute names the provider owns.
const (
	idAttr  = "_id"
	revAttr = "_rev"
)

// encoder turns a normalized document into a DynamoDB item, counting its
// size and depth as it goes.
type encoder struct {
	size int
	path []string
}

// encodeItem returns the item for doc (normalized by dbservice.NormalizeDoc)
// under id with revision rev, and its size as DynamoDB counts it (index
// attributes add to it: addIndexAttrs), or an error wrapping ErrInvalid
// when DynamoDB would refuse it: too large, nested too deep, or holding a
// number outside DynamoDB's range. Errors name the field, never its value.
// A document that expires at expires (zero: never) also carries
// ExpiresField and the TTL attribute, counted in its size.
func encodeItem(id, rev string, doc dbservice.Doc, expires time.Time) (map[string]types.AttributeValue, int, error) {
	e := encoder{}
	item := make(map[string]types.AttributeValue, len(doc)+2)
	for k, v := range doc {
		e.path = append(e.path[:0], k)
		e.size += len(k)
		av, err := e.value(v, 2)
		if err != nil {
			return nil, 0, err
		}
		item[k] = av
	}
	item[idAttr] = &types.AttributeValueMemberS{Value: id}
	item[revAttr] = &types.AttributeValueMemberS{Value: rev}
	e.size += len(idAttr) + len(id) + len(revAttr) + len(rev)
	if !expires.IsZero() {
		text, ttl := expiryValues(expires)
		item[expiresAttr], item[ttlAttr] = text, ttl
		e.size += len(expiresAttr) + len(text.Value) + len(ttlAttr) + 1 + (len(ttl.Value)+1)/2
	}
	if e.size > MaxItemBytes {
		return nil, 0, tooLarge(e.size, "")
	}
	return item, e.size, nil
}

// tooLarge is the refusal of an item of size bytes, with what made it so.
func tooLarge(size int, with string) error {
	return &validate.Error{Field: "doc", Reason: "item of " + strconv.Itoa(size) + " bytes" + with + " exceeds DynamoDB's " + strconv.Itoa(MaxItemBytes) + "-byte limit"}
}

// fail names the field at fault, shortened: field names are data too.
func (e *encoder) fail(reason string) error {
	f := []rune("doc." + strings.Join(e.path, "."))
	if len(f) > 80 {
		f = append(f[:80], '…')
	}
	return &validate.Error{Field: string(f), Reason: reason}
}

// value converts v at nesting level depth (the item is level 1) and adds
// its size by DynamoDB's rules: strings their UTF-8 bytes, numbers one byte
// per two significant digits plus one, null and bool one byte, maps and
// lists three bytes plus one per element plus the elements (and map keys).
func (e *encoder) value(v any, depth int) (types.AttributeValue, error) {
	switch x := v.(type) {
	case nil:
		e.size++
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case bool:
		e.size++
		return &types.AttributeValueMemberBOOL{Value: x}, nil
	case string:
		e.size += len(x)
		return &types.AttributeValueMemberS{Value: x}, nil
	case float64:
		s, digits, ok := numberText(x)
		if !ok {
			return nil, e.fail("number outside DynamoDB's range (magnitude 1E-130 to 1E+126)")
		}
		e.size += 1 + (digits+1)/2
		return &types.AttributeValueMemberN{Value: s}, nil
	case map[string]any:
		if depth > MaxNesting {
			return nil, e.fail("nested deeper than DynamoDB's " + strconv.Itoa(MaxNesting) + " levels")
		}
		e.size += 3 + len(x)
		m := make(map[string]types.AttributeValue, len(x))
		for k, ev := range x {
			e.path = append(e.path, k)
			e.size += len(k)
			av, err := e.value(ev, depth+1)
			if err != nil {
				return nil, err
			}
			e.path = e.path[:len(e.path)-1]
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case []any:
		if depth > MaxNesting {
			return nil, e.fail("nested deeper than DynamoDB's " + strconv.Itoa(MaxNesting) + " levels")
		}
		e.size += 3 + len(x)
		l := make([]types.AttributeValue, len(x))
		for i, ev := range x {
			e.path = append(e.path, strconv.Itoa(i))
			av, err := e.value(ev, depth+1)
			if err != nil {
				return nil, err
			}
			e.path = e.path[:len(e.path)-1]
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	// NormalizeDoc leaves nothing else; reaching here is a bug, and refusing
	// is safer than storing something unexpected.
	return nil, e.fail("value is not in the JSON data model")
}

// numberText returns f as DynamoDB number text (strconv 'g', shortest
// round-trip form), its count of significant digits, and whether DynamoDB
// can store it exactly. Every float64 has at most 17 significant digits,
// well inside DynamoDB's 38, so only the exponent can be out of range; such
// numbers are refused rather than rounded to zero or clamped.
func numberText(f float64) (text string, digits int, ok bool) {
	text = strconv.FormatFloat(f, 'g', -1, 64)
	if f == 0 {
		return "0", 1, true
	}
	var buf [32]byte
	sci := strconv.AppendFloat(buf[:0], math.Abs(f), 'e', -1, 64) // d.ddde±XX
	ePos := strings.IndexByte(string(sci), 'e')
	mant := sci[:ePos]
	digits = len(mant)
	if digits > 1 {
		digits-- // the decimal point
	}
	exp, err := strconv.Atoi(string(sci[ePos+1:]))
	if err != nil {
		return text, digits, false
	}
	return text, digits, exp >= minExp && exp <= maxExp
}

// errMalformed marks an item the provider cannot read back.
var errMalformed = errors.New("stored item is not in the expected form")

// decodeItem returns the document stored in item, with "_id" and "_rev".
func decodeItem(item map[string]types.AttributeValue) (dbservice.Doc, error) {
	// Items of an indexed collection hold two keys per index, which the
	// document leaves out: a map sized for the attributes kept is smaller
	// (up to eight entries, a single group) and built with fewer
	// allocations. They are counted as they are decoded, into kept while
	// they fit: another pass over the item would cost more than it saves.
	type field struct {
		k string
		v any
	}
	var kept [16]field
	n := 0
	var doc dbservice.Doc
	for k, av := range item {
		if k == ttlAttr || strings.HasPrefix(k, indexAttrPrefix) {
			continue // the TTL twin of ExpiresField and index keys, for DynamoDB alone
		}
		v, err := decodeValue(av)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			if n < len(kept) {
				kept[n] = field{k, v}
				n++
				continue
			}
			doc = make(dbservice.Doc, len(item))
			for _, f := range kept[:n] {
				doc[f.k] = f.v
			}
		}
		doc[k] = v
	}
	if doc == nil {
		doc = make(dbservice.Doc, n)
		for _, f := range kept[:n] {
			doc[f.k] = f.v
		}
	}
	if _, ok := doc[idAttr].(string); !ok {
		return nil, errMalformed
	}
	if _, ok := doc[revAttr].(string); !ok {
		return nil, errMalformed
	}
	return doc, nil
}

// decodeValue maps an attribute value to the JSON data model. Types this
// provider never writes (sets, binary), which another tool may have stored,
// become lists and base64 text, as encoding/json would show them.
func decodeValue(av types.AttributeValue) (any, error) {
	switch x := av.(type) {
	case *types.AttributeValueMemberS:
		return x.Value, nil
	case *types.AttributeValueMemberN:
		return parseNumber(x.Value)
	case *types.AttributeValueMemberBOOL:
		return x.Value, nil
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(x.Value))
		for k, ev := range x.Value {
			v, err := decodeValue(ev)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case *types.AttributeValueMemberL:
		l := make([]any, len(x.Value))
		for i, ev := range x.Value {
			v, err := decodeValue(ev)
			if err != nil {
				return nil, err
			}
			l[i] = v
		}
		return l, nil
	case *types.AttributeValueMemberB:
		return base64.StdEncoding.EncodeToString(x.Value), nil
	case *types.AttributeValueMemberSS:
		l := make([]any, len(x.Value))
		for i, s := range x.Value {
			l[i] = s
		}
		return l, nil
	case *types.AttributeValueMemberNS:
		l := make([]any, len(x.Value))
		for i, s := range x.Value {
			f, err := parseNumber(s)
			if err != nil {
				return nil, err
			}
			l[i] = f
		}
		return l, nil
	case *types.AttributeValueMemberBS:
		l := make([]any, len(x.Value))
		for i, b := range x.Value {
			l[i] = base64.StdEncoding.EncodeToString(b)
		}
		return l, nil
	}
	return nil, errMalformed
}

// parseNumber reads DynamoDB number text. Integers of up to 15 digits
// (most stored numbers: counts, scores, years) take a fast path: below
// 2^53 every such integer is a float64 exactly, so it gives what
// strconv.ParseFloat gives, -0 included.
func parseNumber(s string) (float64, error) {
	if f, ok := smallInt(s); ok {
		return f, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, errMalformed
	}
	return f, nil
}

// smallInt returns s as a float64 when s is an optional '-' and 1 to 15
// decimal digits.
func smallInt(s string) (float64, bool) {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	f := float64(n)
	if len(digits) < len(s) {
		f = -f
	}
	return f, true
}

// scalarAttr converts a query value (from dbservice.CheckQuery: nil, bool,
// string or float64). ok is false for a number DynamoDB cannot hold, which
// therefore equals no stored value.
func scalarAttr(v any) (av types.AttributeValue, ok bool) {
	switch x := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, true
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}, true
	case string:
		return &types.AttributeValueMemberS{Value: x}, true
	case float64:
		s, _, ok := numberText(x)
		if !ok {
			return nil, false
		}
		return &types.AttributeValueMemberN{Value: s}, true
	}
	return nil, false
}
