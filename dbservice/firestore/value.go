package firestore

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/genproto/googleapis/type/latlng"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// Firestore's own limits (https://cloud.google.com/firestore/quotas),
// checked before anything is sent where they are looser than or different
// from the baseline of validate and dbservice.
const (
	// maxIDBytes bounds a document or collection ID.
	maxIDBytes = 1500
	// maxDocBytes is the largest document, counted Firestore's way
	// (docSize).
	maxDocBytes = 1 << 20
	// maxValueBytes is the largest single string value Firestore stores
	// (1 MiB minus 89 bytes).
	maxValueBytes = 1048487
	// maxNesting is how many maps and arrays may nest below a top-level
	// field.
	maxNesting = 20
)

// arrayKey marks a map that stands for an array nested directly in an
// array, which Firestore cannot store. validate.Sanitize refuses '.' in
// field names by default, and encodeDoc refuses this key even where an
// application allows '.' (validate.Limits.LiteralKeys), so no caller
// document can hold it.
const arrayKey = "securedb.array"

// checkNativeID applies Firestore's rules for document and collection IDs.
// dbservice.CheckID and CheckCollection are stricter today; this keeps the
// provider safe if they are ever loosened, since an ID with '/' would
// address a document in another collection.
func checkNativeID(field, id string) error {
	switch {
	case id == "" || len(id) > maxIDBytes:
		return &validate.Error{Field: field, Reason: "firestore IDs are 1 to 1500 bytes"}
	case !utf8.ValidString(id):
		return &validate.Error{Field: field, Reason: "firestore IDs must be valid UTF-8"}
	case strings.Contains(id, "/"):
		return &validate.Error{Field: field, Reason: "firestore IDs must not contain '/' (it would address another collection)"}
	case id == "." || id == "..":
		return &validate.Error{Field: field, Reason: "firestore IDs must not be '.' or '..'"}
	case len(id) >= 4 && strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"):
		return &validate.Error{Field: field, Reason: "firestore reserves IDs of the form __x__"}
	}
	return nil
}

// encodeDoc turns a normalized document into the form Firestore stores,
// in place (doc is the provider's own copy from NormalizeDoc): every array
// directly inside an array becomes {arrayKey: array}. It then checks
// Firestore's limits on the encoded form: field names, nesting, the size
// of single strings and of the whole document, whose name is
// collection/id.
func encodeDoc(collection, id string, doc dbservice.Doc) (map[string]any, error) {
	for k, v := range doc {
		if k == arrayKey {
			return nil, errArrayKey
		}
		nv, err := encodeValue(v, false)
		if err != nil {
			return nil, err
		}
		doc[k] = nv
	}
	size := nameSize(collection, id) + 32
	for k, v := range doc {
		if isReserved(k) {
			return nil, &validate.Error{Field: "doc." + k, Reason: "firestore reserves field names of the form __x__"}
		}
		n, err := measure(v, 0)
		if err != nil {
			return nil, err
		}
		size += len(k) + 1 + n
	}
	if size > maxDocBytes {
		return nil, &validate.Error{Field: "doc", Reason: "larger than firestore's 1 MiB document limit (" + strconv.Itoa(size) + " bytes counted firestore's way)"}
	}
	return doc, nil
}

func encodeValue(v any, inArray bool) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == arrayKey {
				return nil, errArrayKey
			}
			nv, err := encodeValue(e, false)
			if err != nil {
				return nil, err
			}
			x[k] = nv
		}
	case []any:
		for i, e := range x {
			nv, err := encodeValue(e, true)
			if err != nil {
				return nil, err
			}
			x[i] = nv
		}
		if inArray {
			return map[string]any{arrayKey: x}, nil
		}
	}
	return v, nil
}

// errArrayKey refuses the wrapper's key in a caller document: where an
// application allows '.' in names (validate.Limits.LiteralKeys), a map
// keyed by it would come back as a nested array.
var errArrayKey = &validate.Error{Field: "doc", Reason: "the field name " + arrayKey + " is reserved by the firestore provider"}

