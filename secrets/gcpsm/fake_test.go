package gcpsm_test

import (
	"context"
	"hash/crc32"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeVersion is one version of a secret in the fake service.
type fakeVersion struct {
	data     []byte
	disabled bool
	badCRC   bool // send a checksum that does not match data
	noCRC    bool // send no checksum, as for very old versions
}

// fakeSecretManager implements AccessSecretVersion of the real gRPC service
// definition, so the real client (gax retries, routing headers, proto
// decoding) runs unmodified against it.
type fakeSecretManager struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	t        *testing.T
	secrets  map[string][]fakeVersion  // "projects/P/secrets/S" -> versions 1..n
	aliases  map[string]map[string]int // secret -> alias -> version
	failures map[string]codes.Code     // secret -> status returned for every call
	calls    atomic.Int64
}

func (f *fakeSecretManager) AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	if got := strings.Join(md.Get("x-goog-request-params"), ","); !strings.Contains(got, "name=") {
		f.t.Errorf("x-goog-request-params = %q, want the routing header naming the version", got)
	}
	if len(md.Get("authorization")) != 0 {
		f.t.Errorf("a client built WithoutAuthentication sent credentials")
	}

	secret, version, ok := strings.Cut(req.GetName(), "/versions/")
	if !ok || !strings.HasPrefix(secret, "projects/") {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource name %q", req.GetName())
	}
	if code, ok := f.failures[secret]; ok {
		return nil, status.Errorf(code, "simulated %v", code)
	}
	versions, ok := f.secrets[secret]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", secret)
	}
	n, err := strconv.Atoi(version)
	switch {
	case version == "latest":
		n = latest(versions)
	case err == nil:
	default:
		n, ok = f.aliases[secret][version]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
		}
	}
	if n < 1 || n > len(versions) {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
	}
	v := versions[n-1]
	if v.disabled {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DISABLED state.", req.GetName())
	}
	crc := int64(crc32.Checksum(v.data, crc32.MakeTable(crc32.Castagnoli)))
	if v.badCRC {
		crc ^= 1
	}
	payload := &secretmanagerpb.SecretPayload{Data: v.data, DataCrc32C: &crc}
	if v.noCRC {
		payload.DataCrc32C = nil
	}
	return &secretmanagerpb.AccessSecretVersionResponse{Name: secret + "/versions/" + strconv.Itoa(n), Payload: payload}, nil
}

// latest is the newest enabled version, as the service defines it.
func latest(versions []fakeVersion) int {
	for i, v := range slices.Backward(versions) {
		if !v.disabled {
			return i + 1
		}
	}
	return 0
}

// startFake serves f on a loopback port and returns the address.
func startFake(t *testing.T, f *fakeSecretManager) string {
	t.Helper()
	f.t = t
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(s, f)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().String()
}
