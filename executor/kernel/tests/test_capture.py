"""Tests of kernel.capture (stdout and stderr capped; Plotly figures,
matplotlib images and tables captured, through the hooks too) and of
kernel.tasks.task_exec, which runs code and returns its result's JSON."""

import base64
import io
import json
import os
import sys
import unittest
from unittest import mock

from kernel import capture, config, tasks
from kernel.capture import Capture, CapWriter
from kernel.tests.helpers import plotting

PNG = b"\x89PNG\r\n\x1a\n"


def setUpModule():
    plotting()


class Executing(unittest.TestCase):
    """Makes a Capture the current one, as an execution's process does."""

    def setUp(self):
        self.m = plotting()
        self.cap = Capture()
        capture.current = self.cap
        self.addCleanup(setattr, capture, "current", None)
        self.addCleanup(self.m["plt"].close, "all")
        # Notes go to stderr, as an execution's.
        self.stderr = mock.patch.object(sys, "stderr", new_callable=io.StringIO)
        self.err = self.stderr.start()
        self.addCleanup(self.stderr.stop)


class TestCapWriter(unittest.TestCase):
    def writer(self, cap):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        return r, CapWriter(w, cap)

    def test_line_buffered(self):
        r, out = self.writer(100)
        self.assertEqual(out.write("no newline"), 10)
        os.set_blocking(r, False)
        with self.assertRaises(BlockingIOError):
            os.read(r, 100)
        out.write(" then one\n")
        self.assertEqual(os.read(r, 100), b"no newline then one\n")

    def test_capped(self):
        r, out = self.writer(5)
        self.assertEqual(out.write("héllo world\n"), 12)  # what was asked, as files do
        self.assertTrue(out.truncated)
        out.write("more\n")
        self.assertEqual(os.read(r, 100), "héllo".encode()[:5])

    def test_str_only(self):
        _, out = self.writer(5)
        with self.assertRaises(TypeError):
            out.write(b"bytes")
        self.assertEqual((out.encoding, out.errors, out.isatty(), out.writable()), ("utf-8", "replace", False, True))


class TestFigures(Executing):
    def test_plotly_show_and_exports(self):
        go = self.m["go"]
        fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
        fig.show()
        fig.show()  # the same document once
        html = fig.to_html()
        self.assertIn("<div", html)
        other = go.Figure(go.Scatter(x=[1], y=[1]))
        self.m["pio"].write_html(other, os.devnull)
        self.assertEqual(len(self.cap.figures), 2)
        doc = json.loads(self.cap.figures[0])
        self.assertEqual(doc["data"][0]["type"], "bar")
        self.assertEqual(doc["data"][0]["y"], [3, 4])

    def test_nothing_captured_outside_an_execution(self):
        capture.current = None
        self.m["go"].Figure().show()
        self.m["plt"].figure()
        self.m["plt"].show()
        self.assertEqual(self.cap.figures, [])
        self.assertEqual(self.cap.images, [])

    def test_figures_budget(self):
        go, pio = self.m["go"], self.m["pio"]
        small = go.Figure(go.Bar(y=[1]))
        budget = len(pio.to_json(small, validate=False)) + 100  # half of MAX_RESULT
        with mock.patch.object(config, "MAX_RESULT", 2 * budget):
            self.cap.add_figure(small)
            self.cap.add_figure(go.Figure(go.Bar(y=list(range(500)))))
        self.assertEqual(len(self.cap.figures), 1)
        self.assertIn("a figure was dropped: figures exceed", self.err.getvalue())
        with mock.patch.object(capture, "MAX_FIGURES", 1):
            self.cap.add_figure(go.Figure(go.Bar(y=[2])))
        self.assertEqual(self.cap.notes[-1], "more than 1 figures; the rest were dropped")

    def test_matplotlib(self):
        plt = self.m["plt"]
        fig = plt.figure()
        plt.plot([1, 2], [3, 4])
        plt.show()  # captures and closes the open figures
        self.assertEqual(plt.get_fignums(), [])
        fig.savefig(os.devnull, format="png")  # the same figure: once
        fig2, ax = plt.subplots()
        ax.bar(["a"], [1])
        fig2.show()
        self.assertEqual(len(self.cap.images), 2)
        for image in self.cap.images:
            self.assertTrue(base64.b64decode(image).startswith(PNG))

    def test_leftovers(self):
        go, plt = self.m["go"], self.m["plt"]
        shown = go.Figure(go.Bar(y=[1]))
        shown.show()
        ns = {"shown": shown, "left": go.Figure(go.Bar(y=[2])), "empty": go.Figure(), "n": 1}
        plt.figure()
        plt.plot([1])
        self.cap.add_leftovers(ns)
        self.assertEqual([json.loads(f)["data"][0]["y"] for f in self.cap.figures], [[1], [2]])
        self.assertEqual(len(self.cap.images), 1)


