package validate

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Default limits, from the security guide (strings of at most 10,000
// characters) and the tightest backend
// (Firestore: depth 20; DynamoDB: 400 KB items).
const (
	DefaultMaxStringLen = 10000
	DefaultMaxDepth     = 20
	DefaultMaxKeys      = 10000
	DefaultMaxDocBytes  = 256 << 10
	// MaxKeyLen bounds one field name, in bytes.
	MaxKeyLen = 256
	// MaxSafeInt is 2^53: every integer within ±MaxSafeInt is exactly a
	// float64 (the JSON number model). Beyond it an integer is accepted only
	// when float64 holds it exactly (2^60 is, 2^53+1 is not); see [Sanitize].
	MaxSafeInt = 1 << 53
)

// Limits bound the size and shape of a document. A zero field takes its
// default; a negative field disables that bound.
type Limits struct {
	// MaxStringLen is the longest string value, in characters (default 10000).
	MaxStringLen int
	// MaxDepth is the deepest nesting; the document itself is level 1 and
	// each nested map or array adds one (default 20).
	MaxDepth int
	// MaxKeys is the total number of map entries and array elements in the
	// document, at every level (default 10000).
	MaxKeys int
	// MaxDocBytes is the document's size as compact JSON, in bytes,
	// approximated without encoding it (default 256 KiB).
	MaxDocBytes int
	// LiteralKeys lets field names start with "$" and hold ".": keys such
	// as JSON Schema's "$defs" and "$ref", or a map keyed by file names
	// ("main.py") or versions ("v1.2"). No backend this library talks to
	// interprets a stored key, and every provider addresses paths by their
	// names, never by their text, so such keys are data; they stay refused
	// by default because a document store that does read "$" keys as
	// operators (MongoDB-like ones) may later receive the same documents.
	// Paths address them in the escaped form of dbservice.Path
	// (`files.main\.py`, `$defs.x`; see FieldPathWith). Control
	// characters, empty names, the reserved __x__ form and (at the top
	// level) a leading "_" stay refused with or without it.
	LiteralKeys bool
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxStringLen: DefaultMaxStringLen,
		MaxDepth:     DefaultMaxDepth,
		MaxKeys:      DefaultMaxKeys,
		MaxDocBytes:  DefaultMaxDocBytes,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return math.MaxInt
		}
		return v
	}
	return Limits{
		MaxStringLen: pick(l.MaxStringLen, d.MaxStringLen),
		MaxDepth:     pick(l.MaxDepth, d.MaxDepth),
		MaxKeys:      pick(l.MaxKeys, d.MaxKeys),
		MaxDocBytes:  pick(l.MaxDocBytes, d.MaxDocBytes),
		LiteralKeys:  l.LiteralKeys,
	}
}

// raise names the setting that raises a limit, for the error of a value
// past it: Limits are set on the provider's Config.Limits, or on
// dbservice.Policy.Limits (securedb.Config.Policy) for the Guard.
func (w *walker) raise(field string) string {
	if w.fixed {
		return " (a fixed bound for query and mutation values)"
	}
	return " (raise Limits." + field + ", in Policy.Limits or the provider's Config.Limits; -1 disables it)"
}

