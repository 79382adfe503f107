package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var msTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// logLines are the JSON lines of a process's log.
func (s *server) logLines() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// accessLine waits for the access log line of the request id.
func (s *server) accessLine(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range s.logLines() {
			if l["message"] == "request" && l["request_id"] == id {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no access log line for request %s\n%s", id, s.logs.String())
	return nil
}

// TestOperatingLogs: a request's X-Request-ID comes back in the response
// and on its access log line (with the operation, status, duration, bytes,
// user and a millisecond timestamp); an invalid one is replaced; the
// start-up line names the version and the configuration; a run whose user
// code fails logs no error.
func TestOperatingLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, map[string]string{"ADMIN_API_KEY": "admin-key-not-in-logs-0123456789"})
	alice := srv.session()

	post := func(id, body string) *http.Response {
		h := http.Header{}
		if id != "" {
			h.Set("X-Request-ID", id)
		}
		req := srv.post(h, alice, []byte(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	const id = "e2e-request.42_A"
	resp := post(id, `{"query":"query WhoAmI { viewer { id } }","operationName":"WhoAmI"}`)
	if got := resp.Header.Get("X-Request-ID"); got != id {
		t.Fatalf("X-Request-ID %q, want %q", got, id)
	}
	l := srv.accessLine(t, id)
	ts, _ := l["time"].(string)
	if l["level"] != "info" || l["method"] != "POST" || l["path"] != "/graphql" || l["operation"] != "WhoAmI" ||
		l["status"] != float64(200) || l["bytes"].(float64) <= 0 || l["user_id"] != srv.viewerID(alice) || !msTime.MatchString(ts) {
		t.Fatalf("access line %v", l)
	}
	if _, ok := l["duration_ms"].(float64); !ok {
		t.Fatalf("access line without duration_ms: %v", l)
	}

	resp = post("bad id\"", `{"query":"{ viewer { id } }"}`)
	gen := resp.Header.Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(gen) {
		t.Fatalf("an invalid X-Request-ID gave %q, want a generated id", gen)
	}
	srv.accessLine(t, gen)

	var start map[string]any
	for _, l := range srv.logLines() {
		if l["message"] == "starting" {
			start = l
		}
	}
	cfg, _ := start["config"].(map[string]any)
	if start["version"] == nil || cfg == nil || cfg["ADMIN_API_KEY"] != "(set)" || strings.Contains(srv.logs.String(), "admin-key-not-in-logs") {
		t.Fatalf("start-up line %v", start)
	}

	// The user's code fails: the run ends FAILED, EXECUTION_ERROR, and no
	// line is at level error; the run's lines name the run and the user.
	chatID := housesChat(t, srv, alice)
	var r struct {
		ExecuteCode struct{ ID string } `json:"executeCode"`
	}
	srv.must(alice, executeMutation, map[string]any{"chat": chatID, "code": "undefined_name + 1"}, &r)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_FAILED" || last.ErrorCode != "EXECUTION_ERROR" {
		t.Fatalf("last event %+v", last)
	}
	var ended bool
	deadline := time.Now().Add(5 * time.Second)
	for !ended && time.Now().Before(deadline) {
		for _, l := range srv.logLines() {
			if l["run"] == r.ExecuteCode.ID && strings.HasPrefix(l["message"].(string), "run ended") {
				ended = true
				if l["user_id"] != srv.viewerID(alice) || l["level"] != "info" {
					t.Fatalf("run end line %v", l)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !ended {
		t.Fatalf("no line says the run ended\n%s", srv.logs.String())
	}
	for _, l := range srv.logLines() {
		if l["level"] == "error" {
			t.Fatalf("an error-level line: %v", l)
		}
	}
}

// TestHealthEndpoints: /livez and /readyz answer; with the sandbox
// unavailable /readyz says so (503) while /healthz, the database's check,
// stays 200.
func TestHealthEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	get := func(url string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(b), &m); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
		return resp.StatusCode, m
	}

	srv := startServer(t, nil)
	if code, _ := get(srv.url + "/livez"); code != 200 {
		t.Fatalf("livez %d", code)
	}
	code, body := get(srv.url + "/readyz")
	checks, _ := body["checks"].(map[string]any)
	if checks["database"] != "ok" || checks["sandbox"] == nil || (code == 200) != (body["status"] == "ok") {
		t.Fatalf("readyz %d %v", code, body)
	}

	broken := startServer(t, map[string]string{"PYTHON": "/nonexistent"})
	code, body = get(broken.url + "/readyz")
	checks, _ = body["checks"].(map[string]any)
	sandbox, _ := checks["sandbox"].(string)
	if code != 503 || body["status"] != "unavailable" || checks["database"] != "ok" || !strings.HasPrefix(sandbox, "down: ") || !strings.Contains(sandbox, "/nonexistent") {
		t.Fatalf("readyz without a sandbox: %d %v", code, body)
	}
	if code, _ := get(broken.url + "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
}

// TestWorkerHealthAndRunLogs: a worker serves /livez and /readyz (database,
// Redis, sandbox) on HEALTH_ADDR, and its lines about a run name the run,
// its user and the request that started it on an API node.
func TestWorkerHealthAndRunLogs(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c := newCluster(t, map[string]string{"HEALTH_ADDR": addr})
	a := c.api()
	w := c.worker()
	resp, err := http.Get("http://" + addr + "/livez")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("worker livez: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string
		Checks map[string]string
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || ready.Status != "ok" || ready.Checks["database"] != "ok" || ready.Checks["redis"] != "ok" || ready.Checks["sandbox"] != "ok" {
		t.Fatalf("worker readyz %d %+v", resp.StatusCode, ready)
	}

	token, chatID := chatWithData(t, a)
	body, _ := json.Marshal(map[string]any{"query": executeMutation, "variables": map[string]any{"chat": chatID, "code": "undefined_name"}})
	req := a.post(http.Header{"X-Request-Id": {"from-the-api-1"}}, token, body)
	var out struct {
		Data struct {
			ExecuteCode struct{ ID string } `json:"executeCode"`
		} `json:"data"`
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	runID := out.Data.ExecuteCode.ID
	if runID == "" {
		t.Fatal("no run")
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, l := range w.logLines() {
			if l["run"] == runID && l["message"] != "run claimed" {
				if l["user_id"] != a.viewerID(token) || l["request_id"] != "from-the-api-1" || l["level"] == "error" {
					t.Fatalf("worker line %v", l)
				}
				if strings.HasPrefix(l["message"].(string), "run ended") {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the worker did not log the run's end\n%s", w.logs.String())
}
