package firestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	gtransport "google.golang.org/api/transport/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/validate"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// Service is a dbservice.Service on Cloud Firestore (or its emulator). It
// also implements dbservice.BulkWriter and dbservice.PostureChecker.
// Methods are safe for concurrent use.
type Service struct {
	client   *firestore.Client
	prefix   string
	limits   validate.Limits
	budget   int
	cursors  *dbservice.CursorSigner
	timeout  time.Duration
	log      *slog.Logger
	closed   atomic.Bool
	posture  postureInput
	database string
	// adminOpts are the client options of the Admin API (EnsureExpiry):
	// the data client's credentials in production, nil on the emulator,
	// which has no Admin API.
	adminOpts []option.ClientOption
	// namespace is db.namespace for telemetry; "" when the project is
	// detected at run time.
	namespace string
	// manageIndexes makes EnsureIndex create composite indexes
	// (Config.ManageIndexes).
	manageIndexes bool
	// indexes holds, by collection, the field lists EnsureIndex declared.
	idxMu   sync.Mutex
	indexes map[string][][]string
}

var (
	_ dbservice.Service        = (*Service)(nil)
	_ dbservice.BulkWriter     = (*Service)(nil)
	_ dbservice.PostureChecker = (*Service)(nil)
)

// maxRecvBytes bounds one gRPC message from an emulator New dials itself:
// a document is at most 1 MiB, so this leaves ample room without letting
// a server make the client allocate without limit.
const maxRecvBytes = 32 << 20

// DBSystemName implements telemetry.Describer: "gcp.firestore", a name of
// this module's own (the semantic conventions have none for Firestore).
func (s *Service) DBSystemName() string { return "gcp.firestore" }

// DBNamespace implements telemetry.Describer: projects/P/databases/D.
func (s *Service) DBNamespace(string) string { return s.namespace }

// New returns a Service for cfg. It checks the configuration and builds the
// client; the only I/O is reading CredentialsFile (production) to check its
// type. Use Ping to check connectivity and credentials. A non-loopback
// emulator is ErrInsecure unless cfg.AllowRemoteEmulator is set; other
// configuration errors are ErrInvalid.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, openErr(err)
	}
	if err := cfg.check(); err != nil {
		return nil, openErr(err)
	}
	host, sdkDials, err := cfg.emulator()
	if err != nil {
		return nil, openErr(err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		prefix:        cfg.CollectionPrefix,
		budget:        cfg.ScanBudget,
		limits:        cfg.Limits,
		cursors:       cfg.Cursors,
		timeout:       cfg.callTimeout(),
		log:           log,
		database:      cfg.databaseID(),
		manageIndexes: cfg.ManageIndexes,
		posture: postureInput{
			emulator:        host,
			credentialsFile: cfg.CredentialsFile,
			opaque:          opaqueOptions(cfg.ClientOptions),
		},
	}
	if s.posture.credentialsFile == "" {
		// Application Default Credentials read the variable themselves.
		s.posture.credentialsFile = os.Getenv(EnvCredentials)
	}

	project := cfg.ProjectID
	if project == "" {
		if host != "" {
			return nil, openErr(&validate.Error{Field: "project id", Reason: "the emulator needs a project ID; set " + EnvProjectID})
		}
		project = firestore.DetectProjectID
	}
	var traced []option.ClientOption
	if cfg.TracerProvider != nil {
		traced = []option.ClientOption{
			option.WithTelemetryDisabled(),
			option.WithGRPCDialOption(grpc.WithStatsHandler(otelgrpc.NewClientHandler(
				otelgrpc.WithTracerProvider(cfg.TracerProvider),
				otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider())))),
		}
	}
	var opts []option.ClientOption
	switch {
	case sdkDials:
		// The SDK dials the emulator named by the environment variable
		// and ignores dial options; see Config.EmulatorHost.
		opts = cfg.ClientOptions
	case host != "":
		base := []option.ClientOption{
			option.WithEndpoint(host),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithPerRPCCredentials(emulatorOwner{})),
			option.WithGRPCDialOption(grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvBytes))),
			// gRPC's default reconnect backoff grows to two minutes, made
			// for remote servers; a local emulator restarted during a test
			// run should be found again within seconds.
			option.WithGRPCDialOption(grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
				MinConnectTimeout: 5 * time.Second,
			})),
			// Even that backoff leaves calls failing for up to 2.4 s after
			// a restarted emulator listens again: a call that fails
			// Unavailable makes the connection try again at once.
			option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(resetBackoffUnary)),
			option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(resetBackoffStream)),
		}
		base = append(base, traced...)
		conn, err := gtransport.DialInsecure(ctx, append(base, cfg.ClientOptions...)...)
		if err != nil {
			return nil, openErr(fmt.Errorf("%w: cannot set up a connection to the emulator at %s", dbservice.ErrUnavailable, host))
		}
		// The client owns conn from here: Client.Close closes it.
		opts = []option.ClientOption{option.WithGRPCConn(conn)}
	default:
		if cfg.CredentialsFile != "" {
			o, err := credentialsOption(cfg.CredentialsFile)
			if err != nil {
				return nil, openErr(err)
			}
			opts = append(opts, o)
		}
		opts = append(opts, traced...)
		opts = append(opts, cfg.ClientOptions...)
		s.adminOpts = opts
	}
	var client *firestore.Client
	if s.database == DefaultDatabaseID {
		client, err = firestore.NewClient(ctx, project, opts...)
	} else {
		client, err = firestore.NewClientWithDatabase(ctx, project, s.database, opts...)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, openErr(ctx.Err())
		}
		if host != "" {
			return nil, openErr(fmt.Errorf("%w: cannot create the firestore client for the emulator", dbservice.ErrUnavailable))
		}
		return nil, openErr(fmt.Errorf("%w: cannot create the firestore client: no usable Google credentials or project (Application Default Credentials, %s, %s)", dbservice.ErrUnauthorized, EnvCredentials, EnvProjectID))
	}
	s.client = client
	if project != firestore.DetectProjectID {
		s.namespace = "projects/" + project + "/databases/" + s.database
	}
	log.Debug("firestore: client ready", "provider", provider, "database", s.database, "emulator", host != "")
	return s, nil
}

// resetBackoffUnary and resetBackoffStream end gRPC's reconnect backoff on
// the emulator connection New dials whenever a call on it fails
// Unavailable: the next call (the SDK's retry, or the caller's) finds a
// restarted emulator as soon as it listens, instead of after the backoff.
// The emulator is local, so the extra connection attempts cost nothing;
// production connections keep the SDK's backoff.
func resetBackoffUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if status.Code(err) == codes.Unavailable {
		cc.ResetConnectBackoff()
	}
	return err
}

func resetBackoffStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		if status.Code(err) == codes.Unavailable {
			cc.ResetConnectBackoff()
		}
		return nil, err
	}
	return resetBackoffClientStream{cs, cc}, nil
}

// resetBackoffClientStream is a stream whose receive failing Unavailable
// ends the connection's reconnect backoff (reads such as Get are streams).
type resetBackoffClientStream struct {
	grpc.ClientStream
	cc *grpc.ClientConn
}

func (s resetBackoffClientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && err != io.EOF && status.Code(err) == codes.Unavailable {
		s.cc.ResetConnectBackoff()
	}
	return err
}

// emulator returns the emulator address in use ("" for Google Cloud) and
// whether the SDK dials it by itself (FIRESTORE_EMULATOR_HOST is set in
// the process environment).
func (c Config) emulator() (host string, sdkDials bool, err error) {
	env := os.Getenv(EnvEmulatorHost)
	switch {
	case env == "":
		return c.EmulatorHost, false, nil
	case c.EmulatorHost != "" && c.EmulatorHost != env:
		return "", false, &validate.Error{Field: "emulator host", Reason: EnvEmulatorHost + " in the environment names another emulator, and the Go SDK always connects to it; unset it or use the same address"}
	}
	if err := checkEmulatorHost(env, c.AllowRemoteEmulator); err != nil {
		return "", false, err
	}
	return env, true, nil
}

// emulatorOwner is the credential the Firestore emulator expects from
// server SDKs ("Bearer owner": full access, security rules bypassed), as
// the Go SDK sends it when it dials the emulator itself.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

// credentialTypes are the credential files New accepts, by their "type".
var credentialTypes = map[string]option.CredentialsType{
	"service_account":              option.ServiceAccount,
	"authorized_user":              option.AuthorizedUser,
	"impersonated_service_account": option.ImpersonatedServiceAccount,
	"external_account":             option.ExternalAccount,
}

// maxCredentialsBytes bounds the credentials file New reads.
const maxCredentialsBytes = 1 << 20

// credentialsOption checks a credentials file's type, as Google asks of
// anyone loading one, and returns the option that loads exactly that type.
// Errors name the file, never its contents.
func credentialsOption(path string) (option.ClientOption, error) {
	typ, err := credentialsType(path)
	if err != nil {
		return nil, err
	}
	t, ok := credentialTypes[typ]
	if !ok {
		return nil, fmt.Errorf("%w: credentials file %s is not a service account, authorized user, impersonated service account or external account configuration", dbservice.ErrInvalid, path)
	}
	return option.WithAuthCredentialsFile(t, path), nil
}

// credentialsType reads only the "type" member of a credentials file.
func credentialsType(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: cannot read credentials file %s", dbservice.ErrUnauthorized, path)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialsBytes+1))
	if err != nil || len(b) > maxCredentialsBytes {
		return "", fmt.Errorf("%w: cannot read credentials file %s", dbservice.ErrUnauthorized, path)
	}
	var v struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("%w: credentials file %s is not JSON", dbservice.ErrInvalid, path)
	}
	return v.Type, nil
}

