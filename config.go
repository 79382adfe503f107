package main

import (
	"fmt"
	"time"

	"github.com/caarlos0/env/v11"
)

// config is the server's configuration, read from the environment. README
// "Configuration" documents every variable.
type config struct {
	Port            int               `env:"PORT" envDefault:"8000"`
	DataDir         string            `env:"DATA_DIR" envDefault:"./data"`
	DiskMinFree     int64             `env:"DISK_MIN_FREE_BYTES" envDefault:"67108864"`
	DatabaseURL     string            `env:"DATABASE_URL"`
	Workers         int               `env:"WORKERS" envDefault:"2"`
	RedisURL        string            `env:"REDIS_URL"`
	RedisPrefix     string            `env:"REDIS_PREFIX" envDefault:"autoanalyst:"`
	EventRetention  time.Duration     `env:"EVENT_LOG_RETENTION" envDefault:"1h"`
	EventMaxLen     int64             `env:"EVENT_LOG_MAXLEN" envDefault:"2000"`
	RunLease        time.Duration     `env:"RUN_LEASE" envDefault:"30s"`
	ReconcileEvery  time.Duration     `env:"RECONCILE_INTERVAL" envDefault:"30s"`
	DBPatience      time.Duration     `env:"DB_PATIENCE" envDefault:"60s"`
	BlobURL         string            `env:"BLOB_URL"`
	UploadMaxBytes  int64             `env:"UPLOAD_MAX_BYTES" envDefault:"104857600"`
	OpenAIAPIKey    string            `env:"OPENAI_API_KEY"`
	OpenAIBaseURL   string            `env:"OPENAI_BASE_URL"`
	AnthropicAPIKey string            `env:"ANTHROPIC_API_KEY"`
	AnthropicURL    string            `env:"ANTHROPIC_BASE_URL"`
	GroqAPIKey      string            `env:"GROQ_API_KEY"`
	GeminiAPIKey    string            `env:"GEMINI_API_KEY"`
	OllamaBaseURL   string            `env:"OLLAMA_BASE_URL"`
	DefaultModel    string            `env:"DEFAULT_MODEL" envDefault:"gpt-5-mini"`
	LLMTimeout      time.Duration     `env:"LLM_TIMEOUT" envDefault:"5m"`
	CreditsFree     int               `env:"CREDITS_FREE" envDefault:"500"`
	CreditsPro      int               `env:"CREDITS_PRO" envDefault:"-1"`
	CreditsDeep     int               `env:"CREDITS_DEEP_ANALYSIS" envDefault:"50"`
	StepModels      map[string]string `env:"STEP_MODELS" envSeparator:"," envKeyValSeparator:"="`
	Python          string            `env:"PYTHON" envDefault:"/usr/bin/python3"`
	ExecutorSandbox string            `env:"EXECUTOR_SANDBOX" envDefault:"on"`
	ExecTimeout     time.Duration     `env:"EXEC_TIMEOUT" envDefault:"120s"`
	DeepExecTimeout time.Duration     `env:"DEEP_EXEC_TIMEOUT" envDefault:"5m"`
	ExecMemoryBytes int64             `env:"EXEC_MEMORY_BYTES" envDefault:"2147483648"`
	ExecMaxOutput   int               `env:"EXEC_MAX_OUTPUT_BYTES" envDefault:"1048576"`
	ExecMaxResult   int64             `env:"EXEC_MAX_RESULT_BYTES" envDefault:"67108864"`
	ExecTmpBytes    int64             `env:"EXEC_TMP_BYTES" envDefault:"67108864"`
	MaxKernels      int               `env:"MAX_KERNELS" envDefault:"8"`
	KernelsMemory   int64             `env:"KERNELS_MEMORY_BYTES" envDefault:"4294967296"`
	ExecConcurrency int               `env:"EXEC_CONCURRENCY" envDefault:"0"`
	ReadTimeout     time.Duration     `env:"DATASET_READ_TIMEOUT" envDefault:"20s"`
	ReadConcurrency int               `env:"DATASET_READ_CONCURRENCY" envDefault:"2"`
	MaxColumns      int               `env:"DATASET_MAX_COLUMNS" envDefault:"1000"`
	MaxLineBytes    int64             `env:"DATASET_MAX_LINE_BYTES" envDefault:"1048576"`
	XLSXMaxBytes    int64             `env:"DATASET_XLSX_MAX_UNCOMPRESSED_BYTES" envDefault:"536870912"`
	XLSXMaxRatio    int               `env:"DATASET_XLSX_MAX_RATIO" envDefault:"100"`
	KernelIdle      time.Duration     `env:"KERNEL_IDLE_TIMEOUT" envDefault:"10m"`
	SessionTTL      time.Duration     `env:"SESSION_TTL" envDefault:"720h"`
	AdminAPIKey     string            `env:"ADMIN_API_KEY"`
	ShutdownTimeout time.Duration     `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	MaxRequestBytes int64             `env:"MAX_REQUEST_BYTES" envDefault:"524288"`
	UploadMaxFiles  int               `env:"UPLOAD_MAX_FILES" envDefault:"10"`
	QueryMaxTokens  int               `env:"QUERY_MAX_TOKENS" envDefault:"2000"`
	QueryMaxFields  int               `env:"QUERY_MAX_FIELDS" envDefault:"500"`
	QueryMaxDepth   int               `env:"QUERY_MAX_DEPTH" envDefault:"12"`
	QueryCostLimit  int               `env:"QUERY_COST_LIMIT" envDefault:"5000"`
	MaxPageSize     int               `env:"MAX_PAGE_SIZE" envDefault:"100"`
	DefaultPageSize int               `env:"DEFAULT_PAGE_SIZE" envDefault:"20"`
	Introspection   bool              `env:"INTROSPECTION" envDefault:"true"`
	Suggestions     bool              `env:"GRAPHQL_SUGGESTIONS" envDefault:"true"`
	GraphiQL        bool              `env:"GRAPHIQL" envDefault:"true"`
	SandboxUser     string            `env:"SANDBOX_USER" envDefault:"nobody"`
	RateLimit       float64           `env:"RATE_LIMIT" envDefault:"20"`
	RateLimitBurst  int               `env:"RATE_LIMIT_BURST" envDefault:"60"`
	CORSOrigins     []string          `env:"CORS_ORIGINS" envSeparator:","`
	TrustedOrigins  []string          `env:"TRUSTED_ORIGINS" envSeparator:","` // the former name of CORS_ORIGINS, still read
	TrustedProxies  []string          `env:"TRUSTED_PROXIES" envSeparator:","`
	DebugAddr       string            `env:"DEBUG_ADDR"`
	HealthAddr      string            `env:"HEALTH_ADDR" envDefault:":9090"`
	MetricsAddr     string            `env:"METRICS_ADDR"`
	TemplatesFile   string            `env:"TEMPLATES_FILE"`
	SecretKey       string            `env:"SECRET_KEY"`
	LogLevel        string            `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string            `env:"LOG_FORMAT"`

	// OutputMaxFiles and OutputMaxBytes bound the files an execution leaves
	// in /tmp/outputs that are attached to the answer.
	OutputMaxFiles int   `env:"OUTPUT_MAX_FILES" envDefault:"10"`
	OutputMaxBytes int64 `env:"OUTPUT_MAX_BYTES" envDefault:"20971520"`
}

