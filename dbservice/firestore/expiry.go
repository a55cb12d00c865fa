package firestore

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/securedb-go/securedb/dbservice"
)

// expiresField is the field a document's expiry is stored in, as a
// Firestore timestamp, so that a TTL policy on it reclaims the document.
// It is dbservice.ExpiresField: caller documents can never hold it
// (NormalizeDoc drops "_" keys, and paths into system fields are refused),
// and decodeData turns it into the validate.TimeLayout text every read
// carries.
const expiresField = dbservice.ExpiresField

// maxWriteAttempts bounds the read-then-conditional-write loops (Update,
// Delete) when other writers keep changing the document between the read
// and the write.
const maxWriteAttempts = 64

// setExpiry adds the expiry to an encoded document; zero means none.
func setExpiry(data map[string]any, at time.Time) {
	if !at.IsZero() {
		data[expiresField] = at
	}
}

// expiredSnap reports whether a stored document has expired at now, by the
// process clock: Firestore's TTL deletion runs up to a day late, so every
// read filters.
func expiredSnap(snap *firestore.DocumentSnapshot, now time.Time) bool {
	v, err := snap.DataAt(expiresField)
	if err != nil {
		return false
	}
	t, ok := v.(time.Time)
	return ok && !now.Before(t)
}

// replaceIf replaces the document with data in one commit, on condition
// that its update time is still last: an update carrying the
// LastUpdateTime precondition, then the full replacement (Set takes no
// precondition). It returns the new update time.
func (s *Service) replaceIf(ctx context.Context, ref *firestore.DocumentRef, last time.Time, data map[string]any) (time.Time, error) {
	var resp firestore.CommitResponse
	err := s.client.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		if err := tx.Update(ref, revGuard, firestore.LastUpdateTime(last)); err != nil {
			return err
		}
		return tx.Set(ref, data)
	}, firestore.MaxAttempts(1), firestore.WithCommitResponseTo(&resp))
	if err != nil {
		return time.Time{}, err
	}
	wrs, err := resp.WriteResults()
	if err != nil || len(wrs) == 0 {
		return time.Time{}, fmt.Errorf("%w: commit returned no write result", dbservice.ErrUnavailable)
	}
	return wrs[len(wrs)-1].UpdateTime, nil
}
