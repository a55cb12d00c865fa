package dbservice

import (
	"slices"
	"strings"
)

// Match reports whether doc satisfies every condition. It is the reference
// semantics of the operators (see Op); providers whose backend cannot
// express a condition exactly filter with it on the client. conds must come
// from CheckQuery.
func Match(doc Doc, conds []Cond) bool {
	for _, c := range conds {
		if !matchCond(doc, c) {
			return false
		}
	}
	return true
}

func matchCond(doc Doc, c Cond) bool {
	v, ok := Lookup(doc, c.Field)
	switch c.Op {
	case Exists:
		return ok == c.Value.(bool)
	case Eq:
		return ok && equal(v, c.Value)
	case Ne:
		return ok && v != nil && !equal(v, c.Value)
	case In:
		if !ok {
			return false
		}
		for _, x := range c.Value.([]any) {
			if equal(v, x) {
				return true
			}
		}
		return false
	case Contains:
		arr, isArr := v.([]any)
		if !ok || !isArr {
			return false
		}
		for _, e := range arr {
			if equal(e, c.Value) {
				return true
			}
		}
		return false
	case Prefix:
		str, isStr := v.(string)
		return ok && isStr && strings.HasPrefix(str, c.Value.(string))
	case Gt, Gte, Lt, Lte:
		if !ok {
			return false
		}
		cmp, comparable := compare(v, c.Value)
		if !comparable {
			return false
		}
		switch c.Op {
		case Gt:
			return cmp > 0
		case Gte:
			return cmp >= 0
		case Lt:
			return cmp < 0
		default:
			return cmp <= 0
		}
	}
	return false
}

// Lookup returns the value at a dotted path and whether it is present.
func Lookup(doc Doc, path string) (any, bool) {
	var cur any = doc
	var ok bool
	if strings.Contains(path, `\`) {
		for _, name := range SplitPath(path) {
			if cur, ok = child(cur, name); !ok {
				return nil, false
			}
		}
		return cur, true
	}
	// Match looks a path up in every document it checks: cutting the names
	// off in place allocates nothing, where ranging over an iterator of
	// them allocated its closures and the variables they share (seven
	// objects a lookup).
	for rest, more := path, true; more; {
		var name string
		name, rest, more = strings.Cut(rest, ".")
		if cur, ok = child(cur, name); !ok {
			return nil, false
		}
	}
	return cur, true
}

// child returns the value under name in cur, if cur is an object holding
// it.
func child(cur any, name string) (any, bool) {
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := m[name]
	return v, ok
}

// equal compares scalars of the same type; maps and arrays never equal a
// query value.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

// compare orders two numbers or two strings (by UTF-8 bytes); other pairs
// are not comparable.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	return 0, false
}

// Project returns a new document with only "_id", "_rev" and the given
// paths of doc; paths doc lacks are left out. Empty fields returns a deep
// copy of doc.
func Project(doc Doc, fields []string) Doc {
	if len(fields) == 0 {
		return Clone(doc)
	}
	out := Doc{}
	for _, k := range []string{"_id", "_rev"} {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	for _, f := range fields {
		v, ok := Lookup(doc, f)
		if !ok {
			continue
		}
		segs := SplitPath(f)
		m := out
		for _, s := range segs[:len(segs)-1] {
			next, ok := m[s].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[s] = next
			}
			m = next
		}
		m[segs[len(segs)-1]] = cloneValue(v)
	}
	return out
}

// Clone returns a deep copy of a document in the JSON data model.
func Clone(doc Doc) Doc {
	if doc == nil {
		return nil
	}
	return cloneValue(doc).(map[string]any)
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = cloneValue(e)
		}
		return a
	}
	return v
}

// DisjointPaths returns paths sorted, without duplicates and without paths
// inside another listed path ("a.b" when "a" is listed). Projections need
// it: DynamoDB refuses overlapping document paths, and projecting "a"
// already returns "a.b".
func DisjointPaths(paths []string) []string {
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var out []string
	for _, p := range sorted {
		covered := false
		for _, q := range out {
			if strings.HasPrefix(p, q+".") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}