// Sanitize returns a deep copy of doc in the JSON data model, or an error
// wrapping ErrInvalid. It is the one place documents are made safe:
//
//   - top-level keys starting with "_" (system fields such as _id and _rev)
//     are dropped, as the security guide asks; the provider owns them;
//   - keys starting with "$" are refused at every level: they are operator
//     injection ($where, $gt, ...) on document databases; lim.LiteralKeys
//     accepts them as data;
//   - keys must be non-empty valid UTF-8 without control characters, without
//     '.' (reserved for nested field paths in queries; lim.LiteralKeys
//     accepts it), not of the reserved form __x__, and at most MaxKeyLen
//     bytes;
//   - strings must be valid UTF-8;
//   - numbers become float64, by one rule wherever a number enters (Save,
//     SaveAs, Import, query values): every finite float64 (and float32) is
//     accepted as it is, -0 becoming 0; an integer, whether a Go integer
//     type or a json.Number without fraction or exponent, is accepted when
//     float64 holds it exactly (always within ±2^53; 1e17 and 2^60 are,
//     2^53+1 is not) and refused otherwise, never rounded; a json.Number
//     integer beyond ±2^53 is also accepted when it is the shortest text of
//     a float64, as encoding/json prints 2^60 (1152921504606847000), while
//     structs are checked for inexact Go integers before they are encoded
//     (see CheckIntegers); a json.Number with a fraction or exponent is read
//     as the nearest float64, as encoding/json does; NaN, ±Inf and numbers
//     beyond float64's range are refused. Whatever this accepts,
//     encoding/json writes as text that reads back as the identical float64,
//     so an Export always Imports;
//   - time.Time becomes fixed-width RFC 3339 text in UTC (TimeLayout), so
//     that text order is time order; []byte becomes base64 text, as
//     encoding/json does; structs and other json.Marshaler values go through
//     encoding/json; pointers are followed;
//   - channels, functions, complex numbers and maps with non-string keys are
//     refused;
//   - the limits apply (zero value: DefaultLimits).
//
// A nil doc sanitizes to an empty document. Errors name the field path and
// the rule, never the value.
func Sanitize(doc map[string]any, lim Limits) (map[string]any, error) {
	w := walker{lim: lim.withDefaults(), copy: true}
	out, err := w.doc(doc)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CheckDoc applies exactly the rules of Sanitize without copying doc.
// It is for middleware that validates a document another layer will store.
func CheckDoc(doc map[string]any, lim Limits) error {
	w := walker{lim: lim.withDefaults()}
	_, err := w.doc(doc)
	return err
}

// walker carries the state of one Sanitize or CheckDoc pass.
type walker struct {
	lim   Limits
	copy  bool
	fixed bool // the limits are fixed (query values), not the caller's
	keys  int
	bytes int
	path  []string
}

func (w *walker) fail(reason string) error {
	field := "doc"
	for _, p := range w.path {
		field += "." + p
	}
	return invalidNoValue(shortField(field), reason)
}

// shortField keeps an error's field path readable and bounded; field names
// are data too.
func shortField(f string) string {
	if len(f) <= 80 && validText(f) {
		return f
	}
	return strings.Trim(excerpt(f), `"`)
}

func (w *walker) doc(doc map[string]any) (map[string]any, error) {
	w.bytes = 2
	var out map[string]any
	if w.copy {
		out = make(map[string]any, len(doc))
	}
	for k, v := range doc {
		if strings.HasPrefix(k, "_") {
			continue // system field: the provider owns it
		}
		nv, err := w.entry(k, v, 1)
		if err != nil {
			return nil, err
		}
		if w.copy {
			out[k] = nv
		}
	}
	return out, nil
}

func (w *walker) entry(k string, v any, depth int) (any, error) {
	w.path = append(w.path, k)
	if err := w.key(k); err != nil {
		return nil, err
	}
	w.bytes += len(k) + 4
	nv, err := w.value(v, depth)
	if err != nil {
		return nil, err
	}
	w.path = w.path[:len(w.path)-1]
	return nv, nil
}

func (w *walker) key(k string) error {
	switch {
	case k == "":
		return w.fail("empty field name")
	case len(k) > MaxKeyLen:
		return w.fail("field name longer than " + strconv.Itoa(MaxKeyLen) + " bytes (validate.MaxKeyLen, a fixed bound)")
	case !validText(k):
		return w.fail("field name has invalid UTF-8 or control characters")
	case k[0] == '$' && !w.lim.LiteralKeys:
		return w.fail("field names starting with '$' are refused (operator injection; Limits.LiteralKeys allows them)")
	case !w.lim.LiteralKeys && strings.Contains(k, "."):
		return w.fail("field names must not contain '.' (reserved for field paths; Limits.LiteralKeys allows it)")
	case isDunder(k):
		return w.fail("field names of the form __x__ are reserved")
	}
	w.keys++
	if w.keys > w.lim.MaxKeys {
		return w.fail("more than " + strconv.Itoa(w.lim.MaxKeys) + " fields and elements" + w.raise("MaxKeys"))
	}
	return nil
}

func (w *walker) sized(n int) error {
	w.bytes += n
	if w.bytes > w.lim.MaxDocBytes {
		return w.fail("document larger than " + strconv.Itoa(w.lim.MaxDocBytes) + " bytes" + w.raise("MaxDocBytes"))
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// TimeLayout is how a time.Time is stored: RFC 3339 in UTC with exactly
// nine fraction digits, so that comparing the text (as every provider
// does) compares the instants. Times before year 0 or after 9999 do not
// fit RFC 3339 and keep Go's own text.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime returns t in TimeLayout.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}

func (w *walker) value(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, w.sized(4)
	case string:
		return x, w.str(x)
	case bool:
		return x, w.sized(5)
	case float64:
		return w.float(x)
	case int:
		return w.int(int64(x))
	case int64:
		return w.int(x)
	case json.Number:
		return w.number(x)
	case map[string]any:
		return w.object(x, depth)
	case []any:
		return w.array(x, depth)
	case time.Time:
		s := FormatTime(x)
		return s, w.str(s)
	case []byte:
		s := base64.StdEncoding.EncodeToString(x)
		return s, w.str(s)
	}
	return w.reflectValue(reflect.ValueOf(v), depth)
}

// reflectValue handles the Go types that are not already in the JSON data
// model: named types, typed slices and maps, pointers and structs.
func (w *walker) reflectValue(rv reflect.Value, depth int) (any, error) {
	if rv.Type() == timeType {
		return w.value(rv.Interface(), depth)
	}
	if _, ok := rv.Interface().(json.Marshaler); ok && rv.Kind() != reflect.Pointer {
		return w.viaJSON(rv.Interface(), depth)
	}
	switch rv.Kind() {
	case reflect.Bool:
		return w.value(rv.Bool(), depth)
	case reflect.String:
		return w.value(rv.String(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return w.int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return w.uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return w.float(rv.Float())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return w.value(nil, depth)
		}
		return w.value(rv.Elem().Interface(), depth)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return w.value(nil, depth)
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 && rv.Kind() == reflect.Slice {
			return w.value(rv.Bytes(), depth)
		}
		arr := make([]any, rv.Len())
		for i := range arr {
			arr[i] = rv.Index(i).Interface()
		}
		return w.array(arr, depth)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, w.fail("map keys must be strings")
		}
		if rv.IsNil() {
			return w.value(nil, depth)
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return w.object(m, depth)
	case reflect.Struct:
		return w.viaJSON(rv.Interface(), depth)
	}
	return nil, w.fail("unsupported type " + rv.Kind().String())
}

// viaJSON converts a struct or json.Marshaler the way encoding/json would
// store it, then validates the result like any other value.
func (w *walker) viaJSON(v any, depth int) (any, error) {
	if err := w.ints(reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, w.fail("value cannot be encoded as JSON")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, w.fail("value cannot be encoded as JSON")
	}
	return w.value(out, depth)
}

func (w *walker) str(s string) error {
	if len(s) > w.lim.MaxStringLen && utf8.RuneCountInString(s) > w.lim.MaxStringLen {
		return w.fail("string longer than " + strconv.Itoa(w.lim.MaxStringLen) + " characters" + w.raise("MaxStringLen"))
	}
	if !utf8.ValidString(s) {
		return w.fail("string is not valid UTF-8")
	}
	return w.sized(len(s) + 2)
}

const inexact = "integer beyond ±2^53 that float64 cannot hold exactly"

func (w *walker) int(i int64) (any, error) {
	// float64(i) may round up to 2^63, which int64 cannot hold: compare as
	// floats first.
	f := float64(i)
	if f >= 0x1p63 || int64(f) != i {
		return nil, w.fail(inexact)
	}
	return w.float(f)
}

func (w *walker) uint(u uint64) (any, error) {
	f := float64(u)
	if f >= 0x1p64 || uint64(f) != u {
		return nil, w.fail(inexact)
	}
	return w.float(f)
}

func (w *walker) float(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, w.fail("NaN and infinities are not JSON numbers")
	}
	if f == 0 {
		f = 0 // -0: JSON backends do not keep the sign of zero
	}
	return f, w.sized(numLen(f))
}

// maxIntDigits is the number of digits of the largest float64 (1.8e308):
// an integer literal with more cannot be a finite float64.
const maxIntDigits = 309

func (w *walker) number(n json.Number) (any, error) {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			// Syntax errors and numbers beyond float64's range alike.
			return nil, w.fail("not a valid number within float64's range")
		}
		return w.float(f)
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= -MaxSafeInt && i <= MaxSafeInt {
		return w.float(float64(i))
	}
	digits := strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, w.fail("not a valid number")
	}
	if len(digits) > maxIntDigits {
		return nil, w.fail(inexact)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, w.fail(inexact)
	}
	if exactText(s, f) {
		return w.float(f)
	}
	return nil, w.fail(inexact)
}

