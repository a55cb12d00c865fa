package dynamodb

import (
	"context"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/internal/tlscheck"
)

// CheckPosture implements dbservice.PostureChecker. It reports, in this
// order:
//
//   - "tls": the endpoint is HTTPS and the HTTP client verifies its
//     certificate (InsecureSkipVerify is a failure, an HTTP client whose
//     settings cannot be seen a warning; plain HTTP is a warning on
//     loopback, a failure anywhere else);
//   - "secrets-manager": no long-term IAM user access key (AKIA…) sits in
//     the environment;
//   - "encryption-at-rest": every table describes server-side encryption
//     with KMS (DescribeTable);
//   - "backups": every table has point-in-time recovery (a warning where
//     the server has no such API, as on DynamoDB Local);
//   - "least-privilege": skipped, since IAM policies are not visible from
//     inside; Fix points at LeastPrivilegePolicy.
//
// Tables are those this Service has used plus Config.Collections. Findings
// name tables and settings, never credentials.
func (s *Service) CheckPosture(ctx context.Context) []dbservice.Finding {
	out := []dbservice.Finding{s.tlsFinding(), credentialsFinding(), s.cursors.Finding()}
	tables := s.postureTables()
	switch {
	case ctx.Err() != nil || s.closed.Load():
		reason := "service closed"
		if ctx.Err() != nil {
			reason = "context done"
		}
		out = append(out,
			skipped("encryption-at-rest", "Tables are encrypted at rest with KMS", reason),
			skipped("backups", "Tables have point-in-time recovery", reason))
	case len(tables) == 0:
		reason := "no table used yet; list the collections in Config.Collections to check them before first use"
		out = append(out,
			skipped("encryption-at-rest", "Tables are encrypted at rest with KMS", reason),
			skipped("backups", "Tables have point-in-time recovery", reason))
	default:
		out = append(out, s.encryptionFinding(ctx, tables), s.backupsFinding(ctx, tables))
	}
	return append(out, dbservice.Finding{
		ID:     "least-privilege",
		Title:  "The application's IAM role allows only what the provider calls",
		Status: dbservice.Skip,
		Detail: "IAM policies cannot be read from inside the application",
		Fix:    "attach the policy dynamodb.LeastPrivilegePolicy(region, account, tables...) returns, and nothing broader, to the application's role",
	})
}

func (s *Service) postureTables() []string {
	tables := s.knownTables()
	for _, c := range s.collections {
		tables = append(tables, s.table(c))
	}
	slices.Sort(tables)
	return slices.Compact(tables)
}

// clientTLS judges the TLS settings of the SDK client's HTTP client.
func (s *Service) clientTLS() (dbservice.Status, string) {
	switch c := s.client.Options().HTTPClient.(type) {
	case *awshttp.BuildableClient:
		return tlscheck.Transport(c.GetTransport())
	default:
		return tlscheck.Client(c)
	}
}

func (s *Service) tlsFinding() dbservice.Finding {
	f := dbservice.Finding{ID: "tls", Title: "Requests travel over TLS"}
	switch {
	case s.endpoint == nil || s.endpoint.Scheme == "https":
		// HTTPS alone proves nothing: judge what the HTTP client will
		// really do.
		where := "AWS regional endpoint"
		if s.endpoint != nil {
			where = "endpoint " + s.endpoint.Host
		}
		st, detail := s.clientTLS()
		f.Status, f.Detail = st, where+" over HTTPS: "+detail
		if st != dbservice.Pass {
			f.Fix = "verify the endpoint's certificate: no InsecureSkipVerify in the HTTP client's TLS settings (trust a private CA with AWS_CA_BUNDLE or RootCAs instead), and give Config.AWS an awshttp.BuildableClient or *http.Client so CheckPosture can see them"
		}
	case isLoopback(s.endpoint.Hostname()):
		f.Status, f.Detail = dbservice.Warn, "plain HTTP to loopback endpoint "+s.endpoint.Host+" (a local emulator; traffic stays on this machine)"
		f.Fix = "use the regional HTTPS endpoint (leave EndpointURL empty) outside development"
	default:
		f.Status, f.Detail = dbservice.Fail, "plain HTTP to "+s.endpoint.Host+": documents travel in clear text"
		f.Fix = "use an https:// endpoint and unset AllowInsecureEndpoint"
	}
	return f
}

