package couchdb

// Conflict handling on a CouchDB cluster.
//
// On a cluster every database shard has n copies on different nodes, and a
// write goes to all of them; each copy accepts the first edit of a given
// revision it sees and refuses later ones (409), but the copies decide
// independently. Two writes of the same parent revision can therefore each
// be accepted by some copy. The coordinator answers 201 once w copies
// (default: a majority) agree and 202 when fewer did, and internal
// replication then merges the copies: the document ends with two leaf
// revisions, one of them the winner by CouchDB's fixed rule (a live leaf
// beats a deleted one, then the longer history, then the greater revision
// ID) and the other a hidden conflict revision (_conflicts). An
// acknowledged write can thus vanish behind one that was refused, and
// later edits of the losing branch are accepted too: updates are lost.
//
// The provider closes this as follows once it knows a database has more
// than one copy (n from GET /db, read once per database):
//
//   - Every write asks for all copies: ?w=n. 201 then means every copy
//     took this revision, so no copy can accept another child of the same
//     parent afterwards: the write is final, at no extra request. 409
//     means no copy that answered took it. Anything else (202, accepted by
//     some copies only, with a node down, or with copies split between
//     concurrent writers) is settled below before the call returns.
//   - Settling: once the coordinator has heard from every copy, each copy
//     that is up holds the one child of the parent it accepted, so reading
//     the document's leaves from all copies (open_revs=all, r=n) shows every
//     competitor, and the writer applies CouchDB's own winner rule to them.
//     A revision can be built on before its writer has settled it,
//     though: a copy that took it shows it as the only leaf to a reader
//     the competitor has not reached yet, and that reader's child makes
//     the branch the longer one (seen in the cluster tests: both writers
//     of one parent answered ErrConflict while a third built on one of
//     them, and the counter ended one above the acknowledged increments).
//     So a writer decides only on leaves read after its own deletions:
//     while more than one leaf is live it deletes every loser (its own
//     revision included) and reads again; with one live leaf left, its
//     write stands if it is that leaf or an ancestor of it, and is lost
//     (ErrConflict) only once the writer has deleted its own revision on
//     every copy where it is still a leaf and read again, so that no copy
//     can accept a child of it any more. A read that does not show the
//     revision at all (a copy holding it did not answer) is repeated after
//     a pause. If no decision is reached in a bounded number of reads the
//     write is ErrUnavailable, saying it may or may not have happened.
//     The caller's retry loop reads the winner. A write every copy took
//     (201) needs none of this.
//   - CouchDB's revision ID is a hash of the parent revision and the
//     content, so two writers saving the same content on the same parent
//     make the same revision, and copies split between them each answer
//     "ok": both would be told they won, and one update is lost (two
//     increments of a counter from 5 both write {"n": 6}). On a cluster
//     every write therefore carries a random write token in the field
//     $securedb_w (callers can neither write nor query a field starting
//     with '$', and CouchDB refuses top-level fields starting with '_'),
//     which makes every revision distinct; Get and Query drop it.
//   - A conditional write first reads the leaves the same way (instead of
//     a HEAD): its revision must be the winning live leaf, and any other
//     live leaf left by an interrupted writer (a timeout, a crash) is
//     deleted then, so a conflict never outlives the next conditional
//     write.
//
// What remains outside this: a copy that takes a write and stops before
// answering (its node shut down) is not heard by the coordinator, so the
// write can be answered 409 (the copies that answered refused it) or
// settled without it; the revision comes back with the node and is then
// one leaf more, decided by CouchDB's rule against what was written
// meanwhile (a branch that fell behind loses, and the next conditional
// write deletes it). And a write acknowledged after a 202 is not on a copy
// that was down or is still catching up after coming back: until internal
// replication brings it there, that copy accepts a competing child of the
// same parent from a writer that read the parent before, and CouchDB's
// rule could pick the competitor on the hash, whose writer would then
// delete the acknowledged revision (seen once in a stress run stopping and
// starting nodes repeatedly: counter 259 with 260 acknowledged). So before
// it answers, the writer of such a revision writes the same content again
// as its child (extend): the acknowledged branch is then the longer one,
// which wins before any hash is compared. What is left is a competitor
// that settles in the milliseconds between that writer's last read and
// its child reaching the copies; the cost is two more requests for a
// write some copies did not take, none for one they all took (201). On a
// single node (n=1) none of this runs: the only extra
// request is the one GET /db per database.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/securedb-go/securedb/dbservice"
)

