package executor

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/metrics"
)

// kernelFiles is the kernel's Python package, kernel/ (its modules; not its
// tests, in kernel/tests).
//
//go:embed kernel/*.py
var kernelFiles embed.FS

// kernelLoader is the program the interpreter runs (with -c): it imports the
// kernel package from kernelModules, passed after it on the command line,
// and runs the kernel.
//
//go:embed kernel_loader.py
var kernelLoader string

// kernelModules are the arguments that carry the package to kernelLoader,
// one per module: its path in the package ("kernel/capture.py"), a newline,
// its source. One argument each keeps every one far below the kernel's limit
// on the length of an argument (MAX_ARG_STRLEN, 128 KiB).
var kernelModules = packageArgs(kernelFiles, "kernel")

// packageArgs returns the loader's arguments for the Python files of dir in
// fsys, in the order of their names. It panics when fsys cannot be read, as
// an embedded file system always can.
func packageArgs(fsys fs.FS, dir string) []string {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		panic(fmt.Errorf("executor: reading the embedded kernel: %w", err))
	}
	var args []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".py") {
			continue
		}
		name := path.Join(dir, e.Name())
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(fmt.Errorf("executor: reading the embedded kernel: %w", err))
		}
		args = append(args, name+"\n"+string(src))
	}
	return args
}

// Errors returned by the Executor. Match them with errors.Is.
var (
	// ErrSandboxUnavailable is returned by New when Config.Sandbox is true and
	// bubblewrap cannot run the Python data stack; the wrapping error says why.
	ErrSandboxUnavailable = errors.New("executor: sandbox unavailable")
	// ErrClosed is returned by calls on an Executor after Close.
	ErrClosed = errors.New("executor: closed")
	// ErrInvalidRequest is returned for a request the executor refuses to run
	// (a bad dataset name or format, a missing file, oversized code).
	ErrInvalidRequest = errors.New("executor: invalid request")
	// ErrDatasetLoad is returned when a dataset cannot be read into a
	// DataFrame (a parse error, an unreadable file, not enough memory).
	ErrDatasetLoad = errors.New("executor: dataset could not be loaded")
	// ErrDatasetLimit, an ErrDatasetLoad, is returned by Profile, Preview and
	// Inspect for a file over one of the limits on a dataset read: its time
	// (Config.ReadTimeout), its columns (MaxColumns), the length of a line of
	// a CSV file (MaxLineBytes), the size a workbook inflates to
	// (XLSXMaxUncompressedBytes, XLSXMaxRatio). The wrapped *Error's message
	// says which, and the setting that sets it.
	ErrDatasetLimit = fmt.Errorf("%w: the file is over a limit", ErrDatasetLoad)
	// ErrKernel is returned when a kernel fails (cannot start, dies during an
	// execution, stops answering). The next call starts a new kernel.
	ErrKernel = errors.New("executor: kernel failure")
	// ErrHostUser is returned by New, when the server runs as root, for a
	// Config.HostUser (SANDBOX_USER) that is unknown or is root: uid or gid 0.
	ErrHostUser = errors.New("executor: invalid host user for kernels")
)

