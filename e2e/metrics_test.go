package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TestMetrics scrapes /metrics after a chat turn, a failed execution and
// requests refused by the rate limit, finds each counter moved, and checks
// the output with promtool (skipped when promtool is missing, except under
// CI=true).
func TestMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := scriptedLLM(t)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY":  llmKey,
		"OPENAI_BASE_URL": llmSrv.BaseURL(),
		"DEFAULT_MODEL":   "gpt-5-mini",
		// Low enough for a burst of anonymous requests to be refused; the
		// user's own requests have a bucket of their own.
		"RATE_LIMIT": "5", "RATE_LIMIT_BURST": "10",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	before := scrape(t, srv.url)
	if v := before.value("autoanalyst_runs_total", nil); v != 0 {
		t.Fatalf("runs_total = %v at start", v)
	}
	for _, name := range []string{"autoanalyst_queue_jobs", "autoanalyst_kernels_running", "autoanalyst_kernels_memory_bytes",
		"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := before[name]; !ok {
			t.Errorf("no %s at start", name)
		}
	}

	alice := srv.session()
	chatID := housesChat(t, srv, alice)

	// A failed execution: the code raises.
	var ex struct {
		ExecuteCode struct{ ID string } `json:"executeCode"`
	}
	srv.must(alice, executeMutation, map[string]any{"chat": chatID, "code": "raise ValueError('no')"}, &ex)
	evs, _, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), ex.ExecuteCode.ID, 0, nil)
	if err != nil || evs[len(evs)-1].Type != "RUN_FAILED" {
		t.Fatalf("executeCode: %v %+v", err, evs)
	}
	// A chat turn.
	var sent struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	srv.must(alice, `mutation Ask($chat: ID!, $content: String!) { sendMessage(input: {chatID: $chat, content: $content}) { id } }`,
		map[string]any{"chat": chatID, "content": "Clean the data and chart the price by city"}, &sent)
	evs, _, err = srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), sent.SendMessage.ID, 0, nil)
	if err != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		t.Fatalf("sendMessage: %v %+v", err, evs)
	}
	// Refused requests: an anonymous burst over RATE_LIMIT_BURST, and an
	// operation over QUERY_MAX_DEPTH.
	refused := 0
	for range 30 {
		resp, err := http.Post(srv.url+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no request was rate-limited")
	}
	deep := "{ viewer { id " + strings.Repeat("chats { edges { node { messages { edges { node { id ", 3) + strings.Repeat("} } } } } } ", 3) + "} }"
	if r := srv.do(alice, deep, nil); r.code() != "LIMIT_EXCEEDED" && r.code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("deep query: %+v", r.Errors)
	}

	after, body := scrapeBody(t, srv.url)
	moved := []struct {
		name   string
		labels map[string]string
	}{
		{"autoanalyst_runs_total", map[string]string{"kind": "CHAT", "status": "SUCCEEDED"}},
		{"autoanalyst_runs_total", map[string]string{"kind": "EXECUTE_CODE", "status": "FAILED"}},
		{"autoanalyst_run_duration_seconds", map[string]string{"kind": "CHAT"}},
		{"autoanalyst_run_queued_seconds", map[string]string{"kind": "EXECUTE_CODE"}},
		{"autoanalyst_executions_total", map[string]string{"outcome": "error", "limit": "none"}},
		{"autoanalyst_executions_total", map[string]string{"outcome": "ok"}},
		{"autoanalyst_execution_duration_seconds", nil},
		{"autoanalyst_kernel_starts_total", nil},
		{"autoanalyst_llm_request_duration_seconds", map[string]string{"provider": "openai", "model": "gpt-5-mini", "step": "planner"}},
		{"autoanalyst_llm_tokens_total", map[string]string{"kind": "input"}},
		{"autoanalyst_llm_tokens_total", map[string]string{"kind": "output"}},
		{"autoanalyst_llm_cost_usd_total", map[string]string{"model": "gpt-5-mini"}},
		{"autoanalyst_rate_limited_total", map[string]string{"transport": "http"}},
		{"autoanalyst_http_requests_total", map[string]string{"route": "/graphql", "status_class": "4xx"}},
		{"autoanalyst_http_requests_total", map[string]string{"route": "/graphql", "status_class": "2xx"}},
		{"autoanalyst_http_request_duration_seconds", map[string]string{"route": "/graphql"}},
		{"autoanalyst_graphql_operations_total", map[string]string{"type": "mutation", "name": "Ask", "outcome": "ok"}},
		{"autoanalyst_graphql_operations_total", map[string]string{"type": "subscription"}},
		{"autoanalyst_graphql_operations_total", map[string]string{"outcome": "error"}},
		{"autoanalyst_graphql_operation_duration_seconds", map[string]string{"type": "query"}},
		{"autoanalyst_graphql_errors_total", nil},
	}
	for _, m := range moved {
		if v := after.value(m.name, m.labels) - before.value(m.name, m.labels); v <= 0 {
			t.Errorf("%s%v did not move (%v)", m.name, m.labels, v)
		}
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", body)
	}
	for name, mf := range after {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(strings.ToLower(l.GetName()), "user") || strings.Contains(l.GetName(), "run_id") {
					t.Errorf("%s has label %s", name, l.GetName())
				}
			}
		}
	}
	promtoolCheck(t, body)
}

