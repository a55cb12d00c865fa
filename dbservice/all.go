package dbservice

import (
	"context"
	"errors"
	"iter"

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

// GetAs reads a document into a T. The conversion follows encoding/json's
// rules for T (json tags, "-", omitempty, promoted fields of embedded
// structs, keys matched exactly or else case-insensitively, []byte from
// base64 text, json.Unmarshaler and encoding.TextUnmarshaler types by their
// own methods) without encoding the document to JSON text: fields tagged
// `json:"_id"`, `json:"_rev"` and `json:"_expires"` (ExpiresField) receive
// the system fields, a time.Time reads the stored text, and an integer
// field reads the stored number's exact value, refusing a fraction or a
// number past the field's range (ErrInvalid, naming the field, never the
// value).
func GetAs[T any](ctx context.Context, s Service, collection, id string) (T, error) {
	var v T
	doc, err := s.Get(ctx, collection, id)
	if err != nil {
		return v, err
	}
	if err := decodeDoc(doc, &v); err != nil {
		return v, NewError("get", "typed", collection, id, typedErr(err))
	}
	return v, nil
}

// typedErr makes a conversion error an ErrInvalid that names the field.
func typedErr(err error) error {
	var ve *validate.Error
	if errors.As(err, &ve) {
		return err
	}
	return &validate.Error{Field: "doc", Reason: err.Error()}
}

// SaveAs stores v, which must encode as a JSON object, converting it
// directly by encoding/json's rules (see GetAs), without JSON text. Fields
// tagged with a leading "_" are dropped like any system field. Numbers
// follow validate.Sanitize's one number rule: a float64 field is stored as
// it is, and an integer field float64 cannot hold exactly is refused
// (ErrInvalid), never rounded. time.Time values are stored like Save
// stores them, as fixed-width UTC text (validate.TimeLayout), not with
// encoding/json's variable fraction and the value's own zone offset, so
// that they order and compare as instants. Types with their own encoding
// (json.Marshaler, encoding.TextMarshaler) go through encoding/json.
func SaveAs[T any](ctx context.Context, s Service, collection, id string, v T, opts ...WriteOption) (string, error) {
	doc, err := encodeDoc(v)
	if err != nil {
		return "", NewError("save", "typed", collection, id, err)
	}
	return s.Save(ctx, collection, id, doc, opts...)
}

// PageOf is one page of a typed query: Page with each document converted
// to a T.
type PageOf[T any] struct {
	Items []T
	Next  string
	Stats Stats
}

// QueryAs is Query with each document converted to a T as GetAs converts
// it. A document that does not fit T fails the whole page (ErrInvalid,
// naming the document's ID and the field), so a caller never sees a page
// with holes.
func QueryAs[T any](ctx context.Context, s Service, collection string, q Query) (PageOf[T], error) {
	page, err := s.Query(ctx, collection, q)
	if err != nil {
		return PageOf[T]{}, err
	}
	out := PageOf[T]{Items: make([]T, len(page.Docs)), Next: page.Next, Stats: page.Stats}
	for i, d := range page.Docs {
		if err := decodeDoc(d, &out.Items[i]); err != nil {
			id, _ := d["_id"].(string)
			return PageOf[T]{}, NewError("query", "typed", collection, id, typedErr(err))
		}
	}
	return out, nil
}

// AllAs is All with each document converted to a T as GetAs converts it.
// The iteration stops at the first error, a document that does not fit T
// included, which it yields with the zero T.
func AllAs[T any](ctx context.Context, s Service, collection string, q Query) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for d, err := range All(ctx, s, collection, q) {
			if err != nil {
				yield(zero, err)
				return
			}
			var v T
			if err := decodeDoc(d, &v); err != nil {
				id, _ := d["_id"].(string)
				yield(zero, NewError("query", "typed", collection, id, typedErr(err)))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// GetManyAs is GetMany with each document converted to a T as GetAs
// converts it: the found values in the order of ids, and the IDs that have
// no document. A document that does not fit T fails the call.
func GetManyAs[T any](ctx context.Context, s Service, collection string, ids []string) ([]T, []string, error) {
	docs, missing, err := s.GetMany(ctx, collection, ids)
	if err != nil {
		return nil, nil, err
	}
	out := make([]T, len(docs))
	for i, d := range docs {
		if err := decodeDoc(d, &out[i]); err != nil {
			id, _ := d["_id"].(string)
			return nil, nil, NewError("get-many", "typed", collection, id, typedErr(err))
		}
	}
	return out, missing, nil
}