// Config configures an Executor. Zero values take the defaults given.
type Config struct {
	// Python is the interpreter that has the data stack (default
	// /usr/bin/python3). The caller reads the PYTHON environment variable.
	Python string
	// Sandbox runs kernels inside bubblewrap (required in production). When
	// false, kernels run directly on the host with an empty environment: for
	// development only.
	Sandbox bool
	// BwrapPath is the bubblewrap binary (default: "bwrap" looked up in PATH).
	BwrapPath string
	// HostUser is the host user kernels run as when the server runs as root
	// (euid 0): "user" or "user:group", each a name or a number (a uid that
	// is not in the user database needs its gid: "1234:1234"); default
	// "nobody" with its primary group. Bubblewrap (or, without Sandbox, the
	// interpreter) is started as that uid and gid, without supplementary
	// groups, so the sandbox's user maps to it on the host, never to root.
	// New fails with ErrHostUser when it is unknown or its uid or gid is 0.
	// It must be able to run BwrapPath and Python and read what they need
	// (/usr, the interpreter's prefix). A server that is not root cannot
	// switch users: HostUser is ignored and kernels run as the server's own
	// user. The caller reads the SANDBOX_USER environment variable.
	HostUser string
	// ExecTimeout is the default wall-time limit of one execution (default 120s).
	ExecTimeout time.Duration
	// MemoryLimitBytes is the address-space limit (RLIMIT_AS) of a kernel and
	// of each execution forked from it (default 2 GiB). The kernel with the data
	// stack imported uses about 450 MiB of it, plus its datasets.
	MemoryLimitBytes int64
	// MaxOutputBytes caps stdout and stderr of one execution, each (default
	// 1 MiB); cut output ends with "[output truncated]".
	MaxOutputBytes int
	// MaxResultBytes caps the figures, images and tables of one execution
	// (default 64 MiB).
	MaxResultBytes int64
	// IdleTimeout closes a kernel unused for this long (default 10 min).
	IdleTimeout time.Duration
	// MaxKernels is the number of kernels kept (default 8); beyond it the least
	// recently used idle kernel is closed. The warm spare is not counted.
	MaxKernels int
	// MemoryBudgetBytes is the memory the kernels may hold together (each
	// kernel's own memory, the data stack's objects and its datasets, as it
	// reports it once started and loaded; 0: no budget). Beyond it the least
	// recently used idle kernels are closed, as beyond MaxKernels.
	MemoryBudgetBytes int64
	// MaxConcurrent is the number of executions that run at once over all
	// kernels (default: twice the CPUs); more wait their turn (or until their
	// context ends). A kernel runs one at a time. Dataset reads have slots of
	// their own (ReadConcurrency).
	MaxConcurrent int
	// ReadTimeout is the wall-time limit of one dataset read: Profile,
	// Preview, Inspect (default 20s). A read that takes longer fails with
	// ErrDatasetLimit. The caller reads the DATASET_READ_TIMEOUT environment
	// variable.
	ReadTimeout time.Duration
	// ReadConcurrency is the number of dataset reads that run at once
	// (default 2), each in a kernel of its own; more wait their turn. Reads
	// do not take the slots of executions (MaxConcurrent), so that a
	// hostile upload cannot hold up anyone's code, nor long code an upload.
	// The caller reads DATASET_READ_CONCURRENCY.
	ReadConcurrency int
	// MaxColumns is the most columns a dataset may have (default 1000): a
	// CSV file's header is counted before the file is parsed, other files
	// once read. Reads of a wider file fail with ErrDatasetLimit, and so do
	// the loads of a kernel's datasets. The caller reads DATASET_MAX_COLUMNS.
	MaxColumns int
	// MaxLineBytes is the longest line of a CSV file, in bytes (default
	// 1 MiB), checked before the file is parsed. The caller reads
	// DATASET_MAX_LINE_BYTES.
	MaxLineBytes int64
	// XLSXMaxUncompressedBytes is the most an Excel workbook's parts may
	// inflate to, together (default 512 MiB), and XLSXMaxRatio the most
	// that a part of 16 MiB or more may inflate by (default 100 times),
	// checked from the archive's directory before the workbook is opened.
	// The caller reads DATASET_XLSX_MAX_UNCOMPRESSED_BYTES and
	// DATASET_XLSX_MAX_RATIO.
	XLSXMaxUncompressedBytes int64
	XLSXMaxRatio             int
	// OutputMaxFiles and OutputMaxBytes bound the files an execution leaves
	// in its output folder, /tmp/outputs, that come back with its result
	// (Result.Files): how many (default 10) and their bytes together
	// (default 20 MiB). Files past them are left out, each with a note on
	// the execution's stderr. They count in MaxResultBytes too. The caller
	// reads OUTPUT_MAX_FILES and OUTPUT_MAX_BYTES.
	OutputMaxFiles int
	OutputMaxBytes int64
	// TmpSizeBytes is the size of the private /tmp of a kernel and of each
	// execution (default 64 MiB).
	TmpSizeBytes int64
	// StartTimeout bounds starting a kernel and loading its datasets (default 2 min).
	StartTimeout time.Duration
	// DisableSpare turns off the warm spare kernel (a kernel with the data stack
	// imported, waiting to be given a chat's datasets).
	DisableSpare bool
	// Logger receives the executor's logs (default: none).
	Logger zerolog.Logger
	// Metrics, if set, records kernels and executions.
	Metrics *metrics.Metrics
}

