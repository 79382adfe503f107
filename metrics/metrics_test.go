package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNilIsSafe(t *testing.T) {
	var m *Metrics
	m.GraphQLOperation("query", "Q", false, time.Second)
	m.GraphQLError("X")
	m.RateLimited("http")
	m.RunStarted("CHAT", time.Second)
	m.RunEnded("CHAT", "SUCCEEDED", time.Second)
	m.WebSocketOpened()
	m.WebSocketClosed()
	m.SubscriptionStarted()
	m.SubscriptionEnded()
	m.EventReaderLag(time.Second)
	m.WatchQueue(nil)
	m.WatchKernels(nil)
	m.KernelStarted()
	m.KernelEvicted(EvictIdle, 1)
	m.Execution(ExecOK, "", time.Second)
	m.LLMCalled(LLMCall{})
	if m.Registry() != nil {
		t.Fatal("registry of nil")
	}
	h := http.NotFoundHandler()
	if got := m.InstrumentHTTP(h); got == nil {
		t.Fatal("InstrumentHTTP(nil) returned nil")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Fatalf("nil handler = %d", rec.Code)
	}
}

func TestQueueCollector(t *testing.T) {
	m := New()
	fail := false
	m.WatchQueue(func(context.Context) (QueueCounts, error) {
		if fail {
			return QueueCounts{}, errors.New("down")
		}
		return QueueCounts{Ready: 3, Leased: 2, Retrying: 1}, nil
	})
	want := `
# HELP autoanalyst_queue_jobs Jobs of the run queue, by state (ready, leased, retrying, dead).
# TYPE autoanalyst_queue_jobs gauge
autoanalyst_queue_jobs{state="dead"} 0
autoanalyst_queue_jobs{state="leased"} 2
autoanalyst_queue_jobs{state="ready"} 3
autoanalyst_queue_jobs{state="retrying"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "autoanalyst_queue_jobs"); err != nil {
		t.Fatal(err)
	}
	fail = true
	if n, err := testutil.GatherAndCount(m.Registry(), "autoanalyst_queue_jobs"); err != nil || n != 0 {
		t.Fatalf("queue_jobs while the broker fails: %d series, %v", n, err)
	}
	if n, _ := testutil.GatherAndCount(m.Registry(), "autoanalyst_queue_scrape_errors_total"); n != 1 {
		t.Fatalf("scrape errors series = %d", n)
	}
}

func TestKernelCollector(t *testing.T) {
	m := New()
	if n, _ := testutil.GatherAndCount(m.Registry(), "autoanalyst_kernels_running"); n != 0 {
		t.Fatal("kernels reported without an executor")
	}
	m.WatchKernels(func() (int, int64) { return 2, 1 << 20 })
	m.KernelStarted()
	m.KernelEvicted(EvictMemory, 2)
	m.KernelEvicted(EvictIdle, 0)
	want := `
# HELP autoanalyst_kernels_running Python kernels alive in the executor's pool (the warm spare included).
# TYPE autoanalyst_kernels_running gauge
autoanalyst_kernels_running 2
# HELP autoanalyst_kernels_memory_bytes Memory the pool's kernels hold together.
# TYPE autoanalyst_kernels_memory_bytes gauge
autoanalyst_kernels_memory_bytes 1.048576e+06
# HELP autoanalyst_kernel_evictions_total Kernels stopped by the pool, by reason (max_kernels, memory, idle, datasets_changed, dead).
# TYPE autoanalyst_kernel_evictions_total counter
autoanalyst_kernel_evictions_total{reason="memory"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"autoanalyst_kernels_running", "autoanalyst_kernels_memory_bytes", "autoanalyst_kernel_evictions_total"); err != nil {
		t.Fatal(err)
	}
}

