package fieldcrypt

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// maxRetries bounds the re-reads after a conflicting concurrent write.
const maxRetries = 8

// Rotate adds a new version to the collection's data keys (both the
// randomized and the deterministic keyset): new writes use it, values
// written before stay readable, and equalities on deterministic fields
// find values under every version (each version adds one value to the
// query, at most validate.MaxInValues in all). Other processes start
// writing with the new version when their cache expires (Config.CacheTTL).
// Reencrypt then moves old values to the new version.
func (s *Service) Rotate(ctx context.Context, coll string) error {
	if err := s.checkEncrypted("rotate", coll); err != nil {
		return err
	}
	for range maxRetries {
		d, err := s.next.Get(ctx, s.keysColl, coll)
		if errors.Is(err, dbservice.ErrNotFound) {
			// Nothing to rotate yet: the first keys are the new version.
			if _, err := s.ring(ctx, coll, true); err != nil {
				return fail("rotate", coll, "", err)
			}
			return nil
		}
		if err != nil {
			return err
		}
		k, err := parseStoredKeys(coll, d)
		if err != nil {
			return fail("rotate", coll, "", err)
		}
		kek := s.kekFor(k.kekID)
		a, err := unwrap(ctx, k.aead, kek, coll, "aead")
		if err != nil {
			return fail("rotate", coll, "", err)
		}
		dd, err := unwrap(ctx, k.daead, kek, coll, "daead")
		if err != nil {
			return fail("rotate", coll, "", err)
		}
		if a, err = addVersion(a, false); err != nil {
			return fail("rotate", coll, "", err)
		}
		if dd, err = addVersion(dd, true); err != nil {
			return fail("rotate", coll, "", err)
		}
		cur := s.currentKEK()
		nk := storedKeys{kekKind: cur.Kind(), kekID: cur.ID()}
		if nk.aead, err = wrap(ctx, a, cur, coll, "aead"); err != nil {
			return fail("rotate", coll, "", err)
		}
		if nk.daead, err = wrap(ctx, dd, cur, coll, "daead"); err != nil {
			return fail("rotate", coll, "", err)
		}
		r, err := newKeyring(a, dd)
		if err != nil {
			return fail("rotate", coll, "", err)
		}
		_, err = s.next.Save(ctx, s.keysColl, coll, nk.doc(coll, r.versions), dbservice.IfRev(k.rev))
		if errors.Is(err, dbservice.ErrConflict) {
			continue // another process rotated or rewrapped: start over
		}
		if err != nil {
			return err
		}
		r.wrappedAEAD, r.wrappedDAEAD, r.kekID, r.loaded = nk.aead, nk.daead, nk.kekID, s.now()
		s.mu.Lock()
		s.rings[coll] = r
		s.mu.Unlock()
		return nil
	}
	return dbservice.NewError("rotate", provider, coll, "", dbservice.ErrConflict)
}

