"""Auto-Analyst execution kernel: the Python side of package executor.

The Go executor embeds this package (executor/kernel/*.py) and starts it
inside bubblewrap as `python3 -s -B -c <executor/kernel_loader.py> <config
JSON> <module>...`: the loader imports the package from the sources passed on
its command line and runs kernel.kernel.main, with a Unix stream socket on
fd 3 (the control socket). Every frame on that socket, in both directions, is

    u32 header length | header JSON | u32 body length | body bytes

(big-endian lengths). Requests from Go (headers):

    {"op":"load","id":N,"datasets":[{"name","format","sheet"}...]}   + one fd each (SCM_RIGHTS)
    {"op":"exec","id":N,"code":"...","timeout":seconds}
    {"op":"profile","id":N,"dataset":{"name","format","sheet","columns"},"timeout":s} + one fd
    {"op":"preview","id":N,"dataset":{...},"limit":rows,"timeout":s}        + one fd
    {"op":"inspect","id":N,"dataset":{"name","format","sheet"},"timeout":s} + one fd
    {"op":"cancel","id":N}

Replies: {"type":"ready"}, {"type":"loaded","id"}, {"type":"started","id"},
{"type":"result","id","status",...} with the child's JSON result as the body,
{"type":"error","id","message"}, {"type":"fatal","message"}.

Process layout (when user namespaces are available, which they are inside
bubblewrap): the interpreter first moves into a new user, pid and mount
namespace (where it makes /proc/sys and the like read-only) and forks; the
parent stays behind as a tiny supervisor, the child becomes the kernel (pid 1
of its own pid namespace). The kernel imports the data stack,
loads the datasets and then, for each execution, forks a child into a new pid
namespace of its own (so the child cannot see, signal or trace the kernel) and
a new mount namespace (so it gets a private, empty /tmp). The child drops all
capabilities, sets resource limits, runs the code and writes one JSON result to
a pipe. The kernel enforces the wall-time limit, relays stdout and stderr
(capped) and forwards the result to Go. Without user namespaces (development
without bubblewrap on a host that forbids them) the same happens without the
namespaces.

The modules, by concern:

    config      the configuration (argv[1]) and the limits it sets
    util        the kernel's log and small helpers
    libc        the C library (ctypes) and the system calls' constants
    protocol    frames on the control socket; tasks handed to a child
    sandbox     namespaces, /proc, capabilities, seccomp, resource limits
    hugepages   the C heap in transparent huge pages
    stack       the data stack: imports, warm-up, an execution's globals
    capture     an execution's output: stdout/stderr, figures, images, tables
    limits      refusing hostile dataset files before they are parsed
    datasets    reading, sniffing and cleaning dataset files
    errors      describing an execution's error
    tasks       what a child runs: code, dataset profile, preview, inspection
    children    the execution processes: forking, spares, reaping
    child       an execution process's side: its sandbox, then its task
    supervise   watching a running execution: output, result, time limit
    kernel      the kernel: serving Go's requests, loading datasets; main

Only the stack, and so every module that reads a dataset or captures output,
needs the data stack (pandas, numpy, matplotlib, plotly) at run time; see
tests/ for the parts tested without a sandbox.
"""
