package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

func manyFields(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"f%d":%d`, i, i)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"id-%d"`, i)
	}
	return `{"ids":[` + strings.Join(ids, ",") + `]}`
}

// A merge patch (RFC 7396) changes exactly what it names: null removes,
// objects merge member by member, arrays and scalars replace; the rest of
// the document stays as it was.
func TestAPIPatchAppliesAMergePatch(t *testing.T) {
	a := newTestAPI(t)
	orig := dbservice.Doc{
		"name": "gofannon", "runs": 3.0, "tags": []any{"a", "b"}, "note": "drop me",
		"owner":  map[string]any{"id": "u1", "team": "core", "contact": map[string]any{"mail": "x@example.org"}},
		"config": map[string]any{"model": "m1"},
	}
	if _, err := a.raw.Save(context.Background(), "agents", "a1", orig); err != nil {
		t.Fatal(err)
	}
	resp, body := a.do(t, req{method: "PATCH", path: "/v1/agents/a1", header: map[string]string{"Content-Type": mergePatchType},
		body: `{"runs":4,"note":null,"tags":["c"],"owner":{"team":"infra","contact":{"mail":null,"chat":"@g"}},"new":{"deep":{"x":true}},"config":{},"absent":null}`})
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	var ack map[string]string
	if err := json.Unmarshal(body, &ack); err != nil || ack["_id"] != "a1" || `"`+ack["_rev"]+`"` != resp.Header.Get("ETag") {
		t.Fatalf("PATCH answer %s, ETag %s", body, resp.Header.Get("ETag"))
	}
	got, err := a.raw.Get(context.Background(), "agents", "a1")
	if err != nil {
		t.Fatal(err)
	}
	delete(got, "_id")
	delete(got, "_rev")
	want := dbservice.Doc{
		"name": "gofannon", "runs": 4.0, "tags": []any{"c"},
		"owner":  map[string]any{"id": "u1", "team": "infra", "contact": map[string]any{"chat": "@g"}},
		"new":    map[string]any{"deep": map[string]any{"x": true}},
		"config": map[string]any{"model": "m1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after PATCH:\n got  %v\n want %v", got, want)
	}

	// If-Match with the current ETag applies; the old one is 412 and
	// writes nothing.
	etag := resp.Header.Get("ETag")
	resp, body = a.do(t, req{method: "PATCH", path: "/v1/agents/a1", body: `{"runs":5}`, header: map[string]string{"If-Match": etag}})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("PATCH with the current ETag: %d %s", resp.StatusCode, body)
	}
	resp, body = a.do(t, req{method: "PATCH", path: "/v1/agents/a1", body: `{"runs":99}`, header: map[string]string{"If-Match": etag}})
	if resp.StatusCode != http.StatusPreconditionFailed || !strings.Contains(string(body), `"kind":"conflict"`) {
		t.Errorf("PATCH with a stale ETag: %d %s, want 412", resp.StatusCode, body)
	}
	if d, _ := a.raw.Get(context.Background(), "agents", "a1"); d["runs"] != 5.0 {
		t.Errorf("runs = %v after the refused PATCH, want 5", d["runs"])
	}
	// An empty patch changes nothing and answers the current revision.
	cur, _ := a.raw.Get(context.Background(), "agents", "a1")
	resp, _ = a.do(t, req{method: "PATCH", path: "/v1/agents/a1", body: `{}`})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+cur["_rev"].(string)+`"` {
		t.Errorf("empty PATCH: %d, ETag %s, want 200 with %s", resp.StatusCode, resp.Header.Get("ETag"), cur["_rev"])
	}
}

