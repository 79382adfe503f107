package executor

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// syscallProbe is the Python prelude of the seccomp attack programs: call(name,
// *args) makes a raw system call by number (from the filter library's table
// for this architecture) and prints "denied <errno name>" or "allowed".
func syscallProbe(t *testing.T, names ...string) string {
	t.Helper()
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	var nums []string
	for _, n := range names {
		nr, ok := info.SyscallNames[n]
		if !ok {
			t.Fatalf("no system call %s on %s", n, info.Name)
		}
		nums = append(nums, fmt.Sprintf("%q: %d", n, nr))
	}
	return `import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {` + strings.Join(nums, ", ") + `}
def call(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if r == 0 and name in ('clone', 'clone3'):
        os._exit(0)  # the filter let a clone through: end the copy
    if r < 0:
        print('denied', errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
    else:
        print('allowed', r)
`
}

// TestSeccomp runs one attack program per denied system call: each must fail
// with EPERM (ENOSYS for clone3) inside an execution, and the kernel must stay
// up and unchanged.
func TestSeccomp(t *testing.T) {
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	pid := kernelPID(t, e, mainKey, sales)
	const (
		newUser = unix.CLONE_NEWUSER
		sigchld = int(unix.SIGCHLD)
	)
	tests := []struct {
		name  string
		calls []string // system calls used (for their numbers)
		code  string
		want  string
	}{
		{"ptrace traceme", []string{"ptrace"}, "call('ptrace', 0, 0, 0, 0)", "denied EPERM\n"},
		{"ptrace attach to the kernel side", []string{"ptrace"}, "call('ptrace', 16, os.getppid() or 1, 0, 0)", "denied EPERM\n"},
		{"process_vm_readv", []string{"process_vm_readv"}, `buf = ctypes.create_string_buffer(8)
iov = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 8)
call('process_vm_readv', os.getpid(), ctypes.addressof(iov), 1, ctypes.addressof(iov), 1, 0)`, "denied EPERM\n"},
		{"process_vm_writev", []string{"process_vm_writev"}, `buf = ctypes.create_string_buffer(8)
iov = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 8)
call('process_vm_writev', os.getpid(), ctypes.addressof(iov), 1, ctypes.addressof(iov), 1, 0)`, "denied EPERM\n"},
		{"keyctl", []string{"keyctl"}, "call('keyctl', 1, 0, 0, 0)", "denied EPERM\n"}, // KEYCTL_JOIN_SESSION_KEYRING
		{"add_key", []string{"add_key"}, "call('add_key', b'user', b'k', b'secret', 6, -3)", "denied EPERM\n"},
		{"request_key", []string{"request_key"}, "call('request_key', b'user', b'k', 0, -3)", "denied EPERM\n"},
		{"bpf", []string{"bpf"}, "attr = ctypes.create_string_buffer(128)\ncall('bpf', 0, attr, 128)", "denied EPERM\n"}, // BPF_MAP_CREATE
		{"perf_event_open", []string{"perf_event_open"}, "attr = ctypes.create_string_buffer(128)\ncall('perf_event_open', attr, 0, -1, -1, 0)", "denied EPERM\n"},
		{"userfaultfd", []string{"userfaultfd"}, "call('userfaultfd', 0)", "denied EPERM\n"},
		{"io_uring_setup", []string{"io_uring_setup"}, "params = ctypes.create_string_buffer(120)\ncall('io_uring_setup', 8, params)", "denied EPERM\n"},
		{"kexec_load", []string{"kexec_load"}, "call('kexec_load', 0, 0, 0, 0)", "denied EPERM\n"},
		{"init_module", []string{"init_module"}, "call('init_module', b'\\x7fELF', 4, b'')", "denied EPERM\n"},
		{"finit_module", []string{"finit_module"}, "call('finit_module', 0, b'', 0)", "denied EPERM\n"},
		{"mount", []string{"mount"}, "call('mount', b'none', b'/tmp', b'tmpfs', 0, 0)", "denied EPERM\n"},
		{"umount2", []string{"umount2"}, "call('umount2', b'/tmp', 2)", "denied EPERM\n"}, // MNT_DETACH
		{"new mount API", []string{"fsopen"}, "call('fsopen', b'tmpfs', 0)", "denied EPERM\n"},
		{"unshare user namespace", []string{"unshare"}, fmt.Sprintf("call('unshare', %d)", newUser), "denied EPERM\n"},
		{"unshare mount namespace", []string{"unshare"}, fmt.Sprintf("call('unshare', %d)", unix.CLONE_NEWNS), "denied EPERM\n"},
		{"setns", []string{"setns"}, "fd = os.open('/proc/self/ns/pid', os.O_RDONLY)\ncall('setns', fd, 0)", "denied EPERM\n"},
		{"clone into a user namespace", []string{"clone"}, fmt.Sprintf("call('clone', %d, 0, 0, 0, 0)", newUser|sigchld), "denied EPERM\n"},
		{"clone3", []string{"clone3"}, "args = ctypes.create_string_buffer(88)\ncall('clone3', args, 88)", "denied ENOSYS\n"},
		{"chroot", []string{"chroot"}, "call('chroot', b'/tmp')", "denied EPERM\n"},
		{"pivot_root", []string{"pivot_root"}, "call('pivot_root', b'/tmp', b'/tmp')", "denied EPERM\n"},
		{"AF_INET socket", []string{"socket"}, fmt.Sprintf("call('socket', %d, %d, 0)", unix.AF_INET, unix.SOCK_STREAM), "denied EPERM\n"},
		{"AF_INET6 socket", []string{"socket"}, fmt.Sprintf("call('socket', %d, %d, 0)", unix.AF_INET6, unix.SOCK_DGRAM), "denied EPERM\n"},
		{"AF_NETLINK socket", []string{"socket"}, fmt.Sprintf("call('socket', %d, %d, 0)", unix.AF_NETLINK, unix.SOCK_RAW), "denied EPERM\n"},
		{"AF_PACKET socket", []string{"socket"}, fmt.Sprintf("call('socket', %d, %d, 0)", unix.AF_PACKET, unix.SOCK_RAW), "denied EPERM\n"},
		{"AF_INET in the upper bits", []string{"socket"}, fmt.Sprintf("call('socket', %d, %d, 0)", 1<<32|unix.AF_INET, unix.SOCK_STREAM), "denied EPERM\n"},
		{"x32 ABI", []string{"getpid"}, "NR['getpid'] |= 0x40000000\ncall('getpid')", "denied ENOSYS\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "x32 ABI" && runtime.GOARCH != "amd64" {
				t.Skip("x86_64 only")
			}
			if out := runOK(t, e, mainKey, sales, syscallProbe(t, tt.calls...)+tt.code); out != tt.want {
				t.Fatalf("stdout %q, want %q", out, tt.want)
			}
		})
	}

	t.Run("Python errors name the call", func(t *testing.T) {
		res := run(t, e, mainKey, sales, "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_STREAM)")
		wantErrorType(t, res, "PermissionError")
		if !strings.Contains(res.Error.Message, "Operation not permitted") {
			t.Errorf("message %q", res.Error.Message)
		}
	})

	t.Run("i386 system calls", func(t *testing.T) {
		if runtime.GOARCH != "amd64" {
			t.Skip("x86_64 only")
		}
		// getpid through int 0x80: -EPERM under the filter (-ENOSYS where the
		// kernel has no i386 emulation); a pid if foreign calls got through.
		out := runOK(t, e, mainKey, sales, `import ctypes, mmap
code = b'\xb8\x14\x00\x00\x00\xcd\x80\xc3'  # mov eax, 20 (getpid); int 0x80; ret
m = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
print(ctypes.CFUNCTYPE(ctypes.c_int)(addr)())`)
		if out != "-1\n" && out != "-38\n" {
			t.Fatalf("getpid via int 0x80 returned %q, want -1 (EPERM) or -38 (ENOSYS)", out)
		}
	})

	// What the filter must keep working: AF_UNIX sockets, threads (clone3
	// falls back to clone), processes, multiprocessing.
	t.Run("allowed", func(t *testing.T) {
		out := runOK(t, e, mainKey, sales, `import socket, threading, subprocess, multiprocessing as mp
a, b = socket.socketpair()
a.sendall(b'x'); print(b.recv(1))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.close()
got = []
t = threading.Thread(target=lambda: got.append(1)); t.start(); t.join(); print(got)
print(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())
with mp.get_context('fork').Pool(2) as pool:
    print(pool.map(abs, [-1, -2]))
q = mp.get_context('spawn').Queue(); q.put(3); print(q.get())`)
		if want := "b'x'\n[1]\nchild\n[1, 2]\n3\n"; out != want {
			t.Fatalf("stdout %q, want %q", out, want)
		}
	})

	t.Run("the data stack works", func(t *testing.T) {
		out := runOK(t, e, mainKey, sales, `import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.ensemble import RandomForestRegressor
import statsmodels.formula.api as smf
X = np.arange(20, dtype=float).reshape(-1, 1)
y = 2 * X.ravel() + 1
print(round(LinearRegression().fit(X, y).coef_[0], 3))
print(RandomForestRegressor(n_estimators=5, n_jobs=2, random_state=0).fit(X, y).predict(X[:1]).shape)
d = pd.DataFrame({'x': X.ravel(), 'y': y + np.sin(X.ravel())})
print(round(smf.ols('y ~ x', d).fit().params['x'], 1))
fig = px.bar(df, x='region', y='units')
fig.show()
plt.plot([1, 2, 3])
plt.savefig('/tmp/p.png')
print(df.groupby('region').units.sum().shape)`)
		if want := "2.0\n(1,)\n2.0\n(4,)\n"; out != want {
			t.Fatalf("stdout %q, want %q", out, want)
		}
	})

	if got := kernelPID(t, e, mainKey, sales); got != pid {
		t.Fatalf("kernel pid changed %d -> %d: a denied call must not cost a restart", pid, got)
	}
}