func TestOperationNamesAreBounded(t *testing.T) {
	m := New()
	m.GraphQLOperation("query", "Viewer", false, time.Millisecond)
	m.GraphQLOperation("query", strings.Repeat("a", 65), false, time.Millisecond)
	m.GraphQLOperation("query", "bad-name", true, time.Millisecond)
	m.GraphQLOperation("", "", true, 0)
	for i := range maxOperationNames + 10 {
		m.GraphQLOperation("query", "Op"+strings.Repeat("x", i%50)+string(rune('A'+i/50)), false, 0)
	}
	if got := testutil.ToFloat64(m.gqlOps.WithLabelValues("query", "Viewer", "ok")); got != 1 {
		t.Fatalf("Viewer = %v", got)
	}
	if got := testutil.ToFloat64(m.gqlOps.WithLabelValues("query", Other, "error")); got != 1 {
		t.Fatalf("bad-name counted as %v under other", got)
	}
	if got := testutil.ToFloat64(m.gqlOps.WithLabelValues("unknown", Other, "error")); got != 1 {
		t.Fatalf("unparsed = %v", got)
	}
	if n := testutil.CollectAndCount(m.gqlOps); n > maxOperationNames+4 {
		t.Fatalf("%d operation series, want at most %d", n, maxOperationNames+4)
	}
}

func TestInstrumentHTTP(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	h := m.InstrumentHTTP(mux)
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/items/1", nil),
		httptest.NewRequest("GET", "/items/2", nil),
		httptest.NewRequest("POST", "/fail", nil),
		httptest.NewRequest("GET", "/nowhere", nil),
		httptest.NewRequest("BREW", "/items/1", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, c := range []struct {
		method, route, class string
		want                 float64
	}{
		{"GET", "GET /items/{id}", "2xx", 2},
		{"POST", "POST /fail", "5xx", 1},
		{"GET", Other, "4xx", 1},
		{Other, Other, "4xx", 1},
	} {
		if got := testutil.ToFloat64(m.httpRequests.WithLabelValues(c.method, c.route, c.class)); got != c.want {
			t.Errorf("%s %s %s = %v, want %v", c.method, c.route, c.class, got, c.want)
		}
	}
}

func TestLLMAndRunsAndLint(t *testing.T) {
	m := New()
	m.LLMCalled(LLMCall{Provider: "openai", Model: "gpt-5-mini", Step: "planner", Duration: time.Second,
		InputTokens: 10, OutputTokens: 5, CostUSD: 0.01, Retries: 2})
	m.LLMCalled(LLMCall{Provider: "openai", Failed: true})
	m.RunStarted("CHAT", 2*time.Second)
	m.RunEnded("CHAT", "SUCCEEDED", 3*time.Second)
	m.Execution(ExecError, LimitTimeout, time.Second)
	m.EventReaderLag(-time.Second)
	m.WebSocketOpened()
	m.SubscriptionStarted()
	m.RateLimited("websocket")
	m.GraphQLError("")
	if got := testutil.ToFloat64(m.llmTokens.WithLabelValues("openai", "gpt-5-mini", "planner", "input")); got != 10 {
		t.Fatalf("input tokens = %v", got)
	}
	if got := testutil.ToFloat64(m.llmRetries.WithLabelValues("openai", "gpt-5-mini", "planner")); got != 2 {
		t.Fatalf("retries = %v", got)
	}
	if got := testutil.ToFloat64(m.llmErrors.WithLabelValues("openai", Other, Other)); got != 1 {
		t.Fatalf("errors = %v", got)
	}
	if got := testutil.ToFloat64(m.readerLag); got != 0 {
		t.Fatalf("negative lag = %v", got)
	}
	if got := testutil.ToFloat64(m.gqlErrors.WithLabelValues("INTERNAL")); got != 1 {
		t.Fatalf("error without a code = %v", got)
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "go_goroutines") || !strings.Contains(rec.Body.String(), "autoanalyst_runs_total") {
		t.Fatalf("/metrics lacks series:\n%s", rec.Body.String())
	}
}
