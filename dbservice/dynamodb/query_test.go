package dynamodb

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
)

// exprSyntax is everything a filter or projection may contain besides
// placeholders: user text must only ever reach DynamoDB as a name or value.
var exprSyntax = regexp.MustCompile(`^([#:][a-z][0-9]+|attribute_exists|attribute_not_exists|attribute_type|contains|begins_with|AND|OR|NOT|IN|[ (),.=<>])*$`)

// liveFilter is how every filter ends: the item has not expired.
var liveFilter = regexp.MustCompile(`^(.*?)(?: AND )?\(attribute_not_exists\((#n[0-9]+)\) OR (#n[0-9]+) > (:v[0-9]+)\)$`)

func scanFor(t *testing.T, q dbservice.Query) (filter, projection string, names map[string]string, values map[string]types.AttributeValue) {
	t.Helper()
	nq, err := dbservice.CheckQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := buildScan("table", nq, time.Now())
	return aws.ToString(in.FilterExpression), aws.ToString(in.ProjectionExpression), in.ExpressionAttributeNames, in.ExpressionAttributeValues
}

// splitLive returns a filter without its final expiry test, and checks
// that the test is there and names ExpiresField.
func splitLive(t *testing.T, filter string, names map[string]string) string {
	t.Helper()
	m := liveFilter.FindStringSubmatch(filter)
	if m == nil || m[2] != m[3] || names[m[2]] != dbservice.ExpiresField {
		t.Fatalf("filter %q does not end with the test that the item has not expired", filter)
	}
	return m[1]
}

func TestFiltersUsePlaceholdersOnly(t *testing.T) {
	W := dbservice.Where
	cases := []struct {
		name   string
		where  []dbservice.Cond
		filter string
	}{
		{"eq on a string", []dbservice.Cond{W("name", dbservice.Eq, "alice")}, "#n0 = :v0"},
		{"eq nil is an explicit null", []dbservice.Cond{W("note", dbservice.Eq, nil)}, "attribute_type(#n0, :v0)"},
		{"ne needs the field present and not null", []dbservice.Cond{W("v", dbservice.Ne, 10)},
			"((attribute_exists(#n0) AND NOT attribute_type(#n0, :v0)) AND #n0 <> :v1)"},
		{"ne nil is present and not null", []dbservice.Cond{W("v", dbservice.Ne, nil)},
			"(attribute_exists(#n0) AND NOT attribute_type(#n0, :v0))"},
		{"a nested path names every segment", []dbservice.Cond{W("owner.id", dbservice.Gte, "u1")}, "#n0.#n1 >= :v0"},
		{"in with nil adds a null test", []dbservice.Cond{W("age", dbservice.In, []any{25, "40", nil})},
			"(attribute_type(#n0, :v2) OR #n0 IN (:v0, :v1))"},
		{"exists false", []dbservice.Cond{W("note", dbservice.Exists, false)}, "attribute_not_exists(#n0)"},
		{"_id is a name like any other", []dbservice.Cond{W("_id", dbservice.Lt, "m")}, "#n0 < :v0"},
		{"a number DynamoDB cannot hold keeps only the type", []dbservice.Cond{W("n", dbservice.Gt, 1e200)}, "attribute_type(#n0, :v0)"},
		{"nothing equals a number DynamoDB cannot hold", []dbservice.Cond{W("n", dbservice.Eq, 1e200)}, "(attribute_exists(#n0) AND attribute_not_exists(#n0))"},
		{"conditions are ANDed", []dbservice.Cond{W("a", dbservice.Eq, true), W("b", dbservice.Lte, 3)}, "#n0 = :v0 AND #n1 <= :v1"},
		{"contains needs a list, not a string", []dbservice.Cond{W("tags", dbservice.Contains, "go")}, "(attribute_type(#n0, :v0) AND contains(#n0, :v1))"},
		{"prefix needs a string", []dbservice.Cond{W("name", dbservice.Prefix, "al")}, "(attribute_type(#n0, :v0) AND begins_with(#n0, :v1))"},
		{"the empty prefix is every string", []dbservice.Cond{W("name", dbservice.Prefix, "")}, "attribute_type(#n0, :v0)"},
		{"no condition keeps the expiry test", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			filter, _, names, values := scanFor(t, dbservice.Query{Where: c.where})
			if got := splitLive(t, filter, names); got != c.filter {
				t.Fatalf("filter = %q, want %q before the expiry test", got, c.filter)
			}
			for ph := range names {
				if !strings.Contains(filter, ph) {
					t.Fatalf("name %s is unused (DynamoDB refuses that)", ph)
				}
			}
			for ph := range values {
				if !strings.Contains(filter, ph) {
					t.Fatalf("value %s is unused (DynamoDB refuses that)", ph)
				}
			}
		})
	}
}