// Rewrap wraps every stored data keyset under newKEK, without touching a
// document: the data keys, and so every ciphertext, stay the same. From
// then on this Service wraps new keysets with newKEK and keeps the old KEK
// to unwrap keysets another process writes until it, too, moves (give
// other processes the old KEK in Config.PreviousKEKs). It is idempotent:
// keysets already under newKEK are skipped. It returns how many keysets it
// rewrapped.
func (s *Service) Rewrap(ctx context.Context, newKEK KEK) (int, error) {
	if newKEK == nil {
		return 0, dbservice.NewError("rewrap", provider, "", "", &validate.Error{Field: "kek", Reason: "a new KEK is required"})
	}
	s.mu.Lock()
	old := s.kek
	if old.ID() != newKEK.ID() {
		s.previous = append([]KEK{old}, slices.DeleteFunc(s.previous, func(k KEK) bool { return k.ID() == newKEK.ID() })...)
		s.kek = newKEK
	}
	s.mu.Unlock()
	n := 0
	for d, err := range dbservice.All(ctx, s.next, s.keysColl, dbservice.Query{Limit: 100}) {
		if err != nil {
			return n, err
		}
		coll, _ := d["_id"].(string)
		done, err := s.rewrapOne(ctx, coll, d, newKEK)
		if err != nil {
			return n, fail("rewrap", coll, "", err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

func (s *Service) rewrapOne(ctx context.Context, coll string, d dbservice.Doc, newKEK KEK) (bool, error) {
	for range maxRetries {
		k, err := parseStoredKeys(coll, d)
		if err != nil {
			return false, err
		}
		if k.kekID == newKEK.ID() {
			return false, nil
		}
		kek := s.kekFor(k.kekID)
		a, err := unwrap(ctx, k.aead, kek, coll, "aead")
		if err != nil {
			return false, err
		}
		dd, err := unwrap(ctx, k.daead, kek, coll, "daead")
		if err != nil {
			return false, err
		}
		nk := storedKeys{kekKind: newKEK.Kind(), kekID: newKEK.ID()}
		if nk.aead, err = wrap(ctx, a, newKEK, coll, "aead"); err != nil {
			return false, err
		}
		if nk.daead, err = wrap(ctx, dd, newKEK, coll, "daead"); err != nil {
			return false, err
		}
		versions, _ := d["versions"].(float64)
		_, err = s.next.Save(ctx, s.keysColl, coll, nk.doc(coll, int(versions)), dbservice.IfRev(k.rev))
		if errors.Is(err, dbservice.ErrConflict) {
			if d, err = s.next.Get(ctx, s.keysColl, coll); err != nil {
				return false, err
			}
			continue
		}
		if err != nil {
			return false, err
		}
		// The keys themselves did not change: keep the cached ones, and
		// remember the new stored form so the next refresh needs no KEK.
		s.mu.Lock()
		if r := s.rings[coll]; r != nil {
			nr := *r
			nr.wrappedAEAD, nr.wrappedDAEAD, nr.kekID = nk.aead, nk.daead, nk.kekID
			s.rings[coll] = &nr
		}
		s.mu.Unlock()
		return true, nil
	}
	return false, dbservice.ErrConflict
}

// ReencryptOptions tune Reencrypt.
type ReencryptOptions struct {
	// Cursor resumes a walk where an earlier run stopped
	// (ReencryptStats.Cursor). It is a page cursor of the provider, so it
	// survives a restart when the provider's cursor key does.
	Cursor string
	// PageSize is how many documents are read at a time (default 200, at
	// most dbservice.MaxLimit); memory is bounded by one page.
	PageSize int
	// MaxPages stops the walk after this many pages (0: no bound), so a
	// large collection can be done in slices; Cursor continues it.
	MaxPages int
	// Workers is how many documents of a page are rewritten at once
	// (default DefaultReencryptWorkers, at most 64). Each is still one
	// conditional Update: providers' bulk writes are unconditional
	// upserts, which could overwrite a concurrent write.
	Workers int
}

// DefaultReencryptWorkers is ReencryptOptions.Workers when it is zero:
// a remote server's round trip, not the CPU, bounds one rewrite.
const DefaultReencryptWorkers = 16

// ReencryptStats says what Reencrypt did.
type ReencryptStats struct {
	// Read counts the documents visited.
	Read int
	// Rewritten counts the documents written back under the current key.
	Rewritten int
	// Conflicts counts writes that lost to a concurrent write and were
	// redone on the document read again.
	Conflicts int
	// Cursor is where the walk stopped: "" when the whole collection is
	// done, else the start of the first page not finished (after an error
	// or MaxPages). Pass it as ReencryptOptions.Cursor to go on; the
	// documents of a page done twice are skipped the second time.
	Cursor string
}

// Reencrypt walks the collection page by page and rewrites every
// encrypted field that is not under the current data key version (or not
// encrypted at all: data written before the field was configured) under
// it, with one conditional Update (IfRev) per document (several at once,
// ReencryptOptions.Workers), so a concurrent write is never lost: on a
// conflict the document is read again and
// redone. Only the encrypted fields are written; documents already current
// are skipped, so running it again is cheap and safe. Memory is bounded by
// one page.
func (s *Service) Reencrypt(ctx context.Context, coll string, opts ReencryptOptions) (ReencryptStats, error) {
	st := ReencryptStats{Cursor: opts.Cursor}
	if err := s.checkEncrypted("reencrypt", coll); err != nil {
		return st, err
	}
	size := opts.PageSize
	if size == 0 {
		size = 200
	}
	workers := opts.Workers
	if workers == 0 {
		workers = DefaultReencryptWorkers
	}
	if size < 0 || size > dbservice.MaxLimit || opts.MaxPages < 0 || workers < 0 || workers > 64 {
		return st, dbservice.NewError("reencrypt", provider, coll, "", &validate.Error{Field: "options", Reason: "PageSize must be 1 to 1000, MaxPages not negative and Workers 1 to 64"})
	}
	r, err := s.ring(ctx, coll, true)
	if err != nil {
		return st, fail("reencrypt", coll, "", err)
	}
	specs := s.specs[coll]
	q := dbservice.Query{Limit: size, Cursor: opts.Cursor}
	for pages := 0; opts.MaxPages == 0 || pages < opts.MaxPages; pages++ {
		page, err := s.next.Query(ctx, coll, q)
		if err != nil {
			return st, err
		}
		if err := s.reencryptPage(ctx, r, coll, specs, page.Docs, workers, &st); err != nil {
			return st, err
		}
		st.Cursor = page.Next
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return st, nil
}

// reencryptPage rewrites the documents of one page with up to workers
// conditional Updates in flight. The first error stops the page (the
// cursor then still points at it, and a rerun skips what was done).
func (s *Service) reencryptPage(ctx context.Context, r *keyring, coll string, specs []fieldSpec, docs []dbservice.Doc, workers int, st *ReencryptStats) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan dbservice.Doc)
	for range min(workers, len(docs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range next {
				var one ReencryptStats
				err := s.reencryptDoc(ctx, r, coll, specs, d, &one)
				mu.Lock()
				st.Rewritten += one.Rewritten
				st.Conflicts += one.Conflicts
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	for i, d := range docs {
		docs[i] = nil
		if ctx.Err() != nil {
			break
		}
		st.Read++
		next <- d
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		// The caller's context ended (this one is cancelled only on an
		// error): the documents not handed out were not done.
		return ctx.Err()
	}
	return firstErr
}

func (s *Service) reencryptDoc(ctx context.Context, r *keyring, coll string, specs []fieldSpec, d dbservice.Doc, st *ReencryptStats) error {
	id, _ := d["_id"].(string)
	for attempt := 0; ; attempt++ {
		mods, err := s.staleFields(r, coll, id, specs, d)
		if err != nil {
			return fail("reencrypt", coll, id, err)
		}
		if len(mods) == 0 {
			return nil
		}
		rev, _ := d["_rev"].(string)
		_, err = s.next.Update(ctx, coll, id, mods, dbservice.IfRev(rev))
		if err == nil {
			st.Rewritten++
			return nil
		}
		if !errors.Is(err, dbservice.ErrConflict) || attempt == maxRetries {
			return err
		}
		st.Conflicts++
		if d, err = s.next.Get(ctx, coll, id); errors.Is(err, dbservice.ErrNotFound) {
			return nil // deleted meanwhile: nothing left to re-encrypt
		} else if err != nil {
			return err
		}
	}
}

// staleFields returns Set mutations for the encrypted fields of d that are
// not under the current key version.
func (s *Service) staleFields(r *keyring, coll, id string, specs []fieldSpec, d dbservice.Doc) ([]dbservice.Mutation, error) {
	var mods []dbservice.Mutation
	for _, f := range specs {
		stored, ok := lookup(d, f.names)
		if !ok {
			continue
		}
		current := r.aeadPrimary
		if f.mode == Deterministic {
			current = r.daeadPrimary
		}
		v := stored
		if text, isText := stored.(string); isText {
			if e, err := parseEnvelope(text); err == nil {
				if e.mode == f.mode && e.keyID == current {
					continue
				}
				if v, err = decryptValue(r, coll, id, f, stored); err != nil {
					return nil, err
				}
			}
		}
		text, err := encryptValue(r, coll, id, f, v)
		if err != nil {
			return nil, err
		}
		mods = append(mods, dbservice.Set(f.path, text))
	}
	return mods, nil
}

func (s *Service) checkEncrypted(op, coll string) error {
	if err := dbservice.CheckCollection(coll); err != nil {
		return dbservice.NewError(op, provider, coll, "", err)
	}
	if s.specs[coll] == nil {
		return dbservice.NewError(op, provider, coll, "", &validate.Error{Field: "collection", Reason: "has no encrypted fields"})
	}
	return nil
}
