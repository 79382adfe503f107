// Command autoanalyst is the Auto-Analyst backend: the GraphQL API, the
// workers that run chat turns and code, and the database migrations.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v3"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/analytics"
	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/buildinfo"
	"github.com/autoanalyst/autoanalyst/catalog"
	"github.com/autoanalyst/autoanalyst/chat"
	"github.com/autoanalyst/autoanalyst/credit"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/dataset"
	"github.com/autoanalyst/autoanalyst/diskspace"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/graph/sdl"
	"github.com/autoanalyst/autoanalyst/graphws"
	"github.com/autoanalyst/autoanalyst/httpapi"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/metrics"
	"github.com/autoanalyst/autoanalyst/modelsetting"
	"github.com/autoanalyst/autoanalyst/orchestrator"
	"github.com/autoanalyst/autoanalyst/report"
	"github.com/autoanalyst/autoanalyst/resolvers"
	"github.com/autoanalyst/autoanalyst/secret"
	"github.com/autoanalyst/autoanalyst/tracing"
)

// version is the release version, set with -ldflags "-X main.version=v1.2.3"
// (GoReleaser's convention; the same as setting buildinfo.Version).
var version string

// defaultGOGC is the garbage collector's target (Go's GOGC) when the
// environment sets none: twice Go's 100. Every event a run streams is
// decoded, executed by gqlgen and written to each subscriber, all short-lived
// allocations; at 100 the collector took 10 to 15% of a chat turn's CPU. At
// 200 a turn's CPU fell by 17% and its overhead by 13%, for 16 MB more peak
// RSS (BenchmarkChatTurnOverhead, TURN_GOGC). GOGC and GOMEMLIMIT, when
// set, are Go's as always.
const defaultGOGC = 200

// tuneGC sets the collector's target to defaultGOGC unless the environment
// (lookupEnv) gives GOGC a value (an empty one counts as none, as for Go).
func tuneGC(lookupEnv func(string) (string, bool)) {
	if v, _ := lookupEnv("GOGC"); v == "" {
		debug.SetGCPercent(defaultGOGC)
	}
}

