"""The sandbox the kernel builds inside bubblewrap's, for itself and for each
execution: namespaces of the kernel's own (enter_namespaces), /proc's host
knobs read-only, an execution's private /tmp and /dev/shm, dropped
capabilities, the execution seccomp filter, resource limits, and the
descriptors and processes an execution must not inherit or leave behind."""

import ctypes
import os
import resource
import select
import signal

from . import config
from .libc import (
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    PR_SET_SECCOMP,
    SECCOMP_MODE_FILTER,
    check,
    libc,
)
from .protocol import CTRL_FD, send_frame_fd
from .util import log

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
        check(libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS), "unshare(user, pid, mount)")
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
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    r, _, _ = select.select([alive_r], [], [], 0)
    if r:  # the supervisor died before PDEATHSIG was armed
        os._exit(1)
    os.close(alive_r)
    return True


def _write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def proc_read_only():
    """Makes what /proc has of the host's knobs read-only (as runc does) in the
    kernel's mount namespace, which every execution inherits: sysctls (a global
    one written there would change the host's), file systems, buses and
    interrupts. Bound onto themselves, so the sysctls stay readable.
    Bubblewrap masks the rest (sandbox.go: procMasks)."""
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    for path in (b"/proc/sys", b"/proc/fs", b"/proc/bus", b"/proc/irq"):
        if os.path.isdir(path):
            check(libc.mount(path, path, None, MS_BIND | MS_REC, None), "bind %s" % path.decode())
            # A remount must keep the flags locked by a more privileged
            # namespace (ST_NOATIME and ST_NODIRATIME are MS_ bits too).
            had = os.statvfs(path).f_flag
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | (had & (1024 | 2048))
            flags |= MS_RELATIME if had & 4096 else 0  # ST_RELATIME
            check(libc.mount(None, path, None, flags, None), "remount %s read-only" % path.decode())


def fatal_early(message):
    """Reports a fatal error to Go before there is a Conn, and exits."""
    try:
        send_frame_fd(CTRL_FD, {"type": "fatal", "message": message})
    finally:
        os._exit(1)


def close_inherited_fds():
    """Closes every descriptor but stdio and the control socket.

    A process inherits the descriptors its parents left open without
    close-on-exec (the server's own launcher, a shell); neither Go nor
    bubblewrap closes them, and executions must not see them.
    """
    os.closerange(CTRL_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


# ---------------------------------------------------------------------------
# An execution's sandbox


def sandbox_child():
    """Gives an execution a private /tmp and /dev/shm and drops its capabilities."""
    check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    opts = ("size=%d,mode=1777" % config.TMP_SIZE).encode()
    check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, opts), "mount /tmp")
    # POSIX shared memory and semaphores (multiprocessing) live in /dev/shm,
    # which is read-only in the sandbox: give the execution a private one.
    if os.path.isdir("/dev/shm"):
        check(libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, opts), "mount /dev/shm")
    drop_capabilities()


def unshare_pid():
    """Makes the next child the first process of a new pid namespace (the
    caller's own pid namespace does not change: see restore_pidns)."""
    check(libc.unshare(CLONE_NEWPID), "unshare(pid)")


def restore_pidns(pidns_fd):
    """Makes the caller's next children part of the pid namespace pidns_fd
    again; exits the process when it cannot."""
    if libc.setns(pidns_fd, CLONE_NEWPID) != 0:
        log("setns back to the kernel's pid namespace failed: %s" % os.strerror(ctypes.get_errno()))
        os._exit(1)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """Drops every capability and sets no_new_privs."""
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    check(libc.capset(ctypes.byref(header), data), "capset")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


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
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self.prog), 0, 0), "load the seccomp filter")


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


def set_limit(which, soft, hard):
    """Sets a resource limit, never above the hard limit already in place."""
    try:
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError):
        pass


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
