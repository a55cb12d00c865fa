package dynamodb

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// TestFaults runs eight IfRev writers with 2 s deadlines against a private
// DynamoDB Local while its process is frozen (SIGSTOP) for 6 s and resumed,
// and while it is killed and started again. DynamoDB Local keeps its data
// in memory (-inMemory), so the restart loses the table: the writers
// re-create the counter and the checks apply to the new epoch.
func TestFaults(t *testing.T) {
	testenv.Need(t, "dynamodb", EnvEndpointURL)
	t.Parallel()
	srv := testenv.StartServer(t, "dynamodb")
	for _, f := range []struct {
		name  string
		lost  bool
		fault func(t *testing.T)
	}{
		{"FrozenFor6s", false, func(*testing.T) {
			srv.Signal(syscall.SIGSTOP)
			time.Sleep(6 * time.Second) // the length of the freeze, not a wait for an event
			srv.Signal(syscall.SIGCONT)
		}},
		{"KilledAndRestarted", true, func(t *testing.T) {
			srv.Kill()
			if err := srv.Start(); err != nil {
				t.Fatalf("restarting: %v", err)
			}
		}},
	} {
		t.Run(f.name, func(t *testing.T) {
			cfg := serverConfig(t)
			cfg.EndpointURL = srv.Env["DYNAMODB_ENDPOINT_URL"]
			cfg.Credentials = credentials.NewStaticCredentialsProvider(srv.Env["AWS_ACCESS_KEY_ID"], srv.Env["AWS_SECRET_ACCESS_KEY"], "")
			var res dbtest.FaultResult
			// Only the goroutines the Service and its probes start are
			// counted.
			alive := testenv.Labeled(t, func(context.Context) {
				s, err := New(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				probeColl := dbtest.Collection(t)
				res = dbtest.FaultIncrements(t, s, func() { f.fault(t) }, f.lost, func(ctx context.Context) error {
					// A write through a Service of its own: a fresh client, connection pool
					// and retry quota.
					p, err := New(ctx, cfg)
					if err != nil {
						return err
					}
					defer p.Close()
					_, err = p.Save(ctx, probeColl, "probe", dbservice.Doc{"at": time.Now().UnixMilli()})
					return err
				})
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			})
			testenv.WaitFor(t, 30*time.Second, "the Service's goroutines to end", func() bool { return alive() == 0 })
			t.Logf("dynamodb %s: recovery %v", f.name, res.Recovery.Round(time.Millisecond))
		})
	}
}
