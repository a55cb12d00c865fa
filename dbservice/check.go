package dbservice

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/securedb-go/securedb/validate"
)

// The checks below are the baseline every provider applies before any
// network call, so input refused on one backend is refused on all. Guard
// applies a caller's (possibly stricter) Policy on top.

// CheckCollection refuses names that do not match validate.CollectionPattern.
func CheckCollection(collection string) error {
	return validate.CollectionName(collection)
}

// CheckID applies the default ID rule (validate.DefaultIDPattern, at most
// 100 bytes).
func CheckID(id string) error {
	return validate.IDRule{}.Check(id)
}

// NormalizeDoc returns a deep copy of doc in the JSON data model with system
// fields dropped, or ErrInvalid; see validate.Sanitize. Providers call it
// with validate.DefaultLimits unless configured otherwise.
func NormalizeDoc(doc Doc, lim validate.Limits) (Doc, error) {
	return validate.Sanitize(doc, lim)
}

// ApplyWriteOptions resolves opts. IfRev together with IfAbsent, IfRev("")
// and a malformed revision are ErrInvalid.
func ApplyWriteOptions(opts ...WriteOption) (WriteOptions, error) {
	var o WriteOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.ifRevSet && o.IfRev == "" {
		return o, &validate.Error{Field: "rev", Reason: "IfRev needs a revision; an empty one would make the write unconditional"}
	}
	if (o.ifRevSet || o.IfRev != "") && o.IfAbsent {
		return o, &validate.Error{Field: "options", Reason: "IfRev and IfAbsent exclude each other"}
	}
	if o.IfRev != "" {
		if err := validate.Rev(o.IfRev); err != nil {
			return o, err
		}
	}
	if o.Upsert && (o.IfRev != "" || o.IfAbsent) {
		return o, &validate.Error{Field: "options", Reason: "Upsert excludes IfRev and IfAbsent"}
	}
	if o.expirySet {
		now := time.Now()
		switch {
		case !o.ExpiresAt.After(now):
			return o, &validate.Error{Field: "options", Reason: "ExpiresAt must be in the future"}
		case o.ExpiresAt.Sub(now) > MaxExpiry:
			return o, &validate.Error{Field: "options", Reason: "ExpiresAt is more than 100 years ahead"}
		}
		o.ExpiresAt = o.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	return o, nil
}

// ApplySaveOptions resolves the options of a Save: ApplyWriteOptions, and
// Upsert is refused (it is an option of Update).
func ApplySaveOptions(opts ...WriteOption) (WriteOptions, error) {
	o, err := ApplyWriteOptions(opts...)
	if err == nil && o.Upsert {
		err = &validate.Error{Field: "options", Reason: "Upsert is an option of Update, not of Save"}
	}
	return o, err
}

// ApplyUpdateOptions resolves the options of an Update: ApplyWriteOptions,
// and IfAbsent is refused (Upsert is Update's way to create).
func ApplyUpdateOptions(opts ...WriteOption) (WriteOptions, error) {
	o, err := ApplyWriteOptions(opts...)
	if err == nil && o.IfAbsent {
		err = &validate.Error{Field: "options", Reason: "IfAbsent is an option of Save; Update creates with Upsert"}
	}
	return o, err
}

// ApplyDeleteOptions resolves the options of a Delete or DeleteMany: only
// IfRev applies (and only to Delete).
func ApplyDeleteOptions(opts ...WriteOption) (WriteOptions, error) {
	o, err := ApplyWriteOptions(opts...)
	if err == nil && (o.IfAbsent || o.Upsert || o.expirySet) {
		err = &validate.Error{Field: "options", Reason: "a delete takes only IfRev"}
	}
	return o, err
}

// CheckQuery validates q and returns it normalized: Limit defaulted, values
// in the JSON data model (numbers as float64, time.Time as the fixed-width
// text of validate.TimeLayout, so a time range compares instants),
// In values as []any, Exists values as bool. The cursor's form is checked;
// its content is checked by CursorSigner.Decode. Paths follow the default
// limits; CheckQueryWith takes the provider's or the policy's.
func CheckQuery(q Query) (Query, error) {
	return CheckQueryWith(q, validate.Limits{})
}

// CheckQueryWith is CheckQuery with field paths (conditions, projection,
// order) checked under lim: with lim.LiteralKeys they may address keys
// with "$" and "." in the escaped form of Path (see validate.FieldPathWith).
// Providers call it with their configured limits, Guard with
// Policy.Limits.
func CheckQueryWith(q Query, lim validate.Limits) (Query, error) {
	if len(q.Where) > validate.MaxConds {
		return q, &validate.Error{Field: "query.where", Reason: "more than " + strconv.Itoa(validate.MaxConds) + " conditions"}
	}
	if len(q.Fields) > validate.MaxFields {
		return q, &validate.Error{Field: "query.fields", Reason: "more than " + strconv.Itoa(validate.MaxFields) + " fields"}
	}
	if err := validate.Limit(q.Limit); err != nil {
		return q, err
	}
	if err := validate.Cursor(q.Cursor); err != nil {
		return q, err
	}
	out := Query{Limit: q.Limit, Cursor: q.Cursor}
	if out.Limit == 0 {
		out.Limit = DefaultLimit
	}
	if err := checkOrderBy(q.OrderBy, lim); err != nil {
		return q, err
	}
	if len(q.OrderBy) > 0 {
		out.OrderBy = append([]Order(nil), q.OrderBy...)
	}
	for _, f := range q.Fields {
		if err := validate.FieldPathWith(f, lim); err != nil {
			return q, err
		}
	}
	if len(q.Fields) > 0 {
		out.Fields = append([]string(nil), q.Fields...)
	}
	if len(q.Where) > 0 {
		out.Where = make([]Cond, len(q.Where))
	}
	for i, c := range q.Where {
		nc, err := checkCond(c, lim)
		if err != nil {
			return q, err
		}
		out.Where[i] = nc
	}
	return out, nil
}

// checkOrderBy refuses more than MaxOrderBy keys, invalid paths, a field
// listed twice, and "_id" anywhere but last (it is the final key anyway).
func checkOrderBy(keys []Order, lim validate.Limits) error {
	if len(keys) > MaxOrderBy {
		return &validate.Error{Field: "query.orderBy", Reason: "more than " + strconv.Itoa(MaxOrderBy) + " sort keys"}
	}
	for i, k := range keys {
		if err := validate.FieldPathWith(k.Field, lim); err != nil {
			return err
		}
		if k.Field == "_id" && i != len(keys)-1 {
			return &validate.Error{Field: "query.orderBy", Reason: "_id can only be the last sort key"}
		}
		for _, prev := range keys[:i] {
			if prev.Field == k.Field {
				return &validate.Error{Field: "query.orderBy", Reason: "a field is listed twice"}
			}
		}
	}
	return nil
}

func checkCond(c Cond, lim validate.Limits) (Cond, error) {
	if err := validate.FieldPathWith(c.Field, lim); err != nil {
		return c, err
	}
	if err := validate.Operator(string(c.Op)); err != nil {
		return c, err
	}
	out := Cond{Field: c.Field, Op: c.Op}
	switch c.Op {
	case Exists:
		b, ok := c.Value.(bool)
		if !ok {
			return c, &validate.Error{Field: "query.value", Reason: "exists takes true or false"}
		}
		out.Value = b
	case In:
		vals, err := inValues(c.Value)
		if err != nil {
			return c, err
		}
		out.Value = vals
	default:
		v, err := validate.QueryValue(c.Value)
		if err != nil {
			return c, err
		}
		switch c.Op {
		case Gt, Gte, Lt, Lte:
			switch v.(type) {
			case string, float64:
			default:
				return c, &validate.Error{Field: "query.value", Reason: string(c.Op) + " takes a string or a number"}
			}
		case Prefix:
			if _, ok := v.(string); !ok {
				return c, &validate.Error{Field: "query.value", Reason: "prefix takes a string"}
			}
		}
		out.Value = v
	}
	return out, nil
}

func inValues(v any) ([]any, error) {
	rv := reflect.ValueOf(v)
	if v == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
		return nil, &validate.Error{Field: "query.value", Reason: "in takes a list of values"}
	}
	if rv.Len() == 0 || rv.Len() > validate.MaxInValues {
		return nil, &validate.Error{Field: "query.value", Reason: fmt.Sprintf("in takes 1 to %d values", validate.MaxInValues)}
	}
	out := make([]any, rv.Len())
	for i := range out {
		nv, err := validate.QueryValue(rv.Index(i).Interface())
		if err != nil {
			return nil, err
		}
		out[i] = nv
	}
	return out, nil
}

