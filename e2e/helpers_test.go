package e2e

// The helpers the end-to-end tests share: the binary and its processes, the
// services and tools the tests need, GraphQL over HTTP, and subscriptions
// over WebSocket and SSE.

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// The binary and its processes.

// repoRoot is the module's root, relative to this package's directory (the
// working directory of its tests): the autoanalyst command's package, and
// the files the tests check (deploy/, api/, README.md).
const repoRoot = ".."

// binPath is the autoanalyst binary built once for the end-to-end tests.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds the autoanalyst command (the module's root package)
// once per test binary, with the race detector unless benchmarks run, and
// returns its path.
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "autoanalyst-e2e")
		if err != nil {
			buildErr = fmt.Errorf("a directory for the binary: %w", err)
			return
		}
		binPath = filepath.Join(dir, "autoanalyst")
		args := []string{"build", "-race", "-o", binPath, "."}
		if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
			// Benchmarks measure the binary as it is deployed.
			args = []string{"build", "-o", binPath, "."}
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
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

// syncBuffer is a bytes.Buffer safe for concurrent use (a process's output).
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

// freePort returns a TCP port free on 127.0.0.1.
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

// stopServer ends a server before its test does (SIGTERM, then SIGKILL
// after 15s).
func stopServer(s *server) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// processCPU is the CPU time (user and system) process pid has used so far,
// in seconds.
func processCPU(tb testing.TB, pid int) float64 {
	tb.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): state is the
	// 3rd field, utime the 14th and stime the 15th.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(utime+stime) / benchTicksPerS
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(tb testing.TB, pid int, field string) int64 {
	tb.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// The services and tools the tests need.

// testRedisURL returns the Redis server of the tests (TEST_REDIS_URL, default
// redis://127.0.0.1:6379/0). It skips the test when Redis is unreachable,
// or fails it under CI=true.
func testRedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	addr := "127.0.0.1:6379"
	if u == "" {
		u = "redis://" + addr + "/0"
	} else if i := strings.Index(u, "://"); i >= 0 {
		addr = strings.SplitN(strings.TrimPrefix(u[i+3:], "@"), "/", 2)[0]
		if j := strings.LastIndex(addr, "@"); j >= 0 {
			addr = addr[j+1:]
		}
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("Redis unreachable at %s: %v", addr, err)
	}
	t.Skipf("Redis unreachable at %s: %v", addr, err)
	return ""
}

// unavailable skips t because what it needs (msg) is missing, or fails it
// under CI=true, where make deps has installed everything.
func unavailable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// nodeFor returns the path of node, minMajor or newer (what, the tool run
// with it, needs that), when dir's node_modules holds each of pkgs (make deps
// runs npm ci there). Otherwise it skips the test, or fails it when CI=true.
func nodeFor(t *testing.T, minMajor int, what, dir string, pkgs ...string) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		unavailable(t, fmt.Sprintf(format, args...)+" (make deps installs it)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("Node.js not found: %v", err)
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		missing("node --version: %v", err)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < minMajor {
		missing("Node.js %s is too old: %s needs %d or newer", strings.TrimSpace(string(v)), what, minMajor)
	}
	for _, pkg := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			missing("%s is not installed in %s: %v", pkg, dir, err)
		}
	}
	return node
}

// findPromtool returns the path of promtool (Debian's prometheus package,
// which scripts/deps.sh installs). Without it the test is skipped, with
// skipping (what is not checked, if anything) in the message, except under
// CI=true, where it fails.
func findPromtool(t *testing.T, skipping string) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is missing (Debian's prometheus package; scripts/deps.sh installs it)")
		}
		t.Skip("promtool is missing (Debian's prometheus package)" + skipping)
	}
	return p
}

// GraphQL over HTTP.

// The operations of many tests: an upload, a chat, code and a question.
const (
	uploadMutation = `mutation($f: Upload!, $name: String) { uploadDataset(input: {file: $f, name: $name}) {
		id name fileName sizeBytes rowCount columns { name dtype nullCount } } }`
	createChatMutation = `mutation($ids: [ID!]) { createChat(input: {datasetIDs: $ids}) { id title } }`
	executeMutation    = `mutation($chat: ID!, $code: String!) { executeCode(input: {chatID: $chat, code: $code}) { id status kind } }`
	sendMutation       = `mutation($chat: ID!, $content: String!) { sendMessage(input: {chatID: $chat, content: $content}) { id status kind } }`
)

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// gqlError is an entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// code is the first error's extensions.code ("" without errors).
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Error returns the error's message.
func (e *gqlError) Error() string { return e.Message }

// do posts a GraphQL operation.
func (s *server) do(token, query string, vars map[string]any) *gqlResponse {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return s.send(s.post(nil, token, body))
}

// doWith posts a GraphQL operation with extra headers.
func (s *server) doWith(h http.Header, token, query string) *gqlResponse {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	return s.send(s.post(h, token, body))
}

