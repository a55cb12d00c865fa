package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// TestTheTrailRecordsWhatGuardsSlogRecordSays runs the same operations
// with both audit outputs on and compares them field by field: the trail
// is the slog record plus seq, time and prev, and nothing else.
func TestTheTrailRecordsWhatGuardsSlogRecordSays(t *testing.T) {
	var logBuf, trailBuf bytes.Buffer
	sink := audit.New(&trailBuf, audit.Options{})
	db := dbservice.Guard(memory.New(), dbservice.Policy{
		Audit:      slog.New(slog.NewJSONHandler(&logBuf, nil)),
		AuditTrail: sink,
		ReadOnly:   []string{"frozen"},
	})
	ctx := dbservice.WithPrincipal(context.Background(), "svc-7")
	hostile := strings.Repeat("ev\x00il\n{\"op\":\"x\"}\xff", 5000)
	_, _ = db.Save(ctx, "agents", "a1", dbservice.Doc{"n": 1})
	_, _ = db.Save(ctx, "agents", "a1", dbservice.Doc{"n": 2}, dbservice.IfAbsent())
	_, _ = db.Get(ctx, "agents", "a1")
	_, _ = db.Get(ctx, "agents", "missing")
	_, _ = db.Query(ctx, "agents", dbservice.Query{})
	_, _ = db.Get(ctx, hostile, "a1")
	_, _ = db.Get(ctx, "agents", "../etc")
	_ = db.Delete(ctx, "frozen", "a1")
	_ = db.EnsureIndex(ctx, "agents", "n")
	_ = db.(dbservice.BulkWriter).SaveMany(ctx, "agents", []dbservice.BulkItem{{ID: "b1", Doc: dbservice.Doc{}}})
	_ = db.Ping(ctx)

	logs, trail := splitLines(logBuf.Bytes()), splitLines(trailBuf.Bytes())
	if len(logs) != 11 || len(trail) != 11 {
		t.Fatalf("%d slog records and %d trail records, want 11 of each", len(logs), len(trail))
	}
	for i := range logs {
		var l, r map[string]any
		if json.Unmarshal([]byte(logs[i]), &l) != nil || json.Unmarshal([]byte(trail[i]), &r) != nil {
			t.Fatalf("record %d is not JSON", i)
		}
		for _, k := range []string{"op", "collection", "id", "principal", "outcome", "error_kind", "count"} {
			if l[k] != r[k] {
				t.Errorf("record %d (%v): %s is %v in the log and %v in the trail", i, l["op"], k, l[k], r[k])
			}
		}
		for k := range r {
			switch k {
			case "seq", "time", "prev", "duration_ns", "op", "collection", "id", "principal", "outcome", "error_kind", "count":
			default:
				t.Errorf("record %d has a field the slog record lacks: %s", i, k)
			}
		}
		if len(trail[i]) > 512 {
			t.Errorf("record %d is %d bytes: hostile input reached the trail whole", i, len(trail[i]))
		}
	}
}

func TestAClosedSinkRefusesOperations(t *testing.T) {
	sink := audit.New(&bytes.Buffer{}, audit.Options{})
	db := dbservice.Guard(memory.New(), dbservice.Policy{AuditTrail: sink})
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Save(context.Background(), "agents", "a1", dbservice.Doc{}); !errors.Is(err, dbservice.ErrClosed) {
		t.Fatalf("Save after the trail closed = %v, want ErrClosed", err)
	}
}
