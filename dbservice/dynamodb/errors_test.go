package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/securedb-go/securedb/dbservice"
)

func TestServerErrorsMapToSentinels(t *testing.T) {
	const canary = "arn:aws:iam::123456789012:user/canary-principal"
	api := func(code string) error {
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "PutItem",
			Err: &smithy.GenericAPIError{Code: code, Message: "User: " + canary + " is not authorized"}}
	}
	cases := []struct {
		name     string
		err      error
		sentinel error
	}{
		{"a failed condition is a conflict", api("ConditionalCheckFailedException"), dbservice.ErrConflict},
		{"a missing table is not found", api("ResourceNotFoundException"), dbservice.ErrNotFound},
		{"access denied is forbidden", api("AccessDeniedException"), dbservice.ErrForbidden},
		{"an unknown key is unauthorized", api("UnrecognizedClientException"), dbservice.ErrUnauthorized},
		{"a bad signature is unauthorized", api("InvalidSignatureException"), dbservice.ErrUnauthorized},
		{"an expired token is unauthorized", api("ExpiredTokenException"), dbservice.ErrUnauthorized},
		{"throttling is unavailable", api("ProvisionedThroughputExceededException"), dbservice.ErrUnavailable},
		{"a server failure is unavailable", api("InternalServerError"), dbservice.ErrUnavailable},
		{"a validation error is invalid", api("ValidationException"), dbservice.ErrInvalid},
		{"an unknown code is unavailable", api("SomethingNewException"), dbservice.ErrUnavailable},
		{"a refused connection is unavailable", fmt.Errorf("operation error: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused to " + canary)}), dbservice.ErrUnavailable},
		{"a failing credential chain is unauthorized", fmt.Errorf("get identity: %w", &credentialsError{errors.New("no EC2 IMDS role " + canary)}), dbservice.ErrUnauthorized},
		{"a signing failure is unauthorized", &v4.SigningError{Err: errors.New("failed to retrieve credentials " + canary)}, dbservice.ErrUnauthorized},
		{"a cancelled request is the context's error", fmt.Errorf("op: %w", context.Canceled), context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := classify(context.Background(), c.err)
			if !errors.Is(got, c.sentinel) {
				t.Fatalf("classify = %v, want %v", got, c.sentinel)
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(got, s) {
					n++
				}
			}
			if c.sentinel != context.Canceled && n != 1 {
				t.Fatalf("classify = %v matches %d sentinels, want exactly one", got, n)
			}
			if strings.Contains(got.Error(), "canary") {
				t.Fatalf("classified error repeats the server's message: %v", got)
			}
			if again := classify(context.Background(), fail("get", "agents", "a1", got)); !errors.Is(again, c.sentinel) {
				t.Fatalf("classifying twice changed %v into %v", got, again)
			}
		})
	}
	t.Run("a done context wins over the server's answer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if got := classify(ctx, api("InternalServerError")); !errors.Is(got, context.Canceled) {
			t.Fatalf("classify = %v, want context.Canceled", got)
		}
	})
}