// exactText reports whether the integer literal s stands for the float64 f
// without loss: s is f's exact value (2^60 written 1152921504606846976), or
// the shortest text that reads back as f, which is how encoding/json and
// JavaScript print a float64 (2^60 written 1152921504606847000). Any other
// integer would be rounded to f, and is refused.
func exactText(s string, f float64) bool {
	if strconv.FormatFloat(f, 'f', -1, 64) == s {
		return true
	}
	var i big.Int
	if _, ok := i.SetString(s, 10); !ok {
		return false
	}
	// SetInt gives the big.Float the precision to hold i exactly, so the
	// accuracy says whether float64 rounds it.
	g, acc := new(big.Float).SetInt(&i).Float64()
	return acc == big.Exact && g == f
}

// CheckIntegers refuses (with an error wrapping ErrInvalid) a Go value
// holding an integer that float64 cannot hold exactly, in its struct
// fields, maps, slices, arrays and pointers. Values that encode themselves
// (json.Marshaler) are not looked into. It is the number rule for values
// that go through encoding/json, which writes such an integer as text that
// could also be a float64's shortest form: SaveAs and Sanitize call it
// before encoding a struct, so an int64 is refused, never rounded.
func CheckIntegers(v any) error {
	w := walker{lim: DefaultLimits()}
	return w.ints(reflect.ValueOf(v), 0)
}