// precheck runs the checks every method starts with: context, closed,
// collection and ID (the baseline, then Firestore's own rules).
func (s *Service) precheck(ctx context.Context, op, coll, id string, needID bool) error {
	if err := dbservice.CheckCall(ctx, s.closed.Load(), provider, op, coll, id, needID); err != nil {
		return err
	}
	if op == "ping" {
		return nil
	}
	if err := checkNativeID("collection", s.prefix+coll); err != nil {
		return fail(op, coll, id, err)
	}
	if needID {
		if err := checkNativeID("id", id); err != nil {
			return fail(op, coll, id, err)
		}
	}
	return nil
}

// call returns the context one request runs under: the caller's, bounded
// by CallTimeout with a cause classify recognizes.
func (s *Service) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.timeout, errCallTimeout)
}

func (s *Service) collection(coll string) *firestore.CollectionRef {
	return s.client.Collection(s.prefix + coll)
}

// Get implements dbservice.Service with one strongly consistent read. A
// missing document, or a collection never written, is ErrNotFound.
func (s *Service) Get(ctx context.Context, coll, id string) (dbservice.Doc, error) {
	if err := s.precheck(ctx, "get", coll, id, true); err != nil {
		return nil, err
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	snap, err := s.collection(coll).Doc(id).Get(cctx)
	if err != nil {
		return nil, fail("get", coll, id, classify(ctx, cctx, err))
	}
	doc, err := decodeSnapshot(snap)
	if err != nil {
		return nil, fail("get", coll, id, err)
	}
	if dbservice.Expired(doc, time.Now()) {
		return nil, fail("get", coll, id, dbservice.ErrNotFound)
	}
	return doc, nil
}

// decodeSnapshot returns the document with "_id" and "_rev".
func decodeSnapshot(snap *firestore.DocumentSnapshot) (dbservice.Doc, error) {
	doc, err := decodeData(snap.Data())
	if err != nil {
		return nil, err
	}
	doc["_id"] = snap.Ref.ID
	doc["_rev"] = encodeRev(snap.UpdateTime)
	return doc, nil
}

// revGuard is the field path of the write that carries an IfRev
// precondition. It deletes a field no document can have (NormalizeDoc
// refuses '.' in names), and the full replacement written after it in the
// same commit overwrites everything anyway.
var revGuard = []firestore.Update{{FieldPath: firestore.FieldPath{"securedb.revcheck"}, Value: firestore.Delete}}

// Save implements dbservice.Service. A plain Save is Set, which replaces
// the whole document. IfAbsent is Create. IfRev commits two writes
// atomically: an update carrying the LastUpdateTime precondition, then the
// full replacement (Set takes no precondition). A revision this provider
// cannot have issued is ErrConflict without a request.
//
// The revision is the document's update time. Firestore keeps it when a
// write changes nothing, so saving identical contents returns the same
// revision, which IfRev treats as current, as it is.
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
	data, err := encodeDoc(s.prefix+coll, id, nd)
	if err != nil {
		return "", fail("save", coll, id, err)
	}
	setExpiry(data, o.ExpiresAt)
	var lastUpdate time.Time
	if o.IfRev != "" {
		t, ok := decodeRev(o.IfRev)
		if !ok {
			return "", fail("save", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
		}
		lastUpdate = t
	}
	ref := s.collection(coll).Doc(id)
	cctx, cancel := s.call(ctx)
	defer cancel()
	var updated time.Time
	err = s.retryAborted(cctx, func(c context.Context) error {
		switch {
		case o.IfAbsent:
			wr, err := ref.Create(c, data)
			if err == nil {
				updated = wr.UpdateTime
				return nil
			}
			if status.Code(err) != codes.AlreadyExists {
				return err
			}
			// An expired document is absent: replace it, on condition
			// that it is still the expired version read here.
			snap, gerr := ref.Get(c)
			switch {
			case status.Code(gerr) == codes.NotFound:
				return status.Error(codes.Aborted, "document deleted meanwhile") // try Create again
			case gerr != nil:
				return gerr
			case !expiredSnap(snap, time.Now()):
				return err
			}
			updated, err = s.replaceIf(c, ref, snap.UpdateTime, data)
			if status.Code(err) == codes.FailedPrecondition {
				return status.Error(codes.AlreadyExists, "document written meanwhile")
			}
			return err
		case o.IfRev != "":
			// The precondition proves the revision; the read proves the
			// document has not expired (an expired one is absent, so its
			// revision is no longer current).
			snap, err := ref.Get(c)
			switch {
			case status.Code(err) == codes.NotFound:
				return status.Error(codes.FailedPrecondition, "document missing")
			case err != nil:
				return err
			case !snap.UpdateTime.Equal(lastUpdate) || expiredSnap(snap, time.Now()):
				return status.Error(codes.FailedPrecondition, "revision is not current")
			}
			updated, err = s.replaceIf(c, ref, lastUpdate, data)
			return err
		default:
			wr, err := ref.Set(c, data)
			if err == nil {
				updated = wr.UpdateTime
			}
			return err
		}
	})
	if err == nil {
		return encodeRev(updated), nil
	}
	switch code := status.Code(err); {
	case ctx.Err() != nil:
	// An Aborted create left after the retries never ran: it says nothing
	// about the document, so it is contention (ErrUnavailable), not "exists".
	case code == codes.AlreadyExists && o.IfAbsent:
		return "", fail("save", coll, id, fmt.Errorf("%w: document exists", dbservice.ErrConflict))
	case (code == codes.FailedPrecondition || code == codes.Aborted) && o.IfRev != "":
		return "", fail("save", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
	}
	return "", fail("save", coll, id, classify(ctx, cctx, err))
}

// Delete implements dbservice.Service. It reads the document first (an
// expired one is absent: ErrNotFound, left to the TTL policy) and then
// deletes it with a LastUpdateTime precondition on the version read, so
// the revision checked (IfRev) or the liveness seen is the one deleted; a
// write in between makes it read again (without IfRev) or ErrConflict.
func (s *Service) Delete(ctx context.Context, coll, id string, opts ...dbservice.WriteOption) error {
	if err := s.precheck(ctx, "delete", coll, id, true); err != nil {
		return err
	}
	o, err := dbservice.ApplyDeleteOptions(opts...)
	if err != nil {
		return fail("delete", coll, id, err)
	}
	ref := s.collection(coll).Doc(id)
	cctx, cancel := s.call(ctx)
	defer cancel()
	err = s.retryAborted(cctx, func(c context.Context) error {
		for range maxWriteAttempts {
			snap, err := ref.Get(c)
			switch {
			case status.Code(err) == codes.NotFound:
				return dbservice.ErrNotFound
			case err != nil:
				return err
			case expiredSnap(snap, time.Now()):
				return dbservice.ErrNotFound
			case o.IfRev != "" && encodeRev(snap.UpdateTime) != o.IfRev:
				return dbservice.ErrConflict
			}
			_, err = ref.Delete(c, firestore.LastUpdateTime(snap.UpdateTime))
			if status.Code(err) != codes.FailedPrecondition {
				return err
			}
			if o.IfRev != "" {
				return dbservice.ErrConflict
			}
		}
		return status.Error(codes.Aborted, "document changed on every attempt")
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
	case errors.Is(err, dbservice.ErrNotFound):
		return fail("delete", coll, id, dbservice.ErrNotFound)
	case errors.Is(err, dbservice.ErrConflict):
		return fail("delete", coll, id, fmt.Errorf("%w: revision is not current", dbservice.ErrConflict))
	}
	return fail("delete", coll, id, classify(ctx, cctx, err))
}

// pingCollection holds the document Ping reads. Its '.' keeps it apart
// from every collection a caller can name (validate.CollectionPattern).
const pingCollection = "securedb.ping"

// Ping implements dbservice.Service by reading a document that does not
// exist: one authenticated request that proves the server answers and
// accepts the credentials, touching no data.
func (s *Service) Ping(ctx context.Context) error {
	if err := s.precheck(ctx, "ping", "", "", false); err != nil {
		return err
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.client.Collection(s.prefix + pingCollection).Doc("ping").Get(cctx)
	if err == nil || status.Code(err) == codes.NotFound && ctx.Err() == nil {
		return nil
	}
	return fail("ping", "", "", classify(ctx, cctx, err))
}

// Close implements dbservice.Service: it closes the client and its
// connections. It is idempotent.
func (s *Service) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	_ = s.client.Close() // only fails for a connection already closed
	return nil
}

// Aborted retries: the emulator (and Firestore under heavy contention)
// aborts commits that collide with others; an aborted commit wrote
// nothing, so it is safe to send again. Backoff doubles from
// abortedDelay up to maxAbortedDelay, with jitter.
const (
	abortedAttempts = 8
	maxAbortedDelay = time.Second
)

// abortedDelay is the first backoff; a variable so that tests of the
// bound need not wait.
var abortedDelay = 10 * time.Millisecond

func (s *Service) retryAborted(ctx context.Context, f func(context.Context) error) error {
	delay := abortedDelay
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if status.Code(err) != codes.Aborted || attempt == abortedAttempts || ctx.Err() != nil {
			return err
		}
		s.log.Debug("firestore: commit aborted by contention, retrying", "provider", provider, "attempt", attempt)
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, maxAbortedDelay)
	}
}
