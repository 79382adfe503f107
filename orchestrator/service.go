package orchestrator

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/catalog"
	"github.com/autoanalyst/autoanalyst/dataset"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/metrics"
	"github.com/autoanalyst/autoanalyst/modelsetting"
	"github.com/autoanalyst/autoanalyst/report"
	"github.com/autoanalyst/autoanalyst/tracing"
)

// Executor runs code in a chat's sandboxed kernel.
type Executor interface {
	Execute(ctx context.Context, req executor.Request) (*executor.Result, error)
}

// DatasetFiles locates the stored files of datasets for the executor.
type DatasetFiles interface {
	Files(ctx context.Context, ds []*ent.Dataset) ([]executor.Dataset, error)
}

// Models picks the model of a user's run (*modelsetting.Service does). An
// error wraps llm.ErrNotConfigured when no provider serves the model, and is
// a *modelsetting.KeyError when the user's own key cannot be used.
type Models interface {
	ForRun(ctx context.Context, userID string) (*modelsetting.Choice, error)
}

// Credits charges runs as they are accepted (*credit.Service does): Charge,
// inside the transaction that creates the run, returns the credits charged
// or a CREDITS_EXHAUSTED refusal; Refund gives back the credits of a run
// that could not be queued.
type Credits interface {
	Charge(ctx context.Context, tx *ent.Tx, userID string, kind run.Kind) (int, error)
	Refund(ctx context.Context, userID string, credits int) error
}

// Config wires a Service.
type Config struct {
	DB       *ent.Client
	Broker   broker.Broker
	Executor Executor
	Files    DatasetFiles
	// Outputs keeps the files code writes to /tmp/outputs (nil: they are
	// dropped).
	Outputs dataset.Store
	Models  Models
	// Credits, if set, charges each run before it is created (nil: runs
	// are free).
	Credits Credits
	// Templates gives a user's runs their agents and counts the agents' uses
	// (nil: the built-in agents, not counted).
	Templates *catalog.Service
	// Registry prices the LLM calls (nil: llm.DefaultRegistry()).
	Registry *llm.Registry
	Logger   zerolog.Logger
	// Metrics, if set, records runs and LLM calls.
	Metrics *metrics.Metrics
	// Lease is how long a claimed run is held without a heartbeat (default 30s).
	Lease time.Duration
	// ReconcileInterval is how often each worker process reconciles the
	// database's unfinished runs with the broker (Reconcile); default 30s,
	// negative: never.
	ReconcileInterval time.Duration
	// DBPatience is how long a worker retries a database write that must
	// not be lost (a run's start and end, a usage row) while the database
	// does not answer; default 60s.
	DBPatience time.Duration
	// MaxFixAttempts bounds the code-fix loop of a chat turn (default 3).
	MaxFixAttempts int
	// ExecTimeout bounds one code execution (0: the executor's default).
	ExecTimeout time.Duration
	// MaxResultBytes bounds the figures, images and tables stored with an
	// answer's code execution (0: DefaultMaxResultBytes); give it the
	// executor's bound of one execution's (EXEC_MAX_RESULT_BYTES).
	MaxResultBytes int64
	// FrameMaxBytes bounds a frame exported as a file (ExportFrame; 0:
	// DefaultFrameMaxBytes); give it OUTPUT_MAX_BYTES.
	FrameMaxBytes int64
	// StepModels gives steps (see ModelSteps) a model of their own.
	StepModels map[string]StepModel
	// DeepExecTimeout bounds each execution of a deep analysis (default 5m).
	DeepExecTimeout time.Duration
	// Plotly provides the plotly.js that reports inline (nil: looked up per report).
	Plotly *report.PlotlyLoader
	// TracerProvider traces runs: the enqueue, the run on a worker (the
	// trace context travels in the job), its LLM calls and executions
	// (nil: no traces).
	TracerProvider trace.TracerProvider
}

// Service starts, cancels, executes and follows runs. Safe for concurrent
// use.
type Service struct {
	cfg     Config
	prompts *prompts
	tracer  trace.Tracer
	steps   map[string]StepModel         // metered StepModels
	decoded *lru.Cache[eventKey, *Event] // see event
	usage   usageWrites                  // see recordUsage

	mu       sync.Mutex
	draining bool
	local    map[string]context.CancelCauseFunc // runs held by this process's workers
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = 30 * time.Second
	}
	if cfg.DBPatience <= 0 {
		cfg.DBPatience = 60 * time.Second
	}
	if cfg.MaxFixAttempts <= 0 {
		cfg.MaxFixAttempts = 3
	}
	if cfg.Registry == nil {
		cfg.Registry = llm.DefaultRegistry()
	}
	p, err := loadPrompts()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, prompts: p, local: map[string]context.CancelCauseFunc{}, tracer: tracing.Tracer(cfg.TracerProvider),
		decoded: newEventCache()}
	if s.steps, err = s.stepModels(cfg.StepModels); err != nil {
		return nil, err
	}
	return s, nil
}
