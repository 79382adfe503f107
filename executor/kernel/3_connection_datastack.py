# ---------------------------------------------------------------------------
# Control connection


class Conn:
    """Frames over the control socket, with file descriptors passed alongside."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.buf = bytearray()
        self.fds = collections.deque()
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def fill(self):
        """Reads what is available (blocks until something is)."""
        while True:
            try:
                data, anc, flags, _ = self.sock.recvmsg(1 << 16, socket.CMSG_SPACE(64 * 4))
                break
            except InterruptedError:
                continue
        for level, typ, payload in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                n = len(payload) - len(payload) % 4
                self.fds.extend(struct.unpack("%di" % (n // 4), payload[:n]))
        if not data:
            self.eof = True
        self.buf += data

    def next_frame(self):
        buf = self.buf
        if len(buf) < 4:
            return None
        hl = struct.unpack_from(">I", buf)[0]
        if hl > (256 << 20):
            raise ValueError("frame header too large")
        if len(buf) < 8 + hl:
            return None
        bl = struct.unpack_from(">I", buf, 4 + hl)[0]
        end = 8 + hl + bl
        if len(buf) < end:
            return None
        header = json.loads(bytes(buf[4:4 + hl]))
        body = bytes(buf[8 + hl:end])
        del buf[:end]
        return header, body

    def read_frame(self):
        while True:
            f = self.next_frame()
            if f is not None:
                return f
            if self.eof:
                raise EOFError
            self.fill()

    def take_fds(self, n):
        if len(self.fds) < n:
            raise ValueError("expected %d file descriptors, got %d" % (n, len(self.fds)))
        return [self.fds.popleft() for _ in range(n)]

    def close_stray_fds(self):
        while self.fds:
            try:
                os.close(self.fds.popleft())
            except OSError:
                pass

    def send(self, header, body=b""):
        h = json.dumps(header, separators=(",", ":")).encode()
        self.sock.sendall(struct.pack(">I", len(h)) + h + struct.pack(">I", len(body)))
        if body:
            self.sock.sendall(body)


# ---------------------------------------------------------------------------
# Data stack

M = {}  # module name -> module, filled by import_stack
BASE = {}  # the globals every execution starts from
_capture = None  # the current execution's Capture (only ever set in a child)


def import_stack():
    import warnings

    import numpy as np
    import pandas as pd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure
    import matplotlib.pyplot as plt
    import plotly
    import plotly.basedatatypes
    import plotly.express as px
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.subplots import make_subplots
    import scipy
    import scipy.stats as stats
    import sklearn
    import sklearn.cluster
    import sklearn.decomposition
    import sklearn.ensemble
    import sklearn.impute
    import sklearn.linear_model
    import sklearn.metrics
    import sklearn.model_selection
    import sklearn.pipeline
    import sklearn.preprocessing
    import sklearn.tree
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    import openpyxl  # noqa: F401  (Excel datasets)

    try:
        import seaborn as sns
    except Exception:
        sns = None

    M.update(np=np, pd=pd, plt=plt, matplotlib=matplotlib, px=px, go=go, pio=pio, plotly=plotly,
             BaseFigure=plotly.basedatatypes.BaseFigure)
    patch_plotly(pio, plotly.basedatatypes.BaseFigure)
    patch_matplotlib(plt, matplotlib.figure.Figure)
    pd.set_option("display.max_columns", 50)
    pd.set_option("display.width", 250)
    warnings.filterwarnings("ignore", message=".*non-interactive.*")

    BASE.update(
        __name__="__main__",
        __builtins__=builtins,
        pd=pd,
        np=np,
        px=px,
        go=go,
        pio=pio,
        plt=plt,
        matplotlib=matplotlib,
        make_subplots=make_subplots,
        scipy=scipy,
        stats=stats,
        sklearn=sklearn,
        sm=sm,
        smf=smf,
    )
    if sns is not None:
        BASE["sns"] = sns
    warm_up()


def warm_up():
    """Exercises lazily loaded code paths once, so that forks do not pay for them."""
    import warnings

    pd, px, plt = M["pd"], M["px"], M["plt"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _warm_up(pd, px, plt)


def _warm_up(pd, px, plt):
    try:
        frame = pd.DataFrame({"a": [1.0, 2.0, None], "b": ["x", "y", "z"], "c": pd.to_datetime(["2024-01-01"] * 3)})
        frame.describe(include="all")
        frame.to_json(orient="values", date_format="iso")
        repr(frame)
        frame.groupby("b").a.mean()
        px.bar(frame, x="b", y="a").to_json()
        px.scatter(frame, x="a", y="a", color="b").to_json()
        px.line(frame, x="c", y="a").to_json()
        px.histogram(frame, x="a").to_json()
        fig = plt.figure()
        plt.plot([1, 2], [3, 4])
        fig.savefig(io.BytesIO(), format="png")
        plt.close("all")
    except Exception as e:
        log("warm-up failed: %r" % e)


def patch_plotly(pio, BaseFigure):
    orig_to_html = pio.to_html
    orig_write_html = pio.write_html

    def show(fig, *args, **kwargs):
        if _capture is not None:
            _capture.add_figure(fig)

    def to_html(fig, *args, **kwargs):
        if _capture is not None:
            _capture.add_figure(fig)
        return orig_to_html(fig, *args, **kwargs)

    def write_html(fig, *args, **kwargs):
        if _capture is not None:
            _capture.add_figure(fig)
        kwargs["auto_open"] = False
        return orig_write_html(fig, *args, **kwargs)

    pio.show = show
    pio.to_html = to_html
    pio.write_html = write_html


def patch_matplotlib(plt, Figure):
    orig_savefig = Figure.savefig
    M["savefig"] = orig_savefig

    def plt_show(*args, **kwargs):
        if _capture is not None:
            _capture.add_open_mpl(close=True)

    def fig_show(self, *args, **kwargs):
        if _capture is not None:
            _capture.add_mpl(self)

    def savefig(self, *args, **kwargs):
        result = orig_savefig(self, *args, **kwargs)
        if _capture is not None:
            _capture.add_mpl(self)
        return result

    plt.show = plt_show
    Figure.show = fig_show
    Figure.savefig = savefig