// settings is a Config with defaults applied and resolved paths.
type settings struct {
	Config
	bwrap    string
	hostUser *hostUser       // the user kernels run as (nil: the server's own)
	hostDir  string          // unsandboxed kernels: HOME, TMPDIR and working directory
	seccomp  *seccompFilters // sandboxed kernels: their seccomp filters
	log      zerolog.Logger
}

const (
	maxCodeBytes    = 4 << 20
	maxDatasets     = 32
	readerPoolKey   = "\x00read"
	defaultPython   = "/usr/bin/python3"
	cancelGrace     = 5 * time.Second
	backstopGrace   = 30 * time.Second
	killWaitTimeout = 5 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Python == "" {
		c.Python = defaultPython
	}
	if c.ExecTimeout <= 0 {
		c.ExecTimeout = 120 * time.Second
	}
	if c.MemoryLimitBytes <= 0 {
		c.MemoryLimitBytes = 2 << 30
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = 1 << 20
	}
	if c.MaxResultBytes <= 0 {
		c.MaxResultBytes = 64 << 20
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.MaxKernels <= 0 {
		c.MaxKernels = 8
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 2 * runtime.NumCPU()
	}
	if c.TmpSizeBytes <= 0 {
		c.TmpSizeBytes = 64 << 20
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 2 * time.Minute
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 20 * time.Second
	}
	if c.ReadConcurrency <= 0 {
		c.ReadConcurrency = 2
	}
	if c.MaxColumns <= 0 {
		c.MaxColumns = 1000
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.XLSXMaxUncompressedBytes <= 0 {
		c.XLSXMaxUncompressedBytes = 512 << 20
	}
	if c.XLSXMaxRatio <= 0 {
		c.XLSXMaxRatio = 100
	}
	if c.OutputMaxFiles <= 0 {
		c.OutputMaxFiles = 10
	}
	if c.OutputMaxBytes <= 0 {
		c.OutputMaxBytes = 20 << 20
	}
	return c
}

// Executor runs Python code next to datasets in sandboxed, pooled kernels.
// All its methods are safe for concurrent use.
type Executor struct {
	s       *settings
	pool    *pool
	slots   chan struct{} // one per execution running (Config.MaxConcurrent)
	reads   chan struct{} // one per dataset read running (Config.ReadConcurrency)
	readMu  sync.Mutex
	readers []int // the free reader kernels' numbers, the last used last

	closeOnce sync.Once
}

// New starts an Executor. With Config.Sandbox it verifies that bubblewrap can
// start the interpreter with the data stack (pandas, numpy, scikit-learn,
// statsmodels, scipy, plotly, matplotlib, openpyxl) and run code in it, and
// returns an error wrapping ErrSandboxUnavailable, with the reason, when it
// cannot. Without Config.Sandbox it logs a warning and runs kernels
// unsandboxed. The first kernel started this way is kept as the warm spare.
// When the server runs as root, kernels run as Config.HostUser, and New fails
// with ErrHostUser when that is unknown or root.
// New is safe for concurrent use.
func New(cfg Config) (*Executor, error) {
	c := cfg.withDefaults()
	s := &settings{Config: c, log: c.Logger.With().Str("component", "executor").Logger()}
	hu, err := kernelHostUser(c.HostUser)
	if err != nil {
		return nil, err
	}
	s.hostUser = hu
	if _, err := os.Stat(c.Python); err != nil {
		err = fmt.Errorf("python interpreter %s: %w", c.Python, err)
		if c.Sandbox {
			return nil, fmt.Errorf("%w: %w", ErrSandboxUnavailable, err)
		}
		return nil, fmt.Errorf("executor: %w", err)
	}
	if c.Sandbox {
		path := c.BwrapPath
		if path == "" {
			path = "bwrap"
		}
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("%w: bubblewrap not found (%s): %w", ErrSandboxUnavailable, path, err)
		}
		s.bwrap = p
		if s.seccomp, err = buildSeccompFilters(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSandboxUnavailable, err)
		}
	} else {
		s.log.Warn().Msg("executor sandbox disabled: Python code runs on the host without bubblewrap (development only)")
		dir, err := os.MkdirTemp("", "autoanalyst-exec-")
		if err != nil {
			return nil, fmt.Errorf("executor: %w", err)
		}
		s.hostDir = dir
		if hu != nil {
			if err := os.Chown(dir, int(hu.uid), int(hu.gid)); err != nil {
				s.cleanup()
				return nil, fmt.Errorf("executor: giving %s to the host user %s: %w", dir, hu, err)
			}
		}
	}

	// Verify: start a kernel and run code in it. It becomes the warm spare.
	ctx, cancel := context.WithTimeout(context.Background(), c.StartTimeout)
	defer cancel()
	k, err := startKernel(ctx, s)
	if err == nil {
		err = selfTest(ctx, k, s)
		if err != nil {
			k.close()
		}
	}
	if err != nil {
		s.cleanup()
		if hu != nil {
			needs := c.Python
			if s.bwrap != "" {
				needs = s.bwrap + " and " + needs
			}
			err = fmt.Errorf("%w (kernels run as the host user %s, SANDBOX_USER, which must be able to run %s)", err, hu, needs)
		}
		if c.Sandbox {
			return nil, fmt.Errorf("%w: %w", ErrSandboxUnavailable, err)
		}
		return nil, err
	}
	if !k.isolated {
		s.log.Warn().Msg("executor: no user namespaces for executions; each execution is sandboxed but could disturb its kernel")
	}
	e := &Executor{s: s, pool: newPool(s), slots: make(chan struct{}, s.MaxConcurrent), reads: make(chan struct{}, s.ReadConcurrency)}
	for i := s.ReadConcurrency - 1; i >= 0; i-- {
		e.readers = append(e.readers, i)
	}
	c.Metrics.WatchKernels(e.pool.gauges)
	if c.DisableSpare {
		k.close()
	} else {
		e.pool.setSpare(k)
	}
	hostUserName := "the server's own"
	if hu != nil {
		hostUserName = hu.String()
	}
	s.log.Info().Bool("sandbox", c.Sandbox).Str("python", k.python).Bool("isolated", k.isolated).Str("host_user", hostUserName).
		Float64("import_seconds", k.importSeconds).Msg("executor ready")
	return e, nil
}

