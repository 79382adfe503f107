"""Reading dataset files into cleaned DataFrames: CSV (its encoding and
delimiter sniffed), Excel (XLSX, and legacy XLS through xlrd) and JSON
(records, columns or lines), with the columns whose every value is an ISO
8601 date made datetime64; the checks on a dataset's name; and a column's
profile.

Files come as descriptors (the sandbox has no path to them); pandas and
numpy come from stack.M.
"""

import builtins
import csv
import io
import keyword
import os
import re

from . import parsed
from .limits import check_columns, check_csv, check_xlsx
from .xls import read_xls
from .stack import M
from .util import log

RESERVED = {"df", "pd", "np", "px", "go", "pio", "plt", "matplotlib", "make_subplots", "scipy", "stats",
            "sklearn", "sm", "smf", "sns", "display", "print"}
SNIFF_BYTES = 65536  # what encoding and delimiter sniffing read of a file
TOP_VALUES = 5


def check_name(name, first):
    """Raises ValueError for a name a dataset cannot have in an execution's
    globals (df only for the first dataset)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__"):
        raise ValueError("invalid dataset name %r" % (name,))
    if name in RESERVED and not (name == "df" and first):
        raise ValueError("dataset name %r is reserved" % name)
    if hasattr(builtins, name):
        raise ValueError("dataset name %r would hide the Python built-in of that name" % name)


def read_spec(spec, fd, parsed_fd=None):
    """Reads the dataset of a request's spec ({format, sheet, columns}) from
    fd, or from its parsed form in parsed_fd when there is one that fits
    (see parsed.read; fd is then closed unread). Closes both."""
    fmt, sheet, columns = spec.get("format"), spec.get("sheet"), spec.get("columns") or None
    if parsed_fd is not None:
        frame = parsed.read(parsed_fd, fmt, sheet)
        if frame is not None:
            os.close(fd)
            check_columns(frame.shape[1])
            return select_columns(frame, columns)
    return read_dataset(fd, fmt, sheet, columns)


def read_dataset(fd, fmt, sheet, columns=None):
    """Reads a dataset file into a cleaned DataFrame (see clean_frame).

    columns, when given, are the columns to keep, in that order (those the
    dataset was stored with); when one of them is missing the list is out of
    date and every column is kept. A file over one of the limits (see
    limits) raises limits.DatasetLimitError, before it is parsed when its
    header or archive tells. Closes fd.
    """
    return select_columns(read_frame(fd, fmt, sheet), columns)


def read_frame(fd, fmt, sheet):
    """Reads a dataset file into a cleaned DataFrame, every column kept (see
    read_dataset). Closes fd."""
    pd = M["pd"]
    with os.fdopen(fd, "rb", closefd=True) as f:
        fmt = (fmt or "").lower()
        if fmt == "csv":
            frame = read_csv(f)
        elif fmt == "xlsx":
            check_xlsx(f)
            frame = pd.read_excel(f, sheet_name=sheet if sheet else 0, engine="openpyxl")
        elif fmt == "xls":
            frame = read_xls(f, sheet)
        elif fmt == "json":
            frame = read_json(f)
        else:
            raise ValueError("unsupported dataset format %r" % fmt)
    check_columns(frame.shape[1])
    return parse_dates(clean_frame(frame))


def select_columns(frame, columns):
    """frame with only columns, in that order; every column when columns is
    empty or one of them is missing (the list is out of date)."""
    if columns:
        if all(c in frame.columns for c in columns):
            return frame[list(columns)]
        log("stored columns no longer match the file; keeping every column")
    return frame


def clean_frame(frame):
    """Trims the headers (made unique), drops empty rows and columns."""
    names, seen = [], set()
    for c in frame.columns:
        name = c.strip() if isinstance(c, str) else c
        if isinstance(name, str) and name == "":
            name = "column"
        base, n = name, 1
        while name in seen:
            n += 1
            name = "%s_%d" % (base, n)
        seen.add(name)
        names.append(name)
    frame.columns = names
    np = M["np"]
    rows, cols = frame.shape
    # A cell is empty when it is missing or a string of blanks; object
    # columns are checked on their distinct values (see distinct).
    drop_rows = np.ones(rows, dtype=bool)
    keep_cols = []
    for i in range(cols):
        empty = empty_cells(frame.iloc[:, i])
        drop_rows &= empty
        # Columns are empty when all their cells are; without rows (a file
        # of headers only), they are kept.
        keep_cols.append(not rows or not empty.all())
    if not drop_rows.any() and all(keep_cols):
        if is_range(frame.index):
            return frame  # nothing to drop: no copy of a large frame
        return frame.reset_index(drop=True)
    frame = frame.loc[~drop_rows, keep_cols]
    if drop_rows.any():
        frame = restore_integers(frame.copy())
    return frame.reset_index(drop=True)


def is_range(index):
    """Whether index is 0, 1, 2... (a RangeIndex from 0 by 1)."""
    pd = M["pd"]
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def empty_cells(col):
    """The mask of col's empty cells: missing, or strings of blanks."""
    if col.dtype != object:
        return col.isna().to_numpy()
    d = distinct(col)
    if d is None:
        return col.isna().to_numpy()
    codes, uniques = d
    empty = codes < 0
    blank = blank_values(uniques)
    if blank.size:
        empty |= M["np"].isin(codes, blank)
    return empty


