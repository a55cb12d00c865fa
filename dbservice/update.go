package dbservice

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/securedb-go/securedb/validate"
)

// MutationKind says what a Mutation does to its field.
type MutationKind string

// The mutations of Update. Paths are dotted field paths (see Path); a path
// never names a system field ("_id", "_rev", ...).
const (
	// MutSet sets the field to Value, creating the maps on the way when
	// they are missing. A value on the way that is not a map is ErrInvalid:
	// Update never replaces data it was not asked to replace.
	MutSet MutationKind = "set"
	// MutUnset removes the field; a missing field is left as it is.
	MutUnset MutationKind = "unset"
	// MutIncrement adds Value (a number) to the field; a missing field
	// becomes Value. A field that holds anything but a number is
	// ErrInvalid, and so is a sum float64 cannot hold (±Inf).
	MutIncrement MutationKind = "increment"
	// MutAppend adds each of Values that the array does not hold yet, in
	// order, at its end (a union, like Firestore's ArrayUnion: equality is
	// Compare's). A missing field becomes the array of the distinct Values.
	// A field that is not an array is ErrInvalid.
	MutAppend MutationKind = "append"
	// MutRemove removes every element equal to one of Values (like
	// Firestore's ArrayRemove). A missing field is left missing; a field
	// that is not an array is ErrInvalid.
	MutRemove MutationKind = "remove"
)

// MaxMutations is the most mutations one Update may carry.
const MaxMutations = 100

// Mutation is one change of an Update. Build it with Set, Unset,
// Increment, Append or Remove.
type Mutation struct {
	Kind MutationKind
	Path string
	// Value is the value of MutSet and the number of MutIncrement.
	Value any
	// Values are the elements of MutAppend and MutRemove.
	Values []any
}

// Set sets the field at path to v.
func Set(path string, v any) Mutation { return Mutation{Kind: MutSet, Path: path, Value: v} }

// Unset removes the field at path.
func Unset(path string) Mutation { return Mutation{Kind: MutUnset, Path: path} }

// Increment adds n (any Go number) to the number at path.
func Increment(path string, n any) Mutation {
	return Mutation{Kind: MutIncrement, Path: path, Value: n}
}

// Append adds the values the array at path does not hold yet.
func Append(path string, values ...any) Mutation {
	return Mutation{Kind: MutAppend, Path: path, Values: values}
}

// Remove removes every element of the array at path equal to one of
// values.
func Remove(path string, values ...any) Mutation {
	return Mutation{Kind: MutRemove, Path: path, Values: values}
}

// CheckMutations validates the mutations of an Update and returns them
// normalized, before any network call: 1 to MaxMutations of them, known
// kinds, valid paths (system fields refused), no path equal to or inside
// another (every backend applies them at once, and DynamoDB and Firestore
// refuse overlapping paths), values in the JSON data model under lim's
// rules (operator keys, sizes, numbers; paths and keys with "$" or "."
// only with lim.LiteralKeys), increments finite numbers, and
// 1 to validate.MaxInValues values for Append and Remove. The document an
// Update produces is checked against lim again where the provider sees it.
func CheckMutations(mods []Mutation, lim validate.Limits) ([]Mutation, error) {
	if len(mods) == 0 || len(mods) > MaxMutations {
		return nil, &validate.Error{Field: "update", Reason: "give 1 to " + strconv.Itoa(MaxMutations) + " mutations"}
	}
	out := make([]Mutation, len(mods))
	for i, m := range mods {
		if err := validate.FieldPathWith(m.Path, lim); err != nil {
			return nil, err
		}
		if m.Path == "_id" {
			return nil, &validate.Error{Field: "update.path", Reason: "system fields cannot be changed"}
		}
		names := SplitPath(m.Path)
		for _, prev := range out[:i] {
			if pathWithin(names, SplitPath(prev.Path)) || pathWithin(SplitPath(prev.Path), names) {
				return nil, &validate.Error{Field: "update.path", Reason: "two mutations touch the same field or one inside the other"}
			}
		}
		n := Mutation{Kind: m.Kind, Path: m.Path}
		switch m.Kind {
		case MutSet:
			v, err := mutationValue(m.Value, lim)
			if err != nil {
				return nil, err
			}
			n.Value = v
		case MutUnset:
		case MutIncrement:
			v, err := validate.QueryValue(m.Value)
			if err != nil {
				return nil, err
			}
			if _, ok := v.(float64); !ok {
				return nil, &validate.Error{Field: "update.value", Reason: "increment takes a number"}
			}
			n.Value = v
		case MutAppend, MutRemove:
			if len(m.Values) == 0 || len(m.Values) > validate.MaxInValues {
				return nil, &validate.Error{Field: "update.value", Reason: string(m.Kind) + " takes 1 to " + strconv.Itoa(validate.MaxInValues) + " values"}
			}
			n.Values = make([]any, len(m.Values))
			for j, e := range m.Values {
				v, err := mutationValue(e, lim)
				if err != nil {
					return nil, err
				}
				n.Values[j] = v
			}
		default:
			return nil, &validate.Error{Field: "update.kind", Reason: "unknown mutation; use Set, Unset, Increment, Append or Remove"}
		}
		out[i] = n
	}
	return out, nil
}

