package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// sessionLifetime is how long a session created by POST /v1/sessions
// lives: it is stored with dbservice.TTL, so from then on every provider
// answers 404 for it, and the backend (or a sweep) reclaims it.
const sessionLifetime = 30 * time.Minute

// mergePatchType is RFC 7396's media type; PATCH also takes plain JSON.
const mergePatchType = "application/merge-patch+json"

// patch applies a JSON merge patch (RFC 7396) as one atomic Update: a
// member set to null is Unset, an object member recurses into nested
// Sets, anything else (arrays included, which a merge patch replaces
// whole) is a Set. If-Match makes it conditional (412 when stale); a
// missing document is 404, as PATCH never creates.
func (a *api) patch(w http.ResponseWriter, r *http.Request) {
	opts, _, err := writeConditions(r, false)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, err := readDoc(w, r, mergePatchType, "application/json")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	mods, err := mergePatch(body, nil, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	coll, id := r.PathValue("collection"), r.PathValue("id")
	var rev string
	if len(mods) == 0 {
		// Nothing to change: answer as the document stands, with the same
		// condition a write would check.
		rev, err = a.unchanged(r, coll, id, opts)
	} else {
		rev, err = a.db.Update(r.Context(), coll, id, mods, opts...)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `"`+rev+`"`)
	writeJSON(w, http.StatusOK, map[string]string{"_id": id, "_rev": rev})
}

// unchanged is the answer to a patch with no mutation: the current
// revision, 404 when there is no document, 412 when If-Match is stale.
func (a *api) unchanged(r *http.Request, coll, id string, opts []dbservice.WriteOption) (string, error) {
	doc, err := a.db.Get(r.Context(), coll, id)
	if err != nil {
		return "", err
	}
	rev, _ := doc["_rev"].(string)
	if len(opts) > 0 {
		if want, _ := strongETag(r.Header.Get("If-Match")); want != rev {
			return "", dbservice.ErrConflict
		}
	}
	return rev, nil
}

// mergePatch turns the members of a merge patch into mutations on the
// paths under prefix. Names go into dbservice.Path, so a "." in a member
// name is that name's, never a path separator (and is refused unless the
// service opts into Limits.LiteralKeys). Two RFC 7396 cases have no
// mutation: an empty object member changes nothing (RFC 7396 would create
// an empty object where none is), and an object member over a field that
// is not an object is refused (400) instead of replacing it, as Update
// never replaces data it was not asked to.
func mergePatch(patch map[string]any, prefix []string, out []dbservice.Mutation) ([]dbservice.Mutation, error) {
	keys := make([]string, 0, len(patch))
	for k := range patch {
		keys = append(keys, k)
	}
	slices.Sort(keys) // one order for the same patch, so its errors repeat
	for _, k := range keys {
		names := append(slices.Clone(prefix), k)
		if len(names) > validate.MaxPathSegments {
			return nil, badQuery("the patch is nested deeper than " + strconv.Itoa(validate.MaxPathSegments) + " levels")
		}
		switch v := patch[k].(type) {
		case nil:
			out = append(out, dbservice.Unset(dbservice.Path(names...)))
		case map[string]any:
			var err error
			if out, err = mergePatch(v, names, out); err != nil {
				return nil, err
			}
		default:
			out = append(out, dbservice.Set(dbservice.Path(names...), v))
		}
		if len(out) > dbservice.MaxMutations {
			return nil, badQuery("the patch changes more than " + strconv.Itoa(dbservice.MaxMutations) + " fields")
		}
	}
	return out, nil
}

// post serves the POST routes of a collection: a new session on
// /v1/sessions, and the custom methods /v1/{collection}:batchGet and
// /v1/{collection}:batchDelete.
func (a *api) post(w http.ResponseWriter, r *http.Request) {
	coll, verb, custom := strings.Cut(r.PathValue("collection"), ":")
	switch {
	case !custom && coll == "sessions":
		a.createSession(w, r)
	case custom && verb == "batchGet":
		a.batchGet(w, r, coll)
	case custom && verb == "batchDelete":
		a.batchDelete(w, r, coll)
	case custom:
		writeProblem(w, http.StatusNotFound, "not_found", "no such method; use :batchGet or :batchDelete")
	default:
		methodNotAllowed("GET, HEAD")(w, r)
	}
}

// readIDs reads a batch body, {"ids": ["a1", ...]}; Guard checks the IDs
// themselves (at most dbservice.MaxBatch, valid, none twice) before any
// read or delete.
func readIDs(w http.ResponseWriter, r *http.Request) ([]string, error) {
	body, err := readDoc(w, r, "application/json")
	if err != nil {
		return nil, err
	}
	bad := badQuery(`the body must be {"ids": [...]} with 1 to ` + strconv.Itoa(dbservice.MaxBatch) + " document IDs")
	list, ok := body["ids"].([]any)
	if !ok || len(body) != 1 || len(list) == 0 || len(list) > dbservice.MaxBatch {
		return nil, bad
	}
	ids := make([]string, len(list))
	for i, v := range list {
		if ids[i], ok = v.(string); !ok {
			return nil, bad
		}
	}
	return ids, nil
}

// batchGet reads up to dbservice.MaxBatch documents with one GetMany: the
// provider's native batch read (CouchDB _all_docs with keys, DynamoDB
// BatchGetItem, Firestore GetAll).
func (a *api) batchGet(w http.ResponseWriter, r *http.Request, coll string) {
	ids, err := readIDs(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	docs, missing, err := a.db.GetMany(r.Context(), coll, ids)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if docs == nil {
		docs = []dbservice.Doc{}
	}
	if missing == nil {
		missing = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		Docs    []dbservice.Doc `json:"docs"`
		Missing []string        `json:"missing"`
	}{docs, missing})
}

// batchDelete deletes up to dbservice.MaxBatch documents with one
// DeleteMany; IDs without a document are skipped, so a retry is safe.
func (a *api) batchDelete(w http.ResponseWriter, r *http.Request, coll string) {
	ids, err := readIDs(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.db.DeleteMany(r.Context(), coll, ids); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// createSession stores a session for the caller that expires after
// sessionTTL (dbservice.TTL): no sweeper to write, the provider stops
// returning it at that instant. The session ID is 128 random bits.
func (a *api) createSession(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > 0 {
		writeProblem(w, http.StatusBadRequest, "invalid", "POST /v1/sessions takes no body")
		return
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		a.fail(w, r, err)
		return
	}
	id := hex.EncodeToString(b[:])
	doc := dbservice.Doc{"principal": infoOf(r.Context()).principal, "created": time.Now()}
	rev, err := a.db.Save(r.Context(), "sessions", id, doc, dbservice.IfAbsent(), dbservice.TTL(a.sessionTTL))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	stored, err := a.db.Get(r.Context(), "sessions", id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `"`+rev+`"`)
	w.Header().Set("Location", "/v1/sessions/"+id)
	writeJSON(w, http.StatusCreated, map[string]any{"_id": id, "_rev": rev, dbservice.ExpiresField: stored[dbservice.ExpiresField]})
}