// selfTest runs a trivial execution on a fresh kernel, as a probe that
// leaves the kernel fit to become the warm spare.
func selfTest(ctx context.Context, k *kernel, s *settings) error {
	res, err := k.execRequest(ctx, request{Op: "exec", Probe: true,
		Code: "import sys, pandas, sklearn, statsmodels, scipy, plotly, matplotlib, openpyxl\nprint('ok')"}, 30*time.Second)
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	if !res.OK || strings.TrimSpace(res.Stdout) != "ok" {
		msg := res.Stderr
		if res.Error != nil {
			msg = res.Error.Type + ": " + res.Error.Message
		}
		return fmt.Errorf("self-test execution failed: %s", msg)
	}
	return nil
}

func (s *settings) cleanup() {
	if s.hostDir != "" {
		_ = os.RemoveAll(s.hostDir)
	}
}

// Execute runs req.Code in the kernel for req.Key and req.Datasets, starting
// (or restarting) the kernel when needed. Each execution is a fresh fork of the
// kernel: variables of one execution are not seen by the next.
//
// An exception in the code is not a Go error: it is a Result with OK false and
// Error set (type, message, line, agent block, traceback), and so are an
// exceeded time limit (Error.Type "TimeoutError") and memory limit
// ("MemoryError"). Go errors report infrastructure failures (ErrKernel,
// ErrDatasetLoad, ErrInvalidRequest, ErrClosed) and, when ctx ends during the
// execution, ctx.Err() after the execution was killed (the kernel stays warm).
// Execute is safe for concurrent use; executions for the same kernel run one
// at a time.
func (e *Executor) Execute(ctx context.Context, req Request) (*Result, error) {
	datasets, err := normalizeDatasets(req.Datasets)
	if err != nil {
		return nil, err
	}
	if len(req.Code) > maxCodeBytes {
		return nil, fmt.Errorf("%w: code of %d bytes exceeds %d", ErrInvalidRequest, len(req.Code), maxCodeBytes)
	}
	if req.Frame != nil {
		if err := req.Frame.check(); err != nil {
			return nil, err
		}
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = e.s.ExecTimeout
	}
	var res *Result
	start := time.Now()
	err = e.withKernel(ctx, req.Key, datasets, func(k *kernel) error {
		var err error
		res, err = k.exec(ctx, req.Code, req.Frame, timeout)
		return err
	})
	outcome, limit := executionOutcome(res, err)
	e.s.Metrics.Execution(outcome, limit, time.Since(start))
	return res, err
}

