package dynamodb

import "github.com/aws/aws-sdk-go-v2/service/dynamodb"

// As implements the escape hatch of dbservice.As: a *dynamodb.Client
// target receives the SDK client the Service uses. What is done with it
// bypasses every check of this library: validation, limits, the scan
// budget, expiry filtering and the audit trail.
func (s *Service) As(target any) bool {
	if p, ok := target.(**dynamodb.Client); ok && p != nil {
		*p = s.client
		return true
	}
	return false
}
