package firestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/firestore/apiv1/admin/adminpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/securedb-go/securedb/dbservice"
)

// fakeIndexAdmin implements CreateIndex of the real Firestore Admin gRPC
// service, which the emulator lacks: it records each request and answers
// with a finished operation holding the READY index, or with the error
// set in fail.
type fakeIndexAdmin struct {
	adminpb.UnimplementedFirestoreAdminServer
	mu       sync.Mutex
	requests []*adminpb.CreateIndexRequest
	fail     error
}

func (f *fakeIndexAdmin) CreateIndex(_ context.Context, req *adminpb.CreateIndexRequest) (*longrunningpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	if f.fail != nil {
		return nil, f.fail
	}
	ix := &adminpb.Index{Name: req.GetParent() + "/indexes/ix1", QueryScope: req.GetIndex().GetQueryScope(), Fields: req.GetIndex().GetFields(), State: adminpb.Index_READY}
	res, err := anypb.New(ix)
	if err != nil {
		return nil, err
	}
	return &longrunningpb.Operation{Name: req.GetParent() + "/operations/op1", Done: true, Result: &longrunningpb.Operation_Response{Response: res}}, nil
}

func (f *fakeIndexAdmin) sent() []*adminpb.CreateIndexRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*adminpb.CreateIndexRequest(nil), f.requests...)
}

// indexAdminService returns a Service on the emulator whose Admin API is
// the fake, with ManageIndexes on.
func indexAdminService(t *testing.T, fake *fakeIndexAdmin) *Service {
	t.Helper()
	s := newServer(t, func(c *Config) { c.ManageIndexes = true })
	s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.adminOpts = startFakeAdmin(t, fake)
	return s
}

// describeIndex renders an index's fields as "path ORDER, ...".
func describeIndex(ix *adminpb.Index) string {
	var parts []string
	for _, f := range ix.GetFields() {
		parts = append(parts, f.GetFieldPath()+" "+f.GetOrder().String())
	}
	return strings.Join(parts, ", ")
}

// TestEnsureIndexCreatesCompositeIndexesInBothDirections: two fields make
// two CreateIndex requests on the collection group, one ascending and one
// descending, each ending with __name__, with names that are not simple
// quoted; one field sends nothing (the single-field index serves it).
func TestEnsureIndexCreatesCompositeIndexesInBothDirections(t *testing.T) {
	fake := &fakeIndexAdmin{}
	s := indexAdminService(t, fake)
	coll := "orders"
	if err := s.EnsureIndex(t.Context(), coll, "score"); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.sent()); n != 0 {
		t.Fatalf("a single field sent %d CreateIndex requests", n)
	}
	if err := s.EnsureIndex(t.Context(), coll, "team", "o.k-1", "score"); err != nil {
		t.Fatal(err)
	}
	reqs := fake.sent()
	if len(reqs) != 2 {
		t.Fatalf("%d CreateIndex requests, want 2", len(reqs))
	}
	parent := "projects/" + os.Getenv(EnvProjectID) + "/databases/(default)/collectionGroups/" + runPrefix + coll
	want := []string{
		"team ASCENDING, o.`k-1` ASCENDING, score ASCENDING, __name__ ASCENDING",
		"team DESCENDING, o.`k-1` DESCENDING, score DESCENDING, __name__ DESCENDING",
	}
	for i, r := range reqs {
		if r.GetParent() != parent || r.GetIndex().GetQueryScope() != adminpb.Index_COLLECTION || describeIndex(r.GetIndex()) != want[i] {
			t.Errorf("request %d: parent %s, scope %v, fields %s; want %s, COLLECTION, %s", i, r.GetParent(), r.GetIndex().GetQueryScope(), describeIndex(r.GetIndex()), parent, want[i])
		}
	}
	// Without ManageIndexes nothing is sent.
	s.manageIndexes = false
	if err := s.EnsureIndex(t.Context(), coll, "team", "n"); err != nil || len(fake.sent()) != 2 {
		t.Fatalf("EnsureIndex without ManageIndexes: %v, %d requests in all", err, len(fake.sent()))
	}
}

