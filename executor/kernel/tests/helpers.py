"""Helpers shared by the tests: the plotting part of the data stack, once,
with the capture's hooks in it, and dataset files as descriptors."""

import os
import tempfile
import warnings

os.environ.setdefault("MPLBACKEND", "Agg")

from kernel import capture, stack  # noqa: E402

_ready = False


def plotting():
    """Imports numpy, pandas, matplotlib and plotly into stack.M (once),
    installs the capture's hooks, and fills stack.BASE with what the tests'
    executions use; returns stack.M."""
    global _ready
    if not _ready:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # plotly's use of numpy
            stack.import_plotting()
        capture.install_hooks()
        m = stack.M
        stack.BASE.update(__name__="__main__", pd=m["pd"], np=m["np"], px=m["px"], go=m["go"],
                          pio=m["pio"], plt=m["plt"], matplotlib=m["matplotlib"])
        _ready = True
    return stack.M


def fd_of(data, suffix=""):
    """A read-only descriptor of a file holding data (bytes), as the kernel
    gets a dataset; the file itself is already gone."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        return os.open(f.name, os.O_RDONLY)


def is_open(fd):
    """Whether fd is an open descriptor."""
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
