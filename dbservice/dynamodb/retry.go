package dynamodb

import (
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// The backoff between the SDK's attempts at one call after a failure that
// is not throttling (a refused or reset connection, a timeout, a 5xx):
// full jitter over retryBaseDelay·2^attempt, at most retryMaxDelay.
const (
	retryBaseDelay = 50 * time.Millisecond
	retryMaxDelay  = time.Second
)

// quickRetryer is the SDK's standard retryer (its attempts, retryable
// errors and retry quota) with a shorter backoff for failures that are not
// throttling. The SDK's own sleeps up to 2 s after the first failure and up
// to 4 s after the second: a call that met a server restarting sleeps on
// long after the server answers again, while the caller's deadline (2 s, a
// request's budget) runs out. Throttling keeps the SDK's backoff, which
// slows the client down as DynamoDB asks. The base is close to the AWS SDK
// for Java's for DynamoDB (25 ms, doubling), which retries this quickly for
// the same reason.
func quickRetryer() aws.Retryer {
	sdk := retry.NewExponentialJitterBackoff(retry.DefaultMaxBackoff)
	throttles := retry.IsErrorThrottles(retry.DefaultThrottles)
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
			if throttles.IsErrorThrottle(err) == aws.TrueTernary {
				return sdk.BackoffDelay(attempt, err)
			}
			return quickBackoff(attempt), nil
		})
	})
}

// quickBackoff is the delay before attempt+1 of a call whose attempt
// (1, 2, ...) failed retryably without throttling.
func quickBackoff(attempt int) time.Duration {
	ceiling := retryMaxDelay
	if attempt < 10 {
		ceiling = min(retryMaxDelay, retryBaseDelay<<attempt)
	}
	// Jitter spreads the retries of many clients; it needs no secrecy.
	return rand.N(ceiling + 1)
}
