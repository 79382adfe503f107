"""What an execution shows: its stdout and stderr (CapWriter, capped), and
the Plotly figures, matplotlib images and tables it produces (Capture).

install_hooks makes plotly's show/to_html/write_html and matplotlib's
show/savefig report to the Capture of the execution under way (current),
which only ever exists in an execution's process.
"""

import base64
import builtins
import io
import json
import sys

from . import config
from .stack import BASE, M
from .util import human_bytes, write_all

MAX_FIGURES = 50
MAX_IMAGES = 50
MAX_TABLES = 20
MAX_TABLE_ROWS = 200
MAX_TABLE_COLS = 100

current = None  # the current execution's Capture (only ever set in a child)


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
        if self.figure_bytes + len(doc) > config.MAX_RESULT // 2:
            self.note("a figure was dropped: figures exceed %s" % human_bytes(config.MAX_RESULT // 2))
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
    """A DataFrame or Series as a table: columns and rows of JSON values, at
    most MAX_TABLE_ROWS by MAX_TABLE_COLS, a non-default index as columns."""
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


# ---------------------------------------------------------------------------
# Hooks into plotly and matplotlib


def install_hooks():
    """Makes plotly and matplotlib (imported in M) report what an execution
    shows or exports to its Capture."""
    _hook_plotly(M["pio"])
    _hook_matplotlib(M["plt"], M["Figure"])


def _hook_plotly(pio):
    orig_to_html = pio.to_html
    orig_write_html = pio.write_html

    def show(fig, *args, **kwargs):
        if current is not None:
            current.add_figure(fig)

    def to_html(fig, *args, **kwargs):
        if current is not None:
            current.add_figure(fig)
        return orig_to_html(fig, *args, **kwargs)

    def write_html(fig, *args, **kwargs):
        if current is not None:
            current.add_figure(fig)
        kwargs["auto_open"] = False
        return orig_write_html(fig, *args, **kwargs)

    pio.show = show
    pio.to_html = to_html
    pio.write_html = write_html


def _hook_matplotlib(plt, Figure):
    orig_savefig = Figure.savefig
    M["savefig"] = orig_savefig

    def plt_show(*args, **kwargs):
        if current is not None:
            current.add_open_mpl(close=True)

    def fig_show(self, *args, **kwargs):
        if current is not None:
            current.add_mpl(self)

    def savefig(self, *args, **kwargs):
        result = orig_savefig(self, *args, **kwargs)
        if current is not None:
            current.add_mpl(self)
        return result

    plt.show = plt_show
    Figure.show = fig_show
    Figure.savefig = savefig