def distinct(col):
    """col's values as codes into its distinct values, in order of first
    appearance: (codes, uniques), the code of a missing value -1; None when
    a value cannot be hashed (lists in JSON).

    Columns of text repeat their values (categories, regions, dates): the
    checks of clean_frame and parse_dates look at each distinct value once,
    which is what makes them fast on millions of rows."""
    pd = M["pd"]
    try:
        codes, uniques = pd.factorize(col.to_numpy(dtype=object), sort=False)
    except TypeError:
        return None
    return codes, pd.Series(uniques, dtype=object)


def blank_values(uniques):
    """The indexes of the strings of blanks among uniques (distinct values)."""
    np = M["np"]
    try:
        return np.flatnonzero(uniques.str.strip().eq("").to_numpy(dtype=bool))
    except (AttributeError, TypeError):
        return np.zeros(0, dtype=int)  # no strings among them


def restore_integers(frame):
    """Gives back their integer type to the columns that empty rows made float.

    pandas reads a column of integers with an empty row as float (the row's
    NaN); once that row is dropped, a float column without a missing value
    whose values are all whole numbers is integer again.
    """
    np = M["np"]
    for c in frame.columns:
        col = frame[c]
        if col.dtype.kind != "f" or len(col) == 0 or col.isna().any():
            continue
        values = col.to_numpy()
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)) and np.all(np.abs(values) < 2 ** 53):
            frame[c] = col.astype("int64")
    return frame


# An ISO 8601 date, with or without a time (no time zone), and the
# strptime format of each shape (T or space between date and time).
ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:([T ])(\d{2}:\d{2})(:\d{2})?(\.\d{1,9})?)?")
DATE_SAMPLE = 20  # the first values of a column that must look like dates


def date_format(value):
    """The strptime format of an ISO 8601 date (or date and time) string, or
    None when value is no such string."""
    m = ISO_DATE.fullmatch(value) if isinstance(value, str) else None
    if not m:
        return None
    fmt = "%Y-%m-%d"
    if m.group(2):
        fmt += m.group(2) + "%H:%M" + (":%S" if m.group(4) else "") + (".%f" if m.group(5) else "")
    return fmt


def parse_dates(frame):
    """Makes datetime64 the object columns whose every value is a date: date
    or datetime objects (Excel cells), or ISO 8601 strings (YYYY-MM-DD, with
    or without a time; blanks count as missing).

    Conservative and fast: a column of strings is skipped unless its first
    DATE_SAMPLE values look like ISO dates (the first one's shape is the
    format); then one vectorised pd.to_datetime with that format must parse
    every value of the column, or the column is left as it was. Numbers,
    mixed columns and dates out of datetime64's range stay as they are."""
    pd = M["pd"]
    for c in frame.columns[(frame.dtypes == object).values]:
        col = frame[c]
        kind = pd.api.types.infer_dtype(col, skipna=True)
        try:
            if kind in ("datetime", "date"):
                frame[c] = pd.to_datetime(col)
            elif kind == "string":
                converted = iso_dates(col)
                if converted is not None:
                    frame[c] = converted
        except (ValueError, TypeError, OverflowError):
            pass  # time zones mixed, out of range: left as they are
    return frame


def first_strings(col):
    """The first DATE_SAMPLE strings of col that are not blank, stripped."""
    sample = []
    for v in col:
        if isinstance(v, str) and v.strip():
            sample.append(v.strip())
            if len(sample) == DATE_SAMPLE:
                break
    return sample