class TestTables(Executing):
    def test_to_table(self):
        pd, np = self.m["pd"], self.m["np"]
        frame = pd.DataFrame({"a": [1.5, np.nan], "when": pd.to_datetime(["2024-01-02", None])})
        self.assertEqual(capture.to_table(frame), {
            "columns": ["a", "when"], "rows": [[1.5, "2024-01-02T00:00:00.000"], [None, None]]})

    def test_index_and_series(self):
        pd = self.m["pd"]
        s = pd.Series([3, 4], index=["x", "y"], name="v")
        self.assertEqual(capture.to_table(s), {"columns": ["index", "v"], "rows": [["x", 3], ["y", 4]]})
        grouped = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]}).groupby("k").agg(["sum", "max"])
        self.assertEqual(capture.to_table(grouped), {
            "columns": ["k / ", "v / sum", "v / max"], "rows": [["a", 4, 3], ["b", 2, 2]]})

    def test_truncated(self):
        pd = self.m["pd"]
        frame = pd.DataFrame([[i] * 150 for i in range(300)])
        table = capture.to_table(frame)
        self.assertTrue(table["truncated"])
        self.assertEqual((len(table["rows"]), len(table["columns"])), (capture.MAX_TABLE_ROWS, capture.MAX_TABLE_COLS))

    def test_show_value_and_print(self):
        pd, plt = self.m["pd"], self.m["plt"]
        frame = pd.DataFrame({"a": [1]})
        self.cap.show_value(frame)
        self.cap.show_value(frame["a"])
        self.cap.show_value(frame.style)
        print_ = self.cap.make_print()
        printed = []
        with mock.patch("builtins.print", side_effect=lambda *a, **k: printed.append(a)):
            self.cap.show_value(plt.plot([1, 2])[0])  # a matplotlib artist: not shown
            self.cap.show_value({"k": 1})
        with mock.patch.object(sys, "stdout", new_callable=io.StringIO) as out:
            print_("frame:", frame)
            print_(frame, file=sys.stderr)  # not stdout: not a table
        self.assertEqual(printed, [("{'k': 1}",)])
        self.assertIn("frame:", out.getvalue())
        self.assertEqual(len(self.cap.tables), 4)
        with mock.patch.object(capture, "MAX_TABLES", 4):
            self.cap.display(frame)
        self.assertEqual(len(self.cap.tables), 4)
        self.assertIn("more than 4 tables", self.err.getvalue())


class TestTaskExec(unittest.TestCase):
    def execute(self, code):
        plotting()
        self.addCleanup(setattr, capture, "current", None)
        self.addCleanup(plotting()["plt"].close, "all")
        with mock.patch.object(sys, "stdout", new_callable=io.StringIO) as out:
            body = tasks.task_exec({"code": code})
        return json.loads(body), out.getvalue()

    def test_result(self):
        code = ("x = pd.DataFrame({'a': [1, 2], 'b': [float('nan'), 1.0]})\n"
                "print('rows', len(x))\n"
                "fig = px.bar(x, x='a', y='a')\n"
                "plt.plot([1, 2])\n"
                "x")
        result, out = self.execute(code)
        self.assertEqual(out, "rows 2\n")
        self.assertTrue(result["ok"])
        self.assertIsNone(result["error"])
        self.assertEqual(result["tables"], [{"columns": ["a", "b"], "rows": [[1, None], [2, 1.0]]}])
        self.assertEqual(len(result["figures"]), 1)
        self.assertEqual(result["figures"][0]["data"][0]["type"], "bar")
        self.assertEqual(len(result["images"]), 1)

    def test_error(self):
        result, _ = self.execute("x = 1\n# agent_one code start\n{}['k']")
        self.assertFalse(result["ok"])
        self.assertEqual({k: result["error"][k] for k in ("type", "message", "line", "agent")},
                         {"type": "KeyError", "message": "'k'", "line": 3, "agent": "agent_one"})

    def test_exit(self):
        result, _ = self.execute("import sys\nsys.exit(0)")
        self.assertTrue(result["ok"])
        result, _ = self.execute("exit(3)")
        self.assertEqual((result["error"]["type"], result["error"]["message"]), ("SystemExit", "the code called exit(3)"))

    def test_executions_start_afresh(self):
        self.execute("leak = 1")
        result, _ = self.execute("leak")
        self.assertEqual(result["error"]["type"], "NameError")


if __name__ == "__main__":
    unittest.main()
