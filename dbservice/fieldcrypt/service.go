package fieldcrypt

import (
	"context"
	"errors"
	"fmt"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// fail wraps err as this layer's error of op.
func fail(op, coll, id string, err error) error {
	var de *dbservice.Error
	if errors.As(err, &de) {
		return err
	}
	return dbservice.NewError(op, provider, coll, id, err)
}

// reserved refuses calls on the keys collection outside the stored form:
// the wrapped data keys are this layer's, and a caller who overwrote them
// would make every encrypted field unreadable.
func (s *Service) reserved(ctx context.Context, op, coll string) error {
	if coll == s.keysColl && !dbservice.StoredForm(ctx) {
		return dbservice.NewError(op, provider, coll, "", &validate.Error{Field: "collection", Reason: "reserved for the wrapped data keys of field encryption"})
	}
	return nil
}

// Get reads the document and decrypts its encrypted fields.
func (s *Service) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	if err := s.reserved(ctx, "get", coll); err != nil {
		return nil, err
	}
	doc, err := s.next.Get(ctx, coll, id)
	if err != nil || dbservice.StoredForm(ctx) {
		return doc, err
	}
	if specs := s.specs[coll]; specs != nil {
		if err := s.decryptDoc(ctx, coll, specs, doc); err != nil {
			return nil, fail("get", coll, id, err)
		}
	}
	return doc, nil
}

// Save encrypts the configured fields and saves the document. Nothing is
// written when any field cannot be encrypted (fail closed).
func (s *Service) Save(ctx context.Context, coll, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	if err := s.reserved(ctx, "save", coll); err != nil {
		return "", err
	}
	specs := s.specs[coll]
	s.seen.observe(coll, specs, doc)
	if specs == nil {
		return s.next.Save(ctx, coll, id, doc, opts...)
	}
	if err := dbservice.CheckID(id); err != nil {
		return "", fail("save", coll, id, err)
	}
	out, err := s.writeForm(ctx, coll, id, specs, doc)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	return s.next.Save(ctx, coll, id, out, opts...)
}

func (s *Service) writeForm(ctx context.Context, coll, id string, specs []fieldSpec, doc dbservice.Doc) (dbservice.Doc, error) {
	if dbservice.StoredForm(ctx) {
		return doc, checkStored(specs, doc)
	}
	return s.encryptDoc(ctx, coll, id, specs, doc)
}

// SaveMany implements dbservice.BulkWriter: every item is encrypted before
// any is written.
func (s *Service) SaveMany(ctx context.Context, coll string, items []dbservice.BulkItem) error {
	if err := s.reserved(ctx, "save-many", coll); err != nil {
		return err
	}
	specs := s.specs[coll]
	out := items
	if specs != nil {
		out = make([]dbservice.BulkItem, len(items))
		for i, it := range items {
			s.seen.observe(coll, specs, it.Doc)
			if err := dbservice.CheckID(it.ID); err != nil {
				return fail("save-many", coll, it.ID, err)
			}
			d, err := s.writeForm(ctx, coll, it.ID, specs, it.Doc)
			if err != nil {
				return fail("save-many", coll, it.ID, err)
			}
			out[i] = dbservice.BulkItem{ID: it.ID, Doc: d}
		}
	} else {
		for _, it := range items {
			s.seen.observe(coll, nil, it.Doc)
		}
	}
	if bw, ok := s.next.(dbservice.BulkWriter); ok {
		return bw.SaveMany(ctx, coll, out)
	}
	for _, it := range out {
		if _, err := s.next.Save(ctx, coll, it.ID, it.Doc); err != nil {
			return err
		}
	}
	return nil
}

// Delete passes through.
func (s *Service) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	if err := s.reserved(ctx, "delete", coll); err != nil {
		return err
	}
	return s.next.Delete(ctx, coll, id, opts...)
}

// Update encrypts the values of Set mutations on encrypted fields (or on
// maps that hold them). Increment, Append and Remove on an encrypted field,
// and any mutation inside one, are ErrInvalid: the database cannot compute
// on ciphertext.
func (s *Service) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	if err := s.reserved(ctx, "update", coll); err != nil {
		return "", err
	}
	specs := s.specs[coll]
	if specs == nil {
		return s.next.Update(ctx, coll, id, mods, opts...)
	}
	if err := dbservice.CheckID(id); err != nil {
		return "", fail("update", coll, id, err)
	}
	checked, err := dbservice.CheckMutations(mods, validate.Limits{})
	if err != nil {
		return "", fail("update", coll, id, err)
	}
	out := make([]dbservice.Mutation, len(checked))
	for i, m := range checked {
		if out[i], err = s.mutation(ctx, coll, id, specs, m); err != nil {
			return "", fail("update", coll, id, err)
		}
	}
	return s.next.Update(ctx, coll, id, out, opts...)
}

func (s *Service) mutation(ctx context.Context, coll, id string, specs []fieldSpec, m dbservice.Mutation) (dbservice.Mutation, error) {
	names := dbservice.SplitPath(m.Path)
	for _, f := range specs {
		inside, holds := within(names, f.names), within(f.names, names)
		if !inside && !holds {
			continue
		}
		equal := inside && holds
		switch {
		case m.Kind == dbservice.MutUnset && holds:
			continue
		case m.Kind == dbservice.MutSet && holds:
			if dbservice.StoredForm(ctx) {
				if err := checkStored([]fieldSpec{{path: f.path, names: f.names[len(names)-1:], mode: f.mode}}, map[string]any{names[len(names)-1]: m.Value}); err != nil {
					return m, err
				}
				continue
			}
			// Encrypt the field inside the value as Save would: wrap
			// the value as a document rooted at the mutation's path.
			rel := fieldSpec{path: f.path, names: f.names[len(names)-1:], mode: f.mode}
			d, err := s.encryptDoc(ctx, coll, id, []fieldSpec{rel}, dbservice.Doc{names[len(names)-1]: m.Value})
			if err != nil {
				return m, err
			}
			m.Value = d[names[len(names)-1]]
			continue
		case equal:
			return m, &validate.Error{Field: "update.path", Reason: "field " + f.path + " is encrypted: only set and unset apply to it"}
		default:
			return m, &validate.Error{Field: "update.path", Reason: "the path is inside or holds encrypted field " + f.path + ": only set and unset of the whole field apply"}
		}
	}
	return m, nil
}

// GetMany reads the documents and decrypts each.
func (s *Service) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	if err := s.reserved(ctx, "get-many", coll); err != nil {
		return nil, nil, err
	}
	docs, missing, err := s.next.GetMany(ctx, coll, ids)
	if err != nil || dbservice.StoredForm(ctx) {
		return docs, missing, err
	}
	if specs := s.specs[coll]; specs != nil {
		for _, d := range docs {
			if err := s.decryptDoc(ctx, coll, specs, d); err != nil {
				id, _ := d["_id"].(string)
				return nil, nil, fail("get-many", coll, id, err)
			}
		}
	}
	return docs, missing, nil
}

// DeleteMany passes through.
func (s *Service) DeleteMany(ctx context.Context, coll string, ids []string) error {
	if err := s.reserved(ctx, "delete-many", coll); err != nil {
		return err
	}
	return s.next.DeleteMany(ctx, coll, ids)
}

// Count counts with the conditions rewritten as for Query.
func (s *Service) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	if err := s.reserved(ctx, "count", coll); err != nil {
		return 0, err
	}
	specs := s.specs[coll]
	if specs == nil || dbservice.StoredForm(ctx) {
		return s.next.Count(ctx, coll, where)
	}
	q, err := dbservice.CheckQuery(dbservice.Query{Where: where})
	if err != nil {
		return 0, fail("count", coll, "", err)
	}
	q, none, err := s.rewrite(ctx, coll, specs, q)
	if err != nil {
		return 0, fail("count", coll, "", err)
	}
	if none {
		return 0, nil
	}
	return s.next.Count(ctx, coll, q.Where)
}

// Query rewrites equalities on deterministic fields to their ciphertexts,
// refuses what ciphertext cannot answer, and decrypts the results.
func (s *Service) Query(ctx context.Context, coll string, q dbservice.Query) (dbservice.Page, error) {
	if err := s.reserved(ctx, "query", coll); err != nil {
		return dbservice.Page{}, err
	}
	specs := s.specs[coll]
	if specs == nil || dbservice.StoredForm(ctx) {
		return s.next.Query(ctx, coll, q)
	}
	cq, err := dbservice.CheckQuery(q)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	cq, none, err := s.rewrite(ctx, coll, specs, cq)
	if err != nil {
		return dbservice.Page{}, fail("query", coll, "", err)
	}
	if none {
		return dbservice.Page{}, nil
	}
	page, err := s.next.Query(ctx, coll, cq)
	if err != nil {
		return page, err
	}
	for _, d := range page.Docs {
		if err := s.decryptDoc(ctx, coll, specs, d); err != nil {
			id, _ := d["_id"].(string)
			return dbservice.Page{}, fail("query", coll, id, err)
		}
	}
	return page, nil
}

