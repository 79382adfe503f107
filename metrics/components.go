package metrics

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WatchKernels makes every scrape report what kernels returns (the kernels
// alive and the memory they hold) as autoanalyst_kernels_running and
// autoanalyst_kernels_memory_bytes; a later call replaces the function.
// Safe for concurrent use.
func (m *Metrics) WatchKernels(kernels func() (running int, memoryBytes int64)) {
	if m != nil {
		m.kernels.fn.Store(&kernels)
	}
}

type kernelCollector struct {
	running, memory *prometheus.Desc
	fn              atomic.Pointer[func() (int, int64)]
}

func (c *kernelCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.running; ch <- c.memory }

func (c *kernelCollector) Collect(ch chan<- prometheus.Metric) {
	fn := c.fn.Load()
	if fn == nil {
		return
	}
	n, mem := (*fn)()
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.memory, prometheus.GaugeValue, float64(mem))
}

// KernelStarted counts a kernel started. Safe for concurrent use.
func (m *Metrics) KernelStarted() {
	if m != nil {
		m.kernelStarts.Inc()
	}
}

// Reasons of KernelEvicted.
const (
	EvictMaxKernels      = "max_kernels"
	EvictMemory          = "memory"
	EvictIdle            = "idle"
	EvictDatasetsChanged = "datasets_changed"
	EvictDead            = "dead"
)

// KernelEvicted counts n kernels stopped by the pool for reason (one of the
// Evict constants). Safe for concurrent use.
func (m *Metrics) KernelEvicted(reason string, n int) {
	if m != nil && n > 0 {
		m.kernelEvicted.WithLabelValues(reason).Add(float64(n))
	}
}

// Outcomes and limits of Execution.
const (
	ExecOK     = "ok"     // the code ran to its end
	ExecError  = "error"  // the code raised (a limit included)
	ExecFailed = "failed" // the sandbox or the kernel failed

	LimitNone      = "none"
	LimitTimeout   = "timeout"
	LimitMemory    = "memory"
	LimitOutput    = "output"
	LimitProcesses = "processes"
	LimitTmp       = "tmp"
)

// Execution records a code execution: its outcome (an Exec constant), the
// limit it hit (a Limit constant) and its wall time. Safe for concurrent use.
func (m *Metrics) Execution(outcome, limit string, d time.Duration) {
	if m == nil {
		return
	}
	if limit == "" {
		limit = LimitNone
	}
	m.executions.WithLabelValues(outcome, limit).Inc()
	m.execDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// LLMCall is one call of a model, as LLMCalled records it.
type LLMCall struct {
	// Provider is the provider's name; Model the model, already bounded by
	// the caller to the models it knows (else Other); Step the step of a run
	// that made the call.
	Provider, Model, Step string
	Duration              time.Duration
	InputTokens           int
	OutputTokens          int
	CostUSD               float64
	// Retries is the number of attempts beyond the first.
	Retries int
	Failed  bool
}

// LLMCalled records an LLM call. Safe for concurrent use.
func (m *Metrics) LLMCalled(c LLMCall) {
	if m == nil {
		return
	}
	for _, s := range []*string{&c.Provider, &c.Model, &c.Step} {
		if *s == "" {
			*s = Other
		}
	}
	l := prometheus.Labels{"provider": c.Provider, "model": c.Model, "step": c.Step}
	m.llmDuration.With(l).Observe(c.Duration.Seconds())
	m.llmTokens.WithLabelValues(c.Provider, c.Model, c.Step, "input").Add(float64(max(c.InputTokens, 0)))
	m.llmTokens.WithLabelValues(c.Provider, c.Model, c.Step, "output").Add(float64(max(c.OutputTokens, 0)))
	m.llmCost.With(l).Add(max(c.CostUSD, 0))
	m.llmRetries.With(l).Add(float64(max(c.Retries, 0)))
	if c.Failed {
		m.llmErrors.With(l).Inc()
	} else {
		m.llmErrors.With(l).Add(0) // the series exists from the first call
	}
}

// InstrumentHTTP counts the requests next serves and their latency, by
// method, the route pattern of the http.ServeMux that next is (or
// wraps without copying the request; "other" when nothing matched) and the
// status class. WebSocket upgrades count as 101 when they are hijacked. A
// nil *Metrics returns next. The handler is safe for concurrent use.
func (m *Metrics) InstrumentHTTP(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		route := r.Pattern
		if route == "" {
			route = Other
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
			http.MethodDelete, http.MethodOptions:
		default:
			method = Other
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status/100)+"xx").Inc()
		m.httpDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status; it passes Flush and Hijack through
// (SSE and WebSockets need them) and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
