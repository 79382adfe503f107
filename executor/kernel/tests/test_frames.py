"""Tests of kernel.frames: a DataFrame of an execution found by name,
flattened, written as CSV or XLSX within its limit, formula-like cells
neutralised; and of task_exec sending it back (frame_body)."""

import base64
import csv
import io
import json
import os
import sys
import tempfile
import unittest
from unittest import mock

from kernel import capture, config, frames, tasks
from kernel.tests.helpers import plotting


class TestNeutralise(unittest.TestCase):
    def test_values(self):
        for value, want in [
            ("=1+1", "'=1+1"),
            ("+33 1 23", "'+33 1 23"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("Paris", "Paris"),
            ("a=b", "a=b"),
            ("", ""),
            (-5, -5),
            (1.5, 1.5),
            (None, None),
        ]:
            with self.subTest(value=value):
                self.assertEqual(frames.neutralise(value), want)


class TestFindFrame(unittest.TestCase):
    def setUp(self):
        self.pd = plotting()["pd"]

    def test_cases(self):
        pd = self.pd
        ns = {
            "summary": pd.DataFrame({"city": ["A", "B"], "price": [1.0, 2.0]}),
            "by_city": pd.DataFrame({"price": [1.0, 2.0]}, index=pd.Index(["A", "B"], name="city")),
            "means": pd.Series([1.0, 2.0], index=pd.Index(["A", "B"], name="city"), name="price"),
            "unnamed": pd.Series([3, 4]),
            "wide": pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("price", "mean"), ("price", "max")])),
            "filtered": pd.DataFrame({"a": [1, 2, 3]}).iloc[[2, 0]],
            "dated": pd.DataFrame({"a": [1]}, index=pd.to_datetime(["2024-01-01"])),
            "n": 3,
        }
        cases = [
            ("summary", ["city", "price"], 2, None),
            ("by_city", ["city", "price"], 2, None),
            ("means", ["city", "price"], 2, None),
            ("unnamed", ["unnamed"], 2, None),
            ("wide", ["price_mean", "price_max"], 1, None),
            ("filtered", ["a"], 2, None),
            ("dated", ["index", "a"], 1, None),
            ("n", None, 0, "not_frame"),
            ("missing", None, 0, "missing"),
            ("not an identifier", None, 0, "missing"),
        ]
        for name, columns, rows, problem in cases:
            with self.subTest(name=name):
                if problem:
                    with self.assertRaises(frames.FrameError) as cm:
                        frames.find_frame(ns, name)
                    self.assertEqual(cm.exception.problem, problem)
                    continue
                f = frames.find_frame(ns, name)
                self.assertEqual(list(f.columns), columns)
                self.assertEqual(len(f), rows)

    def test_missing_names_the_frames(self):
        pd = self.pd
        with self.assertRaises(frames.FrameError) as cm:
            frames.find_frame({"a": pd.DataFrame(), "_b": pd.DataFrame(), "c": 1}, "x")
        self.assertIn("its DataFrames are: a", cm.exception.message)
        self.assertNotIn("_b", cm.exception.message)


