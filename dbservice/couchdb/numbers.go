package couchdb

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/securedb-go/securedb/dbservice"
)

// CouchDB 3.5's JSON parser reads the shortest text of some subnormal
// numbers wrongly: 5e-324 (the smallest float64, as encoding/json writes
// it) comes back as 0 and 3e-321 as 2.994e-321, while the 17-digit text of
// the same float64 (4.9406564584124654e-324) reads back exactly. So
// subnormal numbers go to CouchDB as 17 significant digits; every other
// float64 keeps encoding/json's shortest form, which CouchDB reads exactly
// (the conformance case BackupKeepsEveryNumber checks both). Documents
// are encoded once, by encoding/json, so a json.Number in them reaches
// CouchDB as written.

// wireNumber returns f as CouchDB must receive it: f itself, or the
// 17-digit text of a subnormal f.
func wireNumber(f float64) (any, bool) {
	if f == 0 || math.Abs(f) >= 0x1p-1022 {
		return f, false
	}
	return json.Number(strconv.FormatFloat(f, 'g', 17, 64)), true
}

// wireDoc rewrites the subnormal numbers of a normalized document in place
// (the provider owns the copy NormalizeDoc made).
func wireDoc(d dbservice.Doc) dbservice.Doc {
	for k, v := range d {
		d[k] = wireInPlace(v)
	}
	return d
}

func wireInPlace(v any) any {
	switch x := v.(type) {
	case float64:
		n, _ := wireNumber(x)
		return n
	case map[string]any:
		for k, e := range x {
			x[k] = wireInPlace(e)
		}
	case []any:
		for i, e := range x {
			x[i] = wireInPlace(e)
		}
	}
	return v
}

// hasSubnormal reports whether a query value (a scalar or an In list)
// holds a subnormal number. kivik re-encodes a _find query through
// map[string]any, so such a value would reach CouchDB in its shortest
// text and be misread; pushdown then sends only a presence check and
// Match decides on the client.
func hasSubnormal(v any) bool {
	switch x := v.(type) {
	case float64:
		_, sub := wireNumber(x)
		return sub
	case []any:
		for _, e := range x {
			if hasSubnormal(e) {
				return true
			}
		}
	}
	return false
}
