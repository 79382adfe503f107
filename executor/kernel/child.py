"""An execution process's own side, from its fork on: it closes what belongs
to the kernel, sets up its sandbox (a private /tmp, no capabilities, the
seccomp filter, resource limits), captures its stdout and stderr, waits for
its task, runs it and writes the result to its pipe."""

import json
import math
import os
import resource
import signal
import sys

from . import capture, config, hugepages, sandbox, threadstart
from .capture import CapWriter
from .libc import PR_SET_PDEATHSIG, libc
from .protocol import recv_task
from .tasks import DATASET_TASKS, task_exec
from .util import flush_std, write_all


def child_main(children, cmd, out_w, err_w, res_w):
    """Runs in a child of children.spawn: prepares, waits on cmd for the
    task, writes its result to res_w and exits."""
    capture.current = None
    # Close what belongs to the kernel: the control socket, the pid
    # namespace handle, other children's descriptors.
    conn = children.conn
    try:
        os.close(conn.sock.detach())
    except OSError:
        pass
    for fd in list(conn.fds):
        try:
            os.close(fd)
        except OSError:
            pass
    conn.fds.clear()
    for fd in children.kernel_fds():
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    setup_error = None
    if children.isolated:
        try:
            sandbox.sandbox_child()
            os.chdir("/tmp")
            os.environ["HOME"] = os.environ["TMPDIR"] = "/tmp"
            import tempfile

            tempfile.tempdir = None
        except OSError as e:
            setup_error = str(e)
    # Last: the filter forbids what the setup above needed (namespaces,
    # mounts).
    if children.seccomp is not None and setup_error is None:
        try:
            children.seccomp.load()
        except OSError as e:
            setup_error = str(e)
    for which, soft, hard in (
        (resource.RLIMIT_NOFILE, config.NOFILE, config.NOFILE),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_NPROC, config.NPROC, config.NPROC),
    ):
        sandbox.set_limit(which, soft, hard)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.close(out_w)
    os.close(err_w)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = CapWriter(1, config.MAX_OUTPUT)
    sys.stderr = CapWriter(2, config.MAX_OUTPUT)
    try:
        import faulthandler

        faulthandler.enable(file=sys.__stderr__)
    except Exception:
        pass

    # A thread that runs out of memory as it starts (its stack the last
    # mapping the address-space limit allows) fails Thread.start rather than
    # leaving it waiting for ever.
    threadstart.guard_thread_starts()
    # Blocks of up to 32 MiB from heaps in huge pages, while it waits.
    hugepages.prepare_execution_heaps()

    # Wait for the task.
    task = recv_task(cmd)
    cmd.close()
    if task is None:
        os._exit(0)  # discarded, or the kernel is gone
    header, data_fds = task
    timeout = float(header.get("timeout") or 120)
    cpu = int(math.ceil(timeout * max(1, os.cpu_count() or 1))) + 2
    sandbox.set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)
    fsize = file_size_limit(header)
    sandbox.set_limit(resource.RLIMIT_FSIZE, fsize, fsize)
    if setup_error is not None:
        body = json.dumps({"ok": False, "internal": "sandbox setup failed: " + setup_error}).encode()
    elif header.get("op") in DATASET_TASKS:
        body = DATASET_TASKS[header["op"]](header, *data_fds)
    else:
        body = task_exec(header)
    flush_std()
    if children.isolated:
        sandbox.end_descendants()
    write_all(res_w, body)
    os.close(res_w)
    os._exit(0)


def file_size_limit(header):
    """The largest file the task may write (RLIMIT_FSIZE): the size of /tmp,
    or, for a profile that writes the dataset's parsed form, its bound
    (header["parsed_max"]) when that is larger. Set once the task is known:
    a limit lowered cannot be raised again."""
    if header.get("op") == "profile":
        return max(config.TMP_SIZE, int(header.get("parsed_max") or 0))
    return config.TMP_SIZE
