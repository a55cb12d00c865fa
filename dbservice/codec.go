package dbservice

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/securedb-go/securedb/validate"
)

// The typed helpers convert between Go values and documents directly, with
// reflection cached per type, instead of encoding to JSON text and parsing
// it back. They follow encoding/json's rules (tags, "-", omitempty,
// omitzero, the string option, promoted fields of embedded structs, the
// case-insensitive match of keys on the way back, []byte as base64 text,
// integer map keys), and hand a value to encoding/json itself where it has
// its own encoding (json.Marshaler, json.Unmarshaler, encoding.TextMarshaler
// and TextUnmarshaler). They differ on purpose in three places, each one a
// loss encoding/json would cause:
//
//   - time.Time is written as validate.TimeLayout text in UTC (as Save
//     stores it), not with a variable fraction and the value's own offset;
//   - an integer field reads the stored float64's exact value (2^60 reads
//     back as 1<<60, where encoding/json would read its shortest text
//     1152921504606847000), and an integer float64 cannot hold is refused
//     on the way in (validate.CheckIntegers' rule);
//   - a float32 is written as the float64 nearest its shortest text, as
//     encoding/json does, so 0.1 stays 0.1.

var (
	timeType            = reflect.TypeFor[time.Time]()
	marshalerType       = reflect.TypeFor[json.Marshaler]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// maxCodecDepth bounds the nesting the codec follows; deeper (or cyclic)
// values are refused, as encoding/json refuses cycles.
const maxCodecDepth = 200

// field is one JSON member of a struct type.
type field struct {
	name      string
	index     []int
	typ       reflect.Type
	omitEmpty bool
	omitZero  bool
	asString  bool // the ",string" option, on a bool, number or string
}

// structInfo is the cached layout of a struct type.
type structInfo struct {
	fields []field
	exact  map[string]int
}

var structCache sync.Map // reflect.Type → *structInfo

func structOf(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: typeFields(t), exact: map[string]int{}}
	for i, f := range si.fields {
		si.exact[f.name] = i
	}
	v, _ := structCache.LoadOrStore(t, si)
	return v.(*structInfo)
}

// typeFields lists the JSON members of t by encoding/json's rules: a
// breadth-first walk of embedded structs, where for each name the
// shallowest field wins, a tagged one breaking a tie at the same depth,
// and a remaining tie hides the name.
func typeFields(t reflect.Type) []field {
	type cand struct {
		field
		depth  int
		tagged bool
	}
	var cands []cand
	type level struct {
		t     reflect.Type
		index []int
	}
	current := []level{{t: t}}
	visited := map[reflect.Type]bool{}
	for depth := 0; len(current) > 0; depth++ {
		var next []level
		for _, lv := range current {
			if visited[lv.t] {
				continue
			}
			visited[lv.t] = true
			for i := range lv.t.NumField() {
				sf := lv.t.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				index := append(append([]int(nil), lv.index...), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, level{t: ft, index: index})
					continue
				}
				tagged := name != ""
				if name == "" {
					name = sf.Name
				}
				f := field{name: name, index: index, typ: sf.Type}
				for o := range strings.SplitSeq(opts, ",") {
					switch o {
					case "omitempty":
						f.omitEmpty = true
					case "omitzero":
						f.omitZero = true
					case "string":
						switch sf.Type.Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64, reflect.String:
							f.asString = true
						}
					}
				}
				cands = append(cands, cand{field: f, depth: depth, tagged: tagged})
			}
		}
		current = next
	}
	// Dominant field per name; the order of the struct is kept.
	byName := map[string][]int{}
	var order []string
	for i, c := range cands {
		if _, ok := byName[c.name]; !ok {
			order = append(order, c.name)
		}
		byName[c.name] = append(byName[c.name], i)
	}
	var out []field
	for _, name := range order {
		idx := byName[name]
		best, tie := idx[0], false
		for _, j := range idx[1:] {
			b, c := cands[best], cands[j]
			switch {
			case c.depth < b.depth || (c.depth == b.depth && c.tagged && !b.tagged):
				best, tie = j, false
			case c.depth == b.depth && c.tagged == b.tagged:
				tie = true
			}
		}
		if !tie {
			out = append(out, cands[best].field)
		}
	}
	return out
}

// validTag is encoding/json's rule for a usable tag name.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// encodeDoc converts v, which must encode as an object, into a document.
func encodeDoc(v any) (Doc, error) {
	out, err := encodeValue(reflect.ValueOf(v), 0)
	if err != nil {
		return nil, err
	}
	doc, ok := out.(map[string]any)
	if !ok {
		return nil, &validate.Error{Field: "doc", Reason: "value must encode as a JSON object"}
	}
	return doc, nil
}