// executionOutcome classifies an execution for the metrics: its outcome and
// the limit of the sandbox it hit, from the error the kernel reported.
func executionOutcome(res *Result, err error) (outcome, limit string) {
	switch {
	case err != nil || res == nil:
		return metrics.ExecFailed, metrics.LimitNone
	case res.OK:
		return metrics.ExecOK, metrics.LimitNone
	case res.Error == nil:
		return metrics.ExecError, metrics.LimitNone
	}
	switch msg := res.Error.Message; {
	case res.Error.Type == "TimeoutError" && strings.Contains(msg, "time limit"):
		limit = metrics.LimitTimeout
	case res.Error.Type == "OutputLimitError":
		limit = metrics.LimitOutput
	case strings.Contains(msg, "processes and threads"):
		limit = metrics.LimitProcesses
	case strings.Contains(msg, "limit of /tmp"):
		limit = metrics.LimitTmp
	case res.Error.Type == "MemoryError":
		limit = metrics.LimitMemory
	default:
		limit = metrics.LimitNone
	}
	return metrics.ExecError, limit
}

// Profile reads ds inside the sandbox and returns its row count and, per
// column, the name, the pandas dtype, the number of nulls and of distinct
// values, the range of numbers and the most frequent other values. The file
// is never parsed in Go. Like Preview and Inspect, it reads on a reader
// kernel (Config.ReadConcurrency) within Config.ReadTimeout, and fails with
// ErrDatasetLimit for a file over the limits on a read (a time out
// included). Profile is safe for concurrent use.
func (e *Executor) Profile(ctx context.Context, ds Dataset) (*Profile, error) {
	var prof *Profile
	err := e.withReader(ctx, ds, func(k *kernel, ds Dataset) error {
		var err error
		prof, err = k.profile(ctx, ds, e.s.ReadTimeout)
		return err
	})
	return prof, err
}

// MaxPreviewRows is the most rows Preview returns.
const MaxPreviewRows = 1000

