"""Tests of legacy Excel (.xls) workbooks (kernel.xls, limits.check_xls and
the inspect task) and of the columns of dates made datetime64
(datasets.parse_dates), on the fixtures of executor/testdata (made by
make_xls.py) and files made here."""

import datetime
import json
import os
import unittest
from unittest import mock

from kernel import config, datasets, limits, tasks
from kernel.tests.helpers import fd_of, plotting
from kernel.tests.test_datasets import xlsx

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata")


def setUpModule():
    plotting()


def fixture(name):
    """The bytes of executor/testdata/name."""
    with open(os.path.join(TESTDATA, name), "rb") as f:
        return f.read()


class TestReadXLS(unittest.TestCase):
    def read(self, sheet="", data=None):
        return datasets.read_dataset(fd_of(fixture("sales.xls") if data is None else data, ".xls"), "xls", sheet)

    def test_first_sheet_equals_the_csv(self):
        frame = self.read()
        csv = datasets.read_dataset(fd_of(fixture("sales.csv")), "csv", None)
        self.assertEqual(list(frame.columns), ["region", "product", "units", "price", "date"])
        self.assertEqual(str(frame["date"].dtype), "datetime64[ns]")
        self.assertEqual(frame["date"].dt.day.tolist()[:5], [3, 4, 5, 6, 7])
        for c in frame.columns:
            self.assertTrue(frame[c].equals(csv[c]), c)

    def test_named_sheet(self):
        frame = self.read("Targets")
        self.assertEqual(frame.shape, (4, 2))
        self.assertEqual(str(frame["target"].dtype), "int64")
        self.assertEqual(int(frame["target"].sum()), 48)

    def test_unknown_sheet(self):
        with self.assertRaisesRegex(ValueError, "Worksheet named 'Budget' not found"):
            self.read("Budget")

    def test_booleans(self):
        with open(os.path.join(TESTDATA, "..", "..", "e2e", "testdata", "regions.xls"), "rb") as f:
            frame = self.read("Sales", f.read())
        self.assertEqual(frame["Open"].tolist(), [True, False, True])
        self.assertEqual(str(frame["Day"].dtype), "datetime64[ns]")

    def test_not_ole2(self):
        with self.assertRaisesRegex(ValueError, "not an Excel .xls file"):
            self.read(data=b"region,units\nNorth,1\n")

    def test_malformed(self):
        data = bytearray(fixture("sales.xls"))
        data[512:1024] = b"\xff" * 512  # the FAT: every sector free
        with self.assertRaisesRegex(ValueError, "not a readable Excel .xls file"):
            self.read(data=bytes(data))
        with self.assertRaisesRegex(ValueError, "not a readable Excel .xls file"):
            self.read(data=limits.OLE2_MAGIC + b"\0" * 600)

    def test_too_large(self):
        with mock.patch.object(config, "XLSX_MAX_UNCOMPRESSED", 4096):
            with self.assertRaisesRegex(limits.DatasetLimitError, "DATASET_XLSX_MAX_UNCOMPRESSED_BYTES"):
                self.read()

    def test_too_many_cells(self):
        with mock.patch.object(limits, "XLS_MAX_CELLS", 30):
            with self.assertRaisesRegex(limits.DatasetLimitError, "7 rows of 5 columns, more than the limit of 30"):
                self.read()
            self.assertEqual(self.read("Targets").shape, (4, 2))

    def test_inspect(self):
        out = json.loads(tasks.task_inspect({"dataset": {"format": "xls"}}, fd_of(fixture("sales.xls"))))
        self.assertTrue(out["ok"], out)
        ins = out["inspection"]
        self.assertEqual(ins["sheets"], ["Sales", "Targets"])
        self.assertEqual(ins["headers"], ["region", "product", "units", "price", "date"])
        self.assertEqual(ins["rows"][0], ["North", "Widget", "10", "2.5", "2024-01-03T00:00:00"])
        self.assertEqual(ins["rows"][1][2], "")
        out = json.loads(tasks.task_inspect({"dataset": {"format": "xls", "sheet": "Targets"}},
                                            fd_of(fixture("sales.xls"))))
        self.assertEqual(out["inspection"]["headers"], ["region", "target"])
        self.assertEqual(out["inspection"]["rows"][0], ["North", "25"])

    def test_profile_and_preview(self):
        out = json.loads(tasks.task_profile({"dataset": {"format": "xls"}}, fd_of(fixture("sales.xls"))))
        date = out["profile"]["columns"][4]
        self.assertEqual((date["dtype"], date["nullCount"]), ("datetime64[ns]", 1))
        self.assertEqual(date["topValues"][0]["count"], 1)
        self.assertRegex(date["topValues"][0]["value"], r"^2024-01-0\d$")
        out = json.loads(tasks.task_preview({"dataset": {"format": "xls"}, "limit": 1}, fd_of(fixture("sales.xls"))))
        self.assertEqual(out["preview"]["rows"], [["North", "Widget", "10.0", "2.5", "2024-01-03"]])