func errEncode(reason string) error { return &validate.Error{Field: "doc", Reason: reason} }

// ownEncoding reports whether values of t encode themselves.
func ownEncoding(t reflect.Type) bool {
	return t.Implements(marshalerType) || t.Implements(textMarshalerType)
}

func encodeValue(v reflect.Value, depth int) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	if depth > maxCodecDepth {
		return nil, errEncode("nested deeper than " + strconv.Itoa(maxCodecDepth) + " levels, or cyclic")
	}
	t := v.Type()
	if t == timeType {
		return validate.FormatTime(v.Interface().(time.Time)), nil
	}
	if t == numberType {
		// A number as text, as encoding/json writes it (the empty one as
		// 0); Save applies the one number rule to it.
		if v.String() == "" {
			return json.Number("0"), nil
		}
		return json.Number(v.String()), nil
	}
	if k := t.Kind(); k != reflect.Pointer && k != reflect.Interface {
		// Pointers are followed first, so that *time.Time, whose method
		// set has MarshalJSON, still stores the fixed-width text.
		if ownEncoding(t) {
			return viaJSON(v.Interface())
		}
		if v.CanAddr() && ownEncoding(reflect.PointerTo(t)) {
			return viaJSON(v.Addr().Interface())
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.String:
		return v.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := v.Int()
		f := float64(i)
		if f >= 0x1p63 || int64(f) != i {
			return nil, errEncode("integer beyond ±2^53 that float64 cannot hold exactly")
		}
		return f, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		f := float64(u)
		if f >= 0x1p64 || uint64(f) != u {
			return nil, errEncode("integer beyond ±2^53 that float64 cannot hold exactly")
		}
		return f, nil
	case reflect.Float32:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errEncode("NaN and infinities are not JSON numbers")
		}
		g, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
		return g, nil
	case reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errEncode("NaN and infinities are not JSON numbers")
		}
		return f, nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return encodeValue(v.Elem(), depth+1)
	case reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
		if t.Elem().Kind() == reflect.Uint8 && !ownEncoding(reflect.PointerTo(t.Elem())) {
			return base64.StdEncoding.EncodeToString(v.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			e, err := encodeValue(v.Index(i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, nil
		}
		kt := t.Key()
		if kt.Kind() != reflect.String && ownEncoding(kt) {
			return viaJSON(v.Interface())
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			var k string
			switch kt.Kind() {
			case reflect.String:
				k = it.Key().String()
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				k = strconv.FormatInt(it.Key().Int(), 10)
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				k = strconv.FormatUint(it.Key().Uint(), 10)
			default:
				return nil, errEncode("map keys must be strings or integers")
			}
			e, err := encodeValue(it.Value(), depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case reflect.Struct:
		si := structOf(t)
		out := make(map[string]any, len(si.fields))
		for i := range si.fields {
			f := &si.fields[i]
			fv, ok := fieldByIndex(v, f.index)
			if !ok {
				continue // through a nil embedded pointer
			}
			if (f.omitEmpty && isEmpty(fv)) || (f.omitZero && isZero(fv)) {
				continue
			}
			var e any
			var err error
			if f.asString {
				e, err = encodeString(fv)
			} else {
				e, err = encodeValue(fv, depth+1)
			}
			if err != nil {
				return nil, err
			}
			out[f.name] = e
		}
		return out, nil
	}
	return nil, errEncode("unsupported type " + t.Kind().String())
}

// encodeString is the ",string" option: the value's JSON text in a string.
func encodeString(v reflect.Value) (any, error) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		b, _ := json.Marshal(v.String())
		return string(b), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		// Text keeps every integer exactly: no float64 rule applies.
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(v.Uint(), 10), nil
	}
	e, err := encodeValue(v, 0)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(e)
	return string(b), nil
}

// fieldByIndex follows index through embedded pointers, reporting false at
// a nil one.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZero is encoding/json's omitzero test: an IsZero method, else the zero
// value.
func isZero(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	return v.IsZero()
}

// viaJSON encodes a value that has its own encoding with encoding/json and
// reads it back with numbers as json.Number, which Save then checks by the
// one number rule.
func viaJSON(x any) (any, error) {
	if err := validate.CheckIntegers(x); err != nil {
		return nil, err
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, errEncode("value cannot be encoded as JSON")
	}
	var out any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, errEncode("value cannot be encoded as JSON")
	}
	return out, nil
}

