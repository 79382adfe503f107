package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// binPath is the autoanalyst binary built once for the end-to-end tests.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "autoanalyst-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "autoanalyst")
		args := []string{"build", "-race", "-o", binPath, "."}
		if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
			// Benchmarks measure the binary as it is deployed.
			args = []string{"build", "-o", binPath, "."}
		}
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is a running autoanalyst process.
type server struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan error // receives the exit status once
	// exited is closed when the process has exited.
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

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs `autoanalyst serve` with env (on top of a clean test
// environment) and waits for /healthz.
func startServer(t testing.TB, env map[string]string, args ...string) *server {
	t.Helper()
	port := freePort(t)
	s := startProcess(t, port, env, append([]string{"serve"}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited: %v\n%s", err, s.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server did not become healthy\n%s", s.logs.String())
	return nil
}

// startWorker runs `autoanalyst worker` with env and waits until it says it
// is ready.
func startWorker(t testing.TB, env map[string]string) *server {
	t.Helper()
	s := startProcess(t, freePort(t), env, "worker")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.logs.String(), "worker ready") {
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("worker exited: %v\n%s", err, s.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("worker did not become ready\n%s", s.logs.String())
	return nil
}

// startProcess starts the binary with args; the test's end stops it with
// SIGTERM (SIGKILL after 15s) and prints its logs when the test failed.
func startProcess(t testing.TB, port int, env map[string]string, args ...string) *server {
	t.Helper()
	bin := buildBinary(t)
	e := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		fmt.Sprintf("PORT=%d", port),
		"DATA_DIR=" + t.TempDir(),
		"LOG_FORMAT=json",
		"LOG_LEVEL=debug",
		"SHUTDOWN_TIMEOUT=10s",
		// Workers' health endpoints: any free port (several run at once).
		"HEALTH_ADDR=127.0.0.1:0",
	}
	if _, set := env["METRICS_ADDR"]; !set && len(args) > 0 && args[0] == "worker" {
		// A worker serves /metrics on port (not :9090, shared by every worker
		// of a test).
		e = append(e, fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", port))
	}
	for k, v := range env {
		e = append(e, k+"="+v)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = e
	logs := &syncBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: logs,
		done: make(chan error, 1), exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		close(s.exited)
		s.done <- err
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-s.exited
			}
		}
		if t.Failed() {
			t.Logf("%s %v logs:\n%s", bin, args, logs.String())
		}
	})
	return s
}

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts a GraphQL operation.
func (s *server) do(token, query string, vars map[string]any) *gqlResponse {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.send(req)
}

func (s *server) send(req *http.Request) *gqlResponse {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("decode response (%d): %v\n%s", resp.StatusCode, err, b)
	}
	return &out
}

