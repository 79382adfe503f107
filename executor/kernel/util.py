"""Small helpers shared by the kernel's modules: its log, sizes in words,
whole writes to a descriptor, flushing an execution's stdout and stderr."""

import os
import sys


def log(*args):
    """Writes a line to the kernel's stderr (which Go keeps the tail of)."""
    try:
        print("kernel:", *args, file=sys.__stderr__, flush=True)
    except Exception:
        pass


def human_bytes(n):
    """A size in bytes as words: 1536 -> "1.5 KiB"."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return ("%d %s" % (n, unit)) if n == int(n) else ("%.1f %s" % (n, unit))
        n /= 1024


def write_all(fd, data):
    """Writes all of data to fd; gives up silently when fd is gone."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return
        view = view[n:]


def flush_std():
    """Flushes sys.stdout and sys.stderr, whatever they have become."""
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass
