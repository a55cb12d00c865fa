package firestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/securedb-go/securedb/dbservice"
)

// bulkItemsPerTimeout is how many documents one CallTimeout is budgeted
// for in SaveMany: BulkWriter starts at 500 writes a second.
const bulkItemsPerTimeout = 500

// SaveMany implements dbservice.BulkWriter with Firestore's BulkWriter
// (BatchWrite requests of 20 writes, retried on contention and
// unavailability by the SDK). Every item is validated and encoded first,
// so one invalid item means nothing is sent. Items with the same ID are
// reduced to the last one (BulkWriter refuses two writes to one document,
// and the last write is what a loop of Saves would leave).
//
// Each item is an unconditional Set that replaces the document. SaveMany is
// not atomic: if some writes fail, the others stand; the error says how
// many failed and the call can be repeated.
func (s *Service) SaveMany(ctx context.Context, coll string, items []dbservice.BulkItem) error {
	if err := s.precheck(ctx, "save-many", coll, "", false); err != nil {
		return err
	}
	type write struct {
		id   string
		data map[string]any
	}
	writes := make([]write, 0, len(items))
	pos := make(map[string]int, len(items))
	for _, it := range items {
		if err := dbservice.CheckID(it.ID); err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		if err := checkNativeID("id", it.ID); err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		nd, err := dbservice.NormalizeDoc(it.Doc, s.limits)
		if err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		data, err := encodeDoc(s.prefix+coll, it.ID, nd)
		if err != nil {
			return fail("save-many", coll, it.ID, err)
		}
		if i, dup := pos[it.ID]; dup {
			writes[i].data = data
			continue
		}
		pos[it.ID] = len(writes)
		writes = append(writes, write{it.ID, data})
	}
	if len(writes) == 0 {
		return nil
	}

	budget := s.timeout * time.Duration(1+len(writes)/bulkItemsPerTimeout)
	cctx, cancel := context.WithTimeoutCause(ctx, budget, errCallTimeout)
	defer cancel()
	col := s.collection(coll)
	bw := s.client.BulkWriter(cctx)
	jobs := make([]*firestore.BulkWriterJob, 0, len(writes))
	var firstErr error
	for _, w := range writes {
		job, err := bw.Set(col.Doc(w.id), w.data)
		if err != nil {
			// Only a done context stops BulkWriter from queueing.
			firstErr = err
			break
		}
		jobs = append(jobs, job)
	}
	bw.End() // flushes and waits for every queued write
	failed := len(writes) - len(jobs)
	for _, job := range jobs {
		if _, err := job.Results(); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr == nil {
		return nil
	}
	s.log.Warn("firestore: bulk write incomplete", "provider", provider, "collection", coll, "failed", failed, "total", len(writes))
	cause := classify(ctx, cctx, firstErr)
	if ctx.Err() != nil {
		return fail("save-many", coll, "", cause)
	}
	return fail("save-many", coll, "", fmt.Errorf("%w (%d of %d documents not written)", cause, failed, len(writes)))
}
