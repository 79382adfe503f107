# Auto-Analyst execution kernel: the Python side of package executor.
#
# The Go executor starts this file as `python3 -s -B -c <source> <config JSON>`,
# inside bubblewrap, with a Unix stream socket on fd 3 (the control socket).
# Every frame on that socket, in both directions, is
#
#     u32 header length | header JSON | u32 body length | body bytes
#
# (big-endian lengths). Requests from Go (headers):
#
#     {"op":"load","id":N,"datasets":[{"name","format","sheet"}...]}   + one fd each (SCM_RIGHTS)
#     {"op":"exec","id":N,"code":"...","timeout":seconds}
#     {"op":"profile","id":N,"dataset":{"name","format","sheet","columns"},"timeout":s} + one fd
#     {"op":"preview","id":N,"dataset":{...},"limit":rows,"timeout":s}        + one fd
#     {"op":"inspect","id":N,"dataset":{"name","format","sheet"},"timeout":s} + one fd
#     {"op":"cancel","id":N}
#
# Replies: {"type":"ready"}, {"type":"loaded","id"}, {"type":"started","id"},
# {"type":"result","id","status",...} with the child's JSON result as the body,
# {"type":"error","id","message"}, {"type":"fatal","message"}.
#
# Process layout (when user namespaces are available, which they are inside
# bubblewrap): the interpreter first moves into a new user, pid and mount
# namespace (where it makes /proc/sys and the like read-only) and forks; the
# parent stays behind as a tiny supervisor, the child becomes the kernel (pid 1
# of its own pid namespace). The kernel imports the data stack,
# loads the datasets and then, for each execution, forks a child into a new pid
# namespace of its own (so the child cannot see, signal or trace the kernel) and
# a new mount namespace (so it gets a private, empty /tmp). The child drops all
# capabilities, sets resource limits, runs the code and writes one JSON result to
# a pipe. The kernel enforces the wall-time limit, relays stdout and stderr
# (capped) and forwards the result to Go. Without user namespaces (development
# without bubblewrap on a host that forbids them) the same happens without the
# namespaces.

import sys

if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]  # the current directory: nothing is imported from it

import ast
import base64
import builtins
import collections
import csv
import ctypes
import errno
import gc
import io
import json
import keyword
import linecache
import math
import os
import queue
import re
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback

CONFIG = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
CTRL_FD = 3
MEMORY = int(CONFIG.get("memory") or 0)  # RLIMIT_AS of the kernel and its executions
TMP_SIZE = int(CONFIG.get("tmp_size") or (64 << 20))
MAX_OUTPUT = int(CONFIG.get("max_output") or (1 << 20))  # per stream
MAX_RESULT = int(CONFIG.get("max_result") or (64 << 20))  # figures, images, tables
NOFILE = int(CONFIG.get("nofile") or 1024)
NPROC = int(CONFIG.get("nproc") or 256)
# Children forked ahead of time, waiting for an execution; how long a load,
# or the execution after one that ended without its result, waits for the
# processes of ended executions to be gone; and how long the kernel must have
# been idle before it forks a spare (see Kernel.serve).
SPARES = 2
REAP_WAIT = 2.0
IDLE_BEFORE_FORK = 0.002
# The execution seccomp filter (classic BPF, struct sock_filter[]), assembled by
# the Go side (seccomp.go); each execution loads it once its sandbox is set up.
SECCOMP_FILTER = base64.b64decode(CONFIG["seccomp"]) if CONFIG.get("seccomp") else b""
MAX_FIGURES = 50
MAX_IMAGES = 50
MAX_TABLES = 20
MAX_TABLE_ROWS = 200
MAX_TABLE_COLS = 100
MAX_MESSAGE = 10000
MAX_TRACEBACK = 50000
CODE_FILE = "<code>"

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_RELATIME = 1 << 21
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.malloc.restype = ctypes.c_void_p
_libc.free.argtypes = [ctypes.c_void_p]
_libc.sbrk.argtypes = [ctypes.c_ssize_t]
_libc.sbrk.restype = ctypes.c_void_p
MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE_PAGE = 2 << 20
# What one MADV_COLLAPSE covers, between two looks at the connection, and how
# long the kernel must have been idle before it collapses (Kernel.collapse_heap).
COLLAPSE_STEP = HUGE_PAGE
IDLE_BEFORE_COLLAPSE = 0.05
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
# The heap's growth ahead of the imports and the load (see "Huge pages"): a
# quarter of the address-space limit at most, as it counts in it until the
# load is over.
HEAP_RESERVE = min(512 << 20, MEMORY // 4) if MEMORY > 0 else 512 << 20
# Python's objects are in the C heap (kernelEnv sets it; see "Huge pages").
C_HEAP = os.environ.get("PYTHONMALLOC") == "malloc"


def log(*args):
    try:
        print("kernel:", *args, file=sys.__stderr__, flush=True)
    except Exception:
        pass


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def human_bytes(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return ("%d %s" % (n, unit)) if n == int(n) else ("%.1f %s" % (n, unit))
        n /= 1024


# ---------------------------------------------------------------------------
# Namespaces


def enter_namespaces():
    """Moves into a new user, pid and mount namespace; returns True in the kernel.

    The calling process forks: the parent waits for the kernel and exits with its
    status; the child returns True and continues as the kernel, pid 1 of a pid
    namespace whose user namespace it owns, so that it may later give each
    execution a pid and mount namespace of its own. Returns False (without
    forking) when namespaces are not available.
    """
    uid, gid = os.getuid(), os.getgid()
    try:
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS), "unshare(user, pid, mount)")
    except OSError as e:
        log("no namespaces for executions (%s); executions are not isolated from the kernel" % e)
        return False
    try:
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", "%d %d 1\n" % (uid, uid))
        _write_file("/proc/self/gid_map", "%d %d 1\n" % (gid, gid))
    except OSError as e:
        fatal_early("cannot map ids in the new user namespace: %s" % e)
    try:
        proc_read_only()
    except OSError as e:
        fatal_early("cannot make /proc read-only: %s" % e)
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid != 0:
        # Supervisor: keep the liveness pipe open, wait for the kernel.
        os.close(alive_r)
        try:
            os.close(CTRL_FD)
        except OSError:
            pass
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    os.close(alive_w)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    r, _, _ = select.select([alive_r], [], [], 0)
    if r:  # the supervisor died before PDEATHSIG was armed
        os._exit(1)
    os.close(alive_r)
    return True


def proc_read_only():
    """Makes what /proc has of the host's knobs read-only (as runc does) in the
    kernel's mount namespace, which every execution inherits: sysctls (a global
    one written there would change the host's), file systems, buses and
    interrupts. Bound onto themselves, so the sysctls stay readable.
    Bubblewrap masks the rest (sandbox.go: procMasks)."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    for path in (b"/proc/sys", b"/proc/fs", b"/proc/bus", b"/proc/irq"):
        if os.path.isdir(path):
            _check(_libc.mount(path, path, None, MS_BIND | MS_REC, None), "bind %s" % path.decode())
            # A remount must keep the flags locked by a more privileged
            # namespace (ST_NOATIME and ST_NODIRATIME are MS_ bits too).
            had = os.statvfs(path).f_flag
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | (had & (1024 | 2048))
            flags |= MS_RELATIME if had & 4096 else 0  # ST_RELATIME
            _check(_libc.mount(None, path, None, flags, None), "remount %s read-only" % path.decode())


def fatal_early(message):
    try:
        send_frame_fd(CTRL_FD, {"type": "fatal", "message": message})
    finally:
        os._exit(1)


def send_frame_fd(fd, header, body=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    data = struct.pack(">I", len(h)) + h + struct.pack(">I", len(body)) + body
    while data:
        n = os.write(fd, data)
        data = data[n:]


def sandbox_child():
    """Gives an execution a private /tmp and /dev/shm and drops its capabilities."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(mount)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    opts = ("size=%d,mode=1777" % TMP_SIZE).encode()
    _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, opts), "mount /tmp")
    # POSIX shared memory and semaphores (multiprocessing) live in /dev/shm,
    # which is read-only in the sandbox: give the execution a private one.
    if os.path.isdir("/dev/shm"):
        _check(_libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, opts), "mount /dev/shm")
    drop_capabilities()


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


