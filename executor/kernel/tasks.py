"""The tasks an execution process runs, each returning the JSON body of its
result: code (task_exec; with header["frame"], one of its DataFrames
serialised, see frames), and the reading of one dataset whose descriptor
comes with the request (task_profile, task_preview, task_inspect)."""

import ast
import base64
import json
import linecache
import os
import sys
import time

from . import capture, config, frames, outputs, parsed
from .capture import Capture
from .datasets import (
    SNIFF_BYTES,
    as_dates,
    check_text,
    clean_frame,
    cell_text,
    column_profile,
    detect_encoding,
    is_missing,
    read_frame,
    read_json,
    read_spec,
    select_columns,
    sniff_delimiter,
)
from .errors import CODE_FILE, MAX_MESSAGE, describe_error
from .limits import check_columns, check_csv, check_xlsx
from .stack import BASE, M
from .util import flush_std, write_all
from .xls import read_xls, xls_sheets

# The executed code may replace json.dumps (the module is shared with it); the
# result is written with the original.
_json_dumps = json.dumps

INSPECT_ROWS = 10
INSPECT_SAMPLE = 1000  # rows read to find the empty ones


def task_exec(header):
    """Runs header["code"] in a copy of BASE; the value of a last expression
    is shown as a notebook would. With header["frame"], once the code has
    run, the frame it names is serialised (frame_body) and sent back in
    place of what the code showed."""
    code = header.get("code") or ""
    cap = Capture()
    capture.current = cap
    ns = dict(BASE)
    ns["display"] = cap.display
    ns["print"] = cap.make_print()
    linecache.cache[CODE_FILE] = (len(code), None, code.splitlines(True), CODE_FILE)
    outputs.prepare()
    ok, err = True, None
    try:
        tree = ast.parse(code, CODE_FILE, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = tree.body.pop()
        exec(compile(tree, CODE_FILE, "exec"), ns)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), CODE_FILE, "eval"), ns)
            cap.show_value(value)
    except SystemExit as e:
        if e.code not in (None, 0):
            ok = False
            err = describe_error(e, code)
            err["type"] = "SystemExit"
            err["message"] = "the code called exit(%r)" % (e.code,)
    except BaseException as e:  # noqa: B036  (user code may raise anything)
        ok = False
        err = describe_error(e, code)
    spec = header.get("frame")
    if spec is not None:
        return frame_body(ok, err, ns, spec)
    try:
        cap.add_leftovers(ns)
    except BaseException as e:  # noqa: B036
        cap.note("figures left behind could not be captured: %r" % e)
    return result_body(ok, err, cap)


def frame_body(ok, err, ns, spec):
    """The result of an execution asked for a frame: its error, or the frame
    (base64) of at most spec["max_bytes"] bytes and what the result may
    carry, or why it could not be had. Figures, tables and files are not
    sent."""
    frame = None
    try:
        outputs.discard()
    except OSError:
        pass
    if ok:
        budget = (config.MAX_RESULT - 64 * 1024) * 3 // 4
        limit = max(0, min(int(spec.get("max_bytes") or budget), budget))
        frame = frames.export(ns, spec, limit)
        if "data" in frame:
            frame["data"] = base64.b64encode(frame["data"]).decode("ascii")
        else:
            frame["limit"] = limit
    flush_std()
    return _json_dumps({"ok": ok, "error": err, "figures": [], "frame": frame, "files": [],
                        "stdout_truncated": getattr(sys.stdout, "truncated", False),
                        "stderr_truncated": getattr(sys.stderr, "truncated", False)},
                       default=str).encode()


def result_body(ok, err, cap):
    """The result of an execution as JSON (the figures are JSON already),
    with the files of its output folder (outputs.collect) in what is left of
    the result's budget."""
    dumps = lambda v: _json_dumps(v, allow_nan=False, default=str).encode()  # noqa: E731
    try:
        tables = dumps(cap.tables)
    except ValueError:
        tables = _json_dumps(cap.tables, default=str).replace("NaN", "null").encode()
    error, images = dumps(err), dumps(cap.images)
    used = sum(len(f) + 1 for f in cap.figures) + len(tables) + len(error) + len(images)
    try:
        files = dumps(outputs.collect(config.MAX_RESULT - used - 4096, cap.note))
    except BaseException as e:  # noqa: B036
        files = b"[]"
        cap.note("the output files could not be read: %r" % e)
    flush_std()
    parts = [
        b'{"ok":', b"true" if ok else b"false",
        b',"error":', error,
        b',"figures":[', b",".join(cap.figures), b"]",
        b',"images":', images,
        b',"tables":', tables,
        b',"files":', files,
        b',"stdout_truncated":', b"true" if getattr(sys.stdout, "truncated", False) else b"false",
        b',"stderr_truncated":', b"true" if getattr(sys.stderr, "truncated", False) else b"false",
        b"}",
    ]
    return b"".join(parts)


def dataset_error(e):
    """The result of a dataset task that failed with e."""
    return json.dumps({"ok": False, "error": {"type": type(e).__name__, "message": str(e)[:MAX_MESSAGE]}}).encode()


def task_profile(header, fd, parsed_fd=None):
    """Rows and each column's profile (datasets.column_profile). With
    parsed_fd (header["parsed_max"] set), the cleaned frame's parsed form is
    written there too (write_parsed), every column kept."""
    spec = header.get("dataset") or {}
    started = time.monotonic()
    writer = None
    try:
        whole = read_frame(fd, spec.get("format"), spec.get("sheet"))
        if parsed_fd is not None:
            writer = start_parsed_writer(header, spec, whole, parsed_fd, started)
            parsed_fd = None
        frame = select_columns(whole, spec.get("columns") or None)
        columns = [column_profile(c, frame[c]) for c in frame.columns]
        body = {"ok": True, "profile": {"rowCount": int(len(frame)), "columns": columns}}
    except BaseException as e:  # noqa: B036
        if parsed_fd is not None:
            os.close(parsed_fd)
        if writer is not None:
            writer.wait()
        return dataset_error(e)
    if writer is not None:
        body["parsed"] = writer.wait()
    return json.dumps(body, allow_nan=False).encode()