// CheckFields validates EnsureIndex's field list: 1 to validate.MaxFields
// valid field paths under the default limits.
func CheckFields(fields []string) error {
	return CheckFieldsWith(fields, validate.Limits{})
}

// CheckFieldsWith is CheckFields with paths checked under lim (see
// CheckQueryWith).
func CheckFieldsWith(fields []string, lim validate.Limits) error {
	if len(fields) == 0 || len(fields) > validate.MaxFields {
		return &validate.Error{Field: "fields", Reason: "give 1 to " + strconv.Itoa(validate.MaxFields) + " field paths"}
	}
	for _, f := range fields {
		if err := validate.FieldPathWith(f, lim); err != nil {
			return err
		}
	}
	return nil
}

// CheckCall is the check every provider method starts with, in the order the
// contract expects: the context first (a cancelled call reports the context
// error), then closed (ErrClosed), then the collection name (skipped only
// when op is "ping"), then the ID when needID is set. It returns a *Error
// ready to return, or nil.
func CheckCall(ctx context.Context, closed bool, provider, op, collection, id string, needID bool) error {
	if err := ctx.Err(); err != nil {
		return NewError(op, provider, collection, id, err)
	}
	if closed {
		return NewError(op, provider, collection, id, ErrClosed)
	}
	if op != "ping" {
		if err := CheckCollection(collection); err != nil {
			return NewError(op, provider, collection, id, err)
		}
	}
	if needID {
		if err := CheckID(id); err != nil {
			return NewError(op, provider, collection, id, err)
		}
	}
	return nil
}