// TestSeccompKernel checks the layer that bubblewrap loads, from the host:
// the kernel's processes (the interpreter, its supervisor and the kernel,
// which parses the datasets) run under one filter, its executions under two.
func TestSeccompKernel(t *testing.T) {
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	k := kernelOf(t, e, mainKey, sales)
	if k == nil || k.pid() == 0 {
		t.Fatal("no kernel")
	}
	procs, err := descendants(k.pid())
	if err != nil {
		t.Fatal(err)
	}
	var pythons int
	for _, p := range procs[1:] { // procs[0] is bwrap itself
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue // exited meanwhile (an execution)
		}
		fields := map[string]string{}
		for _, line := range strings.Split(string(status), "\n") {
			if name, v, ok := strings.Cut(line, ":"); ok {
				fields[name] = strings.TrimSpace(v)
			}
		}
		if fields["Seccomp"] != "2" {
			t.Errorf("process %d (%s) of the sandbox runs without a seccomp filter (mode %q)", p, fields["Name"], fields["Seccomp"])
		}
		if n, _ := strconv.Atoi(fields["Seccomp_filters"]); n < 1 {
			t.Errorf("process %d (%s): %q seccomp filters", p, fields["Name"], fields["Seccomp_filters"])
		}
		pythons++
	}
	if pythons < 2 {
		t.Fatalf("%d processes under bwrap %d, want the supervisor and the kernel at least", pythons, k.pid())
	}
	// An execution adds its own layer.
	out := runOK(t, e, mainKey, sales, "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp_filters')])")
	if out != "['2']\n" {
		t.Errorf("an execution's filters: %q, want ['2'] (kernel and execution layers)", out)
	}
}

