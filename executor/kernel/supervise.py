"""Watching one running execution from the kernel: relaying its stdout,
stderr and result (each capped), enforcing its wall-time limit, answering
Go's frames meanwhile (a cancel; anything else is refused as busy), and
turning how it ended into the result frame for Go."""

import os
import select
import signal
import time

from . import config


def supervise(conn, children, rid, child, timeout, started):
    """Watches child, the running execution of request rid started at
    started (time.monotonic), until it ends, is canceled or runs out of
    timeout; returns the result frame for Go: (header, body)."""
    s = Supervision(conn, children, rid, child, started + timeout)
    return s.end(s.watch(), started)


def wait4(pid):
    """os.wait4(pid, 0), retried on EINTR; (pid, None, None) when it is gone."""
    while True:
        try:
            return os.wait4(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return pid, None, None


class Supervision:
    """The state of the watch over one execution (see supervise)."""

    def __init__(self, conn, children, rid, child, deadline):
        self.conn = conn
        self.children = children
        self.rid = rid
        self.child = child
        self.deadline = deadline
        out_r, err_r, res_r = child.out_r, child.err_r, child.res_r
        self.bufs = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        self.caps = {out_r: config.MAX_OUTPUT, err_r: config.MAX_OUTPUT, res_r: config.MAX_RESULT}
        self.cut = {out_r: False, err_r: False, res_r: False}
        self.open_fds = [out_r, err_r, res_r]
        self.wstatus = self.rusage = None
        self.reaped = False

    def drain(self, fd):
        """Reads what fd has; returns False at its end."""
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return True
            except InterruptedError:
                continue
            if not chunk:
                return False
            buf = self.bufs[fd]
            room = self.caps[fd] - len(buf)
            if len(chunk) > room:
                buf += chunk[:max(room, 0)]
                self.cut[fd] = True
            else:
                buf += chunk

    def control(self):
        """Handles the frames received from Go; returns "canceled" on a cancel."""
        conn = self.conn
        result = None
        while True:
            frame = conn.next_frame()
            if frame is None:
                return result
            h = frame[0]
            if h.get("op") == "cancel" and h.get("id") == self.rid:
                result = "canceled"
            elif h.get("op") != "cancel":
                conn.send({"type": "error", "id": h.get("id", 0), "message": "kernel busy"})
                conn.close_stray_fds()

    def watch(self):
        """Waits until the execution ends, or is canceled, or runs out of
        time; returns its status: done, too_large, exited, canceled or
        timeout."""
        conn, child, children = self.conn, self.child, self.children
        res_r = child.res_r
        # Frames may have arrived together with the request (a cancel sent
        # right after it): select would not report them.
        status = self.control()
        while status is None:
            wait = self.deadline - time.monotonic()
            if wait <= 0:
                status = "timeout"
                break
            watch = list(self.open_fds) + [conn]
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
                        children.kill(child.pid)
                        os._exit(0)
                    status = self.control() or status
                elif fd == child.pidfd:
                    child.exited = True
                elif not self.drain(fd):
                    self.open_fds.remove(fd)
                    if fd == res_r and self.bufs[res_r]:
                        # The child wrote its result and closed the pipe: it is
                        # done, whether or not it has finished exiting.
                        status = "done"
            if status is None and self.cut[res_r]:
                status = "too_large"
            if status is None and child.pidfd is None:  # no pidfd: poll
                p, ws, ru = os.wait4(child.pid, os.WNOHANG)
                if p == child.pid:
                    self.wstatus, self.rusage, self.reaped = ws, ru, True
                    child.exited = True
            if status is None and child.exited:
                for fd in list(self.open_fds):
                    if not self.drain(fd):
                        self.open_fds.remove(fd)
                if not self.reaped:
                    _, self.wstatus, self.rusage = wait4(child.pid)
                    self.reaped = True
                ws = self.wstatus
                ok_exit = ws is not None and os.WIFEXITED(ws) and os.WEXITSTATUS(ws) == 0
                status = "done" if (ok_exit and self.bufs[res_r] and res_r not in self.open_fds) else "exited"
        return status

    def end(self, status, started):
        """Ends the execution's process (when it has not ended), takes the
        rest of its output, closes the kernel's ends and returns the result
        frame for Go."""
        child, children = self.child, self.children
        out_r, err_r, res_r = child.out_r, child.err_r, child.res_r
        bufs, cut = self.bufs, self.cut
        if not self.reaped:
            children.kill(child.pid)
        elif not children.isolated:
            try:
                os.killpg(child.pid, signal.SIGKILL)  # whatever the code left behind
            except OSError:
                pass
        for fd in list(self.open_fds):
            self.drain(fd)
        if status == "done" and cut[res_r]:
            status = "too_large"
        reply = {
            "type": "result",
            "id": self.rid,
            "elapsed": round(time.monotonic() - started, 6),
            "stdout": bytes(bufs[out_r]).decode("utf-8", "replace"),
            "stderr": bytes(bufs[err_r]).decode("utf-8", "replace"),
            "stdout_truncated": cut[out_r],
            "stderr_truncated": cut[err_r],
        }
        body = b""
        if status == "exited":
            # Ended before delivering a result: say how.
            if self.rusage is not None:
                reply["cpu_seconds"] = round(self.rusage.ru_utime + self.rusage.ru_stime, 3)
            if self.wstatus is None:
                reply["exit_code"] = -1
            elif os.WIFSIGNALED(self.wstatus):
                status = "signaled"
                reply["signal"] = os.WTERMSIG(self.wstatus)
            else:
                reply["exit_code"] = os.WEXITSTATUS(self.wstatus)
        elif status == "done":
            body = bytes(bufs[res_r])
        reply["status"] = status
        children.stragglers = status != "done" or not children.isolated
        # Close the kernel's ends; reap later (exiting a large process takes a
        # while, and the result need not wait for it).
        for fd in (out_r, err_r, res_r):
            os.close(fd)
        child.cmd.close()
        if self.reaped:
            if child.pidfd is not None:
                os.close(child.pidfd)
        else:
            children.zombies[child.pid] = child.pidfd
        return reply, body
