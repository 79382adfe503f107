// Package metrics holds the Prometheus series of an autoanalyst process on a
// registry of its own (never the global default registry), and serves them
// at /metrics.
//
// A process creates one *Metrics with New and hands it to its components
// (the HTTP handler, the orchestrator, the executor, the broker, the
// WebSocket transport); each component records what it does through the
// methods here. Every method is nil-safe: a nil *Metrics records nothing, so
// components and tests that pass no metrics need no change.
//
// Label values are bounded: route patterns, operation types, status
// classes, run kinds and statuses, error codes, known models (others are
// "other"), never a user id or a run id. The package is a leaf: it imports
// only Prometheus's client and the standard library.
package metrics

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every series of the application (not Go's and the
// process's own).
const Namespace = "autoanalyst"

// Other is the label value that stands for every value beyond the bound of
// a label (an unknown model, an operation name that is too long or too rare).
const Other = "other"

// maxOperationNames bounds the distinct GraphQL operation names kept as
// label values; later new names count as Other.
const maxOperationNames = 200

// Metrics is the series of one process. Safe for concurrent use; every
// method of a nil *Metrics does nothing.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	gqlOps      *prometheus.CounterVec
	gqlDuration *prometheus.HistogramVec
	gqlErrors   *prometheus.CounterVec
	rateLimited *prometheus.CounterVec

	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	runQueued     *prometheus.HistogramVec
	runRepairs    *prometheus.CounterVec
	queue         *queueCollector
	kernels       *kernelCollector
	kernelStarts  prometheus.Counter
	kernelEvicted *prometheus.CounterVec
	executions    *prometheus.CounterVec
	execDuration  *prometheus.HistogramVec

	llmDuration *prometheus.HistogramVec
	llmTokens   *prometheus.CounterVec
	llmCost     *prometheus.CounterVec
	llmRetries  *prometheus.CounterVec
	llmErrors   *prometheus.CounterVec

	wsConns   prometheus.Gauge
	wsSubs    prometheus.Gauge
	readerLag prometheus.Gauge

	opNamesMu sync.Mutex
	opNames   map[string]bool
}

