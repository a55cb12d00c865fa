package awssm_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeVersion is one version of a secret in the fake service.
type fakeVersion struct {
	id     string
	stages []string
	str    *string
	bin    []byte
}

// fakeSecretsManager speaks the Secrets Manager JSON 1.1 wire protocol for
// GetSecretValue, the only operation the resolver uses, so the real SDK
// client (serializer, signer, retryer, error decoder) runs unmodified.
type fakeSecretsManager struct {
	t          *testing.T
	accessKey  string
	secrets    map[string][]fakeVersion // by name and by ARN
	failures   map[string]fakeFailure   // by secret ID
	requests   atomic.Int64
	mu         sync.Mutex
	flakyCalls map[string]int
}

type fakeFailure struct {
	status int
	code   string
	// times is how many requests fail before the secret is served; 0 means
	// every request fails.
	times int
}

var authHeader = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/\d{8}/us-east-1/secretsmanager/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)

func (f *fakeSecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.fail(w, http.StatusNotFound, "UnknownOperationException", "bad method or path")
		return
	}
	if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
		f.t.Errorf("X-Amz-Target = %q", got)
		f.fail(w, http.StatusBadRequest, "UnknownOperationException", "unknown target")
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		f.t.Errorf("Content-Type = %q", got)
	}
	m := authHeader.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || m[1] != f.accessKey || r.Header.Get("X-Amz-Date") == "" {
		f.t.Errorf("request not SigV4-signed with the test key: Authorization=%q", r.Header.Get("Authorization"))
		f.fail(w, http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	if !slices.Contains(regexp.MustCompile(";").Split(m[2], -1), "x-amz-target") {
		f.t.Errorf("X-Amz-Target is not signed: %s", m[2])
	}

	var in struct{ SecretId, VersionId, VersionStage string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretId == "" {
		f.fail(w, http.StatusBadRequest, "InvalidParameterException", "You provided an invalid value for a parameter.")
		return
	}
	if fl, ok := f.failures[in.SecretId]; ok {
		f.mu.Lock()
		f.flakyCalls[in.SecretId]++
		n := f.flakyCalls[in.SecretId]
		f.mu.Unlock()
		if fl.times == 0 || n <= fl.times {
			f.fail(w, fl.status, fl.code, "simulated "+fl.code)
			return
		}
	}
	versions, ok := f.secrets[in.SecretId]
	if !ok {
		f.fail(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	stage := in.VersionStage
	if stage == "" && in.VersionId == "" {
		stage = "AWSCURRENT"
	}
	i := slices.IndexFunc(versions, func(v fakeVersion) bool {
		return (in.VersionId == "" || v.id == in.VersionId) && (stage == "" || slices.Contains(v.stages, stage))
	})
	if i < 0 {
		f.fail(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret version.")
		return
	}
	v := versions[i]
	out := map[string]any{
		"ARN":           "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretId + "-AbCdEf",
		"Name":          in.SecretId,
		"VersionId":     v.id,
		"VersionStages": v.stages,
		"CreatedDate":   float64(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Unix()),
	}
	if v.str != nil {
		out["SecretString"] = *v.str
	}
	if v.bin != nil {
		out["SecretBinary"] = v.bin // encoding/json writes []byte as base64, as the protocol does
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "fake-request")
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeSecretsManager) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("X-Amzn-RequestId", "fake-request")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func startFake(t *testing.T, accessKey string, secrets map[string][]fakeVersion, failures map[string]fakeFailure) (*fakeSecretsManager, string) {
	t.Helper()
	f := &fakeSecretsManager{t: t, accessKey: accessKey, secrets: secrets, failures: failures, flakyCalls: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}
