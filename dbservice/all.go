package dbservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"reflect"
	"strings"
	"time"

	"github.com/securedb-go/securedb/validate"
)

// All walks every document matching q, page by page, fetching the next page
// only when the previous one is consumed. q.Limit is the page size, so
// memory stays bounded by one page. The iteration stops at the first error,
// which it yields with a nil Doc.
func All(ctx context.Context, s Service, collection string, q Query) iter.Seq2[Doc, error] {
	return func(yield func(Doc, error) bool) {
		for {
			page, err := s.Query(ctx, collection, q)
			if err != nil {
				yield(nil, err)
				return
			}
			for i, d := range page.Docs {
				page.Docs[i] = nil // let the consumer's copy be the only one
				if !yield(d, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			if page.Next == q.Cursor {
				yield(nil, NewError("query", "all", collection, "", errors.New("provider returned the same cursor twice")))
				return
			}
			q.Cursor = page.Next
		}
	}
}

// GetAs reads a document into a T through encoding/json. Fields tagged
// `json:"_id"` and `json:"_rev"` receive the ID and revision.
func GetAs[T any](ctx context.Context, s Service, collection, id string) (T, error) {
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
		return v, NewError("get", "typed", collection, id, errors.New("document does not fit the type: "+shortJSONErr(err)))
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
func SaveAs[T any](ctx context.Context, s Service, collection, id string, v T, opts ...WriteOption) (string, error) {
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
	if nv, ok := fixTimes(reflect.ValueOf(v), doc); ok {
		doc, _ = nv.(Doc)
	}
	return s.Save(ctx, collection, id, doc, opts...)
}

// shortJSONErr keeps the type information of a json error and drops any
// document text it might quote.
func shortJSONErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " cannot hold a " + te.Value
	}
	return "malformed"
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

// fixTimes walks v beside node, its encoding/json form, and returns node
// with every time.Time of v in validate.TimeLayout, reporting whether
// anything changed. It follows encoding/json's naming of struct fields
// (tags, "-", promoted fields of embedded structs) and replaces a value
// only where the text there is that very instant, so a field it names
// differently than encoding/json would is left alone, never overwritten.
func fixTimes(v reflect.Value, node any) (any, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return node, false
		}
		v = v.Elem()
	}
	if !v.CanInterface() {
		return node, false // reached through an unexported field: json skipped it too
	}
	if v.Type() == timeType {
		text, ok := node.(string)
		t := v.Interface().(time.Time)
		if parsed, err := time.Parse(time.RFC3339Nano, text); ok && err == nil && parsed.Equal(t) {
			return validate.FormatTime(t), true
		}
		return node, false
	}
	if v.Type().Implements(marshalerType) || reflect.PointerTo(v.Type()).Implements(marshalerType) {
		return node, false // its own encoding
	}
	changed := false
	switch v.Kind() {
	case reflect.Struct:
		m, ok := node.(map[string]any)
		if !ok {
			return node, false
		}
		changed = fixStructTimes(v, m)
		return node, changed
	case reflect.Map:
		m, ok := node.(map[string]any)
		if !ok || v.Type().Key().Kind() != reflect.String {
			return node, false
		}
		for it := v.MapRange(); it.Next(); {
			k := it.Key().String()
			if child, ok := m[k]; ok {
				if nv, ch := fixTimes(it.Value(), child); ch {
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
			if nv, ch := fixTimes(v.Index(i), a[i]); ch {
				a[i], changed = nv, true
			}
		}
	}
	return node, changed
}

func fixStructTimes(v reflect.Value, m map[string]any) bool {
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
			if fv.Kind() == reflect.Struct && fv.Type() != timeType {
				changed = fixStructTimes(fv, m) || changed
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
			if nv, ch := fixTimes(fv, child); ch {
				m[name], changed = nv, true
			}
		}
	}
	return changed
}
