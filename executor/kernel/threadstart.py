"""Thread starts in an execution that end, started or refused, however
little address space is left.

An execution's threads count in two of its limits: the process limit
(RLIMIT_NPROC, config.NPROC) and the address-space limit (RLIMIT_AS,
config.MEMORY), in which each takes its stack (8 MiB: RLIMIT_STACK) and,
for each of the first eight per CPU, a malloc arena (a heap of 64 MiB).
Under a limit of 1 GiB a thread bomb reaches the address-space limit after
6 to 8 threads, long before 256 processes: pthread_create cannot map the
next stack, and threading.Thread.start raises RuntimeError("can't start new
thread") (errors.limit_reached names both limits).

Without a guard, the last stack may fit with almost nothing to spare. The
new thread then fails in its first steps, which map memory of their own: no
arena could be made for it, so glibc maps a page for each of its blocks,
CPython a 16 KiB data stack for its first Python frame and 1 MiB for its
small objects when it has none free. Either the thread ends before
Thread._bootstrap has set Thread._started, for which Thread.start waits
without a timeout (its MemoryError written to stderr as "Exception ignored
in thread started by"); or its MemoryError reaches the `finally` of
Thread._bootstrap_inner, where CPython (3.11 and later) must allocate an int
for the handler and, when it cannot, looks for the handler again, for ever,
holding the GIL. The execution waited until its time limit either way.
Measured in a 1 GiB sandbox, with the execution's memory moved by up to 16
MiB at random before the bomb: 1 bomb in 40 to 300 waited, with
prepare_execution_heaps as without (which only moves where the memory
ends); without the sandbox, every start whose stack left 0 to 5 pages.

guard_thread_starts, in each execution's process before its task, replaces
Thread.start with start, which maps a stack and HEADROOM more (PROT_NONE:
address space, no memory) and unmaps it before it starts the thread: the
stack is mapped only where HEADROOM is left after it for the thread's first
steps, or the start raises that RuntimeError. Thread starts wait for one
another until the thread has started, so that no other stack takes that
headroom. The rest of the execution's threads may still take it, but a
thread bomb's are idle; and should the new thread end before it has
started, start raises the RuntimeError rather than waiting for ever.
Python 3.13 starts threads otherwise (its Thread.start has a handle of the
thread): there, Thread.start is left as it is.
"""

import ctypes
import mmap
import os
import threading
import weakref

from .libc import libc

# What a new thread may map before its code runs: a pymalloc arena (1 MiB),
# its data stack (16 KiB), a page for each malloc block when it has no arena.
HEADROOM = 2 << 20
# How long start waits for the new thread at a time, before it looks whether
# the thread is gone (a thread that starts sets Thread._started at once).
POLL = 0.02
# Python's own message, which errors.limit_reached recognizes.
CANNOT_START = "can't start new thread"

# One start at a time, until its thread has started (reentrant: a signal
# handler may start a thread while the main thread starts one); a new one in
# a forked child, where the thread that held it is gone.
_starting = threading.RLock()


def guard_thread_starts():
    """Replaces threading.Thread.start with start where threading starts its
    threads as start expects (Python 3.11 and 3.12); returns whether it did."""
    if hasattr(threading, "_start_joinable_thread") or not all(
            hasattr(threading, n) for n in ("_start_new_thread", "_limbo", "_active_limbo_lock")):
        return False
    threading.Thread.start = start
    os.register_at_fork(after_in_child=new_lock)
    return True


def new_lock():
    global _starting
    _starting = threading.RLock()


def default_stack():
    """The bytes pthread_create maps for a thread's stack with the default
    attributes: its stack size and guard (8 MiB and a page when they cannot
    be read)."""
    attr = ctypes.create_string_buffer(256)  # pthread_attr_t: 56 bytes on x86-64, 64 on arm64
    size, guard = ctypes.c_size_t(8 << 20), ctypes.c_size_t(mmap.PAGESIZE)
    try:
        if libc.pthread_getattr_default_np(attr) == 0:
            libc.pthread_attr_getstacksize(attr, ctypes.byref(size))
            libc.pthread_attr_getguardsize(attr, ctypes.byref(guard))
            libc.pthread_attr_destroy(attr)
    except AttributeError:  # a C library without them
        pass
    return size.value + guard.value


# A thread's default stack with its guard page, read once in the kernel.
_default_stack = default_stack()


def room_for_thread():
    """Whether a thread's stack (threading.stack_size(), or the default) and
    HEADROOM fit in the address-space limit now."""
    stack = threading.stack_size()  # which sets it to 0: set it again
    if stack:
        threading.stack_size(stack)
    need = (stack + mmap.PAGESIZE if stack else _default_stack) + HEADROOM
    try:
        mmap.mmap(-1, need, flags=mmap.MAP_PRIVATE, prot=0).close()
    except OSError:
        return False
    return True


def start(self):
    """Thread.start of Python 3.11 and 3.12, which raises RuntimeError
    (CANNOT_START) rather than mapping the new thread's stack where HEADROOM
    would not be left after it, or waiting for ever for a thread that ended
    before it started."""
    if not self._initialized:
        raise RuntimeError("thread.__init__() not called")
    if self._started.is_set():
        raise RuntimeError("threads can only be started once")
    with _starting:
        if not room_for_thread():
            raise RuntimeError(CANNOT_START + " (the memory limit leaves no room for its stack)")
        with threading._active_limbo_lock:
            threading._limbo[self] = self
        bootstrap = self._bootstrap
        # The thread holds its bootstrap until it ends, started or not.
        running = weakref.ref(bootstrap)
        try:
            threading._start_new_thread(bootstrap, ())
        except Exception:
            with threading._active_limbo_lock:
                del threading._limbo[self]
            raise
        del bootstrap
        while not self._started.wait(POLL):
            if running() is None and not self._started.is_set():
                with threading._active_limbo_lock:
                    threading._limbo.pop(self, None)
                raise RuntimeError(CANNOT_START + " (it ran out of memory as it started)")
