package executor

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// sandboxUID is the user (and group) id the kernel runs as inside bubblewrap.
const sandboxUID = "65534"

// systemLinks are the top-level directories that merged-/usr systems make
// symlinks into /usr; on other systems they are directories, bound read-only.
var systemLinks = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcFiles are the only parts of the host's /etc the sandbox sees: what the
// dynamic linker, the Debian alternatives (libblas.so.3, liblapack.so.3),
// Python, matplotlib and time zones need. No passwd, hosts, resolv.conf or
// anything else of the host.
var etcFiles = []string{
	"/etc/alternatives",
	"/etc/ld.so.cache",
	"/etc/ld.so.conf",
	"/etc/ld.so.conf.d",
	"/etc/localtime",
	"/etc/matplotlibrc",
	"/etc/fonts",
	"/etc/python3",
}

// kernelEnv is the complete environment of a kernel: nothing is inherited
// from the Go process.
func kernelEnv(home string) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"TMPDIR=" + home,
		"USER=sandbox",
		"LOGNAME=sandbox",
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"MPLBACKEND=Agg",
		"MPLCONFIGDIR=" + filepath.Join(home, ".matplotlib"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"PYTHONDONTWRITEBYTECODE=1",
		"OPENBLAS_NUM_THREADS=1",
		"OMP_NUM_THREADS=1",
		"MKL_NUM_THREADS=1",
		"NUMEXPR_NUM_THREADS=1",
		"VECLIB_MAXIMUM_THREADS=1",
		"JOBLIB_MULTIPROCESSING=0",
		"PYTHONMALLOC=malloc", // Python's objects in the C heap, in huge pages (kernel/hugepages.py)
	}
}

// kernelConfig is the JSON configuration passed to the kernel as argv[1]
// (kernel/config.py).
// In the sandbox it carries the execution seccomp filter, which each
// execution loads once its namespaces and mounts are set up.
func kernelConfig(s *settings) string {
	cfg := map[string]any{
		"isolate":    true,
		"memory":     s.MemoryLimitBytes,
		"tmp_size":   s.TmpSizeBytes,
		"max_output": s.MaxOutputBytes,
		"max_result": s.MaxResultBytes,
		"nofile":     1024,
		"nproc":      256,
		// The limits on a dataset file (kernel/limits.py).
		"max_columns":           s.MaxColumns,
		"max_line":              s.MaxLineBytes,
		"xlsx_max_uncompressed": s.XLSXMaxUncompressedBytes,
		"xlsx_max_ratio":        s.XLSXMaxRatio,
		// The output folder's files (kernel/outputs.py).
		"output_max_files": s.OutputMaxFiles,
		"output_max_bytes": s.OutputMaxBytes,
	}
	if s.Sandbox && s.seccomp != nil {
		cfg["seccomp"] = base64.StdEncoding.EncodeToString(s.seccomp.execution)
	}
	b, _ := json.Marshal(cfg)
	return string(b)
}

// seccompFD is the descriptor on which bubblewrap reads the kernel seccomp
// filter (fd 3 is the control socket).
const seccompFD = 4

// pythonArgs is the interpreter's command line: no user site (-s), no bytecode
// files (-B), and the kernel passed inline, its loader with -c and its package
// as arguments (kernelModules), so that nothing outside the binary is needed
// on the host or in the sandbox. Not -I: it would ignore PYTHONMALLOC
// (kernel/hugepages.py). What -I adds is in place anyway: the environment is
// kernelEnv and nothing else, and kernel_loader.py drops the current
// directory from sys.path before its first import.
func pythonArgs(s *settings) []string {
	args := []string{s.Python, "-s", "-B", "-c", kernelLoader, kernelConfig(s)}
	return append(args, kernelModules...)
}