// maxLeavesBody bounds the open_revs answer read while settling: every
// leaf comes with its body (at most the document limit each).
const maxLeavesBody = 32 << 20

// copiesOf returns how many copies CouchDB keeps of db's shards (1 on a
// single node), asking once per database.
func (s *Service) copiesOf(ctx context.Context, db string) (int, error) {
	if v, ok := s.copies.Load(db); ok {
		return v.(int), nil
	}
	var resp *http.Response
	err := retryServerError(ctx, func() (err error) {
		resp, err = s.rawDo(ctx, http.MethodGet, "/"+url.PathEscape(db), nil, nil)
		return err
	})
	if err != nil {
		return 0, err
	}
	var info struct {
		Cluster struct {
			N int `json:"n"`
		} `json:"cluster"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("%w: couchdb answered GET /db with something unreadable", dbservice.ErrUnavailable)
	}
	n := max(info.Cluster.N, 1)
	s.copies.Store(db, n)
	return n, nil
}

// rawDo sends one request with the Service's credentials and returns the
// response of a 2xx answer; any other status is a *chttp.HTTPError, as
// kivik reports it, so classification and the 401 retry work unchanged.
func (s *Service) rawDo(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Response, error) {
	u := s.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.authClient.Do(req)
	if err != nil {
		return nil, err
	}
	if err := chttp.ResponseError(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// docPath is the URL path of a document.
func docPath(db, id string) string {
	return "/" + url.PathEscape(db) + "/" + url.PathEscape(couchID(id))
}

// writeTokenKey is the field that makes every cluster write's revision
// distinct; see the comment at the top of this file.
const writeTokenKey = "$securedb_w"

// writeToken is a fresh random value for writeTokenKey.
func writeToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clusterWrite PUTs doc (with _rev rev, none when empty; its write token
// set by the caller) or, when doc is nil, DELETEs revision rev, asking all
// n copies. final is true for 201 (or 200): every copy took it.
func (s *Service) clusterWrite(ctx context.Context, db, id string, doc dbservice.Doc, rev string, n int) (newRev string, final bool, err error) {
	q := url.Values{"w": {strconv.Itoa(n)}}
	method, body := http.MethodDelete, []byte(nil)
	if doc != nil {
		method = http.MethodPut
		if rev != "" {
			doc["_rev"] = rev
		} else {
			delete(doc, "_rev")
		}
		if body, err = json.Marshal(doc); err != nil {
			return "", false, fmt.Errorf("%w: document cannot be encoded", dbservice.ErrInvalid)
		}
	} else {
		q.Set("rev", rev)
	}
	resp, err := s.rawDo(ctx, method, docPath(db, id), q, body)
	if isDBMissing(err) && doc != nil { // deleted since useDB saw it
		s.known.Delete(db)
		if err := s.ensureDB(ctx, db); err != nil {
			return "", false, err
		}
		resp, err = s.rawDo(ctx, method, docPath(db, id), q, body)
	}
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	var out struct {
		Rev string `json:"rev"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || out.Rev == "" {
		// The write happened or not: the answer is lost, so it is unknown.
		return "", false, fmt.Errorf("%w: couchdb's answer to a write was unreadable; the write may or may not have happened", dbservice.ErrUnavailable)
	}
	return out.Rev, resp.StatusCode != http.StatusAccepted, nil
}

// leaf is one leaf revision of a document's revision tree.
type leaf struct {
	rev     string
	gen     int
	hash    string
	deleted bool
	token   string          // the leaf's write token, "" for none
	history map[string]bool // ancestor revisions, generation-hash form
}

// beats reports whether l wins over o by CouchDB's rule: live before
// deleted, then the higher generation, then the greater revision hash.
func (l leaf) beats(o leaf) bool {
	if l.deleted != o.deleted {
		return !l.deleted
	}
	if l.gen != o.gen {
		return l.gen > o.gen
	}
	return l.hash > o.hash
}

// tree is what settling needs of a document: its leaves, ancestors
// already filtered out.
type tree struct{ leaves []leaf }

// winner is the leaf CouchDB presents as the document; ok is false when
// there is no leaf at all.
func (t tree) winner() (leaf, bool) {
	var w leaf
	for i, l := range t.leaves {
		if i == 0 || l.beats(w) {
			w = l
		}
	}
	return w, len(t.leaves) > 0
}

// has reports whether rev is the live winner or one of its ancestors.
func (t tree) has(rev string) bool {
	w, ok := t.winner()
	return ok && !w.deleted && (w.rev == rev || w.history[rev])
}

// sees reports whether rev is in the tree at all: a leaf (live or
// deleted) or an ancestor of one.
func (t tree) sees(rev string) bool {
	for _, l := range t.leaves {
		if l.rev == rev || l.history[rev] {
			return true
		}
	}
	return false
}

// live is how many leaves are not deleted.
func (t tree) live() int {
	n := 0
	for _, l := range t.leaves {
		if !l.deleted {
			n++
		}
	}
	return n
}

// readTree reads every leaf revision of a document from all n copies
// (open_revs=all, r=n); a missing document is an empty tree.
func (s *Service) readTree(ctx context.Context, db, id string, n int) (tree, error) {
	q := url.Values{"open_revs": {"all"}, "revs": {"true"}, "r": {strconv.Itoa(n)}}
	var resp *http.Response
	err := retryServerError(ctx, func() (err error) {
		resp, err = s.rawDo(ctx, http.MethodGet, docPath(db, id), q, nil)
		return err
	})
	if httpStatus(err) == http.StatusNotFound {
		return tree{}, nil
	}
	if err != nil {
		return tree{}, err
	}
	defer resp.Body.Close()
	var rows []struct {
		OK *struct {
			Rev       string `json:"_rev"`
			Deleted   bool   `json:"_deleted"`
			Token     string `json:"$securedb_w"`
			Revisions struct {
				Start int      `json:"start"`
				IDs   []string `json:"ids"`
			} `json:"_revisions"`
		} `json:"ok"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxLeavesBody)).Decode(&rows); err != nil {
		return tree{}, fmt.Errorf("%w: couchdb's list of revisions was unreadable", dbservice.ErrUnavailable)
	}
	var all []leaf
	inner := map[string]bool{}
	for _, r := range rows {
		if r.OK == nil {
			continue
		}
		gen, hash, ok := strings.Cut(r.OK.Rev, "-")
		g, err := strconv.Atoi(gen)
		if !ok || err != nil {
			continue
		}
		l := leaf{rev: r.OK.Rev, gen: g, hash: hash, deleted: r.OK.Deleted, token: r.OK.Token, history: map[string]bool{}}
		for i, h := range r.OK.Revisions.IDs {
			if i == 0 {
				continue // the leaf itself
			}
			anc := strconv.Itoa(r.OK.Revisions.Start-i) + "-" + h
			l.history[anc] = true
			inner[anc] = true
		}
		all = append(all, l)
	}
	// A copy that has not caught up reports an ancestor as its leaf.
	var t tree
	seen := map[string]bool{}
	for _, l := range all {
		if !inner[l.rev] && !seen[l.rev] {
			seen[l.rev] = true
			t.leaves = append(t.leaves, l)
		}
	}
	return t, nil
}

// prune deletes every live leaf but the winner, so no one builds on a
// losing branch.
func (s *Service) prune(ctx context.Context, db, id string, t tree, n int) error {
	w, _ := t.winner()
	for _, l := range t.leaves {
		if l.rev == w.rev || l.deleted {
			continue
		}
		if err := s.deleteLeaf(ctx, db, id, l.rev, n); err != nil {
			return err
		}
	}
	return nil
}

// deleteLeaf deletes revision rev on every copy where it is still a leaf
// (all n asked). The deletion of a revision is the same revision on every
// copy, so copies that already hold it, or that hold a child of rev, or
// that lack rev, refuse it: concurrent pruners then get a mix of success,
// 409 and 404, which CouchDB reports as 409, 404 or, with no quorum of
// any, 500. What the copies did is read afterwards, so only a refused
// credential (for the re-login) or a transport failure is passed on.
func (s *Service) deleteLeaf(ctx context.Context, db, id, rev string, n int) error {
	_, _, err := s.clusterWrite(ctx, db, id, nil, rev, n)
	if st := httpStatus(err); err != nil && (st == 0 || st == http.StatusUnauthorized) {
		return err
	}
	return nil
}

// errLostRace is the conflict of a write that copies accepted but that
// lost to a concurrent write of the same revision.
var errLostRace = fmt.Errorf("%w: a concurrent write of the same revision won on the cluster", dbservice.ErrConflict)

// settleRounds bounds the reads settle makes of a write's revision tree
// before it gives up and answers errAmbiguousWrite; the pauses between
// them start at serverErrorPause and double, about 3 s in all.
const settleRounds = 7

// errAmbiguousWrite is a cluster write some copy took whose fate settle
// could not find out.
var errAmbiguousWrite = fmt.Errorf("%w: couchdb copies disagreed about a write and settling it did not finish; the write may or may not have happened", dbservice.ErrUnavailable)

// settle decides a write of revision rev that some copy took (202) or
// that resolve found. It decides only on a tree that shows rev and has
// at most one live leaf, read after its own deletions, so that every copy
// has already settled what it holds:
//
//   - rev stands when it is the live winner or one of its ancestors: a
//     writer that read rev before its competitors had reached any copy
//     may have built on it, and the longer branch wins;
//   - otherwise rev is deleted by settle itself (a copy where it is still
//     a leaf could accept a child of it otherwise) and the tree read again:
//     with rev still out of the winner's branch, and no live leaf left
//     descending from it, the write is lost for certain: errLostRace;
//   - with more than one live leaf, every loser is deleted and the tree
//     read again; a tree that does not show rev (a copy holding it did not
//     answer) is read again, after a pause.
//
// When no decision is reached in settleRounds reads, the outcome is
// unknown: errAmbiguousWrite.
func (s *Service) settle(ctx context.Context, db, id, rev string, n int) error {
	deleted := false // rev deleted by this call, before the last read
	pause := serverErrorPause
	for round := 0; round < settleRounds; round++ {
		t, err := s.readTree(ctx, db, id, n)
		if err != nil {
			return err
		}
		switch {
		case !t.sees(rev):
			// A copy holding rev did not answer: wait and read again.
			if err := pauseCtx(ctx, pause); err != nil {
				return err
			}
			pause *= 2
			continue
		case t.live() > 1:
			// Competing live leaves: delete the losers (rev among them,
			// when it loses), then look again.
			live := func(l leaf) bool { return l.rev == rev && !l.deleted }
			if w, _ := t.winner(); w.rev != rev && slices.ContainsFunc(t.leaves, live) {
				deleted = true // prune deletes it
			}
			if err := s.prune(ctx, db, id, t, n); err != nil {
				return err
			}
			continue
		case t.has(rev):
			return nil
		case deleted:
			return errLostRace
		}
		// rev is out of the only live branch: delete it where it may
		// still be a leaf, then confirm.
		if err := s.deleteLeaf(ctx, db, id, rev, n); err != nil {
			return err
		}
		deleted = true
	}
	return errAmbiguousWrite
}

// settleDelete decides a deletion only some copies took: the document is
// gone unless a live leaf remains (which wins over any tombstone); other
// live leaves are pruned.
func (s *Service) settleDelete(ctx context.Context, db, id string, n int) (bool, error) {
	t, err := s.readTree(ctx, db, id, n)
	if err != nil {
		return false, err
	}
	if err := s.prune(ctx, db, id, t, n); err != nil {
		return false, err
	}
	w, ok := t.winner()
	return !ok || w.deleted, nil
}

func errorsIsConflict(err error) bool { return errors.Is(err, dbservice.ErrConflict) }

// clusterPutIfRev is putIfRev on a database with n > 1 copies.
func (s *Service) clusterPutIfRev(ctx context.Context, db, id string, doc dbservice.Doc, rev string, n int) (string, error) {
	t, err := s.readTree(ctx, db, id, n)
	if err != nil {
		return "", err
	}
	w, ok := t.winner()
	if !ok || w.deleted {
		return "", errIfRev
	}
	if len(t.leaves) > 1 {
		if err := s.prune(ctx, db, id, t, n); err != nil {
			return "", err
		}
	}
	if w.rev != rev {
		return "", errIfRev
	}
	return s.clusterPut(ctx, db, id, doc, rev, n)
}

// clusterPut writes doc at rev ("" for none) on all n copies and settles
// a partial acceptance; a refused or losing write is errIfRev.
//
// An HTTP 500 leaves the write's outcome open: CouchDB's coordinator
// answers it when one copy's reply is one it does not expect, while the
// other copies carry on and may take the write (see useDB for where this
// happens). The identical request (same parent, same write token, so the
// same revision) is then sent again, a bounded number of times: once one
// is answered otherwise, every copy holds this revision or a competitor,
// so no late copy of the first request can change the outcome. A 409
// after a 500 is decided by looking for the write token (resolve).
func (s *Service) clusterPut(ctx context.Context, db, id string, doc dbservice.Doc, rev string, n int) (string, error) {
	token := writeToken()
	doc[writeTokenKey] = token
	var newRev string
	var final, ambiguous bool
	err := retryServerError(ctx, func() (err error) {
		newRev, final, err = s.clusterWrite(ctx, db, id, doc, rev, n)
		ambiguous = ambiguous || httpStatus(err) == http.StatusInternalServerError
		return err
	})
	switch st := httpStatus(err); {
	case st == http.StatusConflict && ambiguous:
		return s.resolve(ctx, db, id, rev, token, n)
	case st == http.StatusConflict, st == http.StatusNotFound && !isDBMissing(err),
		st == http.StatusBadRequest && reasonOf(err) == reasonBadRevFmt:
		return "", errIfRev
	case err != nil:
		return "", err
	case final:
		return newRev, nil
	}
	if err := s.settle(ctx, db, id, newRev, n); err != nil {
		return "", err
	}
	return s.extend(ctx, db, id, doc, newRev, n), nil
}

// extend writes doc again, with a fresh write token, as a child of rev: a
// revision some copies did not take (202) that settle kept. A copy still
// catching up (its node was down) may later accept a sibling of rev from a
// writer that read the parent before rev; CouchDB's rule prefers the longer
// branch before it looks at the hash, so the child makes the acknowledged
// write win that race instead of losing it half the time. It returns the
// revision the caller holds: the child when it stands, else rev, when the
// child was refused or lost because another write already built on rev,
// which keeps rev in the winning branch too.
func (s *Service) extend(ctx context.Context, db, id string, doc dbservice.Doc, rev string, n int) string {
	doc[writeTokenKey] = writeToken()
	child, final, err := s.clusterWrite(ctx, db, id, doc, rev, n)
	switch {
	case err != nil:
		return rev
	case final:
		return child
	case s.settle(ctx, db, id, child, n) == nil:
		return child
	}
	return rev
}

// clusterUpsert is upsert on a database with n > 1 copies: a write that
// loses a race is retried at the winner's revision, as a 409 is.
func (s *Service) clusterUpsert(ctx context.Context, db, id string, doc dbservice.Doc, n int) (string, error) {
	rev := s.revs.get(db, id)
	for range maxWriteAttempts {
		newRev, err := s.clusterPut(ctx, db, id, doc, rev, n)
		if !errorsIsConflict(err) {
			return newRev, err
		}
		t, err := s.readTree(ctx, db, id, n)
		if err != nil {
			return "", err
		}
		if err := s.prune(ctx, db, id, t, n); err != nil {
			return "", err
		}
		rev = "" // no document, or a tombstone: a PUT without revision re-creates it
		if w, ok := t.winner(); ok && !w.deleted {
			rev = w.rev
		}
	}
	return "", fmt.Errorf("%w: the document kept changing; gave up after %d attempts", dbservice.ErrConflict, maxWriteAttempts)
}

// clusterDelete is delete on a database with n > 1 copies.
func (s *Service) clusterDelete(ctx context.Context, db, id, ifRev string, n int) error {
	for range maxWriteAttempts {
		t, err := s.readTree(ctx, db, id, n)
		if err != nil {
			return err
		}
		w, ok := t.winner()
		switch {
		case !ok || w.deleted:
			return errNoDoc
		case ifRev != "" && w.rev != ifRev:
			return errIfRev
		}
		if len(t.leaves) > 1 {
			if err := s.prune(ctx, db, id, t, n); err != nil {
				return err
			}
		}
		_, final, err := s.clusterWrite(ctx, db, id, nil, w.rev, n)
		switch st := httpStatus(err); {
		case err == nil && final:
			return nil
		case err == nil:
			// Some copies took the deletion: it stands unless a live
			// sibling, which always beats a tombstone, took the others.
			gone, err := s.settleDelete(ctx, db, id, n)
			switch {
			case err != nil:
				return err
			case gone:
				return nil
			case ifRev != "":
				return errIfRev
			}
		case st == http.StatusNotFound:
			return errNoDoc
		case st == http.StatusConflict && ifRev != "":
			return errIfRev
		case st != http.StatusConflict:
			return err
		}
	}
	return fmt.Errorf("%w: the document kept changing; gave up after %d attempts", dbservice.ErrConflict, maxWriteAttempts)
}

// serverErrorRetries bounds how often a request CouchDB answered with HTTP
// 500 is sent again, serverErrorPause the first pause (doubled each time):
// about 3 s in all, well beyond the 0.26-0.63 s a three-node cluster took
// to finish creating a database on the loaded test machine.
const (
	serverErrorRetries = 6
	serverErrorPause   = 50 * time.Millisecond
)

// retryServerError runs call until it is answered with anything but HTTP
// 500, at most serverErrorRetries more times, pausing between; it
// returns call's last error (or ctx's, when ctx ends during a pause).
// call must be safe to repeat: a read, or a cluster write of one revision.
func retryServerError(ctx context.Context, call func() error) error {
	pause := serverErrorPause
	for attempt := 0; ; attempt++ {
		err := call()
		if httpStatus(err) != http.StatusInternalServerError || attempt == serverErrorRetries {
			return err
		}
		if err := pauseCtx(ctx, pause); err != nil {
			return err
		}
		pause *= 2
	}
}

// pauseCtx waits d, or returns ctx's error if ctx ends first.
func pauseCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxResolveRevs bounds the inner revisions resolve reads to find a write.
const maxResolveRevs = 64

// errAmbiguous is a cluster write whose outcome could not be found out.
var errAmbiguous = fmt.Errorf("%w: couchdb failed during a write, which may or may not have happened", dbservice.ErrUnavailable)

// resolve decides a write of the revision carrying token, made on parent
// rev ("" for none), that CouchDB first answered with HTTP 500 and then,
// sent again, with 409: every copy holds it or a competitor. The revision
// is found by its token, as a leaf or as the ancestor at its generation of
// a leaf (built on, or pruned as a loser), and settled by settle; a write
// no copy took is errIfRev.
func (s *Service) resolve(ctx context.Context, db, id, rev, token string, n int) (string, error) {
	t, err := s.readTree(ctx, db, id, n)
	if err != nil {
		return "", err
	}
	mine := ""
	for _, l := range t.leaves {
		if l.token == token {
			mine = l.rev
		}
	}
	exhaustive := true
	if mine == "" {
		// Not a leaf: an ancestor of one. A write on rev is a child of
		// it, at the next generation; a write without one (IfAbsent) is
		// at generation 1, or, recreating a deleted document, a child of
		// a tombstone: every inner revision is a candidate then.
		prefix := ""
		if rev != "" {
			g, _, _ := strings.Cut(rev, "-")
			p, err := strconv.Atoi(g)
			if err != nil {
				return "", errAmbiguous
			}
			prefix = strconv.Itoa(p+1) + "-"
		}
		leaves := map[string]bool{}
		for _, l := range t.leaves {
			leaves[l.rev] = true
		}
		var inner []string
		for _, l := range t.leaves {
			for h := range l.history {
				if strings.HasPrefix(h, prefix) && !leaves[h] && !slices.Contains(inner, h) {
					inner = append(inner, h)
				}
			}
		}
		switch {
		case len(inner) > maxResolveRevs:
			exhaustive = false
		case len(inner) > 0:
			found, complete, err := s.findToken(ctx, db, id, inner, token, n)
			if err != nil {
				return "", err
			}
			mine, exhaustive = found, complete
		}
	}
	if mine != "" {
		if err := s.settle(ctx, db, id, mine, n); err != nil {
			return "", err
		}
		return mine, nil
	}
	if err := s.prune(ctx, db, id, t, n); err != nil {
		return "", err
	}
	if exhaustive {
		return "", errIfRev
	}
	return "", errAmbiguous
}

// findToken reads the bodies of the inner revisions revs and returns the
// one carrying token; complete is false when some body is gone
// (compacted), so the answer may be incomplete.
func (s *Service) findToken(ctx context.Context, db, id string, revs []string, token string, n int) (found string, complete bool, err error) {
	list, _ := json.Marshal(revs)
	q := url.Values{"open_revs": {string(list)}, "r": {strconv.Itoa(n)}}
	var resp *http.Response
	err = retryServerError(ctx, func() (err error) {
		resp, err = s.rawDo(ctx, http.MethodGet, docPath(db, id), q, nil)
		return err
	})
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	var rows []struct {
		OK *struct {
			Rev   string `json:"_rev"`
			Token string `json:"$securedb_w"`
		} `json:"ok"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxLeavesBody)).Decode(&rows); err != nil {
		return "", false, fmt.Errorf("%w: couchdb's list of revisions was unreadable", dbservice.ErrUnavailable)
	}
	complete = len(rows) == len(revs)
	for _, r := range rows {
		switch {
		case r.OK == nil:
			complete = false
		case r.OK.Token == token:
			found = r.OK.Rev
		}
	}
	return found, complete, nil
}
