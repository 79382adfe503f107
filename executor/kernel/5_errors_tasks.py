# ---------------------------------------------------------------------------
# Errors


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
        return "the memory limit of %s" % human_bytes(MEMORY) if MEMORY else "the available memory"
    process_limit = "its limit of %d processes and threads, or its memory limit" % NPROC
    if isinstance(e, RuntimeError) and "can't start new thread" in str(e):
        return process_limit
    if isinstance(e, OSError):
        if e.errno == errno.EAGAIN and e.filename is None and starts_process(e):
            return process_limit
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return "the %s limit of /tmp and of any file it writes" % human_bytes(TMP_SIZE)
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


# ---------------------------------------------------------------------------
# Tasks run in the child

# The executed code may replace json.dumps (the module is shared with it); the
# result is written with the original.
_json_dumps = json.dumps


def task_exec(header):
    global _capture
    code = header.get("code") or ""
    cap = Capture()
    _capture = cap
    ns = dict(BASE)
    ns["display"] = cap.display
    ns["print"] = cap.make_print()
    linecache.cache[CODE_FILE] = (len(code), None, code.splitlines(True), CODE_FILE)
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
    try:
        cap.add_leftovers(ns)
    except BaseException as e:  # noqa: B036
        cap.note("figures left behind could not be captured: %r" % e)
    return result_body(ok, err, cap)


def result_body(ok, err, cap):
    flush_std()
    dumps = lambda v: _json_dumps(v, allow_nan=False, default=str).encode()  # noqa: E731
    try:
        tables = dumps(cap.tables)
    except ValueError:
        tables = _json_dumps(cap.tables, default=str).replace("NaN", "null").encode()
    parts = [
        b'{"ok":', b"true" if ok else b"false",
        b',"error":', dumps(err),
        b',"figures":[', b",".join(cap.figures), b"]",
        b',"images":', dumps(cap.images),
        b',"tables":', tables,
        b',"stdout_truncated":', b"true" if getattr(sys.stdout, "truncated", False) else b"false",
        b',"stderr_truncated":', b"true" if getattr(sys.stderr, "truncated", False) else b"false",
        b"}",
    ]
    return b"".join(parts)


def dataset_error(e):
    return json.dumps({"ok": False, "error": {"type": type(e).__name__, "message": str(e)[:MAX_MESSAGE]}}).encode()


def read_spec(spec, fd):
    return read_dataset(fd, spec.get("format"), spec.get("sheet"), spec.get("columns") or None)


TOP_VALUES = 5


def column_profile(name, series):
    """Name, dtype, nulls, distinct values; min and max of numbers, the most frequent values of the rest."""
    pd = M["pd"]
    col = {"name": str(name), "dtype": str(series.dtype), "nullCount": int(series.isna().sum())}
    values = series.dropna()
    try:
        col["distinctCount"] = int(values.nunique())
    except TypeError:  # unhashable values (lists in JSON)
        values = values.astype(str)
        col["distinctCount"] = int(values.nunique())
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric:
        finite = values[values.abs() != float("inf")] if len(values) else values
        if len(finite):
            col["min"] = float(finite.min())
            col["max"] = float(finite.max())
    else:
        try:
            counts = values.value_counts().head(TOP_VALUES)
        except TypeError:
            counts = values.astype(str).value_counts().head(TOP_VALUES)
        col["topValues"] = [{"value": cell_text(v), "count": int(n)} for v, n in counts.items()]
    return col


def cell_text(v):
    """A cell as text (dates in ISO 8601)."""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def is_missing(v):
    pd = M["pd"]
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def task_profile(header, fd):
    spec = header.get("dataset") or {}
    try:
        frame = read_spec(spec, fd)
        columns = [column_profile(c, frame[c]) for c in frame.columns]
        return json.dumps({"ok": True, "profile": {"rowCount": int(len(frame)), "columns": columns}},
                          allow_nan=False).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


def task_preview(header, fd):
    spec = header.get("dataset") or {}
    limit = max(1, min(int(header.get("limit") or 10), 1000))
    try:
        frame = read_spec(spec, fd).head(limit)
        rows = [[None if is_missing(v) else cell_text(v) for v in row] for row in frame.astype(object).values.tolist()]
        return json.dumps({"ok": True, "preview": {"columns": [str(c) for c in frame.columns], "rows": rows}}).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


INSPECT_ROWS = 10
INSPECT_SAMPLE = 1000  # rows read to find the empty ones


def task_inspect(header, fd):
    """Sheets, encoding, delimiter, headers and the first rows of a file, as text."""
    pd = M["pd"]
    spec = header.get("dataset") or {}
    fmt = (spec.get("format") or "").lower()
    out = {"sheets": [], "encoding": "", "delimiter": ""}
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            if fmt == "csv":
                head = f.read(65536)
                check_text(head)
                enc, sep = detect_encoding(head), sniff_delimiter(head)
                f.seek(0)
                frame = pd.read_csv(f, sep=sep, encoding=enc, dtype=str, keep_default_na=False,
                                    nrows=INSPECT_SAMPLE, encoding_errors="replace")
                out["encoding"], out["delimiter"] = enc, sep
            elif fmt == "xlsx":
                import openpyxl

                book = openpyxl.load_workbook(f, read_only=True, data_only=True)
                out["sheets"] = list(book.sheetnames)
                book.close()
                f.seek(0)
                sheet = spec.get("sheet") or 0
                frame = pd.read_excel(f, sheet_name=sheet, engine="openpyxl", dtype=str, nrows=INSPECT_SAMPLE)
            elif fmt == "json":
                frame = read_json(f).head(INSPECT_SAMPLE)
                out["encoding"] = "utf-8"
            else:
                raise ValueError("unsupported dataset format %r" % fmt)
        frame = clean_frame(frame).head(INSPECT_ROWS)
        out["headers"] = [str(c) for c in frame.columns]
        out["rows"] = [["" if is_missing(v) else cell_text(v) for v in row] for row in frame.astype(object).values.tolist()]
        return json.dumps({"ok": True, "inspection": out}).encode()
    except BaseException as e:  # noqa: B036
        return dataset_error(e)


# Tasks that read one dataset whose descriptor comes with the request.
DATASET_TASKS = {"profile": task_profile, "preview": task_preview, "inspect": task_inspect}


def flush_std():
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass


