package firestore

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// TestFaults runs eight IfRev writers with 2 s deadlines against a private
// emulator while its process is frozen (SIGSTOP) for 6 s and resumed, and
// while it is killed and started again. The emulator keeps its data in
// memory, so the restart loses the counter: the writers re-create it and
// the checks apply to the new epoch.
func TestFaults(t *testing.T) {
	testenv.Need(t, "firestore", EnvEmulatorHost)
	srv := testenv.StartServer(t, "firestore")
	t.Setenv(EnvEmulatorHost, "") // the private emulator is given in Config
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
			cfg := Config{
				ProjectID:        srv.Env[EnvProjectID],
				EmulatorHost:     srv.Env[EnvEmulatorHost],
				CollectionPrefix: runPrefix,
				Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			warmUp(t, cfg)
			baseline := settledGoroutines()
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			probeColl := dbtest.Collection(t)
			res := dbtest.FaultIncrements(t, s, func() { f.fault(t) }, f.lost, func(ctx context.Context) error {
				// A write through a Service of its own: a fresh gRPC connection.
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
			testenv.WaitFor(t, 30*time.Second, "the Service's goroutines to end", func() bool { return settledGoroutines() <= baseline })
			t.Logf("firestore %s: recovery %v", f.name, res.Recovery.Round(time.Millisecond))
		})
	}
}
