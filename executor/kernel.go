package executor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// errKernelGone means the kernel died before it started the requested work;
// the caller may retry on a new kernel.
var errKernelGone = errors.New("kernel gone")

var kernelSeq atomic.Uint64

// kernel is the Go side of one kernel process: it starts the process, owns the
// control socket, and turns requests into frames and frames into results.
// One request runs at a time (lock/unlock); the methods are safe for
// concurrent use.
type kernel struct {
	id  uint64
	s   *settings
	log zerolog.Logger
	cmd *exec.Cmd

	conn *net.UnixConn
	wmu  sync.Mutex // serialises writes to conn

	mu      sync.Mutex
	waiters map[uint64]chan *reply
	seq     atomic.Uint64

	sem     chan struct{} // one request at a time
	done    chan struct{} // closed when the kernel is gone (socket closed or process exited)
	exited  chan struct{} // closed when the process has been waited for
	waitMu  sync.Mutex
	waitErr error
	output  *tailBuffer

	isolated      bool
	python        string
	importSeconds float64
	// memory is the kernel's own memory as it last reported it (started,
	// then loaded), in bytes: what the pool's memory budget counts.
	memory atomic.Int64

	stopOnce sync.Once
}

// logFor returns the logger for a line about the execution whose context is
// ctx: the logger ctx carries (zerolog.Ctx: a run's, which names the run, its
// user and its trace) with the kernel's fields, or the kernel's own logger.
func (k *kernel) logFor(ctx context.Context) *zerolog.Logger {
	l := zerolog.Ctx(ctx)
	if l.GetLevel() == zerolog.Disabled || l == zerolog.DefaultContextLogger {
		return &k.log
	}
	nl := l.With().Str("component", "executor").Uint64("kernel", k.id).Logger()
	return &nl
}

// startKernel starts a kernel process and waits until it has imported the
// data stack.
func startKernel(ctx context.Context, s *settings) (*kernel, error) {
	k := &kernel{
		id:      kernelSeq.Add(1),
		s:       s,
		waiters: map[uint64]chan *reply{},
		sem:     make(chan struct{}, 1),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	k.log = s.log.With().Uint64("kernel", k.id).Logger()
	k.output = newTailBuffer(16<<10, k.log)

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: socketpair: %w", ErrKernel, err)
	}
	ours := os.NewFile(uintptr(fds[0]), "kernel-control")
	theirs := os.NewFile(uintptr(fds[1]), "kernel-control-peer")
	defer theirs.Close()
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: control socket: %w", ErrKernel, err)
	}
	k.conn = c.(*net.UnixConn)

	cmd := kernelCommand(s)
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	if s.Sandbox && s.seccomp != nil {
		filter, err := filterPipe(s.seccomp.kernel)
		if err != nil {
			k.conn.Close()
			return nil, fmt.Errorf("%w: seccomp filter: %w", ErrKernel, err)
		}
		defer filter.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, filter) // seccompFD
	}
	cmd.Stdout = k.output
	cmd.Stderr = k.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.hostUser != nil {
		// A root server: the kernel runs as the host user, so that its ids,
		// the sandbox's included, never map to host root.
		cmd.SysProcAttr.Credential = s.hostUser.credential()
	}
	cmd.WaitDelay = time.Second
	k.cmd = cmd

	ready := k.register(0)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		k.conn.Close()
		return nil, fmt.Errorf("%w: start %s: %w", ErrKernel, cmd.Path, err)
	}
	theirs.Close()
	go k.wait()
	go k.readLoop()

	timer := time.NewTimer(s.StartTimeout)
	defer timer.Stop()
	select {
	case r := <-ready:
		k.unregister(0)
		if r.Type != "ready" {
			k.stop()
			return nil, fmt.Errorf("%w: kernel did not start: %s%s", ErrKernel, r.Message, k.outputNote())
		}
		if s.Sandbox && s.seccomp != nil && r.Seccomp != seccompModeFilter {
			k.stop()
			return nil, fmt.Errorf("%w: the kernel runs without its seccomp filter (mode %d)", ErrKernel, r.Seccomp)
		}
		k.isolated, k.python, k.importSeconds = r.Isolated, r.Python, r.ImportSeconds
		k.memory.Store(r.Memory)
		k.log.Debug().Dur("took_ms", time.Since(start)).Int("pid", cmd.Process.Pid).Bool("isolated", r.Isolated).Msg("kernel started")
		s.Metrics.KernelStarted()
		return k, nil
	case <-k.done:
		k.stop()
		return nil, fmt.Errorf("%w: kernel exited during start-up (%s)%s", ErrKernel, k.describeExit(), k.outputNote())
	case <-timer.C:
		k.stop()
		return nil, fmt.Errorf("%w: kernel did not start within %s%s", ErrKernel, s.StartTimeout, k.outputNote())
	case <-ctx.Done():
		k.stop()
		return nil, ctx.Err()
	}
}