// pathWithin reports whether inner is outer or a path inside it.
func pathWithin(inner, outer []string) bool {
	return len(inner) >= len(outer) && slices.Equal(inner[:len(outer)], outer)
}

// mutationValue checks one value with the document rules by checking a
// one-field document that holds it.
func mutationValue(v any, lim validate.Limits) (any, error) {
	doc, err := validate.Sanitize(map[string]any{"value": v}, lim)
	if err != nil {
		var ve *validate.Error
		if errors.As(err, &ve) {
			return nil, &validate.Error{Field: "update.value", Reason: ve.Reason}
		}
		return nil, err
	}
	return doc["value"], nil
}

// errMutation is the refusal of a mutation that does not fit the stored
// document.
func errMutation(m Mutation, reason string) error {
	return &validate.Error{Field: "update", Reason: string(m.Kind) + " " + reason}
}

// ApplyMutations returns a copy of doc with mods applied in order: the
// reference semantics of Update that every provider matches. mods must come
// from CheckMutations. doc is not modified. A mutation that does not fit
// the document (an increment of a string, a path through a number) is
// ErrInvalid and nothing is applied.
func ApplyMutations(doc Doc, mods []Mutation) (Doc, error) {
	out := Clone(doc)
	if out == nil {
		out = Doc{}
	}
	for _, m := range mods {
		names := SplitPath(m.Path)
		parent, ok, err := parentMap(out, names, m.Kind == MutSet || m.Kind == MutIncrement || m.Kind == MutAppend)
		if err != nil {
			return nil, errMutation(m, err.Error())
		}
		last := names[len(names)-1]
		if !ok {
			continue // Unset or Remove under a missing parent: nothing to do
		}
		cur, present := parent[last]
		switch m.Kind {
		case MutSet:
			parent[last] = cloneValue(m.Value)
		case MutUnset:
			delete(parent, last)
		case MutIncrement:
			if !present {
				parent[last] = m.Value
				break
			}
			n, isNum := cur.(float64)
			if !isNum {
				return nil, errMutation(m, "of a field that is not a number")
			}
			sum := n + m.Value.(float64)
			if math.IsInf(sum, 0) {
				return nil, errMutation(m, "past the largest number")
			}
			if sum == 0 {
				sum = 0 // -0 is stored as 0, as Save does
			}
			parent[last] = sum
		case MutAppend:
			var arr []any
			if present {
				a, isArr := cur.([]any)
				if !isArr {
					return nil, errMutation(m, "to a field that is not an array")
				}
				arr = a
			} else {
				arr = []any{}
			}
			for _, v := range m.Values {
				if !slices.ContainsFunc(arr, func(e any) bool { return Compare(e, v) == 0 }) {
					arr = append(arr, cloneValue(v))
				}
			}
			parent[last] = arr
		case MutRemove:
			if !present {
				continue
			}
			arr, isArr := cur.([]any)
			if !isArr {
				return nil, errMutation(m, "from a field that is not an array")
			}
			parent[last] = slices.DeleteFunc(arr, func(e any) bool {
				return slices.ContainsFunc(m.Values, func(v any) bool { return Compare(e, v) == 0 })
			})
		}
	}
	return out, nil
}

