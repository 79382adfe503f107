package executor

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Most tests share one sandboxed Executor (and so its warm kernels): starting a
// kernel costs a Python import of the data stack, about 1.5 s; an execution in
// a warm kernel costs milliseconds. Tests that need another configuration
// start a dedicated Executor with newExecutor.

var (
	sharedOnce sync.Once
	sharedExec *Executor
	sharedErr  error

	probeOnce     sync.Once
	sandboxProbe  error // nil when bubblewrap can run the Python data stack
	unsandboxedOK error // nil when /usr/bin/python3 has the data stack
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Examples cannot skip themselves: without a sandbox (and outside CI, where
	// the sandbox is required and the tests fail instead) leave them out.
	if probe(); sandboxProbe != nil && !inCI() {
		fmt.Fprintf(os.Stderr, "executor tests: sandbox unavailable, skipping examples: %v\n", sandboxProbe)
		skip := "^Example"
		if f := flag.Lookup("test.skip"); f != nil && f.Value.String() != "" {
			skip = f.Value.String() + "|" + skip
		}
		_ = flag.Set("test.skip", skip)
	}
	code := m.Run()
	if sharedExec != nil {
		sharedExec.Close()
	}
	os.Exit(code)
}

func inCI() bool { return os.Getenv("CI") == "true" }

// probe checks, independently of the executor's own code, whether this machine
// can run the data stack under bubblewrap and without it, so that a failing
// New is reported as a bug rather than a missing prerequisite.
func probe() {
	probeOnce.Do(func() {
		const imports = "import pandas, numpy, plotly, matplotlib, sklearn, statsmodels, scipy, openpyxl, xlrd"
		run := func(name string, args ...string) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, name, args...)
			cmd.Env = []string{}
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
			}
			return nil
		}
		unsandboxedOK = run(defaultPython, "-I", "-c", imports)
		bwrap, err := exec.LookPath("bwrap")
		if err != nil {
			sandboxProbe = err
			return
		}
		sandboxProbe = run(bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
			"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--", defaultPython, "-I", "-c", imports)
	})
}

// requireSandbox skips the test when bubblewrap cannot run the data stack on
// this machine, or fails it when CI=true.
func requireSandbox(tb testing.TB) {
	tb.Helper()
	probe()
	if sandboxProbe != nil {
		if inCI() {
			tb.Fatalf("bubblewrap cannot run the data stack (required in CI): %v", sandboxProbe)
		}
		tb.Skipf("bubblewrap cannot run the data stack here: %v", sandboxProbe)
	}
}

// requirePython skips the test when /usr/bin/python3 lacks the data stack, or
// fails it when CI=true.
func requirePython(tb testing.TB) {
	tb.Helper()
	probe()
	if unsandboxedOK != nil {
		if inCI() {
			tb.Fatalf("python with the data stack (required in CI): %v", unsandboxedOK)
		}
		tb.Skipf("python with the data stack unavailable: %v", unsandboxedOK)
	}
}

// shared returns the Executor shared by the package's tests and benchmarks.
func shared(tb testing.TB) *Executor {
	tb.Helper()
	requireSandbox(tb)
	sharedOnce.Do(func() {
		sharedExec, sharedErr = New(Config{Sandbox: true, MaxKernels: 16, ExecTimeout: time.Minute})
	})
	if sharedErr != nil {
		tb.Fatalf("New: %v", sharedErr)
	}
	return sharedExec
}

// newExecutor starts an Executor with cfg, closed when the test ends.
func newExecutor(tb testing.TB, cfg Config) *Executor {
	tb.Helper()
	if cfg.Sandbox {
		requireSandbox(tb)
	} else {
		requirePython(tb)
	}
	e, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v): %v", cfg, err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// testdata returns the dataset of a file in testdata.
func testdata(name, file, format string) Dataset {
	return Dataset{Name: name, Path: filepath.Join("testdata", file), Format: format}
}

// sales is the dataset most tests use: testdata/sales.csv, 6 rows, 5 columns.
var sales = []Dataset{testdata("sales", "sales.csv", "csv")}

// mainKey is the key of the shared executor's kernel with sales loaded.
const mainKey = "main"

// run executes code and fails the test on a Go error.
func run(tb testing.TB, e *Executor, key string, datasets []Dataset, code string) *Result {
	tb.Helper()
	return runReq(tb, e, Request{Key: key, Datasets: datasets, Code: code})
}

func runReq(tb testing.TB, e *Executor, req Request) *Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := e.Execute(ctx, req)
	if err != nil {
		tb.Fatalf("Execute(%q): %v", req.Code, err)
	}
	return res
}

// runOK executes code, fails the test unless it succeeded, and returns its
// stdout.
func runOK(tb testing.TB, e *Executor, key string, datasets []Dataset, code string) string {
	tb.Helper()
	res := run(tb, e, key, datasets, code)
	if !res.OK || res.Error != nil {
		tb.Fatalf("Execute(%q) failed: %+v\nstdout: %s\nstderr: %s", code, res.Error, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// kernelOf returns the kernel serving key and datasets, or nil.
func kernelOf(tb testing.TB, e *Executor, key string, datasets []Dataset) *kernel {
	tb.Helper()
	ds, err := normalizeDatasets(datasets)
	if err != nil {
		tb.Fatal(err)
	}
	return e.pool.kernelFor(key, ds)
}

// kernelPID returns the pid of the kernel serving key and datasets (0: none).
func kernelPID(tb testing.TB, e *Executor, key string, datasets []Dataset) int {
	tb.Helper()
	if k := kernelOf(tb, e, key, datasets); k != nil {
		return k.pid()
	}
	return 0
}

// wantErrorType fails the test unless res failed with a Python error of type typ.
func wantErrorType(tb testing.TB, res *Result, typ string) {
	tb.Helper()
	if res.OK || res.Error == nil || res.Error.Type != typ {
		tb.Fatalf("want a %s, got OK=%v error=%+v\nstdout: %s\nstderr: %s", typ, res.OK, res.Error, res.Stdout, res.Stderr)
	}
}

// wantAlive checks that the kernel for key still answers, quickly, and is
// still the process it was (pid), i.e. the previous execution did not kill it.
func wantAlive(tb testing.TB, e *Executor, key string, datasets []Dataset, pid int) {
	tb.Helper()
	start := time.Now()
	if out := runOK(tb, e, key, datasets, "print('alive')"); out != "alive\n" {
		tb.Fatalf("stdout %q, want alive", out)
	}
	if d := time.Since(start); d > 2*time.Second {
		tb.Errorf("the next execution took %s; the kernel should have stayed warm", d)
	}
	if pid != 0 {
		if got := kernelPID(tb, e, key, datasets); got != pid {
			tb.Errorf("kernel pid changed from %d to %d: the kernel was restarted", pid, got)
		}
	}
}