// Preview reads ds inside the sandbox, as a kernel loads it, and returns its
// first limit rows (1 to MaxPreviewRows). Preview is safe for concurrent use.
func (e *Executor) Preview(ctx context.Context, ds Dataset, limit int) (*Preview, error) {
	if limit < 1 || limit > MaxPreviewRows {
		return nil, fmt.Errorf("%w: a preview of %d rows (want 1 to %d)", ErrInvalidRequest, limit, MaxPreviewRows)
	}
	var p *Preview
	err := e.withReader(ctx, ds, func(k *kernel, ds Dataset) error {
		var err error
		p, err = k.preview(ctx, ds, limit, e.s.ReadTimeout)
		return err
	})
	return p, err
}

// Inspect looks at a file inside the sandbox before it is stored: its Excel
// sheets, the encoding and delimiter of a CSV, and the headers and first 10
// rows (of ds.Sheet, or the first sheet) as text. A file that cannot be read
// fails with ErrDatasetLoad wrapping the Python *Error (ErrDatasetLimit for
// one over the limits, as with Profile). Inspect is safe for concurrent use.
func (e *Executor) Inspect(ctx context.Context, ds Dataset) (*Inspection, error) {
	var in *Inspection
	err := e.withReader(ctx, ds, func(k *kernel, ds Dataset) error {
		var err error
		in, err = k.inspect(ctx, ds, e.s.ReadTimeout)
		return err
	})
	return in, err
}

// withReader validates ds and runs fn on a free reader kernel: one of the
// Config.ReadConcurrency kernels that read single datasets (they have none
// of their own, so a chat's kernel is never disturbed), waiting for one
// while all are busy.
func (e *Executor) withReader(ctx context.Context, ds Dataset, fn func(*kernel, Dataset) error) error {
	if ds.Name == "" {
		ds.Name = "data"
	}
	datasets, err := normalizeDatasets([]Dataset{ds})
	if err != nil {
		return err
	}
	select {
	case e.reads <- struct{}{}:
		defer func() { <-e.reads }()
	case <-ctx.Done():
		return ctx.Err()
	}
	reader := e.takeReader()
	defer e.putReader(reader)
	key := fmt.Sprintf("%s%d", readerPoolKey, reader)
	return e.onKernel(ctx, key, nil, func(k *kernel) error { return fn(k, datasets[0]) })
}

// takeReader returns the number of a free reader kernel (the caller holds
// a slot of e.reads): the last used, whose kernel is the likeliest to be
// warm, so that a second reader kernel starts only for reads at once.
func (e *Executor) takeReader() int {
	e.readMu.Lock()
	defer e.readMu.Unlock()
	n := e.readers[len(e.readers)-1]
	e.readers = e.readers[:len(e.readers)-1]
	return n
}

// putReader gives back the reader kernel numbered n.
func (e *Executor) putReader(n int) {
	e.readMu.Lock()
	defer e.readMu.Unlock()
	e.readers = append(e.readers, n)
}