func main() {
	tuneGC(os.LookupEnv)
	if version != "" {
		buildinfo.Version = version
	}
	cli.VersionPrinter = func(*cli.Command) { fmt.Println("autoanalyst", buildinfo.Read()) }
	cmd := &cli.Command{
		Name:    "autoanalyst",
		Usage:   "multi-agent AI data analysis backend",
		Version: buildinfo.Read().Version,
		Commands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "serve the GraphQL API (and, by default, run workers in-process)",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "workers", Value: -1, Usage: "in-process workers (default: WORKERS)"},
				},
				Action: func(ctx context.Context, c *cli.Command) error {
					if c.Args().Present() {
						return fmt.Errorf("unknown command %q: the commands are serve, worker, queues, migrate, users, templates, schema and version (autoanalyst --help)", c.Args().First())
					}
					return serve(ctx, int(c.Int("workers")))
				},
			},
			{
				Name:  "worker",
				Usage: "run workers only (scaled-out mode: needs REDIS_URL and a PostgreSQL DATABASE_URL)",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "workers", Value: -1, Usage: "workers in this process (default: WORKERS)"},
				},
				Action: func(ctx context.Context, c *cli.Command) error { return work(ctx, int(c.Int("workers"))) },
			},
			{
				Name:  "queues",
				Usage: "print the job queue's counts (ready, leased, retrying, dead) as JSON; --watch repeats every second",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "watch", Usage: "print a line every second until interrupted"},
				},
				Action: func(ctx context.Context, c *cli.Command) error { return queues(ctx, c.Bool("watch")) },
			},
			{
				Name:   "migrate",
				Usage:  "apply pending database migrations and exit",
				Action: func(ctx context.Context, c *cli.Command) error { return migrate(ctx) },
			},
			{
				Name:  "users",
				Usage: "manage users",
				Commands: []*cli.Command{
					{
						Name:      "set",
						Usage:     "give the user of EMAIL a role (USER, ADMIN) and/or a plan (FREE, PRO)",
						ArgsUsage: "EMAIL",
						Flags: []cli.Flag{
							&cli.StringFlag{Name: "role", Usage: "USER or ADMIN"},
							&cli.StringFlag{Name: "plan", Usage: "FREE or PRO"},
						},
						Action: func(ctx context.Context, c *cli.Command) error {
							if c.Args().Len() != 1 {
								return fmt.Errorf("users set takes one EMAIL, got %d arguments", c.Args().Len())
							}
							return setUserCommand(ctx, c.Args().First(), c.String("role"), c.String("plan"))
						},
					},
				},
			},
			{
				Name:  "templates",
				Usage: "manage the built-in agent templates",
				Commands: []*cli.Command{
					{
						Name:      "sync",
						Usage:     "write the templates of FILE (default: TEMPLATES_FILE, else the embedded default) into the database and delete those it lists under remove",
						ArgsUsage: "[FILE]",
						Action: func(ctx context.Context, c *cli.Command) error {
							if c.Args().Len() > 1 {
								return fmt.Errorf("templates sync takes at most one FILE, got %d arguments", c.Args().Len())
							}
							return syncTemplatesCommand(ctx, c.Args().First())
						},
					},
				},
			},
			{
				Name:   "schema",
				Usage:  "print the GraphQL schema (SDL) that the API publishes; needs no configuration",
				Action: func(ctx context.Context, c *cli.Command) error { return printSchema() },
			},
			{
				Name:  "version",
				Usage: "print the version, the commit and the Go toolchain (--json: as JSON)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "print a JSON object (version, commit, time, dirty, goVersion, platform)"},
				},
				Action: func(ctx context.Context, c *cli.Command) error { return printVersion(c.Bool("json")) },
			},
		},
		DefaultCommand: "serve",
	}
	if err := cmd.Run(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "autoanalyst:", err)
		os.Exit(1)
	}
}

// printSchema writes the published GraphQL SDL to stdout (make generate
// saves it as api/schema.graphql). It reads no configuration and opens
// nothing.
func printSchema() error {
	_, err := os.Stdout.WriteString(sdl.String())
	return err
}

// printVersion writes the build's version, commit and toolchain to stdout:
// one line, or with asJSON a JSON object.
func printVersion(asJSON bool) error {
	info := buildinfo.Read()
	if !asJSON {
		_, err := fmt.Println("autoanalyst", info)
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(info)
}

func openDatabase(ctx context.Context, cfg *config, log zerolog.Logger) (*database.DB, error) {
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	n, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	log.Info().Str("database", db.Location).Int("applied", n).Msg("database ready")
	return db, nil
}

// syncTemplates writes the templates configuration (file, else
// TEMPLATES_FILE, else the embedded default) into the database.
func syncTemplates(ctx context.Context, cfg *config, log zerolog.Logger, tpl *catalog.Service, file string) error {
	if file == "" {
		file = cfg.TemplatesFile
	}
	tc, err := catalog.LoadTemplateConfig(file)
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	res, err := tpl.Sync(ctx, tc)
	if err != nil {
		return fmt.Errorf("sync templates: %w", err)
	}
	source := file
	if source == "" {
		source = "embedded default"
	}
	log.Info().Str("source", source).Int("templates", len(tc.Templates)).Int("created", res.Created).
		Int("updated", res.Updated).Int("removed", res.Removed).Msg("templates synced")
	return nil
}

// withDatabase runs fn, a command's work, with the configuration, a logger
// and the migrated database, which it closes afterwards.
func withDatabase(ctx context.Context, fn func(cfg *config, log zerolog.Logger, db *database.DB) error) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(cfg, log, db)
}

