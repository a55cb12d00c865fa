package dbservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/securedb-go/securedb/validate"
)

// refGetAs is GetAs as it was before the direct conversion: through
// encoding/json. The benchmarks and the differential tests compare against it.
//
// It reads a document into a T through encoding/json. Fields tagged
// `json:"_id"` and `json:"_rev"` receive the ID and revision.
func refGetAs[T any](ctx context.Context, s Service, collection, id string) (T, error) {
	var v T
	doc, err := s.Get(ctx, collection, id)
	if err != nil {
		return v, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return v, NewError("get", "typed", collection, id, err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, NewError("get", "typed", collection, id, errors.New("document does not fit the type: "+refShortJSONErr(err)))
	}
	return v, nil
}

// SaveAs stores v, which must encode as a JSON object, through
// encoding/json. Fields tagged with a leading "_" are dropped like any
// system field. Numbers follow validate.Sanitize's one number rule: a
// float64 field is stored as it is, and an integer field float64 cannot
// hold exactly is refused (ErrInvalid), never rounded. time.Time values
// are stored like Save stores them, as fixed-width UTC text
// (validate.TimeLayout), not with encoding/json's variable fraction and
// the value's own zone offset, so that they order and compare as instants.
func refSaveAs[T any](ctx context.Context, s Service, collection, id string, v T, opts ...WriteOption) (string, error) {
	if err := validate.CheckIntegers(v); err != nil {
		return "", NewError("save", "typed", collection, id, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", NewError("save", "typed", collection, id, &validate.Error{Field: "doc", Reason: "value cannot be encoded as JSON"})
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc Doc
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return "", NewError("save", "typed", collection, id, &validate.Error{Field: "doc", Reason: "value must encode as a JSON object"})
	}
	if nv, ok := refFixTimes(reflect.ValueOf(v), doc); ok {
		doc, _ = nv.(Doc)
	}
	return s.Save(ctx, collection, id, doc, opts...)
}

// refShortJSONErr keeps the type information of a json error and drops any
// document text it might quote.
func refShortJSONErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " cannot hold a " + te.Value
	}
	return "malformed"
}

var (
	refTimeType      = reflect.TypeFor[time.Time]()
	refMarshalerType = reflect.TypeFor[json.Marshaler]()
)

// refFixTimes walks v beside node, its encoding/json form, and returns node
// with every time.Time of v in validate.TimeLayout, reporting whether
// anything changed. It follows encoding/json's naming of struct fields
// (tags, "-", promoted fields of embedded structs) and replaces a value
// only where the text there is that very instant, so a field it names
// differently than encoding/json would is left alone, never overwritten.
func refFixTimes(v reflect.Value, node any) (any, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return node, false
		}
		v = v.Elem()
	}
	if !v.CanInterface() {
		return node, false // reached through an unexported field: json skipped it too
	}
	if v.Type() == refTimeType {
		text, ok := node.(string)
		t := v.Interface().(time.Time)
		if parsed, err := time.Parse(time.RFC3339Nano, text); ok && err == nil && parsed.Equal(t) {
			return validate.FormatTime(t), true
		}
		return node, false
	}
	if v.Type().Implements(refMarshalerType) || reflect.PointerTo(v.Type()).Implements(refMarshalerType) {
		return node, false // its own encoding
	}
	changed := false
	switch v.Kind() {
	case reflect.Struct:
		m, ok := node.(map[string]any)
		if !ok {
			return node, false
		}
		changed = refFixStructTimes(v, m)
		return node, changed
	case reflect.Map:
		m, ok := node.(map[string]any)
		if !ok || v.Type().Key().Kind() != reflect.String {
			return node, false
		}
		for it := v.MapRange(); it.Next(); {
			k := it.Key().String()
			if child, ok := m[k]; ok {
				if nv, ch := refFixTimes(it.Value(), child); ch {
					m[k], changed = nv, true
				}
			}
		}
	case reflect.Slice, reflect.Array:
		a, ok := node.([]any)
		if !ok || v.Len() != len(a) || v.Type().Elem().Kind() == reflect.Uint8 {
			return node, false
		}
		for i := range a {
			if nv, ch := refFixTimes(v.Index(i), a[i]); ch {
				a[i], changed = nv, true
			}
		}
	}
	return node, changed
}

func refFixStructTimes(v reflect.Value, m map[string]any) bool {
	changed := false
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			// Promoted fields live in the parent object.
			for fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					break
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct && fv.Type() != refTimeType {
				changed = refFixStructTimes(fv, m) || changed
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if child, ok := m[name]; ok {
			if nv, ch := refFixTimes(fv, child); ch {
				m[name], changed = nv, true
			}
		}
	}
	return changed
}
