# ---------------------------------------------------------------------------
# Datasets


RESERVED = {"df", "pd", "np", "px", "go", "pio", "plt", "matplotlib", "make_subplots", "scipy", "stats",
            "sklearn", "sm", "smf", "sns", "display", "print"}


def check_name(name, first):
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__"):
        raise ValueError("invalid dataset name %r" % (name,))
    if name in RESERVED and not (name == "df" and first):
        raise ValueError("dataset name %r is reserved" % name)
    if hasattr(builtins, name):
        raise ValueError("dataset name %r would hide the Python built-in of that name" % name)


def read_dataset(fd, fmt, sheet, columns=None):
    """Reads a dataset file into a cleaned DataFrame (see clean_frame).

    columns, when given, are the columns to keep, in that order (those the
    dataset was stored with); when one of them is missing the list is out of
    date and every column is kept.
    """
    pd = M["pd"]
    with os.fdopen(fd, "rb", closefd=True) as f:
        fmt = (fmt or "").lower()
        if fmt == "csv":
            frame = read_csv(f)
        elif fmt == "xlsx":
            frame = pd.read_excel(f, sheet_name=sheet if sheet else 0, engine="openpyxl")
        elif fmt == "json":
            frame = read_json(f)
        else:
            raise ValueError("unsupported dataset format %r" % fmt)
    frame = clean_frame(frame)
    if columns:
        if all(c in frame.columns for c in columns):
            frame = frame[list(columns)]
        else:
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
    empty = frame.isna()
    obj = frame.select_dtypes(include=["object"]).columns
    for c in obj:
        try:
            # Cells of blanks are empty too (non-strings give NaN, not equal).
            empty[c] = empty[c] | frame[c].str.strip().eq("")
        except (AttributeError, TypeError):
            pass  # no strings in the column
    drop_rows = empty.all(axis=1)
    # Columns are empty when all their cells are; without rows (a file of
    # headers only), they are kept.
    keep_cols = ~empty.all(axis=0).values if len(frame) else [True] * frame.shape[1]
    frame = frame.loc[~drop_rows, keep_cols]
    if drop_rows.any():
        frame = restore_integers(frame.copy())
    return frame.reset_index(drop=True)


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
    pd = M["pd"]
    head = f.read(65536)
    check_text(head)
    enc = detect_encoding(head)
    sep = sniff_delimiter(head)
    last = None
    for e in [enc] + [x for x in ("utf-8", "latin-1") if x != enc]:
        f.seek(0)
        try:
            return pd.read_csv(f, sep=sep, encoding=e, low_memory=False)
        except UnicodeDecodeError as err:
            last = err
    raise last


def sniff_delimiter(head):
    text = head.decode("latin-1")
    if len(head) == 65536 and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_json(f):
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
# Capture of an execution's output (used in the child only)


class CapWriter(io.TextIOBase):
    """sys.stdout / sys.stderr of an execution: line-buffered, capped."""

    def __init__(self, fd, cap):
        self.fd = fd
        self.cap = cap
        self.n = 0
        self.truncated = False
        self.pending = []
        self.pending_len = 0

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self.fd

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if self.truncated or not s:
            return len(s)
        b = s.encode("utf-8", "replace")
        room = self.cap - self.n
        if len(b) > room:
            b = b[:room]
            self.truncated = True
        self.n += len(b)
        self.pending.append(b)
        self.pending_len += len(b)
        if "\n" in s or self.pending_len >= 8192 or self.truncated:
            self.flush()
        return len(s)

    def flush(self):
        if not self.pending:
            return
        data = b"".join(self.pending)
        self.pending = []
        self.pending_len = 0
        write_all(self.fd, data)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return
        view = view[n:]