// Explain implements dbservice.Explainer with the query as it reaches
// next, so Guard's RequireIndex sees the provider's plan.
func (s *Service) Explain(ctx context.Context, coll string, q dbservice.Query) (dbservice.Plan, error) {
	ex, ok := s.next.(dbservice.Explainer)
	if !ok {
		return dbservice.Plan{}, nil
	}
	if specs := s.specs[coll]; specs != nil && !dbservice.StoredForm(ctx) {
		cq, err := dbservice.CheckQuery(q)
		if err != nil {
			return dbservice.Plan{}, fail("explain", coll, "", err)
		}
		cq, _, err = s.rewrite(ctx, coll, specs, cq)
		if err != nil {
			return dbservice.Plan{}, fail("explain", coll, "", err)
		}
		q = cq
	}
	return ex.Explain(ctx, coll, q)
}

// rewrite turns a checked query into the one next answers. none reports a
// query that can match nothing (an equality on a collection that has no
// data keys yet, hence no encrypted value).
func (s *Service) rewrite(ctx context.Context, coll string, specs []fieldSpec, q dbservice.Query) (dbservice.Query, bool, error) {
	var r *keyring
	out := q
	out.Where = make([]dbservice.Cond, len(q.Where))
	for i, c := range q.Where {
		out.Where[i] = c
		names := dbservice.SplitPath(c.Field)
		for _, f := range specs {
			if within(f.names, names) && len(f.names) > len(names) {
				continue // a map that holds an encrypted field
			}
			if !within(names, f.names) {
				continue
			}
			if len(names) > len(f.names) {
				return q, false, condErr(i, "the field lies inside encrypted field "+f.path)
			}
			switch {
			case c.Op == dbservice.Exists:
			case f.mode == Deterministic && (c.Op == dbservice.Eq || c.Op == dbservice.In):
				if r == nil {
					var err error
					r, err = s.ring(ctx, coll, false)
					if errors.Is(err, errNoKeys) {
						return q, true, nil
					}
					if err != nil {
						return q, false, err
					}
				}
				vals := []any{c.Value}
				if c.Op == dbservice.In {
					vals = c.Value.([]any)
				}
				var enc []any
				for _, v := range vals {
					e, err := queryValues(r, coll, f, v)
					if err != nil {
						return q, false, err
					}
					enc = append(enc, e...)
				}
				if len(enc) > validate.MaxInValues {
					return q, false, condErr(i, fmt.Sprintf("field %s is encrypted under %d key versions, so this condition needs %d values, more than %d", f.path, len(r.perKey), len(enc), validate.MaxInValues))
				}
				if len(enc) == 1 {
					out.Where[i] = dbservice.Cond{Field: c.Field, Op: dbservice.Eq, Value: enc[0]}
				} else {
					out.Where[i] = dbservice.Cond{Field: c.Field, Op: dbservice.In, Value: enc}
				}
			case f.mode == Deterministic:
				return q, false, condErr(i, "field "+f.path+" is encrypted (deterministic): only eq, in and exists apply to it")
			default:
				return q, false, condErr(i, "field "+f.path+" is encrypted (randomized): only exists applies to it")
			}
		}
	}
	for _, o := range q.OrderBy {
		names := dbservice.SplitPath(o.Field)
		for _, f := range specs {
			if within(names, f.names) || within(f.names, names) {
				return q, false, &validate.Error{Field: "query.order_by", Reason: "field " + f.path + " is encrypted: ciphertext has no order"}
			}
		}
	}
	for _, p := range q.Fields {
		names := dbservice.SplitPath(p)
		for _, f := range specs {
			if within(names, f.names) && len(names) > len(f.names) {
				return q, false, &validate.Error{Field: "query.fields", Reason: "the path lies inside encrypted field " + f.path + "; project the whole field"}
			}
		}
	}
	return out, false, nil
}

func condErr(i int, reason string) error {
	return &validate.Error{Field: fmt.Sprintf("query.where[%d]", i), Reason: reason}
}

// EnsureIndex passes through; an index on a randomized field is
// ErrInvalid, since no query can use it.
func (s *Service) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if err := s.reserved(ctx, "ensure-index", coll); err != nil {
		return err
	}
	for _, p := range fields {
		names := dbservice.SplitPath(p)
		for _, f := range s.specs[coll] {
			if within(names, f.names) && (f.mode == Randomized || len(names) > len(f.names)) {
				return dbservice.NewError("ensure-index", provider, coll, "", &validate.Error{Field: "fields", Reason: "field " + f.path + " is encrypted (" + f.mode.String() + "): no query can use an index on it"})
			}
		}
	}
	return s.next.EnsureIndex(ctx, coll, fields...)
}

// Ping passes through.
func (s *Service) Ping(ctx context.Context) error { return s.next.Ping(ctx) }

// Close forgets the unwrapped data keys and closes next.
func (s *Service) Close() error {
	s.mu.Lock()
	clear(s.rings)
	s.mu.Unlock()
	return s.next.Close()
}
