package awskms

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/securedb-go/securedb/dbservice"
)

// TestClassify covers the KMS error codes local-kms cannot produce
// (throttling, KMS-side failures) by the codes the service documents.
func TestClassify(t *testing.T) {
	status := func(code int, err error) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: err}
	}
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"throttling", api("ThrottlingException"), dbservice.ErrUnavailable},
		{"request limit", api("LimitExceededException"), dbservice.ErrUnavailable},
		{"KMS internal error", api("KMSInternalException"), dbservice.ErrUnavailable},
		{"dependency timeout", api("DependencyTimeoutException"), dbservice.ErrUnavailable},
		{"key unavailable", api("KeyUnavailableException"), dbservice.ErrUnavailable},
		{"unknown code with a 503", status(503, api("SomethingNew")), dbservice.ErrUnavailable},
		{"a bare 500", status(500, errors.New("boom")), dbservice.ErrUnavailable},
		{"a bare 429", status(429, errors.New("slow down")), dbservice.ErrUnavailable},
		{"access denied", api("AccessDeniedException"), dbservice.ErrForbidden},
		{"invalid state", api("KMSInvalidStateException"), dbservice.ErrForbidden},
		{"disabled", api("DisabledException"), dbservice.ErrForbidden},
		{"bad signature", api("InvalidSignatureException"), dbservice.ErrForbidden},
		{"invalid ciphertext", api("InvalidCiphertextException"), dbservice.ErrInvalid},
		{"incorrect key", api("IncorrectKeyException"), dbservice.ErrInvalid},
		{"deadline", context.DeadlineExceeded, dbservice.ErrUnavailable},
	} {
		t.Run(tc.name+" is classified", func(t *testing.T) {
			got := classify(context.Background(), "decrypt", tc.err)
			if !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
				t.Fatalf("classify(%v) = %v, want %v wrapping the original", tc.err, got, tc.want)
			}
		})
	}
	t.Run("a caller's cancel is not unavailability", func(t *testing.T) {
		got := classify(context.Background(), "decrypt", context.Canceled)
		if errors.Is(got, dbservice.ErrUnavailable) || !errors.Is(got, context.Canceled) {
			t.Fatalf("classify(Canceled) = %v", got)
		}
	})
}
