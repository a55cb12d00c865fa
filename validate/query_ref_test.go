package validate

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// refFieldPath is FieldPath as it was before it walked the segments in
// place (with strings.Split). The differential test compares against it;
// each segment's verdict, which did not change, is segmentErr's in both.
func refFieldPath(path string) error {
	if path == "_id" {
		return nil
	}
	if path == "" || len(path) > MaxPathLen {
		return invalid("query.field", "must be 1 to "+strconv.Itoa(MaxPathLen)+" bytes", path)
	}
	segs := strings.Split(path, ".")
	if len(segs) > MaxPathSegments {
		return invalid("query.field", "more than "+strconv.Itoa(MaxPathSegments)+" segments", path)
	}
	for i, s := range segs {
		if err := segmentErr(path, i, s); err != nil {
			return err
		}
	}
	return nil
}

// refQueryValue is QueryValue as it was before strings skipped the walker.
func refQueryValue(v any) (any, error) {
	w := walker{lim: DefaultLimits(), copy: true, fixed: true}
	out, err := w.value(v, 1)
	if err != nil {
		return nil, invalidNoValue("query.value", err.(*Error).Reason)
	}
	switch out.(type) {
	case map[string]any, []any:
		return nil, invalidNoValue("query.value", "must be a string, number, bool or null")
	}
	return out, nil
}

// TestFieldPathAgreesWithTheReference: every path of up to twelve
// segments drawn from valid, reserved and malformed names (and paths at
// the length limit) gets the same verdict and the same error as before.
func TestFieldPathAgreesWithTheReference(t *testing.T) {
	names := []string{"a", "_a", "_id", "__x__", "", "a-b", "$x", "\u00e9", "b\\c"}
	paths := []string{"", "_id", ".", "..", strings.Repeat("a", MaxPathLen), strings.Repeat("a", MaxPathLen+1),
		strings.Repeat("a.", MaxPathSegments-1) + "a", strings.Repeat("a.", MaxPathSegments) + "a", strings.Repeat(".", MaxPathSegments)}
	var grow func(path string, segs int)
	grow = func(path string, segs int) {
		paths = append(paths, path)
		if segs == 3 {
			return
		}
		for _, n := range names {
			grow(path+"."+n, segs+1)
		}
	}
	for _, n := range names {
		grow(n, 1)
	}
	for _, p := range paths {
		for _, tail := range []string{"", strings.Repeat(".a", 8), strings.Repeat(".a", 9)} {
			path := p + tail
			if got, want := FieldPath(path), refFieldPath(path); !reflect.DeepEqual(got, want) {
				t.Errorf("FieldPath(%q) = %v, want %v", path, got, want)
			}
		}
	}
}

// TestQueryValueAgreesWithTheReference: strings (valid, invalid UTF-8, at
// and over the length limit) and the other kinds of value give the same
// value and error as before.
func TestQueryValueAgreesWithTheReference(t *testing.T) {
	max := DefaultLimits().MaxStringLen
	values := []any{"", "team-11", "\xff", "a\x00b", strings.Repeat("a", max), strings.Repeat("a", max+1),
		strings.Repeat("\u00e9", max), strings.Repeat("\u00e9", max+1), 1, 0.5, math.Copysign(0, -1), true, nil,
		[]any{"a"}, map[string]any{"a": 1}, []byte("x"), struct{}{}}
	for _, v := range values {
		got, gotErr := QueryValue(v)
		want, wantErr := refQueryValue(v)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotErr, wantErr) {
			t.Errorf("QueryValue(%.20q) = %v, %v; want %v, %v", v, got, gotErr, want, wantErr)
		}
	}
}