def iso_dates(col):
    """col (strings and missing values) as datetime64 when every value is an
    ISO 8601 date of one shape, else None. Each distinct value is parsed
    once."""
    pd, np = M["pd"], M["np"]
    # The first values decide cheaply whether the column may be dates.
    sample = first_strings(col.head(10 * DATE_SAMPLE)) or first_strings(col.dropna())
    fmt = date_format(sample[0]) if sample else None
    if fmt is None or any(date_format(v) is None for v in sample):
        return None
    d = distinct(col)
    if d is None:
        return None
    codes, uniques = d
    text = uniques.str.strip()
    blank = text.isna() | text.eq("")
    values = text[~blank]
    if values.empty:
        return None
    # pandas < 2 parses ISO formats leniently ("2024" too): the lengths keep
    # the whole column to full dates.
    if values.str.len().min() < 10:
        return None
    if int(pd.__version__.split(".")[0]) >= 2:
        fmt = "ISO8601"
    parsed = pd.to_datetime(text.where(~blank), format=fmt, errors="coerce")
    if parsed[~blank].isna().any():
        return None
    # Blank strings parsed to NaT; missing values (code -1) are NaT too.
    table = np.append(parsed.to_numpy(), np.datetime64("NaT", "ns"))
    return pd.Series(table[np.where(codes < 0, len(table) - 1, codes)], index=col.index, name=col.name)


BINARY_CONTROL = set(range(0, 32)) - {9, 10, 12, 13}


def check_text(head):
    """Refuses bytes that are not text (NUL bytes, control characters)."""
    if not head:
        return
    bad = sum(1 for b in head if b in BINARY_CONTROL)
    if bad > max(2, len(head) // 100):
        raise ValueError("the file is binary, not text")


def detect_encoding(head):
    """The encoding of a text file: UTF-8 (with or without BOM), else a one-byte code page."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if len(head) - e.start < 4 and e.reason == "unexpected end of data":
            return "utf-8"  # a character cut by the end of the sample
    # Windows-1252 uses 0x80-0x9F for printable characters (the euro sign,
    # quotes); ISO-8859-1 has control characters there.
    if any(0x80 <= b <= 0x9F for b in head):
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "latin-1"


def read_csv(f):
    """Reads a CSV file (a binary file object) with its sniffed encoding and
    delimiter, falling back to UTF-8 and then Latin-1, once its header and
    lines passed limits.check_csv."""
    pd = M["pd"]
    head = f.read(SNIFF_BYTES)
    check_text(head)
    enc = detect_encoding(head)
    sep = sniff_delimiter(head)
    check_csv(f, enc, sep)
    last = None
    for e in [enc] + [x for x in ("utf-8", "latin-1") if x != enc]:
        f.seek(0)
        try:
            return pd.read_csv(f, sep=sep, encoding=e, low_memory=False)
        except UnicodeDecodeError as err:
            last = err
    raise last


def sniff_delimiter(head):
    """The delimiter of CSV text (its first bytes): , ; tab or |; "," when unsure."""
    text = head.decode("latin-1")
    if len(head) == SNIFF_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_json(f):
    """Reads a JSON file (a binary file object): an array of records, an
    object of columns, or JSON Lines."""
    pd = M["pd"]
    raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            return pd.read_json(io.StringIO(text), orient="records")
        return pd.read_json(io.StringIO(text))
    except ValueError:
        return pd.read_json(io.StringIO(text), lines=True)


# ---------------------------------------------------------------------------
# Profiles and cells


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
        # Dates are counted as datetime64 (fast) and shown without a time.
        dates = is_date_column(values)
        col["topValues"] = [{"value": cell_text(v.date() if dates else v), "count": int(n)} for v, n in counts.items()]
    return col


def as_dates(series):
    """series with its values as dates when it is a datetime64 column whose
    every value is at midnight (a column of dates: shown without a time),
    else series."""
    if not is_date_column(series):
        return series
    return series.dt.date


def is_date_column(series):
    """Whether series is a datetime64 column (no time zone) whose every value
    is at midnight."""
    pd = M["pd"]
    if not pd.api.types.is_datetime64_any_dtype(series) or getattr(series.dt, "tz", None) is not None:
        return False
    values = series.dropna()
    return not (len(values) and not (values == values.dt.normalize()).all())


def cell_text(v):
    """A cell as text (dates in ISO 8601)."""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def is_missing(v):
    """Whether a cell is missing (None, NaN, NaT)."""
    pd = M["pd"]
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
