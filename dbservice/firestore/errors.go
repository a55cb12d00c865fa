package firestore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
)

const provider = "firestore"

// errCallTimeout is the cause of a call context that ran out of
// Config.CallTimeout, as opposed to the caller's own deadline.
var errCallTimeout = errors.New("no answer within the call timeout")

// classify turns an SDK error into a cause wrapping exactly one sentinel
// (or the caller's context error). Its text names the gRPC code only:
// server messages quote document paths, project IDs and sometimes values,
// and SDK messages can quote whole documents, so they are never passed on.
// The one exception is the index-creation link Firestore sends with a
// query that needs a composite index; it holds the project ID and the
// index's fields, nothing secret, and it is what the caller needs.
//
// call is the context the request ran under (the caller's plus
// CallTimeout).
func classify(ctx, call context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if errors.Is(context.Cause(call), errCallTimeout) {
		return fmt.Errorf("%w: %w", dbservice.ErrUnavailable, errCallTimeout)
	}
	if isClassified(err) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("%w: request cancelled", dbservice.ErrUnavailable)
		}
		return fmt.Errorf("%w: firestore client error", dbservice.ErrUnavailable)
	}
	code := st.Code()
	switch code {
	case codes.NotFound:
		return fmt.Errorf("%w: %s", dbservice.ErrNotFound, code)
	case codes.AlreadyExists:
		return fmt.Errorf("%w: document exists", dbservice.ErrConflict)
	case codes.FailedPrecondition:
		if link, ok := indexLink(st.Message()); ok {
			return fmt.Errorf("%w: the query needs a composite index that does not exist yet; create it (it takes a few minutes to build): %s", dbservice.ErrUnavailable, link)
		}
		if strings.Contains(strings.ToLower(st.Message()), "index") {
			return fmt.Errorf("%w: the query needs a composite index that does not exist yet; create it with `gcloud firestore indexes composite create`", dbservice.ErrUnavailable)
		}
		return fmt.Errorf("%w: precondition failed", dbservice.ErrConflict)
	case codes.Aborted:
		// Conditional writes report this as a conflict themselves; for
		// anything else it is contention that outlasted the retries.
		return fmt.Errorf("%w: aborted by contention with concurrent writes", dbservice.ErrUnavailable)
	case codes.PermissionDenied:
		return fmt.Errorf("%w: permission denied by IAM (%s)", dbservice.ErrForbidden, code)
	case codes.Unauthenticated:
		return fmt.Errorf("%w: credentials refused or unusable (%s)", dbservice.ErrUnauthorized, code)
	case codes.InvalidArgument, codes.OutOfRange:
		if code == codes.InvalidArgument && lostTransaction(st.Message()) {
			return fmt.Errorf("%w: the server no longer holds the write's transaction (restarted, or the transaction expired); whether an earlier attempt of the commit was applied is unknown", dbservice.ErrUnavailable)
		}
		return fmt.Errorf("%w: the server refused the request (%s)", dbservice.ErrInvalid, code)
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Unknown, codes.Canceled:
		return fmt.Errorf("%w: firestore unavailable or overloaded (%s)", dbservice.ErrUnavailable, code)
	}
	return fmt.Errorf("%w: unexpected answer (%s)", dbservice.ErrUnavailable, code)
}

// lostTransaction reports whether an InvalidArgument message says the
// server does not know the transaction a commit names: the emulator after
// a restart answers "Transaction is invalid or closed.", Firestore after an
// expiry "The referenced transaction has expired or is no longer valid."
// The request itself was valid (the SDK took the transaction ID from
// BeginTransaction), so this is not ErrInvalid. It is not ErrConflict
// either: the SDK retries a Commit that failed Unavailable, and a first
// attempt applied before the connection broke leaves its transaction
// closed, so the outcome is unknown, as after a timeout. Firestore's other
// SDKs match the message the same way to retry such transactions.
func lostTransaction(msg string) bool {
	m := strings.ToLower(msg)
	if !strings.Contains(m, "transaction") {
		return false
	}
	for _, w := range []string{"expired", "invalid", "closed", "no longer valid"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// indexRe matches the console link Firestore puts in a "requires an index"
// message. Only these two hosts are accepted, so a message can never smuggle
// an arbitrary URL into an error.
var indexRe = regexp.MustCompile(`https://console\.(?:firebase|cloud)\.google\.com/[A-Za-z0-9/_.~%?=&+:@!$'()*,;-]+`)

func indexLink(msg string) (string, bool) {
	link := indexRe.FindString(msg)
	if link == "" || len(link) > 4096 {
		return "", false
	}
	return link, true
}

// sentinels are the errors a classified cause wraps.
var sentinels = []error{
	dbservice.ErrNotFound, dbservice.ErrConflict, dbservice.ErrInvalid, dbservice.ErrUnauthorized,
	dbservice.ErrForbidden, dbservice.ErrUnavailable, dbservice.ErrInsecure, dbservice.ErrClosed,
}

func isClassified(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fail builds the *dbservice.Error every method returns.
func fail(op, coll, id string, err error) error {
	return dbservice.NewError(op, provider, coll, id, err)
}