// kernelCommand builds the command that starts one kernel.
func kernelCommand(s *settings) *exec.Cmd {
	py := pythonArgs(s)
	if !s.Sandbox {
		cmd := exec.Command(py[0], py[1:]...)
		cmd.Env = kernelEnv(s.hostDir)
		cmd.Dir = s.hostDir
		return cmd
	}
	args := append(bwrapArgs(s), "--")
	args = append(args, py...)
	cmd := exec.Command(s.bwrap, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	return cmd
}

// bwrapArgs are bubblewrap's options: every namespace unshared (no network at
// all, not even the host's loopback), the kernel seccomp filter (seccomp.go),
// an unprivileged user, a fresh /proc (its sensitive files masked: procMasks)
// and /dev, no /sys, a size-limited private /tmp, an empty environment, and
// read-only binds of /usr and the few files of /etc the data stack needs, in a
// root that is read-only too. Datasets are not mounted: they reach the kernel
// as read-only file descriptors. The sandbox's user (sandboxUID) maps to the
// user bubblewrap runs as: Config.HostUser for a root server.
func bwrapArgs(s *settings) []string {
	a := []string{
		"--unshare-all",
		"--unshare-user",
		"--uid", sandboxUID,
		"--gid", sandboxUID,
		"--hostname", "sandbox",
		"--die-with-parent",
		"--new-session",
		"--clearenv",
	}
	for _, kv := range kernelEnv("/tmp") {
		k, v, _ := strings.Cut(kv, "=")
		a = append(a, "--setenv", k, v)
	}
	a = append(a, "--ro-bind", "/usr", "/usr")
	for _, p := range systemLinks {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				a = append(a, "--symlink", target, p)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", p, p)
		}
	}
	for _, p := range etcPaths() {
		a = append(a, "--ro-bind-try", p, p)
	}
	if prefix := pythonPrefix(s.Python); prefix != "" {
		a = append(a, "--ro-bind", prefix, prefix)
	}
	a = append(a, "--proc", "/proc")
	a = append(a, procMasks("/proc")...)
	a = append(a,
		"--dev", "/dev",
		"--size", strconv.FormatInt(s.TmpSizeBytes, 10), "--tmpfs", "/tmp",
		// Everything else is read-only: the root and /dev are tmpfs shared by
		// the kernel and all its executions, so a file written there would
		// reach the next execution (and they have no size limit). Executions
		// get their own /tmp and /dev/shm (kernel/sandbox.py: sandbox_child).
		"--remount-ro", "/dev",
		"--remount-ro", "/",
		"--chdir", "/tmp",
	)
	if s.seccomp != nil {
		a = append(a, "--seccomp", strconv.Itoa(seccompFD))
	}
	return a
}

// procMaskedFiles and procMaskedDirs are the parts of /proc hidden in the
// sandbox, as runc and Docker hide them: kernel memory and symbols, keyrings,
// kernel logs and timers, page maps, the magic SysRq key, and hardware trees.
// (What stays visible of /proc but must not be written, the sysctls in
// /proc/sys above all, is made read-only by kernel/sandbox.py: proc_read_only.)
var (
	procMaskedFiles = []string{
		"kcore", "kallsyms", "kmsg", "keys", "key-users", "sysrq-trigger",
		"latency_stats", "timer_list", "timer_stats", "sched_debug",
		"kpagecount", "kpageflags", "kpagecgroup",
	}
	procMaskedDirs = []string{"acpi", "asound", "scsi"}
)

// procMasks are bubblewrap's options, after its --proc, that mask
// procMaskedFiles with /dev/null (on a nodev mount, so that opening one
// fails) and procMaskedDirs with an empty read-only tmpfs. The kernel and
// every execution see them, and cannot undo them (they are mounts of
// bubblewrap's, locked in the namespaces the kernel creates, and executions
// can neither mount nor unmount). Only what hostProc (the host's /proc, of the
// same kernel) has is listed: bubblewrap cannot create a mount point in /proc.
func procMasks(hostProc string) []string {
	var a []string
	exists := func(name string, dir bool) bool {
		fi, err := os.Lstat(filepath.Join(hostProc, name))
		return err == nil && fi.IsDir() == dir
	}
	for _, n := range procMaskedFiles {
		if exists(n, false) {
			a = append(a, "--ro-bind", "/dev/null", "/proc/"+n)
		}
	}
	for _, n := range procMaskedDirs {
		if exists(n, true) {
			a = append(a, "--tmpfs", "/proc/"+n, "--remount-ro", "/proc/"+n)
		}
	}
	return a
}

// etcPaths lists etcFiles plus Debian's per-version Python configuration
// (/etc/python3.11 holds sitecustomize.py).
func etcPaths() []string {
	paths := append([]string(nil), etcFiles...)
	if m, err := filepath.Glob("/etc/python3.*"); err == nil {
		sort.Strings(m)
		paths = append(paths, m...)
	}
	return paths
}

// pythonPrefix returns the installation prefix to bind when the interpreter
// does not live under /usr (which is always bound), or "".
func pythonPrefix(python string) string {
	real, err := filepath.EvalSymlinks(python)
	if err != nil {
		real = python
	}
	if strings.HasPrefix(real, "/usr/") {
		return ""
	}
	// <prefix>/bin/python3
	prefix := filepath.Dir(filepath.Dir(real))
	if prefix == "/" || prefix == "." {
		return ""
	}
	return prefix
}
