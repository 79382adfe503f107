"""Tests of kernel.parsed (a dataset's parsed form) through the profile task
that writes it and datasets.read_spec that reads it: the same frame as the
file's, the column selection, the bound, and the fallback to the file."""

import json
import os
import pickle
import tempfile
import unittest

from kernel import datasets, parsed, tasks
from kernel.tests.helpers import fd_of, is_open, plotting

CSV = b" region ,units,price,day,empty\nNorth,10,2.5,2024-01-03,\n,,,,\nSouth,3,4.0,2024-02-01,\n"


def setUpModule():
    plotting()


def out_file(test):
    """A writable descriptor of an empty file and the file's path."""
    f = tempfile.NamedTemporaryFile(delete=False)
    f.close()
    test.addCleanup(os.unlink, f.name)
    return os.open(f.name, os.O_RDWR), f.name


def parsed_fd(test, doc):
    """A read-only descriptor of a file holding doc pickled (bytes as they are)."""
    data = doc if isinstance(doc, bytes) else pickle.dumps(doc, protocol=5)
    return fd_of(data)


class TestWrite(unittest.TestCase):
    def profile(self, spec, data=CSV, max_bytes=1 << 20):
        fd, path = out_file(self)
        out = json.loads(tasks.task_profile({"dataset": spec, "parsed_max": max_bytes}, fd_of(data), fd))
        self.assertFalse(is_open(fd))
        with open(path, "rb") as f:
            return out, f.read()

    def test_profile_writes_the_cleaned_frame(self):
        out, data = self.profile({"format": "csv"})
        self.assertTrue(out["ok"])
        self.assertEqual(out["parsed"], {"bytes": len(data)})
        doc = pickle.loads(data)
        self.assertEqual((doc["version"], doc["format"], doc["sheet"]), (1, "csv", ""))
        want = datasets.read_dataset(fd_of(CSV), "csv", None)
        self.assertTrue(doc["frame"].equals(want))
        self.assertEqual(list(doc["frame"].dtypes), list(want.dtypes))

    def test_every_column_is_kept(self):
        out, data = self.profile({"format": "csv", "columns": ["price", "region"]})
        self.assertEqual([c["name"] for c in out["profile"]["columns"]], ["price", "region"])
        self.assertEqual(list(pickle.loads(data)["frame"].columns), ["region", "units", "price", "day"])

    def test_over_the_bound_stops(self):
        out, data = self.profile({"format": "csv"}, max_bytes=100)
        self.assertTrue(out["ok"])
        self.assertEqual(out["parsed"]["bytes"], 0)
        self.assertIn("larger than 100 bytes", out["parsed"]["problem"])
        self.assertLessEqual(len(data), 100)

    def test_no_parsed_form_without_a_descriptor(self):
        out = json.loads(tasks.task_profile({"dataset": {"format": "csv"}}, fd_of(CSV)))
        self.assertTrue(out["ok"])
        self.assertNotIn("parsed", out)

    def test_unreadable_file_closes_the_descriptor(self):
        fd, _ = out_file(self)
        out = json.loads(tasks.task_profile({"dataset": {"format": "csv"}, "parsed_max": 1 << 20},
                                            fd_of(b"\x00\x01\x02\x03" * 100), fd))
        self.assertFalse(out["ok"])
        self.assertFalse(is_open(fd))


class TestRead(unittest.TestCase):
    def setUp(self):
        self.want = datasets.read_dataset(fd_of(CSV), "csv", None)

    def doc(self, **over):
        doc = {"version": 1, "format": "csv", "sheet": "", "frame": self.want}
        doc.update(over)
        return doc

    def read(self, doc, spec=None):
        spec = spec or {"format": "csv"}
        fd, pfd = fd_of(CSV), parsed_fd(self, doc)
        frame = datasets.read_spec(spec, fd, pfd)
        self.assertFalse(is_open(fd))
        self.assertFalse(is_open(pfd))
        return frame

    def test_reads_the_parsed_form(self):
        marked = self.want.copy()
        marked.loc[0, "units"] = 999  # not in the file: shows which was read
        frame = self.read(self.doc(frame=marked))
        self.assertEqual(frame.loc[0, "units"], 999)

    def test_column_selection(self):
        frame = self.read(self.doc(), {"format": "csv", "columns": ["price", "region"]})
        self.assertEqual(list(frame.columns), ["price", "region"])
        self.assertTrue(frame.equals(datasets.read_dataset(fd_of(CSV), "csv", None, ["price", "region"])))

    def test_out_of_date_columns_keep_every_column(self):
        frame = self.read(self.doc(), {"format": "csv", "columns": ["price", "gone"]})
        self.assertEqual(list(frame.columns), list(self.want.columns))

    def test_falls_back_to_the_file(self):
        marked = self.want.copy()
        marked.loc[0, "units"] = 999
        cases = {
            "version": self.doc(frame=marked, version=2),
            "format": self.doc(frame=marked, format="json"),
            "sheet": self.doc(frame=marked, sheet="Other"),
            "not a frame": self.doc(frame=marked["units"]),
            "not a dict": [marked],
            "corrupt": pickle.dumps(self.doc(frame=marked), protocol=5)[:-40],
            "garbage": b"not a pickle at all",
            "empty": b"",
        }
        for name, doc in cases.items():
            with self.subTest(name):
                frame = self.read(doc)
                self.assertEqual(frame.loc[0, "units"], 10)
                self.assertTrue(frame.equals(self.want))

    def test_sheet_must_match(self):
        self.assertEqual(parsed.check(self.doc(format="xlsx", sheet="Sales"), "XLSX", "Sales"), "")
        self.assertIn("sheet", parsed.check(self.doc(format="xlsx", sheet="Sales"), "xlsx", "Targets"))
        self.assertIn("sheet", parsed.check(self.doc(format="xlsx", sheet="Sales"), "xlsx", None))


class TestLargeArrays(unittest.TestCase):
    def test_fortran_ordered_blocks(self):
        # A frame made of a 2-D array holds it transposed (Fortran order):
        # pickle streams its buffer to the file as it is.
        m = plotting()
        frame = m["pd"].DataFrame(m["np"].arange(300000.0).reshape(100000, 3), columns=["a", "b", "c"])
        frame["d"] = "x"
        fd, path = out_file(self)
        n = parsed.write(fd, frame, "CSV", None, 1 << 30)
        os.close(fd)
        self.assertEqual(os.path.getsize(path), n)
        frame2 = parsed.read(os.open(path, os.O_RDONLY), "csv", "")
        self.assertTrue(frame2.equals(frame))


class TestBoundedWriter(unittest.TestCase):
    def test_counts_and_refuses(self):
        fd, path = out_file(self)
        self.addCleanup(os.close, fd)
        w = parsed.BoundedWriter(fd, 10)
        w.write(b"12345")
        w.write(memoryview(b"678"))
        with self.assertRaises(parsed.TooLarge):
            w.write(b"abc")
        self.assertEqual(w.written, 8)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"12345678")


if __name__ == "__main__":
    unittest.main()
