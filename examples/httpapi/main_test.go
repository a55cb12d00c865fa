package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunServesWithZeroSetupAndShutsDown(t *testing.T) {
	t.Setenv("API_TOKEN", "")
	t.Setenv("DATABASE_PROVIDER", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	stderr := &syncBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"-addr", "127.0.0.1:0"}, stdoutW, stderr)
		stdoutW.Close()
	}()

	// The usage hint names the address and the demo token.
	var base, token string
	sc := bufio.NewScanner(stdoutR)
	for sc.Scan() && (base == "" || token == "") {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "listening on "); ok {
			base = a
		}
		if tok, ok := strings.CutPrefix(strings.TrimSpace(line), "sdb1.demo."); ok {
			token = "sdb1.demo." + tok
		}
	}
	go io.Copy(io.Discard, stdoutR)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || token == "" {
		t.Fatalf("usage hint lacks the address or token (base %q)", base)
	}

	req, _ := http.NewRequest("PUT", base+"/v1/agents/a1", strings.NewReader(`{"name":"gofannon"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("PUT with the demo token: %d", resp.StatusCode)
	}

	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("exit status %d after shutdown\n%s", code, stderr.String())
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"principal":"demo"`) {
		t.Errorf("no audit record for the demo principal:\n%s", logs)
	}
	if strings.Contains(logs, token[len("sdb1.demo."):]) {
		t.Error("the demo token reached the logs")
	}
}

func TestRunMintsTokensWithTheConfiguredKey(t *testing.T) {
	key := "mint-test-key-0123456789abcdefghij"
	keyFile := filepath.Join(t.TempDir(), "api-key")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, _ := newTokenAuth([]byte(key))
	want, _ := auth.mint("alice")
	t.Setenv("HTTPAPI_TEST_KEY", key)

	for _, tc := range []struct{ name, apiToken string }{
		{"a literal key", key},
		{"an env:// reference", "env://HTTPAPI_TEST_KEY"},
		{"a file:// reference", "file://" + keyFile},
	} {
		t.Run("it mints with "+tc.name, func(t *testing.T) {
			t.Setenv("API_TOKEN", tc.apiToken)
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"-mint", "alice"}, &out, &errOut); code != 0 {
				t.Fatalf("exit status %d: %s", code, errOut.String())
			}
			if got := strings.TrimSpace(out.String()); got != want {
				t.Errorf("minted %q, want %q", got, want)
			}
		})
	}
}

func TestRunRefusesBadAuthSetups(t *testing.T) {
	for _, tc := range []struct {
		name, apiToken string
		args           []string
		stderr         string
	}{
		{"a short key", "short-" + canary, nil, "at least 32 bytes"},
		{"minting without a key", "", []string{"-mint", "alice"}, "set API_TOKEN"},
		{"an invalid principal", strings.Repeat("k", 32), []string{"-mint", "Alice"}, "principal must match"},
		{"an unresolvable reference", "env://HTTPAPI_TEST_UNSET_" + canary[:6], nil, "API_TOKEN"},
	} {
		t.Run("it refuses "+tc.name, func(t *testing.T) {
			t.Setenv("API_TOKEN", tc.apiToken)
			var out, errOut bytes.Buffer
			code := run(context.Background(), append(tc.args, "-addr", "127.0.0.1:0"), &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("exit status %d, stderr %q; want 2 and %q", code, errOut.String(), tc.stderr)
			}
			if strings.Contains(errOut.String()+out.String(), canary) {
				t.Error("the output repeats the key")
			}
		})
	}
}