func syncTemplatesCommand(ctx context.Context, file string) error {
	return withDatabase(ctx, func(cfg *config, log zerolog.Logger, db *database.DB) error {
		return syncTemplates(ctx, cfg, log, catalog.New(db.Client), file)
	})
}

// migrate applies the pending migrations (opening the database does).
func migrate(ctx context.Context) error {
	return withDatabase(ctx, func(*config, zerolog.Logger, *database.DB) error { return nil })
}

// node is what every process has: the database, the sandbox, the broker and
// the services on top of them.
type node struct {
	cfg       *config
	log       zerolog.Logger
	workers   int // the workers this process runs (0: API only)
	db        *database.DB
	broker    broker.Broker
	datasets  *dataset.Service
	runs      *orchestrator.Service
	templates *catalog.Service
	settings  *modelsetting.Service
	credits   *credit.Service
	// checks are what /readyz checks: the database, Redis, the sandbox.
	checks  []httpapi.HealthCheck
	metrics *metrics.Metrics
	tracer  trace.TracerProvider
	closers []func() error
}

// close releases what start opened, last opened first.
func (n *node) close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](); err != nil {
			n.log.Warn().Err(err).Msg("close")
		}
	}
}

// startNode opens everything a process of the given role needs. apiOnly
// and workerOnly describe a scaled-out process; both false is the embedded
// default (API and workers in one process).
func startNode(ctx context.Context, cfg *config, log zerolog.Logger, workers int, role string) (*node, error) {
	if err := checkMode(cfg, workers, role); err != nil {
		return nil, err
	}
	logStart(log, cfg, role, workers)
	n := &node{cfg: cfg, log: log, workers: workers, metrics: metrics.New()}
	ok := false
	defer func() {
		if !ok {
			n.close()
		}
	}()
	stopDebug, err := startDebug(cfg, log)
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() error { stopDebug(); return nil })
	// Traces (OTEL_* variables; off without them). Shut down last: the
	// spans of the runs that ended while stopping are flushed.
	tp, stopTracing, err := tracing.Setup(ctx, "autoanalyst", buildinfo.Read().Version)
	if err != nil {
		return nil, err
	}
	n.tracer = tp
	n.closers = append(n.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return stopTracing(sctx)
	})
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	n.db = db
	n.closers = append(n.closers, db.Close)
	n.checks = append(n.checks, httpapi.HealthCheck{Name: "database", Check: db.SQL.PingContext})

	exec, err := executor.New(executor.Config{
		Python:                   cfg.Python,
		Sandbox:                  cfg.ExecutorSandbox != "off",
		HostUser:                 cfg.SandboxUser,
		ExecTimeout:              cfg.ExecTimeout,
		MemoryLimitBytes:         cfg.ExecMemoryBytes,
		MaxOutputBytes:           cfg.ExecMaxOutput,
		MaxResultBytes:           cfg.ExecMaxResult,
		TmpSizeBytes:             cfg.ExecTmpBytes,
		OutputMaxFiles:           cfg.OutputMaxFiles,
		OutputMaxBytes:           cfg.OutputMaxBytes,
		MaxKernels:               cfg.MaxKernels,
		MemoryBudgetBytes:        cfg.KernelsMemory,
		MaxConcurrent:            cfg.ExecConcurrency,
		ReadTimeout:              cfg.ReadTimeout,
		ReadConcurrency:          cfg.ReadConcurrency,
		MaxColumns:               cfg.MaxColumns,
		MaxLineBytes:             cfg.MaxLineBytes,
		XLSXMaxUncompressedBytes: cfg.XLSXMaxBytes,
		XLSXMaxRatio:             cfg.XLSXMaxRatio,
		IdleTimeout:              cfg.KernelIdle,
		Logger:                   log,
		Metrics:                  n.metrics,
	})
	var runner interface {
		orchestrator.Executor
		dataset.Profiler
	} = exec
	if err != nil {
		if !errors.Is(err, executor.ErrSandboxUnavailable) {
			return nil, err
		}
		log.Error().Err(err).Msg("code execution is disabled: install bubblewrap, or set EXECUTOR_SANDBOX=off for development only")
		runner = unavailable{err}
		sandboxErr := err
		n.checks = append(n.checks, httpapi.HealthCheck{Name: "sandbox", Check: func(context.Context) error { return sandboxErr }})
	} else {
		n.checks = append(n.checks, httpapi.HealthCheck{Name: "sandbox", Check: func(context.Context) error { return nil }})
		n.closers = append(n.closers, exec.Close)
	}

	brk, closeBroker, err := openBroker(ctx, cfg, log, n.metrics)
	if err != nil {
		return nil, err
	}
	n.broker = brk
	// Two deployments sharing a Redis server and prefix would take each
	// other's jobs: say so at start.
	if r, ok := brk.(interface {
		Register(context.Context, string) (string, error)
	}); ok {
		if owner, err := r.Register(ctx, db.Location); err != nil {
			log.Warn().Err(err).Msg("could not register this deployment with the Redis prefix")
		} else if owner != db.Location {
			log.Error().Str("prefix", cfg.RedisPrefix).Str("database", db.Location).Str("other_database", owner).
				Msg("REDIS_PREFIX is shared with a deployment on another database: their workers take each other's jobs; give each deployment a REDIS_PREFIX of its own")
		}
	}
	watchQueue(n.metrics, brk)
	n.closers = append(n.closers, closeBroker)
	if p, ok := brk.(interface{ Ping(context.Context) error }); ok && cfg.RedisURL != "" {
		n.checks = append(n.checks, httpapi.HealthCheck{Name: "redis", Check: p.Ping})
	}

	blobURL := cfg.BlobURL
	if blobURL == "" {
		blobURL = "file://" + filepath.Join(cfg.DataDir, "blobs")
	}
	// /readyz fails while the data folder (SQLite, blob cache) or a blob
	// folder has less than DISK_MIN_FREE_BYTES left.
	if cfg.DiskMinFree > 0 {
		n.checks = append(n.checks, httpapi.HealthCheck{Name: "disk", Check: diskspace.Check(cfg.DataDir, uint64(cfg.DiskMinFree))})
		if dir, ok := strings.CutPrefix(blobURL, "file://"); ok {
			n.checks = append(n.checks, httpapi.HealthCheck{Name: "blob disk", Check: diskspace.Check(dir, uint64(cfg.DiskMinFree))})
		}
	}
	store, err := dataset.OpenStore(ctx, blobURL, filepath.Join(cfg.DataDir, "blob-cache"))
	if err != nil {
		return nil, fmt.Errorf("configuration: BLOB_URL: %w", err)
	}
	if c, ok := store.(interface{ Close() error }); ok {
		n.closers = append(n.closers, c.Close)
	}
	n.datasets = &dataset.Service{
		DB:       db.Client,
		Store:    store,
		Profiler: runner,
		MaxBytes: cfg.UploadMaxBytes,
	}
	n.templates = catalog.New(db.Client)
	box, err := secret.New(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	n.settings = modelsetting.New(modelsetting.Config{
		DB: db.Client, Box: box, DefaultModel: cfg.DefaultModel, Providers: providersFromEnv(cfg),
		OpenAIBaseURL: cfg.OpenAIBaseURL, Timeout: cfg.LLMTimeout,
	})
	if box == nil {
		log.Info().Msg("SECRET_KEY is not set: users cannot store their own API keys (updateModelSettings refuses apiKey)")
	}
	deep := cfg.CreditsDeep
	if deep == 0 {
		deep = -1 // free (credit.Config reads 0 as its default)
	}
	n.credits = credit.New(credit.Config{
		DB: db.Client, DefaultModel: cfg.DefaultModel,
		Free: cfg.CreditsFree, Pro: cfg.CreditsPro, DeepAnalysis: deep,
	})
	steps, err := stepModels(cfg)
	if err != nil {
		return nil, err
	}
	n.runs, err = orchestrator.New(orchestrator.Config{
		DB:          db.Client,
		Templates:   n.templates,
		Broker:      brk,
		Executor:    runner,
		Files:       n.datasets,
		Outputs:     store,
		Models:      n.settings,
		Credits:     n.credits,
		StepModels:  steps,
		Logger:      log.With().Str("component", "orchestrator").Logger(),
		Metrics:     n.metrics,
		ExecTimeout: cfg.ExecTimeout,
		// The run's span continues the request's trace (it travels in the job).
		TracerProvider:    n.tracer,
		Lease:             cfg.RunLease,
		ReconcileInterval: cfg.ReconcileEvery,
		DBPatience:        cfg.DBPatience,
		// An answer's stored result is bounded as its execution is.
		MaxResultBytes: cfg.ExecMaxResult,
		// An exported frame is bounded as the files code writes are.
		FrameMaxBytes: cfg.OutputMaxBytes,
		// Deep analysis: its execution step's limit, and plotly.js for its reports.
		DeepExecTimeout: cfg.DeepExecTimeout,
		Plotly:          &report.PlotlyLoader{Python: cfg.Python},
	})
	if err != nil {
		return nil, err
	}
	if !anyProvider(cfg) && workers > 0 {
		log.Warn().Msg("no LLM provider configured: chat runs will fail until OPENAI_API_KEY, ANTHROPIC_API_KEY, GROQ_API_KEY, GEMINI_API_KEY or OLLAMA_BASE_URL is set")
	}
	ok = true
	return n, nil
}

