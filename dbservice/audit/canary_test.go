package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/audit"
	"github.com/securedb-go/securedb/dbservice/memory"
)

const canary = "CANARY-5e1f0a-never-in-the-trail"

func TestNoDocumentValueOrCredentialReachesTheTrail(t *testing.T) {
	skey, vkey, err := note.GenerateKey(nil, keyName)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	privatePart := strings.SplitN(skey, "+", 5)[4] // PRIVATE+KEY+name+hash+key
	var buf bytes.Buffer
	var errs []string
	opts := audit.Options{Signer: signer, OnError: func(err error) { errs = append(errs, err.Error()) }}
	s := audit.New(&buf, opts)
	db := dbservice.Guard(memory.New(), dbservice.Policy{AuditTrail: s})
	ctx := context.Background()
	// A token in the principal, as a caller might put there by mistake.
	tokenCtx := dbservice.WithPrincipal(ctx, "password="+canary)
	calls := []func() error{
		func() error {
			_, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"secret": canary, "nested": map[string]any{"v": canary}})
			return err
		},
		func() error { _, err := db.Get(tokenCtx, "agents", "a1"); return err },
		func() error {
			_, err := db.Query(ctx, "agents", dbservice.Query{Where: []dbservice.Cond{{Field: "secret", Op: dbservice.Eq, Value: canary}}})
			return err
		},
		func() error { _, err := db.Save(ctx, "agents", "a2", dbservice.Doc{"$where": canary}); return err },
	}
	for _, call := range calls {
		if err := call(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	// A refused ID is recorded as "(refused)"; its error quotes an excerpt
	// of the ID (the caller's own identifier, not a value), so it is left
	// out of the error check.
	if _, err := db.Save(ctx, "agents", "bad id "+canary, dbservice.Doc{}); err == nil {
		t.Fatal("a bad ID was accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(bytes.NewReader(buf.Bytes()), vkey); err != nil || rep.Records != int64(len(calls)+1) {
		t.Fatalf("Verify = %v, %v", rep, err)
	}
	// Every way the sink and its options might be printed.
	var printed []string
	for _, v := range []any{opts, &opts, s, signer} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
			printed = append(printed, fmt.Sprintf(verb, v))
		}
		b, _ := json.Marshal(v)
		printed = append(printed, string(b))
		var lb bytes.Buffer
		slog.New(slog.NewJSONHandler(&lb, nil)).Info("x", "v", v)
		printed = append(printed, lb.String())
	}
	outputs := map[string]string{"trail": buf.String(), "errors": strings.Join(errs, "\n"), "printed": strings.Join(printed, "\n")}
	for where, out := range outputs {
		for _, leak := range []string{canary, privatePart} {
			if strings.Contains(out, leak) {
				t.Errorf("%s holds a canary %q:\n%s", where, leak[:12], out)
			}
		}
	}
	// The masked principal still shows that someone acted.
	if !strings.Contains(buf.String(), `"principal":"password=`) {
		t.Errorf("the masked principal is gone from the trail:\n%s", buf.String())
	}
}

func TestVerifyErrorsNeverQuoteALine(t *testing.T) {
	signer, vkey := newKey(t)
	trail := writeTrail(t, 3, audit.Options{Signer: signer})
	mutated := bytes.Replace(trail, []byte(`"principal":"svc-1"`), []byte(`"principal":"`+canary+`"`), 1)
	mutated = bytes.Replace(mutated, []byte(`"op":"save"`), []byte(`"op":"save","x":"`+canary+`"`), 1)
	_, err := audit.Verify(bytes.NewReader(mutated), vkey)
	if !errors.Is(err, audit.ErrTampered) || strings.Contains(err.Error(), canary) {
		t.Fatalf("Verify = %v; want a break that does not quote the line", err)
	}
}
