package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
)

// signalWriter keeps what is written and says when a checkpoint line
// arrives.
type signalWriter struct {
	mu          sync.Mutex
	buf         bytes.Buffer
	checkpoints chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.HasPrefix(p, []byte(`{"checkpoint"`)) {
		w.checkpoints <- struct{}{}
	}
	return w.buf.Write(p)
}

func TestTheIntervalCheckpointsOnlyWhenRecordsWereAdded(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "interval.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	ticks := make(chan time.Time)
	w := &signalWriter{checkpoints: make(chan struct{}, 8)}
	s := newSink(w, Options{Signer: signer, CheckpointEvery: -1}, nil, ticks)
	rec := dbservice.AuditRecord{Op: "get", Collection: "agents", ID: "a1", Outcome: "ok"}
	for range 3 {
		if err := s.Append(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	ticks <- time.Now()
	<-w.checkpoints // the tick wrote a checkpoint of 3 records
	// A tick with nothing new writes none: the next checkpoint to arrive
	// is the one Close writes after record 4.
	ticks <- time.Now()
	if err := s.Append(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-w.checkpoints
	if n := len(w.checkpoints); n != 0 {
		t.Fatalf("%d more checkpoints than expected", n)
	}
	rep, err := Verify(bytes.NewReader(w.buf.Bytes()), vkey)
	if err != nil || !rep.Clean() || rep.Records != 4 || rep.Checkpoints != 2 {
		t.Fatalf("Verify = %v, %v; want 4 records under 2 checkpoints", rep, err)
	}
	if info := s.TrailInfo(); !info.Signed || info.SignerName != "interval.test" || info.CheckpointEvery != 0 || info.CheckpointInterval != DefaultCheckpointInterval {
		t.Errorf("TrailInfo = %+v", info)
	}
}
