"""Tests of kernel.threadstart: Thread.start, guarded, starts threads as
before, and raises RuntimeError rather than waiting for ever when the new
thread's stack would fit in the address-space limit with too little to
spare for the thread to start, or when the thread ends before it started."""

import os
import resource
import signal
import threading
import time
import unittest
from unittest import mock

from kernel import threadstart

PAGE = os.sysconf("SC_PAGE_SIZE")
STACK = 1 << 20
# The exit codes of a child of start_at_limit.
STARTED, REFUSED, OUT_OF_MEMORY = 0, 2, 3


def start_at_limit(slack, guard):
    """In a forked process: sets the address-space limit to what the process
    maps, a thread's stack (STACK and its guard page) and slack pages more,
    then starts a thread. Returns the process's exit code: STARTED, REFUSED
    (RuntimeError: no room for the stack), OUT_OF_MEMORY (RuntimeError: the
    thread ran out of memory as it started), or -SIGALRM (start waited for
    more than 5 s)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(5)
            # (The thread that fails writes its MemoryError to stderr.)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            if guard:
                threadstart.guard_thread_starts()
            threading.stack_size(STACK)
            t = threading.Thread(target=time.sleep, args=(0.01,), daemon=True)
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * PAGE
            limit = used + STACK + PAGE + slack * PAGE
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
            try:
                t.start()
                code = STARTED
            except RuntimeError as e:
                code = OUT_OF_MEMORY if "out of memory" in str(e) else REFUSED
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


class GuardedStartTest(unittest.TestCase):
    def setUp(self):
        saved = threading.Thread.start
        self.addCleanup(setattr, threading.Thread, "start", saved)
        self.assertTrue(threadstart.guard_thread_starts())

    def test_starts_and_runs(self):
        ran = []
        t = threading.Thread(target=ran.append, args=(1,))
        t.start()
        t.join()
        self.assertEqual(ran, [1])
        self.assertNotIn(t, threading._limbo)
        with self.assertRaisesRegex(RuntimeError, "only be started once"):
            t.start()

    def test_start_refused(self):
        t = threading.Thread(target=time.sleep, args=(0,))
        with mock.patch.object(threading, "_start_new_thread", side_effect=RuntimeError("can't start new thread")):
            with self.assertRaises(RuntimeError):
                t.start()
        self.assertNotIn(t, threading._limbo)

    def test_no_room(self):
        t = threading.Thread(target=time.sleep, args=(0,))
        with mock.patch.object(threadstart, "room_for_thread", return_value=False):
            with self.assertRaisesRegex(RuntimeError, "can't start new thread"):
                t.start()
        self.assertNotIn(t, threading._limbo)

    def test_thread_gone_before_it_started(self):
        """A thread that ends before its bootstrap has run (out of memory):
        here, one that is never run, its bootstrap dropped."""
        def drop(function, args):  # (a Mock would keep it)
            return 1

        t = threading.Thread(target=time.sleep, args=(0,))
        with mock.patch.object(threading, "_start_new_thread", drop):
            with self.assertRaisesRegex(RuntimeError, "ran out of memory as it started"):
                t.start()
        self.assertNotIn(t, threading._limbo)
        self.assertFalse(t.is_alive())

    def test_fork_while_starting(self):
        """A process forked while another thread starts one can start
        threads."""
        held, release = threading.Event(), threading.Event()

        def hold():
            with threadstart._starting:
                held.set()
                release.wait()

        h = threading.Thread(target=hold)
        h.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.alarm(5)
                t = threading.Thread(target=time.sleep, args=(0,))
                t.start()
                t.join()
                code = 0
            finally:
                os._exit(code)
        release.set()
        h.join()
        self.assertEqual(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), 0)

    def test_stack_size_kept(self):
        saved = threading.stack_size(1 << 20)
        try:
            t = threading.Thread(target=time.sleep, args=(0,))
            t.start()
            t.join()
            self.assertEqual(threading.stack_size(1 << 20), 1 << 20)
        finally:
            threading.stack_size(saved)

    def test_default_stack(self):
        # 8 MiB and a guard page here (RLIMIT_STACK); at least a page anyway.
        self.assertGreater(threadstart.default_stack(), os.sysconf("SC_PAGE_SIZE"))


class AtTheLimitTest(unittest.TestCase):
    def test_never_waits_for_ever(self):
        """From a few pages short of the stack to more than HEADROOM past
        it, each start starts its thread or raises RuntimeError at once.
        (Unguarded, those whose stack leaves a few pages wait for ever.)"""
        slacks = list(range(-4, 24)) + [threadstart.HEADROOM // PAGE + 64]
        codes = {slack: start_at_limit(slack, guard=True) for slack in slacks}
        self.assertTrue(set(codes.values()) <= {STARTED, REFUSED}, codes)
        self.assertEqual(codes[slacks[-1]], STARTED, codes)


if __name__ == "__main__":
    unittest.main()
