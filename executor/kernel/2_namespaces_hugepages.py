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


