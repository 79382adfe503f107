"""Describing an execution's error: its type and message, the line of the
code it came from and the agent block (`# <agent> code start/end`) holding
that line, the limit of the sandbox it reached if any, and the traceback
from the code's first frame on (the kernel's frames left out)."""

import errno
import linecache
import re
import traceback

from . import config
from .util import human_bytes

CODE_FILE = "<code>"  # the file name an execution's code is compiled as
MAX_MESSAGE = 10000
MAX_TRACEBACK = 50000

BLOCK_START = re.compile(r"^\s*#\s*(.+?)\s+code\s+start\s*$", re.IGNORECASE)
BLOCK_END = re.compile(r"^\s*#\s*(.+?)\s+code\s+end\s*$", re.IGNORECASE)


def agent_blocks(code):
    """Returns [(agent, first line, last line)] for `# <agent> code start/end` blocks."""
    blocks = []
    current = None
    lines = code.splitlines()
    for i, line in enumerate(lines, 1):
        m = BLOCK_START.match(line)
        if m:
            if current is not None:
                blocks.append((current[0], current[1], i - 1))
            current = (m.group(1).strip(), i)
            continue
        m = BLOCK_END.match(line)
        if m and current is not None:
            blocks.append((current[0], current[1], i))
            current = None
    if current is not None:
        blocks.append((current[0], current[1], len(lines)))
    return blocks


def agent_for_line(code, line):
    """The agent whose block holds line (1-based) of code, or ""."""
    if not line:
        return ""
    for agent, first, last in agent_blocks(code):
        if first <= line <= last:
            return agent
    return ""


def limit_reached(e):
    """Names the limit of the sandbox that error e comes from, or "": the
    memory limit, the process limit (processes and threads count alike), or
    the size of /tmp (which is also the largest file an execution can write)."""
    if isinstance(e, MemoryError):
        return "the memory limit of %s" % human_bytes(config.MEMORY) if config.MEMORY else "the available memory"
    process_limit = "its limit of %d processes and threads, or its memory limit" % config.NPROC
    if isinstance(e, RuntimeError) and "can't start new thread" in str(e):
        return process_limit
    if isinstance(e, OSError):
        if e.errno == errno.EAGAIN and e.filename is None and starts_process(e):
            return process_limit
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return "the %s limit of /tmp and of any file it writes" % human_bytes(config.TMP_SIZE)
    return ""


def starts_process(e):
    """Whether error e was raised where a process is started: os.fork in the
    code, or subprocess and multiprocessing (EAGAIN means something else on
    non-blocking I/O)."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    if code.co_name in ("_execute_child", "_launch", "_Popen"):
        return True
    return "fork" in linecache.getline(code.co_filename, tb.tb_lineno)


def describe_error(e, code):
    """The error of an execution of code (compiled as CODE_FILE) as the
    result's error: type, message, line, agent and traceback."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != CODE_FILE:
        tb = tb.tb_next
    line = 0
    t = tb
    while t is not None:
        if t.tb_frame.f_code.co_filename == CODE_FILE:
            line = t.tb_lineno
        t = t.tb_next
    etype = type(e).__name__
    try:
        message = str(e)
    except Exception:
        message = "<unprintable %s>" % etype
    if isinstance(e, SyntaxError):
        message = e.msg or message
        if e.filename == CODE_FILE and e.lineno:
            line = e.lineno
    if isinstance(e, MemoryError):
        etype = "MemoryError"
    limit = limit_reached(e)
    if limit:
        message = ("%s (this execution reached %s)" % (message, limit)) if message else ("this execution reached %s" % limit)
    try:
        text = "".join(traceback.format_exception(type(e), e, tb))
    except Exception:
        text = "%s: %s\n" % (etype, message)
    return {
        "type": etype,
        "message": message[:MAX_MESSAGE],
        "line": line,
        "agent": agent_for_line(code, line),
        "traceback": text[-MAX_TRACEBACK:],
    }
