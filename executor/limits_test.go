package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestTimeout(t *testing.T) {
	const limit = 400 * time.Millisecond
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	pid := kernelPID(t, e, mainKey, sales)
	tests := []struct {
		name string
		code string
	}{
		{"sleep", "import time\nprint('started', flush=True)\ntime.sleep(30)"},
		{"busy loop", "print('started')\nwhile True:\n    pass"},
		{"native code", "import numpy as np\nprint('started')\nwhile True:\n    np.linalg.svd(np.random.rand(300, 300))"},
		{"signals ignored", "import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP):\n    signal.signal(s, signal.SIG_IGN)\nprint('started')\ntime.sleep(30)"},
		{"child processes", "import subprocess\nprint('started', flush=True)\nsubprocess.run(['sleep', '30'])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := runReq(t, e, Request{Key: mainKey, Datasets: sales, Code: tt.code, Timeout: limit})
			took := time.Since(start)
			wantErrorType(t, res, "TimeoutError")
			if !strings.Contains(res.Error.Message, "time limit of 400ms") {
				t.Errorf("message %q", res.Error.Message)
			}
			if res.Stdout != "started\n" {
				t.Errorf("stdout %q: output before the timeout should be kept", res.Stdout)
			}
			if took < limit || took > limit+2*time.Second {
				t.Errorf("took %s for a limit of %s", took, limit)
			}
			wantAlive(t, e, mainKey, sales, pid)
		})
	}
}

func TestCancel(t *testing.T) {
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	pid := kernelPID(t, e, mainKey, sales)
	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		want    error
		maxTime time.Duration
	}{
		{"canceled during the execution", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled, 2 * time.Second},
		{"deadline during the execution", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, context.DeadlineExceeded, 2 * time.Second},
		{"canceled before", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			res, err := e.Execute(ctx, Request{Key: mainKey, Datasets: sales, Code: "import time\ntime.sleep(30)"})
			took := time.Since(start)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Execute: res %+v, err %v; want %v", res, err, tt.want)
			}
			if took > tt.maxTime {
				t.Errorf("Execute returned after %s", took)
			}
			wantAlive(t, e, mainKey, sales, pid)
		})
	}
}

