package dynamodb

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

func TestServerKilledMidRunThenRestarted(t *testing.T) {
	testenv.Need(t, "dynamodb", EnvEndpointURL)
	srv := testenv.StartServer(t, "dynamodb")
	baseline := runtime.NumGoroutine()
	cfg := serverConfig(t)
	cfg.EndpointURL = srv.Env["DYNAMODB_ENDPOINT_URL"]
	cfg.Credentials = credentials.NewStaticCredentialsProvider(srv.Env["AWS_ACCESS_KEY_ID"], srv.Env["AWS_SECRET_ACCESS_KEY"], "")
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "before", dbservice.Doc{"v": 1}); err != nil {
		t.Fatalf("Save before the kill: %v", err)
	}

	srv.Kill()
	_, err = s.Get(ctx, coll, "before")
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("Get from a dead server: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), srv.Env["AWS_SECRET_ACCESS_KEY"]) {
		t.Fatalf("error shows the secret key: %v", err)
	}
	_, err = s.Save(ctx, coll, "during", dbservice.Doc{"v": 2})
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("Save to a dead server: %v, want ErrUnavailable", err)
	}
	t.Logf("while down: %v", err)

	if err := srv.Start(); err != nil {
		t.Fatalf("restarting the server: %v", err)
	}
	// The restarted server is empty (in-memory): the Service notices the
	// table is gone and creates it again.
	if _, err := s.Save(ctx, coll, "after", dbservice.Doc{"v": 3}); err != nil {
		t.Fatalf("Save after the restart: %v", err)
	}
	if d, err := s.Get(ctx, coll, "after"); err != nil || d["v"] != 3.0 {
		t.Fatalf("Get after the restart = %v, %v", d, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the Service's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}
