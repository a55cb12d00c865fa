package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// maxBody bounds a request body: the largest document the default limits
// admit (256 KiB).
const maxBody = validate.DefaultMaxDocBytes

// api serves the JSON API over a (guarded) dbservice.Service.
type api struct {
	db   dbservice.Service
	auth *tokenAuth
	log  *slog.Logger
	// sessionTTL is how long a session lives (sessionLifetime).
	sessionTTL time.Duration
}

// newAPI returns the API's handler: authentication, then routing, with one
// request log record per request.
func newAPI(db dbservice.Service, auth *tokenAuth, log *slog.Logger) http.Handler {
	a := &api{db: db, auth: auth, log: log, sessionTTL: sessionLifetime}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/{collection}/{id}", a.get)
	mux.HandleFunc("PUT /v1/{collection}/{id}", a.put)
	mux.HandleFunc("PATCH /v1/{collection}/{id}", a.patch)
	mux.HandleFunc("DELETE /v1/{collection}/{id}", a.del)
	mux.HandleFunc("GET /v1/{collection}", a.list)
	// POST /v1/sessions creates a session; POST /v1/{collection}:batchGet
	// and :batchDelete are custom methods on the collection (the
	// {collection} segment holds the verb after ':').
	mux.HandleFunc("POST /v1/{collection}", a.post)
	mux.HandleFunc("/v1/{collection}/{id}", methodNotAllowed("GET, HEAD, PUT, PATCH, DELETE"))
	mux.HandleFunc("/v1/{collection}", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/", notFound)
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		infoOf(r.Context()).route = r.Pattern
	})
	return a.logRequests(a.authenticate(routed))
}

// reqInfo collects what the request log record needs from inner layers.
type reqInfo struct {
	principal, route string
}

type reqInfoKey struct{}

func infoOf(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// logRequests writes one record per request: method, route pattern (not
// the path, which holds IDs), status, principal and duration.
func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info)))
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		a.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("route", info.route), slog.Int("status", rec.status),
			slog.String("principal", info.principal), slog.Duration("duration", time.Since(start)))
	})
}

// authenticate admits requests with a valid bearer token and names their
// principal for audit records.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="securedb"`)
			writeProblem(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>")
			return
		}
		principal, err := a.auth.verify(token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="securedb", error="invalid_token"`)
			writeProblem(w, http.StatusUnauthorized, "unauthorized", "the bearer token is not valid")
			return
		}
		ctx := r.Context()
		infoOf(ctx).principal = principal
		next.ServeHTTP(w, r.WithContext(dbservice.WithPrincipal(ctx, principal)))
	})
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	doc, err := a.db.Get(r.Context(), r.PathValue("collection"), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rev, _ := doc["_rev"].(string)
	etag := `"` + rev + `"`
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	opts, create, err := writeConditions(r, true)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	doc, err := readDoc(w, r, "application/json")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	coll, id := r.PathValue("collection"), r.PathValue("id")
	rev, err := a.db.Save(r.Context(), coll, id, doc, opts...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `"`+rev+`"`)
	status := http.StatusOK
	if create {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/"+coll+"/"+id) // both passed Guard's name rules
	}
	writeJSON(w, status, map[string]string{"_id": id, "_rev": rev})
}

func (a *api) del(w http.ResponseWriter, r *http.Request) {
	opts, _, err := writeConditions(r, false)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.db.Delete(r.Context(), r.PathValue("collection"), r.PathValue("id"), opts...); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.db.Query(r.Context(), r.PathValue("collection"), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if page.Docs == nil {
		page.Docs = []dbservice.Doc{}
	}
	writeJSON(w, http.StatusOK, struct {
		Docs []dbservice.Doc `json:"docs"`
		Next string          `json:"next,omitempty"`
	}{page.Docs, page.Next})
}

// writeConditions maps If-Match to IfRev and, when allowed (PUT),
// If-None-Match: * to IfAbsent. create reports the latter.
func writeConditions(r *http.Request, allowAbsent bool) (opts []dbservice.WriteOption, create bool, err error) {
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	switch {
	case im != "" && inm != "":
		return nil, false, badQuery("give If-Match or If-None-Match, not both")
	case im != "":
		rev, err := strongETag(im)
		if err != nil {
			return nil, false, err
		}
		return []dbservice.WriteOption{dbservice.IfRev(rev)}, false, nil
	case inm != "":
		if !allowAbsent || strings.TrimSpace(inm) != "*" {
			return nil, false, badQuery("If-None-Match takes only * (create if absent), on PUT")
		}
		return []dbservice.WriteOption{dbservice.IfAbsent()}, true, nil
	}
	return nil, false, nil
}

// strongETag returns the revision inside one strong entity tag.
func strongETag(h string) (string, error) {
	h = strings.TrimSpace(h)
	bad := badQuery(`If-Match takes one ETag exactly as this API returned it, for example "1-a"`)
	if len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' {
		return "", bad
	}
	rev := h[1 : len(h)-1]
	if validate.Rev(rev) != nil {
		return "", bad
	}
	return rev, nil
}

// etagListMatches applies If-None-Match's weak comparison to a list of
// entity tags or *.
func etagListMatches(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// readDoc decodes a request body that must be one JSON object of at most
// maxBody bytes, in one of the media types given, numbers kept exact for
// Guard's range checks.
func readDoc(w http.ResponseWriter, r *http.Request, types ...string) (dbservice.Doc, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(types, mt) {
		return nil, errUnsupportedMedia
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badQuery("the body must be one JSON object")
	}
	if doc == nil {
		return nil, badQuery("the body must be one JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badQuery("the body must be one JSON object, with nothing after it")
	}
	return doc, nil
}

// errUnsupportedMedia is answered with 415.
var errUnsupportedMedia = errors.New("unsupported media type")

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
