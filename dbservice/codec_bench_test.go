package dbservice

import (
	"context"
	"testing"
	"time"

	"github.com/securedb-go/securedb/validate"
)

// benchStore is the smallest Service the typed helpers need: Get returns a
// copy of one stored document, Save sanitizes as a provider does and keeps
// it. It leaves only the conversion to measure.
type benchStore struct {
	Service
	doc Doc
}

func (b *benchStore) Get(context.Context, string, string) (Doc, error) { return Clone(b.doc), nil }

func (b *benchStore) Save(_ context.Context, _, _ string, doc Doc, _ ...WriteOption) (string, error) {
	d, err := validate.Sanitize(doc, validate.Limits{})
	if err != nil {
		return "", err
	}
	b.doc = d
	return "1-a", nil
}

type benchAgent struct {
	ID      string                    `json:"_id"`
	Rev     string                    `json:"_rev"`
	Name    string                    `json:"name"`
	Active  bool                      `json:"active"`
	Runs    int                       `json:"runs"`
	Score   float64                   `json:"score"`
	Tags    []string                  `json:"tags"`
	Created time.Time                 `json:"created"`
	Owner   struct{ ID, Team string } `json:"owner"`
	Labels  map[string]string         `json:"labels,omitempty"`
}

func newBenchAgent() benchAgent {
	a := benchAgent{Name: "gofannon", Active: true, Runs: 42, Score: 0.97,
		Tags:    []string{"builder", "search", "summarize"},
		Created: time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC),
		Labels:  map[string]string{"env": "prod", "region": "eu-west-1"}}
	a.Owner.ID, a.Owner.Team = "u-17", "platform"
	return a
}

// BenchmarkTypedHelpers times GetAs and SaveAs through encoding/json (the
// conversion before the direct one, kept as refGetAs/refSaveAs) and
// directly, on the same document.
func BenchmarkTypedHelpers(b *testing.B) {
	ctx := context.Background()
	st := &benchStore{}
	if _, err := SaveAs(ctx, st, "agents", "a1", newBenchAgent()); err != nil {
		b.Fatal(err)
	}
	st.doc["_id"], st.doc["_rev"] = "a1", "1-a"
	a := newBenchAgent()
	b.Run("GetAs/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := refGetAs[benchAgent](ctx, st, "agents", "a1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetAs/direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := GetAs[benchAgent](ctx, st, "agents", "a1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SaveAs/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := refSaveAs(ctx, st, "agents", "a1", a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SaveAs/direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SaveAs(ctx, st, "agents", "a1", a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