// TestEnsureIndexAnswersOfTheAdminAPI: an index that already exists is
// success; a refusal is ErrForbidden and an outage ErrUnavailable, without
// the server's text, and then the index is not declared (queries do not
// count on it).
func TestEnsureIndexAnswersOfTheAdminAPI(t *testing.T) {
	fake := &fakeIndexAdmin{fail: status.Error(codes.AlreadyExists, "index already exists")}
	s := indexAdminService(t, fake)
	if err := s.EnsureIndex(t.Context(), "orders", "team", "score"); err != nil {
		t.Fatalf("already exists: %v", err)
	}
	if len(fake.sent()) != 2 {
		t.Fatalf("%d requests, want both directions tried", len(fake.sent()))
	}
	q := dbservice.Query{Where: []dbservice.Cond{dbservice.Where("team", dbservice.Eq, "red")}, OrderBy: []dbservice.Order{dbservice.Asc("score")}, Limit: 5}
	if p, err := s.Explain(t.Context(), "orders", q); err != nil || !dbservice.Served(q, p) {
		t.Fatalf("after an existing index: plan %+v, %v; want served", p, err)
	}
	for _, tc := range []struct {
		code codes.Code
		want error
	}{
		{codes.PermissionDenied, dbservice.ErrForbidden},
		{codes.Unavailable, dbservice.ErrUnavailable},
	} {
		fake := &fakeIndexAdmin{fail: status.Error(tc.code, "canary-principal@example.iam lacks datastore.indexes.create")}
		s := indexAdminService(t, fake)
		err := s.EnsureIndex(t.Context(), "orders", "team", "score")
		if !errors.Is(err, tc.want) || strings.Contains(err.Error(), "canary-principal") {
			t.Fatalf("%v: %v, want %v without the server's text", tc.code, err, tc.want)
		}
		if p, err := s.Explain(t.Context(), "orders", q); err != nil || dbservice.Served(q, p) {
			t.Fatalf("%v: the failed index is used: plan %+v, %v", tc.code, p, err)
		}
	}
}

// TestEnsureIndexRefusesBadFieldsBeforeSending: no request for an invalid
// field list.
func TestEnsureIndexRefusesBadFieldsBeforeSending(t *testing.T) {
	fake := &fakeIndexAdmin{}
	s := indexAdminService(t, fake)
	for _, fields := range [][]string{nil, {"$where", "a"}, {"a", "_id"}, {"a", "a"}, {"a", ""}} {
		if err := s.EnsureIndex(t.Context(), "orders", fields...); !errors.Is(err, dbservice.ErrInvalid) {
			t.Errorf("EnsureIndex(%q): %v, want ErrInvalid", fields, err)
		}
	}
	if n := len(fake.sent()); n != 0 {
		t.Fatalf("%d requests for refused field lists", n)
	}
}

// TestWriteIndexesJSONListsTheDeclaredCompositeIndexes parses the file
// back: every declaration of two or more fields in both directions, on
// the prefixed collection group, nothing for single fields.
func TestWriteIndexesJSONListsTheDeclaredCompositeIndexes(t *testing.T) {
	s := newServer(t)
	ctx := t.Context()
	for _, call := range [][]string{{"orders", "team", "score"}, {"orders", "score"}, {"users", "o.k", "a-b"}, {"orders", "team", "score"}} {
		if err := s.EnsureIndex(ctx, call[0], call[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := s.WriteIndexesJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var file struct {
		Indexes []struct {
			CollectionGroup string `json:"collectionGroup"`
			QueryScope      string `json:"queryScope"`
			Fields          []struct {
				FieldPath string `json:"fieldPath"`
				Order     string `json:"order"`
			} `json:"fields"`
		} `json:"indexes"`
		FieldOverrides []any `json:"fieldOverrides"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ix := range file.Indexes {
		if ix.QueryScope != "COLLECTION" {
			t.Errorf("scope %q", ix.QueryScope)
		}
		var parts []string
		for _, f := range ix.Fields {
			parts = append(parts, f.FieldPath+" "+f.Order)
		}
		got[ix.CollectionGroup+": "+strings.Join(parts, ", ")] = true
	}
	want := []string{
		runPrefix + "orders: team ASCENDING, score ASCENDING, __name__ ASCENDING",
		runPrefix + "orders: team DESCENDING, score DESCENDING, __name__ DESCENDING",
		runPrefix + "users: o.k ASCENDING, `a-b` ASCENDING, __name__ ASCENDING",
		runPrefix + "users: o.k DESCENDING, `a-b` DESCENDING, __name__ DESCENDING",
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %s", w)
		}
	}
	if len(file.Indexes) != len(want) || file.FieldOverrides == nil || len(file.FieldOverrides) != 0 {
		t.Fatalf("%d indexes (want %d), fieldOverrides %v: %v", len(file.Indexes), len(want), file.FieldOverrides, got)
	}
}