class TestSerialise(unittest.TestCase):
    def setUp(self):
        pd = plotting()["pd"]
        self.frame = pd.DataFrame({
            "city": ["=1+1", "@SUM(A1)", "Paris", None],
            "price": [-5, 2, 3, 4],
            "ratio": [0.5, float("nan"), 1.5, 2.0],
            "=HYPERLINK(x)": ["-2+3", "+x", "\tt", "ok"],
        })

    def test_csv_neutralised(self):
        data = frames.to_csv(self.frame, 1 << 20, True)
        rows = list(csv.reader(io.StringIO(data.decode())))
        self.assertEqual(rows[0], ["city", "price", "ratio", "'=HYPERLINK(x)"])
        self.assertEqual(rows[1], ["'=1+1", "-5", "0.5", "'-2+3"])
        self.assertEqual(rows[2], ["'@SUM(A1)", "2", "", "'+x"])
        self.assertEqual(rows[3][3], "'\tt")
        self.assertIn(b'"\'=1+1",-5,0.5', data)  # text quoted, numbers not

    def test_csv_raw(self):
        data = frames.to_csv(self.frame, 1 << 20, False)
        rows = list(csv.reader(io.StringIO(data.decode())))
        self.assertEqual(rows[1], ["=1+1", "-5", "0.5", "-2+3"])

    def test_csv_limit(self):
        with self.assertRaises(frames.FrameError) as cm:
            frames.to_csv(self.frame, 20, True)
        self.assertEqual(cm.exception.problem, "too_large")

    def test_xlsx_neutralised(self):
        import openpyxl

        data = frames.to_xlsx(self.frame, 1 << 20, True)
        ws = openpyxl.load_workbook(io.BytesIO(data)).active
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        self.assertEqual(rows[0], ["city", "price", "ratio", "'=HYPERLINK(x)"])
        self.assertEqual(rows[1], ["'=1+1", -5, 0.5, "'-2+3"])
        self.assertEqual(rows[2], ["'@SUM(A1)", 2, None, "'+x"])
        self.assertEqual(rows[4][0], None)
        for r in ws.iter_rows():
            for c in r:
                self.assertNotEqual(c.data_type, "f", c.coordinate)

    def test_xlsx_values(self):
        import openpyxl

        pd = plotting()["pd"]
        f = pd.DataFrame({"when": pd.to_datetime(["2024-01-02", None]), "ok": [True, False],
                          "odd": ["a\x01b", float("inf")]})
        ws = openpyxl.load_workbook(io.BytesIO(frames.to_xlsx(f, 1 << 20, True))).active
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        self.assertEqual(rows[1][0].isoformat(), "2024-01-02T00:00:00")
        self.assertEqual(rows[1][1:], [True, "ab"])
        self.assertEqual(rows[2], [None, False, "inf"])

    def test_xlsx_limit(self):
        with self.assertRaises(frames.FrameError) as cm:
            frames.to_xlsx(self.frame, 100, True)
        self.assertEqual(cm.exception.problem, "too_large")

    def test_export(self):
        out = frames.export({"t": self.frame}, {"variable": "t", "format": "csv", "neutralise": True}, 1 << 20)
        self.assertEqual((out["rows"], out["columns"]), (4, 4))
        self.assertEqual(frames.export({}, {"variable": "t"}, 100)["problem"], "missing")
        self.assertEqual(frames.export({"t": self.frame}, {"variable": "t", "format": "pdf"}, 100)["problem"], "failed")


class TestExecFrame(unittest.TestCase):
    def run_code(self, code, frame):
        plotting()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        outdir = os.path.join(tmp.name, "outputs")
        with mock.patch.object(config, "OUTPUT_DIR", outdir), mock.patch.object(sys, "stderr"):
            out = json.loads(tasks.task_exec({"code": code, "frame": frame}))
            self.assertFalse(os.path.exists(outdir), "the output folder is discarded")
        capture.current = None
        return out

    def test_frame_sent(self):
        code = ("import os\nos.makedirs(%r, exist_ok=True)\nopen(os.path.join(%r, 'x.txt'), 'w').write('x')\n"
                "s = pd.DataFrame({'a': ['=1+1', 'b'], 'n': [1, 2]})\ns" % (config.OUTPUT_DIR, config.OUTPUT_DIR))
        code = code.replace(repr(config.OUTPUT_DIR), "__import__('kernel').config.OUTPUT_DIR")
        out = self.run_code(code, {"variable": "s", "format": "csv", "neutralise": True, "max_bytes": 1000})
        self.assertTrue(out["ok"], out)
        self.assertEqual(out["files"], [])
        self.assertEqual(out["figures"], [])
        self.assertEqual(base64.b64decode(out["frame"]["data"]), b'"a","n"\n"\'=1+1",1\n"b",2\n')
        self.assertEqual((out["frame"]["rows"], out["frame"]["columns"]), (2, 2))

    def test_problems(self):
        for code, frame, problem in [
            ("x = 1", {"variable": "x"}, "not_frame"),
            ("x = 1", {"variable": "y"}, "missing"),
            ("x = pd.DataFrame({'a': range(100)})", {"variable": "x", "max_bytes": 10}, "too_large"),
        ]:
            with self.subTest(frame=frame):
                out = self.run_code(code, frame)
                self.assertTrue(out["ok"], out)
                self.assertEqual(out["frame"]["problem"], problem)
                self.assertNotIn("data", out["frame"])

    def test_code_fails(self):
        out = self.run_code("raise ValueError('no')", {"variable": "x"})
        self.assertFalse(out["ok"])
        self.assertIsNone(out["frame"])
        self.assertEqual(out["error"]["type"], "ValueError")


if __name__ == "__main__":
    unittest.main()