// promtoolCheck runs `promtool check metrics` on a scrape.
func promtoolCheck(t *testing.T, body []byte) {
	t.Helper()
	promtool := findPromtool(t, ": not checking the metrics' format")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.WriteFile(filepath.Join(t.TempDir(), "metrics.txt"), body, 0o644)
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// families is a scrape: metric families by name.
type families map[string]*dto.MetricFamily

// value sums the samples of name (counters, gauges; a histogram's count)
// whose labels include labels.
func (f families) value(name string, labels map[string]string) float64 {
	mf := f[name]
	if mf == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

func scrape(t *testing.T, base string) families {
	f, _ := scrapeBody(t, base)
	return f
}

func scrapeBody(t *testing.T, base string) (families, []byte) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams, body
}

// TestMetricsScaledOut: a worker serves /metrics and /healthz on
// METRICS_ADDR with the runs it did; the API node the queue, its WebSockets
// and the event reader's lag.
func TestMetricsScaledOut(t *testing.T) {
	c := newCluster(t, nil)
	api, worker := c.api(), c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	token, chatID := chatWithData(t, api)
	run := execute(t, api, token, chatID, "raise ValueError('no')")
	evs, _, err := api.subscribe(ctx, "graphql-transport-ws", authInit(token), run, 0, nil)
	if err != nil || evs[len(evs)-1].Type != "RUN_FAILED" {
		t.Fatalf("executeCode: %v %+v", err, evs)
	}
	resp, err := http.Get(worker.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("worker /healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	w, wbody := scrapeBody(t, worker.url)
	for _, m := range []struct {
		name   string
		labels map[string]string
	}{
		{"autoanalyst_runs_total", map[string]string{"kind": "EXECUTE_CODE", "status": "FAILED"}},
		{"autoanalyst_executions_total", map[string]string{"outcome": "error"}},
		{"autoanalyst_kernel_starts_total", nil},
	} {
		if w.value(m.name, m.labels) <= 0 {
			t.Errorf("worker: %s%v did not move", m.name, m.labels)
		}
	}
	a, abody := scrapeBody(t, api.url)
	if a.value("autoanalyst_runs_total", nil) != 0 {
		t.Error("the API node (--workers 0) counted runs")
	}
	for _, name := range []string{"autoanalyst_event_reader_lag_seconds", "autoanalyst_websocket_connections"} {
		if _, ok := a[name]; !ok {
			t.Errorf("API node: no %s", name)
		}
	}
	for _, f := range []families{a, w} {
		if _, ok := f["autoanalyst_queue_jobs"]; !ok {
			t.Error("no autoanalyst_queue_jobs")
		}
	}
	if t.Failed() {
		t.Logf("worker:\n%s\nAPI node:\n%s", wbody, abody)
	}
	promtoolCheck(t, wbody)
	promtoolCheck(t, abody)
}
