"""The kernel's C heap in transparent huge pages, and its own memory.

Every execution is a fork of the kernel, and a fork copies the page tables
of the kernel's memory; the execution's exit tears its copy down. With 4 KiB
pages the ~200 MB of a loaded kernel are ~50,000 entries each way, most of
an execution's cost; with 2 MiB pages they are a few hundred. The kernel
runs with PYTHONMALLOC=malloc, so that Python's objects live in the C heap
(pymalloc's 1 MiB arenas cannot hold a huge page), and advises that heap to
use transparent huge pages.

A huge page stays whole only while the kernel does not write to it: the
kernel always has children (the spares), so a write copies the 4 KiB page
written to and splits the huge page into small ones. Reference
counts make writes to the objects the serve loop uses unavoidable, but its
allocations need not fall all over the heap: the loop runs in a thread,
whose malloc arena is apart from the main heap, and the main thread, idle
otherwise, reads the datasets into the main heap. Measured on 2 cores: 100
to 150 of a kernel's 200 MB stay in huge pages (65 MB when the loop ran in
the main thread); back-to-back executions went from 16-18 ms to 8-10 ms.
A kernel forks no spares before its chat's first load or task: a fresh
kernel has all of its 178 MB in huge pages, and every fork until the load
costs some (the executor's self-test, one fork, costs the first kernel 42 MB
of them). What the kernel's writes split, it collapses back into huge pages
once it is idle (Kernel.collapse_heap): a loaded kernel's 4 KiB pages go
from 60-87 MB to 20 MB, and 40-50 MB after a few hundred executions back to
back; executions back to back cost about a tenth less.

What a load allocates beyond the reserve (a dataset of several hundred MB:
its arrays are mappings of their own, or the heap grown past the reserve)
would get small pages, and a 2,000,000-row frame's 300 MB made each fork
and exit cost 40 to 50 ms. Once the datasets are read, the kernel advises
huge pages for every large anonymous mapping it holds and collapses them
(adopt_large_mappings, before any spare shares them); the collapse passes
go over them too. Measured on 2 cores with that frame: a fork and exit
from 51 to 10 ms.

An execution's own memory is the other side. The kernel's mallopt settings
(reserve_huge_heap, release_heap_reserve) make every block of 128 KiB or
more a mapping of its own, unmapped when freed: each of a computation's
temporary arrays is zeroed there one 4 KiB fault at a time. An execution's
process, forked from the serve thread, allocates from that thread's arena;
while it waits for its task it makes that arena serve blocks up to 32 MiB
from heaps of its own advised huge pages, kept once freed
(prepare_execution_heaps). Measured on 2 cores with the 2,000,000-row frame,
df.groupby('region')['price'].mean() in an execution: page faults from
13,400 to 1,400, its system time from 65 to 18-23 ms (the medians of 15
executions, twice; user time unchanged, 130-140 ms, as the warm pandas
process's, whose own faults cost it 33-47 ms); an idle spare maps 131 MB
more (two heaps) but holds 3 MB of them. Touching 64 MB of them ahead in
each spare as well took the system time to 13-28 ms only, for 64 MB more per
spare: not done. The two heaps count in the execution's address-space limit
(config.MEMORY), which a thread bomb reaches after a few threads, with or
without them; that it ends there with a RuntimeError, never waiting for a
thread that cannot start, is threadstart's part.

Best effort: without THP the kernel keeps small pages and works the same.
"""

import ctypes
import errno
import os

from . import config
from .libc import MADV_COLLAPSE, MADV_HUGEPAGE, M_MMAP_THRESHOLD, M_TOP_PAD, M_TRIM_THRESHOLD, libc

HUGE_PAGE = 2 << 20
# What one MADV_COLLAPSE covers, between two looks at the connection, and how
# long the kernel must have been idle before it collapses (Kernel.collapse_heap).
COLLAPSE_STEP = HUGE_PAGE
IDLE_BEFORE_COLLAPSE = 0.05
# Python's objects are in the C heap (kernelEnv sets it).
C_HEAP = os.environ.get("PYTHONMALLOC") == "malloc"

