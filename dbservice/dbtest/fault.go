package dbtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
)

// FaultDeadline bounds every call the fault writers make.
const FaultDeadline = 2 * time.Second

// MaxRecovery is how soon after the server answers again the writers must
// be acknowledged again.
const MaxRecovery = 5 * time.Second

// testenvWait polls cond every 20 ms until it holds, failing t after within.
func testenvWait(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answers is the wait condition of one probe call. A new client's first
// write is several calls (DynamoDB: find the table, then write; after a
// restart, create the table, its time to live and its backups), more than
// one writer's deadline allows a server still working through the
// requests queued while it was stopped, so each call gets 30 s; the
// moment one succeeds is what counts. A probe the library refuses as
// invalid can never succeed, and fails t at once: the fault tests once
// wrote time.Now().UnixNano(), an integer float64 holds exactly about
// once in 256 calls, and read the retries as a server slow to come back
// (up to 240 s on a loaded machine).
func answers(t *testing.T, probe func(context.Context) error) func() bool {
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := probe(ctx)
		if errors.Is(err, dbservice.ErrInvalid) {
			t.Fatalf("the probe's write is refused as invalid: %v", err)
		}
		return err == nil
	}
}

// FaultResult is what FaultIncrements measured.
type FaultResult struct {
	Acked     int           // increments acknowledged in the final epoch
	Ambiguous int           // IfRev writes of the final epoch that timed out or were unavailable
	Final     int           // the counter at the end
	Recovery  time.Duration // from the server answering again to the next acknowledged increment
	Errors    int           // typed failures seen (ErrUnavailable or a context error)
}

