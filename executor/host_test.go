package executor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests in this file attack the host from an execution, through a real
// kernel in real bubblewrap, as the user the tests run as: root in CI, where
// the sandbox's user would otherwise be host root (issue 14).

// rootOnlySysctl returns a sysctl only its owner, host root, may read
// (mode 0600), or "" when this kernel has none of them.
func rootOnlySysctl() string {
	for _, p := range []string{"/proc/sys/kernel/cad_pid", "/proc/sys/kernel/usermodehelper/bset"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 == 0 {
			return p
		}
	}
	return ""
}

// TestHostAttacks: what an execution must not do to the host, whichever user
// the server runs as. Each program prints nothing, or "refused", when the
// sandbox holds.
func TestHostAttacks(t *testing.T) {
	e := shared(t)
	masked := make([]string, 0, len(procMaskedFiles))
	for _, n := range procMaskedFiles {
		masked = append(masked, "/proc/"+n)
	}
	maskedDirs := make([]string, 0, len(procMaskedDirs))
	for _, n := range procMaskedDirs {
		maskedDirs = append(maskedDirs, "/proc/"+n)
	}
	// readable prints the paths of which a read returns something.
	const readable = `
def readable(paths):
    for p in paths:
        try:
            with open(p, 'rb') as f:
                if f.read(4096):
                    print('read', p)
        except OSError:
            pass
`
	tests := []struct {
		name, code, want string
	}{
		// Written back unchanged: were it allowed, the host would not notice.
		{"global sysctl written back", `
p = '/proc/sys/vm/swappiness'
v = open(p).read()
try:
    with open(p, 'w') as f:
        f.write(v)
    print('wrote', p, v.strip())
except OSError:
    print('refused')`, "refused\n"},
		// Opened, never written: the core pattern is a way out of containers.
		{"core_pattern opened for writing", `import os
try:
    os.close(os.open('/proc/sys/kernel/core_pattern', os.O_WRONLY))
    print('opened')
except OSError:
    print('refused')`, "refused\n"},
		{"sysctls read-only", `import os
print('refused' if not os.access('/proc/sys/vm', os.W_OK) and not os.access('/proc/sys/vm/swappiness', os.W_OK) else 'writable')`, "refused\n"},
		// Opened, never written (a key would act on the host). Absent on
		// kernels without CONFIG_MAGIC_SYSRQ.
		{"sysrq-trigger", `import os
try:
    os.close(os.open('/proc/sysrq-trigger', os.O_WRONLY))
    print('opened')
except OSError:
    print('refused')`, "refused\n"},
		{"kernel memory and symbols", readable + "readable(['/proc/kcore', '/proc/kallsyms'])", ""},
		{"masked files", readable + "readable(" + pyList(masked...) + ")", ""},
		{"masked directories", "import os\nfor p in " + pyList(maskedDirs...) + `:
    if os.path.isdir(p) and (os.listdir(p) or os.access(p, os.W_OK)):
        print(p, os.listdir(p))`, ""},
		// Kernels never run as host root, which the process limit exempts.
		// Spawned (vfork and exec) rather than forked, which a kernel's
		// memory makes slow: the limit is reached well within the time limit.
		{"process limit", `import subprocess
procs = []
try:
    for _ in range(1000):
        procs.append(subprocess.Popen(['sleep', '60']))
    print('no limit')
except OSError as e:
    print(type(e).__name__, len(procs) < 256)`, "BlockingIOError True\n"},
		{"no /sys", "import os\nprint(os.path.lexists('/sys'), 'sys' in os.listdir('/'))", "False False\n"},
	}
	// Only host root may read a root-only sysctl: an execution that can is
	// host root, whatever its uid looks like inside.
	if p := rootOnlySysctl(); p != "" {
		tests = append(tests, struct{ name, code, want string }{"host root's own sysctl", fmt.Sprintf(`
try:
    open(%q).read()
    print('read')
except OSError:
    print('refused')`, p), "refused\n"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out := runOK(t, e, mainKey, sales, tt.code); out != tt.want {
				t.Fatalf("stdout %q, want %q", out, tt.want)
			}
		})
	}
}

// procStatus returns the fields of /proc/<pid>/status.
func procStatus(pid int) (map[string]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		m[k] = strings.TrimSpace(v)
	}
	return m, sc.Err()
}

// TestHostIDs checks, from the host, the ids of a kernel's processes and of a
// running execution: when the tests run as root, none is root (uid or gid
// 0, in any of the real, effective, saved and file-system ids, nor a
// supplementary group), and the execution's user namespace maps its uid to
// the host user, not 0. When they do not run as root, they are the tests'
// own.
func TestHostIDs(t *testing.T) {
	requireSandbox(t)
	wantUID, wantGID := uint32(os.Geteuid()), uint32(os.Getegid())
	if os.Geteuid() == 0 {
		hu, err := resolveHostUser("")
		if err != nil {
			t.Fatal(err)
		}
		wantUID, wantGID = hu.uid, hu.gid
	}
	t.Run("default", func(t *testing.T) { checkHostIDs(t, shared(t), wantUID, wantGID) })
	t.Run("numeric HostUser", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("only a root server switches users")
		}
		// Not in the user database: the kernel needs no entry there.
		e := newExecutor(t, Config{Sandbox: true, HostUser: "4242:4243", MaxKernels: 1, DisableSpare: true})
		checkHostIDs(t, e, 4242, 4243)
	})
}

