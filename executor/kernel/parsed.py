"""A dataset's parsed form: the cleaned DataFrame that read_dataset made of
the file, pickled (protocol 5) in a small dict

    {"version": VERSION, "format": ..., "sheet": ..., "frame": DataFrame}

It is made inside the sandbox, by the upload's sandboxed reader (write,
called by tasks.task_profile) into a descriptor Go passes, and read inside
the sandbox, by the chat's own kernel (read), which falls back to the file
on any problem. The server only stores the bytes; it never unpickles them.

The frame is pickled before the stored column selection: read applies it
as read_dataset does, so that a dataset whose columns change later reads
the same form.
"""

import os
import pickle

from .stack import M
from .util import log

VERSION = 1
PROTOCOL = 5


class TooLarge(Exception):
    """The parsed form would be larger than its bound."""


class BoundedWriter:
    """A binary file object on a descriptor that refuses to write past
    max_bytes (TooLarge): a huge frame stops early instead of filling the
    disk. Writes go straight to the descriptor, without a copy."""

    def __init__(self, fd, max_bytes):
        self.fd = fd
        self.max = max_bytes
        self.written = 0

    def write(self, data):
        view = raw_bytes(data)
        size = len(view)
        if self.written + size > self.max:
            raise TooLarge("the parsed form is larger than %d bytes" % self.max)
        while view:
            n = os.write(self.fd, view)
            self.written += n
            view = view[n:]
        return size


def raw_bytes(data):
    """data (bytes, or the PickleBuffer of an array that pickle streams
    straight to the file: C or Fortran contiguous) as a flat memoryview of
    its bytes, in memory order, as pickle wrote them."""
    if isinstance(data, pickle.PickleBuffer):
        return data.raw()
    return memoryview(data).cast("B")


def write(fd, frame, fmt, sheet, max_bytes):
    """Pickles frame with its format and sheet to fd (a writable, empty
    file), at most max_bytes, and returns the bytes written. Raises on any
    problem (TooLarge past the bound, OSError); does not close fd."""
    out = BoundedWriter(fd, max_bytes)
    doc = {"version": VERSION, "format": normal_format(fmt), "sheet": sheet or "", "frame": frame}
    pickle.dump(doc, out, protocol=PROTOCOL)
    return out.written


def normal_format(fmt):
    return (fmt or "").lower()


def read(fd, fmt, sheet):
    """The frame of the parsed form in fd (closed), or None when it is not
    one for this format and sheet (another version, another sheet, a
    corrupt pickle, no DataFrame): the caller then reads the file. Never
    raises but MemoryError."""
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            doc = pickle.load(f)
    except MemoryError:
        raise
    except BaseException as e:  # noqa: B036  (a corrupt pickle may raise anything)
        log("parsed form unreadable (%s: %s); reading the file" % (type(e).__name__, e))
        return None
    problem = check(doc, fmt, sheet)
    if problem:
        log("parsed form not used (%s); reading the file" % problem)
        return None
    return doc["frame"]


def check(doc, fmt, sheet):
    """Why doc is not the parsed form of a dataset of this format and sheet
    (empty when it is)."""
    if not isinstance(doc, dict):
        return "not a dict but %s" % type(doc).__name__
    if doc.get("version") != VERSION:
        return "version %r, not %d" % (doc.get("version"), VERSION)
    if doc.get("format") != normal_format(fmt):
        return "format %r, not %r" % (doc.get("format"), normal_format(fmt))
    if doc.get("sheet") != (sheet or ""):
        return "sheet %r, not %r" % (doc.get("sheet"), sheet or "")
    if not isinstance(doc.get("frame"), M["pd"].DataFrame):
        return "no DataFrame but %s" % type(doc.get("frame")).__name__
    return ""