// post builds a JSON POST of body to /graphql with the headers h and, when
// token is set, the token.
func (s *server) post(h http.Header, token string, body []byte) *http.Request {
	req, _ := http.NewRequest("POST", s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// send sends req and decodes its GraphQL response.
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

// httpGet returns the body of a GET of url.
func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// session creates a guest session and returns its token.
func (s *server) session() string {
	s.t.Helper()
	var out struct {
		CreateGuestSession struct {
			Token string `json:"token"`
			User  struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"createGuestSession"`
	}
	s.must("", `mutation { createGuestSession { token user { id } } }`, nil, &out)
	if len(out.CreateGuestSession.Token) < 40 {
		s.t.Fatalf("token too short: %q", out.CreateGuestSession.Token)
	}
	return out.CreateGuestSession.Token
}

// housesChat uploads testdata/houses.csv for token's user and returns a new
// chat on it.
func housesChat(t *testing.T, s *server, token string) string {
	t.Helper()
	f, err := os.Open("testdata/houses.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	up := s.upload(token, uploadMutation, map[string]any{"f": nil}, "f", "houses.csv", f)
	var uploaded struct {
		UploadDataset []struct{ ID string } `json:"uploadDataset"`
	}
	if len(up.Errors) > 0 || json.Unmarshal(up.Data, &uploaded) != nil || len(uploaded.UploadDataset) != 1 {
		t.Fatalf("upload: %+v", up)
	}
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	s.must(token, createChatMutation, map[string]any{"ids": []string{uploaded.UploadDataset[0].ID}}, &chat)
	return chat.CreateChat.ID
}

// chatWithData creates a session, uploads a small CSV and creates a chat on
// node s; it returns the token and the chat's ID.
func chatWithData(t testing.TB, s *server) (token, chatID string) {
	t.Helper()
	token = s.session()
	up := s.upload(token, uploadMutation, map[string]any{"f": nil}, "f", "h.csv", strings.NewReader("a,b\n1,2\n3,4\n"))
	var uploaded struct {
		UploadDataset []struct{ ID string } `json:"uploadDataset"`
	}
	if len(up.Errors) > 0 || json.Unmarshal(up.Data, &uploaded) != nil || len(uploaded.UploadDataset) != 1 {
		t.Fatalf("upload: %+v", up)
	}
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	s.must(token, createChatMutation, map[string]any{"ids": []string{uploaded.UploadDataset[0].ID}}, &chat)
	return token, chat.CreateChat.ID
}

// execute runs code in chatID over executeCode and returns the run's ID.
func execute(t testing.TB, s *server, token, chatID, code string) string {
	t.Helper()
	var r struct {
		ExecuteCode struct{ ID string } `json:"executeCode"`
	}
	s.must(token, executeMutation, map[string]any{"chat": chatID, "code": code}, &r)
	return r.ExecuteCode.ID
}

// Subscriptions over WebSocket and SSE.

// event is a RunEvent as a client receives it.
type event struct {
	At        time.Time `json:"at"`
	Seq       int       `json:"seq"`
	Type      string    `json:"type"`
	Agent     string    `json:"agent"`
	Text      string    `json:"text"`
	Code      string    `json:"code"`
	MessageID string    `json:"messageID"`
	ErrorCode string    `json:"errorCode"`
	Progress  *int      `json:"progress"`
	// FollowUps are a FOLLOW_UPS event's questions.
	FollowUps []string `json:"followUps"`
	// Files are a FILES event's files.
	Files []outputFile `json:"files"`
	Plan  *struct {
		Complexity string `json:"complexity"`
		Steps      []struct {
			Agent  string   `json:"agent"`
			Create []string `json:"create"`
			Use    []string `json:"use"`
		} `json:"steps"`
	} `json:"plan"`
	Result *eventResult `json:"result"`
}

// eventResult is an EXECUTION_RESULT event's result.
type eventResult struct {
	OK      bool              `json:"ok"`
	Stdout  string            `json:"stdout"`
	Error   string            `json:"error"`
	Figures []json.RawMessage `json:"figures"`
	Tables  []struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	} `json:"tables"`
	DurationMs int `json:"durationMs"`
}

// runEventsQuery follows a run's events from after.
const runEventsQuery = `subscription($id: ID!, $after: Int) { runEvents(runID: $id, after: $after) {
  seq at type agent text code messageID errorCode progress followUps
  plan { complexity steps { agent create use } }
  result { ok stdout error figures tables { columns rows } durationMs }
  files { id name size mediaType url } } }`

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

// subscribeAny runs one subscription over graphql-transport-ws with extra
// upgrade headers, reporting on ready once it is subscribed, and hands each
// result's data to onData until the server completes it or ctx ends.
func (s *server) subscribeAny(ctx context.Context, h http.Header, initPayload map[string]any, query string, ready chan<- error, onData func(json.RawMessage)) error {
	wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/graphql"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
	if err != nil {
		ready <- err
		return err
	}
	defer c.CloseNow()
	wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": initPayload})
	for {
		var msg struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := wsjson.Read(ctx, c, &msg); err != nil {
			return err
		}
		switch msg.Type {
		case "connection_ack":
			wsjson.Write(ctx, c, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": query}})
			ready <- nil
		case "next":
			var p struct {
				Data   json.RawMessage `json:"data"`
				Errors []gqlError      `json:"errors"`
			}
			json.Unmarshal(msg.Payload, &p)
			if len(p.Errors) > 0 {
				return &p.Errors[0]
			}
			onData(p.Data)
		case "error":
			return &gqlError{Message: string(msg.Payload)}
		case "complete":
			return nil
		case "ping":
			wsjson.Write(ctx, c, map[string]any{"type": "pong"})
		}
	}
}

// authInit is a connection_init payload carrying token.
func authInit(token string) map[string]any {
	return map[string]any{"Authorization": "Bearer " + token}
}
