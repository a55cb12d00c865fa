package dbservice

import (
	"bytes"
	"context"
	"encoding/json"
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
// hold exactly is refused (ErrInvalid), never rounded.
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
