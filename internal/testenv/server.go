package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a private instance of one of the project's test servers,
// started with the same scripts/servers/NAME.sh as the shared one, so a
// test can kill or stop it without disturbing any other test. It is stopped
// by its recorded PIDs when the test ends.
type Server struct {
	// Port the server listens on (127.0.0.1 only).
	Port string
	// Env holds the variables the script exported (URL, credentials, ...).
	Env map[string]string

	t      *testing.T
	name   string
	script string
	dir    string
}

// StartServer starts a private NAME server on a port of its own: the script
// reads it from NAME_PORT (COUCHDB_PORT, DYNAMODB_PORT, FIRESTORE_PORT, KMS_PORT). A
// server that cannot start skips t, or fails it when servers are required.
func StartServer(t *testing.T, name string) *Server {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	s := &Server{Port: port, t: t, name: name, script: filepath.Join(root, "scripts", "servers", name+".sh"), dir: t.TempDir()}
	t.Cleanup(func() { _ = exec.Command("bash", s.script, "stop", s.dir).Run() })
	if err := s.Start(); err != nil {
		Missing(t, name, "cannot start a private "+name+" server: "+err.Error())
	}
	return s
}

// Start (re)starts the server on its port; extraEnv ("K=V") is passed to
// the script, e.g. COUCHDB_RESTART=1 to keep CouchDB's data.
func (s *Server) Start(extraEnv ...string) error {
	cmd := exec.Command("bash", s.script, "start", s.dir)
	cmd.Env = append(os.Environ(), strings.ToUpper(s.name)+"_PORT="+s.Port)
	cmd.Env = append(cmd.Env, extraEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	f, err := os.Open(filepath.Join(s.dir, "env"))
	if err != nil {
		return err
	}
	defer f.Close()
	s.Env = map[string]string{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		s.Env[k] = v
	}
	return nil
}

// Stop stops the server the way the script does (gracefully, by PID) and
// waits until its port refuses connections.
func (s *Server) Stop() {
	s.t.Helper()
	if out, err := exec.Command("bash", s.script, "stop", s.dir).CombinedOutput(); err != nil {
		s.t.Fatalf("stopping the private %s server: %v: %s", s.name, err, out)
	}
	s.waitClosed("the stopped server's port to close")
}

// Kill ends the server abruptly with SIGKILL to the PID its script
// recorded in DIR/pid, and waits until its port refuses connections.
func (s *Server) Kill() {
	s.t.Helper()
	s.Signal(syscall.SIGKILL)
	s.waitClosed("the killed server's port to close")
}

// Freeze stops the server's process with SIGSTOP: its port still accepts
// connections (the kernel completes the handshake) but nothing answers,
// like a hung server. The server is resumed when the test ends, so that
// it can be stopped; Resume does it earlier.
func (s *Server) Freeze() {
	s.t.Helper()
	s.Signal(syscall.SIGSTOP)
	s.t.Cleanup(s.Resume)
	// kill returns before every thread of the process has stopped: wait
	// until the kernel reports it stopped, so the test's next request
	// meets a hung server, not one still finishing its last steps.
	pid := s.pid()
	WaitFor(s.t, 10*time.Second, "the frozen server to stop", func() bool {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return false
		}
		// The state follows the command name, which ends with ") ".
		_, rest, ok := strings.Cut(string(b), ") ")
		return ok && (strings.HasPrefix(rest, "T") || strings.HasPrefix(rest, "t"))
	})
}

// Resume continues a frozen server with SIGCONT.
func (s *Server) Resume() {
	s.t.Helper()
	s.Signal(syscall.SIGCONT)
}

// Signal sends sig to the PID the script recorded in DIR/pid.
func (s *Server) Signal(sig syscall.Signal) {
	s.t.Helper()
	if err := syscall.Kill(s.pid(), sig); err != nil {
		s.t.Fatal(err)
	}
}

// pid is the PID the script recorded in DIR/pid.
func (s *Server) pid() int {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "pid"))
	if err != nil {
		s.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		s.t.Fatal(err)
	}
	return pid
}

func (s *Server) waitClosed(what string) {
	s.t.Helper()
	WaitFor(s.t, 30*time.Second, what, func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// WaitFor polls cond every 10 ms until it holds, and fails t when it still
// does not after within.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// moduleRoot is the nearest directory above the working directory (a test's
// package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