# ---------------------------------------------------------------------------
# Huge pages
#
# Every execution is a fork of the kernel, and a fork copies the page tables
# of the kernel's memory; the execution's exit tears its copy down. With 4 KiB
# pages the ~200 MB of a loaded kernel are ~50,000 entries each way, most of
# an execution's cost; with 2 MiB pages they are a few hundred. The kernel
# runs with PYTHONMALLOC=malloc, so that Python's objects live in the C heap
# (pymalloc's 1 MiB arenas cannot hold a huge page), and advises that heap to
# use transparent huge pages.
#
# A huge page stays whole only while the kernel does not write to it: the
# kernel always has children (the spares), so a write copies the 4 KiB page
# written to and splits the huge page into small ones. Reference
# counts make writes to the objects the serve loop uses unavoidable, but its
# allocations need not fall all over the heap: the loop runs in a thread,
# whose malloc arena is apart from the main heap, and the main thread, idle
# otherwise, reads the datasets into the main heap. Measured on 2 cores: 100
# to 150 of a kernel's 200 MB stay in huge pages (65 MB when the loop ran in
# the main thread); back-to-back executions went from 16-18 ms to 8-10 ms.
# A kernel forks no spares before its chat's first load or task: a fresh
# kernel has all of its 178 MB in huge pages, and every fork until the load
# costs some (the executor's self-test, one fork, costs the first kernel 42 MB
# of them). What the kernel's writes split, it collapses back into huge pages
# once it is idle (Kernel.collapse_heap): a loaded kernel's 4 KiB pages go
# from 60-87 MB to 20 MB, and 40-50 MB after a few hundred executions back to
# back; executions back to back cost about a tenth less.
#
# What a load allocates beyond the reserve (a dataset of several hundred MB)
# gets small pages. Best effort: without THP the kernel keeps small pages and
# works the same.


