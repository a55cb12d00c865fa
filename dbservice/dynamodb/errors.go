package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/securedb-go/securedb/dbservice"
)

const provider = "dynamodb"

// AWS error codes the provider reacts to.
const (
	codeConditionFailed  = "ConditionalCheckFailedException"
	codeNotFound         = "ResourceNotFoundException"
	codeInUse            = "ResourceInUseException"
	codeUnknownOperation = "UnknownOperationException"
	codeBackupsLagging   = "ContinuousBackupsUnavailableException"
)

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// classify turns an SDK error into a cause wrapping exactly one sentinel
// (or the context's error). Its text names only the AWS error code or the
// kind of transport failure: SDK error strings carry request IDs, endpoint
// URLs and server messages that may quote ARNs or key values, so they are
// never passed on.
func classify(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if isClassified(err) {
		return err
	}
	switch {
	case errors.Is(err, errCallTimeout):
		return fmt.Errorf("%w: %w", dbservice.ErrUnavailable, errCallTimeout)
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	code := errorCode(err)
	switch code {
	case "":
	case codeConditionFailed, "TransactionConflictException":
		return fmt.Errorf("%w: condition failed", dbservice.ErrConflict)
	case codeNotFound:
		return fmt.Errorf("%w: table does not exist", dbservice.ErrNotFound)
	case "AccessDeniedException":
		return fmt.Errorf("%w: access denied by IAM (%s)", dbservice.ErrForbidden, code)
	case "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationTokenException",
		"MissingAuthenticationToken", "IncompleteSignatureException", "ExpiredTokenException", "ExpiredToken",
		"InvalidClientTokenId", "SignatureDoesNotMatch":
		return fmt.Errorf("%w: credentials refused (%s)", dbservice.ErrUnauthorized, code)
	case "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "RequestLimitExceeded",
		"LimitExceededException", "InternalServerError", "InternalFailure", "ServiceUnavailable",
		"ServiceUnavailableException", "ReplicatedWriteConflictException":
		return fmt.Errorf("%w: server busy or failing (%s)", dbservice.ErrUnavailable, code)
	case "ValidationException", "SerializationException", "ItemCollectionSizeLimitExceededException":
		return fmt.Errorf("%w: the server refused the request (%s)", dbservice.ErrInvalid, code)
	default:
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			switch s := re.HTTPStatusCode(); {
			case s == 401:
				return fmt.Errorf("%w: credentials refused (%s)", dbservice.ErrUnauthorized, code)
			case s == 403:
				return fmt.Errorf("%w: access denied (%s)", dbservice.ErrForbidden, code)
			}
		}
		return fmt.Errorf("%w: unexpected answer (%s)", dbservice.ErrUnavailable, code)
	}
	var se *v4.SigningError
	var ce *credentialsError
	if errors.As(err, &se) || errors.As(err, &ce) {
		return fmt.Errorf("%w: no usable AWS credentials from the credential chain", dbservice.ErrUnauthorized)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return fmt.Errorf("%w: server error (HTTP %d)", dbservice.ErrUnavailable, re.HTTPStatusCode())
	}
	var qe ratelimit.QuotaExceededError
	if errors.As(err, &qe) {
		return fmt.Errorf("%w: cannot reach dynamodb (client retry quota exhausted)", dbservice.ErrUnavailable)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: cannot reach dynamodb (timeout)", dbservice.ErrUnavailable)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("%w: cannot reach dynamodb (%s failed)", dbservice.ErrUnavailable, oe.Op)
	}
	return fmt.Errorf("%w: cannot reach dynamodb", dbservice.ErrUnavailable)
}

// sentinels are the errors a classified cause wraps.
var sentinels = []error{
	dbservice.ErrNotFound, dbservice.ErrConflict, dbservice.ErrInvalid, dbservice.ErrUnauthorized,
	dbservice.ErrForbidden, dbservice.ErrUnavailable, dbservice.ErrInsecure, dbservice.ErrClosed,
}

// isClassified reports whether err already went through classify (helpers
// such as ensureTable return classified errors).
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
