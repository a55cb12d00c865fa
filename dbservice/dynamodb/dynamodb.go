package dynamodb

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"
	"golang.org/x/sync/singleflight"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
)

// Service is a dbservice.Service on Amazon DynamoDB. It also implements
// dbservice.BulkWriter and dbservice.PostureChecker. Methods are safe for
// concurrent use.
type Service struct {
	client        *dynamodb.Client
	prefix        string
	kmsKeyID      string
	createMissing bool
	limits        validate.Limits
	budget        int
	cursors       *dbservice.CursorSigner
	endpoint      *url.URL // nil: the SDK's regional endpoint
	collections   []string
	log           *slog.Logger
	conns         connSet // connections of the SDK's HTTP client, closed by Close

	// base is cancelled by Close; it bounds table creation, which outlives
	// the call that started it so that concurrent callers can share it.
	base   context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	mu          sync.RWMutex
	tables      map[string]bool // tables known to exist and be ACTIVE
	creating    singleflight.Group
	ix          indexCache
	ixOn        bool
	ixShards    int
	ixRefresh   time.Duration
	ixTimeout   time.Duration // bounds one index creation; tests shorten it
	pitrMissing atomic.Bool   // the server has no point-in-time recovery API
	ttlMissing  atomic.Bool   // the server has no time-to-live API
}

var (
	_ dbservice.Service        = (*Service)(nil)
	_ dbservice.BulkWriter     = (*Service)(nil)
	_ dbservice.PostureChecker = (*Service)(nil)
)

// DBSystemName implements telemetry.Describer: "aws.dynamodb".
func (s *Service) DBSystemName() string { return "aws.dynamodb" }

// DBNamespace implements telemetry.Describer. DynamoDB has no database
// above its tables, so there is none (the SDK's spans carry the region).
func (s *Service) DBNamespace(string) string { return "" }

// New returns a Service for cfg. It checks the configuration and builds the
// client but makes no network call; use Ping to check connectivity and
// credentials. A plain-HTTP endpoint off loopback is ErrInsecure unless
// cfg.AllowInsecureEndpoint is set; other configuration errors are
// ErrInvalid.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, openErr(err)
	}
	if err := cfg.check(); err != nil {
		return nil, openErr(err)
	}
	ep, err := cfg.endpoint()
	if err != nil {
		return nil, openErr(err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		prefix:        cfg.TablePrefix,
		kmsKeyID:      cfg.KMSKeyID,
		createMissing: cfg.createMissing(),
		budget:        cfg.ScanBudget,
		limits:        cfg.Limits,
		cursors:       cfg.Cursors,
		endpoint:      ep,
		collections:   append([]string(nil), cfg.Collections...),
		log:           log,
		tables:        map[string]bool{},
		ixOn:          !cfg.ScanOnly,
		ixShards:      cfg.IndexShards,
		ixRefresh:     cfg.IndexRefresh,
		ixTimeout:     createTimeout,
	}
	if s.ixShards == 0 {
		s.ixShards = DefaultIndexShards
	}

	var awsCfg aws.Config
	if cfg.AWS != nil {
		awsCfg = cfg.AWS.Copy()
	} else {
		loaded, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.region()))
		if err != nil {
			return nil, openErr(fmt.Errorf("%w: cannot load the AWS configuration (shared config, profile or CA bundle)", dbservice.ErrInvalid))
		}
		awsCfg = loaded
	}
	if awsCfg.HTTPClient == nil {
		// The SDK's own client, so that dynamodb.New applies its defaults
		// (connect and TLS handshake timeouts, read timeout, redirect
		// policy) exactly as for any SDK user.
		awsCfg.HTTPClient = awshttp.NewBuildableClient()
	}
	timeout := cfg.callTimeout()
	awsCfg.Region = cfg.region()
	if awsCfg.Retryer == nil && awsCfg.RetryMode == "" {
		// Retries the caller left to the SDK: its standard retryer, with a
		// backoff that lets a call see a server that is back (see
		// quickRetryer). A retryer or retry mode of the caller's is kept,
		// and so is AWS_MAX_ATTEMPTS (the SDK applies it on top).
		awsCfg.Retryer = quickRetryer
	}
	if cfg.Credentials != nil {
		awsCfg.Credentials = cfg.Credentials
	}
	if _, anonymous := awsCfg.Credentials.(aws.AnonymousCredentials); awsCfg.Credentials != nil && !anonymous {
		awsCfg.Credentials = aws.NewCredentialsCache(markedCredentials{awsCfg.Credentials})
	}
	opts := []func(*dynamodb.Options){func(o *dynamodb.Options) {
		// Runs after the SDK resolved its HTTP client: a BuildableClient
		// (the SDK's, or one the caller left buildable) keeps every
		// setting and only learns to report its connections, so that
		// Close can release them and their goroutines, which the
		// BuildableClient otherwise keeps out of reach.
		if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = bc.WithTransportOptions(func(tr *http.Transport) { tr.DialContext = s.conns.track(tr.DialContext) })
		}
		o.APIOptions = append(o.APIOptions, callTimeoutMiddleware(timeout))
		o.Logger = sdkLogger(log)
		if cfg.TracerProvider != nil {
			o.TracerProvider = otelTracerProvider{cfg.TracerProvider}
		}
		if ep != nil {
			o.BaseEndpoint = aws.String(ep.String())
			// DynamoDB Local omits the X-Amz-Crc32 header on error answers,
			// which the SDK reports as a corrupt body on every conditional
			// failure. On loopback there is no network to corrupt anything.
			o.DisableValidateResponseChecksum = isLoopback(ep.Hostname())
		}
	}}
	s.client = dynamodb.NewFromConfig(awsCfg, append(opts, cfg.ClientOptions...)...)
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// markedCredentials tags failures of the credential chain, which the SDK
// only wraps in text ("get identity: ..."), so classify can report them as
// ErrUnauthorized.
type markedCredentials struct{ aws.CredentialsProvider }