// FaultIncrements runs eight writers doing IfRev increments of one counter,
// every call under a FaultDeadline deadline, while fault disturbs the
// server. fault returns once the server is back (after SIGCONT, or after a
// restart); the server answers again when probe succeeds. probe should
// write through a client of its own (a new Service's Save to a collection
// of the probe's), not through s: recovery is then measured from the moment
// the server serves writes again, so a restarted server's own warm-up (a
// JVM's first calls) does not count, while whatever s itself still waits on
// (retry backoff, connections to the old process, a reconnect delay, its
// cached state) does. The run starts once probe succeeds, so a server just
// started is warm. When the restart lost the data (an in-memory server),
// lost must be true: the writers then re-create the counter with IfAbsent
// in a new epoch (a field of the document), and the checks apply to that
// epoch, the only one whose data still exists.
//
// It fails t unless: every error is ErrUnavailable, ErrConflict (retried)
// or a context error; the final count is at least the acknowledged
// increments (no lost update) and at most those plus the ambiguous ones
// (no phantom beyond writes whose outcome the caller could not know); and
// an increment is acknowledged within MaxRecovery of fault returning.
func FaultIncrements(t *testing.T, s dbservice.Service, fault func(), lost bool, probe func(context.Context) error) FaultResult {
	t.Helper()
	coll := Collection(t)
	// The same bound as after the fault, for a server just started on a
	// loaded 2-core machine (make test runs every package at once).
	testenvWait(t, 240*time.Second, "the server to answer the probe", answers(t, probe))
	mustSave(t, s, coll, "counter", dbservice.Doc{"n": 0, "epoch": 0})
	const workers = 8
	var (
		epoch     atomic.Int64 // the epoch checked at the end: 1 after a data loss
		stop      atomic.Bool
		recovered atomic.Int64 // unix nanos of the first ack after fault returned
		answering atomic.Int64 // unix nanos fault returned
		mu        sync.Mutex
		acked     = map[int]int{} // per epoch
		ambiguous = map[int]int{}
		typedErrs int
		untyped   []string
	)
	call := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), FaultDeadline)
	}
	typed := func(err error) bool {
		return errors.Is(err, dbservice.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	}
	// note records a failure; the writer then pauses as a retrying client
	// would, instead of spinning against a dead port.
	note := func(err error) {
		defer time.Sleep(50 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if typed(err) {
			typedErrs++
		} else if len(untyped) < 5 {
			untyped = append(untyped, err.Error())
		}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for !stop.Load() {
				ctx, cancel := call()
				d, err := s.Get(ctx, coll, "counter")
				cancel()
				if errors.Is(err, dbservice.ErrNotFound) && lost {
					// Only the restart loses data, so a re-created
					// counter is always of epoch 1.
					ctx, cancel := call()
					_, err = s.Save(ctx, coll, "counter", dbservice.Doc{"n": 0, "epoch": 1}, dbservice.IfAbsent())
					cancel()
					if err != nil && !errors.Is(err, dbservice.ErrConflict) && !errors.Is(err, dbservice.ErrNotFound) {
						note(err)
					}
					continue
				}
				if err != nil {
					note(err)
					continue
				}
				n, _ := d["n"].(float64)
				ep, _ := d["epoch"].(float64)
				rev, _ := d["_rev"].(string)
				ctx, cancel = call()
				_, err = s.Save(ctx, coll, "counter", dbservice.Doc{"n": n + 1, "epoch": ep}, dbservice.IfRev(rev))
				cancel()
				switch {
				case err == nil:
					mu.Lock()
					acked[int(ep)]++
					mu.Unlock()
					if a := answering.Load(); a != 0 {
						recovered.CompareAndSwap(0, time.Now().UnixNano())
					}
				case errors.Is(err, dbservice.ErrConflict):
				case errors.Is(err, dbservice.ErrNotFound) && lost:
					// The restarted server lost the counter (or its table).
				default:
					note(err)
					if typed(err) {
						mu.Lock()
						ambiguous[int(ep)]++
						mu.Unlock()
					}
				}
			}
		})
	}
	// waitAcks waits until the checked epoch has min acknowledgements.
	waitAcks := func(min int, within time.Duration) {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := acked[int(epoch.Load())]
			mu.Unlock()
			if n >= min {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAcks(20, 30*time.Second) // the writers are going
	fault()
	if lost {
		epoch.Store(1)
	}
	// The server answers again when the probe's own client is answered: a
	// restarted JVM-based emulator opens its port well before it serves.
	faultEnd := time.Now()
	testenvWait(t, 240*time.Second, "the server to answer the probe again", answers(t, probe))
	answering.Store(time.Now().UnixNano())
	pingAfter := time.Since(faultEnd)
	// Let the writers run on until they have been acknowledged again, and
	// a little more, bounded.
	deadline := time.Now().Add(MaxRecovery + 10*time.Second)
	for recovered.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if recovered.Load() != 0 {
		mu.Lock()
		base := acked[int(epoch.Load())]
		mu.Unlock()
		waitAcks(base+10, 10*time.Second)
	}
	stop.Store(true)
	wg.Wait()

	res := FaultResult{Errors: typedErrs}
	last := int(epoch.Load())
	res.Acked, res.Ambiguous = acked[last], ambiguous[last]
	if r := recovered.Load(); r != 0 {
		res.Recovery = time.Duration(r - answering.Load())
	}
	for _, u := range untyped {
		t.Errorf("an error neither ErrUnavailable nor a context error: %s", u)
	}
	if recovered.Load() == 0 {
		t.Fatalf("no increment was acknowledged within %v of the server answering again", MaxRecovery+10*time.Second)
	}
	if res.Recovery > MaxRecovery {
		t.Errorf("the first increment after the server answered again took %v, want at most %v", res.Recovery, MaxRecovery)
	}
	d, err := s.Get(context.Background(), coll, "counter")
	if err != nil {
		t.Fatalf("reading the counter at the end: %v", err)
	}
	if ep, _ := d["epoch"].(float64); int(ep) != last {
		t.Fatalf("the counter is of epoch %v, want %d", d["epoch"], last)
	}
	n, _ := d["n"].(float64)
	res.Final = int(n)
	if res.Final < res.Acked {
		t.Errorf("counter = %d after %d acknowledged increments: updates were lost", res.Final, res.Acked)
	}
	if res.Final > res.Acked+res.Ambiguous {
		t.Errorf("counter = %d, more than %d acknowledged + %d ambiguous increments: a phantom update", res.Final, res.Acked, res.Ambiguous)
	}
	t.Logf("acknowledged %d, ambiguous %d, final %d, typed errors %d, server answering %v after the fault ended, recovery %v after that", res.Acked, res.Ambiguous, res.Final, res.Errors, pingAfter.Round(time.Millisecond), res.Recovery.Round(time.Millisecond))
	return res
}
