package couchdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

// benchColl stores n BenchDocs under d0000.. and returns the collection
// and the IDs.
func benchColl(b *testing.B, s *Service, n int) (string, []string) {
	ctx, coll := context.Background(), dbtest.Collection(b)
	items := make([]dbservice.BulkItem, n)
	ids := make([]string, n)
	for i := range items {
		ids[i] = fmt.Sprintf("d%04d", i)
		items[i] = dbservice.BulkItem{ID: ids[i], Doc: dbtest.BenchDoc(i)}
	}
	if err := s.SaveMany(ctx, coll, items); err != nil {
		b.Fatal(err)
	}
	return coll, ids
}

// BenchmarkGetMany100 reads 100 documents with one GetMany (one POST
// _all_docs with keys) against 100 Gets; x-vs-raw is GetMany's share of
// the Gets' time (goal ≤ 0.1, ten times faster).
func BenchmarkGetMany100(b *testing.B) {
	s := newServer(b)
	ctx := context.Background()
	coll, ids := benchColl(b, s, 100)
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

// BenchmarkUpdateIncrement increments a field with Update against the
// caller's own Get and Save with IfRev (what Update replaces); both take
// a read and a conditional write.
func BenchmarkUpdateIncrement(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	for _, id := range []string{"raw", "lib"} {
		if _, err := s.Save(ctx, coll, id, dbtest.BenchDoc(0)); err != nil {
			b.Fatal(err)
		}
	}
	dbtest.Pair(b,
		func() error {
			d, err := s.Get(ctx, coll, "raw")
			if err != nil {
				return err
			}
			d["runs"] = d["runs"].(float64) + 1
			_, err = s.Save(ctx, coll, "raw", d, dbservice.IfRev(d["_rev"].(string)))
			return err
		},
		func() error {
			_, err := s.Update(ctx, coll, "lib", []dbservice.Mutation{dbservice.Increment("runs", 1)})
			return err
		})
}

// BenchmarkCountVsAll counts 1000 documents, all of them and those with
// active true, with Count against iterating dbservice.All over whole
// documents.
func BenchmarkCountVsAll(b *testing.B) {
	s := newServer(b)
	ctx := context.Background()
	coll, _ := benchColl(b, s, 1000)
	for name, where := range map[string][]dbservice.Cond{
		"all":    nil,
		"active": {dbservice.Where("active", dbservice.Eq, true)},
	} {
		b.Run(name, func(b *testing.B) {
			var counted, iterated int
			dbtest.Pair(b,
				func() error {
					iterated = 0
					for _, err := range dbservice.All(ctx, s, coll, dbservice.Query{Where: where, Limit: dbservice.MaxLimit}) {
						if err != nil {
							return err
						}
						iterated++
					}
					return nil
				},
				func() error {
					var err error
					counted, err = s.Count(ctx, coll, where)
					return err
				})
			if counted != iterated {
				b.Fatalf("Count = %d, All yielded %d", counted, iterated)
			}
		})
	}
}

// BenchmarkUpdateVsUpdateHandler is the measurement behind Update's loop:
// a JavaScript _update handler that increments the field server-side (one
// request, but it needs design document rights, JavaScript on the server,
// and answers 409 on a race just the same) against Update (a GET and a
// PUT). x-vs-raw is Update's time over the handler's.
func BenchmarkUpdateVsUpdateHandler(b *testing.B) {
	s := newServer(b)
	ctx, coll := context.Background(), dbtest.Collection(b)
	for _, id := range []string{"raw", "lib"} {
		if _, err := s.Save(ctx, coll, id, dbtest.BenchDoc(0)); err != nil {
			b.Fatal(err)
		}
	}
	db := s.dbName(coll)
	ddoc := map[string]any{"updates": map[string]any{
		"inc": "function(doc, req) { if (!doc) { return [null, 'missing']; } doc.runs = (doc.runs || 0) + 1; return [doc, 'ok']; }",
	}}
	if _, err := s.db(db).Put(ctx, "_design/bench", ddoc); err != nil {
		b.Fatal(err)
	}
	handler := "/" + db + "/_design/bench/_update/inc/raw"
	dbtest.Pair(b,
		func() error {
			resp, err := s.rawDo(ctx, "POST", handler, nil, []byte("{}"))
			if err == nil {
				err = resp.Body.Close()
			}
			return err
		},
		func() error {
			_, err := s.Update(ctx, coll, "lib", []dbservice.Mutation{dbservice.Increment("runs", 1)})
			return err
		})
	raw, err := s.Get(ctx, coll, "raw")
	if err != nil {
		b.Fatal(err)
	}
	lib, err := s.Get(ctx, coll, "lib")
	if err != nil {
		b.Fatal(err)
	}
	if raw["runs"] != lib["runs"] {
		b.Fatalf("the handler counted %v, Update %v", raw["runs"], lib["runs"])
	}
}
