package dynamodb

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/securedb-go/securedb/validate"
)

// tableActions are the DynamoDB operations the provider calls on its
// tables: items (GetItem, PutItem, UpdateItem, DeleteItem, Scan,
// BatchGetItem, BatchWriteItem), creation with CreateMissing
// (DescribeTable, also used by the waiter, CreateTable,
// UpdateContinuousBackups, UpdateTimeToLive), global secondary indexes
// (UpdateTable in EnsureIndex, Query on an index) and CheckPosture
// (DescribeContinuousBackups). The tests record every operation the
// provider sends and compare with this list.
var tableActions = []string{
	"BatchGetItem",
	"BatchWriteItem",
	"CreateTable",
	"DeleteItem",
	"DescribeContinuousBackups",
	"DescribeTable",
	"GetItem",
	"PutItem",
	"Query",
	"Scan",
	"UpdateContinuousBackups",
	"UpdateItem",
	"UpdateTable",
	"UpdateTimeToLive",
}

// accountActions cannot be limited to a table. Ping's DescribeLimits
// returns only the account's capacity quotas: no data, no table names
// (unlike ListTables).
var accountActions = []string{"DescribeLimits"}

var (
	accountRe   = regexp.MustCompile(`^[0-9]{12}$`)
	tableNameRe = regexp.MustCompile(`^([A-Za-z0-9_.-]{3,255}|[A-Za-z0-9_.-]{1,254}\*)$`)
)

// LeastPrivilegePolicy returns an IAM policy document (JSON) that allows
// exactly the DynamoDB actions this provider calls, on the given tables of
// one account and region, plus DescribeLimits (for Ping), which IAM only
// grants on "*". Table names are full names (TablePrefix+collection); a
// name may end in '*' to cover every table with that prefix, for
// applications that create collections at run time. Each table comes
// with its indexes (table/NAME/index/*), which Query reads.
//
// Without CreateMissing the application needs neither CreateTable nor
// UpdateContinuousBackups nor UpdateTimeToLive; remove them if tables are
// provisioned elsewhere. With Config.ScanOnly it needs neither UpdateTable
// nor Query.
func LeastPrivilegePolicy(region, account string, tables ...string) ([]byte, error) {
	if !regionRe.MatchString(region) {
		return nil, &validate.Error{Field: "region", Reason: "not an AWS region name"}
	}
	if !accountRe.MatchString(account) {
		return nil, &validate.Error{Field: "account", Reason: "must be a 12-digit AWS account ID"}
	}
	if len(tables) == 0 {
		return nil, &validate.Error{Field: "tables", Reason: "name at least one table"}
	}
	arns := make([]string, 0, len(tables))
	for _, t := range tables {
		if !tableNameRe.MatchString(t) {
			return nil, &validate.Error{Field: "tables", Reason: "table names are 3 to 255 letters, digits, '_', '-' or '.', optionally ending in '*'"}
		}
		arn := "arn:" + partition(region) + ":dynamodb:" + region + ":" + account + ":table/" + t
		arns = append(arns, arn, arn+"/index/*")
	}
	slices.Sort(arns)
	arns = slices.Compact(arns)

	type statement struct {
		Sid      string   `json:"Sid"`
		Effect   string   `json:"Effect"`
		Action   []string `json:"Action"`
		Resource any      `json:"Resource"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{Sid: "SecuredbTables", Effect: "Allow", Action: qualify(tableActions), Resource: arns},
			{Sid: "SecuredbPing", Effect: "Allow", Action: qualify(accountActions), Resource: "*"},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func qualify(actions []string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = "dynamodb:" + a
	}
	return out
}

// partition is the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	}
	return "aws"
}
