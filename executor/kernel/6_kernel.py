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
