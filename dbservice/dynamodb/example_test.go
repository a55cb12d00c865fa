package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/credentials"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dynamodb"
)

// The IAM policy an application needs for two collections under the prefix
// "prod_": nothing beyond the operations the provider calls.
func ExampleLeastPrivilegePolicy() {
	policy, err := dynamodb.LeastPrivilegePolicy("eu-west-1", "123456789012", "prod_agents", "prod_runs")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(policy))
	// Output:
	// {
	//   "Version": "2012-10-17",
	//   "Statement": [
	//     {
	//       "Sid": "SecuredbTables",
	//       "Effect": "Allow",
	//       "Action": [
	//         "dynamodb:BatchGetItem",
	//         "dynamodb:BatchWriteItem",
	//         "dynamodb:CreateTable",
	//         "dynamodb:DeleteItem",
	//         "dynamodb:DescribeContinuousBackups",
	//         "dynamodb:DescribeTable",
	//         "dynamodb:GetItem",
	//         "dynamodb:PutItem",
	//         "dynamodb:Query",
	//         "dynamodb:Scan",
	//         "dynamodb:UpdateContinuousBackups",
	//         "dynamodb:UpdateItem",
	//         "dynamodb:UpdateTable",
	//         "dynamodb:UpdateTimeToLive"
	//       ],
	//       "Resource": [
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/prod_agents",
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/prod_agents/index/*",
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/prod_runs",
	//         "arn:aws:dynamodb:eu-west-1:123456789012:table/prod_runs/index/*"
	//       ]
	//     },
	//     {
	//       "Sid": "SecuredbPing",
	//       "Effect": "Allow",
	//       "Action": [
	//         "dynamodb:DescribeLimits"
	//       ],
	//       "Resource": "*"
	//     }
	//   ]
	// }
}

// A Config prints without its credentials, whatever the verb.
func ExampleConfig_String() {
	cfg := dynamodb.Config{
		Region:      "eu-west-1",
		EndpointURL: "http://127.0.0.1:8000",
		TablePrefix: "dev_",
		Credentials: credentials.NewStaticCredentialsProvider("local", "not-printed", ""),
	}
	fmt.Printf("%+v\n", cfg)
	// Output:
	// dynamodb.Config{Region: eu-west-1, EndpointURL: http://127.0.0.1:8000, TablePrefix: "dev_", CreateMissing: true, Credentials: [REDACTED]}
}

// Plain HTTP is refused off loopback, before any request.
func ExampleNew_insecure() {
	_, err := dynamodb.New(context.Background(), dynamodb.Config{EndpointURL: "http://dynamodb.internal.example:8000"})
	fmt.Println(errors.Is(err, dbservice.ErrInsecure))
	// Output:
	// true
}

// Open the provider from the environment (DYNAMODB_REGION,
// DYNAMODB_ENDPOINT_URL, DYNAMODB_TABLE_PREFIX, ...) with credentials from
// the AWS SDK's default chain, then store and read a document.
func ExampleNew() {
	cfg, err := dynamodb.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	db, err := dynamodb.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	rev, err := db.Save(ctx, "agents", "a1", dbservice.Doc{"name": "gofannon"}, dbservice.IfAbsent())
	if err != nil {
		log.Fatal(err)
	}
	doc, err := db.Get(ctx, "agents", "a1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc["name"], doc["_rev"] == rev)
}

// The native SDK client, for what securedb does not cover. What is done
// with it bypasses validation, limits and the audit trail.
func ExampleService_As() {
	db, err := dynamodb.New(context.Background(), dynamodb.Config{Region: "eu-west-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var client *awsdynamodb.Client
	fmt.Println(dbservice.As(db, &client), client != nil)
	// Output:
	// true true
}
