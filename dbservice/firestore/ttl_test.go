package firestore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/firestore/apiv1/admin/adminpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
)

// fakeAdmin implements GetField and UpdateField of the real Firestore
// Admin gRPC service, which the emulator lacks, so the real admin client
// runs unmodified against it.
type fakeAdmin struct {
	adminpb.UnimplementedFirestoreAdminServer
	mu      sync.Mutex
	fields  map[string]*adminpb.Field
	updates []*adminpb.UpdateFieldRequest
	deny    bool
}

func (f *fakeAdmin) GetField(_ context.Context, req *adminpb.GetFieldRequest) (*adminpb.Field, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deny {
		return nil, status.Error(codes.PermissionDenied, "Missing or insufficient permissions. canary-principal@example.iam")
	}
	if fd, ok := f.fields[req.GetName()]; ok {
		return fd, nil
	}
	return nil, status.Errorf(codes.NotFound, "field %s not found", req.GetName())
}

func (f *fakeAdmin) UpdateField(_ context.Context, req *adminpb.UpdateFieldRequest) (*longrunningpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, req)
	// The policy is being created, as Firestore reports it right after.
	f.fields[req.GetField().GetName()] = &adminpb.Field{Name: req.GetField().GetName(), TtlConfig: &adminpb.Field_TtlConfig{State: adminpb.Field_TtlConfig_CREATING}}
	return &longrunningpb.Operation{Name: req.GetField().GetName() + "/operations/op1"}, nil
}

// startFakeAdmin serves f on a loopback port and returns the client
// options that reach it.
func startFakeAdmin(t *testing.T, f adminpb.FirestoreAdminServer) []option.ClientOption {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	adminpb.RegisterFirestoreAdminServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return []option.ClientOption{
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// TestEnsureExpirySetsTheTTLPolicyOnce: the first call asks for a TTL
// policy on the expiry field of the collection's group; later calls see
// it creating or active and send no update.
func TestEnsureExpirySetsTheTTLPolicyOnce(t *testing.T) {
	s := newServer(t)
	coll := "sessions"
	if err := s.EnsureExpiry(t.Context(), coll); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("EnsureExpiry on the emulator: %v, want ErrUnsupported", err)
	}
	fake := &fakeAdmin{fields: map[string]*adminpb.Field{}}
	s.adminOpts = startFakeAdmin(t, fake)
	for range 3 {
		if err := s.EnsureExpiry(t.Context(), coll); err != nil {
			t.Fatal(err)
		}
	}
	if len(fake.updates) != 1 {
		t.Fatalf("%d UpdateField calls, want 1", len(fake.updates))
	}
	up := fake.updates[0]
	want := "projects/" + os.Getenv(EnvProjectID) + "/databases/(default)/collectionGroups/" + runPrefix + coll + "/fields/_expires"
	if up.GetField().GetName() != want || up.GetField().GetTtlConfig() == nil || strings.Join(up.GetUpdateMask().GetPaths(), ",") != "ttl_config" {
		t.Fatalf("UpdateField(%v), want a TtlConfig on %s with mask ttl_config", up, want)
	}
	// A policy that needs repair is requested again.
	fake.fields[want].TtlConfig.State = adminpb.Field_TtlConfig_NEEDS_REPAIR
	if err := s.EnsureExpiry(t.Context(), coll); err != nil || len(fake.updates) != 2 {
		t.Fatalf("EnsureExpiry over NEEDS_REPAIR: %v, %d updates", err, len(fake.updates))
	}
}

// TestEnsureExpiryWithoutPermissionIsForbidden, and the server's message
// (which names the principal) is not in the error.
func TestEnsureExpiryWithoutPermissionIsForbidden(t *testing.T) {
	s := newServer(t)
	s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	fake := &fakeAdmin{fields: map[string]*adminpb.Field{}, deny: true}
	s.adminOpts = startFakeAdmin(t, fake)
	err := s.EnsureExpiry(t.Context(), "sessions")
	if !errors.Is(err, dbservice.ErrForbidden) || strings.Contains(err.Error(), "canary-principal") {
		t.Fatalf("EnsureExpiry without permission: %v", err)
	}
	if len(fake.updates) != 0 {
		t.Fatal("an update was sent after a refused read")
	}
}
