package dynamodb

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
)

// Count implements dbservice.Service with a Scan of Select COUNT on the
// plan Query serves (this provider's only plan is a Scan), under the same
// filter: the server counts, and no item crosses the network. Each Scan's
// Limit is what is left of the scan budget, so the count reads at most
// the budget; when the budget runs out with LastEvaluatedKey still set,
// the count so far is returned as a lower bound with an error wrapping
// ErrBudgetExceeded (dbservice.CountBudgetError). Expired documents are
// filtered out on the server at the process clock's time.
//
// Where the filter is wider than dbservice.Match (a range on a number
// DynamoDB cannot hold), the server's count cannot be trusted, and Count
// walks Query's pages instead (dbservice.CountPages).
func (s *Service) Count(ctx context.Context, coll string, where []dbservice.Cond) (int, error) {
	if err := s.precheck(ctx, "count", coll, "", false); err != nil {
		return 0, err
	}
	q, err := dbservice.CheckQueryWith(dbservice.Query{Where: where}, s.limits)
	if err != nil {
		return 0, fail("count", coll, "", err)
	}
	budget := dbservice.ScanBudget(ctx, s.budget)
	in, exact := buildScan(s.table(coll), q, time.Now())
	if !exact {
		return dbservice.CountPages(ctx, provider, coll, where, budget, func(ctx context.Context, q dbservice.Query) (dbservice.Page, error) {
			return s.Query(ctx, coll, q)
		})
	}
	in.Select = types.SelectCount
	// Documents have a revision; index markers (markerID) do not.
	if in.ExpressionAttributeNames == nil {
		in.ExpressionAttributeNames = map[string]string{}
	}
	in.ExpressionAttributeNames[markerRevName] = revAttr
	in.FilterExpression = aws.String(aws.ToString(in.FilterExpression) + " AND attribute_exists(" + markerRevName + ")")
	n, read := 0, 0
	for {
		in.Limit = aws.Int32(int32(min(maxScanLimit, budget-read)))
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			if errorCode(err) == codeNotFound {
				return 0, nil // a collection never written is empty
			}
			return n, fail("count", coll, "", classify(ctx, err))
		}
		n += int(out.Count)
		read += int(out.ScannedCount)
		if out.LastEvaluatedKey == nil {
			return n, nil
		}
		if read >= budget {
			return n, dbservice.CountBudgetError(provider, coll, n)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
