package dynamodb

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// A document with an expiry carries it twice: ExpiresField as
// validate.TimeLayout text, which reads return and filters compare (text
// order is time order, to the microsecond), and ttlAttr, the table's TTL
// attribute, a number of epoch seconds rounded up so that DynamoDB never
// deletes an item before it expired. DynamoDB deletes expired items
// lazily (typically within days, and DynamoDB Local may never), so every
// read also filters: a condition or filter expression on ExpiresField
// where the call takes one, and dbservice.Expired with the process clock
// on every item returned.
const (
	expiresAttr = dbservice.ExpiresField
	ttlAttr     = "_ttl"
)

// expiryValues returns the two attribute values for an expiry at t.
func expiryValues(t time.Time) (text *types.AttributeValueMemberS, ttl *types.AttributeValueMemberN) {
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return &types.AttributeValueMemberS{Value: validate.FormatTime(t)},
		&types.AttributeValueMemberN{Value: strconv.FormatInt(secs, 10)}
}

// enableTTL turns on DynamoDB's own expiry on ttlAttr for a table the
// provider created. A server without the API is logged once and not an
// error: reads filter expired documents either way, only their storage is
// then not reclaimed.
func (s *Service) enableTTL(ctx context.Context, table string) error {
	_, err := s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(ttlAttr),
			Enabled:       aws.Bool(true),
		},
	})
	switch code := errorCode(err); {
	case err == nil:
		return nil
	case code == codeUnknownOperation:
		if !s.ttlMissing.Swap(true) {
			s.log.Warn("dynamodb: the server has no time-to-live API; expired documents are hidden but not deleted",
				"provider", provider, "table", table)
		}
		return nil
	case code == "ValidationException":
		// Already enabled (by an earlier run or by Terraform): DynamoDB
		// refuses to enable it twice.
		return nil
	}
	return classify(ctx, err)
}

// itemExpired reports whether a raw item has expired at now.
func itemExpired(item map[string]types.AttributeValue, now time.Time) bool {
	text, ok := item[expiresAttr].(*types.AttributeValueMemberS)
	return ok && dbservice.Expired(dbservice.Doc{expiresAttr: text.Value}, now)
}
