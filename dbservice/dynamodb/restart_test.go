package dynamodb

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
	"github.com/securedb-go/securedb/internal/testenv"
)

// privateServer is a DynamoDB Local of this test's own, started with the
// same script and jar as the shared one, so killing it disturbs no one.
type privateServer struct {
	t      *testing.T
	script string
	dir    string
	port   string
	env    map[string]string
}

func startPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	testenv.Need(t, "dynamodb", EnvEndpointURL)
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "servers", "dynamodb.sh"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	p := &privateServer{t: t, script: script, dir: t.TempDir(), port: port}
	t.Cleanup(func() { _ = exec.Command("bash", script, "stop", p.dir).Run() })
	p.start()
	return p
}

func (p *privateServer) start() {
	p.t.Helper()
	cmd := exec.Command("bash", p.script, "start", p.dir)
	cmd.Env = append(os.Environ(), "DYNAMODB_PORT="+p.port)
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Missing(p.t, "dynamodb", "cannot start a private DynamoDB Local: "+strings.TrimSpace(string(out)))
	}
	f, err := os.Open(filepath.Join(p.dir, "env"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	p.env = map[string]string{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		p.env[k] = v
	}
}

// kill ends the server abruptly, by its recorded PID, and waits until its
// port refuses connections.
func (p *privateServer) kill() {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "pid"))
	if err != nil {
		p.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		p.t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	waitFor(p.t, "the killed server's port to close", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+p.port, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerKilledMidRunThenRestarted(t *testing.T) {
	srv := startPrivateServer(t)
	baseline := runtime.NumGoroutine()
	cfg := serverConfig(t)
	cfg.EndpointURL = srv.env["DYNAMODB_ENDPOINT_URL"]
	cfg.Credentials = credentials.NewStaticCredentialsProvider(srv.env["AWS_ACCESS_KEY_ID"], srv.env["AWS_SECRET_ACCESS_KEY"], "")
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, coll := t.Context(), dbtest.Collection(t)
	if _, err := s.Save(ctx, coll, "before", dbservice.Doc{"v": 1}); err != nil {
		t.Fatalf("Save before the kill: %v", err)
	}

	srv.kill()
	_, err = s.Get(ctx, coll, "before")
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("Get from a dead server: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), srv.env["AWS_SECRET_ACCESS_KEY"]) {
		t.Fatalf("error shows the secret key: %v", err)
	}
	_, err = s.Save(ctx, coll, "during", dbservice.Doc{"v": 2})
	if !errors.Is(err, dbservice.ErrUnavailable) {
		t.Fatalf("Save to a dead server: %v, want ErrUnavailable", err)
	}
	t.Logf("while down: %v", err)

	srv.start()
	// The restarted server is empty (in-memory): the Service notices the
	// table is gone and creates it again.
	if _, err := s.Save(ctx, coll, "after", dbservice.Doc{"v": 3}); err != nil {
		t.Fatalf("Save after the restart: %v", err)
	}
	if d, err := s.Get(ctx, coll, "after"); err != nil || d["v"] != 3.0 {
		t.Fatalf("Get after the restart = %v, %v", d, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Service's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}