// TestSeccompFilterProgram checks the assembled programs without a sandbox:
// valid classic BPF, a foreign-architecture check first, and every denied
// call of this architecture present.
func TestSeccompFilterProgram(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Skip(err)
	}
	f, err := buildSeccompFilters()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		prog   []byte
		denied []deniedCall
	}{
		{"kernel", f.kernel, kernelDenied},
		{"execution", f.execution, executionDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.prog) == 0 || len(tt.prog)%8 != 0 {
				t.Fatalf("program of %d bytes", len(tt.prog))
			}
			raw := make([]bpf.RawInstruction, len(tt.prog)/8)
			for i := range raw {
				b := tt.prog[8*i:]
				raw[i] = bpf.RawInstruction{Op: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
			}
			ins, ok := bpf.Disassemble(raw)
			if !ok {
				t.Fatal("the program does not disassemble")
			}
			if la, ok := ins[0].(bpf.LoadAbsolute); !ok || la.Off != 4 {
				t.Fatalf("first instruction %v, want the load of the architecture", ins[0])
			}
			if j, ok := ins[1].(bpf.JumpIf); !ok || j.Val != uint32(info.ID) {
				t.Fatalf("second instruction %v, want the architecture check", ins[1])
			}
			// Each denied call's number is compared somewhere.
			compared := map[uint32]bool{}
			for _, in := range ins {
				if j, ok := in.(bpf.JumpIf); ok {
					compared[j.Val] = true
				}
			}
			for _, d := range tt.denied {
				if nr, ok := info.SyscallNames[d.name]; ok && !compared[uint32(nr)] {
					t.Errorf("%s (%d) is not in the filter", d.name, nr)
				}
			}
		})
	}
}