// credentialsFinding looks for a long-term IAM user key in the
// environment; temporary (ASIA…) keys and roles are what it should be.
func credentialsFinding() dbservice.Finding {
	f := dbservice.Finding{ID: "secrets-manager", Title: "No long-term AWS access keys in the environment"}
	key := strings.TrimSpace(os.Getenv("AWS_ACCESS_KEY_ID"))
	switch {
	case strings.HasPrefix(key, "AKIA"):
		f.Status = dbservice.Warn
		f.Detail = "AWS_ACCESS_KEY_ID holds a long-term IAM user access key (AKIA…)"
		f.Fix = "run with an IAM role (instance profile, ECS task role, EKS Pod Identity or IRSA, IAM Identity Center); the SDK's default chain picks it up with no code change"
	case strings.HasPrefix(key, "ASIA"):
		f.Status, f.Detail = dbservice.Pass, "temporary session credentials in the environment"
	default:
		f.Status, f.Detail = dbservice.Pass, "no long-term access key in the environment"
	}
	return f
}

func (s *Service) encryptionFinding(ctx context.Context, tables []string) dbservice.Finding {
	f := dbservice.Finding{ID: "encryption-at-rest", Title: "Tables are encrypted at rest with KMS"}
	var r rollup
	for _, t := range tables {
		out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t)})
		switch {
		case errorCode(err) == codeNotFound:
			r.add(dbservice.Skip, t+": not created yet")
		case err != nil:
			r.add(dbservice.Skip, t+": cannot describe ("+kind(ctx, err)+")")
		case out.Table.SSEDescription == nil:
			r.add(dbservice.Warn, t+": no SSE description (AWS owned key at best)")
		case out.Table.SSEDescription.Status != types.SSEStatusEnabled:
			r.add(dbservice.Warn, t+": SSE "+strings.ToLower(string(out.Table.SSEDescription.Status)))
		default:
			r.add(dbservice.Pass, t+": SSE "+string(out.Table.SSEDescription.SSEType))
		}
	}
	f.Status, f.Detail = r.result()
	if f.Status == dbservice.Warn || f.Status == dbservice.Fail {
		f.Fix = "enable SSE with a KMS key: aws dynamodb update-table --table-name TABLE --sse-specification Enabled=true,SSEType=KMS (tables this library creates have it)"
	}
	return f
}

func (s *Service) backupsFinding(ctx context.Context, tables []string) dbservice.Finding {
	f := dbservice.Finding{ID: "backups", Title: "Tables have point-in-time recovery"}
	var r rollup
	for _, t := range tables {
		out, err := s.client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(t)})
		switch code := errorCode(err); {
		case code == codeUnknownOperation:
			r.add(dbservice.Warn, t+": the server has no point-in-time recovery API")
		case code == codeNotFound || errorCode(err) == "TableNotFoundException":
			r.add(dbservice.Skip, t+": not created yet")
		case err != nil:
			r.add(dbservice.Skip, t+": cannot describe backups ("+kind(ctx, err)+")")
		case out.ContinuousBackupsDescription == nil || out.ContinuousBackupsDescription.PointInTimeRecoveryDescription == nil ||
			out.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled:
			r.add(dbservice.Fail, t+": point-in-time recovery disabled")
		default:
			r.add(dbservice.Pass, t+": point-in-time recovery enabled")
		}
	}
	f.Status, f.Detail = r.result()
	switch f.Status {
	case dbservice.Fail:
		f.Fix = "aws dynamodb update-continuous-backups --table-name TABLE --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
	case dbservice.Warn:
		f.Fix = "on AWS, tables this library creates get point-in-time recovery; a local emulator has none, so keep production data off it"
	}
	return f
}

// kind names an error's class for a finding, without its text.
func kind(ctx context.Context, err error) string {
	return dbservice.ErrorKind(classify(ctx, err))
}

func skipped(id, title, reason string) dbservice.Finding {
	return dbservice.Finding{ID: id, Title: title, Status: dbservice.Skip, Detail: reason}
}

// rollup folds per-table results into one status (fail > warn > pass >
// skip) and a detail line.
type rollup struct {
	status dbservice.Status
	notes  []string
}

var severity = map[dbservice.Status]int{dbservice.Skip: 0, dbservice.Pass: 1, dbservice.Warn: 2, dbservice.Fail: 3}

func (r *rollup) add(st dbservice.Status, note string) {
	if r.status == "" || severity[st] > severity[r.status] {
		r.status = st
	}
	r.notes = append(r.notes, note)
}

func (r *rollup) result() (dbservice.Status, string) {
	if r.status == "" {
		return dbservice.Skip, "no tables"
	}
	return r.status, strings.Join(r.notes, "; ")
}