// TestKernelCancelQueued sends a cancel right behind its execution, so that the
// kernel reads both at once: the cancel must still end the execution.
func TestKernelCancelQueued(t *testing.T) {
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	k := kernelOf(t, e, mainKey, sales)
	if err := k.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer k.unlock()
	id := k.seq.Add(1)
	ch := k.register(id)
	defer k.unregister(id)
	exec, err := encodeFrame(request{Op: "exec", ID: id, Code: "import time\ntime.sleep(30)", Timeout: 60}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel, err := encodeFrame(request{Op: "cancel", ID: id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k.wmu.Lock()
	_, err = k.conn.Write(append(exec, cancel...)) // one write: one read in the kernel
	k.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(3 * time.Second)
	for {
		select {
		case r := <-ch:
			if r.Type != "result" {
				continue
			}
			if r.Status != "canceled" {
				t.Fatalf("status %q, want canceled", r.Status)
			}
			return
		case <-timeout:
			t.Fatal("the execution was not canceled")
		}
	}
}

// TestCancelWhileWaiting checks that a long execution of one key does
// not delay another key, and that a second execution of the same key waits
// for the first (one execution at a time per kernel) but honours its context
// while waiting.
func TestCancelWhileWaiting(t *testing.T) {
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	runOK(t, e, "other", sales, "x = 1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := e.Execute(ctx, Request{Key: mainKey, Datasets: sales, Code: "import time\ntime.sleep(30)"})
		first <- err
	}()
	time.Sleep(300 * time.Millisecond)

	// Another key runs at once.
	start := time.Now()
	runOK(t, e, "other", sales, "print(1)")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("another key waited %s for a busy kernel", d)
	}
	// The same key waits; its own context ends the wait.
	wctx, wcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer wcancel()
	if _, err := e.Execute(wctx, Request{Key: mainKey, Datasets: sales, Code: "print(2)"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting execution: %v, want DeadlineExceeded", err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first execution: %v", err)
	}
	wantAlive(t, e, mainKey, sales, 0)
}

func TestKernelKilled(t *testing.T) {
	t.Parallel()
	e := shared(t)
	const key = "killed"
	runOK(t, e, key, sales, "x = 1")
	kill := func(t *testing.T) (*kernel, int) {
		t.Helper()
		k := kernelOf(t, e, key, sales)
		if k == nil || k.pid() == 0 {
			t.Fatal("no kernel")
		}
		if err := syscall.Kill(k.pid(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		return k, k.pid()
	}
	wantReplaced := func(t *testing.T, old int) {
		t.Helper()
		if out := runOK(t, e, key, sales, "print(df.shape)"); out != "(6, 5)\n" {
			t.Fatalf("stdout %q", out)
		}
		if got := kernelPID(t, e, key, sales); got == old || got == 0 {
			t.Fatalf("kernel pid %d after killing %d", got, old)
		}
		if err := waitFor(5*time.Second, func() bool { return !processAlive(old) }); err != nil {
			t.Fatalf("killed kernel %d not reaped", old)
		}
	}

	t.Run("between executions", func(t *testing.T) {
		k, pid := kill(t)
		if err := waitFor(5*time.Second, func() bool { return !k.alive() }); err != nil {
			t.Fatal("the executor did not notice that its kernel died")
		}
		wantReplaced(t, pid) // transparently, on a new kernel
	})

	t.Run("at once", func(t *testing.T) {
		// The kernel takes a few milliseconds to die: it may accept this
		// execution first, and then it is reported as a kernel failure (not
		// retried: the code ran), or, on a busy machine, served by it before
		// it dies. Once the executor has noticed the death, the next one runs
		// on a new kernel.
		k, pid := kill(t)
		res, err := e.Execute(context.Background(), Request{Key: key, Datasets: sales, Code: "print(df.shape)"})
		switch {
		case errors.Is(err, ErrKernel):
			t.Logf("execution sent to the dying kernel: %v", err)
		case err != nil:
			t.Fatalf("Execute: %v, want success or ErrKernel", err)
		case !res.OK || res.Stdout != "(6, 5)\n":
			t.Fatalf("result %+v", res)
		}
		if err := waitFor(5*time.Second, func() bool { return !k.alive() }); err != nil {
			t.Fatal("the executor did not notice that its kernel died")
		}
		wantReplaced(t, pid)
	})

	t.Run("during an execution", func(t *testing.T) {
		k := kernelOf(t, e, key, sales)
		time.AfterFunc(500*time.Millisecond, func() { syscall.Kill(k.pid(), syscall.SIGKILL) })
		start := time.Now()
		res, err := e.Execute(context.Background(), Request{Key: key, Datasets: sales, Code: "import time\nprint('started', flush=True)\ntime.sleep(30)"})
		if !errors.Is(err, ErrKernel) {
			t.Fatalf("Execute: res %+v, err %v; want ErrKernel", res, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Execute returned %s after the kernel died", d)
		}
		wantReplaced(t, k.pid())
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()
	const memory = 1 << 30
	e := newExecutor(t, Config{
		Sandbox:          true,
		MemoryLimitBytes: memory,
		MaxOutputBytes:   4096,
		MaxResultBytes:   1 << 20,
		// Generous: the memory tests allocate gigabytes, slowly under -race
		// on a shared machine, and must hit the memory limit first.
		ExecTimeout: 8 * time.Second,
	})
	const key = "limits"
	runOK(t, e, key, sales, "x = 1")
	pid := kernelPID(t, e, key, sales)

	tests := []struct {
		name  string
		code  string
		check func(t *testing.T, res *Result)
	}{
		{"one large allocation", "x = bytearray(3 << 30)", func(t *testing.T, res *Result) {
			wantErrorType(t, res, "MemoryError")
			if !strings.Contains(res.Error.Message, "1 GiB") || res.Error.Line != 1 {
				t.Errorf("error %+v", res.Error)
			}
		}},
		{"numpy allocation", "import numpy as np\nprint('before')\na = np.ones(400_000_000)", func(t *testing.T, res *Result) {
			wantErrorType(t, res, "MemoryError")
			if res.Error.Line != 3 || res.Stdout != "before\n" {
				t.Errorf("error %+v, stdout %q", res.Error, res.Stdout)
			}
		}},
		{"pandas allocation", "big = pd.DataFrame(np.zeros((20_000_000, 10)))", func(t *testing.T, res *Result) {
			wantErrorType(t, res, "MemoryError")
		}},
		{"gradual growth", "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))", func(t *testing.T, res *Result) {
			wantErrorType(t, res, "MemoryError")
			if res.Error.Line != 3 {
				t.Errorf("error %+v", res.Error)
			}
		}},
		{"within the limit", "a = np.ones(20_000_000)\nprint(int(a.sum()))", func(t *testing.T, res *Result) {
			if !res.OK || res.Stdout != "20000000\n" {
				t.Errorf("OK %v error %+v stdout %q", res.OK, res.Error, res.Stdout)
			}
		}},
		{"stdout truncated", "for i in range(10000):\n    print('line', i)\nprint('end')", func(t *testing.T, res *Result) {
			if !res.OK {
				t.Fatalf("error %+v", res.Error)
			}
			if !strings.HasPrefix(res.Stdout, "line 0\nline 1\n") || !strings.HasSuffix(res.Stdout, "\n"+truncationMarker) {
				t.Fatalf("stdout %.100q...%q", res.Stdout, res.Stdout[max(0, len(res.Stdout)-60):])
			}
			if n := len(res.Stdout); n > 4096+len(truncationMarker)+1 || n < 4096 {
				t.Errorf("stdout of %d bytes for a limit of 4096", n)
			}
		}},
		{"stderr truncated", "import sys\nsys.stderr.write('e' * 100000)\nprint('out')", func(t *testing.T, res *Result) {
			if !strings.HasSuffix(res.Stderr, "\n"+truncationMarker) || len(res.Stderr) > 4096+len(truncationMarker)+1 {
				t.Errorf("stderr of %d bytes ending %q", len(res.Stderr), res.Stderr[max(0, len(res.Stderr)-40):])
			}
			if res.Stdout != "out\n" {
				t.Errorf("stdout %q", res.Stdout)
			}
		}},
		{"native output truncated", "import os\nfor _ in range(100):\n    os.write(1, b'n' * 1000)", func(t *testing.T, res *Result) {
			if !strings.HasSuffix(res.Stdout, truncationMarker) || len(res.Stdout) > 4096+len(truncationMarker)+1 {
				t.Errorf("stdout of %d bytes ending %q", len(res.Stdout), res.Stdout[max(0, len(res.Stdout)-40):])
			}
		}},
		{"output within the limit", "print('x' * 4000)", func(t *testing.T, res *Result) {
			if res.Stdout != strings.Repeat("x", 4000)+"\n" {
				t.Errorf("stdout of %d bytes", len(res.Stdout))
			}
		}},
		{"results too large", "for _ in range(20):\n    display(pd.DataFrame(np.random.rand(200, 100)))", func(t *testing.T, res *Result) {
			wantErrorType(t, res, "OutputLimitError")
			if len(res.Tables) != 0 {
				t.Errorf("%d tables", len(res.Tables))
			}
		}},
		{"default time limit", "import time\ntime.sleep(30)", func(t *testing.T, res *Result) {
			wantErrorType(t, res, "TimeoutError")
			if !strings.Contains(res.Error.Message, "8s") {
				t.Errorf("message %q", res.Error.Message)
			}
		}},
		// A fork of the kernel's memory takes tens of milliseconds: within
		// its time limit of a second the fork bomb is ended by that limit
		// (with its pid namespace) before it reaches the process limit
		// (which TestHostAttacks reaches by spawning).
		{"fork bomb", "import os\npids = []\ntry:\n    while True:\n        pid = os.fork()\n        if pid == 0:\n            import time\n            time.sleep(60)\n            os._exit(0)\n        pids.append(pid)\nexcept OSError as e:\n    print(type(e).__name__, len(pids) <= 256)", func(t *testing.T, res *Result) {
			if res.Stdout != "BlockingIOError True\n" && (res.Error == nil || res.Error.Type != "TimeoutError") {
				t.Errorf("OK %v error %+v stdout %q", res.OK, res.Error, res.Stdout)
			}
		}},
		{"large file", "with open('/tmp/big', 'wb') as f:\n    f.write(b'x' * (80 << 20))", func(t *testing.T, res *Result) {
			if res.OK {
				t.Fatalf("writing 80 MiB into a 64 MiB /tmp succeeded")
			}
			wantLimitNamed(t, res, "64 MiB limit of /tmp")
		}},
		{"disk fill", "for i in range(100):\n    with open('/tmp/f%d' % i, 'wb') as f:\n        f.write(b'x' * (1 << 20))", func(t *testing.T, res *Result) {
			if res.OK {
				t.Fatalf("writing 100 MiB of files into a 64 MiB /tmp succeeded")
			}
			wantLimitNamed(t, res, "64 MiB limit of /tmp")
		}},
		{"thread bomb", "import threading, time\nthreads = []\nwhile True:\n    th = threading.Thread(target=time.sleep, args=(60,), daemon=True)\n    th.start()\n    threads.append(th)", func(t *testing.T, res *Result) {
			wantErrorType(t, res, "RuntimeError")
			wantLimitNamed(t, res, "processes and threads")
		}},
	}
	// Cases with a time limit of their own: the fork bomb is ended by the
	// time limit, and a longer one only leaves more processes to reap.
	timeouts := map[string]time.Duration{"fork bomb": time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runReq(t, e, Request{Key: key, Datasets: sales, Code: tt.code, Timeout: timeouts[tt.name]})
			tt.check(t, res)
			wantAlive(t, e, key, sales, pid)
		})
	}

}

func TestConcurrentExecutions(t *testing.T) {
	e := shared(t)
	keys := []string{mainKey, "other", "third"}
	for _, k := range keys {
		runOK(t, e, k, sales, "x = 1") // start the kernels
	}
	const perKey = 4
	const rounds = 3
	var wg sync.WaitGroup
	errs := make(chan error, len(keys)*perKey*rounds)
	start := time.Now()
	for ki, key := range keys {
		for g := range perKey {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					id := fmt.Sprintf("%d-%d-%d", ki, g, r)
					code := fmt.Sprintf("v = %q\nassert 'v_prev' not in globals()\nv_prev = v\nprint(v, df.shape)", id)
					res, err := e.Execute(context.Background(), Request{Key: key, Datasets: sales, Code: code})
					switch {
					case err != nil:
						errs <- fmt.Errorf("%s: %w", id, err)
					case !res.OK:
						errs <- fmt.Errorf("%s: %+v", id, res.Error)
					case res.Stdout != id+" (6, 5)\n":
						errs <- fmt.Errorf("%s: stdout %q (output of another execution?)", id, res.Stdout)
					}
				}
			}()
		}
	}
	// Profiles run at the same time, on their own kernel.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.Profile(context.Background(), sales[0])
			if err != nil || p.RowCount != 6 {
				errs <- fmt.Errorf("profile %+v: %v", p, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d executions in %s", len(keys)*perKey*rounds, time.Since(start))
	if n := e.pool.size(); n > e.s.MaxKernels {
		t.Errorf("%d kernels in the pool (max %d)", n, e.s.MaxKernels)
	}
}

func TestUnsandboxed(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-secret")
	t.Setenv("DATABASE_URL", "postgres://user:db-secret@localhost/app")
	e := newExecutor(t, Config{Sandbox: false, MaxKernels: 1})

	out := runOK(t, e, "a", sales, "import os\nprint(df.shape)\nprint(sorted(os.environ), dict(os.environ))")
	if !strings.HasPrefix(out, "(6, 5)\n") || strings.Contains(out, "secret") || strings.Contains(out, "OPENAI") || strings.Contains(out, "DATABASE_URL") {
		t.Fatalf("stdout %q", out)
	}
	res := run(t, e, "a", sales, "x = 1\nfig = px.bar(df, x='region', y='units')\nfig.show()\n# eda_agent code start\nraise ValueError('no')\n# eda_agent code end")
	wantErrorType(t, res, "ValueError")
	if res.Error.Line != 5 || res.Error.Agent != "eda_agent" || len(res.Figures) != 1 {
		t.Fatalf("error %+v, %d figures", res.Error, len(res.Figures))
	}
	if out := runOK(t, e, "a", sales, "print('x' in globals())"); out != "False\n" {
		t.Fatalf("stdout %q", out)
	}
	res = runReq(t, e, Request{Key: "a", Datasets: sales, Code: "import time\ntime.sleep(30)", Timeout: 500 * time.Millisecond})
	wantErrorType(t, res, "TimeoutError")

	// MaxKernels 1: a second key evicts the first.
	if out := runOK(t, e, "b", []Dataset{testdata("df", "customers.json", "json")}, "print(df.shape)"); out != "(4, 3)\n" {
		t.Fatalf("stdout %q", out)
	}
	if n := e.pool.size(); n != 1 {
		t.Errorf("%d kernels in the pool, want 1", n)
	}
	if pid := kernelPID(t, e, "a", sales); pid != 0 {
		t.Errorf("the least recently used kernel was not evicted")
	}
	if out := runOK(t, e, "a", sales, "print(df.shape)"); out != "(6, 5)\n" {
		t.Fatalf("stdout %q", out)
	}

	// Close.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Execute(context.Background(), Request{Key: "a", Datasets: sales, Code: "print(1)"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Execute after Close: %v", err)
	}
	if _, err := e.Profile(context.Background(), sales[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Profile after Close: %v", err)
	}
}

// TestPoolEviction checks the pool's two other ways of closing kernels: an
// idle one after IdleTimeout, and the least recently used idle ones when the
// kernels hold more than MemoryBudgetBytes together. Each kernel reports its
// own memory (the data stack's objects and its datasets).
func TestPoolEviction(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := newExecutor(t, Config{Sandbox: false, IdleTimeout: 300 * time.Millisecond, DisableSpare: true})
		runOK(t, e, "a", sales, "x = 1")
		if err := waitFor(10*time.Second, func() bool { return e.pool.size() == 0 }); err != nil {
			t.Fatalf("the idle kernel is still there after %s: %d kernels", e.s.IdleTimeout, e.pool.size())
		}
		if out := runOK(t, e, "a", sales, "print(df.shape)"); out != "(6, 5)\n" {
			t.Fatalf("after eviction: stdout %q", out)
		}
	})
	t.Run("memory budget", func(t *testing.T) {
		e := newExecutor(t, Config{Sandbox: false, MaxKernels: 8, MemoryBudgetBytes: 64 << 20, DisableSpare: true})
		runOK(t, e, "a", sales, "x = 1")
		wantOwnMemory(t, kernelOf(t, e, "a", sales))
		// Any second kernel puts the pool over the budget: the idle first one goes.
		runOK(t, e, "b", []Dataset{testdata("df", "customers.json", "json")}, "x = 1")
		if pid := kernelPID(t, e, "a", sales); pid != 0 {
			t.Errorf("the least recently used kernel was not evicted over the memory budget")
		}
		if n := e.pool.size(); n != 1 {
			t.Errorf("%d kernels in the pool, want 1", n)
		}
	})
	t.Run("sandboxed kernel reports its memory", func(t *testing.T) {
		e := shared(t)
		runOK(t, e, "own-memory", sales, "x = 1")
		wantOwnMemory(t, kernelOf(t, e, "own-memory", sales))
	})
}

// wantLimitNamed fails the test unless res failed with an error whose
// message names the limit (limit is a part of that name).
func wantLimitNamed(t *testing.T, res *Result, limit string) {
	t.Helper()
	if res.Error == nil || !strings.Contains(res.Error.Message, limit) {
		t.Errorf("error %+v; want its message to name the limit (%q)", res.Error, limit)
	}
}

// wantOwnMemory fails the test unless k reported the memory of the data
// stack's objects at least (over 64 MiB).
func wantOwnMemory(t *testing.T, k *kernel) {
	t.Helper()
	if k == nil {
		t.Fatal("no kernel")
	}
	if m := k.memory.Load(); m < 64<<20 {
		t.Fatalf("kernel reports %d bytes of its own; want the data stack's objects (over 64 MiB)", m)
	}
}

// TestAttackDoesNotStopOthers checks that other chats are served while one
// chat's code attacks the machine: a fork bomb whose processes spin on the
// CPU and grab memory, until the attacker's request is canceled.
func TestAttackDoesNotStopOthers(t *testing.T) {
	e := shared(t)
	const attacker, victim = "attacker", "victim"
	runOK(t, e, attacker, sales, "x = 1")
	runOK(t, e, victim, sales, "x = 1")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Execute(ctx, Request{Key: attacker, Datasets: sales, Timeout: time.Minute, Code: "import os\n" +
			"print('started', flush=True)\n" +
			"for _ in range(20):\n    if os.fork() == 0:\n        break\n" +
			"junk = []\nwhile True:\n    if len(junk) < 40:\n        junk.append(bytearray(1 << 20))"})
		done <- err
	}()
	time.Sleep(500 * time.Millisecond) // the attack is under way

	for i := range 3 {
		start := time.Now()
		if out := runOK(t, e, victim, sales, "print(df.shape)"); out != "(6, 5)\n" {
			t.Fatalf("victim: stdout %q", out)
		}
		took := time.Since(start)
		t.Logf("victim execution %d during the attack: %s", i, took)
		if took > 10*time.Second {
			t.Errorf("victim execution %d took %s during the attack", i, took)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the attack ended before the victim's executions (%v): the test proves nothing", err)
	default:
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("attacker: %v", err)
	}
	runOK(t, e, attacker, sales, "x = 1") // the attacker's kernel is fine afterwards
}

// TestMaxConcurrent checks the limit on executions at once over all kernels:
// with one slot, an execution for another chat waits until the running one
// is over, or until its context ends.
func TestMaxConcurrent(t *testing.T) {
	e := newExecutor(t, Config{Sandbox: false, MaxConcurrent: 1, DisableSpare: true})
	runOK(t, e, "a", sales, "x = 1")
	runOK(t, e, "b", sales, "x = 1")

	first := make(chan time.Time, 1)
	go func() {
		runOK(t, e, "a", sales, "import time\ntime.sleep(1)")
		first <- time.Now()
	}()
	time.Sleep(200 * time.Millisecond) // "a" holds the slot

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.Execute(ctx, Request{Key: "b", Datasets: sales, Code: "x = 1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an execution beyond the limit, whose context ends while it waits: %v, want the deadline", err)
	}
	runOK(t, e, "b", sales, "x = 1")
	second := time.Now()
	if firstDone := <-first; second.Before(firstDone) {
		t.Errorf("the second execution ended %s before the first: the limit of 1 did not hold", firstDone.Sub(second))
	}
}
