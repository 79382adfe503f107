"""Tests of kernel.limits: the checks that refuse hostile dataset files (zip
bombs, CSV lines without end, too many columns) before pandas parses them,
alone and through read_dataset and the dataset tasks."""

import io
import json
import random
import struct
import time
import unittest
import zipfile
from unittest import mock

from kernel import config, datasets, limits, tasks
from kernel.limits import DatasetLimitError
from kernel.tests.helpers import fd_of, plotting
from kernel.tests.test_datasets import xlsx


def setUpModule():
    plotting()


def zip_of(members, method=zipfile.ZIP_DEFLATED):
    """A zip archive (bytes) of members: name -> bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def wide_csv(columns, rows=3):
    """A CSV (bytes) of columns columns."""
    lines = [",".join("c%d" % i for i in range(columns))]
    lines += [",".join(str(i * r % 97) for i in range(columns)) for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


class TestCheckColumns(unittest.TestCase):
    def test_limit(self):
        limits.check_columns(config.MAX_COLUMNS)
        with self.assertRaisesRegex(DatasetLimitError, r"1,001 columns, more than the limit of 1,000 \(DATASET_MAX_COLUMNS\)"):
            limits.check_columns(1001)
        with self.assertRaisesRegex(DatasetLimitError, "at least 5,000 columns"):
            limits.check_columns(5000, at_least=True)


class TestCheckCSV(unittest.TestCase):
    def check(self, data, whole=True, sep=","):
        f = io.BytesIO(data)
        f.seek(7 if len(data) > 7 else 0)
        try:
            limits.check_csv(f, "utf-8", sep, whole)
        finally:
            self.assertEqual(f.tell(), 0, "the file is left at its start")

    def test_ordinary(self):
        self.check(b"a,b\n1,2\n")
        self.check(b"a;b\r\n1;2\r\n", sep=";")
        self.check(b"a,b\r1,2\r" * 100000)  # old Mac line ends: short lines
        self.check(b'"x, y",z\n1,2\n')  # a quoted delimiter is no field of its own

    def test_wide_header(self):
        with self.assertRaisesRegex(DatasetLimitError, r"the file has 100,000 columns.*DATASET_MAX_COLUMNS"):
            self.check(wide_csv(100000, rows=1))
        self.check(wide_csv(1000))

    def test_one_line(self):
        # 50 MB of "a,": more columns than the limit in the first MiB alone.
        start = time.monotonic()
        with self.assertRaisesRegex(DatasetLimitError, "at least 524,289 columns"):
            self.check(b"a," * (25 << 20))
        # 50 MB of one field: one column, but a line without end.
        with self.assertRaisesRegex(DatasetLimitError, r"line 1 of the file is longer than the limit of 1 MiB \(DATASET_MAX_LINE_BYTES\)"):
            self.check(b"x" * (50 << 20))
        self.assertLess(time.monotonic() - start, 2)

    def test_long_line_further_on(self):
        data = b"a,b\n1,2\n" + b"3," + b"x" * (2 << 20) + b"\n4,5\n"
        with self.assertRaisesRegex(DatasetLimitError, "line 3 of the file"):
            self.check(data)
        self.check(data, whole=False)  # the header only (inspect)

    def test_first_long_line_matches_a_line_by_line_count(self):
        rng = random.Random(7)
        for _ in range(300):
            limit = rng.randint(1, 12)
            data = bytes(rng.choice(b"ab\n\r") if rng.random() < 0.3 else ord("x") for _ in range(rng.randint(0, 80)))
            with mock.patch.object(limits, "SCAN_CHUNK", rng.randint(1, 16)):
                got = limits.first_long_line(io.BytesIO(data), limit)
            self.assertEqual(got, naive_long_line(data, limit), (data, limit))

    def test_read_dataset_refuses_before_parsing(self):
        with mock.patch.object(datasets.M["pd"], "read_csv") as read_csv:
            with self.assertRaises(DatasetLimitError):
                datasets.read_dataset(fd_of(wide_csv(2000)), "csv", None)
            read_csv.assert_not_called()


def naive_long_line(data, limit):
    """first_long_line, the slow way: the lines split at \\n, \\r or \\r\\n."""
    number, start = 1, 0
    for i, b in enumerate(data):
        if b in b"\r\n":
            if i - start > limit:
                return number
            if b == ord("\n"):
                number += 1
            start = i + 1
    return number if len(data) - start > limit else 0


class TestCheckXLSX(unittest.TestCase):
    def check(self, data):
        f = io.BytesIO(data)
        try:
            limits.check_xlsx(f)
        finally:
            self.assertEqual(f.tell(), 0)

    def test_workbook(self):
        self.check(xlsx({"One": [["a", "b"], [1, 2]]}))

    def test_ratio(self):
        bomb = zip_of({"xl/worksheets/sheet1.xml": b"<row/>" * (4 << 20)})  # 24 MiB into about 24 KiB
        start = time.monotonic()
        with self.assertRaisesRegex(DatasetLimitError, r"xl/worksheets/sheet1.xml inflates \d+ times \(24 MiB from .*DATASET_XLSX_MAX_RATIO"):
            self.check(bomb)
        self.assertLess(time.monotonic() - start, 0.5)
        # Below the floor, the ratio is not checked.
        self.check(zip_of({"xl/styles.xml": b"<a/>" * (1 << 20)}))

    def test_total(self):
        data = xlsx({"One": [["a", "b"], [1, 2]]})
        with mock.patch.object(config, "XLSX_MAX_UNCOMPRESSED", 1000):
            with self.assertRaisesRegex(DatasetLimitError, r"inflates to .* more than the limit of 1000 B \(DATASET_XLSX_MAX_UNCOMPRESSED_BYTES\)"):
                self.check(data)

    def test_parts_and_methods(self):
        with mock.patch.object(limits, "XLSX_MAX_PARTS", 2):
            with self.assertRaisesRegex(DatasetLimitError, "an archive of 3 parts"):
                self.check(zip_of({"a": b"1", "b": b"2", "c": b"3"}))
        with self.assertRaisesRegex(DatasetLimitError, "compressed with method 12"):
            self.check(zip_of({"a": b"1"}, zipfile.ZIP_BZIP2))

    def test_not_a_zip(self):
        with self.assertRaises(ValueError) as cm:
            self.check(b"PK\x03\x04 not really")
        self.assertNotIsInstance(cm.exception, DatasetLimitError)

    def test_lying_directory_inflates_no_further(self):
        # A part that declares 100 bytes but holds 8 MiB: zipfile stops at
        # 100 (the declared sizes are all check_xlsx needs to trust).
        data = bytearray(zip_of({"sheet.xml": b"0" * (8 << 20)}))
        for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
            at = data.find(sig)
            data[at + off:at + off + 4] = struct.pack("<I", 100)
        self.check(bytes(data))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            with z.open("sheet.xml") as part:
                got = b""
                try:
                    while True:
                        chunk = part.read(1 << 16)
                        if not chunk:
                            break
                        got += chunk
                except zipfile.BadZipFile:
                    pass  # the CRC of the first 100 bytes does not match
        self.assertLessEqual(len(got), 100)

    def test_read_dataset_refuses_before_openpyxl(self):
        with mock.patch.object(config, "XLSX_MAX_UNCOMPRESSED", 1000):
            with mock.patch.object(datasets.M["pd"], "read_excel") as read_excel:
                with self.assertRaises(DatasetLimitError):
                    datasets.read_dataset(fd_of(xlsx({"One": [["a"], [1]]})), "xlsx", None)
                read_excel.assert_not_called()


class TestTasksRefuse(unittest.TestCase):
    def run_task(self, task, fmt, data):
        return json.loads(task({"dataset": {"format": fmt}, "limit": 5}, fd_of(data)))

    def test_every_task(self):
        wide = wide_csv(1001)
        with mock.patch.object(config, "XLSX_MAX_UNCOMPRESSED", 1000):
            for task in (tasks.task_profile, tasks.task_preview, tasks.task_inspect):
                for fmt, data in (("csv", wide), ("xlsx", xlsx({"One": [["a"], [1]]}))):
                    out = self.run_task(task, fmt, data)
                    self.assertFalse(out["ok"], (task, fmt))
                    self.assertEqual(out["error"]["type"], "DatasetLimitError", (task, fmt, out))

    def test_columns_once_read(self):
        # JSON has no header to check: its columns are counted once read.
        records = [{"k%d" % i: i for i in range(1001)}] * 2
        out = self.run_task(tasks.task_profile, "json", json.dumps(records).encode())
        self.assertEqual(out["error"]["type"], "DatasetLimitError")
        self.assertIn("1,001 columns", out["error"]["message"])
        out = self.run_task(tasks.task_inspect, "json", json.dumps(records).encode())
        self.assertEqual(out["error"]["type"], "DatasetLimitError")


if __name__ == "__main__":
    unittest.main()