// checkMode refuses combinations of processes that cannot work, saying why.
func checkMode(cfg *config, workers int, role string) error {
	shared := cfg.RedisURL != ""
	switch {
	case role == "worker" && !shared:
		return errors.New("autoanalyst worker needs REDIS_URL: worker processes receive runs through Redis (the in-memory broker serves one process; use `autoanalyst serve` instead)")
	case role == "worker" && workers < 1:
		return errors.New("autoanalyst worker needs WORKERS/--workers of at least 1")
	case role == "serve" && workers == 0 && !shared:
		return errors.New("serve --workers 0 needs REDIS_URL: with the in-memory broker, runs are executed only by this process's workers (set WORKERS of at least 1, or REDIS_URL with separate `autoanalyst worker` processes)")
	case shared && cfg.DatabaseURL == "":
		return errors.New("REDIS_URL is set but DATABASE_URL is not: processes that share runs must share a PostgreSQL database (SQLite is a file of one machine)")
	}
	return nil
}

// bootNode is the start-up serve and work share: the configuration, the
// logger, a context that SIGTERM and SIGINT end, and the node of role with
// workers workers (WORKERS when negative). The caller must call stop, which
// closes the node and stops catching the signals.
func bootNode(ctx context.Context, workers int, role string) (_ context.Context, _ *node, stop func(), _ error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	if workers < 0 {
		workers = cfg.Workers
	}
	log := newLogger(cfg)
	ctx, stopSignals := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	n, err := startNode(ctx, cfg, log, workers, role)
	if err != nil {
		stopSignals()
		return nil, nil, nil, err
	}
	return ctx, n, func() { n.close(); stopSignals() }, nil
}