// seccompModeFilter is the Seccomp field of /proc/<pid>/status for a process
// under a seccomp filter.
const seccompModeFilter = 2

// filterPipe returns the read end of a pipe holding prog, for bubblewrap's
// --seccomp (which reads it to the end).
func filterPipe(prog []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	defer w.Close()
	// A filter is at most BPF_MAXINSNS (4096) instructions of 8 bytes: it fits
	// in the pipe's buffer, so this write does not block.
	if _, err := w.Write(prog); err != nil {
		r.Close()
		return nil, fmt.Errorf("writing the filter: %w", err)
	}
	return r, nil
}

func (k *kernel) wait() {
	err := k.cmd.Wait()
	k.waitMu.Lock()
	k.waitErr = err
	k.waitMu.Unlock()
	close(k.exited)
	k.stop()
}

func (k *kernel) readLoop() {
	defer k.stop()
	br := bufio.NewReaderSize(k.conn, 64<<10)
	for {
		r, err := readFrame(br)
		if err != nil {
			select {
			case <-k.done:
			default:
				k.log.Debug().Err(err).Msg("kernel control connection ended")
			}
			return
		}
		if r.Type == "fatal" {
			k.log.Error().Str("message", r.Message).Msg("kernel failed")
		}
		k.mu.Lock()
		ch := k.waiters[r.ID]
		k.mu.Unlock()
		if ch != nil {
			select {
			case ch <- r:
			default:
			}
		}
	}
}

// stop kills the kernel (if still running) and marks it gone.
func (k *kernel) stop() {
	k.stopOnce.Do(func() {
		close(k.done)
		k.conn.Close()
		if p := k.cmd.Process; p != nil {
			select {
			case <-k.exited:
			default:
				// The process group: bwrap, or the interpreter and its kernel.
				_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
				_ = p.Kill()
			}
		}
	})
}

// close stops the kernel and waits for its process to exit.
func (k *kernel) close() {
	k.stop()
	select {
	case <-k.exited:
	case <-time.After(killWaitTimeout):
		k.log.Warn().Msg("kernel process did not exit after SIGKILL")
	}
}