// Retrieve implements aws.CredentialsProvider.
func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// sdkLogger forwards the SDK's own log lines (warnings about retries or
// response bodies; request logging is never enabled) to log.
func sdkLogger(log *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "aws sdk: "+fmt.Sprintf(format, v...), "provider", provider)
	})
}

// precheck is the order every method follows: context, closed, input.
func (s *Service) precheck(ctx context.Context, op, coll, id string, needID bool) error {
	return dbservice.CheckCall(ctx, s.closed.Load(), provider, op, coll, id, needID)
}

// Get implements dbservice.Service with a strongly consistent GetItem, so a
// read after a write sees it. A missing table is ErrNotFound.
func (s *Service) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	if err := s.precheck(ctx, "get", coll, id, true); err != nil {
		return nil, err
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table(coll)),
		Key:            key(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fail("get", coll, id, classify(ctx, err))
	}
	if out.Item == nil {
		return nil, fail("get", coll, id, dbservice.ErrNotFound)
	}
	doc, err := decodeItem(out.Item)
	if err != nil {
		return nil, fail("get", coll, id, fmt.Errorf("%w: %s", dbservice.ErrUnavailable, err))
	}
	if dbservice.Expired(doc, time.Now()) {
		return nil, fail("get", coll, id, dbservice.ErrNotFound)
	}
	return doc, nil
}

