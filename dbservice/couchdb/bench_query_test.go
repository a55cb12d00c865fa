package couchdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"
	kcouch "github.com/go-kivik/kivik/v4/couchdb"

	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// BenchmarkQueryShapes times issue 12's query shapes at 10k and 50k
// documents: the library's Query (after EnsureIndex of each shape's
// fields) against kivik's Find on a second database holding the same
// documents, with the Mango indexes CouchDB's docs recommend for them
// (team, score and team+score, created with CreateIndex) and the shape's
// sort and limit, on the same server in the same run.
//
// CouchDB builds an index on its first use, which at 50k documents on a
// loaded machine takes longer than DefaultTimeout: EnsureIndex builds the
// library's views before it returns and the untimed first call of each
// shape builds the raw side's Mango indexes, under a longer timeout.
func BenchmarkQueryShapes(b *testing.B) {
	s := newServer(b, func(c *Config) { c.Timeout = 10 * time.Minute })
	cfg := serverConfig(b)
	client, err := kivik.New("couch", cfg.URL, kcouch.CookieAuth(cfg.User, cfg.Password), kcouch.OptionNoRequestCompression())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	ctx, run := context.Background(), dbtest.Collection(b)
	for _, size := range dbtest.QueryBenchSizes {
		coll := fmt.Sprintf("%sq%d", run, size)
		rawName := s.dbName(coll + "raw")
		items := dbtest.QueryBenchItems(size)
		if err := s.SaveMany(ctx, coll, items); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = client.DestroyDB(context.Background(), s.dbName(coll)) })
		if err := client.CreateDB(ctx, rawName); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = client.DestroyDB(context.Background(), rawName) })
		db := client.DB(rawName)
		for i := 0; i < len(items); i += 1000 {
			var batch []any
			for _, it := range items[i:min(i+1000, len(items))] {
				d := map[string]any{"_id": it.ID}
				for k, v := range it.Doc {
					d[k] = v
				}
				batch = append(batch, d)
			}
			if _, err := db.BulkDocs(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		for _, fields := range [][]string{{"team"}, {"score"}, {"team", "score"}} {
			name := fmt.Sprintf("raw-%v", fields)
			if err := db.CreateIndex(ctx, name, name, map[string]any{"fields": fields}); err != nil {
				b.Fatal(err)
			}
		}
		for _, shape := range dbtest.QueryShapes() {
			if err := s.EnsureIndex(ctx, coll, shape.Index...); err != nil {
				b.Fatal(err)
			}
		}
		team, none := dbtest.QueryBenchTeam, dbtest.QueryBenchNoTeam
		raws := map[string]map[string]any{
			"eq": {"selector": map[string]any{"team": team}, "limit": 10},
			"range-top5": {"selector": map[string]any{"score": map[string]any{"$gt": 900}},
				"sort": []any{map[string]any{"score": "desc"}}, "limit": 5},
			"eq-range": {"selector": map[string]any{"team": team, "score": map[string]any{"$gt": 500}}, "limit": 10},
			// Mango sorts through an index only when the selector names
			// the field; $gt null holds for every number.
			"orderby-limit": {"selector": map[string]any{"score": map[string]any{"$gt": nil}},
				"sort": []any{map[string]any{"score": "desc"}}, "limit": 10},
			"no-match": {"selector": map[string]any{"team": none}, "limit": 10},
		}
		for _, shape := range dbtest.QueryShapes() {
			query := raws[shape.Name]
			b.Run(fmt.Sprintf("n=%d/%s", size, shape.Name), func(b *testing.B) {
				dbtest.BenchQueryShape(b, "couchdb", size, s, coll, shape, func(ctx context.Context) (int, int, error) {
					rows := db.Find(ctx, query)
					defer rows.Close()
					n := 0
					for rows.Next() {
						var m map[string]any
						if err := rows.ScanDoc(&m); err != nil {
							return n, -1, err
						}
						n++
					}
					return n, -1, rows.Err()
				})
			})
		}
	}
}
