package firestore

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// The data API's benchmarks (issue 15), each through dbtest.Pair: "raw" is
// what a caller without the new method does, "lib" the method; x-vs-raw
// below 1 is the method's gain (0.1 is 10x faster).

// BenchmarkGetMany100 compares GetMany of 100 IDs (one BatchGetDocuments)
// with 100 Gets (goal: x-vs-raw ≤ 0.1).
func BenchmarkGetMany100(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	items := make([]dbservice.BulkItem, 100)
	ids := make([]string, 100)
	for i := range items {
		ids[i] = fmt.Sprintf("doc-%03d", i)
		items[i] = dbservice.BulkItem{ID: ids[i], Doc: dbtest.BenchDoc(i)}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		b.Fatal(err)
	}
	dbtest.Pair(b,
		func() error {
			for _, id := range ids {
				if _, err := s.Get(ctx, coll, id); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			docs, _, err := s.GetMany(ctx, coll, ids)
			if err == nil && len(docs) != len(ids) {
				err = fmt.Errorf("GetMany found %d of %d", len(docs), len(ids))
			}
			return err
		})
}

// BenchmarkUpdateIncrement compares Update with one Increment (a read and
// a conditional field update) with the loop a caller writes without it:
// Get, then Save of the whole document with IfRev.
func BenchmarkUpdateIncrement(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	doc := dbtest.BenchDoc(1)
	doc["n"] = 0
	for _, id := range []string{"raw", "lib"} {
		if _, err := s.Save(ctx, coll, id, doc); err != nil {
			b.Fatal(err)
		}
	}
	inc := []dbservice.Mutation{dbservice.Increment("n", 1)}
	b.Run("vs-get-save-ifrev", func(b *testing.B) {
		dbtest.Pair(b,
			func() error {
				d, err := s.Get(ctx, coll, "raw")
				if err != nil {
					return err
				}
				rev := d["_rev"].(string)
				d["n"] = d["n"].(float64) + 1
				_, err = s.Save(ctx, coll, "raw", d, dbservice.IfRev(rev))
				return err
			},
			func() error { _, err := s.Update(ctx, coll, "lib", inc); return err })
	})
	// The alternative design: a read-write transaction that reads, checks
	// the type and sends the Increment transform (BeginTransaction, a
	// transactional read, Commit).
	b.Run("vs-transaction", func(b *testing.B) {
		ref := s.collection(coll).Doc("raw")
		dbtest.Pair(b,
			func() error {
				return s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
					snap, err := tx.Get(ref)
					if err != nil {
						return err
					}
					if v, err := snap.DataAt("n"); err != nil {
						return err
					} else if _, ok := v.(float64); !ok {
						return fmt.Errorf("n is a %T", v)
					}
					return tx.Update(ref, []firestore.Update{{Path: "n", Value: firestore.Increment(1)}})
				})
			},
			func() error { _, err := s.Update(ctx, coll, "lib", inc); return err })
	})
}

// BenchmarkCount compares Count (the count() aggregation) with iterating
// every page of the matching documents, IDs only, over 2000 documents of
// which 500 match.
func BenchmarkCount(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	items := make([]dbservice.BulkItem, 2000)
	for i := range items {
		items[i] = dbservice.BulkItem{ID: fmt.Sprintf("doc-%04d", i), Doc: dbservice.Doc{"g": i % 4, "v": i}}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { deleteAll(b, s, coll) })
	for _, c := range []struct {
		name  string
		where []dbservice.Cond
		want  int
	}{
		{"all", nil, 2000},
		{"eq", []dbservice.Cond{dbservice.Where("g", dbservice.Eq, 1)}, 500},
	} {
		b.Run(c.name, func(b *testing.B) {
			dbtest.Pair(b,
				func() error {
					n, q := 0, dbservice.Query{Where: c.where, Fields: []string{"_id"}, Limit: dbservice.MaxLimit}
					for {
						p, err := s.Query(ctx, coll, q)
						if err != nil {
							return err
						}
						n += len(p.Docs)
						if p.Next == "" {
							break
						}
						q.Cursor = p.Next
					}
					if n != c.want {
						return fmt.Errorf("iterated %d, want %d", n, c.want)
					}
					return nil
				},
				func() error {
					n, err := s.Count(ctx, coll, c.where)
					if err == nil && n != c.want {
						err = fmt.Errorf("counted %d, want %d", n, c.want)
					}
					return err
				})
		})
	}
}
