package dbservice_test

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

func TestPlanQueryUsesOnlyIndexesHoldingEveryMatch(t *testing.T) {
	teamScore := []dbservice.IndexDef{{Name: "ts", Fields: []string{"team", "score"}}}
	team := dbservice.Where("team", dbservice.Eq, "red")
	for _, c := range []struct {
		name   string
		q      dbservice.Query
		served bool
	}{
		// A document with a team and no score is a match the index
		// [team, score] does not hold.
		{"equality on the first field only", dbservice.Query{Where: []dbservice.Cond{team}}, false},
		{"score absent on purpose", dbservice.Query{Where: []dbservice.Cond{team, dbservice.Where("score", dbservice.Exists, false)}}, false},
		{"a range on the second field", dbservice.Query{Where: []dbservice.Cond{team, dbservice.Where("score", dbservice.Gt, 5.0)}}, true},
		{"any condition on the second field", dbservice.Query{Where: []dbservice.Cond{team, dbservice.Where("score", dbservice.Ne, 5.0)}}, true},
		{"score present", dbservice.Query{Where: []dbservice.Cond{team, dbservice.Where("score", dbservice.Exists, true)}}, true},
		{"ordered by the second field", dbservice.Query{Where: []dbservice.Cond{team}, OrderBy: []dbservice.Order{dbservice.Asc("score")}}, true},
	} {
		q, err := dbservice.CheckQuery(c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p := dbservice.PlanQuery(q, teamScore)
		if got := p.Index != nil; got != c.served {
			t.Errorf("%s: index used = %v, want %v", c.name, got, c.served)
		}
		if p.Index == nil && len(p.Residual) != len(q.Where) {
			t.Errorf("%s: unserved plan keeps %d of %d conditions", c.name, len(p.Residual), len(q.Where))
		}
	}
	// A condition inside the field requires it too.
	q, err := dbservice.CheckQuery(dbservice.Query{Where: []dbservice.Cond{dbservice.Where("o.k", dbservice.Eq, 1.0)}})
	if err != nil {
		t.Fatal(err)
	}
	if p := dbservice.PlanQuery(q, []dbservice.IndexDef{{Name: "o", Fields: []string{"o"}}}); p.Index == nil {
		// An index on o serves no condition here (o.k is another field),
		// so it is not used either way; what matters is no panic and the
		// whole condition kept.
		if len(p.Residual) != 1 {
			t.Errorf("o.k == 1 on an index of o: residual %v", p.Residual)
		}
	}
}