func loadConfig() (*config, error) {
	var c config
	if err := env.Parse(&c); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if c.Port <= 0 || c.Port > 65535 {
		return nil, fmt.Errorf("configuration: PORT must be 1..65535, got %d", c.Port)
	}
	if c.Workers < 0 || c.Workers > 256 {
		return nil, fmt.Errorf("configuration: WORKERS must be 0..256, got %d", c.Workers)
	}
	if c.RunLease < time.Second {
		return nil, fmt.Errorf("configuration: RUN_LEASE must be at least 1s, got %s", c.RunLease)
	}
	if c.EventRetention < 0 || c.EventMaxLen < 100 {
		return nil, fmt.Errorf("configuration: EVENT_LOG_RETENTION must not be negative and EVENT_LOG_MAXLEN must be at least 100")
	}
	if c.ExecMaxOutput < 1024 || c.ExecMaxResult < 1<<20 || c.ExecTmpBytes < 1<<20 || c.ExecMemoryBytes < 256<<20 {
		return nil, fmt.Errorf("configuration: EXEC_MAX_OUTPUT_BYTES must be at least 1024, EXEC_MAX_RESULT_BYTES and EXEC_TMP_BYTES at least 1 MiB, EXEC_MEMORY_BYTES at least 256 MiB")
	}
	if c.OutputMaxFiles < 1 || c.OutputMaxFiles > 100 || c.OutputMaxBytes < 1 {
		return nil, fmt.Errorf("configuration: OUTPUT_MAX_FILES must be 1..100 and OUTPUT_MAX_BYTES at least 1, got %d and %d", c.OutputMaxFiles, c.OutputMaxBytes)
	}
	if c.ExecConcurrency < 0 {
		return nil, fmt.Errorf("configuration: EXEC_CONCURRENCY must not be negative (0: twice the CPUs), got %d", c.ExecConcurrency)
	}
	if c.KernelsMemory < 0 {
		return nil, fmt.Errorf("configuration: KERNELS_MEMORY_BYTES must not be negative (0: no budget), got %d", c.KernelsMemory)
	}
	if c.ExecTimeout < time.Second || c.MaxKernels < 1 {
		return nil, fmt.Errorf("configuration: EXEC_TIMEOUT must be at least 1s and MAX_KERNELS at least 1")
	}
	if c.CreditsFree < -1 || c.CreditsPro < -1 || c.CreditsDeep < 0 {
		return nil, fmt.Errorf("configuration: CREDITS_FREE and CREDITS_PRO must be -1 (unlimited) or more, CREDITS_DEEP_ANALYSIS 0 or more")
	}
	if c.UploadMaxBytes <= 0 {
		return nil, fmt.Errorf("configuration: UPLOAD_MAX_BYTES must be positive")
	}
	if c.ReadTimeout < time.Second || c.ReadConcurrency < 1 || c.MaxColumns < 1 {
		return nil, fmt.Errorf("configuration: DATASET_READ_TIMEOUT must be at least 1s, DATASET_READ_CONCURRENCY and DATASET_MAX_COLUMNS at least 1")
	}
	if c.MaxLineBytes < 1024 || c.XLSXMaxBytes < 1<<20 || c.XLSXMaxRatio < 1 {
		return nil, fmt.Errorf("configuration: DATASET_MAX_LINE_BYTES must be at least 1024, DATASET_XLSX_MAX_UNCOMPRESSED_BYTES at least 1 MiB, DATASET_XLSX_MAX_RATIO at least 1")
	}
	if c.MaxRequestBytes < 1024 || c.UploadMaxFiles < 1 {
		return nil, fmt.Errorf("configuration: MAX_REQUEST_BYTES must be at least 1024 and UPLOAD_MAX_FILES at least 1")
	}
	if c.QueryMaxTokens < 100 || c.QueryMaxFields < 10 || c.QueryMaxDepth < 2 || c.QueryCostLimit < 10 || c.MaxPageSize < 1 || c.DefaultPageSize < 1 || c.DefaultPageSize > c.MaxPageSize {
		return nil, fmt.Errorf("configuration: QUERY_MAX_TOKENS must be at least 100, QUERY_MAX_FIELDS and QUERY_COST_LIMIT at least 10, QUERY_MAX_DEPTH at least 2, MAX_PAGE_SIZE at least 1, DEFAULT_PAGE_SIZE from 1 to MAX_PAGE_SIZE")
	}
	if c.RateLimit < 0 || c.RateLimitBurst < 0 {
		return nil, fmt.Errorf("configuration: RATE_LIMIT and RATE_LIMIT_BURST must not be negative")
	}
	switch c.ExecutorSandbox {
	case "on", "off":
	default:
		return nil, fmt.Errorf("configuration: EXECUTOR_SANDBOX must be on or off, got %q", c.ExecutorSandbox)
	}
	switch c.LogFormat {
	case "", "json", "console":
	default:
		return nil, fmt.Errorf("configuration: LOG_FORMAT must be json or console, got %q", c.LogFormat)
	}
	return &c, nil
}
