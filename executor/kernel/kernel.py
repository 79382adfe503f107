"""The kernel: main (start-up, from the namespaces to the data stack and the
ready frame) and Kernel, which serves Go's requests: loading datasets,
running tasks in execution processes, and, when idle, forking spares and
collapsing its heap back into huge pages."""

import gc
import json
import os
import queue
import resource
import select
import sys
import threading
import time
import traceback

from . import capture, config, hugepages, sandbox, stack
from .children import REAP_WAIT, SPARES, Children
from .datasets import check_name, read_spec
from .libc import PR_SET_DUMPABLE, libc
from .protocol import CTRL_FD, Conn, send_task
from .supervise import supervise
from .tasks import DATASET_TASKS
from .util import human_bytes, log

# How long the kernel must have been idle before it forks a spare (see
# Kernel.serve).
IDLE_BEFORE_FORK = 0.002


class Kernel:
    """Serves the frames from Go on conn (see the package's docstring)."""

    def __init__(self, conn, isolated, main_jobs):
        self.conn = conn
        self.isolated = isolated
        self.children = Children(conn, isolated)
        self.datasets = []
        self.main_jobs = main_jobs  # run by the main thread (on_main_thread)
        self.reserve_held = True  # until a load, or the first task without one
        # A kernel forks no spares before its first load or task: a load
        # discards them, and while they live, the kernel's own writes split
        # the huge pages they share for good (see hugepages).
        self.assigned = False
        # Collapsing the heap back into huge pages (collapse_heap): the
        # steps of the pass under way, the forks when the last pass began (a
        # fork since may have split some), and whether the host can do it at
        # all.
        self.collapse_todo = []
        self.collapsed_at_forks = 0
        self.can_collapse = hugepages.heap_from != 0

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
        conn, children = self.conn, self.children
        while True:
            frame = conn.next_frame()
            if frame is None:
                if conn.eof:
                    os._exit(0)
                short = self.assigned and len(children.spares) < SPARES
                collapse = self.collapse_due()
                watch = [conn] + [fd for fd in children.zombies.values() if fd is not None]
                if short:
                    timeout = IDLE_BEFORE_FORK
                elif collapse:
                    timeout = hugepages.IDLE_BEFORE_COLLAPSE
                else:
                    timeout = 1.0 if children.zombies else None
                try:
                    ready, _, _ = select.select(watch, [], [], timeout)
                except InterruptedError:
                    continue
                if conn in ready:
                    conn.fill()
                elif not ready and short:
                    children.fill_spares(1)
                elif not ready and collapse:
                    self.collapse_heap()
                children.reap_zombies()
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
                    # A profile that writes the parsed form (parsed_max)
                    # has its descriptor after the file's.
                    self.run(header, conn.take_fds(2 if header.get("parsed_max") else 1))
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
        forked = self.children.forks != self.collapsed_at_forks
        return self.can_collapse and self.assigned and bool(self.collapse_todo or forked)

    def collapse_heap(self):
        """Collapses the heap back into huge pages where forks split them
        (see hugepages), a step at a time, until the pass is over or a
        frame from Go waits; the next idle moment resumes it. A range still
        in huge pages costs nearly nothing; a split one, a copy of 2 MiB, as
        the spares keep the pages they share."""
        if not self.collapse_todo:
            self.collapse_todo = hugepages.huge_heap_steps()
            self.collapsed_at_forks = self.children.forks
        while self.collapse_todo:
            ready, _, _ = select.select([self.conn], [], [], 0)
            if ready:
                return
            start, end = self.collapse_todo.pop(0)
            if not hugepages.collapse(start, end):
                # No MADV_COLLAPSE on this host: the small pages stay.
                self.can_collapse = False
                self.collapse_todo = []
                return

    def load(self, header):
        """Loads the datasets of a load request (their descriptors came with it)."""
        specs = header.get("datasets") or []
        fds = self.conn.take_fds(sum(2 if spec.get("parsed") else 1 for spec in specs))
        self.children.discard_spares()  # they were forked without these datasets
        # Once they are gone, the kernel's memory is its own again: what the
        # load writes does not split the huge pages (see hugepages).
        self.children.reap_zombies(wait=REAP_WAIT)
        try:
            loaded = self.on_main_thread(self.read_datasets, specs, fds)
        except Exception as e:
            self.conn.send({"type": "error", "id": header.get("id", 0), "message": str(e)})
            return
        finally:
            for fd in fds:
                os.close(fd)
        self.conn.send({"type": "loaded", "id": header.get("id", 0), "datasets": loaded,
                        "memory": hugepages.own_memory()})

    def read_datasets(self, specs, fds):
        """Reads the datasets into stack.BASE (on the main thread: they stay
        in the main heap) and returns their shapes. fds are each spec's
        file, followed by its parsed form's when the spec says "parsed";
        takes the descriptors it reads out of fds."""
        base = stack.BASE
        loaded = []
        names = []
        for i, spec in enumerate(specs):
            name = spec.get("name")
            check_name(name, i == 0)
            if name in names:
                raise ValueError("two datasets are named %r" % name)
            names.append(name)
        for spec in specs:
            fd = fds.pop(0)
            parsed_fd = fds.pop(0) if spec.get("parsed") else None
            name = spec["name"]
            try:
                frame = read_spec(spec, fd, parsed_fd)
            except MemoryError:
                raise MemoryError("dataset %r does not fit in the memory limit of %s" % (name, human_bytes(config.MEMORY)))
            except Exception as e:
                raise ValueError("dataset %r: %s: %s" % (name, type(e).__name__, e))
            base[name] = frame
            loaded.append({"name": name, "rows": int(frame.shape[0]), "columns": int(frame.shape[1])})
        if names and "df" not in names:
            base["df"] = base[names[0]]
        self.datasets = names
        gc.collect()
        gc.freeze()
        hugepages.release_heap_reserve()
        self.reserve_held = False
        hugepages.adopt_large_mappings()
        return loaded

    # -- running a task ----------------------------------------------------

    def run(self, header, data_fds):
        """Runs one task (exec or a dataset task, with the descriptors
        data_fds) in a child and reports its result."""
        children = self.children
        rid = header.get("id", 0)
        timeout = float(header.get("timeout") or 120)
        # The processes of earlier executions are gone before this one
        # starts: it sees nothing of them, even in /proc. One that delivered
        # its result ended them itself (sandbox.end_descendants) and need not
        # be waited for: it is reaped once it has finished exiting.
        children.reap_zombies(wait=REAP_WAIT if children.stragglers else 0.0)
        children.stragglers = False
        if self.reserve_held and self.assigned:  # a kernel without datasets: no load comes
            self.on_main_thread(hugepages.release_heap_reserve)
            self.reserve_held = False
        if header.get("op") == "exec" and not header.get("probe"):
            self.prepare_stack(header.get("code"))
        child = None
        try:
            for attempt in range(2):
                child = children.take()
                try:
                    send_task(child.cmd, header, data_fds)
                    break
                except OSError:
                    # the child died while waiting; try a fresh one
                    children.end_child(child)
                    child = None
                    if attempt == 1:
                        raise
        except OSError as e:
            close_all(data_fds)
            self.conn.send({"type": "result", "id": rid, "status": "fork_failed", "message": str(e)})
            return
        close_all(data_fds)
        started = time.monotonic()
        self.conn.send({"type": "started", "id": rid})
        children.running = child
        try:
            if not children.spares:
                # Executions back to back: fork the next one's process now,
                # on another core, rather than between this result and the
                # next task.
                children.fill_spares(1)
            reply, body = supervise(self.conn, children, rid, child, timeout, started)
        finally:
            children.running = None
        self.conn.send(reply, body)


    def prepare_stack(self, code):
        """Imports the parts of the scientific stack that code names and the
        kernel has not imported (stack.wanted), on the main thread (they
        stay in the main heap), and discards the spares forked without
        them. A probe's code (the executor's self-test) imports what it
        names in its own process: the kernel stays light."""
        parts = stack.wanted(code)
        if not parts or not self.on_main_thread(stack.import_heavy, parts):
            return
        gc.collect()
        gc.freeze()
        self.children.discard_spares()
        self.children.reap_zombies(wait=REAP_WAIT)


