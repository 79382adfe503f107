"""The data stack: its import (in the kernel, before any fork), its warm-up,
and the globals every execution starts from.

M holds the modules the kernel itself uses (by name, so that an execution
rebinding pd or np in its globals does not change what the kernel calls);
BASE the globals of a new execution, the datasets included once loaded.

The scientific part of the stack (scipy, scikit-learn, statsmodels, seaborn)
is imported by a kernel only once one of its executions uses it: each of its
shared objects is mappings that every fork copies, and without them a kernel
forks an execution about three times faster and holds a third less memory
(BenchmarkSideBySide: back to back 6.0 to 3.9 ms, 280 to 180 MiB). Until
then BASE holds a Lazy for each of its names (stats, sm, ...), which imports
the module on first use. The kernel reads each execution's code before it
runs (wanted): code that names a part has it imported by the kernel first
(import_heavy, once), so that the execution, and every later one, forks with
it; code that reaches it some other way imports it in its own process.
"""

import builtins
import importlib
import importlib.util
import io
import re
import sys
import types

from .util import log

M = {}  # module name -> module, filled by import_plotting and import_stack
BASE = {}  # the globals every execution starts from

# The scientific parts: each one's modules, imported in order, and the
# globals (name in BASE -> module) it provides.
HEAVY = {
    "scipy": (("scipy", "scipy.stats"), {"scipy": "scipy", "stats": "scipy.stats"}),
    "sklearn": (("scipy", "scipy.stats", "sklearn", "sklearn.cluster", "sklearn.decomposition",
                 "sklearn.ensemble", "sklearn.impute", "sklearn.linear_model", "sklearn.metrics",
                 "sklearn.model_selection", "sklearn.pipeline", "sklearn.preprocessing", "sklearn.tree"),
                {"sklearn": "sklearn"}),
    "statsmodels": (("scipy", "scipy.stats", "statsmodels.api", "statsmodels.formula.api"),
                    {"sm": "statsmodels.api", "smf": "statsmodels.formula.api"}),
    "seaborn": (("seaborn",), {"sns": "seaborn"}),
}

# What in an execution's code names a part: its module, or one of its
# globals followed by a dot. A false match only costs the import.
_USES = {
    "scipy": re.compile(r"\bscipy\b|\bstats\s*\."),
    "sklearn": re.compile(r"\bsklearn\b"),
    "statsmodels": re.compile(r"\bstatsmodels\b|\bsmf?\s*\."),
    "seaborn": re.compile(r"\bseaborn\b|\bsns\s*\."),
}

# The parts this process has imported (import_heavy).
_imported = set()


class Lazy(types.ModuleType):
    """A global of BASE standing for a module not imported yet: the first
    attribute read imports it (in the execution's own process), puts it in
    place of the Lazy in the globals of the code that read it, and answers
    from it."""

    def __init__(self, alias, target):
        super().__init__(target)
        self.__dict__["_lazy"] = (alias, target)

    def _load(self):
        alias, target = self.__dict__["_lazy"]
        module = importlib.import_module(target)
        if BASE.get(alias) is self:
            BASE[alias] = module
        return module

    def __getattr__(self, name):
        module = self._load()
        g = sys._getframe(1).f_globals
        alias = self.__dict__["_lazy"][0]
        if g.get(alias) is self:
            g[alias] = module
        return getattr(module, name)

    def __dir__(self):
        return dir(self._load())

    def __repr__(self):
        return "<lazy module %r>" % self.__dict__["_lazy"][1]


def wanted(code):
    """The parts of the scientific stack that code names and this process
    has not imported yet."""
    if not code:
        return []
    return [part for part, pattern in _USES.items() if part not in _imported and pattern.search(code)]


def import_heavy(parts):
    """Imports the parts (names of HEAVY) and puts their modules in BASE in
    place of their Lazy globals; returns whether anything was imported. A
    part that cannot be imported is logged and left to the execution (which
    then fails as it would have)."""
    done = False
    for part in parts:
        if part in _imported:
            continue
        modules, names = HEAVY[part]
        try:
            for name in modules:
                importlib.import_module(name)
        except Exception as e:
            log("importing %s failed: %s: %s" % (part, type(e).__name__, e))
            continue
        _imported.add(part)
        done = True
        for alias, target in names.items():
            if alias in BASE:
                BASE[alias] = sys.modules[target]
    return done


def import_plotting():
    """Imports numpy, pandas, matplotlib (Agg) and plotly into M: what reading
    datasets and capturing figures and tables need."""
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

    M.update(np=np, pd=pd, plt=plt, matplotlib=matplotlib, px=px, go=go, pio=pio, plotly=plotly,
             BaseFigure=plotly.basedatatypes.BaseFigure, Figure=matplotlib.figure.Figure,
             make_subplots=make_subplots)


def import_stack():
    """Imports the data stack but its scientific part (see HEAVY) and fills
    BASE with it, a Lazy for each global of the scientific part (the
    capture's hooks into plotly and matplotlib come next:
    capture.install_hooks; then warm_up)."""
    import warnings

    import_plotting()
    import openpyxl  # noqa: F401  (Excel datasets; pure Python: nothing for a fork to copy)
    import xlrd  # noqa: F401  (legacy Excel .xls datasets)

    pd = M["pd"]
    pd.set_option("display.max_columns", 50)
    pd.set_option("display.width", 250)
    warnings.filterwarnings("ignore", message=".*non-interactive.*")

    BASE.update(
        __name__="__main__",
        __builtins__=builtins,
        pd=pd,
        np=M["np"],
        px=M["px"],
        go=M["go"],
        pio=M["pio"],
        plt=M["plt"],
        matplotlib=M["matplotlib"],
        make_subplots=M["make_subplots"],
    )
    for part, (modules, names) in HEAVY.items():
        if importlib.util.find_spec(modules[-1].split(".")[0]) is None:
            continue  # not installed (seaborn is optional): no global
        for alias, target in names.items():
            BASE[alias] = sys.modules.get(target) or Lazy(alias, target)


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