// alive reports whether the kernel is still running.
func (k *kernel) alive() bool {
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// pid returns the process id of the kernel's outermost process (bwrap or the
// interpreter).
func (k *kernel) pid() int {
	if k.cmd.Process == nil {
		return 0
	}
	return k.cmd.Process.Pid
}

func (k *kernel) lock(ctx context.Context) error {
	select {
	case k.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *kernel) unlock() { <-k.sem }

func (k *kernel) register(id uint64) chan *reply {
	ch := make(chan *reply, 4)
	k.mu.Lock()
	k.waiters[id] = ch
	k.mu.Unlock()
	return ch
}

func (k *kernel) unregister(id uint64) {
	k.mu.Lock()
	delete(k.waiters, id)
	k.mu.Unlock()
}

// send writes one frame, passing files (as read-only descriptors) with it.
func (k *kernel) send(req request, files []*os.File) error {
	frame, err := encodeFrame(req, nil)
	if err != nil {
		return err
	}
	k.wmu.Lock()
	defer k.wmu.Unlock()
	if len(files) == 0 {
		_, err = k.conn.Write(frame)
		return err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	n, _, err := k.conn.WriteMsgUnix(frame, syscall.UnixRights(fds...), nil)
	if err == nil && n < len(frame) {
		_, err = k.conn.Write(frame[n:])
	}
	return err
}

// load reads datasets into the kernel's globals.
func (k *kernel) load(ctx context.Context, datasets []Dataset) error {
	if len(datasets) == 0 {
		return nil
	}
	files := make([]*os.File, 0, len(datasets))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	specs := make([]datasetSpec, len(datasets))
	for i, ds := range datasets {
		f, err := os.Open(ds.Path)
		if err != nil {
			return fmt.Errorf("%w: dataset %q: %w", ErrDatasetLoad, ds.Name, err)
		}
		files = append(files, f)
		specs[i] = datasetSpec{Name: ds.Name, Format: ds.Format, Sheet: ds.Sheet, Columns: ds.Columns}
		if pf := k.openParsed(ctx, ds); pf != nil {
			files = append(files, pf)
			specs[i].Parsed = true
		}
	}
	id := k.seq.Add(1)
	ch := k.register(id)
	defer k.unregister(id)
	if err := k.send(request{Op: "load", ID: id, Datasets: specs}, files); err != nil {
		return fmt.Errorf("%w: sending datasets: %w", ErrKernel, err)
	}
	for _, f := range files {
		f.Close()
	}
	files = files[:0]
	timer := time.NewTimer(k.s.StartTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		switch r.Type {
		case "loaded":
			k.memory.Store(r.Memory)
			return nil
		case "error":
			return fmt.Errorf("%w: %s", ErrDatasetLoad, r.Message)
		default:
			return fmt.Errorf("%w: unexpected reply %q to load", ErrKernel, r.Type)
		}
	case <-k.done:
		return fmt.Errorf("%w: kernel died while loading datasets (%s)%s", ErrDatasetLoad, k.describeExit(), k.outputNote())
	case <-timer.C:
		return fmt.Errorf("%w: loading datasets took longer than %s", ErrDatasetLoad, k.s.StartTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openParsed opens ds's parsed form, read in place of its file (nil when
// it has none or it cannot be opened: the kernel reads the file).
func (k *kernel) openParsed(ctx context.Context, ds Dataset) *os.File {
	if ds.Parsed == "" {
		return nil
	}
	f, err := os.Open(ds.Parsed)
	if err != nil {
		k.logFor(ctx).Warn().Err(err).Str("dataset", ds.Name).Msg("the dataset's parsed form cannot be opened; the kernel reads its file")
		return nil
	}
	return f
}

// run sends a request that forks a child (exec, profile) and waits for its
// result. On ctx's end it cancels the child and returns ctx.Err(); when the
// kernel dies before the child started it returns errKernelGone.
func (k *kernel) run(ctx context.Context, req request, files []*os.File, timeout time.Duration) (*reply, time.Duration, error) {
	req.ID = k.seq.Add(1)
	req.Timeout = timeout.Seconds()
	ch := k.register(req.ID)
	defer k.unregister(req.ID)
	if !k.alive() {
		return nil, 0, errKernelGone
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err // do not start work nobody waits for
	}
	start := time.Now()
	if err := k.send(req, files); err != nil {
		if !k.alive() || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) {
			return nil, 0, errKernelGone
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrKernel, err)
	}
	for _, f := range files {
		f.Close()
	}
	// The kernel enforces the time limit; this timer only catches a kernel
	// that stopped answering.
	backstop := time.NewTimer(timeout + backstopGrace)
	defer backstop.Stop()
	started := false
	for {
		select {
		case r := <-ch:
			switch r.Type {
			case "started":
				started = true
			case "result":
				return r, time.Since(start), nil
			case "error":
				return nil, 0, fmt.Errorf("%w: %s", ErrKernel, r.Message)
			}
		case <-k.done:
			if !started {
				return nil, 0, errKernelGone
			}
			return nil, 0, fmt.Errorf("%w: the kernel died during the execution (%s)%s", ErrKernel, k.describeExit(), k.outputNote())
		case <-backstop.C:
			k.logFor(ctx).Error().Dur("timeout_ms", timeout).Msg("kernel stopped answering; killing it")
			k.stop()
			return &reply{Type: "result", Status: "timeout"}, time.Since(start), nil
		case <-ctx.Done():
			k.cancel(k.logFor(ctx), req.ID, ch)
			return nil, 0, ctx.Err()
		}
	}
}

// cancel asks the kernel to kill the running child and waits for it to
// confirm; a kernel that does not is killed.
func (k *kernel) cancel(log *zerolog.Logger, id uint64, ch chan *reply) {
	if err := k.send(request{Op: "cancel", ID: id}, nil); err != nil {
		k.stop()
		return
	}
	timer := time.NewTimer(cancelGrace)
	defer timer.Stop()
	for {
		select {
		case r := <-ch:
			if r.Type == "result" || r.Type == "error" {
				return
			}
		case <-k.done:
			return
		case <-timer.C:
			log.Warn().Msg("kernel did not confirm a cancellation; killing it")
			k.stop()
			return
		}
	}
}

// exec runs code in a fork of the kernel (and serialises the frame that
// frame asks for, when set).
func (k *kernel) exec(ctx context.Context, code string, frame *FrameRequest, timeout time.Duration) (*Result, error) {
	return k.execRequest(ctx, request{Op: "exec", Code: code, Frame: frame}, timeout)
}

// execRequest runs an exec request (see exec).
func (k *kernel) execRequest(ctx context.Context, req request, timeout time.Duration) (*Result, error) {
	r, took, err := k.run(ctx, req, nil, timeout)
	if err != nil {
		return nil, err
	}
	return k.toResult(r, timeout, took)
}

// toResult turns a "result" reply into a Result.
func (k *kernel) toResult(r *reply, timeout, took time.Duration) (*Result, error) {
	res := &Result{Stdout: r.Stdout, Stderr: r.Stderr, Figures: []json.RawMessage{}, Duration: took}
	stdoutCut, stderrCut := r.StdoutTruncated, r.StderrTruncated
	fail := func(typ, msg string) {
		res.OK = false
		res.Error = &Error{Type: typ, Message: msg}
	}
	switch r.Status {
	case "done":
		var cr childResult
		if err := json.Unmarshal(r.Body, &cr); err != nil {
			fail("ExecutionError", "the execution produced an unreadable result: "+err.Error())
			break
		}
		if cr.Internal != "" {
			return nil, fmt.Errorf("%w: %s", ErrKernel, cr.Internal)
		}
		res.OK, res.Error = cr.OK, cr.Error
		if cr.Figures != nil {
			res.Figures = cr.Figures
		}
		res.Images, res.Tables = cr.Images, cr.Tables
		res.Files = keptFiles(cr.Files, k.s.OutputMaxFiles, k.s.OutputMaxBytes)
		if cr.OK {
			res.Frame = cr.Frame
		}
		stdoutCut = stdoutCut || cr.StdoutTruncated
		stderrCut = stderrCut || cr.StderrTruncated
		if res.OK {
			res.Error = nil
		} else if res.Error == nil {
			fail("ExecutionError", "the execution failed")
		}
	case "timeout":
		fail("TimeoutError", fmt.Sprintf("the execution exceeded its time limit of %s and was stopped", timeout))
	case "too_large":
		fail("OutputLimitError", fmt.Sprintf("the figures, images and tables of the execution exceeded the limit of %s", formatBytes(k.s.MaxResultBytes)))
	case "signaled":
		sig := syscall.Signal(r.Signal)
		switch sig {
		case syscall.SIGXCPU:
			fail("TimeoutError", fmt.Sprintf("the execution exceeded its CPU time limit (%.0fs) and was stopped", r.CPUSeconds))
		case syscall.SIGKILL:
			fail("MemoryError", fmt.Sprintf("the execution was killed (SIGKILL), most likely for exceeding the memory limit of %s or its CPU time limit", formatBytes(k.s.MemoryLimitBytes)))
		default:
			fail("ExecutionCrashed", fmt.Sprintf("the execution crashed with signal %d (%s); a native library failed, possibly because the memory limit of %s was reached", r.Signal, sig, formatBytes(k.s.MemoryLimitBytes)))
		}
	case "exited":
		fail("SystemExit", fmt.Sprintf("the execution ended the process (exit status %d) before finishing", r.ExitCode))
	case "fork_failed":
		return nil, fmt.Errorf("%w: cannot start the execution: %s", ErrKernel, r.Message)
	default:
		return nil, fmt.Errorf("%w: unexpected result status %q", ErrKernel, r.Status)
	}
	if stdoutCut {
		res.Stdout = withMarker(res.Stdout)
	}
	if stderrCut {
		res.Stderr = withMarker(res.Stderr)
	}
	return res, nil
}

const truncationMarker = "[output truncated]"

func withMarker(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s + truncationMarker
}

// datasetLimitError is the Python type of the errors of a file over the
// limits on a dataset (kernel/limits.py).
const datasetLimitError = "DatasetLimitError"

// readTask runs a task that reads one dataset (profile, preview, inspect)
// in a fork of the kernel and returns the child's result; extra are more
// descriptors for the task, after the file's (a profile's parsed form). A
// file over the limits, its read time included, fails with
// ErrDatasetLimit.
func (k *kernel) readTask(ctx context.Context, req request, ds Dataset, timeout time.Duration, extra ...*os.File) (*childResult, error) {
	f, err := os.Open(ds.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDatasetLoad, err)
	}
	defer f.Close()
	req.Dataset = &datasetSpec{Name: ds.Name, Format: ds.Format, Sheet: ds.Sheet, Columns: ds.Columns}
	r, _, err := k.run(ctx, req, append([]*os.File{f}, extra...), timeout)
	if err != nil {
		return nil, err
	}
	if r.Status == "timeout" {
		return nil, fmt.Errorf("%w: %w", ErrDatasetLimit, &Error{Type: "TimeoutError",
			Message: fmt.Sprintf("the file took longer than %s to read (DATASET_READ_TIMEOUT); upload a smaller file", timeout)})
	}
	if r.Status != "done" {
		res, err := k.toResult(r, timeout, 0)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrDatasetLoad, res.Error)
	}
	var cr childResult
	if err := json.Unmarshal(r.Body, &cr); err != nil {
		return nil, fmt.Errorf("%w: unreadable %s result: %w", ErrKernel, req.Op, err)
	}
	if cr.Internal != "" {
		return nil, fmt.Errorf("%w: %s", ErrKernel, cr.Internal)
	}
	if !cr.OK {
		if cr.Error != nil && cr.Error.Type == datasetLimitError {
			return nil, fmt.Errorf("%w: %w", ErrDatasetLimit, cr.Error)
		}
		if cr.Error != nil {
			return nil, fmt.Errorf("%w: %w", ErrDatasetLoad, cr.Error)
		}
		return nil, fmt.Errorf("%w: unknown error", ErrDatasetLoad)
	}
	return &cr, nil
}

// profile reads one dataset in a fork of the kernel and describes it.
func (k *kernel) profile(ctx context.Context, ds Dataset, timeout time.Duration) (*Profile, error) {
	cr, err := k.readTask(ctx, request{Op: "profile"}, ds, timeout)
	if err != nil {
		return nil, err
	}
	if cr.Profile == nil {
		return nil, fmt.Errorf("%w: the profile is missing", ErrKernel)
	}
	return cr.Profile, nil
}

// preview reads one dataset in a fork of the kernel and returns its first rows.
func (k *kernel) preview(ctx context.Context, ds Dataset, limit int, timeout time.Duration) (*Preview, error) {
	cr, err := k.readTask(ctx, request{Op: "preview", Limit: limit}, ds, timeout)
	if err != nil {
		return nil, err
	}
	if cr.Preview == nil {
		return nil, fmt.Errorf("%w: the preview is missing", ErrKernel)
	}
	return cr.Preview, nil
}

// inspect looks at a file in a fork of the kernel without loading it whole.
func (k *kernel) inspect(ctx context.Context, ds Dataset, timeout time.Duration) (*Inspection, error) {
	cr, err := k.readTask(ctx, request{Op: "inspect"}, ds, timeout)
	if err != nil {
		return nil, err
	}
	if cr.Inspection == nil {
		return nil, fmt.Errorf("%w: the inspection is missing", ErrKernel)
	}
	return cr.Inspection, nil
}

// describeExit says how the kernel process ended, if it did.
func (k *kernel) describeExit() string {
	select {
	case <-k.exited:
	case <-time.After(200 * time.Millisecond):
		return "process still running"
	}
	k.waitMu.Lock()
	defer k.waitMu.Unlock()
	if k.waitErr == nil {
		return "exit status 0"
	}
	return k.waitErr.Error()
}

// outputNote returns the tail of the kernel's own output, for error messages.
func (k *kernel) outputNote() string {
	t := strings.TrimSpace(k.output.String())
	if t == "" {
		return ""
	}
	if len(t) > 2000 {
		t = "..." + t[len(t)-2000:]
	}
	return "; kernel output: " + t
}

// tailBuffer keeps the last bytes written to it and logs complete lines.
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	buf  []byte
	line bytes.Buffer
	log  zerolog.Logger
}

func newTailBuffer(max int, log zerolog.Logger) *tailBuffer {
	return &tailBuffer{max: max, log: log}
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	t.line.Write(p)
	for {
		i := bytes.IndexByte(t.line.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(t.line.Next(i + 1))
		t.log.Debug().Str("line", strings.TrimRight(line, "\n")).Msg("kernel output")
	}
	if t.line.Len() > 4096 {
		t.line.Reset()
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
