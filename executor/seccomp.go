package executor

import (
	"encoding/binary"
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The sandbox's seccomp filters come in two layers, both deny lists that fail
// the call with EPERM (so that Python raises a PermissionError naming the
// call) instead of killing the process:
//
//   - the kernel filter, loaded by bubblewrap before the interpreter starts,
//     holds for the kernel (which parses the untrusted datasets) and every
//     execution forked from it: no tracing or reading other processes'
//     memory, no kernel keyrings, BPF, perf events, userfaultfd, io_uring,
//     modules, kexec or other administration calls, and no sockets but
//     AF_UNIX (no IPv4, IPv6, netlink or packet sockets);
//   - the execution filter, loaded by each execution's process once its
//     sandbox is set up (kernel/child.py: child_main), adds what only the kernel
//     needs: no new namespaces (unshare, setns, clone with CLONE_NEW* flags),
//     no mounts, no chroot or pivot_root. clone3 fails with ENOSYS instead,
//     since its flags cannot be inspected: the C library then falls back to
//     clone, whose flags are checked.
//
// Filters are inherited across fork and exec and cannot be removed, so an
// execution is bound by both.

// deniedCall is a system call the filter refuses, optionally only when its
// arguments match all of when.
type deniedCall struct {
	name string
	when []seccomp.Condition
}

// Constants of the calls whose arguments are checked.
const (
	afUnix = unix.AF_UNIX
	// cloneFlagsArg is the position of clone's flags (first on x86_64 and
	// arm64).
	cloneFlagsArg = 0
	// cloneNamespaces are the flags of clone that create namespaces.
	cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
)

// kernelDenied is the kernel filter's list.
var kernelDenied = []deniedCall{
	// Other processes: tracing, reading and writing their memory.
	{name: "ptrace"}, {name: "process_vm_readv"}, {name: "process_vm_writev"}, {name: "kcmp"},
	// Kernel interfaces with a history of privilege escalations.
	{name: "keyctl"}, {name: "add_key"}, {name: "request_key"},
	{name: "bpf"}, {name: "perf_event_open"}, {name: "userfaultfd"},
	{name: "io_uring_setup"}, {name: "io_uring_enter"}, {name: "io_uring_register"},
	// Administration.
	{name: "kexec_load"}, {name: "kexec_file_load"},
	{name: "init_module"}, {name: "finit_module"}, {name: "delete_module"},
	{name: "reboot"}, {name: "swapon"}, {name: "swapoff"}, {name: "acct"}, {name: "syslog"},
	{name: "quotactl"}, {name: "quotactl_fd"}, {name: "uselib"}, {name: "fanotify_init"},
	{name: "open_by_handle_at"}, {name: "name_to_handle_at"},
	{name: "iopl"}, {name: "ioperm"}, {name: "vhangup"},
	// Sockets: only AF_UNIX (the control socket, socketpair, multiprocessing).
	{name: "socket", when: []seccomp.Condition{{Argument: 0, Operation: seccomp.NotEqual, Value: afUnix}}},
}

// executionDenied is the execution filter's list (the kernel filter's holds
// too, inherited).
var executionDenied = []deniedCall{
	{name: "unshare"}, {name: "setns"},
	{name: "clone", when: []seccomp.Condition{{Argument: cloneFlagsArg, Operation: seccomp.BitsSet, Value: cloneNamespaces}}},
	{name: "mount"}, {name: "umount"}, {name: "umount2"}, {name: "pivot_root"}, {name: "chroot"},
	{name: "fsopen"}, {name: "fsconfig"}, {name: "fsmount"}, {name: "fspick"},
	{name: "move_mount"}, {name: "open_tree"}, {name: "open_tree_attr"}, {name: "mount_setattr"},
}

// executionENOSYS are calls the execution filter answers with ENOSYS, so that
// the C library falls back to a call the filter can inspect.
var executionENOSYS = []string{"clone3"}

// seccompFilter assembles a deny list into a classic BPF program for the
// machine's architecture, in the kernel's binary format (struct sock_filter:
// u16 code, u8 jt, u8 jf, u32 k, in native byte order), as bubblewrap's
// --seccomp and prctl(PR_SET_SECCOMP) take it. Calls that do not exist on the
// architecture are left out; calls made through another ABI than the native
// one (i386 or x32 on x86_64) fail.
func seccompFilter(denied []deniedCall, enosys []string) ([]byte, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	eperm := seccomp.SyscallGroup{Action: seccomp.ActionErrno}
	for _, d := range denied {
		if _, ok := info.SyscallNames[d.name]; !ok {
			continue
		}
		if d.when == nil {
			eperm.Names = append(eperm.Names, d.name)
		} else {
			eperm.NamesWithCondtions = append(eperm.NamesWithCondtions,
				seccomp.NameWithConditions{Name: d.name, Conditions: d.when})
		}
	}
	policy := seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: []seccomp.SyscallGroup{eperm}}
	if names := existing(info, enosys); len(names) > 0 {
		policy.Syscalls = append(policy.Syscalls, seccomp.SyscallGroup{
			Names:  names,
			Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS),
		})
	}
	prog, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: assembling the filter: %w", err)
	}
	// The library lets calls of a foreign architecture through to the default
	// action (allow): refuse them first. (On x86_64, a program can make i386
	// system calls with int 0x80, which a list of x86_64 numbers would not
	// match.)
	archCheck := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	raw, err := bpf.Assemble(append(archCheck, prog...))
	if err != nil {
		return nil, fmt.Errorf("seccomp: encoding the filter: %w", err)
	}
	if len(raw) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: filter of %d instructions exceeds %d", len(raw), unix.BPF_MAXINSNS)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, ins := range raw {
		out = binary.NativeEndian.AppendUint16(out, ins.Op)
		out = append(out, ins.Jt, ins.Jf)
		out = binary.NativeEndian.AppendUint32(out, ins.K)
	}
	return out, nil
}

func existing(info *arch.Info, names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := info.SyscallNames[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// seccompFilters are the two assembled filters of a sandbox.
type seccompFilters struct {
	kernel    []byte // for bubblewrap's --seccomp
	execution []byte // for kernel/child.py, loaded in each execution
}

// buildSeccompFilters assembles both layers.
func buildSeccompFilters() (*seccompFilters, error) {
	k, err := seccompFilter(kernelDenied, nil)
	if err != nil {
		return nil, fmt.Errorf("kernel filter: %w", err)
	}
	x, err := seccompFilter(executionDenied, executionENOSYS)
	if err != nil {
		return nil, fmt.Errorf("execution filter: %w", err)
	}
	return &seccompFilters{kernel: k, execution: x}, nil
}