heap_from = 0  # where the reserve begins (reserve_huge_heap); 0: none
# The large mappings adopted after a load (adopt_large_mappings), as
# huge-page-aligned (start, end) ranges.
adopted = []
# The smallest mapping adopt_large_mappings advises: two huge pages, so that
# an aligned huge page fits in it whatever its alignment.
ADOPT_MIN = 2 * HUGE_PAGE
# An execution's heaps (prepare_execution_heaps): glibc's heaps of a thread's
# arena are HEAP_MAX long and aligned (64 MiB on 64-bit: twice glibc's
# largest mmap threshold, HEAP_MAX // 2, the block size from which
# malloc maps blocks of their own); an execution's process makes
# EXEC_BLOCKS blocks of EXEC_BLOCK, two to a heap.
HEAP_MAX = 64 << 20
EXEC_BLOCK = 30 << 20
EXEC_BLOCKS = 6
# The flags in a chunk's size (glibc's malloc.c).
IS_MMAPPED = 2
NON_MAIN_ARENA = 4


def reserve_huge_heap():
    """Grows the C heap by config.HEAP_RESERVE at once and advises huge pages for it.

    The heap grows by brk, and each growth is a new mapping without the
    advice, so the heap is grown once, ahead, by a large pad: what the imports
    and the datasets then allocate is backed by huge pages as it is touched.
    (glibc's glibc.malloc.hugetlb tunable does this on every growth, but it
    needs /sys/kernel/mm/transparent_hugepage, which the sandbox does not
    show.) release_heap_reserve undoes the pad once the kernel is loaded.
    """
    if not C_HEAP:
        return
    libc.mallopt(M_TRIM_THRESHOLD, 2 * config.HEAP_RESERVE)
    libc.mallopt(M_TOP_PAD, config.HEAP_RESERVE)
    start = libc.sbrk(0)
    global heap_from
    heap_from = (start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
    held = []
    # Allocate until the heap grows (its top may have room left); each block
    # is below the mmap threshold, so it comes from the heap.
    while libc.sbrk(0) == start and len(held) < 64:
        held.append(libc.malloc(96 << 10))
    for p in held:
        libc.free(p)
    advise_heap()


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
    and of the mappings adopted after a load, COLLAPSE_STEP long at most:
    what Kernel.collapse_heap goes over."""
    ranges = [((max(start, heap_from) + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), end & ~(HUGE_PAGE - 1))
              for start, end in heap_mappings()]
    steps = []
    for start, end in ranges + [r for r in adopted if r not in ranges]:
        steps.extend((a, min(a + COLLAPSE_STEP, end)) for a in range(start, end, COLLAPSE_STEP))
    return steps


def large_mappings():
    """Returns the kernel's private, writable, anonymous mappings (the heap
    included) of ADOPT_MIN bytes or more whose pages are mostly resident,
    huge-page-aligned. Mostly resident: a thread's stack, or a reserve no one
    touched, would grow to whole huge pages when collapsed."""
    ranges = []
    current = None
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                fields = line.split()
                if "-" in fields[0] and not fields[0].endswith(":"):
                    current = None
                    anonymous = len(fields) == 5 or (len(fields) == 6 and fields[5] == "[heap]")
                    if anonymous and fields[1].startswith("rw") and fields[1][3] == "p":
                        start, end = (int(x, 16) for x in fields[0].split("-"))
                        if end - start >= ADOPT_MIN:
                            current = (start, end)
                elif current is not None and fields[0] == "Rss:":
                    start, end = current
                    if (int(fields[1]) << 10) * 2 >= end - start:
                        ranges.append(((start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), end & ~(HUGE_PAGE - 1)))
                    current = None
    except (OSError, ValueError, IndexError):
        pass
    return [(start, end) for start, end in ranges if end > start]


def adopt_large_mappings():
    """Advises huge pages for the large mappings a load left (see the module's
    doc) and collapses them now, while no child shares them."""
    global adopted
    adopted = large_mappings()
    for start, end in adopted:
        libc.madvise(start, end - start, MADV_HUGEPAGE)
        if not collapse(start, end):
            break  # no MADV_COLLAPSE on this host


def collapse(start, end):
    """Collapses [start, end) of the heap into huge pages; returns False when
    the host cannot (no MADV_COLLAPSE: Linux before 6.1, or transparent huge
    pages off), True otherwise (whether or not it could this time)."""
    return not (libc.madvise(start, end - start, MADV_COLLAPSE) != 0 and ctypes.get_errno() == errno.EINVAL)


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
    libc.mallopt(M_TOP_PAD, 128 << 10)
    libc.mallopt(M_TRIM_THRESHOLD, 128 << 10)
    # Freeing a block of 64 KiB or more makes glibc trim the top of the heap
    # (the untouched rest of the reserve) when it exceeds the threshold.
    libc.free(libc.malloc(96 << 10))


def advise_heap():
    """Advises transparent huge pages for the whole C heap."""
    for start, end in heap_mappings():
        libc.madvise(start, end - start, MADV_HUGEPAGE)


def prepare_execution_heaps():
    """In an execution's process, while it waits for its task: makes its
    arena serve blocks up to HEAP_MAX // 2 from heaps in huge pages, which
    it keeps when they are freed; returns the (start, end) ranges advised.

    The process is forked from the kernel's serve thread, and allocates
    from that thread's arena, whose heaps glibc maps HEAP_MAX at a time,
    HEAP_MAX-aligned. By default (the kernel's M_TRIM_THRESHOLD and
    M_TOP_PAD: see reserve_huge_heap), every block of 128 KiB or more is a
    mapping of its own, its 4 KiB pages zeroed one fault at a time and
    unmapped when it is freed. Here malloc maps blocks only from
    HEAP_MAX // 2 on (its largest threshold), and heaps are grown HEAP_MAX at
    a time and never trimmed (M_TOP_PAD); EXEC_BLOCKS blocks of EXEC_BLOCK
    make new heaps, which are advised huge pages, and are freed, their
    heaps left for the task's blocks. Of a heap the arena had before (it
    holds the kernel's pages, which huge pages would copy), only what lies
    above the first block is advised. The heaps count in the address-space
    limit (config.MEMORY) as they are mapped: they take a quarter of what
    is left of it at most."""
    if not C_HEAP:
        return []
    libc.mallopt(M_MMAP_THRESHOLD, HEAP_MAX // 2)
    libc.mallopt(M_TOP_PAD, HEAP_MAX)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    held = []
    for _ in range(min(EXEC_BLOCKS, address_space_left() // (4 * EXEC_BLOCK))):
        p = libc.malloc(EXEC_BLOCK)
        if not p:
            break  # the address-space limit
        held.append(p)
    # The lowest block of each heap. A block's chunk header (the size before
    # it) tells whether it is from a heap (NON_MAIN_ARENA): a process forked
    # from the main thread allocates from the main arena, which has none.
    lowest = {}
    for p in sorted(held):
        if ctypes.c_size_t.from_address(p - 8).value & (IS_MMAPPED | NON_MAIN_ARENA) == NON_MAIN_ARENA:
            lowest.setdefault(p & ~(HEAP_MAX - 1), p)
    advised = []
    for heap, p in sorted(lowest.items()):
        # A new heap's first block follows its header; in an older heap,
        # the block is above what the heap held.
        start = heap if p - heap < 4096 else (p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
        libc.madvise(start, heap + HEAP_MAX - start, MADV_HUGEPAGE)
        advised.append((start, heap + HEAP_MAX))
    for p in held:
        libc.free(p)
    return advised


def address_space_left():
    """Returns the bytes of address space left under the limit
    (config.MEMORY; 1 TiB without one)."""
    if config.MEMORY <= 0:
        return 1 << 40
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, config.MEMORY - used)
