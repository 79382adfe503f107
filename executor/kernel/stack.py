"""The data stack: its import (once, in the kernel, before any fork), its
warm-up, and the globals every execution starts from.

M holds the modules the kernel itself uses (by name, so that an execution
rebinding pd or np in its globals does not change what the kernel calls);
BASE the globals of a new execution, the datasets included once loaded.
"""

import builtins
import io

from .util import log

M = {}  # module name -> module, filled by import_plotting and import_stack
BASE = {}  # the globals every execution starts from


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
    """Imports the whole data stack and fills BASE with it (the capture's
    hooks into plotly and matplotlib come next: capture.install_hooks; then
    warm_up)."""
    import warnings

    import_plotting()
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
    import xlrd  # noqa: F401  (legacy Excel .xls datasets)

    try:
        import seaborn as sns
    except Exception:
        sns = None

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
        scipy=scipy,
        stats=stats,
        sklearn=sklearn,
        sm=sm,
        smf=smf,
    )
    if sns is not None:
        BASE["sns"] = sns


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