class TestParseDates(unittest.TestCase):
    def read_csv(self, text):
        return datasets.read_dataset(fd_of(text.encode()), "csv", None)

    def test_iso_dates(self):
        frame = self.read_csv("d,n\n2024-01-03,1\n2024-02-29,2\n,3\n")
        self.assertEqual(str(frame["d"].dtype), "datetime64[ns]")
        self.assertEqual(frame["d"].dt.year.tolist()[:2], [2024, 2024])
        self.assertTrue(frame["d"].isna().iloc[2])
        self.assertEqual(str(frame["n"].dtype), "int64")

    def test_iso_datetimes(self):
        for text in ("d\n2024-01-03 10:30\n2024-01-04 11:00\n", "d\n2024-01-03T10:30:05\n2024-01-04T11:00:00\n",
                     "d\n2024-01-03T10:30:05.250\n2024-01-04T11:00:00.5\n"):
            frame = self.read_csv(text)
            self.assertEqual(str(frame["d"].dtype), "datetime64[ns]", text)
            self.assertEqual(frame["d"].iloc[0].minute, 30)

    def test_left_alone(self):
        cases = {
            "a value no date": "d\n2024-01-03\nsoon\n",
            "an impossible date": "d\n2024-01-03\n2024-13-40\n",
            "out of datetime64's range": "d\n2024-01-03\n9999-12-31\n",
            "digits only": "d\n20240103\n20240104\n",
            "a date later in the column": "d\nsoon\n2024-01-03\n",
            "a year alone later on": "d\n2024-01-03\n2024\n",
            "day first": "d\n03/01/2024\n04/01/2024\n",
            "a time zone": "d\n2024-01-03T10:00:00+02:00\n2024-01-03T11:00:00Z\n",
        }
        for name, text in cases.items():
            self.assertNotIn("datetime", str(self.read_csv(text)["d"].dtype), name)
        self.assertEqual(str(self.read_csv("d\n2024\n2025\n")["d"].dtype), "int64")

    def test_blank_cells_are_missing(self):
        frame = datasets.parse_dates(datasets.M["pd"].DataFrame({"d": ["2024-01-03", "  ", None, " 2024-01-05 "]}))
        self.assertEqual(str(frame["d"].dtype), "datetime64[ns]")
        self.assertEqual(int(frame["d"].isna().sum()), 2)

    def test_dates_after_blank_rows(self):
        # The first rows decide cheaply; a column that starts blank is
        # sampled from its first values.
        pd = datasets.M["pd"]
        values = [None] * 300 + ["2024-01-03", "2024-01-04"] * 20
        frame = datasets.parse_dates(pd.DataFrame({"d": values}))
        self.assertEqual(str(frame["d"].dtype), "datetime64[ns]")
        self.assertEqual(int(frame["d"].isna().sum()), 300)

    def test_repeated_dates_keep_rows_and_index(self):
        pd = datasets.M["pd"]
        col = pd.Series(["2024-01-03", None, "2024-01-04", "2024-01-03", ""] * 1000, index=range(5, 5005), name="d")
        parsed = datasets.iso_dates(col)
        self.assertEqual(parsed.index.tolist(), col.index.tolist())
        self.assertEqual(parsed.name, "d")
        self.assertEqual(parsed.iloc[:5].dt.day.tolist()[0], 3)
        self.assertTrue(parsed.iloc[1] is pd.NaT and parsed.iloc[4] is pd.NaT)
        self.assertEqual(parsed.iloc[3], parsed.iloc[0])

    def test_json(self):
        frame = datasets.read_dataset(fd_of(b'[{"day": "2024-01-03", "x": 1}, {"day": "2024-01-04", "x": 2}]'),
                                      "json", None)
        self.assertEqual(str(frame["day"].dtype), "datetime64[ns]")

    def test_xlsx_text_and_date_cells(self):
        data = xlsx({"S": [["text", "cells", "mixed"], ["2024-01-03", datetime.datetime(2024, 1, 3), "x"],
                           ["2024-01-04", datetime.datetime(2024, 1, 4, 12), datetime.datetime(2024, 1, 4)]]})
        frame = datasets.read_dataset(fd_of(data, ".xlsx"), "xlsx", "")
        self.assertEqual([str(t) for t in frame.dtypes], ["datetime64[ns]", "datetime64[ns]", "object"])
        self.assertEqual(frame["cells"].iloc[1].hour, 12)

    def test_profile_of_datetimes(self):
        frame = self.read_csv("d\n2024-01-03 10:30\n2024-01-03 10:30\n2024-01-04 00:00\n")
        col = datasets.column_profile("d", frame["d"])
        self.assertEqual(col["dtype"], "datetime64[ns]")
        self.assertEqual(col["topValues"][0], {"value": "2024-01-03T10:30:00", "count": 2})


if __name__ == "__main__":
    unittest.main()
