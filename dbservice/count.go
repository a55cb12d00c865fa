package dbservice

import (
	"context"
	"fmt"
)

// CountPages counts the documents matching where by walking the pages of
// query (a provider's own Query) with only IDs returned, for backends
// without a native count of the shape. All pages together read at most
// budget documents: each page is given what is left of it. A count that
// needs more returns the lower bound reached and an error wrapping
// ErrBudgetExceeded.
func CountPages(ctx context.Context, provider, collection string, where []Cond, budget int, query func(context.Context, Query) (Page, error)) (int, error) {
	q := Query{Where: where, Fields: []string{"_id"}, Limit: MaxLimit}
	n, read := 0, 0
	for {
		page, err := query(WithScanBudget(ctx, budget-read), q)
		if err != nil {
			return n, err
		}
		n += len(page.Docs)
		read += page.Stats.Read
		if page.Next == "" {
			return n, nil
		}
		if read >= budget {
			return n, CountBudgetError(provider, collection, n)
		}
		q.Cursor = page.Next
	}
}

// CountBudgetError is the error of a Count stopped by its scan budget
// after counting n matches.
func CountBudgetError(provider, collection string, n int) error {
	return NewError("count", provider, collection, "", fmt.Errorf("%w: counted at least %d before the budget ran out; raise the provider's scan budget to count more", ErrBudgetExceeded, n))
}