func checkHostIDs(t *testing.T, e *Executor, wantUID, wantGID uint32) {
	const marker = "hostidprobe"
	runOK(t, e, mainKey, sales, "x = 1")
	k := kernelOf(t, e, mainKey, sales)
	if k == nil {
		t.Fatal("no kernel")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Execute(ctx, Request{Key: mainKey, Datasets: sales, Code: fmt.Sprintf(
			"import ctypes, time\nctypes.CDLL(None).prctl(15, b%q, 0, 0, 0)\ntime.sleep(60)", marker)})
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Execute: %v", err)
		}
	}()
	var exec int
	var pids []int
	if err := waitFor(30*time.Second, func() bool {
		pids, _ = descendants(k.pid())
		for _, pid := range pids {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == marker {
				exec = pid
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the execution is not among the kernel's processes %v", pids)
	}
	want := fmt.Sprintf("%d\t%d\t%d\t%d", wantUID, wantUID, wantUID, wantUID)
	wantG := fmt.Sprintf("%d\t%d\t%d\t%d", wantGID, wantGID, wantGID, wantGID)
	for _, pid := range pids {
		st, err := procStatus(pid)
		if err != nil {
			continue // gone meanwhile
		}
		if st["Uid"] != want || st["Gid"] != wantG {
			t.Errorf("process %d (%s) has uids %q and gids %q on the host, want %q and %q", pid, st["Name"], st["Uid"], st["Gid"], want, wantG)
		}
		for _, g := range strings.Fields(st["Groups"]) {
			if g == "0" || os.Geteuid() == 0 && g != strconv.Itoa(int(wantGID)) {
				t.Errorf("process %d (%s) has the supplementary groups %q on the host", pid, st["Name"], st["Groups"])
			}
		}
	}
	// The execution's user namespace, read from the host, maps the sandbox's
	// uid to the host user: the outside end of the chain of mappings.
	for _, f := range []string{"uid_map", "gid_map"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", exec, f))
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(string(b))
		wantID := wantUID
		if f == "gid_map" {
			wantID = wantGID
		}
		if len(fields) != 3 || fields[0] != sandboxUID || fields[1] != strconv.Itoa(int(wantID)) {
			t.Errorf("the execution's %s seen from the host: %q, want %s mapped to %d", f, b, sandboxUID, wantID)
		}
	}
}

// TestHostUserRefused: a root server refuses to run kernels as root.
func TestHostUserRefused(t *testing.T) {
	for _, spec := range []string{"root", "0", "0:0", "nobody:0", "65534:0", "root:65534", "no-such-user-here", "4242"} {
		t.Run(spec, func(t *testing.T) {
			if _, err := resolveHostUser(spec); !errors.Is(err, ErrHostUser) || !strings.Contains(err.Error(), "SANDBOX_USER") {
				t.Errorf("resolveHostUser(%q): %v, want ErrHostUser naming SANDBOX_USER", spec, err)
			}
			if os.Geteuid() != 0 {
				return // a server that is not root ignores HostUser
			}
			for _, sandbox := range []bool{true, false} {
				e, err := New(Config{Sandbox: sandbox, HostUser: spec})
				if err == nil {
					e.Close()
				}
				if !errors.Is(err, ErrHostUser) || errors.Is(err, ErrSandboxUnavailable) || !strings.Contains(err.Error(), "SANDBOX_USER") {
					t.Errorf("New(Sandbox %v, HostUser %q): %v, want ErrHostUser naming SANDBOX_USER", sandbox, spec, err)
				}
			}
		})
	}
	for spec, want := range map[string][2]uint32{"": {65534, 65534}, "nobody": {65534, 65534}, "65534": {65534, 65534}, "4242:4243": {4242, 4243}, "daemon:nogroup": {1, 65534}} {
		if h, err := resolveHostUser(spec); err != nil || h.uid != want[0] || h.gid != want[1] {
			t.Errorf("resolveHostUser(%q) = %v, %v; want uid %d gid %d", spec, h, err, want[0], want[1])
		}
	}
}

// TestUnsandboxedHostUser: without the sandbox too, a root server's kernels
// run as the host user, in a directory of their own.
func TestUnsandboxedHostUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only a root server switches users")
	}
	e := newExecutor(t, Config{Sandbox: false, MaxKernels: 1, DisableSpare: true})
	out := runOK(t, e, "a", sales, "import os\nprint(os.getuid(), os.getgid(), os.getgroups(), os.access(os.getcwd(), os.W_OK))")
	if out != "65534 65534 [] True\n" {
		t.Fatalf("stdout %q, want the host user nobody, no groups, a writable working directory", out)
	}
}
