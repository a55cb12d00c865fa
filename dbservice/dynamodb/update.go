package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// rmwAttempts bounds the read-modify-write loop of an Update that
// UpdateItem cannot express: each attempt reads the item and writes it
// back on the condition that its revision is still the one read.
const rmwAttempts = 16

// Update implements dbservice.Service.
//
// Set, Unset, Increment and Append of scalars are one UpdateItem
// (SET p = :v, REMOVE p, SET p = if_not_exists(p, :0) + :n,
// SET p = list_append(if_not_exists(p, :[]), :vals)), with the new
// revision set in the same call, and a condition expression that holds
// the contract's checks on the server, atomically with the write: the
// item exists and has not expired (unless Upsert), its revision (IfRev),
// every map on the way of a path is a map, an incremented field is absent
// or a number, an appended field is absent or a list that holds none of
// the values (so list_append is the union). When the
// condition fails, DynamoDB returns the item as it was, and the provider
// tells from it which rule failed: ErrNotFound, ErrConflict, or the
// ErrInvalid that dbservice.ApplyMutations gives on that document. Concurrent
// increments therefore never lose one, with no revision in the caller.
//
// DynamoDB cannot do the rest natively: Remove, and Append of arrays,
// objects or null, have union semantics over lists, and ADD and DELETE
// only work on sets; an Append of a value the list already holds; a Set
// under missing maps needs them created; an Upsert over an expired item
// must start from an empty document. Those Updates read the item, apply
// dbservice.ApplyMutations, and write it back with PutItem on the
// condition that the revision is still the one read, retrying a bounded
// number of times (rmwAttempts) under contention, then ErrConflict.
//
// DynamoDB adds numbers in decimal with 38 digits: integer increments are
// exact as in float64 up to 2^53, but the sum of fractions can differ
// from float64 addition in its last binary digit (0.1 + 0.2 is stored as
// 0.3).
//
// The resulting document is checked against the limits where the
// provider sees it: each value and the depth it lands at before any
// request, DynamoDB's item size on the server (ErrInvalid), and the whole
// document on the read-modify-write path.
func (s *Service) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	if err := s.precheck(ctx, "update", coll, id, true); err != nil {
		return "", err
	}
	o, err := dbservice.ApplyUpdateOptions(opts...)
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	mods, err = dbservice.CheckMutations(mods, s.limits)
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	if err := checkPlacement(mods, s.limits); err != nil {
		return "", fail("update", coll, id, err)
	}
	list, err := s.indexes(ctx, s.table(coll))
	if err != nil {
		return "", fail("update", coll, id, classify(ctx, err))
	}
	// UpdateItem cannot recompute index keys, so an update of an indexed
	// field reads and writes the whole document.
	if native(mods) && !slices.ContainsFunc(mods, func(m dbservice.Mutation) bool { return touchesIndex(list, m.Path) }) {
		rev, fallback, err := s.updateNative(ctx, coll, id, mods, o)
		if !fallback {
			return rev, err
		}
	}
	return s.updateRMW(ctx, coll, id, mods, o, list)
}

// checkPlacement checks each Set and Append value where it lands: a
// document holding only the value at its path must pass the limits (so
// the depth a value reaches is refused before any request), and DynamoDB's
// nesting limit.
func checkPlacement(mods []dbservice.Mutation, lim validate.Limits) error {
	for _, m := range mods {
		var v any
		switch m.Kind {
		case dbservice.MutSet:
			v = m.Value
		case dbservice.MutAppend:
			v = m.Values
		default:
			continue
		}
		names := dbservice.SplitPath(m.Path)
		for i := len(names) - 1; i >= 0; i-- {
			v = map[string]any{names[i]: v}
		}
		// Names are checked by CheckMutations; the walk here only measures.
		if _, err := validate.Sanitize(v.(map[string]any), lim); err != nil {
			var ve *validate.Error
			if errors.As(err, &ve) {
				return &validate.Error{Field: "update.value", Reason: ve.Reason}
			}
			return err
		}
		e := encoder{}
		if _, err := e.value(v.(map[string]any)[names[0]], 2); err != nil {
			return &validate.Error{Field: "update.value", Reason: "nested deeper than DynamoDB's levels or a number outside its range"}
		}
	}
	return nil
}

