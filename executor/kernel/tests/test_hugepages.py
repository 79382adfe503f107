"""Tests of kernel.hugepages.prepare_execution_heaps: in a process forked
from a thread, as an execution is forked from the kernel's serve thread,
blocks of a few MiB come from heaps advised huge pages, not from mappings of
their own, and stay there once freed."""

import ctypes
import os
import threading
import unittest

from kernel import hugepages
from kernel.libc import libc


def in_forked_child(check):
    """Runs check() in a process forked from a thread; returns its exit
    code (0: check returned True)."""
    codes = []

    def fork():
        pid = os.fork()
        if pid == 0:
            ok = False
            try:
                ok = check()
            finally:
                os._exit(0 if ok else 1)
        codes.append(os.waitpid(pid, 0)[1])

    t = threading.Thread(target=fork)
    t.start()
    t.join()
    return os.waitstatus_to_exitcode(codes[0])


def chunk_flags(p):
    return ctypes.c_size_t.from_address(p - 8).value & 7


class PrepareExecutionHeapsTest(unittest.TestCase):
    def test_large_blocks_from_advised_heaps(self):
        def check():
            hugepages.C_HEAP = True
            advised = hugepages.prepare_execution_heaps()
            if not advised:
                return False
            blocks = [libc.malloc(16 << 20) for _ in range(3)]
            # (A block in the arena's own heap may begin below the part
            # advised, from the huge page above its start.)
            inside = all(any(a < p + (16 << 20) - hugepages.HUGE_PAGE and p + (16 << 20) <= b for a, b in advised)
                         for p in blocks)
            from_heaps = all(chunk_flags(p) & hugepages.IS_MMAPPED == 0 for p in blocks)
            for p in blocks:
                libc.free(p)
            # Freed, they stay in the heap: the next one takes the same place.
            again = libc.malloc(16 << 20)
            libc.free(again)
            return inside and from_heaps and again in blocks

        self.assertEqual(in_forked_child(check), 0)

    def test_without_c_heap(self):
        def check():
            hugepages.C_HEAP = False
            return hugepages.prepare_execution_heaps() == []

        self.assertEqual(in_forked_child(check), 0)

    def test_address_space_left(self):
        saved = hugepages.config.MEMORY
        try:
            hugepages.config.MEMORY = 0
            self.assertEqual(hugepages.address_space_left(), 1 << 40)
            hugepages.config.MEMORY = 1 << 20  # far below what the process maps
            self.assertEqual(hugepages.address_space_left(), 0)
        finally:
            hugepages.config.MEMORY = saved


if __name__ == "__main__":
    unittest.main()
