package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/memory"
	"github.com/securedb-go/securedb/masking"
)

// canary is planted in hostile input; no response or log may repeat it.
const canary = "CANARY-91d2"

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

type testAPI struct {
	srv   *httptest.Server
	raw   *memory.Service // under Guard, to inspect the store directly
	auth  *tokenAuth
	logs  *syncBuffer
	token string // alice's
}

func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(masking.NewHandler(slog.NewJSONHandler(logs, nil), nil))
	raw := memory.New()
	db := dbservice.Guard(raw, dbservice.Policy{Collections: guideCollections, Audit: log, RequireIndex: true})
	if err := ensureIndexes(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	auth, err := newTokenAuth([]byte("test-signing-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	token, _ := auth.mint("alice")
	srv := httptest.NewServer(newAPI(db, auth, log))
	t.Cleanup(srv.Close)
	return &testAPI{srv: srv, raw: raw, auth: auth, logs: logs, token: token}
}

type req struct {
	method, path, body string
	header             map[string]string
	noAuth             bool
}

// do sends r with alice's token and JSON content type unless r overrides
// them, and returns the response with its body read.
func (a *testAPI) do(t *testing.T, r req) (*http.Response, []byte) {
	t.Helper()
	hr, err := http.NewRequest(r.method, a.srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("building %s %s: %v", r.method, r.path, err)
	}
	if !r.noAuth {
		hr.Header.Set("Authorization", "Bearer "+a.token)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := a.srv.Client().Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// snapshot returns every stored document of the guide's collections.
func (a *testAPI) snapshot(t *testing.T) map[string]dbservice.Doc {
	t.Helper()
	out := map[string]dbservice.Doc{}
	for _, c := range append(slices.Clone(guideCollections), "secrets") {
		for d, err := range dbservice.All(context.Background(), a.raw, c, dbservice.Query{}) {
			if err != nil {
				t.Fatal(err)
			}
			out[c+"/"+d["_id"].(string)] = d
		}
	}
	return out
}

func TestAPIRefusesHostileRequests(t *testing.T) {
	a := newTestAPI(t)
	if _, err := a.raw.Save(context.Background(), "agents", "a1", dbservice.Doc{"name": "gofannon", "runs": 1}); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := newTokenAuth([]byte("another-signing-key-0123456789abc"))
	forged, _ := otherKey.mint("alice")
	aliceSig := a.token[strings.LastIndex(a.token, ".")+1:]
	big := `{"v":"` + canary + strings.Repeat("x", 300<<10) + `"}`
	goodCursor := listCursor(t, a)

	cases := []struct {
		name string
		req  req
		want int
	}{
		// Authentication.
		{"a request without a token", req{method: "GET", path: "/v1/agents/a1", noAuth: true}, 401},
		{"a Basic credential", req{method: "GET", path: "/v1/agents/a1", header: map[string]string{"Authorization": "Basic YWxpY2U6" + canary}}, 401},
		{"a token signed with another key", req{method: "GET", path: "/v1/agents/a1", header: map[string]string{"Authorization": "Bearer " + forged}}, 401},
		{"alice's signature on another principal", req{method: "PUT", path: "/v1/agents/a1", body: `{"x":1}`, header: map[string]string{"Authorization": "Bearer sdb1.admin." + aliceSig}}, 401},
		{"a garbage token", req{method: "GET", path: "/v1/agents/a1", header: map[string]string{"Authorization": "Bearer " + canary}}, 401},
		{"an unauthenticated write to an unknown route", req{method: "PUT", path: "/v2/x", body: `{}`, noAuth: true}, 401},
		// IDs and collections.
		{"a path traversal id", req{method: "PUT", path: "/v1/agents/..%2F..%2F" + canary, body: `{"x":1}`}, 400},
		{"a reserved id", req{method: "PUT", path: "/v1/agents/__" + canary + "__", body: `{"x":1}`}, 400},
		{"an id with a NUL byte", req{method: "GET", path: "/v1/agents/a%00" + canary}, 400},
		{"an id of 101 bytes", req{method: "PUT", path: "/v1/agents/" + strings.Repeat("a", 101), body: `{"x":1}`}, 400},
		{"a collection outside the allowlist", req{method: "PUT", path: "/v1/secrets/s1", body: `{"x":1}`}, 400},
		{"a dot-segment path", req{method: "DELETE", path: "/v1/agents/../../etc/passwd"}, 404},
		// Operator injection.
		{"a $where key in the body", req{method: "PUT", path: "/v1/agents/a1", body: `{"$where":"` + canary + `"}`}, 400},
		{"a nested $gt key in the body", req{method: "PUT", path: "/v1/agents/a1", body: `{"owner":{"$gt":"` + canary + `"}}`}, 400},
		{"a $where operator in where", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`name:$where:"`+canary+`"`)}, 400},
		{"an object value in where", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`name:eq:{"$gt":"`+canary+`"}`)}, 400},
		{"a $-prefixed field in where", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`$where:eq:"`+canary+`"`)}, 400},
		{"an unknown query parameter", req{method: "GET", path: "/v1/agents?$where=" + canary}, 400},
		{"a bare word value", req{method: "GET", path: "/v1/agents?where=name:eq:" + canary}, 400},
		{"a list value for eq", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`name:eq:["`+canary+`"]`)}, 400},
		{"a where without value", req{method: "GET", path: "/v1/agents?where=name:eq"}, 400},
		{"an upper-case operator", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`name:EQ:"x"`)}, 400},
		{"a system field in where", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`_rev:eq:"x"`)}, 400},
		{"a malformed query string", req{method: "GET", path: "/v1/agents?where=%zz" + canary}, 400},
		{"a filter no index serves", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`name:eq:"x"`)}, 400},
		// Bodies.
		{"an oversize body", req{method: "PUT", path: "/v1/agents/a1", body: big}, 413},
		{"a body that is not JSON", req{method: "PUT", path: "/v1/agents/a1", body: `{"v":"` + canary}, 400},
		{"an array body", req{method: "PUT", path: "/v1/agents/a1", body: `["` + canary + `"]`}, 400},
		{"a null body", req{method: "PUT", path: "/v1/agents/a1", body: `null`}, 400},
		{"two JSON objects", req{method: "PUT", path: "/v1/agents/a1", body: `{"a":1}{"b":"` + canary + `"}`}, 400},
		{"a form body", req{method: "PUT", path: "/v1/agents/a1", body: `v=` + canary, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415},
		{"an integer beyond 2^53", req{method: "PUT", path: "/v1/agents/a1", body: `{"n":9007199254740993,"c":"` + canary + `"}`}, 400},
		// Cursors and limits.
		{"a made-up cursor", req{method: "GET", path: "/v1/agents?cursor=" + canary}, 400},
		{"a cursor with foreign characters", req{method: "GET", path: "/v1/agents?cursor=" + url.QueryEscape("../"+canary)}, 400},
		{"a cursor of another query", req{method: "GET", path: "/v1/agents?where=" + url.QueryEscape(`runs:gte:0`) + "&cursor=" + goodCursor}, 400},
		{"a cursor of another collection", req{method: "GET", path: "/v1/users?cursor=" + goodCursor}, 400},
		{"a limit beyond 1000", req{method: "GET", path: "/v1/agents?limit=5000"}, 400},
		{"a negative limit", req{method: "GET", path: "/v1/agents?limit=-1"}, 400},
		{"a repeated limit", req{method: "GET", path: "/v1/agents?limit=1&limit=2"}, 400},
		// Conditional headers.
		{"a malformed If-Match", req{method: "PUT", path: "/v1/agents/a1", body: `{"x":1}`, header: map[string]string{"If-Match": canary}}, 400},
		{"a weak If-Match", req{method: "PUT", path: "/v1/agents/a1", body: `{"x":1}`, header: map[string]string{"If-Match": `W/"1-1"`}}, 400},
		{"If-Match with If-None-Match", req{method: "PUT", path: "/v1/agents/a1", body: `{"x":1}`, header: map[string]string{"If-Match": `"1-1"`, "If-None-Match": "*"}}, 400},
		{"If-None-Match with a tag on PUT", req{method: "PUT", path: "/v1/agents/a1", body: `{"x":1}`, header: map[string]string{"If-None-Match": `"1-1"`}}, 400},
		{"a stale If-Match", req{method: "PUT", path: "/v1/agents/a1", body: `{"x":"` + canary + `"}`, header: map[string]string{"If-Match": `"9-zz"`}}, 412},
		{"If-None-Match: * on an existing document", req{method: "PUT", path: "/v1/agents/a1", body: `{"x":1}`, header: map[string]string{"If-None-Match": "*"}}, 412},
		{"a stale If-Match on DELETE", req{method: "DELETE", path: "/v1/agents/a1", header: map[string]string{"If-Match": `"9-zz"`}}, 412},
		{"a stale If-Match on PATCH", req{method: "PATCH", path: "/v1/agents/a1", body: `{"x":"` + canary + `"}`, header: map[string]string{"If-Match": `"9-zz"`}}, 412},
		{"a stale If-Match on an empty PATCH", req{method: "PATCH", path: "/v1/agents/a1", body: `{}`, header: map[string]string{"If-Match": `"9-zz"`}}, 412},
		{"If-None-Match on PATCH", req{method: "PATCH", path: "/v1/agents/a1", body: `{"x":1}`, header: map[string]string{"If-None-Match": "*"}}, 400},
		// Merge patches.
		{"a $where key in a patch", req{method: "PATCH", path: "/v1/agents/a1", body: `{"$where":"` + canary + `"}`}, 400},
		{"a nested $gt key in a patch", req{method: "PATCH", path: "/v1/agents/a1", body: `{"owner":{"$gt":"` + canary + `"}}`}, 400},
		{"an operator in a patched array", req{method: "PATCH", path: "/v1/agents/a1", body: `{"tags":[{"$ne":"` + canary + `"}]}`}, 400},
		{"a dotted key in a patch", req{method: "PATCH", path: "/v1/agents/a1", body: `{"owner.id":"` + canary + `"}`}, 400},
		{"a system field in a patch", req{method: "PATCH", path: "/v1/agents/a1", body: `{"_rev":"` + canary + `"}`}, 400},
		{"unsetting _id in a patch", req{method: "PATCH", path: "/v1/agents/a1", body: `{"_id":null}`}, 400},
		{"a patch through a string", req{method: "PATCH", path: "/v1/agents/a1", body: `{"name":{"first":"` + canary + `"}}`}, 400},
		{"a patch nested 11 deep", req{method: "PATCH", path: "/v1/agents/a1", body: strings.Repeat(`{"a":`, 11) + `1` + strings.Repeat(`}`, 11)}, 400},
		{"a patch of 101 fields", req{method: "PATCH", path: "/v1/agents/a1", body: manyFields(101)}, 400},
		{"an integer beyond 2^53 in a patch", req{method: "PATCH", path: "/v1/agents/a1", body: `{"n":9007199254740993}`}, 400},
		{"a patch body that is an array", req{method: "PATCH", path: "/v1/agents/a1", body: `[{"op":"replace","path":"/x","value":"` + canary + `"}]`}, 400},
		{"a JSON Patch media type", req{method: "PATCH", path: "/v1/agents/a1", body: `[]`, header: map[string]string{"Content-Type": "application/json-patch+json"}}, 415},
		{"an oversize patch", req{method: "PATCH", path: "/v1/agents/a1", body: big}, 413},
		{"a patch of a missing document", req{method: "PATCH", path: "/v1/agents/nobody", body: `{"x":"` + canary + `"}`}, 404},
		{"a patch outside the allowlist", req{method: "PATCH", path: "/v1/secrets/s1", body: `{"x":1}`}, 400},
		// Batches.
		{"a batchGet with a traversal id", req{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":["a1","../` + canary + `"]}`}, 400},
		{"a batchGet with an id twice", req{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":["a1","a1"]}`}, 400},
		{"a batchGet of 1001 ids", req{method: "POST", path: "/v1/agents:batchGet", body: manyIDs(1001)}, 400},
		{"a batchGet without ids", req{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":[]}`}, 400},
		{"a batchGet with a number id", req{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":[1]}`}, 400},
		{"a batchGet with an extra member", req{method: "POST", path: "/v1/agents:batchGet", body: `{"ids":["a1"],"where":"` + canary + `"}`}, 400},
		{"a batchGet outside the allowlist", req{method: "POST", path: "/v1/secrets:batchGet", body: `{"ids":["a1"]}`}, 400},
		{"a batchDelete with one bad id", req{method: "POST", path: "/v1/agents:batchDelete", body: `{"ids":["a1","a0","__` + canary + `__"]}`}, 400},
		{"an unknown custom method", req{method: "POST", path: "/v1/agents:drop", body: `{}`}, 404},
		{"a POST to a collection", req{method: "POST", path: "/v1/agents", body: `{"x":1}`}, 405},
		{"a session with a body", req{method: "POST", path: "/v1/sessions", body: `{"principal":"` + canary + `"}`}, 400},
		// Routes.
		{"an unknown route", req{method: "GET", path: "/v2/agents/a1"}, 404},
		{"a POST", req{method: "POST", path: "/v1/agents/a1", body: `{"x":1}`}, 405},
	}
	before := a.snapshot(t)
	for _, tc := range cases {
		t.Run("it answers "+strconv.Itoa(tc.want)+" to "+tc.name, func(t *testing.T) {
			resp, body := a.do(t, tc.req)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p problem
			if err := json.Unmarshal(body, &p); err != nil || p.Status != tc.want || p.Type != "about:blank" || p.Title != http.StatusText(tc.want) || p.Detail == "" {
				t.Errorf("body is not a problem for %d: %s", tc.want, body)
			}
			if strings.Contains(string(body), canary) || len(body) > 512 {
				t.Errorf("the problem echoes the request: %s", body)
			}
			if tc.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if after := a.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Errorf("hostile requests changed the store:\nbefore %v\nafter  %v", before, after)
	}
	if logs := a.logs.String(); strings.Contains(logs, canary) || strings.Contains(logs, aliceSig) {
		t.Error("the logs repeat hostile input or a token")
	}
}

// listCursor returns a valid cursor of GET /v1/agents?limit=1.
func listCursor(t *testing.T, a *testAPI) string {
	t.Helper()
	_, _ = a.raw.Save(context.Background(), "agents", "a0", dbservice.Doc{"runs": 0})
	resp, body := a.do(t, req{method: "GET", path: "/v1/agents?limit=1"})
	var page struct{ Next string }
	if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != 200 || page.Next == "" {
		t.Fatalf("no cursor: %d %s", resp.StatusCode, body)
	}
	return page.Next
}

func TestAPIConditionalWrites(t *testing.T) {
	a := newTestAPI(t)
	put := func(body string, h map[string]string) (*http.Response, []byte) {
		return a.do(t, req{method: "PUT", path: "/v1/agents/a1", body: body, header: h})
	}

	resp, body := put(`{"name":"gofannon","runs":1}`, map[string]string{"If-None-Match": "*"})
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/v1/agents/a1" {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	etag1 := resp.Header.Get("ETag")

	resp, body = a.do(t, req{method: "GET", path: "/v1/agents/a1"})
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag1 || doc["name"] != "gofannon" || doc["_id"] != "a1" {
		t.Fatalf("read: %d %s etag %s", resp.StatusCode, body, resp.Header.Get("ETag"))
	}

	if resp, _ := a.do(t, req{method: "GET", path: "/v1/agents/a1", header: map[string]string{"If-None-Match": etag1}}); resp.StatusCode != 304 {
		t.Errorf("GET with the current ETag in If-None-Match: %d, want 304", resp.StatusCode)
	}

	resp, _ = put(`{"name":"gofannon","runs":2}`, map[string]string{"If-Match": etag1})
	etag2 := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag2 == etag1 {
		t.Fatalf("update with the current ETag: %d, etag %s", resp.StatusCode, etag2)
	}
	if resp, _ := put(`{"runs":99}`, map[string]string{"If-Match": etag1}); resp.StatusCode != 412 {
		t.Errorf("update with a stale ETag: %d, want 412", resp.StatusCode)
	}
	if resp, _ := a.do(t, req{method: "DELETE", path: "/v1/agents/a1", header: map[string]string{"If-Match": etag1}}); resp.StatusCode != 412 {
		t.Errorf("delete with a stale ETag: %d, want 412", resp.StatusCode)
	}
	if resp, _ := a.do(t, req{method: "DELETE", path: "/v1/agents/a1", header: map[string]string{"If-Match": etag2}}); resp.StatusCode != 204 {
		t.Errorf("delete with the current ETag: %d, want 204", resp.StatusCode)
	}
	if resp, body := a.do(t, req{method: "GET", path: "/v1/agents/a1"}); resp.StatusCode != 404 || !strings.Contains(string(body), `"kind":"not_found"`) {
		t.Errorf("read after delete: %d %s", resp.StatusCode, body)
	}
}

func TestAPIListsWithWhereAndCursors(t *testing.T) {
	a := newTestAPI(t)
	want := map[string]bool{}
	for i := range 25 {
		id := fmt.Sprintf("a%02d", i)
		doc := dbservice.Doc{"name": "agent " + id, "active": i%3 != 0, "runs": i, "owner": map[string]any{"id": "team-" + strconv.Itoa(i%2)}}
		if _, err := a.raw.Save(context.Background(), "agents", id, doc); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 && i >= 4 && i%2 == 0 {
			want[id] = true
		}
	}
	where := "where=" + url.QueryEscape("active:eq:true") + "&where=" + url.QueryEscape("runs:gte:4") +
		"&where=" + url.QueryEscape(`owner.id:in:["team-0"]`) + "&fields=name,runs&limit=3"
	got := map[string]int{}
	path := "/v1/agents?" + where
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		resp, body := a.do(t, req{method: "GET", path: path})
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		var page struct {
			Docs []map[string]any `json:"docs"`
			Next string           `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Docs {
			got[d["_id"].(string)]++
			if _, projected := d["owner"]; projected {
				t.Errorf("fields=name,runs returned owner: %v", d)
			}
		}
		if page.Next == "" {
			break
		}
		path = "/v1/agents?" + where + "&cursor=" + url.QueryEscape(page.Next)
	}
	if len(got) != len(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	for id, n := range got {
		if !want[id] || n != 1 {
			t.Errorf("%s listed %d times (wanted: %v)", id, n, want[id])
		}
	}
}

func TestAPIConcurrentIncrementsLoseNoUpdate(t *testing.T) {
	a := newTestAPI(t)
	if resp, body := a.do(t, req{method: "PUT", path: "/v1/agents/counter", body: `{"n":0}`}); resp.StatusCode != 200 {
		t.Fatalf("filling: %d %s", resp.StatusCode, body)
	}
	const workers, increments = 8, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for done := 0; done < increments; {
				resp, body := a.do(t, req{method: "GET", path: "/v1/agents/counter"})
				var doc struct{ N float64 }
				if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil {
					errs <- fmt.Errorf("read: %d %s", resp.StatusCode, body)
					return
				}
				resp, body = a.do(t, req{method: "PUT", path: "/v1/agents/counter",
					body: fmt.Sprintf(`{"n":%d}`, int(doc.N)+1), header: map[string]string{"If-Match": resp.Header.Get("ETag")}})
				switch resp.StatusCode {
				case 200:
					done++
				case 412:
					mu.Lock()
					conflicts++
					mu.Unlock()
				default:
					errs <- fmt.Errorf("write: %d %s", resp.StatusCode, body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d, err := a.raw.Get(context.Background(), "agents", "counter")
	if err != nil || d["n"] != float64(workers*increments) {
		t.Errorf("counter = %v (%v), want %d", d["n"], err, workers*increments)
	}
	t.Logf("%d stale writes refused with 412 and retried", conflicts)
}

func TestAPIAuditsThePrincipalAndLogsNoSecrets(t *testing.T) {
	a := newTestAPI(t)
	if resp, _ := a.do(t, req{method: "PUT", path: "/v1/agents/a1", body: `{"password":"` + canary + `"}`}); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var audit, request bool
	for line := range strings.SplitSeq(strings.TrimSpace(a.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch rec["msg"] {
		case "securedb.audit":
			audit = rec["op"] == "save" && rec["principal"] == "alice" && rec["collection"] == "agents" && rec["id"] == "a1" && rec["outcome"] == "ok"
		case "http request":
			request = rec["route"] == "PUT /v1/{collection}/{id}" && rec["status"] == 200.0 && rec["principal"] == "alice"
		}
	}
	if !audit || !request {
		t.Errorf("want an audit record and a request record naming alice:\n%s", a.logs.String())
	}
	if logs := a.logs.String(); strings.Contains(logs, canary) || strings.Contains(logs, a.token) {
		t.Errorf("logs hold document contents or the token:\n%s", logs)
	}
}