// Save implements dbservice.Service with one PutItem. IfAbsent and IfRev
// become condition expressions (attribute_not_exists(_id) or expired,
// _rev = :rev and not expired), so the check and the write are one atomic
// step on the server. ExpiresAt stores ExpiresField and the TTL attribute;
// without it the new item has neither, so the expiry is cleared.
func (s *Service) Save(ctx context.Context, coll, id string, doc dbservice.Doc, opts ...dbservice.WriteOption) (string, error) {
	if err := s.precheck(ctx, "save", coll, id, true); err != nil {
		return "", err
	}
	o, err := dbservice.ApplySaveOptions(opts...)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	nd, err := dbservice.NormalizeDoc(doc, s.limits)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	rev := newRev()
	item, size, err := encodeItem(id, rev, nd, o.ExpiresAt)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	list, err := s.indexes(ctx, s.table(coll))
	if err != nil {
		return "", fail("save", coll, id, classify(ctx, err))
	}
	if err := addIndexAttrs(item, size, list, id, nd); err != nil {
		return "", fail("save", coll, id, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table(coll)), Item: item}
	now := time.Now()
	b := newExprBuilder()
	switch {
	case o.IfAbsent:
		in.ConditionExpression = aws.String("(attribute_not_exists(" + b.path(idAttr) + ") OR " + b.expired(now) + ")")
	case o.IfRev != "":
		in.ConditionExpression = aws.String(b.path(revAttr) + " = " + b.value(&types.AttributeValueMemberS{Value: o.IfRev}) + " AND " + b.live(now))
	}
	b.attach(&in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	err = s.write(ctx, coll, func() error {
		_, err := s.client.PutItem(ctx, in)
		return err
	})
	switch {
	case err == nil:
		return rev, nil
	case errorCode(err) == codeConditionFailed && o.IfAbsent:
		return "", fail("save", coll, id, fmt.Errorf("%w: document exists", dbservice.ErrConflict))
	case errorCode(err) == codeConditionFailed:
		return "", fail("save", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
	}
	return "", fail("save", coll, id, classify(ctx, err))
}

// Delete implements dbservice.Service. The condition attribute_exists(_id)
// turns a delete of nothing into ErrNotFound; with IfRev the item DynamoDB
// returns on a failed condition tells a stale revision (ErrConflict) from a
// missing document (ErrNotFound).
func (s *Service) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	if err := s.precheck(ctx, "delete", coll, id, true); err != nil {
		return err
	}
	o, err := dbservice.ApplyDeleteOptions(opts...)
	if err != nil {
		return fail("delete", coll, id, err)
	}
	now := time.Now()
	b := newExprBuilder()
	cond := "attribute_exists(" + b.path(idAttr) + ") AND " + b.live(now)
	in := &dynamodb.DeleteItemInput{TableName: aws.String(s.table(coll)), Key: key(id)}
	if o.IfRev != "" {
		cond += " AND " + b.path(revAttr) + " = " + b.value(&types.AttributeValueMemberS{Value: o.IfRev})
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	in.ConditionExpression = aws.String(cond)
	b.attach(&in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	_, err = s.client.DeleteItem(ctx, in)
	if err == nil {
		return nil
	}
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		// An expired item is absent: deleting it is ErrNotFound, and TTL
		// reclaims it.
		if o.IfRev != "" && cf.Item != nil && !itemExpired(cf.Item, now) {
			return fail("delete", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
		}
		return fail("delete", coll, id, dbservice.ErrNotFound)
	}
	return fail("delete", coll, id, classify(ctx, err))
}

// Ping implements dbservice.Service with DescribeLimits: a signed request
// that proves the endpoint answers and accepts the credentials, without
// touching a table or listing table names.
func (s *Service) Ping(ctx context.Context) error {
	if err := s.precheck(ctx, "ping", "", "", false); err != nil {
		return err
	}
	if _, err := s.client.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{}); err != nil {
		return fail("ping", "", "", classify(ctx, err))
	}
	return nil
}

// Close implements dbservice.Service: it stops table creations in flight
// and closes the connections of the SDK's HTTP client (a call still in
// progress then fails). It is idempotent. An HTTP client supplied in
// Config.AWS that is not an awshttp.BuildableClient is left to its owner.
func (s *Service) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancel()
	s.closeTransport()
	return nil
}

func (s *Service) closeTransport() { s.conns.closeAll() }

// write runs put, first making sure the table exists when CreateMissing is
// on. A table that disappeared since it was cached (deleted, or an
// in-memory DynamoDB Local restarted) is created again once.
func (s *Service) write(ctx context.Context, coll string, put func() error) error {
	table := s.table(coll)
	if !s.createMissing {
		return put()
	}
	if err := s.ensureTable(ctx, table); err != nil {
		return err
	}
	err := put()
	if errorCode(err) != codeNotFound {
		return err
	}
	s.forget(table)
	if err := s.ensureTable(ctx, table); err != nil {
		return err
	}
	return put()
}

func (s *Service) table(coll string) string { return s.prefix + coll }

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{idAttr: &types.AttributeValueMemberS{Value: id}}
}

// newRev returns a fresh opaque revision: 96 random bits, so a revision is
// never reused, not even across a delete and re-create.
func newRev() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