// decodeError says which field of the type does not fit, never the value.
type decodeError struct {
	path string
	what string
}

func (e *decodeError) Error() string {
	if e.path == "" {
		return "document does not fit the type: " + e.what
	}
	return "document does not fit the type: field " + e.path + " cannot hold " + e.what
}

func kindOf(node any) string {
	switch node.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a bool"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a value"
}

// decodeDoc fills the value v points to from doc.
func decodeDoc(doc Doc, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("decode target must be a non-nil pointer")
	}
	return decodeValue(doc, rv.Elem(), "", 0)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func decodeValue(node any, v reflect.Value, path string, depth int) error {
	if depth > maxCodecDepth {
		return &decodeError{path, "a value nested this deep"}
	}
	t := v.Type()
	if node == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
			v.SetZero()
			return nil
		}
		if !t.Implements(unmarshalerType) && !reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil // encoding/json leaves the value as it is
		}
	}
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return decodeValue(node, v.Elem(), path, depth+1)
	}
	if t == numberType {
		// The number's text as encoding/json would write it; a string
		// must hold a valid number, as encoding/json requires.
		var text []byte
		switch x := node.(type) {
		case float64:
			text, _ = json.Marshal(x)
		case string:
			text, _ = json.Marshal(x)
		default:
			return &decodeError{path, kindOf(node)}
		}
		var n json.Number
		if err := json.Unmarshal(text, &n); err != nil {
			return &decodeError{path, "a string that is not a number"}
		}
		v.SetString(string(n))
		return nil
	}
	if t == timeType {
		s, ok := node.(string)
		if !ok {
			return &decodeError{path, kindOf(node)}
		}
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return &decodeError{path, "a string that is not an RFC 3339 time"}
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
		_, isStr := node.(string)
		if !pt.Implements(unmarshalerType) && !isStr {
			return &decodeError{path, kindOf(node) + " where the type reads text"}
		}
		b, err := json.Marshal(node)
		if err != nil {
			return &decodeError{path, kindOf(node)}
		}
		if err := json.Unmarshal(b, v.Addr().Interface()); err != nil {
			return &decodeError{path, kindOf(node)}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return &decodeError{path, kindOf(node) + " in a non-empty interface"}
		}
		v.Set(reflect.ValueOf(node))
		return nil
	case reflect.Bool:
		b, ok := node.(bool)
		if !ok {
			return &decodeError{path, kindOf(node)}
		}
		v.SetBool(b)
	case reflect.String:
		s, ok := node.(string)
		if !ok {
			return &decodeError{path, kindOf(node)}
		}
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := node.(float64)
		if !ok || f != math.Trunc(f) || f < -0x1p63 || f >= 0x1p63 || v.OverflowInt(int64(f)) {
			return &decodeError{path, kindOf(node) + " outside an integer of this size"}
		}
		v.SetInt(int64(f))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		f, ok := node.(float64)
		if !ok || f != math.Trunc(f) || f < 0 || f >= 0x1p64 || v.OverflowUint(uint64(f)) {
			return &decodeError{path, kindOf(node) + " outside an unsigned integer of this size"}
		}
		v.SetUint(uint64(f))
	case reflect.Float32, reflect.Float64:
		f, ok := node.(float64)
		if ok && t.Kind() == reflect.Float32 {
			// Round from the shortest text, as encoding/json does: rounding
			// the float64 itself may differ in the last bit.
			var err error
			f, err = strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 64), 32)
			ok = err == nil
		}
		if !ok || v.OverflowFloat(f) {
			return &decodeError{path, kindOf(node)}
		}
		v.SetFloat(f)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if s, ok := node.(string); ok {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return &decodeError{path, "a string that is not base64"}
				}
				v.SetBytes(b)
				return nil
			}
		}
		a, ok := node.([]any)
		if !ok {
			return &decodeError{path, kindOf(node)}
		}
		s := reflect.MakeSlice(t, len(a), len(a))
		for i, e := range a {
			if err := decodeValue(e, s.Index(i), path, depth+1); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Array:
		a, ok := node.([]any)
		if !ok {
			return &decodeError{path, kindOf(node)}
		}
		for i := range v.Len() {
			if i >= len(a) {
				v.Index(i).SetZero()
				continue
			}
			if err := decodeValue(a[i], v.Index(i), path, depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := node.(map[string]any)
		if !ok {
			return &decodeError{path, kindOf(node)}
		}
		kt := t.Key()
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(m)))
		}
		for k, e := range m {
			var kv reflect.Value
			switch {
			case kt.Kind() == reflect.String && !reflect.PointerTo(kt).Implements(textUnmarshalerType):
				kv = reflect.ValueOf(k).Convert(kt)
			case reflect.PointerTo(kt).Implements(textUnmarshalerType):
				kp := reflect.New(kt)
				if err := kp.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(k)); err != nil {
					return &decodeError{path, "a key this map type cannot hold"}
				}
				kv = kp.Elem()
			case kt.Kind() >= reflect.Int && kt.Kind() <= reflect.Int64:
				n, err := strconv.ParseInt(k, 10, 64)
				if err != nil || reflect.Zero(kt).OverflowInt(n) {
					return &decodeError{path, "a key this map type cannot hold"}
				}
				kv = reflect.ValueOf(n).Convert(kt)
			case kt.Kind() >= reflect.Uint && kt.Kind() <= reflect.Uintptr:
				n, err := strconv.ParseUint(k, 10, 64)
				if err != nil || reflect.Zero(kt).OverflowUint(n) {
					return &decodeError{path, "a key this map type cannot hold"}
				}
				kv = reflect.ValueOf(n).Convert(kt)
			default:
				return &decodeError{path, "an object (map keys must be strings or integers)"}
			}
			ev := reflect.New(t.Elem()).Elem()
			if err := decodeValue(e, ev, path, depth+1); err != nil {
				return err
			}
			v.SetMapIndex(kv, ev)
		}
	case reflect.Struct:
		m, ok := node.(map[string]any)
		if !ok {
			return &decodeError{path, kindOf(node)}
		}
		si := structOf(t)
		for k, e := range m {
			i, ok := si.exact[k]
			if !ok {
				i = -1
				for j := range si.fields {
					if strings.EqualFold(si.fields[j].name, k) {
						i = j
						break
					}
				}
				if i < 0 {
					continue // a key the type does not hold: ignored, as encoding/json does
				}
			}
			f := &si.fields[i]
			fv, err := settableField(v, f.index)
			if err != nil {
				return &decodeError{join(path, f.name), "a value through an unexported embedded pointer"}
			}
			if f.asString {
				err = decodeString(e, fv, join(path, f.name))
			} else {
				err = decodeValue(e, fv, join(path, f.name), depth+1)
			}
			if err != nil {
				return err
			}
		}
	default:
		return &decodeError{path, kindOf(node) + " in a " + t.Kind().String()}
	}
	return nil
}