class Capture:
    """Figures, images and tables produced by one execution."""

    def __init__(self):
        self.figures = []  # JSON documents (bytes)
        self.figure_keys = set()
        self.figure_bytes = 0
        self.shown = set()  # ids of Plotly figures shown or exported
        self.images = []
        self.mpl_done = set()
        self.keep = []  # keeps captured objects alive so that ids stay unique
        self.tables = []
        self.notes = []

    def add_figure(self, fig):
        pio = M["pio"]
        self.keep.append(fig)
        self.shown.add(id(fig))
        if len(self.figures) >= MAX_FIGURES:
            self.note("more than %d figures; the rest were dropped" % MAX_FIGURES)
            return
        doc = pio.to_json(fig, validate=False).encode()
        if doc in self.figure_keys:
            return
        if self.figure_bytes + len(doc) > MAX_RESULT // 2:
            self.note("a figure was dropped: figures exceed %s" % human_bytes(MAX_RESULT // 2))
            return
        self.figure_keys.add(doc)
        self.figure_bytes += len(doc)
        self.figures.append(doc)

    def add_mpl(self, fig):
        if id(fig) in self.mpl_done:
            return
        self.mpl_done.add(id(fig))
        self.keep.append(fig)
        if len(self.images) >= MAX_IMAGES:
            self.note("more than %d images; the rest were dropped" % MAX_IMAGES)
            return
        buf = io.BytesIO()
        M["savefig"](fig, buf, format="png", dpi=100, bbox_inches="tight")
        self.images.append(base64.b64encode(buf.getvalue()).decode("ascii"))

    def add_open_mpl(self, close):
        plt = M["plt"]
        for num in plt.get_fignums():
            self.add_mpl(plt.figure(num))
        if close:
            plt.close("all")

    def add_table(self, obj):
        if len(self.tables) >= MAX_TABLES:
            self.note("more than %d tables; the rest were dropped" % MAX_TABLES)
            return
        self.tables.append(to_table(obj))

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)
            print("[executor] " + text, file=sys.stderr)

    def display(self, *objs, **_):
        """Shows objects the way a notebook would: tables, figures, images, repr."""
        for obj in objs:
            self.show_value(obj, explicit=True)

    def show_value(self, value, explicit=False):
        pd = M["pd"]
        if value is None:
            return
        if isinstance(value, (pd.DataFrame, pd.Series)):
            self.add_table(value)
        elif type(value).__name__ == "Styler" and hasattr(value, "data"):
            self.add_table(value.data)
        elif is_plotly_figure(value):
            self.add_figure(value)
        elif type(value).__module__.startswith("matplotlib.figure"):
            self.add_mpl(value)
        elif not explicit and type(value).__module__.startswith("matplotlib"):
            pass  # e.g. the list of Line2D that plt.plot returns
        else:
            print(repr(value))

    def make_print(self):
        pd = M["pd"]
        real_print = builtins.print

        def print_(*args, **kwargs):
            real_print(*args, **kwargs)
            f = kwargs.get("file")
            if f is None or f is sys.stdout:
                for a in args:
                    if isinstance(a, pd.DataFrame):
                        self.add_table(a)

        print_.__doc__ = real_print.__doc__
        return print_

    def add_leftovers(self, ns):
        """Captures Plotly figures left in variables and matplotlib figures left open."""
        base_ids = {id(v) for v in BASE.values()}
        for value in list(ns.values()):
            if is_plotly_figure(value) and id(value) not in self.shown and id(value) not in base_ids:
                try:
                    if len(value.data) > 0:
                        self.add_figure(value)
                except Exception as e:
                    self.note("a figure could not be captured: %r" % e)
        self.add_open_mpl(close=False)


def is_plotly_figure(value):
    base = M.get("BaseFigure")
    return base is not None and isinstance(value, base)


def to_table(obj):
    pd = M["pd"]
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    frame = obj
    truncated = False
    if len(frame) > MAX_TABLE_ROWS:
        frame = frame.head(MAX_TABLE_ROWS)
        truncated = True
    if frame.shape[1] > MAX_TABLE_COLS:
        frame = frame.iloc[:, :MAX_TABLE_COLS]
        truncated = True
    idx = frame.index
    if not (isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1):
        try:
            frame = frame.reset_index()
        except ValueError:
            frame = frame.copy()
            frame.insert(0, "(index)", [str(i) for i in idx])
    columns = [" / ".join(str(p) for p in c) if isinstance(c, tuple) else str(c) for c in frame.columns]
    try:
        rows = json.loads(frame.to_json(orient="values", date_format="iso", default_handler=str))
    except Exception:
        rows = [[str(v) for v in row] for row in frame.astype(str).values.tolist()]
    table = {"columns": columns, "rows": rows}
    if truncated:
        table["truncated"] = True
    return table


