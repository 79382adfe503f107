// Package executor runs Python code written by the agents next to a chat's
// datasets, in sandboxed, pooled Python kernels.
//
// # Kernels
//
// A kernel is a long-lived Python process (the package kernel/, embedded in the
// binary and passed to the interpreter on its command line, see pythonArgs)
// that has imported the data stack
// (pandas, numpy, plotly, matplotlib with the Agg backend, openpyxl, xlrd) and
// loaded one chat's datasets as DataFrames: each dataset under its
// Dataset.Name, and the first one also as df. Its scientific part (scipy,
// scikit-learn, statsmodels, seaborn when installed) is imported by the kernel
// once an execution's code names it, before that execution (see the kernel's
// stack module): until then the kernel forks faster and holds less memory. Kernels are keyed by Request.Key and the dataset list (names,
// formats, paths, sizes and modification times), so a chat whose datasets
// change gets a new kernel.
//
// Each execution is an os.fork of the warm kernel: it starts in milliseconds
// from a copy-on-write copy of the data, cannot leave state behind for the next
// execution (variables, modules, files in /tmp), and can be killed alone. The
// child runs the code in a copy of the kernel's globals and captures
//
//   - stdout and stderr (each capped at Config.MaxOutputBytes, cut output ends
//     with "[output truncated]"), including output written by native code;
//   - Plotly figures as JSON: fig.show(), fig.to_html(), fig.write_html(), the
//     plotly.io and plotly.offline equivalents, and figures left in variables
//     without being shown;
//   - matplotlib figures as base64 PNG: plt.show(), savefig, and figures still
//     open at the end;
//   - tables: DataFrames passed to print or display(), and a DataFrame or
//     Series that is the value of the code's last expression (as in a
//     notebook; other last-expression values are printed with repr);
//   - an exception's type, message, line (in the submitted code), traceback,
//     and agent: code may be made of blocks delimited by the lines
//     "# <agent_name> code start" and "# <agent_name> code end", and the error
//     names the block containing the failing line.
//
// # Frames
//
// An execution whose Request.Frame names one of its variables sends back
// that DataFrame (a Series made a one-column frame) instead of its figures,
// tables and files: serialised by the kernel inside the sandbox, as CSV or
// as an Excel workbook (kernel/frames.py), within FrameRequest.MaxBytes and
// the result's budget, text cells that a spreadsheet would run as formulas
// neutralised when asked. A missing variable, another type or a frame too
// large is a Frame with its Problem, not an error.
//
// # Reading datasets
//
// Datasets are parsed only inside the sandbox, by the kernel: CSV with its
// encoding detected (UTF-8 with or without BOM, Windows-1252, ISO-8859-1) and
// its delimiter sniffed, Excel sheets through openpyxl, JSON records. Headers
// are trimmed (and made unique), empty rows and columns dropped, and
// Dataset.Columns, when set, keeps those columns in that order. Profile,
// Preview and Inspect read one file in a fork of a kernel without datasets
// of its own: a profile per column (dtype, nulls, distinct values, range or
// most frequent values), the first rows as text, or, before a file is stored,
// its sheets, encoding, delimiter, headers and first rows.
//
// ProfileParsed also has the reader write the cleaned frame's parsed form
// (kernel/parsed.py: a pickle, protocol 5, of the frame with every column,
// its format and sheet) to a file the caller opened, passed as a
// descriptor and bounded by the reader's file-size limit. A kernel given
// it (Dataset.Parsed) unpickles it in place of parsing the file, checks its
// version, format, sheet and type, applies Dataset.Columns, and reads the
// file instead on any problem. Go only passes descriptors: it never reads
// a parsed form.
//
// # Isolation
//
// With Config.Sandbox, each kernel runs in bubblewrap: all namespaces unshared
// (no network at all, not even the host's loopback), an unprivileged user, a
// read-only /usr and the few files of /etc that the data stack needs, a fresh
// /proc (its sysctls, /proc/sys, read-only; /proc/kcore, kallsyms, keys,
// timer_list, sysrq-trigger and the like masked) and /dev, no /sys, a private
// size-limited /tmp, and an empty environment (no API keys; only PATH,
// HOME=/tmp, MPLBACKEND=Agg, thread counts and the like).
// Nothing else of the host is visible: no /home, /root, /work or data
// directory. Datasets are not mounted either: Go opens each file read-only and
// passes the descriptor over the control socket, so the sandbox sees only the
// contents of its own datasets.
//
// The sandbox's user maps to the host user that starts the kernel: a server
// running as root starts it as Config.HostUser ("nobody" by default, without
// supplementary groups; New refuses uid or gid 0), so that no kernel or
// execution is ever host root; a server that is not root starts it as itself.
// The same holds without Config.Sandbox.
//
// Inside the sandbox the kernel becomes pid 1 of a pid namespace of its own
// and gives every execution a new pid and mount namespace: the execution
// cannot see, signal or trace the kernel (which is also not dumpable), gets an
// empty /tmp of its own, has no capabilities, runs under two seccomp filters
// (seccomp.go: one loaded by bubblewrap for the whole sandbox, one added by
// each execution once its namespaces are set up; denied calls fail with
// EPERM), and runs under resource limits
// (address space: Config.MemoryLimitBytes, CPU time, open files, file size,
// processes where the kernel enforces them). The kernel enforces the wall-time
// limit and kills the execution's whole pid namespace when it ends, times out
// or is canceled; the kernel itself survives whatever the execution does.
//
// Without Config.Sandbox (development only) the same kernel runs directly on
// the host with an empty environment; New logs a warning.
//
// # Pool
//
// At most Config.MaxKernels kernels are kept, holding Config.MemoryBudgetBytes
// together at most; beyond that the least recently used idle kernels are
// closed, and kernels idle for Config.IdleTimeout are
// closed too. A kernel that died is replaced transparently on its next use. A
// warm spare kernel (data stack imported, no datasets) is kept ready and given
// to the next new key, so that a new chat's first execution pays only for
// loading its datasets. One execution runs at a time per kernel; different
// kernels run concurrently, Config.MaxConcurrent at most. Dataset reads
// (Profile, Preview, Inspect) run apart, on Config.ReadConcurrency reader
// kernels without datasets of their own, each read within
// Config.ReadTimeout; a file over the limits on a dataset (its columns, a
// line of a CSV file, the size a workbook inflates to: kernel/limits.py) is
// refused before it is parsed.
//
// # Protocol
//
// Go and a kernel exchange length-prefixed frames (a JSON header and a body)
// on a Unix socket that is fd 3 in the kernel; the kernel's stdout and stderr
// are only logged. Dataset descriptors travel as SCM_RIGHTS with the frame
// that names them. See protocol.go and kernel/protocol.py.
package executor