// measure returns the size Firestore counts for v (strings: bytes+1;
// numbers 8; booleans and null 1; maps: keys and values; arrays: values)
// and checks nesting (depth is the number of maps and arrays above v
// below the top-level field) and the reserved field names.
func measure(v any, depth int) (int, error) {
	switch x := v.(type) {
	case string:
		if len(x) > maxValueBytes {
			return 0, &validate.Error{Field: "doc", Reason: "a string is larger than firestore's limit of 1048487 bytes"}
		}
		return len(x) + 1, nil
	case float64:
		return 8, nil
	case bool, nil:
		return 1, nil
	case map[string]any:
		if depth++; depth > maxNesting {
			return 0, errTooDeep
		}
		n := 0
		for k, e := range x {
			if isReserved(k) {
				return 0, &validate.Error{Field: "doc", Reason: "firestore reserves field names of the form __x__"}
			}

			m, err := measure(e, depth)
			if err != nil {
				return 0, err
			}
			n += len(k) + 1 + m
		}
		return n, nil
	case []any:
		if depth++; depth > maxNesting {
			return 0, errTooDeep
		}
		n := 0
		for _, e := range x {
			m, err := measure(e, depth)
			if err != nil {
				return 0, err
			}
			n += m
		}
		return n, nil
	}
	// NormalizeDoc leaves only the JSON data model.
	return 0, &validate.Error{Field: "doc", Reason: fmt.Sprintf("unsupported type %T", v)}
}

var errTooDeep = &validate.Error{Field: "doc", Reason: "firestore allows 20 levels of maps and arrays below a field; an array directly inside an array takes two"}

// nameSize is the size Firestore counts for the document name
// collection/id.
func nameSize(collection, id string) int {
	return len(collection) + 1 + len(id) + 1 + 16
}

func isReserved(k string) bool {
	return len(k) >= 4 && strings.HasPrefix(k, "__") && strings.HasSuffix(k, "__")
}

// decodeData turns the fields of a snapshot (snap.Data(), a fresh map the
// provider owns) back into the JSON data model, in place: integers and
// doubles become float64, {arrayKey: array} inside an array becomes the
// array again. Values other writers may have stored map to their JSON
// form: timestamps to RFC 3339 text, bytes to base64, geo points to
// {latitude, longitude}, references to their path, vectors to arrays.
func decodeData(data map[string]any) (dbservice.Doc, error) {
	for k, v := range data {
		nv, err := decodeValue(v, false)
		if err != nil {
			return nil, err
		}
		data[k] = nv
	}
	return data, nil
}

func decodeValue(v any, inArray bool) (any, error) {
	switch x := v.(type) {
	case nil, string, float64, bool:
		return x, nil
	case int64:
		return float64(x), nil
	case map[string]any:
		if inArray && len(x) == 1 {
			if a, ok := x[arrayKey].([]any); ok {
				return decodeValue(a, false)
			}
		}
		for k, e := range x {
			nv, err := decodeValue(e, false)
			if err != nil {
				return nil, err
			}
			x[k] = nv
		}
		return x, nil
	case []any:
		for i, e := range x {
			nv, err := decodeValue(e, true)
			if err != nil {
				return nil, err
			}
			x[i] = nv
		}
		return x, nil
	case time.Time:
		return validate.FormatTime(x), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	case *latlng.LatLng:
		return map[string]any{"latitude": x.GetLatitude(), "longitude": x.GetLongitude()}, nil
	case *firestore.DocumentRef:
		return x.Path, nil
	case firestore.Vector64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = f
		}
		return out, nil
	case firestore.Vector32:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = float64(f)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: the stored document holds a %T, which has no JSON form", dbservice.ErrUnavailable, v)
}

// A revision is the document's update time as base-36 nanoseconds since
// the Unix epoch: opaque to callers, exact (Firestore keeps microseconds),
// and turned back into the time a LastUpdateTime precondition needs.

func encodeRev(t time.Time) string {
	return strconv.FormatInt(t.UnixNano(), 36)
}

// decodeRev returns the update time of a revision this provider issued.
// Anything else (another provider's revision, garbage, a non-canonical
// spelling) is false: for IfRev that is a conflict, never a request.
func decodeRev(rev string) (time.Time, bool) {
	if rev == "" || len(rev) > 13 {
		return time.Time{}, false
	}
	for i := 0; i < len(rev); i++ {
		if c := rev[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(rev, 36, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 36) != rev {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}