// native reports whether one UpdateItem can carry mods: Set, Unset,
// Increment, and Append of strings, numbers and booleans (whose presence
// in a list contains() tests exactly as Compare does).
func native(mods []dbservice.Mutation) bool {
	for _, m := range mods {
		switch m.Kind {
		case dbservice.MutSet, dbservice.MutUnset, dbservice.MutIncrement:
		case dbservice.MutAppend:
			for _, v := range m.Values {
				switch v.(type) {
				case string, float64, bool:
				default:
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// distinct returns values without repeats (Compare's equality), in order.
func distinct(values []any) []any {
	var out []any
	for _, v := range values {
		if !slices.ContainsFunc(out, func(e any) bool { return dbservice.Compare(e, v) == 0 }) {
			out = append(out, v)
		}
	}
	return out
}

var (
	zeroNumber = &types.AttributeValueMemberN{Value: "0"}
	emptyList  = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
)

// updateNative runs mods as one UpdateItem. fallback reports that the
// condition failed for a reason only the read-modify-write path handles
// (missing maps on the way, an Upsert over a missing or expired item).
func (s *Service) updateNative(ctx context.Context, coll, id string, mods []dbservice.Mutation, o dbservice.WriteOptions) (rev string, fallback bool, err error) {
	now := time.Now()
	b := newExprBuilder()
	var sets, removes, conds []string
	for _, m := range mods {
		names := dbservice.SplitPath(m.Path)
		p := b.names2path(names)
		// Every map on the way must be a map: DynamoDB refuses a path
		// through a missing attribute, and ApplyMutations refuses one
		// through a value that is not a map.
		for i := 1; i < len(names); i++ {
			conds = append(conds, "attribute_type("+b.names2path(names[:i])+", "+b.value(typeMap)+")")
		}
		switch m.Kind {
		case dbservice.MutSet:
			e := encoder{path: names}
			av, err := e.value(m.Value, len(names)+1)
			if err != nil {
				return "", false, fail("update", coll, id, err)
			}
			sets = append(sets, p+" = "+b.value(av))
		case dbservice.MutUnset:
			removes = append(removes, p)
		case dbservice.MutIncrement:
			av, ok := scalarAttr(m.Value)
			if !ok {
				return "", false, fail("update", coll, id, &validate.Error{Field: "update.value", Reason: "increment outside DynamoDB's number range"})
			}
			sets = append(sets, p+" = if_not_exists("+p+", "+b.value(zeroNumber)+") + "+b.value(av))
			conds = append(conds, "(attribute_not_exists("+p+") OR attribute_type("+p+", "+b.value(typeNumber)+"))")
		case dbservice.MutAppend:
			// A union: list_append of values the list does not hold yet,
			// which the condition asserts on the server. When one is
			// there already, the read-modify-write path appends the rest.
			vals := distinct(m.Values)
			list := make([]types.AttributeValue, len(vals))
			absent := make([]string, len(vals))
			for i, v := range vals {
				av, ok := scalarAttr(v)
				if !ok {
					return "", false, fail("update", coll, id, &validate.Error{Field: "update.value", Reason: "number outside DynamoDB's range"})
				}
				list[i] = av
				absent[i] = "NOT contains(" + p + ", " + b.value(av) + ")"
			}
			sets = append(sets, p+" = list_append(if_not_exists("+p+", "+b.value(emptyList)+"), "+b.value(&types.AttributeValueMemberL{Value: list})+")")
			conds = append(conds, "(attribute_not_exists("+p+") OR (attribute_type("+p+", "+b.value(typeList)+") AND "+strings.Join(absent, " AND ")+"))")
		}
	}
	rev = newRev()
	sets = append(sets, b.path(revAttr)+" = "+b.value(&types.AttributeValueMemberS{Value: rev}))
	if !o.ExpiresAt.IsZero() {
		text, ttl := expiryValues(o.ExpiresAt)
		sets = append(sets, b.path(expiresAttr)+" = "+b.value(text), b.path(ttlAttr)+" = "+b.value(ttl))
	}
	switch {
	case o.Upsert:
		// A missing item is created by UpdateItem itself; an expired one
		// must start empty, which only the read-modify-write path does.
		conds = append(conds, "(attribute_not_exists("+b.path(idAttr)+") OR "+b.live(now)+")")
	case o.IfRev != "":
		conds = append(conds, b.path(revAttr)+" = "+b.value(&types.AttributeValueMemberS{Value: o.IfRev}), b.live(now))
	default:
		conds = append(conds, "attribute_exists("+b.path(idAttr)+")", b.live(now))
	}
	expr := "SET " + strings.Join(sets, ", ")
	if len(removes) > 0 {
		expr += " REMOVE " + strings.Join(removes, ", ")
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table(coll)),
		Key:                                 key(id),
		UpdateExpression:                    aws.String(expr),
		ConditionExpression:                 aws.String(strings.Join(conds, " AND ")),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	b.attach(&in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	call := func() error { _, err := s.client.UpdateItem(ctx, in); return err }
	if o.Upsert {
		err = s.write(ctx, coll, call)
	} else {
		err = call()
	}
	if err == nil {
		return rev, false, nil
	}
	if errorCode(err) == codeNotFound && !o.Upsert {
		return "", false, fail("update", coll, id, dbservice.ErrNotFound) // no table: no document
	}
	var cf *types.ConditionalCheckFailedException
	if !errors.As(err, &cf) {
		return "", false, fail("update", coll, id, classify(ctx, err))
	}
	if cf.Item == nil || itemExpired(cf.Item, now) {
		if o.Upsert {
			return "", true, nil
		}
		return "", false, fail("update", coll, id, dbservice.ErrNotFound)
	}
	if o.IfRev != "" {
		if r, ok := cf.Item[revAttr].(*types.AttributeValueMemberS); !ok || r.Value != o.IfRev {
			return "", false, fail("update", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
		}
	}
	old, err := decodeItem(cf.Item)
	if err != nil {
		return "", false, fail("update", coll, id, fmt.Errorf("%w: %s", dbservice.ErrUnavailable, err))
	}
	if _, err := dbservice.ApplyMutations(body(old), mods); err != nil {
		return "", false, fail("update", coll, id, err)
	}
	// The mutations fit the document as it was: what failed is a map
	// missing on the way, which the read-modify-write path creates.
	return "", true, nil
}

// body returns doc without its system fields.
func body(doc dbservice.Doc) dbservice.Doc {
	out := make(dbservice.Doc, len(doc))
	for k, v := range doc {
		if !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	return out
}

// updateRMW applies mods by reading the item, applying
// dbservice.ApplyMutations and writing the result back on the condition
// that the item is unchanged (same revision, or still absent), a bounded
// number of times.
func (s *Service) updateRMW(ctx context.Context, coll, id string, mods []dbservice.Mutation, o dbservice.WriteOptions, list []index) (string, error) {
	table := s.table(coll)
	delay := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(id), ConsistentRead: aws.Bool(true)})
		if err != nil && !(o.Upsert && errorCode(err) == codeNotFound) {
			if errorCode(err) == codeNotFound {
				return "", fail("update", coll, id, dbservice.ErrNotFound)
			}
			return "", fail("update", coll, id, classify(ctx, err))
		}
		now := time.Now()
		var item map[string]types.AttributeValue
		if out != nil {
			item = out.Item
		}
		live := item != nil && !itemExpired(item, now)
		var base dbservice.Doc
		expires := o.ExpiresAt
		switch {
		case !live && !o.Upsert:
			return "", fail("update", coll, id, dbservice.ErrNotFound)
		case live:
			doc, err := decodeItem(item)
			if err != nil {
				return "", fail("update", coll, id, fmt.Errorf("%w: %s", dbservice.ErrUnavailable, err))
			}
			if o.IfRev != "" && doc[revAttr] != o.IfRev {
				return "", fail("update", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
			}
			if expires.IsZero() {
				if t, ok := doc[expiresAttr].(string); ok {
					expires, _ = time.Parse(validate.TimeLayout, t)
				}
			}
			base = body(doc)
		}
		nd, err := dbservice.ApplyMutations(base, mods)
		if err != nil {
			return "", fail("update", coll, id, err)
		}
		// The result obeys the same limits as a saved document.
		if nd, err = dbservice.NormalizeDoc(nd, s.limits); err != nil {
			return "", fail("update", coll, id, err)
		}
		rev := newRev()
		newItem, size, err := encodeItem(id, rev, nd, expires)
		if err != nil {
			return "", fail("update", coll, id, err)
		}
		if err := addIndexAttrs(newItem, size, list, id, nd); err != nil {
			return "", fail("update", coll, id, err)
		}
		b := newExprBuilder()
		in := &dynamodb.PutItemInput{TableName: aws.String(table), Item: newItem}
		if item == nil {
			in.ConditionExpression = aws.String("attribute_not_exists(" + b.path(idAttr) + ")")
		} else {
			in.ConditionExpression = aws.String(b.path(revAttr) + " = " + b.value(item[revAttr]))
		}
		b.attach(&in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
		err = s.write(ctx, coll, func() error { _, err := s.client.PutItem(ctx, in); return err })
		switch {
		case err == nil:
			return rev, nil
		case errorCode(err) != codeConditionFailed:
			return "", fail("update", coll, id, classify(ctx, err))
		case o.IfRev != "":
			return "", fail("update", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
		case attempt == rmwAttempts:
			return "", fail("update", coll, id, fmt.Errorf("%w: the document kept changing during %d attempts", dbservice.ErrConflict, attempt))
		}
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fail("update", coll, id, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}