// parentMap walks to the map that holds the last name of a path. With
// create, missing maps on the way are made; without it, a missing one
// reports ok false. A value on the way that is not a map is an error
// either way, except for an Unset or Remove, which then has nothing to do.
func parentMap(doc Doc, names []string, create bool) (map[string]any, bool, error) {
	m := doc
	for _, n := range names[:len(names)-1] {
		next, present := m[n]
		if !present {
			if !create {
				return nil, false, nil
			}
			child := map[string]any{}
			m[n] = child
			m = child
			continue
		}
		child, isMap := next.(map[string]any)
		if !isMap {
			if !create {
				return nil, false, nil
			}
			return nil, false, errors.New("through a field that is not an object")
		}
		m = child
	}
	return m, true, nil
}

// MaxBatch is the most IDs one GetMany or DeleteMany may name.
const MaxBatch = 1000

// CheckIDs validates the IDs of a GetMany or DeleteMany before any network
// call: at most MaxBatch, each valid under the default ID rule, none
// twice. An empty list is valid and asks for nothing.
func CheckIDs(ids []string) error {
	if len(ids) > MaxBatch {
		return &validate.Error{Field: "ids", Reason: "more than " + strconv.Itoa(MaxBatch) + " IDs"}
	}
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if err := CheckID(id); err != nil {
			return err
		}
		if _, dup := seen[id]; dup {
			return &validate.Error{Field: "ids", Reason: "an ID is listed twice"}
		}
		seen[id] = struct{}{}
	}
	return nil
}

// ExpiresField is the system field that documents with an expiry carry on
// every read: the instant (validate.TimeLayout text) from which the
// document is gone.
const ExpiresField = "_expires"

// MaxExpiry is how far ahead an expiry may be set.
const MaxExpiry = 100 * 365 * 24 * time.Hour

// ExpiresAt makes the written document expire at t: from that instant on
// it is never returned by Get, GetMany, Query or Count, and a write treats
// it as absent (IfAbsent succeeds, IfRev with its revision is
// ErrConflict, Update and Delete are ErrNotFound). Storage is reclaimed by
// the backend's own expiry where it has one, else by a sweep (see
// Sweeper). t must be in the future and within MaxExpiry. A Save without
// ExpiresAt stores a document without expiry; an Update without it keeps
// the document's expiry.
func ExpiresAt(t time.Time) WriteOption {
	return func(o *WriteOptions) { o.ExpiresAt, o.expirySet = t, true }
}

// TTL is ExpiresAt(now + d), with now taken when the write's options are
// resolved.
func TTL(d time.Duration) WriteOption {
	return func(o *WriteOptions) { o.ExpiresAt, o.expirySet = time.Now().Add(d), true }
}

// Upsert makes an Update of a missing document create it, as the mutations
// applied to an empty document. Without it the Update is ErrNotFound.
func Upsert() WriteOption {
	return func(o *WriteOptions) { o.Upsert = true }
}

// Expired reports whether a document read from a backend has expired at
// now, by its ExpiresField. A document without one never expires.
func Expired(doc Doc, now time.Time) bool {
	s, ok := doc[ExpiresField].(string)
	if !ok {
		return false
	}
	t, err := time.Parse(validate.TimeLayout, s)
	return err == nil && !now.Before(t)
}

// Sweeper is implemented by providers whose backend cannot expire
// documents on its own (CouchDB, memory): SweepExpired deletes the expired
// documents of a collection, at most budget of them per call (0: the scan
// budget), and returns how many it deleted. Expired documents are never
// returned before the sweep either; it only reclaims their storage. Run it
// periodically.
type Sweeper interface {
	SweepExpired(ctx context.Context, collection string, budget int) (int, error)
}

// As reaches the native client of the provider under any middleware:
// target is a pointer to the client type (*kivik.Client for CouchDB,
// *dynamodb.Client for DynamoDB, *firestore.Client for Firestore), set
// when the provider has one of that type. What is done with the native
// client bypasses every check of this library: validation, rules, limits,
// the scan budget and the audit trail.
func As(s Service, target any) bool {
	for range maxLayers {
		if a, ok := s.(interface{ As(any) bool }); ok && a.As(target) {
			return true
		}
		w, ok := s.(Wrapper)
		if !ok {
			return false
		}
		s = w.Unwrap()
	}
	return false
}
