"""The files an execution leaves in its output folder (config.OUTPUT_DIR,
/tmp/outputs in the execution's private /tmp), read by the execution's own
process inside its sandbox and sent back with its result: regular files
only (symbolic links are not followed, special files are skipped), their
names made safe, at most config.OUTPUT_MAX_FILES files and
config.OUTPUT_MAX_BYTES bytes together, within what is left of the result's
budget (config.MAX_RESULT). The server never looks into the sandbox's
filesystem."""

import base64
import os
import re
import stat

from . import config
from .util import human_bytes

# The most directory entries looked at, so that a folder of a million empty
# files cannot hold up the result.
MAX_ENTRIES = 1000
MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def prepare():
    """Creates the output folder (empty in a new execution's /tmp)."""
    try:
        os.makedirs(config.OUTPUT_DIR, exist_ok=True)
    except OSError:
        pass


def safe_name(rel):
    """A file name made of rel (a path under the output folder): letters,
    digits, ".", "_" and "-", no leading dot, at most MAX_NAME characters
    with its extension kept."""
    name = _UNSAFE.sub("_", rel.replace(os.sep, "_")).lstrip("._-")
    if not name:
        name = "file"
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_NAME]
    return name


def _unique(name, taken):
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 2
    while True:
        cand = "%s-%d%s" % (stem, n, "." + ext if dot else "")
        if cand not in taken:
            return cand
        n += 1


def _read_regular(path, limit):
    """The bytes of the regular file at path (None when it is not one, or is
    larger than limit: then its size). Never follows a symbolic link nor
    blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None, -1
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, -1
        if st.st_size > limit:
            return None, st.st_size
        chunks, left = [], limit + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        data = b"".join(chunks)
        if len(data) > limit:
            return None, len(data)
        return data, len(data)
    finally:
        os.close(fd)


def collect(budget, note):
    """The output folder's files as [{"name", "size", "data" (base64)}], in
    the order of their paths; budget is what is left of the result's bytes;
    note(text) tells the execution's stderr of each file left out."""
    root = config.OUTPUT_DIR
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            return []
    except OSError:
        return []
    max_files, max_bytes = config.OUTPUT_MAX_FILES, config.OUTPUT_MAX_BYTES
    files, taken, total, seen = [], set(), 0, 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for fn in sorted(filenames):
            seen += 1
            if seen > MAX_ENTRIES:
                note("the output folder has more than %d entries; the rest were not looked at" % MAX_ENTRIES)
                return files
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root)
            if len(files) >= max_files:
                note("%s was not kept: at most %d output files (OUTPUT_MAX_FILES)" % (rel, max_files))
                continue
            left = min(max_bytes - total, (budget * 3) // 4)
            data, size = _read_regular(path, max(left, 0))
            if data is None:
                if size >= 0:
                    note("%s was not kept: the output files may hold %s together (OUTPUT_MAX_BYTES)"
                         % (rel, human_bytes(max_bytes)))
                else:
                    note("%s was not kept: only regular files are (not links, folders or devices)" % rel)
                continue
            try:
                os.unlink(path)  # sent once (an unisolated kernel's /tmp stays)
            except OSError:
                pass
            name = _unique(safe_name(rel), taken)
            taken.add(name)
            encoded = base64.b64encode(data).decode("ascii")
            files.append({"name": name, "size": len(data), "data": encoded})
            total += len(data)
            budget -= len(encoded) + len(name) + 64
    return files


def discard():
    """Removes the output folder and what is in it (links are removed, not
    followed): an execution whose files are not wanted (a frame's) leaves
    nothing for the next one where /tmp is shared (no sandbox)."""
    import shutil

    shutil.rmtree(config.OUTPUT_DIR, ignore_errors=True)
