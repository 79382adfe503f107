package client_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serverURL is the base URL (http://127.0.0.1:PORT) of the autoanalyst
// server that TestMain builds from the repository (..) and starts for the
// examples and the end-to-end tests: SQLite in a temporary DATA_DIR, the
// sandbox on (bubblewrap and Python, as `make deps` installs them), no model
// provider configured (runs of executeCode need none).
var serverURL string

// houses is the CSV the examples upload (5 rows: price, area, city).
const houses = "../e2e/testdata/houses.csv"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	srv, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests: start the server:", err)
		return 1
	}
	serverURL = srv.url
	code := m.Run()
	srv.stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "server logs:\n%s\n", srv.logs.String())
	}
	return code
}

type testServer struct {
	url    string
	cmd    *exec.Cmd
	dir    string
	logs   *syncBuffer
	exited chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer builds the binary into a temporary directory, starts `serve`
// on a free port and waits for /healthz.
func startServer() (*testServer, error) {
	dir, err := os.MkdirTemp("", "autoanalyst-client")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "autoanalyst")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dataDir := filepath.Join(dir, "data")
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		fmt.Sprintf("PORT=%d", port),
		"DATA_DIR=" + dataDir,
		"EXECUTOR_SANDBOX=on",
		"LOG_FORMAT=json",
		"SHUTDOWN_TIMEOUT=5s",
	}
	if p := os.Getenv("PYTHON"); p != "" {
		cmd.Env = append(cmd.Env, "PYTHON="+p)
	}
	s := &testServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, dir: dir,
		logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("the server exited:\n%s", s.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.stop()
	return nil, fmt.Errorf("the server did not become healthy:\n%s", s.logs.String())
}

// stop ends the server with SIGTERM (SIGKILL after 15s) and removes its
// directory.
func (s *testServer) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}
