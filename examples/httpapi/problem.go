package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// problem is an RFC 9457 problem details object. Type is always
// "about:blank", so Title is the status text; Detail says what to change
// and never quotes the request (IDs, values, tokens) or an internal error.
// Kind is an extension member with dbservice.ErrorKind's name for the
// error, stable for clients to branch on.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Kind   string `json:"kind,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, kind, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Kind: kind})
}

// fail answers with the problem err maps to. Server-side failures are
// logged (through the masking handler) and answered without detail.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeProblem(w, http.StatusRequestEntityTooLarge, "invalid", "the body is larger than 256 KiB")
		return
	case errors.Is(err, errUnsupportedMedia):
		writeProblem(w, http.StatusUnsupportedMediaType, "invalid", "send the document with Content-Type: application/json")
		return
	}
	status, kind := dbservice.HTTPStatus(err), dbservice.ErrorKind(err)
	if status == http.StatusConflict && (r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "") {
		// RFC 9110 13.1.1 and 13.1.2: a condition of the request that
		// does not hold is 412 Precondition Failed.
		writeProblem(w, http.StatusPreconditionFailed, kind, "the document changed since the revision given in If-Match, or exists although If-None-Match: * was given; read it again and retry")
		return
	}
	if status >= 500 {
		a.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("route", r.Pattern), slog.String("error_kind", kind), slog.String("error", err.Error()))
	}
	writeProblem(w, status, kind, detailFor(err, kind))
}

// detailFor explains err to the client without repeating its input.
func detailFor(err error, kind string) string {
	var q *errQuery
	var ve *validate.Error
	switch {
	case errors.As(err, &q):
		return q.msg
	case errors.As(err, &ve):
		// Excerpts and field paths inside a document are input: drop them.
		field := ve.Field
		if strings.HasPrefix(field, "doc.") {
			field = "doc"
		}
		return "invalid " + field + ": " + ve.Reason
	}
	switch kind {
	case "not_found":
		return "no such document"
	case "conflict":
		return "the document changed since the revision given in If-Match, or exists although If-None-Match: * was given; read it again and retry"
	case "forbidden":
		return "this operation is not allowed on this collection"
	case "unauthorized":
		return "the database refused the service's credentials"
	case "unavailable", "closed":
		return "the database is unavailable; retry later"
	case "deadline":
		return "the request took too long"
	case "canceled":
		return "the request was cancelled; nothing was written after it"
	}
	return "internal error"
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeProblem(w, http.StatusNotFound, "not_found", "no such route; use /v1/{collection}/{id}, /v1/{collection} or /v1/{collection}:batchGet")
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		writeProblem(w, http.StatusMethodNotAllowed, "invalid", "allowed methods: "+allow)
	}
}