// withKernel runs fn with the kernel for key and datasets locked (see
// onKernel) once one of the Config.MaxConcurrent slots of executions is free.
func (e *Executor) withKernel(ctx context.Context, key string, datasets []Dataset, fn func(*kernel) error) error {
	select {
	case e.slots <- struct{}{}:
		defer func() { <-e.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.onKernel(ctx, key, datasets, fn)
}

// onKernel runs fn with the kernel for key and datasets locked, retrying once
// on a fresh kernel when the kernel turned out to be dead before fn's work
// started.
func (e *Executor) onKernel(ctx context.Context, key string, datasets []Dataset, fn func(*kernel) error) error {
	for attempt := 0; ; attempt++ {
		ent, err := e.pool.acquire(ctx, key, datasets)
		if err != nil {
			return err
		}
		k := ent.k
		if err := k.lock(ctx); err != nil {
			e.pool.release(ent)
			return err
		}
		err = fn(k)
		k.unlock()
		e.pool.release(ent)
		if errors.Is(err, errKernelGone) {
			e.pool.discard(ent)
			if attempt < 2 {
				continue
			}
			return fmt.Errorf("%w: the kernel died before the execution started: %s", ErrKernel, k.describeExit())
		}
		return err
	}
}

// Close stops all kernels, killing running executions. Calls after Close fail
// with ErrClosed. Close is safe for concurrent use and idempotent.
func (e *Executor) Close() error {
	e.closeOnce.Do(func() {
		e.pool.close()
		e.s.cleanup()
	})
	return nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,29}$`)

// reservedNames are names a dataset cannot take: Python keywords, the modules
// and helpers every execution has, and Python's built-in names (which the
// kernel refuses to hide).
var reservedNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`False None True and as assert async await break class continue def
		del elif else except finally for from global if import in is lambda nonlocal not or pass raise
		return try while with yield pd np px go pio plt matplotlib make_subplots scipy stats sklearn sm
		smf sns display print
		abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile
		complex copyright credits delattr dict dir divmod enumerate eval exec exit filter float format
		frozenset getattr globals hasattr hash help hex id input int isinstance issubclass iter len license
		list locals map max memoryview min next object oct open ord pow property quit range repr reversed
		round set setattr slice sorted staticmethod str sum super tuple type vars zip Ellipsis
		NotImplemented ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup
		BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError
		ConnectionError ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError
		EncodingWarning EnvironmentError Exception ExceptionGroup FileExistsError FileNotFoundError
		FloatingPointError FutureWarning GeneratorExit IOError ImportError ImportWarning IndentationError
		IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError
		ModuleNotFoundError NameError NotADirectoryError NotImplementedError OSError OverflowError
		PendingDeprecationWarning PermissionError ProcessLookupError RecursionError ReferenceError
		ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration SyntaxError
		SyntaxWarning SystemError SystemExit TabError TimeoutError TypeError UnboundLocalError
		UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning
		UserWarning ValueError Warning ZeroDivisionError`) {
		m[n] = true
	}
	return m
}()

// ReservedName reports whether a dataset cannot be named name: a Python
// keyword, a module or helper every execution has, or a Python built-in.
func ReservedName(name string) bool { return reservedNames[name] }

// normalizeDatasets validates datasets and returns them with absolute paths
// and lower-case formats.
func normalizeDatasets(in []Dataset) ([]Dataset, error) {
	if len(in) > maxDatasets {
		return nil, fmt.Errorf("%w: %d datasets (at most %d)", ErrInvalidRequest, len(in), maxDatasets)
	}
	out := make([]Dataset, len(in))
	seen := map[string]bool{}
	for i, ds := range in {
		if !identRE.MatchString(ds.Name) || strings.HasPrefix(ds.Name, "__") {
			return nil, fmt.Errorf("%w: dataset name %q is not a Python identifier of at most 30 characters", ErrInvalidRequest, ds.Name)
		}
		if reservedNames[ds.Name] || (ds.Name == "df" && i > 0) {
			return nil, fmt.Errorf("%w: dataset name %q is reserved", ErrInvalidRequest, ds.Name)
		}
		if seen[ds.Name] {
			return nil, fmt.Errorf("%w: two datasets are named %q", ErrInvalidRequest, ds.Name)
		}
		seen[ds.Name] = true
		ds.Format = strings.ToLower(ds.Format)
		switch ds.Format {
		case "csv", "xlsx", "xls", "json":
		default:
			return nil, fmt.Errorf("%w: dataset %q: format %q (want csv, xlsx, xls or json)", ErrInvalidRequest, ds.Name, ds.Format)
		}
		p, err := filepath.Abs(ds.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: dataset %q: %w", ErrInvalidRequest, ds.Name, err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w: dataset %q: %w", ErrInvalidRequest, ds.Name, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: dataset %q: %s is not a regular file", ErrInvalidRequest, ds.Name, p)
		}
		ds.Path = p
		ds.Parsed = normalizeParsed(ds.Parsed)
		out[i] = ds
	}
	return out, nil
}