class ParsedWriter:
    """The parsed form written beside the profile: by a forked process (the
    frame shared copy-on-write), so that the pickle and the profile run on
    two cores at once; or, when the fork fails, inline (result set)."""

    def __init__(self, pid=0, pipe=-1, result=None):
        self.pid, self.pipe, self.result = pid, pipe, result

    def wait(self):
        """Waits for the writer and returns write_parsed's result."""
        if self.result is not None:
            return self.result
        data = b""
        try:
            while True:
                chunk = os.read(self.pipe, 4096)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(self.pipe)
            os.waitpid(self.pid, 0)
        try:
            self.result = json.loads(data)
        except ValueError:
            self.result = {"bytes": 0, "problem": "the parsed form's writer died"}
        return self.result


def start_parsed_writer(header, spec, frame, fd, started):
    """Starts writing frame's parsed form to fd (closed here) beside the
    profile; see ParsedWriter."""
    try:
        r, w = os.pipe()
    except OSError:
        return ParsedWriter(result=write_parsed(header, spec, frame, fd, started))
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return ParsedWriter(result=write_parsed(header, spec, frame, fd, started))
    if pid == 0:
        code = 0
        try:
            os.close(r)
            write_all(w, json.dumps(write_parsed(header, spec, frame, fd, started)).encode())
        except BaseException:  # noqa: B036
            code = 1
        os._exit(code)
    os.close(w)
    os.close(fd)
    return ParsedWriter(pid=pid, pipe=r)


def write_parsed(header, spec, frame, fd, started):
    """Writes frame's parsed form to fd (closed), within header["parsed_max"]
    bytes, unless the read took more than half the task's time: {"bytes": n},
    or {"bytes": 0, "problem": why not}. The file size limit of the process
    (RLIMIT_FSIZE, set from parsed_max by child_main) stops a runaway write
    too."""
    limit = int(header.get("parsed_max") or 0)
    timeout = float(header.get("timeout") or 120)
    try:
        if time.monotonic() - started > timeout / 2:
            return {"bytes": 0, "problem": "the read took more than half its time; no time left to write it"}
        return {"bytes": parsed.write(fd, frame, spec.get("format"), spec.get("sheet"), limit)}
    except BaseException as e:  # noqa: B036
        return {"bytes": 0, "problem": ("%s: %s" % (type(e).__name__, e))[:MAX_MESSAGE]}
    finally:
        os.close(fd)


def task_preview(header, fd):
    """The columns and first rows (header["limit"], 1 to 1000), as text."""
    spec = header.get("dataset") or {}
    limit = max(1, min(int(header.get("limit") or 10), 1000))
    try:
        frame = read_spec(spec, fd).head(limit)
        frame = frame.assign(**{str(c): as_dates(frame[c]) for c in frame.columns if frame[c].dtype.kind == "M"})
        rows = [[None if is_missing(v) else cell_text(v) for v in row] for row in frame.astype(object).values.tolist()]
        return json.dumps({"ok": True, "preview": {"columns": [str(c) for c in frame.columns], "rows": rows}}).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


def task_inspect(header, fd):
    """Sheets, encoding, delimiter, headers and the first rows of a file, as
    text. A file over the limits (see limits) is refused as a read would
    refuse it, but for the lines of a CSV file past the header, which the
    read checks."""
    pd = M["pd"]
    spec = header.get("dataset") or {}
    fmt = (spec.get("format") or "").lower()
    out = {"sheets": [], "encoding": "", "delimiter": ""}
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            if fmt == "csv":
                head = f.read(SNIFF_BYTES)
                check_text(head)
                enc, sep = detect_encoding(head), sniff_delimiter(head)
                check_csv(f, enc, sep, whole=False)
                frame = pd.read_csv(f, sep=sep, encoding=enc, dtype=str, keep_default_na=False,
                                    nrows=INSPECT_SAMPLE, encoding_errors="replace")
                out["encoding"], out["delimiter"] = enc, sep
            elif fmt == "xlsx":
                import openpyxl

                check_xlsx(f)
                book = openpyxl.load_workbook(f, read_only=True, data_only=True)
                out["sheets"] = list(book.sheetnames)
                book.close()
                f.seek(0)
                sheet = spec.get("sheet") or 0
                frame = pd.read_excel(f, sheet_name=sheet, engine="openpyxl", dtype=str, nrows=INSPECT_SAMPLE)
            elif fmt == "xls":
                out["sheets"] = xls_sheets(f)
                f.seek(0)
                frame = read_xls(f, spec.get("sheet"), nrows=INSPECT_SAMPLE, as_text=True)
            elif fmt == "json":
                frame = read_json(f).head(INSPECT_SAMPLE)
                out["encoding"] = "utf-8"
            else:
                raise ValueError("unsupported dataset format %r" % fmt)
        check_columns(frame.shape[1])
        frame = clean_frame(frame).head(INSPECT_ROWS)
        out["headers"] = [str(c) for c in frame.columns]
        out["rows"] = [["" if is_missing(v) else cell_text(v) for v in row] for row in frame.astype(object).values.tolist()]
        return json.dumps({"ok": True, "inspection": out}).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


# Tasks that read one dataset whose descriptor comes with the request.
DATASET_TASKS = {"profile": task_profile, "preview": task_preview, "inspect": task_inspect}
