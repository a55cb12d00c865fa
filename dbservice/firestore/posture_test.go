package firestore

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func TestPostureOnTheEmulator(t *testing.T) {
	t.Setenv(EnvCredentials, "")
	s := newServer(t)
	findings := s.CheckPosture(t.Context())
	for _, f := range findings {
		t.Logf("%-20s %-4s %s | fix: %s", f.ID, f.Status, f.Detail, f.Fix)
	}
	want := map[string]dbservice.Status{
		"auth-enabled":       dbservice.Warn,
		"tls":                dbservice.Warn,
		"secrets-manager":    dbservice.Skip,
		"security-rules":     dbservice.Skip,
		"network-restricted": dbservice.Skip,
		"cursor-key":         dbservice.Warn,
	}
	checkFindings(t, findings, want)
	for _, f := range findings {
		if f.Status != dbservice.Pass && f.Fix == "" && f.ID != "secrets-manager" {
			t.Errorf("finding %s (%s) has no Fix", f.ID, f.Status)
		}
	}
}

func checkFindings(t *testing.T, findings []dbservice.Finding, want map[string]dbservice.Status) {
	t.Helper()
	got := map[string]dbservice.Status{}
	for _, f := range findings {
		if _, dup := got[f.ID]; dup {
			t.Errorf("finding %s reported twice", f.ID)
		}
		got[f.ID] = f.Status
		if f.Title == "" || f.Detail == "" {
			t.Errorf("finding %s lacks a title or detail: %+v", f.ID, f)
		}
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("finding %s = %q, want %q", id, got[id], st)
		}
	}
	if len(got) != len(want) {
		t.Errorf("findings %v, want exactly %v", got, want)
	}
}

func TestPostureOfKeyFiles(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(t.TempDir()) // the key files lie outside the working directory
	write := func(name, typ string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(`{"type":"`+typ+`"}`), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		path string
		want map[string]dbservice.Status
	}{
		{"a private service-account key is still a key", write("sa.json", "service_account", 0o600),
			map[string]dbservice.Status{"secrets-manager": dbservice.Warn, "key-file-permissions": dbservice.Pass, "key-file-location": dbservice.Pass}},
		{"a key readable by others fails", write("open.json", "service_account", 0o644),
			map[string]dbservice.Status{"secrets-manager": dbservice.Warn, "key-file-permissions": dbservice.Fail, "key-file-location": dbservice.Pass}},
		{"a key readable by the group fails", write("group.json", "service_account", 0o640),
			map[string]dbservice.Status{"secrets-manager": dbservice.Warn, "key-file-permissions": dbservice.Fail, "key-file-location": dbservice.Pass}},
		{"workload identity federation holds no key", write("wif.json", "external_account", 0o600),
			map[string]dbservice.Status{"secrets-manager": dbservice.Pass, "key-file-permissions": dbservice.Pass, "key-file-location": dbservice.Pass}},
		{"a user's credentials are not the application's", write("user.json", "authorized_user", 0o600),
			map[string]dbservice.Status{"secrets-manager": dbservice.Warn, "key-file-permissions": dbservice.Pass, "key-file-location": dbservice.Pass}},
		{"a missing file cannot be examined", filepath.Join(dir, "absent.json"),
			map[string]dbservice.Status{"secrets-manager": dbservice.Warn, "key-file-permissions": dbservice.Skip, "key-file-location": dbservice.Skip}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := map[string]dbservice.Status{}
			for _, f := range keyFileFindings(c.path) {
				got[f.ID] = f.Status
				if (f.Status == dbservice.Warn || f.Status == dbservice.Fail) && f.Fix == "" {
					t.Errorf("finding %s (%s) has no Fix", f.ID, f.Status)
				}
			}
			for id, st := range c.want {
				if got[id] != st {
					t.Errorf("finding %s = %q, want %q", id, got[id], st)
				}
			}
		})
	}

	t.Run("a key inside the working directory tree risks a commit", func(t *testing.T) {
		t.Chdir(dir)
		for _, f := range keyFileFindings(filepath.Join("sa.json")) {
			if f.ID == "key-file-location" && f.Status != dbservice.Warn {
				t.Fatalf("key-file-location = %s (%s), want warn", f.Status, f.Detail)
			}
		}
	})
}

