"""A DataFrame of an execution, serialised inside the sandbox for the user
(task_exec with header["frame"]): once the code has run, the variable it
names is looked up in the execution's globals (a Series becomes a one-column
frame), and written as CSV or as an Excel workbook (openpyxl), within a
number of bytes. The server gets bytes, never a Python object.

For a file a person opens in a spreadsheet (neutralise), every text cell
and header that a spreadsheet would run as a formula (it starts with =, +,
-, @, a tab or a carriage return) gets a leading single quote, as OWASP's
guidance on CSV injection says; numbers stay numbers."""

import csv
import datetime
import io
import keyword
import math
import re

from .stack import M

# What starts a cell a spreadsheet runs as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# An Excel sheet's most rows (the header's included) and columns.
XLSX_MAX_ROWS = 1048576
XLSX_MAX_COLUMNS = 16384
# The most frames named when the variable asked for is missing.
MAX_NAMED = 20
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Characters an XLSX part may not hold (openpyxl refuses them).
_XLSX_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")


class FrameError(Exception):
    """Why a frame could not be serialised: problem is "missing",
    "not_frame", "too_large" or "failed"."""

    def __init__(self, problem, message):
        super().__init__(message)
        self.problem = problem
        self.message = message


def neutralise(value):
    """value with a leading single quote when it is text a spreadsheet would
    run as a formula; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def frame_names(ns):
    """The names of the DataFrames and Series in ns, sorted (at most
    MAX_NAMED), for an error message."""
    pd = M["pd"]
    names = sorted(k for k, v in ns.items()
                   if not k.startswith("_") and isinstance(v, (pd.DataFrame, pd.Series)))
    return names[:MAX_NAMED]


def find_frame(ns, name):
    """The DataFrame named name in ns, a Series made a frame, with its index
    as columns when it means something (flatten)."""
    pd = M["pd"]
    if not _IDENT.match(name or "") or keyword.iskeyword(name):
        raise FrameError("missing", "%r is not a Python identifier" % (name,))
    if name not in ns:
        names = frame_names(ns)
        known = ("; its DataFrames are: " + ", ".join(names)) if names else "; it makes no DataFrame"
        raise FrameError("missing", "the code leaves no variable named %s%s" % (name, known))
    value = ns[name]
    if isinstance(value, pd.Series):
        value = value.to_frame(name=value.name if value.name is not None else name)
    if not isinstance(value, pd.DataFrame):
        raise FrameError("not_frame", "%s is a %s, not a pandas DataFrame or Series" % (name, type(value).__name__))
    return flatten(value)


def _label(v):
    if isinstance(v, tuple):
        return "_".join(str(p) for p in v if str(p) != "")
    return str(v)


def flatten(frame):
    """frame with text column names (those of a MultiIndex joined with _),
    and its index as columns unless it is unnamed integers (row numbers,
    such as a filter or a sort leaves: they mean nothing)."""
    pd = M["pd"]
    index = frame.index
    numbers = index.nlevels == 1 and index.name is None and pd.api.types.is_integer_dtype(index.dtype)
    if not numbers:
        names = [n if n is not None else ("index" if index.nlevels == 1 else "level_%d" % i)
                 for i, n in enumerate(index.names)]
        taken = {_label(c) for c in frame.columns}
        names = [n if str(n) not in taken else "%s_index" % n for n in names]
        frame = frame.copy(deep=False)
        frame.index = frame.index.set_names(names)
        frame = frame.reset_index()
    frame = frame.copy(deep=False)
    frame.columns = [_label(c) for c in frame.columns]
    return frame


class _Limited(io.TextIOBase):
    """A text sink that keeps UTF-8 bytes and refuses to pass limit."""

    def __init__(self, limit, what):
        self.buf = io.BytesIO()
        self.limit = limit
        self.what = what

    def writable(self):
        return True

    def write(self, s):
        b = s.encode("utf-8", "surrogatepass")
        if self.buf.tell() + len(b) > self.limit:
            raise FrameError("too_large", "%s is larger than %d bytes" % (self.what, self.limit))
        self.buf.write(b)
        return len(s)


def _text_cells(frame, fn):
    """frame with fn applied to its text cells (columns of objects,
    strings or categories), the others left as they are."""
    pd = M["pd"]
    out = {}
    for i, c in enumerate(frame.columns):
        col = frame.iloc[:, i]
        if col.dtype == object or isinstance(col.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            col = col.astype(object).map(lambda v: fn(v) if isinstance(v, str) else v)
        out[i] = col
    result = pd.DataFrame(out)
    result.columns = [fn(c) for c in frame.columns]
    return result


def to_csv(frame, limit, neutral):
    """frame as UTF-8 CSV of at most limit bytes, without its index; with
    neutral, formula-like text cells and headers neutralised and every text
    cell quoted."""
    sink = _Limited(limit, "the frame as CSV")
    if neutral:
        frame = _text_cells(frame, neutralise)
        frame.to_csv(sink, index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    else:
        frame.to_csv(sink, index=False, lineterminator="\n")
    return sink.buf.getvalue()


def _xlsx_cell(v, neutral):
    """A cell openpyxl writes as a value, never as a formula."""
    np, pd = M["np"], M["pd"]
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or isinstance(v, int):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else (v if math.isfinite(v) else str(v))
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, (datetime.datetime, datetime.time)) and v.tzinfo is not None:
        v = v.isoformat()
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v
    if isinstance(v, pd.Timedelta):
        v = str(v)
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    s = _XLSX_ILLEGAL.sub("", v if isinstance(v, str) else str(v))
    # openpyxl writes any text starting with = as a formula: neutralised
    # text never does; without neutral such text is kept as text anyway.
    return neutralise(s) if neutral or s.startswith("=") else s


def to_xlsx(frame, limit, neutral, sheet="data"):
    """frame as an Excel workbook of one sheet, of at most limit bytes, its
    header in the first row; text cells are never formulas."""
    import openpyxl

    rows, cols = frame.shape
    if rows + 1 > XLSX_MAX_ROWS or cols > XLSX_MAX_COLUMNS:
        raise FrameError("too_large", "the frame has %d rows and %d columns; an Excel sheet holds %d rows and %d columns"
                         % (rows, cols, XLSX_MAX_ROWS - 1, XLSX_MAX_COLUMNS))
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append([_xlsx_cell(str(c), neutral) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        ws.append([_xlsx_cell(v, neutral) for v in row])
    buf = io.BytesIO()
    book.save(buf)
    data = buf.getvalue()
    if len(data) > limit:
        raise FrameError("too_large", "the frame as an Excel workbook is larger than %d bytes" % limit)
    return data


def export(ns, spec, limit):
    """The frame spec asks for ({"variable", "format": "csv"|"xlsx",
    "neutralise": bool}), from the globals ns, as {"data" (bytes), "rows",
    "columns"}; or {"problem", "message"} when it cannot be had within limit
    bytes."""
    try:
        frame = find_frame(ns, spec.get("variable") or "")
        fmt = (spec.get("format") or "csv").lower()
        neutral = bool(spec.get("neutralise"))
        if fmt == "csv":
            data = to_csv(frame, limit, neutral)
        elif fmt == "xlsx":
            data = to_xlsx(frame, limit, neutral)
        else:
            raise FrameError("failed", "unknown frame format %r" % fmt)
        return {"data": data, "rows": int(frame.shape[0]), "columns": int(frame.shape[1])}
    except FrameError as e:
        return {"problem": e.problem, "message": e.message}
    except MemoryError:
        return {"problem": "too_large", "message": "the frame did not fit in the execution's memory when serialised"}
    except Exception as e:  # noqa: BLE001  (whatever the frame holds)
        return {"problem": "failed", "message": "%s: %s" % (type(e).__name__, str(e)[:500])}