// must posts an operation that must succeed and decodes its data into v.
func (s *server) must(token, query string, vars map[string]any, v any) {
	s.t.Helper()
	r := s.do(token, query, vars)
	if len(r.Errors) > 0 {
		s.t.Fatalf("%s\nerrors: %+v", query, r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		s.t.Fatal(err)
	}
}

// upload sends a file with the GraphQL multipart request spec.
func (s *server) upload(token, query string, vars map[string]any, fileVar, name string, content io.Reader) *gqlResponse {
	s.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		mw.WriteField("operations", string(ops))
		mw.WriteField("map", fmt.Sprintf(`{"0": ["variables.%s"]}`, fileVar))
		fw, _ := mw.CreateFormFile("0", name)
		io.Copy(fw, content)
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", s.url+"/graphql", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.send(req)
}

// event is a RunEvent as a client receives it.
type event struct {
	Seq       int    `json:"seq"`
	Type      string `json:"type"`
	Agent     string `json:"agent"`
	Text      string `json:"text"`
	Code      string `json:"code"`
	MessageID string `json:"messageID"`
	ErrorCode string `json:"errorCode"`
	Progress  *int   `json:"progress"`
	Plan      *struct {
		Complexity string `json:"complexity"`
		Steps      []struct {
			Agent  string   `json:"agent"`
			Create []string `json:"create"`
			Use    []string `json:"use"`
		} `json:"steps"`
	} `json:"plan"`
	Result *struct {
		OK      bool              `json:"ok"`
		Stdout  string            `json:"stdout"`
		Error   string            `json:"error"`
		Figures []json.RawMessage `json:"figures"`
		Tables  []struct {
			Columns []string `json:"columns"`
			Rows    [][]any  `json:"rows"`
		} `json:"tables"`
	} `json:"result"`
}

const runEventsQuery = `subscription($id: ID!, $after: Int) { runEvents(runID: $id, after: $after) {
  seq type agent text code messageID errorCode progress
  plan { complexity steps { agent create use } }
  result { ok stdout error figures tables { columns rows } } } }`

// subscribe follows a run over a WebSocket with the given subprotocol
// ("graphql-transport-ws" or the legacy "graphql-ws") until the server
// completes the subscription. onEvent, if set, sees each event as it comes.
func (s *server) subscribe(ctx context.Context, proto string, initPayload map[string]any, runID string, after int, onEvent func(event)) ([]event, *gqlError, error) {
	wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/graphql"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		return nil, nil, err
	}
	defer c.CloseNow()
	c.SetReadLimit(16 << 20)
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": initPayload}); err != nil {
		return nil, nil, err
	}
	startType, nextType := "subscribe", "next"
	if proto == "graphql-ws" {
		startType, nextType = "start", "data"
	}
	var evs []event
	subscribed := false
	for {
		var msg struct {
			Type    string          `json:"type"`
			ID      string          `json:"id"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := wsjson.Read(ctx, c, &msg); err != nil {
			return evs, nil, err
		}
		switch msg.Type {
		case "connection_ack":
			if !subscribed {
				subscribed = true
				err := wsjson.Write(ctx, c, map[string]any{"type": startType, "id": "1", "payload": map[string]any{
					"query": runEventsQuery, "variables": map[string]any{"id": runID, "after": after}}})
				if err != nil {
					return nil, nil, err
				}
			}
		case "ka", "ping", "pong":
			if msg.Type == "ping" {
				wsjson.Write(ctx, c, map[string]any{"type": "pong"})
			}
		case nextType:
			var p struct {
				Data struct {
					RunEvents event `json:"runEvents"`
				} `json:"data"`
				Errors []gqlError `json:"errors"`
			}
			if err := json.Unmarshal(msg.Payload, &p); err != nil {
				return evs, nil, err
			}
			if len(p.Errors) > 0 {
				return evs, &p.Errors[0], nil
			}
			evs = append(evs, p.Data.RunEvents)
			if onEvent != nil {
				onEvent(p.Data.RunEvents)
			}
		case "error":
			var errs []gqlError
			if json.Unmarshal(msg.Payload, &errs) != nil || len(errs) == 0 {
				var one gqlError
				json.Unmarshal(msg.Payload, &one)
				errs = []gqlError{one}
			}
			return evs, &errs[0], nil
		case "complete":
			return evs, nil, nil
		case "connection_error":
			return evs, &gqlError{Message: string(msg.Payload)}, nil
		}
	}
}

// subscribeSSE follows a run over Server-Sent Events until the server
// completes the stream.
func (s *server) subscribeSSE(ctx context.Context, token, runID string, after int) ([]event, error) {
	body, _ := json.Marshal(map[string]any{"query": runEventsQuery, "variables": map[string]any{"id": runID, "after": after}})
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("content type %q: %s", ct, b)
	}
	var evs []event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			if name == "complete" {
				return evs, nil
			}
		case strings.HasPrefix(line, "data:") && name == "next":
			var p struct {
				Data struct {
					RunEvents event `json:"runEvents"`
				} `json:"data"`
				Errors []gqlError `json:"errors"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &p); err != nil {
				return evs, err
			}
			if len(p.Errors) > 0 {
				return evs, fmt.Errorf("%s (%v)", p.Errors[0].Message, p.Errors[0].Extensions["code"])
			}
			evs = append(evs, p.Data.RunEvents)
		}
	}
	if err := sc.Err(); err != nil {
		return evs, err
	}
	return evs, io.ErrUnexpectedEOF
}

func authInit(token string) map[string]any {
	return map[string]any{"Authorization": "Bearer " + token}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