// decodeString is the ",string" option on the way back: the string holds
// the value's JSON text, read as encoding/json reads it (strconv's number
// syntax, "null" leaving the value as it is).
func decodeString(node any, v reflect.Value, path string) error {
	if node == nil {
		return decodeValue(nil, v, path, 0)
	}
	item, ok := node.(string)
	if !ok {
		return &decodeError{path, kindOf(node) + " where the string option wants a string"}
	}
	bad := &decodeError{path, "a string that is not the JSON text of this type"}
	if item == "null" {
		return decodeValue(nil, v, path, 0)
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if item == "" {
		return bad
	}
	switch c := item[0]; {
	case c == '"':
		var s string
		if v.Kind() != reflect.String || json.Unmarshal([]byte(item), &s) != nil {
			return bad
		}
		v.SetString(s)
	case item == "true" || item == "false":
		if v.Kind() != reflect.Bool {
			return bad
		}
		v.SetBool(item == "true")
	case c == '-' || c >= '0' && c <= '9':
		switch k := v.Kind(); {
		case k >= reflect.Int && k <= reflect.Int64:
			n, err := strconv.ParseInt(item, 10, 64)
			if err != nil || v.OverflowInt(n) {
				return bad
			}
			v.SetInt(n)
		case k >= reflect.Uint && k <= reflect.Uintptr:
			n, err := strconv.ParseUint(item, 10, 64)
			if err != nil || v.OverflowUint(n) {
				return bad
			}
			v.SetUint(n)
		case k == reflect.Float32 || k == reflect.Float64:
			f, err := strconv.ParseFloat(item, v.Type().Bits())
			if err != nil || v.OverflowFloat(f) {
				return bad
			}
			v.SetFloat(f)
		default:
			return bad
		}
	default:
		return bad
	}
	return nil
}

// settableField follows index, allocating nil embedded pointers on the way.
func settableField(v reflect.Value, index []int) (reflect.Value, error) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, errors.New("unexported embedded pointer")
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, nil
}
