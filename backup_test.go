package securedb_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/securedb-go/securedb"
	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// TestRestoreDrillAcrossProviders copies a collection between every pair
// of providers this run has servers for (memory always), then verifies the
// copy document by document: the guide's restore drill, and a migration
// path such as CouchDB → DynamoDB.
func TestRestoreDrillAcrossProviders(t *testing.T) {
	for _, from := range securedb.Providers {
		for _, to := range securedb.Providers {
			if from == to && from != securedb.Memory {
				continue
			}
			t.Run(from+"-to-"+to, func(t *testing.T) {
				src := openFromEnv(t, from)
				dst := openFromEnv(t, to)
				ctx := context.Background()
				coll := dbtest.Collection(t)
				for i := range 40 {
					doc := dbservice.Doc{
						"name": fmt.Sprintf("agent %d", i), "runs": i, "ratio": float64(i) / 8,
						"active": i%3 == 0, "note": nil, "owner": map[string]any{"id": "u1", "tags": []any{"a", float64(i)}},
						// Whole floats beyond 2^53 once made the backup refuse to restore.
						"numbers": []any{1e17, float64(time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC).UnixNano()), float64(1 << 60),
							float64(1<<53 + 2), 1e21, 0.1, 1.0 / 3, math.Copysign(0, -1), 1e125, 1e-130},
					}
					if _, err := src.Save(ctx, coll, fmt.Sprintf("a%03d", i), doc); err != nil {
						t.Fatalf("filling %s: %v", from, err)
					}
				}
				stats, err := dbservice.Copy(ctx, src, dst, coll)
				if err != nil || stats.Docs != 40 {
					t.Fatalf("Copy %s → %s: %+v, %v; want 40 documents", from, to, stats, err)
				}
				rep, err := dbservice.Verify(ctx, src, dst, coll)
				if err != nil || !rep.Equal() {
					t.Fatalf("Verify %s → %s: %v, %v", from, to, rep, err)
				}
				// The drill must be able to fail: one changed document shows.
				if _, err := dst.Save(ctx, coll, "a007", dbservice.Doc{"name": "tampered"}); err != nil {
					t.Fatal(err)
				}
				if rep, err := dbservice.Verify(ctx, src, dst, coll); err != nil || rep.Equal() {
					t.Fatalf("Verify missed a changed document: %v, %v", rep, err)
				}
			})
		}
	}
}

// TestSecurityReportPerProvider prints the checklist for every provider
// this run has a server for (go test -v shows it) and checks it covers the
// whole checklist without leaking a credential.
func TestSecurityReportPerProvider(t *testing.T) {
	for _, provider := range securedb.Providers {
		t.Run(provider, func(t *testing.T) {
			db := openFromEnv(t, provider)
			rep := dbservice.NewReport(context.Background(), provider, db)
			var buf bytes.Buffer
			if err := rep.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", buf.String())
			ids := map[string]bool{}
			for _, f := range rep.Findings {
				ids[f.ID] = true
			}
			for _, item := range dbservice.Checklist() {
				if !ids[item.ID] {
					t.Errorf("the report lacks checklist item %s", item.ID)
				}
			}
			for _, v := range serverVars[provider] {
				if v == "COUCHDB_PASSWORD" && bytes.Contains(buf.Bytes(), []byte(envOf(v))) {
					t.Errorf("the report shows %s", v)
				}
			}
		})
	}
}
