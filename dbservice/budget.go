package dbservice

import "context"

// DefaultScanBudget is the most documents one Query call reads from the
// database unless configured otherwise. Past it the call returns the
// matches found so far with a Next cursor, so that neither cost nor latency
// of a call depends on the size of the collection.
const DefaultScanBudget = 10_000

type budgetKey struct{}

// WithScanBudget returns a context under which Query calls read at most n
// documents from the database (n ≥ 1). It can only lower the budget a
// provider or a Policy sets: the smallest budget wins.
func WithScanBudget(ctx context.Context, n int) context.Context {
	if n < 1 {
		n = 1
	}
	if cur, ok := ctx.Value(budgetKey{}).(int); ok && cur <= n {
		return ctx
	}
	return context.WithValue(ctx, budgetKey{}, n)
}

// ScanBudget returns the scan budget of one Query call: the smallest of
// configured (a provider's setting; 0 means DefaultScanBudget) and any
// budget set on ctx with WithScanBudget. Providers call it once per Query.
func ScanBudget(ctx context.Context, configured int) int {
	n := configured
	if n <= 0 {
		n = DefaultScanBudget
	}
	if cur, ok := ctx.Value(budgetKey{}).(int); ok && cur < n {
		n = cur
	}
	return n
}