def reserve_huge_heap():
    """Grows the C heap by HEAP_RESERVE at once and advises huge pages for it.

    The heap grows by brk, and each growth is a new mapping without the
    advice, so the heap is grown once, ahead, by a large pad: what the imports
    and the datasets then allocate is backed by huge pages as it is touched.
    (glibc's glibc.malloc.hugetlb tunable does this on every growth, but it
    needs /sys/kernel/mm/transparent_hugepage, which the sandbox does not
    show.) release_heap_reserve undoes the pad once the kernel is loaded.
    """
    if not C_HEAP:
        return
    _libc.mallopt(M_TRIM_THRESHOLD, 2 * HEAP_RESERVE)
    _libc.mallopt(M_TOP_PAD, HEAP_RESERVE)
    start = _libc.sbrk(0)
    global _huge_heap_from
    _huge_heap_from = (start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
    held = []
    # Allocate until the heap grows (its top may have room left); each block
    # is below the mmap threshold, so it comes from the heap.
    while _libc.sbrk(0) == start and len(held) < 64:
        held.append(_libc.malloc(96 << 10))
    for p in held:
        _libc.free(p)
    advise_heap()


_huge_heap_from = 0  # where the reserve begins (reserve_huge_heap); 0: none


def heap_mappings():
    """Returns the (start, end) addresses of the C heap's mappings."""
    ranges = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if line.rstrip().endswith("[heap]"):
                    start, end = (int(x, 16) for x in line.split()[0].split("-"))
                    ranges.append((start, end))
    except OSError:
        pass
    return ranges


def huge_heap_steps():
    """Returns the huge-page-aligned ranges of the heap from the reserve on,
    COLLAPSE_STEP long at most: what Kernel.collapse_heap goes over."""
    steps = []
    for start, end in heap_mappings():
        start = (max(start, _huge_heap_from) + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
        end &= ~(HUGE_PAGE - 1)
        steps.extend((a, min(a + COLLAPSE_STEP, end)) for a in range(start, end, COLLAPSE_STEP))
    return steps


def own_memory():
    """Returns the kernel's anonymous memory in bytes (what it holds of its
    own, the data stack's objects and the datasets), or 0 when unknown."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        pass
    return 0


def release_heap_reserve():
    """Restores glibc's default heap growth and gives the untouched rest of
    the reserve back, so that it no longer counts in the address-space limit.
    Called on the main thread, whose arena is the heap."""
    if not C_HEAP:
        return
    _libc.mallopt(M_TOP_PAD, 128 << 10)
    _libc.mallopt(M_TRIM_THRESHOLD, 128 << 10)
    # Freeing a block of 64 KiB or more makes glibc trim the top of the heap
    # (the untouched rest of the reserve) when it exceeds the threshold.
    _libc.free(_libc.malloc(96 << 10))


def advise_heap():
    """Advises transparent huge pages for the whole C heap."""
    for start, end in heap_mappings():
        _libc.madvise(start, end - start, MADV_HUGEPAGE)


def drop_capabilities():
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SeccompFilter:
    """A seccomp filter ready to load (prepared in the kernel, loaded in children)."""

    def __init__(self, program):
        if len(program) % 8 or not program:
            raise ValueError("seccomp filter of %d bytes is not a sock_filter array" % len(program))
        self.buf = ctypes.create_string_buffer(program, len(program))
        self.prog = _SockFprog(len(program) // 8, ctypes.addressof(self.buf))

    def load(self):
        """Sets no_new_privs and loads the filter into the calling process."""
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self.prog), 0, 0), "load the seccomp filter")


def seccomp_mode():
    """The Seccomp field of /proc/self/status: 0 none, 1 strict, 2 filter."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Seccomp:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# ---------------------------------------------------------------------------
# Control connection


class Conn:
    """Frames over the control socket, with file descriptors passed alongside."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.buf = bytearray()
        self.fds = collections.deque()
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def fill(self):
        """Reads what is available (blocks until something is)."""
        while True:
            try:
                data, anc, flags, _ = self.sock.recvmsg(1 << 16, socket.CMSG_SPACE(64 * 4))
                break
            except InterruptedError:
                continue
        for level, typ, payload in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                n = len(payload) - len(payload) % 4
                self.fds.extend(struct.unpack("%di" % (n // 4), payload[:n]))
        if not data:
            self.eof = True
        self.buf += data

    def next_frame(self):
        buf = self.buf
        if len(buf) < 4:
            return None
        hl = struct.unpack_from(">I", buf)[0]
        if hl > (256 << 20):
            raise ValueError("frame header too large")
        if len(buf) < 8 + hl:
            return None
        bl = struct.unpack_from(">I", buf, 4 + hl)[0]
        end = 8 + hl + bl
        if len(buf) < end:
            return None
        header = json.loads(bytes(buf[4:4 + hl]))
        body = bytes(buf[8 + hl:end])
        del buf[:end]
        return header, body

    def read_frame(self):
        while True:
            f = self.next_frame()
            if f is not None:
                return f
            if self.eof:
                raise EOFError
            self.fill()

    def take_fds(self, n):
        if len(self.fds) < n:
            raise ValueError("expected %d file descriptors, got %d" % (n, len(self.fds)))
        return [self.fds.popleft() for _ in range(n)]

    def close_stray_fds(self):
        while self.fds:
            try:
                os.close(self.fds.popleft())
            except OSError:
                pass

    def send(self, header, body=b""):
        h = json.dumps(header, separators=(",", ":")).encode()
        self.sock.sendall(struct.pack(">I", len(h)) + h + struct.pack(">I", len(body)))
        if body:
            self.sock.sendall(body)


# ---------------------------------------------------------------------------
# Data stack

M = {}  # module name -> module, filled by import_stack
BASE = {}  # the globals every execution starts from
_capture = None  # the current execution's Capture (only ever set in a child)


def import_stack():
    import warnings

    import numpy as np
    import pandas as pd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure
    import matplotlib.pyplot as plt
    import plotly
    import plotly.basedatatypes
    import plotly.express as px
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.subplots import make_subplots
    import scipy
    import scipy.stats as stats
    import sklearn
    import sklearn.cluster
    import sklearn.decomposition
    import sklearn.ensemble
    import sklearn.impute
    import sklearn.linear_model
    import sklearn.metrics
    import sklearn.model_selection
    import sklearn.pipeline
    import sklearn.preprocessing
    import sklearn.tree
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    import openpyxl  # noqa: F401  (Excel datasets)

    try:
        import seaborn as sns
    except Exception:
        sns = None

    M.update(np=np, pd=pd, plt=plt, matplotlib=matplotlib, px=px, go=go, pio=pio, plotly=plotly,
             BaseFigure=plotly.basedatatypes.BaseFigure)
    patch_plotly(pio, plotly.basedatatypes.BaseFigure)
    patch_matplotlib(plt, matplotlib.figure.Figure)
    pd.set_option("display.max_columns", 50)
    pd.set_option("display.width", 250)
    warnings.filterwarnings("ignore", message=".*non-interactive.*")

    BASE.update(
        __name__="__main__",
        __builtins__=builtins,
        pd=pd,
        np=np,
        px=px,
        go=go,
        pio=pio,
        plt=plt,
        matplotlib=matplotlib,
        make_subplots=make_subplots,
        scipy=scipy,
        stats=stats,
        sklearn=sklearn,
        sm=sm,
        smf=smf,
    )
    if sns is not None:
        BASE["sns"] = sns
    warm_up()


def warm_up():
    """Exercises lazily loaded code paths once, so that forks do not pay for them."""
    import warnings

    pd, px, plt = M["pd"], M["px"], M["plt"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _warm_up(pd, px, plt)


def _warm_up(pd, px, plt):
    try:
        frame = pd.DataFrame({"a": [1.0, 2.0, None], "b": ["x", "y", "z"], "c": pd.to_datetime(["2024-01-01"] * 3)})
        frame.describe(include="all")
        frame.to_json(orient="values", date_format="iso")
        repr(frame)
        frame.groupby("b").a.mean()
        px.bar(frame, x="b", y="a").to_json()
        px.scatter(frame, x="a", y="a", color="b").to_json()
        px.line(frame, x="c", y="a").to_json()
        px.histogram(frame, x="a").to_json()
        fig = plt.figure()
        plt.plot([1, 2], [3, 4])
        fig.savefig(io.BytesIO(), format="png")
        plt.close("all")
    except Exception as e:
        log("warm-up failed: %r" % e)


def patch_plotly(pio, BaseFigure):
    orig_to_html = pio.to_html
    orig_write_html = pio.write_html

    def show(fig, *args, **kwargs):
        if _capture is not None:
            _capture.add_figure(fig)

    def to_html(fig, *args, **kwargs):
        if _capture is not None:
            _capture.add_figure(fig)
        return orig_to_html(fig, *args, **kwargs)

    def write_html(fig, *args, **kwargs):
        if _capture is not None:
            _capture.add_figure(fig)
        kwargs["auto_open"] = False
        return orig_write_html(fig, *args, **kwargs)

    pio.show = show
    pio.to_html = to_html
    pio.write_html = write_html


def patch_matplotlib(plt, Figure):
    orig_savefig = Figure.savefig
    M["savefig"] = orig_savefig

    def plt_show(*args, **kwargs):
        if _capture is not None:
            _capture.add_open_mpl(close=True)

    def fig_show(self, *args, **kwargs):
        if _capture is not None:
            _capture.add_mpl(self)

    def savefig(self, *args, **kwargs):
        result = orig_savefig(self, *args, **kwargs)
        if _capture is not None:
            _capture.add_mpl(self)
        return result

    plt.show = plt_show
    Figure.show = fig_show
    Figure.savefig = savefig


# ---------------------------------------------------------------------------
# Datasets


RESERVED = {"df", "pd", "np", "px", "go", "pio", "plt", "matplotlib", "make_subplots", "scipy", "stats",
            "sklearn", "sm", "smf", "sns", "display", "print"}


def check_name(name, first):
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__"):
        raise ValueError("invalid dataset name %r" % (name,))
    if name in RESERVED and not (name == "df" and first):
        raise ValueError("dataset name %r is reserved" % name)
    if hasattr(builtins, name):
        raise ValueError("dataset name %r would hide the Python built-in of that name" % name)


def read_dataset(fd, fmt, sheet, columns=None):
    """Reads a dataset file into a cleaned DataFrame (see clean_frame).

    columns, when given, are the columns to keep, in that order (those the
    dataset was stored with); when one of them is missing the list is out of
    date and every column is kept.
    """
    pd = M["pd"]
    with os.fdopen(fd, "rb", closefd=True) as f:
        fmt = (fmt or "").lower()
        if fmt == "csv":
            frame = read_csv(f)
        elif fmt == "xlsx":
            frame = pd.read_excel(f, sheet_name=sheet if sheet else 0, engine="openpyxl")
        elif fmt == "json":
            frame = read_json(f)
        else:
            raise ValueError("unsupported dataset format %r" % fmt)
    frame = clean_frame(frame)
    if columns:
        if all(c in frame.columns for c in columns):
            frame = frame[list(columns)]
        else:
            log("stored columns no longer match the file; keeping every column")
    return frame


def clean_frame(frame):
    """Trims the headers (made unique), drops empty rows and columns."""
    names, seen = [], set()
    for c in frame.columns:
        name = c.strip() if isinstance(c, str) else c
        if isinstance(name, str) and name == "":
            name = "column"
        base, n = name, 1
        while name in seen:
            n += 1
            name = "%s_%d" % (base, n)
        seen.add(name)
        names.append(name)
    frame.columns = names
    empty = frame.isna()
    obj = frame.select_dtypes(include=["object"]).columns
    for c in obj:
        try:
            # Cells of blanks are empty too (non-strings give NaN, not equal).
            empty[c] = empty[c] | frame[c].str.strip().eq("")
        except (AttributeError, TypeError):
            pass  # no strings in the column
    drop_rows = empty.all(axis=1)
    # Columns are empty when all their cells are; without rows (a file of
    # headers only), they are kept.
    keep_cols = ~empty.all(axis=0).values if len(frame) else [True] * frame.shape[1]
    frame = frame.loc[~drop_rows, keep_cols]
    if drop_rows.any():
        frame = restore_integers(frame.copy())
    return frame.reset_index(drop=True)


def restore_integers(frame):
    """Gives back their integer type to the columns that empty rows made float.

    pandas reads a column of integers with an empty row as float (the row's
    NaN); once that row is dropped, a float column without a missing value
    whose values are all whole numbers is integer again.
    """
    np = M["np"]
    for c in frame.columns:
        col = frame[c]
        if col.dtype.kind != "f" or len(col) == 0 or col.isna().any():
            continue
        values = col.to_numpy()
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)) and np.all(np.abs(values) < 2 ** 53):
            frame[c] = col.astype("int64")
    return frame


BINARY_CONTROL = set(range(0, 32)) - {9, 10, 12, 13}


def check_text(head):
    """Refuses bytes that are not text (NUL bytes, control characters)."""
    if not head:
        return
    bad = sum(1 for b in head if b in BINARY_CONTROL)
    if bad > max(2, len(head) // 100):
        raise ValueError("the file is binary, not text")


def detect_encoding(head):
    """The encoding of a text file: UTF-8 (with or without BOM), else a one-byte code page."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if len(head) - e.start < 4 and e.reason == "unexpected end of data":
            return "utf-8"  # a character cut by the end of the sample
    # Windows-1252 uses 0x80-0x9F for printable characters (the euro sign,
    # quotes); ISO-8859-1 has control characters there.
    if any(0x80 <= b <= 0x9F for b in head):
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "latin-1"


def read_csv(f):
    pd = M["pd"]
    head = f.read(65536)
    check_text(head)
    enc = detect_encoding(head)
    sep = sniff_delimiter(head)
    last = None
    for e in [enc] + [x for x in ("utf-8", "latin-1") if x != enc]:
        f.seek(0)
        try:
            return pd.read_csv(f, sep=sep, encoding=e, low_memory=False)
        except UnicodeDecodeError as err:
            last = err
    raise last


def sniff_delimiter(head):
    text = head.decode("latin-1")
    if len(head) == 65536 and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_json(f):
    pd = M["pd"]
    raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            return pd.read_json(io.StringIO(text), orient="records")
        return pd.read_json(io.StringIO(text))
    except ValueError:
        return pd.read_json(io.StringIO(text), lines=True)


# ---------------------------------------------------------------------------
# Capture of an execution's output (used in the child only)


class CapWriter(io.TextIOBase):
    """sys.stdout / sys.stderr of an execution: line-buffered, capped."""

    def __init__(self, fd, cap):
        self.fd = fd
        self.cap = cap
        self.n = 0
        self.truncated = False
        self.pending = []
        self.pending_len = 0

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self.fd

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if self.truncated or not s:
            return len(s)
        b = s.encode("utf-8", "replace")
        room = self.cap - self.n
        if len(b) > room:
            b = b[:room]
            self.truncated = True
        self.n += len(b)
        self.pending.append(b)
        self.pending_len += len(b)
        if "\n" in s or self.pending_len >= 8192 or self.truncated:
            self.flush()
        return len(s)

    def flush(self):
        if not self.pending:
            return
        data = b"".join(self.pending)
        self.pending = []
        self.pending_len = 0
        write_all(self.fd, data)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return
        view = view[n:]


class Capture:
    """Figures, images and tables produced by one execution."""

    def __init__(self):
        self.figures = []  # JSON documents (bytes)
        self.figure_keys = set()
        self.figure_bytes = 0
        self.shown = set()  # ids of Plotly figures shown or exported
        self.images = []
        self.mpl_done = set()
        self.keep = []  # keeps captured objects alive so that ids stay unique
        self.tables = []
        self.notes = []

    def add_figure(self, fig):
        pio = M["pio"]
        self.keep.append(fig)
        self.shown.add(id(fig))
        if len(self.figures) >= MAX_FIGURES:
            self.note("more than %d figures; the rest were dropped" % MAX_FIGURES)
            return
        doc = pio.to_json(fig, validate=False).encode()
        if doc in self.figure_keys:
            return
        if self.figure_bytes + len(doc) > MAX_RESULT // 2:
            self.note("a figure was dropped: figures exceed %s" % human_bytes(MAX_RESULT // 2))
            return
        self.figure_keys.add(doc)
        self.figure_bytes += len(doc)
        self.figures.append(doc)

    def add_mpl(self, fig):
        if id(fig) in self.mpl_done:
            return
        self.mpl_done.add(id(fig))
        self.keep.append(fig)
        if len(self.images) >= MAX_IMAGES:
            self.note("more than %d images; the rest were dropped" % MAX_IMAGES)
            return
        buf = io.BytesIO()
        M["savefig"](fig, buf, format="png", dpi=100, bbox_inches="tight")
        self.images.append(base64.b64encode(buf.getvalue()).decode("ascii"))

    def add_open_mpl(self, close):
        plt = M["plt"]
        for num in plt.get_fignums():
            self.add_mpl(plt.figure(num))
        if close:
            plt.close("all")

    def add_table(self, obj):
        if len(self.tables) >= MAX_TABLES:
            self.note("more than %d tables; the rest were dropped" % MAX_TABLES)
            return
        self.tables.append(to_table(obj))

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)
            print("[executor] " + text, file=sys.stderr)

    def display(self, *objs, **_):
        """Shows objects the way a notebook would: tables, figures, images, repr."""
        for obj in objs:
            self.show_value(obj, explicit=True)

    def show_value(self, value, explicit=False):
        pd = M["pd"]
        if value is None:
            return
        if isinstance(value, (pd.DataFrame, pd.Series)):
            self.add_table(value)
        elif type(value).__name__ == "Styler" and hasattr(value, "data"):
            self.add_table(value.data)
        elif is_plotly_figure(value):
            self.add_figure(value)
        elif type(value).__module__.startswith("matplotlib.figure"):
            self.add_mpl(value)
        elif not explicit and type(value).__module__.startswith("matplotlib"):
            pass  # e.g. the list of Line2D that plt.plot returns
        else:
            print(repr(value))

    def make_print(self):
        pd = M["pd"]
        real_print = builtins.print

        def print_(*args, **kwargs):
            real_print(*args, **kwargs)
            f = kwargs.get("file")
            if f is None or f is sys.stdout:
                for a in args:
                    if isinstance(a, pd.DataFrame):
                        self.add_table(a)

        print_.__doc__ = real_print.__doc__
        return print_

    def add_leftovers(self, ns):
        """Captures Plotly figures left in variables and matplotlib figures left open."""
        base_ids = {id(v) for v in BASE.values()}
        for value in list(ns.values()):
            if is_plotly_figure(value) and id(value) not in self.shown and id(value) not in base_ids:
                try:
                    if len(value.data) > 0:
                        self.add_figure(value)
                except Exception as e:
                    self.note("a figure could not be captured: %r" % e)
        self.add_open_mpl(close=False)


def is_plotly_figure(value):
    base = M.get("BaseFigure")
    return base is not None and isinstance(value, base)


def to_table(obj):
    pd = M["pd"]
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    frame = obj
    truncated = False
    if len(frame) > MAX_TABLE_ROWS:
        frame = frame.head(MAX_TABLE_ROWS)
        truncated = True
    if frame.shape[1] > MAX_TABLE_COLS:
        frame = frame.iloc[:, :MAX_TABLE_COLS]
        truncated = True
    idx = frame.index
    if not (isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1):
        try:
            frame = frame.reset_index()
        except ValueError:
            frame = frame.copy()
            frame.insert(0, "(index)", [str(i) for i in idx])
    columns = [" / ".join(str(p) for p in c) if isinstance(c, tuple) else str(c) for c in frame.columns]
    try:
        rows = json.loads(frame.to_json(orient="values", date_format="iso", default_handler=str))
    except Exception:
        rows = [[str(v) for v in row] for row in frame.astype(str).values.tolist()]
    table = {"columns": columns, "rows": rows}
    if truncated:
        table["truncated"] = True
    return table


# ---------------------------------------------------------------------------
# Errors


BLOCK_START = re.compile(r"^\s*#\s*(.+?)\s+code\s+start\s*$", re.IGNORECASE)
BLOCK_END = re.compile(r"^\s*#\s*(.+?)\s+code\s+end\s*$", re.IGNORECASE)


def agent_blocks(code):
    """Returns [(agent, first line, last line)] for `# <agent> code start/end` blocks."""
    blocks = []
    current = None
    lines = code.splitlines()
    for i, line in enumerate(lines, 1):
        m = BLOCK_START.match(line)
        if m:
            if current is not None:
                blocks.append((current[0], current[1], i - 1))
            current = (m.group(1).strip(), i)
            continue
        m = BLOCK_END.match(line)
        if m and current is not None:
            blocks.append((current[0], current[1], i))
            current = None
    if current is not None:
        blocks.append((current[0], current[1], len(lines)))
    return blocks


def agent_for_line(code, line):
    if not line:
        return ""
    for agent, first, last in agent_blocks(code):
        if first <= line <= last:
            return agent
    return ""


def limit_reached(e):
    """Names the limit of the sandbox that error e comes from, or "": the
    memory limit, the process limit (processes and threads count alike), or
    the size of /tmp (which is also the largest file an execution can write)."""
    if isinstance(e, MemoryError):
        return "the memory limit of %s" % human_bytes(MEMORY) if MEMORY else "the available memory"
    process_limit = "its limit of %d processes and threads, or its memory limit" % NPROC
    if isinstance(e, RuntimeError) and "can't start new thread" in str(e):
        return process_limit
    if isinstance(e, OSError):
        if e.errno == errno.EAGAIN and e.filename is None and starts_process(e):
            return process_limit
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return "the %s limit of /tmp and of any file it writes" % human_bytes(TMP_SIZE)
    return ""


def starts_process(e):
    """Whether error e was raised where a process is started: os.fork in the
    code, or subprocess and multiprocessing (EAGAIN means something else on
    non-blocking I/O)."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    if code.co_name in ("_execute_child", "_launch", "_Popen"):
        return True
    return "fork" in linecache.getline(code.co_filename, tb.tb_lineno)


def describe_error(e, code):
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != CODE_FILE:
        tb = tb.tb_next
    line = 0
    t = tb
    while t is not None:
        if t.tb_frame.f_code.co_filename == CODE_FILE:
            line = t.tb_lineno
        t = t.tb_next
    etype = type(e).__name__
    try:
        message = str(e)
    except Exception:
        message = "<unprintable %s>" % etype
    if isinstance(e, SyntaxError):
        message = e.msg or message
        if e.filename == CODE_FILE and e.lineno:
            line = e.lineno
    if isinstance(e, MemoryError):
        etype = "MemoryError"
    limit = limit_reached(e)
    if limit:
        message = ("%s (this execution reached %s)" % (message, limit)) if message else ("this execution reached %s" % limit)
    try:
        text = "".join(traceback.format_exception(type(e), e, tb))
    except Exception:
        text = "%s: %s\n" % (etype, message)
    return {
        "type": etype,
        "message": message[:MAX_MESSAGE],
        "line": line,
        "agent": agent_for_line(code, line),
        "traceback": text[-MAX_TRACEBACK:],
    }


# ---------------------------------------------------------------------------
# Tasks run in the child

# The executed code may replace json.dumps (the module is shared with it); the
# result is written with the original.
_json_dumps = json.dumps


def task_exec(header):
    global _capture
    code = header.get("code") or ""
    cap = Capture()
    _capture = cap
    ns = dict(BASE)
    ns["display"] = cap.display
    ns["print"] = cap.make_print()
    linecache.cache[CODE_FILE] = (len(code), None, code.splitlines(True), CODE_FILE)
    ok, err = True, None
    try:
        tree = ast.parse(code, CODE_FILE, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = tree.body.pop()
        exec(compile(tree, CODE_FILE, "exec"), ns)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), CODE_FILE, "eval"), ns)
            cap.show_value(value)
    except SystemExit as e:
        if e.code not in (None, 0):
            ok = False
            err = describe_error(e, code)
            err["type"] = "SystemExit"
            err["message"] = "the code called exit(%r)" % (e.code,)
    except BaseException as e:  # noqa: B036  (user code may raise anything)
        ok = False
        err = describe_error(e, code)
    try:
        cap.add_leftovers(ns)
    except BaseException as e:  # noqa: B036
        cap.note("figures left behind could not be captured: %r" % e)
    return result_body(ok, err, cap)


def result_body(ok, err, cap):
    flush_std()
    dumps = lambda v: _json_dumps(v, allow_nan=False, default=str).encode()  # noqa: E731
    try:
        tables = dumps(cap.tables)
    except ValueError:
        tables = _json_dumps(cap.tables, default=str).replace("NaN", "null").encode()
    parts = [
        b'{"ok":', b"true" if ok else b"false",
        b',"error":', dumps(err),
        b',"figures":[', b",".join(cap.figures), b"]",
        b',"images":', dumps(cap.images),
        b',"tables":', tables,
        b',"stdout_truncated":', b"true" if getattr(sys.stdout, "truncated", False) else b"false",
        b',"stderr_truncated":', b"true" if getattr(sys.stderr, "truncated", False) else b"false",
        b"}",
    ]
    return b"".join(parts)


def dataset_error(e):
    return json.dumps({"ok": False, "error": {"type": type(e).__name__, "message": str(e)[:MAX_MESSAGE]}}).encode()


def read_spec(spec, fd):
    return read_dataset(fd, spec.get("format"), spec.get("sheet"), spec.get("columns") or None)


TOP_VALUES = 5


def column_profile(name, series):
    """Name, dtype, nulls, distinct values; min and max of numbers, the most frequent values of the rest."""
    pd = M["pd"]
    col = {"name": str(name), "dtype": str(series.dtype), "nullCount": int(series.isna().sum())}
    values = series.dropna()
    try:
        col["distinctCount"] = int(values.nunique())
    except TypeError:  # unhashable values (lists in JSON)
        values = values.astype(str)
        col["distinctCount"] = int(values.nunique())
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric:
        finite = values[values.abs() != float("inf")] if len(values) else values
        if len(finite):
            col["min"] = float(finite.min())
            col["max"] = float(finite.max())
    else:
        try:
            counts = values.value_counts().head(TOP_VALUES)
        except TypeError:
            counts = values.astype(str).value_counts().head(TOP_VALUES)
        col["topValues"] = [{"value": cell_text(v), "count": int(n)} for v, n in counts.items()]
    return col


def cell_text(v):
    """A cell as text (dates in ISO 8601)."""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def is_missing(v):
    pd = M["pd"]
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def task_profile(header, fd):
    spec = header.get("dataset") or {}
    try:
        frame = read_spec(spec, fd)
        columns = [column_profile(c, frame[c]) for c in frame.columns]
        return json.dumps({"ok": True, "profile": {"rowCount": int(len(frame)), "columns": columns}},
                          allow_nan=False).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


def task_preview(header, fd):
    spec = header.get("dataset") or {}
    limit = max(1, min(int(header.get("limit") or 10), 1000))
    try:
        frame = read_spec(spec, fd).head(limit)
        rows = [[None if is_missing(v) else cell_text(v) for v in row] for row in frame.astype(object).values.tolist()]
        return json.dumps({"ok": True, "preview": {"columns": [str(c) for c in frame.columns], "rows": rows}}).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


INSPECT_ROWS = 10
INSPECT_SAMPLE = 1000  # rows read to find the empty ones


def task_inspect(header, fd):
    """Sheets, encoding, delimiter, headers and the first rows of a file, as text."""
    pd = M["pd"]
    spec = header.get("dataset") or {}
    fmt = (spec.get("format") or "").lower()
    out = {"sheets": [], "encoding": "", "delimiter": ""}
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            if fmt == "csv":
                head = f.read(65536)
                check_text(head)
                enc, sep = detect_encoding(head), sniff_delimiter(head)
                f.seek(0)
                frame = pd.read_csv(f, sep=sep, encoding=enc, dtype=str, keep_default_na=False,
                                    nrows=INSPECT_SAMPLE, encoding_errors="replace")
                out["encoding"], out["delimiter"] = enc, sep
            elif fmt == "xlsx":
                import openpyxl

                book = openpyxl.load_workbook(f, read_only=True, data_only=True)
                out["sheets"] = list(book.sheetnames)
                book.close()
                f.seek(0)
                sheet = spec.get("sheet") or 0
                frame = pd.read_excel(f, sheet_name=sheet, engine="openpyxl", dtype=str, nrows=INSPECT_SAMPLE)
            elif fmt == "json":
                frame = read_json(f).head(INSPECT_SAMPLE)
                out["encoding"] = "utf-8"
            else:
                raise ValueError("unsupported dataset format %r" % fmt)
        frame = clean_frame(frame).head(INSPECT_ROWS)
        out["headers"] = [str(c) for c in frame.columns]
        out["rows"] = [["" if is_missing(v) else cell_text(v) for v in row] for row in frame.astype(object).values.tolist()]
        return json.dumps({"ok": True, "inspection": out}).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


# Tasks that read one dataset whose descriptor comes with the request.
DATASET_TASKS = {"profile": task_profile, "preview": task_preview, "inspect": task_inspect}


def flush_std():
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# The kernel


class Child:
    """A forked execution process, set up and waiting for its task."""

    def __init__(self, pid, pidfd, cmd, out_r, err_r, res_r):
        self.pid = pid
        self.pidfd = pidfd
        self.cmd = cmd  # socket: the task (and a dataset descriptor) goes down here
        self.out_r = out_r
        self.err_r = err_r
        self.res_r = res_r
        self.exited = False  # the pidfd reported the exit

    def parent_fds(self):
        fds = [self.out_r, self.err_r, self.res_r, self.cmd.fileno()]
        if self.pidfd is not None:
            fds.append(self.pidfd)
        return fds


class Kernel:
    def __init__(self, conn, isolated, main_jobs):
        self.conn = conn
        self.isolated = isolated
        self.seccomp = SeccompFilter(SECCOMP_FILTER) if SECCOMP_FILTER else None
        self.pidns_fd = -1
        if isolated:
            self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.datasets = []
        # The next executions' processes, forked ahead of time. Two, so that
        # an execution that follows another at once takes a child whose
        # sandbox setup (mount namespace, seccomp) finished long before.
        self.spares = []
        self.running = None  # the Child of the execution under way
        # The last execution ended without delivering its result (killed, or
        # died), so it did not end the processes it started: the next one
        # waits until they are gone (see run).
        self.stragglers = False
        self.zombies = {}  # pid -> pidfd (or None) of ended children not yet reaped
        self.main_jobs = main_jobs  # run by the main thread (on_main_thread)
        self.reserve_held = True  # until a load, or the first task without one
        # A kernel forks no spares before its first load or task: a load
        # discards them, and while they live, the kernel's own writes split
        # the huge pages they share for good (see "Huge pages").
        self.assigned = False
        # Collapsing the heap back into huge pages (collapse_heap): the
        # steps of the pass under way, whether a fork since the last pass may
        # have split some, and whether the host can do it at all.
        self.collapse_todo = []
        self.forked_since_collapse = False
        self.can_collapse = _huge_heap_from != 0

    # -- serving -----------------------------------------------------------

    def on_main_thread(self, fn, *args):
        """Runs fn(*args) on the main thread, waits for it and returns its
        result, so that what fn allocates for good (the datasets) lands in
        the main heap, in huge pages, and not among the serve loop's
        allocations."""
        done = threading.Event()
        outcome = []

        def job():
            try:
                outcome.append((True, fn(*args)))
            except BaseException as e:  # noqa: B036
                outcome.append((False, e))
            finally:
                done.set()

        self.main_jobs.put(job)
        done.wait()
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def serve(self):
        """Serves the frames from Go until the connection ends.

        A fork of a loaded kernel takes milliseconds, during which the kernel
        serves nothing, so the spares are forked when that costs no one a
        wait: once the kernel has been idle for IDLE_BEFORE_FORK (an
        execution that follows another at once takes the spare left), or
        while an execution that took the last spare runs (see run)."""
        conn = self.conn
        while True:
            frame = conn.next_frame()
            if frame is None:
                if conn.eof:
                    os._exit(0)
                short = self.assigned and len(self.spares) < SPARES
                collapse = self.collapse_due()
                watch = [conn] + [fd for fd in self.zombies.values() if fd is not None]
                if short:
                    timeout = IDLE_BEFORE_FORK
                elif collapse:
                    timeout = IDLE_BEFORE_COLLAPSE
                else:
                    timeout = 1.0 if self.zombies else None
                try:
                    ready, _, _ = select.select(watch, [], [], timeout)
                except InterruptedError:
                    continue
                if conn in ready:
                    conn.fill()
                elif not ready and short:
                    self.fill_spares(1)
                elif not ready and collapse:
                    self.collapse_heap()
                self.reap_zombies()
                continue
            header, _ = frame
            op = header.get("op")
            rid = header.get("id", 0)
            if (op in ("load", "exec") or op in DATASET_TASKS) and not header.get("probe"):
                self.assigned = True
            try:
                if op == "load":
                    self.load(header)
                elif op == "exec":
                    self.run(header, None)
                elif op in DATASET_TASKS:
                    fd = conn.take_fds(1)[0]
                    self.run(header, fd)
                elif op == "cancel":
                    pass  # nothing is running
                elif op == "ping":
                    conn.send({"type": "pong", "id": rid})
                else:
                    conn.send({"type": "error", "id": rid, "message": "unknown op %r" % op})
            except (BrokenPipeError, ConnectionResetError):
                os._exit(0)
            except Exception as e:
                log("op %s failed: %s" % (op, traceback.format_exc()))
                conn.send({"type": "error", "id": rid, "message": "%s: %s" % (type(e).__name__, e)})
            finally:
                conn.close_stray_fds()

    def collapse_due(self):
        return self.can_collapse and self.assigned and bool(self.collapse_todo or self.forked_since_collapse)

    def collapse_heap(self):
        """Collapses the heap back into huge pages where forks split them
        (see "Huge pages"), a step at a time, until the pass is over or a
        frame from Go waits; the next idle moment resumes it. A range still
        in huge pages costs nearly nothing; a split one, a copy of 2 MiB, as
        the spares keep the pages they share."""
        if not self.collapse_todo:
            self.collapse_todo = huge_heap_steps()
            self.forked_since_collapse = False
        while self.collapse_todo:
            ready, _, _ = select.select([self.conn], [], [], 0)
            if ready:
                return
            start, end = self.collapse_todo.pop(0)
            if _libc.madvise(start, end - start, MADV_COLLAPSE) != 0 and ctypes.get_errno() == errno.EINVAL:
                # No MADV_COLLAPSE on this host (Linux before 6.1, or
                # transparent huge pages off): the small pages stay.
                self.can_collapse = False
                self.collapse_todo = []
                return

    def load(self, header):
        specs = header.get("datasets") or []
        fds = self.conn.take_fds(len(specs))
        self.discard_spares()  # they were forked without these datasets
        # Once they are gone, the kernel's memory is its own again: what the
        # load writes does not split the huge pages (see "Huge pages").
        self.reap_zombies(wait=REAP_WAIT)
        try:
            loaded = self.on_main_thread(self.read_datasets, specs, fds)
        except Exception as e:
            self.conn.send({"type": "error", "id": header.get("id", 0), "message": str(e)})
            return
        finally:
            for fd in fds:
                os.close(fd)
        self.conn.send({"type": "loaded", "id": header.get("id", 0), "datasets": loaded, "memory": own_memory()})

    def read_datasets(self, specs, fds):
        """Reads the datasets into BASE (on the main thread: they stay in the
        main heap) and returns their shapes. Takes the descriptors it reads
        out of fds."""
        loaded = []
        names = []
        for i, spec in enumerate(specs):
            name = spec.get("name")
            check_name(name, i == 0)
            if name in names:
                raise ValueError("two datasets are named %r" % name)
            names.append(name)
        for spec, fd in zip(specs, list(fds)):
            fds.remove(fd)
            name = spec["name"]
            try:
                frame = read_spec(spec, fd)
            except MemoryError:
                raise MemoryError("dataset %r does not fit in the memory limit of %s" % (name, human_bytes(MEMORY)))
            except Exception as e:
                raise ValueError("dataset %r: %s: %s" % (name, type(e).__name__, e))
            BASE[name] = frame
            loaded.append({"name": name, "rows": int(frame.shape[0]), "columns": int(frame.shape[1])})
        if names and "df" not in names:
            BASE["df"] = BASE[names[0]]
        self.datasets = names
        gc.collect()
        gc.freeze()
        release_heap_reserve()
        self.reserve_held = False
        return loaded

    # -- children ----------------------------------------------------------

    def spawn(self):
        """Forks a child that prepares its sandbox and waits for a task."""
        cmd_parent, cmd_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        child_ends = (cmd_child, out_w, err_w, res_w)
        if self.isolated:
            _check(_libc.unshare(CLONE_NEWPID), "unshare(pid)")
        try:
            pid = os.fork()
        except BaseException:
            if self.isolated:
                self.restore_pidns()
            for fd in (out_r, out_w, err_r, err_w, res_r, res_w):
                os.close(fd)
            cmd_parent.close()
            cmd_child.close()
            raise
        if pid == 0:
            code = 70
            try:
                cmd_parent.close()
                for fd in (out_r, err_r, res_r):
                    os.close(fd)
                self.child_main(cmd_child, out_w, err_w, res_w)
                code = 0
            except BaseException:  # noqa: B036
                try:
                    write_all(2, traceback.format_exc().encode())
                except BaseException:  # noqa: B036
                    pass
            finally:
                os._exit(code)
        self.forked_since_collapse = True
        if self.isolated:
            self.restore_pidns()
        cmd_child.close()
        for fd in child_ends[1:]:
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        for fd in (out_r, err_r, res_r):
            os.set_blocking(fd, False)
        return Child(pid, pidfd, cmd_parent, out_r, err_r, res_r)

    def restore_pidns(self):
        if _libc.setns(self.pidns_fd, CLONE_NEWPID) != 0:
            log("setns back to the kernel's pid namespace failed: %s" % os.strerror(ctypes.get_errno()))
            os._exit(1)

    def fill_spares(self, most=SPARES):
        """Forks spares until there are SPARES, most at a time."""
        for _ in range(min(most, SPARES - len(self.spares))):
            try:
                self.spares.append(self.spawn())
            except OSError as e:
                log("cannot fork ahead: %s" % e)
                return

    def discard_spares(self):
        spares, self.spares = self.spares, []
        for child in spares:
            self.end_child(child)

    def end_child(self, child):
        """Kills a child, closes the kernel's ends, and queues it for reaping."""
        self.kill(child.pid)
        for fd in (child.out_r, child.err_r, child.res_r):
            os.close(fd)
        child.cmd.close()
        self.zombies[child.pid] = child.pidfd

    def reap_zombies(self, wait=0.0):
        """Reaps the ended children, waiting up to wait seconds for those
        still exiting. An execution's process is the first of its pid
        namespace, whose other processes are all gone once it is reaped."""
        deadline = time.monotonic() + wait
        for pid, pidfd in list(self.zombies.items()):
            while True:
                try:
                    p, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    p = pid
                if p == pid:
                    if pidfd is not None:
                        os.close(pidfd)
                    del self.zombies[pid]
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    if pidfd is not None:
                        select.select([pidfd], [], [], left)
                    else:
                        select.select([], [], [], min(left, 0.001))
                except InterruptedError:
                    pass

    def kill(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        if not self.isolated:
            try:
                os.killpg(pid, signal.SIGKILL)  # whatever the code left behind
            except OSError:
                pass

    # -- running a task ----------------------------------------------------

    def run(self, header, data_fd):
        """Runs one task (exec or profile) in a child and reports its result."""
        rid = header.get("id", 0)
        timeout = float(header.get("timeout") or 120)
        # The processes of earlier executions are gone before this one
        # starts: it sees nothing of them, even in /proc. One that delivered
        # its result ended them itself (end_descendants) and need not be
        # waited for: it is reaped once it has finished exiting.
        self.reap_zombies(wait=REAP_WAIT if self.stragglers else 0.0)
        self.stragglers = False
        if self.reserve_held and self.assigned:  # a kernel without datasets: no load comes
            self.on_main_thread(release_heap_reserve)
            self.reserve_held = False
        child = None
        try:
            for attempt in range(2):
                child = self.spares.pop(0) if self.spares else self.spawn()
                try:
                    send_task(child.cmd, header, data_fd)
                    break
                except OSError:
                    # the child died while waiting; try a fresh one
                    self.end_child(child)
                    child = None
                    if attempt == 1:
                        raise
        except OSError as e:
            if data_fd is not None:
                os.close(data_fd)
            self.conn.send({"type": "result", "id": rid, "status": "fork_failed", "message": str(e)})
            return
        if data_fd is not None:
            os.close(data_fd)
        started = time.monotonic()
        self.conn.send({"type": "started", "id": rid})
        self.running = child
        try:
            if not self.spares:
                # Executions back to back: fork the next one's process now,
                # on another core, rather than between this result and the
                # next task.
                self.fill_spares(1)
            reply, body = self.supervise(rid, child, timeout, started)
        finally:
            self.running = None
        self.conn.send(reply, body)

    def supervise(self, rid, child, timeout, started):
        conn = self.conn
        deadline = started + timeout
        out_r, err_r, res_r = child.out_r, child.err_r, child.res_r
        bufs = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        caps = {out_r: MAX_OUTPUT, err_r: MAX_OUTPUT, res_r: MAX_RESULT}
        cut = {out_r: False, err_r: False, res_r: False}
        open_fds = [out_r, err_r, res_r]
        status = None
        wstatus = rusage = None
        reaped = False

        def drain(fd):
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    return True
                except InterruptedError:
                    continue
                if not chunk:
                    return False
                buf = bufs[fd]
                room = caps[fd] - len(buf)
                if len(chunk) > room:
                    buf += chunk[:max(room, 0)]
                    cut[fd] = True
                else:
                    buf += chunk

        def control():
            """Handles the frames received from Go; returns "canceled" on a cancel."""
            result = None
            while True:
                frame = conn.next_frame()
                if frame is None:
                    return result
                h = frame[0]
                if h.get("op") == "cancel" and h.get("id") == rid:
                    result = "canceled"
                elif h.get("op") != "cancel":
                    conn.send({"type": "error", "id": h.get("id", 0), "message": "kernel busy"})
                    conn.close_stray_fds()

        # Frames may have arrived together with the request (a cancel sent
        # right after it): select would not report them.
        status = control()
        while status is None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                status = "timeout"
                break
            watch = list(open_fds) + [conn]
            if child.pidfd is not None:
                watch.append(child.pidfd)
            else:
                wait = min(wait, 0.01)
            try:
                ready, _, _ = select.select(watch, [], [], wait)
            except InterruptedError:
                continue
            for fd in ready:
                if fd is conn:
                    conn.fill()
                    if conn.eof:
                        self.kill(child.pid)
                        os._exit(0)
                    status = control() or status
                elif fd == child.pidfd:
                    child.exited = True
                elif not drain(fd):
                    open_fds.remove(fd)
                    if fd == res_r and bufs[res_r]:
                        # The child wrote its result and closed the pipe: it is
                        # done, whether or not it has finished exiting.
                        status = "done"
            if status is None and cut[res_r]:
                status = "too_large"
            if status is None and child.pidfd is None:  # no pidfd: poll
                p, ws, ru = os.wait4(child.pid, os.WNOHANG)
                if p == child.pid:
                    wstatus, rusage, reaped = ws, ru, True
                    child.exited = True
            if status is None and child.exited:
                for fd in list(open_fds):
                    if not drain(fd):
                        open_fds.remove(fd)
                if not reaped:
                    _, wstatus, rusage = wait4(child.pid)
                    reaped = True
                ok_exit = wstatus is not None and os.WIFEXITED(wstatus) and os.WEXITSTATUS(wstatus) == 0
                status = "done" if (ok_exit and bufs[res_r] and res_r not in open_fds) else "exited"
        if not reaped:
            self.kill(child.pid)
        elif not self.isolated:
            try:
                os.killpg(child.pid, signal.SIGKILL)  # whatever the code left behind
            except OSError:
                pass
        for fd in list(open_fds):
            drain(fd)
        if status == "done" and cut[res_r]:
            status = "too_large"
        reply = {
            "type": "result",
            "id": rid,
            "elapsed": round(time.monotonic() - started, 6),
            "stdout": bytes(bufs[out_r]).decode("utf-8", "replace"),
            "stderr": bytes(bufs[err_r]).decode("utf-8", "replace"),
            "stdout_truncated": cut[out_r],
            "stderr_truncated": cut[err_r],
        }
        body = b""
        if status == "exited":
            # Ended before delivering a result: say how.
            if rusage is not None:
                reply["cpu_seconds"] = round(rusage.ru_utime + rusage.ru_stime, 3)
            if wstatus is None:
                reply["exit_code"] = -1
            elif os.WIFSIGNALED(wstatus):
                status = "signaled"
                reply["signal"] = os.WTERMSIG(wstatus)
            else:
                reply["exit_code"] = os.WEXITSTATUS(wstatus)
        elif status == "done":
            body = bytes(bufs[res_r])
        reply["status"] = status
        self.stragglers = status != "done" or not self.isolated
        # Close the kernel's ends; reap later (exiting a large process takes a
        # while, and the result need not wait for it).
        for fd in (out_r, err_r, res_r):
            os.close(fd)
        child.cmd.close()
        if reaped:
            if child.pidfd is not None:
                os.close(child.pidfd)
        else:
            self.zombies[child.pid] = child.pidfd
        return reply, body

    # -- the child's side --------------------------------------------------

    def child_main(self, cmd, out_w, err_w, res_w):
        global _capture
        _capture = None
        # Close what belongs to the kernel: the control socket, the pid
        # namespace handle, other children's descriptors.
        try:
            os.close(self.conn.sock.detach())
        except OSError:
            pass
        for fd in list(self.conn.fds):
            try:
                os.close(fd)
            except OSError:
                pass
        self.conn.fds.clear()
        others = []
        if self.pidns_fd >= 0:
            others.append(self.pidns_fd)
        for spare in self.spares:
            others.extend(spare.parent_fds())
        if self.running is not None:  # forked during an execution
            others.extend(self.running.parent_fds())
        others.extend(fd for fd in self.zombies.values() if fd is not None)
        for fd in others:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        setup_error = None
        if self.isolated:
            try:
                sandbox_child()
                os.chdir("/tmp")
                os.environ["HOME"] = os.environ["TMPDIR"] = "/tmp"
                import tempfile

                tempfile.tempdir = None
            except OSError as e:
                setup_error = str(e)
        # Last: the filter forbids what the setup above needed (namespaces,
        # mounts).
        if self.seccomp is not None and setup_error is None:
            try:
                self.seccomp.load()
            except OSError as e:
                setup_error = str(e)
        for which, soft, hard in (
            (resource.RLIMIT_NOFILE, NOFILE, NOFILE),
            (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_FSIZE, TMP_SIZE, TMP_SIZE),
            (resource.RLIMIT_NPROC, NPROC, NPROC),
        ):
            set_limit(which, soft, hard)
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = CapWriter(1, MAX_OUTPUT)
        sys.stderr = CapWriter(2, MAX_OUTPUT)
        try:
            import faulthandler

            faulthandler.enable(file=sys.__stderr__)
        except Exception:
            pass

        # Wait for the task.
        task = recv_task(cmd)
        cmd.close()
        if task is None:
            os._exit(0)  # discarded, or the kernel is gone
        header, data_fd = task
        timeout = float(header.get("timeout") or 120)
        cpu = int(math.ceil(timeout * max(1, os.cpu_count() or 1))) + 2
        set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)
        if setup_error is not None:
            body = json.dumps({"ok": False, "internal": "sandbox setup failed: " + setup_error}).encode()
        elif header.get("op") in DATASET_TASKS:
            body = DATASET_TASKS[header["op"]](header, data_fd)
        else:
            body = task_exec(header)
        flush_std()
        if self.isolated:
            end_descendants()
        write_all(res_w, body)
        os.close(res_w)
        os._exit(0)


def end_descendants():
    """Kills and reaps every other process of the execution's pid namespace
    (the execution is its pid 1, so kill(-1) reaches them all, and orphans
    are its children), so that the next execution finds nothing of them
    once this one has delivered its result."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        return  # the usual case: the code started no process
    except OSError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def wait4(pid):
    while True:
        try:
            return os.wait4(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return pid, None, None


def set_limit(which, soft, hard):
    try:
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError):
        pass


def send_task(sock, header, data_fd):
    """Sends a task to a waiting child: u32 length, JSON, and maybe one fd."""
    data = json.dumps(header).encode()
    data = struct.pack(">I", len(data)) + data
    if data_fd is None:
        sock.sendall(data)
        return
    n = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", data_fd))])
    if n < len(data):
        sock.sendall(data[n:])


def recv_task(sock):
    """Receives a task in the child; None when the kernel closed the socket."""
    buf = bytearray()
    fds = []
    while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">I", buf)[0]:
        try:
            data, anc, _, _ = sock.recvmsg(1 << 16, socket.CMSG_SPACE(4))
        except InterruptedError:
            continue
        for level, typ, payload in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                n = len(payload) - len(payload) % 4
                fds.extend(struct.unpack("%di" % (n // 4), payload[:n]))
        if not data:
            return None
        buf += data
    n = struct.unpack_from(">I", buf)[0]
    header = json.loads(bytes(buf[4:4 + n]))
    return header, (fds[0] if fds else None)


def close_inherited_fds():
    """Closes every descriptor but stdio and the control socket.

    A process inherits the descriptors its parents left open without
    close-on-exec (the server's own launcher, a shell); neither Go nor
    bubblewrap closes them, and executions must not see them.
    """
    os.closerange(CTRL_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def main():
    close_inherited_fds()
    isolated = enter_namespaces() if CONFIG.get("isolate", True) else False
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    sys.stdout = sys.stderr  # fd 1 is not the protocol, but keep it quiet anyway
    conn = Conn(CTRL_FD)
    started = time.monotonic()
    reserve_huge_heap()
    try:
        import_stack()
    except BaseException as e:  # noqa: B036
        conn.send({"type": "fatal", "message": "importing the data stack failed: %s: %s" % (type(e).__name__, e)})
        os._exit(1)
    imported = time.monotonic() - started
    if MEMORY > 0:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
        except (ValueError, OSError) as e:
            log("cannot set the memory limit: %s" % e)
    gc.collect()
    gc.freeze()
    ready = {
        "type": "ready",
        "isolated": isolated,
        "python": sys.version.split()[0],
        "import_seconds": round(imported, 3),
        "seccomp": seccomp_mode(),
        "memory": own_memory(),
    }
    # The kernel serves from a thread of its own, which glibc gives a malloc
    # arena of its own: the serve loop's allocations, its Kernel and Conn
    # included, land there and not in the heap that holds the data stack and
    # the datasets (see "Huge pages"). The main thread stays to load the
    # datasets (Kernel.on_main_thread).
    main_jobs = queue.SimpleQueue()
    fd = conn.sock.detach()

    def serve():
        try:
            kernel = Kernel(Conn(fd), isolated, main_jobs)
            kernel.conn.send(ready)
            kernel.serve()
        except BaseException:  # noqa: B036
            log("the kernel failed: %s" % traceback.format_exc())
        finally:
            os._exit(1)  # the main thread would wait for jobs for ever

    threading.Thread(target=serve, name="kernel", daemon=True).start()
    while True:
        main_jobs.get()()


main()