def close_all(fds):
    """Closes the descriptors fds (None: none)."""
    for fd in fds or ():
        os.close(fd)


def import_stack():
    """Imports the data stack, hooks the capture into it, and warms it up."""
    stack.import_stack()
    capture.install_hooks()
    stack.warm_up()


def main():
    """Runs the kernel: argv[1] is its configuration, fd 3 its control socket."""
    config.load(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
    sandbox.close_inherited_fds()
    isolated = sandbox.enter_namespaces() if config.ISOLATE else False
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    sys.stdout = sys.stderr  # fd 1 is not the protocol, but keep it quiet anyway
    conn = Conn(CTRL_FD)
    started = time.monotonic()
    hugepages.reserve_huge_heap()
    try:
        import_stack()
    except BaseException as e:  # noqa: B036
        conn.send({"type": "fatal", "message": "importing the data stack failed: %s: %s" % (type(e).__name__, e)})
        os._exit(1)
    imported = time.monotonic() - started
    if config.MEMORY > 0:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (config.MEMORY, config.MEMORY))
        except (ValueError, OSError) as e:
            log("cannot set the memory limit: %s" % e)
    gc.collect()
    gc.freeze()
    ready = {
        "type": "ready",
        "isolated": isolated,
        "python": sys.version.split()[0],
        "import_seconds": round(imported, 3),
        "seccomp": sandbox.seccomp_mode(),
        "memory": hugepages.own_memory(),
    }
    # The kernel serves from a thread of its own, which glibc gives a malloc
    # arena of its own: the serve loop's allocations, its Kernel and Conn
    # included, land there and not in the heap that holds the data stack and
    # the datasets (see hugepages). The main thread stays to load the
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