// Concurrent PATCHes without If-Match are each atomic: none loses the
// field another one wrote.
func TestAPIConcurrentPatchesLoseNoField(t *testing.T) {
	a := newTestAPI(t)
	if _, err := a.raw.Save(context.Background(), "agents", "a1", dbservice.Doc{"name": "x"}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make(chan string, n)
	for i := range n {
		go func() {
			resp, body := a.do(t, req{method: "PATCH", path: "/v1/agents/a1", body: fmt.Sprintf(`{"fields":{"f%d":%d}}`, i, i)})
			if resp.StatusCode != 200 {
				errs <- fmt.Sprintf("PATCH %d: %d %s", i, resp.StatusCode, body)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	d, _ := a.raw.Get(context.Background(), "agents", "a1")
	if f, _ := d["fields"].(map[string]any); len(f) != n {
		t.Errorf("fields after %d concurrent PATCHes: %v", n, d["fields"])
	}
}

func TestAPIBatchGetAndDelete(t *testing.T) {
	a := newTestAPI(t)
	for _, id := range []string{"a1", "a2", "a3"} {
		if _, err := a.raw.Save(context.Background(), "agents", id, dbservice.Doc{"name": "agent " + id}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := a.do(t, req{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":["a3","nobody","a1"]}`})
	if resp.StatusCode != 200 {
		t.Fatalf("batchGet: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Docs    []map[string]any `json:"docs"`
		Missing []string         `json:"missing"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Docs) != 2 || out.Docs[0]["_id"] != "a3" || out.Docs[1]["_id"] != "a1" || out.Docs[0]["name"] != "agent a3" ||
		!reflect.DeepEqual(out.Missing, []string{"nobody"}) {
		t.Errorf("batchGet = %s, want a3 and a1 in that order, nobody missing", body)
	}
	// Audited once, as one get-many.
	if logs := a.logs.String(); !strings.Contains(logs, `"op":"get-many"`) {
		t.Errorf("no get-many audit record:\n%s", logs)
	}

	resp, body = a.do(t, req{method: "POST", path: "/v1/agents:batchDelete", body: `{"ids":["a1","a2","nobody"]}`})
	if resp.StatusCode != 204 {
		t.Fatalf("batchDelete: %d %s", resp.StatusCode, body)
	}
	resp, body = a.do(t, req{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":["a1","a2","a3"]}`})
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 || len(out.Docs) != 1 || out.Docs[0]["_id"] != "a3" {
		t.Errorf("after batchDelete: %d %s", resp.StatusCode, body)
	}
}

// Sessions are stored with dbservice.TTL: the stored document carries its
// expiry, sessionTTL after its creation, and the store's own rule
// (dbservice.Expired) treats it as gone from that instant.
func TestAPISessionsExpire(t *testing.T) {
	a := newTestAPI(t)
	before := time.Now()
	resp, body := a.do(t, req{method: "POST", path: "/v1/sessions"})
	after := time.Now()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /v1/sessions: %d %s", resp.StatusCode, body)
	}
	var s map[string]any
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	id, _ := s["_id"].(string)
	if len(id) != 32 || resp.Header.Get("Location") != "/v1/sessions/"+id {
		t.Fatalf("session id %q, Location %q", id, resp.Header.Get("Location"))
	}
	stored, err := a.raw.Get(context.Background(), "sessions", id)
	if err != nil {
		t.Fatal(err)
	}
	if stored["principal"] != "alice" || stored[dbservice.ExpiresField] != s[dbservice.ExpiresField] {
		t.Errorf("stored session %v, answer %s", stored, body)
	}
	exp, err := time.Parse(validate.TimeLayout, stored[dbservice.ExpiresField].(string))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := before.Add(sessionLifetime).Add(-time.Microsecond), after.Add(sessionLifetime)
	if exp.Before(lo) || exp.After(hi) {
		t.Errorf("expires %v, want between %v and %v", exp, lo, hi)
	}
	if dbservice.Expired(stored, exp.Add(-time.Microsecond)) || !dbservice.Expired(stored, exp) {
		t.Errorf("the session is not expired exactly from %v", exp)
	}
	// Readable through the API until then; DELETE is the logout.
	if resp, body := a.do(t, req{method: "GET", path: "/v1/sessions/" + id}); resp.StatusCode != 200 || !strings.Contains(string(body), `"_expires"`) {
		t.Errorf("GET session: %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.do(t, req{method: "DELETE", path: "/v1/sessions/" + id}); resp.StatusCode != 204 {
		t.Errorf("DELETE session: %d", resp.StatusCode)
	}
}

// A request whose client went away is answered 499, logged as no server
// error, and writes nothing, whatever the method.
func TestAPICancelledRequestIsNot500(t *testing.T) {
	a := newTestAPI(t)
	if _, err := a.raw.Save(context.Background(), "agents", "a1", dbservice.Doc{"runs": 1.0}); err != nil {
		t.Fatal(err)
	}
	h := a.srv.Config.Handler
	before := a.snapshot(t)
	for _, r := range []req{
		{method: "PUT", path: "/v1/agents/a1", body: `{"runs":2}`},
		{method: "PATCH", path: "/v1/agents/a1", body: `{"runs":3}`},
		{method: "DELETE", path: "/v1/agents/a1"},
		{method: "POST", path: "/v1/agents:batchDelete", body: `{"ids":["a1"]}`},
		{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":["a1"]}`},
		{method: "GET", path: "/v1/agents/a1"},
		{method: "POST", path: "/v1/sessions"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		hr := httptest.NewRequestWithContext(ctx, r.method, r.path, strings.NewReader(r.body))
		hr.Header.Set("Authorization", "Bearer "+a.token)
		if r.body != "" {
			hr.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, hr)
		if rec.Code != dbservice.StatusClientClosedRequest {
			t.Errorf("%s %s with a cancelled context: %d %s, want 499", r.method, r.path, rec.Code, rec.Body)
		}
	}
	if after := a.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Errorf("cancelled requests changed the store:\nbefore %v\nafter  %v", before, after)
	}
	// The request records are no errors and no "request failed" record
	// is written (Guard's audit records the call's outcome on its own).
	for line := range strings.SplitSeq(strings.TrimSpace(a.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "request failed" || (rec["msg"] == "http request" && rec["level"] != "INFO") {
			t.Errorf("a cancelled request was logged as a server error: %s", line)
		}
	}
}
