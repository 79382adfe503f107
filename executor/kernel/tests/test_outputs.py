"""Tests of kernel.outputs: the files of an execution's output folder,
regular files only, names made safe, within their limits and the result's
budget, and of task_exec sending them with its result."""

import base64
import json
import os
import sys
import tempfile
import unittest
from unittest import mock

from kernel import capture, config, outputs, tasks
from kernel.tests.helpers import plotting


class TestSafeName(unittest.TestCase):
    def test_names(self):
        for rel, want in [
            ("summary.csv", "summary.csv"),
            ("sub/dir/a b.txt", "sub_dir_a_b.txt"),
            (".hidden", "hidden"),
            ("../../etc/passwd", "etc_passwd"),
            ("résumé.csv", "r_sum_.csv"),
            ("<script>.html", "script_.html"),
            ("...", "file"),
            ("x" * 300 + ".csv", "x" * 116 + ".csv"),
        ]:
            with self.subTest(rel=rel):
                self.assertEqual(outputs.safe_name(rel), want)


class TestCollect(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = os.path.join(tmp.name, "outputs")
        self.outside = os.path.join(tmp.name, "secret.txt")
        with open(self.outside, "w") as f:
            f.write("secret")
        for name, value in (("OUTPUT_DIR", self.dir), ("OUTPUT_MAX_FILES", 3), ("OUTPUT_MAX_BYTES", 100)):
            p = mock.patch.object(config, name, value)
            p.start()
            self.addCleanup(p.stop)
        outputs.prepare()
        self.notes = []

    def write(self, rel, data):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def collect(self, budget=1 << 20):
        return outputs.collect(budget, self.notes.append)

    def test_cases(self):
        cases = [
            ("one file", [("a.csv", b"x,y\n1,2\n")], [("a.csv", b"x,y\n1,2\n")], 0),
            ("nested", [("d/b.txt", b"b")], [("d_b.txt", b"b")], 0),
            ("too many", [("1", b"1"), ("2", b"2"), ("3", b"3"), ("4", b"4")],
             [("1", b"1"), ("2", b"2"), ("3", b"3")], 1),
            ("too large together", [("a", b"a" * 60), ("b", b"b" * 60), ("c", b"c")],
             [("a", b"a" * 60), ("c", b"c")], 1),
            ("empty", [("e.txt", b"")], [("e.txt", b"")], 0),
        ]
        for title, files, want, notes in cases:
            with self.subTest(title):
                self.notes = []
                for rel, data in files:
                    self.write(rel, data)
                got = [(f["name"], base64.b64decode(f["data"])) for f in self.collect()]
                self.assertEqual(got, want)
                self.assertEqual(len(self.notes), notes, self.notes)
                for f in self.collect():  # what was sent is gone
                    self.assertNotIn(f["name"], [w[0] for w in want])
                for root, dirs, names in os.walk(self.dir):
                    for n in names:
                        os.unlink(os.path.join(root, n))

    def test_links_and_fifos_skipped(self):
        os.symlink(self.outside, os.path.join(self.dir, "link.txt"))
        os.symlink(os.path.dirname(self.outside), os.path.join(self.dir, "dirlink"))
        os.mkfifo(os.path.join(self.dir, "fifo"))
        self.write("ok.txt", b"ok")
        got = self.collect()
        self.assertEqual([f["name"] for f in got], ["ok.txt"])
        self.assertEqual(len(self.notes), 2, self.notes)  # the link and the FIFO

    def test_budget(self):
        self.write("a", b"a" * 90)
        self.assertEqual(self.collect(budget=40), [])
        self.assertEqual(len(self.notes), 1)

    def test_no_folder(self):
        os.rmdir(self.dir)
        self.assertEqual(self.collect(), [])

    def test_duplicate_names(self):
        self.write("a b", b"1")
        self.write("a_b", b"2")
        self.assertEqual(sorted(f["name"] for f in self.collect()), ["a_b", "a_b-2"])


class TestExecResult(unittest.TestCase):
    def test_files_in_result(self):
        plotting()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        with mock.patch.object(config, "OUTPUT_DIR", os.path.join(tmp.name, "outputs")), \
                mock.patch.object(sys, "stderr"):
            code = ("import os\nwith open(os.path.join(%r, 'summary.csv'), 'w') as f:\n    f.write('a,b\\n1,2\\n')\n"
                    % config.OUTPUT_DIR)
            out = json.loads(tasks.task_exec({"code": code}))
        capture.current = None
        self.assertTrue(out["ok"], out)
        self.assertEqual([(f["name"], f["size"], base64.b64decode(f["data"])) for f in out["files"]],
                         [("summary.csv", 8, b"a,b\n1,2\n")])


if __name__ == "__main__":
    unittest.main()
