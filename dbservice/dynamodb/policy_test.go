package dynamodb

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

type policyDoc struct {
	Version   string
	Statement []struct {
		Sid      string
		Effect   string
		Action   []string
		Resource any
	}
}

func parsePolicy(t *testing.T, b []byte) policyDoc {
	t.Helper()
	var p policyDoc
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("policy is not JSON: %v", err)
	}
	return p
}

// policyActions returns the operation names a policy allows, without the
// "dynamodb:" prefix.
func policyActions(t *testing.T, p policyDoc) []string {
	t.Helper()
	var out []string
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			t.Fatalf("statement %s has effect %q", st.Sid, st.Effect)
		}
		for _, a := range st.Action {
			if len(a) < 10 || a[:9] != "dynamodb:" {
				t.Fatalf("action %q is not a DynamoDB action", a)
			}
			out = append(out, a[9:])
		}
	}
	slices.Sort(out)
	return out
}

func TestLeastPrivilegePolicyNamesOnlyTheTables(t *testing.T) {
	b, err := LeastPrivilegePolicy("cn-north-1", "123456789012", "app_agents", "app_runs", "app_agents", "tmp_*")
	if err != nil {
		t.Fatal(err)
	}
	p := parsePolicy(t, b)
	if p.Version != "2012-10-17" || len(p.Statement) != 2 {
		t.Fatalf("policy = %+v, want version 2012-10-17 and two statements", p)
	}
	res, ok := p.Statement[0].Resource.([]any)
	want := []any{
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/app_agents",
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/app_agents/index/*",
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/app_runs",
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/app_runs/index/*",
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/tmp_*",
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/tmp_*/index/*",
	}
	if !ok || !slices.Equal(res, want) {
		t.Fatalf("table statement resources = %v, want %v", p.Statement[0].Resource, want)
	}
	if p.Statement[1].Resource != "*" || !slices.Equal(p.Statement[1].Action, []string{"dynamodb:DescribeLimits"}) {
		t.Fatalf("the statement on * = %+v, want DescribeLimits only", p.Statement[1])
	}
	for _, a := range p.Statement[0].Action {
		if a == "dynamodb:*" || a == "dynamodb:DeleteTable" || a == "dynamodb:ListTables" {
			t.Fatalf("policy grants %s, which the provider never calls", a)
		}
	}
}

func TestLeastPrivilegePolicyRefusesBadInput(t *testing.T) {
	cases := []struct {
		name    string
		region  string
		account string
		tables  []string
	}{
		{"no table", "us-east-1", "123456789012", nil},
		{"a wildcard alone", "us-east-1", "123456789012", []string{"*"}},
		{"a table name with a slash", "us-east-1", "123456789012", []string{"a/b"}},
		{"a short account", "us-east-1", "1234", []string{"app"}},
		{"a region with JSON in it", `us-east-1","Resource":"*`, "123456789012", []string{"app"}},
	}
	for _, c := range cases {
		t.Run(c.name+" is refused", func(t *testing.T) {
			if _, err := LeastPrivilegePolicy(c.region, c.account, c.tables...); !errors.Is(err, dbservice.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
