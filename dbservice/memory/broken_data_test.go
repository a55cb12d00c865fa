package memory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// Deliberate bugs in the data API, one per promise; see bugs.
func init() {
	bugs = append(bugs, []struct {
		name  string
		cases []string
	}{
		{"update-replaces", []string{"UpdateAppliesEveryMutation"}},
		{"update-overwrites-types", []string{"UpdateRefusesWhatDoesNotFitAndWritesNothing"}},
		{"update-drops-bad-mutations", []string{"HostileMutationsAreRefused"}},
		{"update-unlocked", []string{"ConcurrentUpdateIncrementsLoseNothing"}},
		{"getmany-sorted", []string{"GetManyReturnsFoundAndMissingInOrder"}},
		{"deletemany-stops-at-missing", []string{"DeleteManyRemovesAndSkipsMissing"}},
		{"count-ignores-budget", []string{"CountAgreesWithQueryUnderTheBudget"}},
		{"prefix-as-gte", []string{"ContainsAndPrefixFollowTheReference"}},
		{"expiry-ignored", []string{"ExpiredDocumentsAreGoneEverywhere"}},
	}...)
}

func (b *broken) Update(ctx context.Context, coll, id string, mods []dbservice.Mutation, opts ...dbservice.WriteOption) (string, error) {
	switch b.bug {
	case "update-replaces":
		// Mutations applied to an empty document: every other field lost.
		mods, err := dbservice.CheckMutations(mods, validate.Limits{})
		if err != nil {
			return "", err
		}
		nd, err := dbservice.ApplyMutations(nil, mods)
		if err != nil {
			return "", err
		}
		return b.Service.Save(ctx, coll, id, nd)
	case "update-overwrites-types":
		// Like a backend that silently replaces a value of the wrong type.
		for i, m := range mods {
			if m.Kind == dbservice.MutIncrement || m.Kind == dbservice.MutAppend || m.Kind == dbservice.MutRemove {
				v := m.Value
				if v == nil && len(m.Values) > 0 {
					v = []any{m.Values[0]}
				}
				mods[i] = dbservice.Set(m.Path, v)
			}
		}
		if _, err := b.Service.Update(ctx, coll, id, mods, opts...); err == nil || !errors.Is(err, dbservice.ErrInvalid) {
			return "", err
		}
		return b.Service.Update(ctx, coll, id, []dbservice.Mutation{dbservice.Set(strings.Split(mods[0].Path, ".")[0], "overwritten")}, opts...)
	case "update-drops-bad-mutations":
		var kept []dbservice.Mutation
		for _, m := range mods {
			if _, err := dbservice.CheckMutations([]dbservice.Mutation{m}, validate.Limits{}); err == nil {
				kept = append(kept, m)
			}
		}
		if len(kept) == 0 {
			return "no-op", nil
		}
		rev, err := b.Service.Update(ctx, coll, id, kept, opts...)
		if errors.Is(err, dbservice.ErrInvalid) {
			return "no-op", nil
		}
		return rev, err
	case "update-unlocked":
		// Read-modify-write with no condition: concurrent updates are lost.
		cur, err := b.Service.Get(ctx, coll, id)
		if err != nil {
			return "", err
		}
		if mods, err = dbservice.CheckMutations(mods, validate.Limits{}); err != nil {
			return "", err
		}
		// Updates meet in pairs after their reads, so both write what
		// they read and one increment is lost whatever the scheduler
		// does; an update with no partner within a second goes on alone.
		b.mu.Lock()
		if ch := b.waiting; ch != nil {
			b.waiting = nil
			b.mu.Unlock()
			close(ch)
		} else {
			ch := make(chan struct{})
			b.waiting = ch
			b.mu.Unlock()
			select {
			case <-ch:
			case <-time.After(time.Second):
				b.mu.Lock()
				if b.waiting == ch {
					b.waiting = nil
				}
				b.mu.Unlock()
			}
		}
		nd, err := dbservice.ApplyMutations(cur, mods)
		if err != nil {
			return "", err
		}
		return b.Service.Save(ctx, coll, id, nd)
	}
	return b.Service.Update(ctx, coll, id, mods, opts...)
}

func (b *broken) GetMany(ctx context.Context, coll string, ids []string) ([]dbservice.Doc, []string, error) {
	docs, missing, err := b.Service.GetMany(ctx, coll, ids)
	if b.bug == "getmany-sorted" {
		slices.SortFunc(docs, func(x, y dbservice.Doc) int { return strings.Compare(x["_id"].(string), y["_id"].(string)) })
		slices.Sort(missing)
	}
	return docs, missing, err
}

func (b *broken) DeleteMany(ctx context.Context, coll string, ids []string) error {
	if b.bug == "deletemany-stops-at-missing" {
		for _, id := range ids {
			if err := b.Service.Delete(ctx, coll, id); err != nil {
				return err
			}
		}
		return nil
	}
	return b.Service.DeleteMany(ctx, coll, ids)
}

func (b *broken) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	if b.bug == "count-ignores-budget" {
		n := 0
		for _, err := range dbservice.All(context.Background(), b.Service, coll, dbservice.Query{Where: where}) {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	return b.Service.Count(ctx, coll, where)
}