// TestCanaryCredentialsNeverLeak runs the provider in production mode with
// a service-account key holding a real (generated) private key, against a
// TLS gRPC server that refuses every request as unauthenticated and
// quotes the bearer token it got in its message (its token endpoint, if
// the SDK asks one instead of signing its own JWT, refuses too). Neither
// errors, logs, posture findings nor the printed configuration may contain
// any part of the key or of the token.
func TestCanaryCredentialsNeverLeak(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	body := strings.Split(keyPEM, "\n")[5] // a line from the middle of the key
	keyID := "canary-key-id-" + runPrefix

	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
	}))
	defer tokens.Close()
	addr := fakeFirestoreTLS(t)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sa-key.json")
	sa, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "canary-project",
		"private_key_id": keyID,
		"private_key":    keyPEM,
		"client_email":   "app@canary-project.iam.gserviceaccount.com",
		"client_id":      "1234567890",
		"token_uri":      tokens.URL + "/token",
	})
	if err := os.WriteFile(keyFile, sa, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // the key lies in the working directory, readable by all: the worst case
	t.Setenv(EnvEmulatorHost, "")
	t.Setenv(EnvCredentials, "")

	var logs bytes.Buffer
	cfg := Config{
		ProjectID:       "canary-project",
		CredentialsFile: keyFile,
		CallTimeout:     5 * time.Second,
		Logger:          slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ClientOptions: []option.ClientOption{
			option.WithEndpoint(addr.host),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(addr.roots, "127.0.0.1"))),
		},
	}
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()

	var texts []string
	coll := dbtest.Collection(t)
	err = s.Ping(t.Context())
	if !errors.Is(err, dbservice.ErrUnauthorized) {
		t.Fatalf("Ping with a key the token endpoint refuses = %v, want ErrUnauthorized", err)
	}
	bearer, _ := addr.bearer.Load().(string)
	if !strings.HasPrefix(bearer, "Bearer ") || len(bearer) < 40 {
		t.Fatalf("the server got authorization %q: the key was not used", bearer)
	}
	texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	_, err = s.Get(t.Context(), coll, "x")
	texts = append(texts, fmt.Sprint(err))
	_, err = s.Save(t.Context(), coll, "x", dbservice.Doc{"v": 1})
	texts = append(texts, fmt.Sprint(err))
	err = s.SaveMany(t.Context(), coll, []dbservice.BulkItem{{ID: "x", Doc: dbservice.Doc{"v": 1}}})
	texts = append(texts, fmt.Sprint(err))
	_, err = s.Query(t.Context(), coll, dbservice.Query{})
	texts = append(texts, fmt.Sprint(err))

	findings := s.CheckPosture(t.Context())
	for _, f := range findings {
		t.Logf("%-20s %-4s %s | fix: %s", f.ID, f.Status, f.Detail, f.Fix)
		texts = append(texts, fmt.Sprintf("%+v", f))
	}
	checkFindings(t, findings, map[string]dbservice.Status{
		"auth-enabled":         dbservice.Pass,
		"tls":                  dbservice.Warn, // a gRPC dial option sets the TLS: it cannot be seen
		"secrets-manager":      dbservice.Warn,
		"key-file-permissions": dbservice.Fail,
		"key-file-location":    dbservice.Warn,
		"security-rules":       dbservice.Skip,
		"network-restricted":   dbservice.Skip,
		"cursor-key":           dbservice.Warn,
	})
	texts = append(texts, fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logs.String())
	for _, text := range texts {
		for _, secret := range []string{body, keyID, "PRIVATE KEY", strings.TrimPrefix(bearer, "Bearer ")} {
			if strings.Contains(text, secret) {
				t.Fatalf("output contains part of the credentials (%.12s…): %s", secret, text)
			}
		}
	}
	t.Logf("errors seen: %s", texts[0])
}

type tlsServer struct {
	host   string
	roots  *x509.CertPool
	bearer *atomic.Value // the last authorization header received
}

// fakeFirestoreTLS starts a gRPC server with a self-signed certificate for
// 127.0.0.1 that answers every request Unauthenticated, quoting the
// credentials it was sent.
func fakeFirestoreTLS(t *testing.T) tlsServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bearer := &atomic.Value{}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			md, _ := metadata.FromIncomingContext(stream.Context())
			auth := strings.Join(md.Get("authorization"), ",")
			bearer.Store(auth)
			return status.Error(codes.Unauthenticated, "Request had invalid authentication credentials: "+auth)
		}),
	)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return tlsServer{host: l.Addr().String(), roots: roots, bearer: bearer}
}

// TestTLSPostureSaysWhenClientOptionsHideTheTransport checks that "tls"
// for Google Cloud is a pass only while the SDK builds its own TLS
// transport: ClientOptions that replace it cannot be looked into.
func TestTLSPostureSaysWhenClientOptionsHideTheTransport(t *testing.T) {
	t.Setenv(EnvEmulatorHost, "")
	t.Setenv(EnvCredentials, "")
	cases := []struct {
		name string
		opts []option.ClientOption
		want dbservice.Status
	}{
		{"the SDK's transport", nil, dbservice.Pass},
		{"options that leave the transport alone", []option.ClientOption{option.WithUserAgent("app/1"), option.WithEndpoint("firestore.example:443")}, dbservice.Pass},
		{"a gRPC dial option (here: no TLS at all)", []option.ClientOption{
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		}, dbservice.Warn},
	}
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name string
		opts []option.ClientOption
		want dbservice.Status
	}{"a gRPC connection of the caller's", []option.ClientOption{option.WithGRPCConn(conn)}, dbservice.Warn})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := append([]option.ClientOption{option.WithoutAuthentication()}, c.opts...)
			s, err := New(t.Context(), Config{ProjectID: "posture-project", ClientOptions: opts})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var f dbservice.Finding
			for _, x := range s.CheckPosture(t.Context()) {
				if x.ID == "tls" {
					f = x
				}
			}
			t.Logf("%s: %s", f.Status, f.Detail)
			if f.Status != c.want {
				t.Fatalf("tls = %s (%s), want %s", f.Status, f.Detail, c.want)
			}
		})
	}
}