func serve(ctx context.Context, workers int) error {
	ctx, n, stop, err := bootNode(ctx, workers, "serve")
	if err != nil {
		return err
	}
	defer stop()
	cfg, log, workers := n.cfg, n.log, n.workers
	db, runs, datasets := n.db, n.runs, n.datasets
	if err := syncTemplates(ctx, cfg, log, n.templates, ""); err != nil {
		return err
	}
	if nr, err := runs.Recover(ctx); err != nil {
		return err
	} else if nr > 0 {
		log.Info().Int("runs", nr).Msg("requeued unfinished runs")
	}
	var pool *orchestrator.Workers
	if workers > 0 {
		pool = runs.StartWorkers(workers)
	}

	authSvc := auth.New(db.Client, cfg.SessionTTL, cfg.AdminAPIKey)
	authSvc.OnUserCreated(n.templates.EnableDefaults)
	var draining atomic.Bool
	webSockets := &graphws.Shutdown{}
	stats, err := analytics.New(db.Client, db.Dialect, nil)
	if err != nil {
		return err
	}
	h, err := httpapi.NewHandler(&resolvers.Resolver{
		DB: db.Client, Auth: authSvc, Datasets: datasets, Runs: runs, Chats: chat.New(db.Client, runs), Analytics: stats,
		TemplateService: n.templates, Reports: report.NewStore(db.Client), Settings: n.settings,
		CreditService: n.credits, Logger: log.With().Str("component", "api").Logger(),
	}, httpapi.Config{
		MaxUploadBytes:  cfg.UploadMaxBytes,
		MaxRequestBytes: cfg.MaxRequestBytes,
		MaxUploadFiles:  cfg.UploadMaxFiles,
		Limits: httpapi.Limits{
			MaxTokens:     cfg.QueryMaxTokens,
			MaxFields:     cfg.QueryMaxFields,
			MaxDepth:      cfg.QueryMaxDepth,
			MaxCost:       cfg.QueryCostLimit,
			MaxPage:       cfg.MaxPageSize,
			DefaultPage:   cfg.DefaultPageSize,
			Introspection: cfg.Introspection,
		},
		GraphiQL:       cfg.GraphiQL,
		Suggestions:    cfg.Suggestions,
		RateLimit:      cfg.RateLimit,
		RateBurst:      cfg.RateLimitBurst,
		CORSOrigins:    append(cfg.CORSOrigins, cfg.TrustedOrigins...),
		TrustedProxies: cfg.TrustedProxies,
		Ready:          func() bool { return !draining.Load() },
		Ping:           db.SQL.PingContext,
		Checks:         n.checks,
		TracerProvider: n.tracer,
		// Subscribers follow running runs while they finish, then reconnect.
		WebSockets: webSockets,
		Metrics:    n.metrics,
	})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	srv := &http.Server{
		Handler:           tracing.FollowIncoming(os.Getenv, h),
		ReadHeaderTimeout: 10 * time.Second,
		// Long URLs are refused (a GET's query is at most 16 KiB).
		MaxHeaderBytes: 64 << 10,
		IdleTimeout:    120 * time.Second,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	bi := buildinfo.Read()
	log.Info().Str("version", bi.Version).Str("commit", bi.ShortCommit()).Str("graphiql", fmt.Sprintf("http://localhost:%d/", cfg.Port)).
		Str("graphql", fmt.Sprintf("http://localhost:%d/graphql", cfg.Port)).Int("workers", workers).Msg("listening")
	// /metrics is on the API port; METRICS_ADDR, when set, serves it there too.
	stopMetrics, err := startMetricsServer(cfg.MetricsAddr, n.metrics, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: no new runs; running ones finish or go back to the queue")
	draining.Store(true)
	runs.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if pool != nil {
		pool.Stop(sctx)
	}
	// Subscriptions to runs that have finished deliver their last events;
	// the others close with 1001 after a grace, and their clients reconnect
	// elsewhere. Every socket is closed before the broker is.
	hctx, hcancel := context.WithTimeout(context.Background(), graphws.DefaultShutdownGrace+2*time.Second)
	defer hcancel()
	webSockets.Close(hctx)
	srv.Shutdown(hctx)
	log.Info().Msg("stopped")
	return nil
}

// work runs workers only, until SIGTERM: then running runs finish for
// SHUTDOWN_TIMEOUT and the rest go back to the queue at once.
func work(ctx context.Context, workers int) error {
	ctx, n, stop, err := bootNode(ctx, workers, "worker")
	if err != nil {
		return err
	}
	defer stop()
	cfg, log, workers := n.cfg, n.log, n.workers
	var draining atomic.Bool
	stopHTTP, err := startWorkerHTTP(cfg, log, n.metrics, func() bool { return !draining.Load() }, n.checks)
	if err != nil {
		return err
	}
	defer stopHTTP()
	pool := n.runs.StartWorkers(workers)
	log.Info().Int("workers", workers).Msg("worker ready")
	<-ctx.Done()
	log.Info().Msg("shutting down: running runs finish or go back to the queue")
	draining.Store(true)
	n.runs.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	pool.Stop(sctx)
	log.Info().Msg("stopped")
	return nil
}

// providersFromEnv is the server's providers: each one whose key (or, for
// Ollama, whose URL) is set. Models the registry does not know go to the
// OpenAI-compatible endpoint, else to Ollama.
func providersFromEnv(cfg *config) *llm.Providers {
	creds := map[string]llm.Credentials{}
	add := func(name, key, base string) {
		if key != "" || (name == llm.ProviderOllama && base != "") {
			creds[name] = llm.Credentials{APIKey: key, BaseURL: base, Timeout: cfg.LLMTimeout}
		}
	}
	add(llm.ProviderOpenAI, cfg.OpenAIAPIKey, cfg.OpenAIBaseURL)
	add(llm.ProviderAnthropic, cfg.AnthropicAPIKey, cfg.AnthropicURL)
	add(llm.ProviderGroq, cfg.GroqAPIKey, "")
	add(llm.ProviderGemini, cfg.GeminiAPIKey, "")
	add(llm.ProviderOllama, "", cfg.OllamaBaseURL)
	fallback := llm.ProviderOpenAI
	if _, ok := creds[fallback]; !ok && cfg.OllamaBaseURL != "" {
		fallback = llm.ProviderOllama
	}
	return llm.NewProviders(creds, fallback, nil)
}

// stepModels is STEP_MODELS (step=model,...): each model on the server's
// provider for it, which must be configured.
func stepModels(cfg *config) (map[string]orchestrator.StepModel, error) {
	if len(cfg.StepModels) == 0 {
		return nil, nil
	}
	providers := providersFromEnv(cfg)
	out := make(map[string]orchestrator.StepModel, len(cfg.StepModels))
	for step, model := range cfg.StepModels {
		step, model = strings.TrimSpace(step), strings.TrimSpace(model)
		if model == "" {
			return nil, fmt.Errorf("STEP_MODELS: step %q has no model (write step=model)", step)
		}
		p, err := providers.For(model)
		if err != nil {
			return nil, fmt.Errorf("STEP_MODELS: model %q of step %q: %w", model, step, err)
		}
		out[step] = orchestrator.StepModel{Provider: p, Model: model}
	}
	return out, nil
}

// anyProvider reports whether some model provider is configured.
func anyProvider(cfg *config) bool { return providersFromEnv(cfg).Configured() }

// unavailable refuses to run code when the sandbox cannot start.
type unavailable struct{ err error }

func (u unavailable) Execute(context.Context, executor.Request) (*executor.Result, error) {
	return nil, u.err
}

func (u unavailable) Profile(context.Context, executor.Dataset) (*executor.Profile, error) {
	return nil, u.err
}

func (u unavailable) ProfileParsed(context.Context, executor.Dataset, *os.File, int64) (*executor.Profile, executor.ParsedForm, error) {
	return nil, executor.ParsedForm{}, u.err
}

func (u unavailable) Preview(context.Context, executor.Dataset, int) (*executor.Preview, error) {
	return nil, u.err
}

func (u unavailable) Inspect(context.Context, executor.Dataset) (*executor.Inspection, error) {
	return nil, u.err
}