// New returns the series of a process on a new registry, with Go's runtime
// and the process's collectors. Safe for concurrent use.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), opNames: map[string]bool{}}
	f := factory{m.reg}
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	long := []float64{.1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}
	m.httpRequests = f.counter("http_requests_total", "HTTP requests served, by method, route pattern and status class (2xx, 4xx...).", "method", "route", "status_class")
	m.httpDuration = f.histogram("http_request_duration_seconds", "Time to serve an HTTP request (to the upgrade for a WebSocket), by method and route pattern.", latency, "method", "route")
	m.gqlOps = f.counter("graphql_operations_total", "GraphQL operations, by type (query, mutation, subscription; unknown when the document did not parse or validate), name and outcome (ok, error).", "type", "name", "outcome")
	m.gqlDuration = f.histogram("graphql_operation_duration_seconds", "Time from an operation's start to its first response, by type and name.", latency, "type", "name")
	m.gqlErrors = f.counter("graphql_errors_total", "GraphQL errors in responses, by extensions.code.", "code")
	m.rateLimited = f.counter("rate_limited_total", "Requests (http) and WebSocket operations (websocket) refused by the rate limit.", "transport")
	m.runs = f.counter("runs_total", "Runs that ended on this worker, by kind and final status.", "kind", "status")
	m.runDuration = f.histogram("run_duration_seconds", "Time from a run's start on a worker to its end, by kind and final status.", long, "kind", "status")
	m.runRepairs = f.counter("run_repairs_total", "Runs the reconciler repaired, by action: requeued (the broker had lost its job), failed_dead (its job was dead-lettered), failed_lost (its job was lost too often).", "action")
	m.runQueued = f.histogram("run_queued_seconds", "Time a run waited between its creation and its start on a worker, by kind.", long, "kind")
	m.kernelStarts = f.plainCounter("kernel_starts_total", "Python kernels started (warm spares included).")
	m.kernelEvicted = f.counter("kernel_evictions_total", "Kernels stopped by the pool, by reason (max_kernels, memory, idle, datasets_changed, dead).", "reason")
	m.executions = f.counter("executions_total", "Code executions, by outcome (ok; error: the code raised; failed: the sandbox failed) and the limit hit (none, timeout, memory, output, processes, tmp).", "outcome", "limit")
	m.execDuration = f.histogram("execution_duration_seconds", "Wall time of a code execution, by outcome.", long, "outcome")
	llmLabels := []string{"provider", "model", "step"}
	m.llmDuration = f.histogram("llm_request_duration_seconds", "Time of an LLM call, retries included, by provider, model and step.", long, llmLabels...)
	m.llmTokens = f.counter("llm_tokens_total", "Tokens of LLM calls, by provider, model, step and kind (input, output).", append(llmLabels[:3:3], "kind")...)
	m.llmCost = f.counter("llm_cost_usd_total", "Cost in US dollars of LLM calls (from the model registry's prices; 0 for unknown models).", llmLabels...)
	m.llmRetries = f.counter("llm_retries_total", "Attempts of LLM calls beyond the first (429, 5xx, timeouts).", llmLabels...)
	m.llmErrors = f.counter("llm_errors_total", "LLM calls that failed.", llmLabels...)
	m.wsConns = f.gauge("websocket_connections", "Open GraphQL WebSocket connections.")
	m.wsSubs = f.gauge("websocket_subscriptions", "Subscriptions running on GraphQL WebSocket connections.")
	m.readerLag = f.gauge("event_reader_lag_seconds", "Age of the last run event the Redis event reader delivered, when it was read (time from XADD to fan-out).")
	m.queue = &queueCollector{desc: prometheus.NewDesc(Namespace+"_queue_jobs", "Jobs of the run queue, by state (ready, leased, retrying, dead).", []string{"state"}, nil),
		errDesc: prometheus.NewDesc(Namespace+"_queue_scrape_errors_total", "Scrapes that could not count the queue's jobs.", nil, nil)}
	m.kernels = &kernelCollector{
		running: prometheus.NewDesc(Namespace+"_kernels_running", "Python kernels alive in the executor's pool (the warm spare included).", nil, nil),
		memory:  prometheus.NewDesc(Namespace+"_kernels_memory_bytes", "Memory the pool's kernels hold together.", nil, nil),
	}
	m.reg.MustRegister(m.queue, m.kernels,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and for registering more
// collectors. Nil for a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in Prometheus's text (or OpenMetrics) format.
// A nil *Metrics serves 404. Safe for concurrent use.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) plainCounter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

var operationName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// boundName is name when it is a plausible operation name among the first
// maxOperationNames seen, else Other.
func (m *Metrics) boundName(name string) string {
	if !operationName.MatchString(name) {
		return Other
	}
	m.opNamesMu.Lock()
	defer m.opNamesMu.Unlock()
	if m.opNames[name] {
		return name
	}
	if len(m.opNames) >= maxOperationNames {
		return Other
	}
	m.opNames[name] = true
	return name
}

// GraphQLOperation records an operation: its type ("query", "mutation",
// "subscription", or "unknown" when it did not parse), its name (bounded:
// others count as "other"), whether it ended with errors, and the time to
// its first response. Safe for concurrent use.
func (m *Metrics) GraphQLOperation(typ, name string, failed bool, d time.Duration) {
	if m == nil {
		return
	}
	if typ == "" {
		typ = "unknown"
	}
	name = m.boundName(name)
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.gqlOps.WithLabelValues(typ, name, outcome).Inc()
	m.gqlDuration.WithLabelValues(typ, name).Observe(d.Seconds())
}

// GraphQLError counts an error of a response by its extensions.code
// ("" counts as INTERNAL). Safe for concurrent use.
func (m *Metrics) GraphQLError(code string) {
	if m == nil {
		return
	}
	if code == "" || !operationName.MatchString(code) {
		code = "INTERNAL"
	}
	m.gqlErrors.WithLabelValues(code).Inc()
}

// RateLimited counts a refusal of the rate limit; transport is "http" or
// "websocket". Safe for concurrent use.
func (m *Metrics) RateLimited(transport string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(transport).Inc()
}

// RunStarted records the time a run of kind waited in the queue. Safe for
// concurrent use.
func (m *Metrics) RunStarted(kind string, queued time.Duration) {
	if m == nil {
		return
	}
	m.runQueued.WithLabelValues(kind).Observe(max(queued, 0).Seconds())
}

// RunEnded records a run of kind that ended with status (SUCCEEDED,
// FAILED, CANCELLED) after running for d. Safe for concurrent use.
func (m *Metrics) RunEnded(kind, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(kind, status).Inc()
	m.runDuration.WithLabelValues(kind, status).Observe(d.Seconds())
}

// RunRepaired counts a run the reconciler repaired, by action (requeued,
// failed_dead, failed_lost). Safe for concurrent use.
func (m *Metrics) RunRepaired(action string) {
	if m != nil {
		m.runRepairs.WithLabelValues(action).Inc()
	}
}

// WebSocketOpened and WebSocketClosed count open WebSocket connections.
// Safe for concurrent use.
func (m *Metrics) WebSocketOpened() {
	if m != nil {
		m.wsConns.Inc()
	}
}

// WebSocketClosed: see WebSocketOpened. Safe for concurrent use.
func (m *Metrics) WebSocketClosed() {
	if m != nil {
		m.wsConns.Dec()
	}
}

// SubscriptionStarted and SubscriptionEnded count the subscriptions
// running on WebSockets. Safe for concurrent use.
func (m *Metrics) SubscriptionStarted() {
	if m != nil {
		m.wsSubs.Inc()
	}
}

// SubscriptionEnded: see SubscriptionStarted. Safe for concurrent use.
func (m *Metrics) SubscriptionEnded() {
	if m != nil {
		m.wsSubs.Dec()
	}
}

// EventReaderLag sets the age of the last event the event reader delivered.
// Safe for concurrent use.
func (m *Metrics) EventReaderLag(d time.Duration) {
	if m != nil {
		m.readerLag.Set(max(d, 0).Seconds())
	}
}

// QueueCounts is what a queue holds at one moment.
type QueueCounts struct {
	Ready, Leased, Retrying, Dead int64
}

// WatchQueue makes every scrape report what counts returns (the broker's
// Stats) as autoanalyst_queue_jobs; a later call replaces the function.
// Safe for concurrent use.
func (m *Metrics) WatchQueue(counts func(ctx context.Context) (QueueCounts, error)) {
	if m != nil {
		m.queue.counts.Store(&counts)
	}
}

type queueCollector struct {
	desc, errDesc *prometheus.Desc
	counts        atomic.Pointer[func(context.Context) (QueueCounts, error)]
	errors        atomic.Int64
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.errDesc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	if fn := c.counts.Load(); fn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		q, err := (*fn)(ctx)
		cancel()
		if err != nil {
			c.errors.Add(1)
		} else {
			for _, s := range []struct {
				state string
				n     int64
			}{{"ready", q.Ready}, {"leased", q.Leased}, {"retrying", q.Retrying}, {"dead", q.Dead}} {
				ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.n), s.state)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.errDesc, prometheus.CounterValue, float64(c.errors.Load()))
}
