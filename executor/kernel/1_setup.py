# Auto-Analyst execution kernel: the Python side of package executor.
#
# The Go executor joins the files of kernel/ (in the order of their names) and starts them as `python3 -s -B -c <source> <config JSON>`,
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