// TestPathsTranslateFromTheirNames: a path's placeholders come from
// dbservice.SplitPath, so an escaped "." or "\\" stays inside its name and
// reaches DynamoDB only as an attribute name.
func TestPathsTranslateFromTheirNames(t *testing.T) {
	b := newExprBuilder()
	cases := []struct {
		names []string
		want  string
	}{
		{[]string{"files", "main.py"}, "#n0.#n1"},
		{[]string{"files", `a\b.c`, "x"}, "#n0.#n2.#n3"},
		{[]string{"$defs", "v1.2"}, "#n4.#n5"},
	}
	for _, c := range cases {
		got := b.path(dbservice.Path(c.names...))
		if got != c.want {
			t.Fatalf("path(%q) = %q, want %q", dbservice.Path(c.names...), got, c.want)
		}
		var back []string
		for ph := range strings.SplitSeq(got, ".") {
			back = append(back, b.names[ph])
		}
		if !slices.Equal(back, c.names) {
			t.Fatalf("placeholders of %q name %q, want %q", dbservice.Path(c.names...), back, c.names)
		}
	}
}

func TestProjectionIncludesWhatMatchNeeds(t *testing.T) {
	q := dbservice.Query{
		Fields: []string{"owner.id", "owner", "name", "name"},
		Where:  []dbservice.Cond{dbservice.Where("age", dbservice.Gt, 3), dbservice.Where("owner.tier", dbservice.Eq, "gold")},
	}
	_, projection, names, _ := scanFor(t, q)
	var got []string
	for p := range strings.SplitSeq(projection, ", ") {
		var segs []string
		for ph := range strings.SplitSeq(p, ".") {
			segs = append(segs, names[ph])
		}
		got = append(got, strings.Join(segs, "."))
	}
	slices.Sort(got)
	want := []string{"_expires", "_id", "_rev", "age", "name", "owner"}
	if !slices.Equal(got, want) {
		t.Fatalf("projected paths = %v, want %v (no overlaps, condition fields included)", got, want)
	}
}

// FuzzFilterExpression feeds arbitrary field paths and values through
// CheckQuery and the expression builder: whatever passes validation must
// reach DynamoDB only as expression attribute names and values.
func FuzzFilterExpression(f *testing.F) {
	f.Add("owner.id", "x", "eq")
	f.Add("a", ") OR attribute_exists(#n0", "ne")
	f.Add("_id", "#n0 = :v0", "in")
	f.Add("size", "1", "gt")
	f.Fuzz(func(t *testing.T, field, value, op string) {
		var v any = value
		if op == string(dbservice.In) {
			v = []any{value, nil}
		}
		if op == string(dbservice.Exists) {
			v = len(value)%2 == 0
		}
		q, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{{Field: field, Op: dbservice.Op(op), Value: v}}, Fields: []string{field}})
		if err != nil {
			return
		}
		in, _ := buildScan("table", q, time.Now())
		for _, expr := range []string{aws.ToString(in.FilterExpression), aws.ToString(in.ProjectionExpression)} {
			if !exprSyntax.MatchString(expr) {
				t.Fatalf("expression %q contains more than placeholders and syntax", expr)
			}
		}
		seen := false
		for _, n := range in.ExpressionAttributeNames {
			seen = seen || strings.HasPrefix(field, n)
		}
		if !seen {
			t.Fatalf("field %q is not among the names %v", field, in.ExpressionAttributeNames)
		}
	})
}
