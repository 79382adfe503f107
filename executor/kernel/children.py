"""The kernel's execution processes: forking them (each in a pid namespace
of its own when the kernel is isolated), the spares forked ahead of time,
ending and reaping them."""

import os
import select
import signal
import socket
import time
import traceback

from . import child, config, sandbox
from .util import log, write_all

# Children forked ahead of time, waiting for an execution; and how long a
# load, or the execution after one that ended without its result, waits for
# the processes of ended executions to be gone.
SPARES = 2
REAP_WAIT = 2.0


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
        """The kernel's descriptors of this child."""
        fds = [self.out_r, self.err_r, self.res_r, self.cmd.fileno()]
        if self.pidfd is not None:
            fds.append(self.pidfd)
        return fds


class Children:
    """The execution processes of a kernel: the spares, the one running, and
    those ended but not yet reaped."""

    def __init__(self, conn, isolated):
        self.conn = conn  # the control connection (closed in each child)
        self.isolated = isolated
        self.seccomp = sandbox.SeccompFilter(config.SECCOMP_FILTER) if config.SECCOMP_FILTER else None
        self.pidns_fd = -1
        if isolated:
            self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        # The next executions' processes, forked ahead of time. Two, so that
        # an execution that follows another at once takes a child whose
        # sandbox setup (mount namespace, seccomp) finished long before.
        self.spares = []
        self.running = None  # the Child of the execution under way
        # The last execution ended without delivering its result (killed, or
        # died), so it did not end the processes it started: the next one
        # waits until they are gone (see Kernel.run).
        self.stragglers = False
        self.zombies = {}  # pid -> pidfd (or None) of ended children not yet reaped
        self.forks = 0  # children forked so far

    def spawn(self):
        """Forks a child that prepares its sandbox and waits for a task."""
        cmd_parent, cmd_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        child_ends = (cmd_child, out_w, err_w, res_w)
        if self.isolated:
            sandbox.unshare_pid()
        try:
            pid = os.fork()
        except BaseException:
            if self.isolated:
                sandbox.restore_pidns(self.pidns_fd)
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
                child.child_main(self, cmd_child, out_w, err_w, res_w)
                code = 0
            except BaseException:  # noqa: B036
                try:
                    write_all(2, traceback.format_exc().encode())
                except BaseException:  # noqa: B036
                    pass
            finally:
                os._exit(code)
        self.forks += 1
        if self.isolated:
            sandbox.restore_pidns(self.pidns_fd)
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

    def kernel_fds(self):
        """The descriptors of the kernel's that a child must close (besides
        the control connection): the pid namespace handle and the other
        children's descriptors."""
        fds = []
        if self.pidns_fd >= 0:
            fds.append(self.pidns_fd)
        for spare in self.spares:
            fds.extend(spare.parent_fds())
        if self.running is not None:  # forked during an execution
            fds.extend(self.running.parent_fds())
        fds.extend(fd for fd in self.zombies.values() if fd is not None)
        return fds

    def take(self):
        """Returns a spare, or a child forked now when there is none."""
        return self.spares.pop(0) if self.spares else self.spawn()

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
        for c in spares:
            self.end_child(c)

    def end_child(self, c):
        """Kills a child, closes the kernel's ends, and queues it for reaping."""
        self.kill(c.pid)
        for fd in (c.out_r, c.err_r, c.res_r):
            os.close(fd)
        c.cmd.close()
        self.zombies[c.pid] = c.pidfd

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
        """Kills a child (and, not isolated, its process group)."""
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        if not self.isolated:
            try:
                os.killpg(pid, signal.SIGKILL)  # whatever the code left behind
            except OSError:
                pass