// maxIntsDepth bounds CheckIntegers's walk; encoding/json refuses a value
// nested this deep (or cyclic) on its own.
const maxIntsDepth = 1000

func (w *walker) ints(rv reflect.Value, depth int) error {
	if !rv.IsValid() || depth > maxIntsDepth {
		return nil
	}
	if rv.Type() != timeType && rv.Type().Implements(marshalerType) && (rv.Kind() != reflect.Pointer || !rv.IsNil()) {
		return nil
	}
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err := w.int(rv.Int())
		return err
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		_, err := w.uint(rv.Uint())
		return err
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return w.ints(rv.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes: base64 text
		}
		for i := range rv.Len() {
			if err := w.ints(rv.Index(i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := rv.MapRange(); it.Next(); {
			if err := w.ints(it.Value(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := range rv.NumField() {
			if rv.Type().Field(i).IsExported() {
				if err := w.ints(rv.Field(i), depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

func (w *walker) object(m map[string]any, depth int) (any, error) {
	depth++
	if depth > w.lim.MaxDepth {
		return nil, w.fail("nested deeper than " + strconv.Itoa(w.lim.MaxDepth) + " levels" + w.raise("MaxDepth"))
	}
	if err := w.sized(2); err != nil {
		return nil, err
	}
	var out map[string]any
	if w.copy {
		out = make(map[string]any, len(m))
	}
	for k, v := range m {
		nv, err := w.entry(k, v, depth)
		if err != nil {
			return nil, err
		}
		if w.copy {
			out[k] = nv
		}
	}
	return out, nil
}

func (w *walker) array(a []any, depth int) (any, error) {
	depth++
	if depth > w.lim.MaxDepth {
		return nil, w.fail("nested deeper than " + strconv.Itoa(w.lim.MaxDepth) + " levels" + w.raise("MaxDepth"))
	}
	if err := w.sized(2); err != nil {
		return nil, err
	}
	var out []any
	if w.copy {
		out = make([]any, len(a))
	}
	for i, v := range a {
		w.keys++
		if w.keys > w.lim.MaxKeys {
			return nil, w.fail("more than " + strconv.Itoa(w.lim.MaxKeys) + " fields and elements" + w.raise("MaxKeys"))
		}
		w.path = append(w.path, strconv.Itoa(i))
		nv, err := w.value(v, depth)
		if err != nil {
			return nil, err
		}
		w.path = w.path[:len(w.path)-1]
		if w.copy {
			out[i] = nv
		}
	}
	return out, nil
}

// numLen is the length of f in compact JSON, without allocating.
func numLen(f float64) int {
	var buf [32]byte
	return len(strconv.AppendFloat(buf[:0], f, 'g', -1, 64)) + 1
}

// validText reports whether s is valid UTF-8 without control characters.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
