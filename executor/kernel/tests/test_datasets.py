"""Tests of kernel.datasets (reading, sniffing, cleaning datasets; names;
profiles) and of the dataset tasks of kernel.tasks (profile, preview,
inspect), on files made here."""

import io
import json
import math
import unittest
from unittest import mock

from kernel import datasets, tasks
from kernel.tests.helpers import fd_of, is_open, plotting


def setUpModule():
    plotting()


def xlsx(sheets):
    """An Excel workbook (bytes) with sheets: name -> rows."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


class TestDetectEncoding(unittest.TestCase):
    def test_utf8(self):
        self.assertEqual(datasets.detect_encoding("a,b\nCafé,Zoë\n".encode()), "utf-8")

    def test_utf8_bom(self):
        self.assertEqual(datasets.detect_encoding(b"\xef\xbb\xbfa,b\n1,2\n"), "utf-8-sig")

    def test_character_cut_by_the_sample(self):
        head = "a,b\n1,é".encode()[:-1]  # the é's second byte left out
        self.assertEqual(datasets.detect_encoding(head), "utf-8")

    def test_cp1252(self):
        self.assertEqual(datasets.detect_encoding("price\n5 €\n“quoted”\n".encode("cp1252")), "cp1252")

    def test_latin1(self):
        self.assertEqual(datasets.detect_encoding("name\nJosé\n".encode("latin-1")), "latin-1")

    def test_control_range_not_cp1252(self):
        # 0x81 is undefined in Windows-1252: ISO-8859-1 it is.
        self.assertEqual(datasets.detect_encoding(b"a\n\x81\xe9\n"), "latin-1")

    def test_ascii(self):
        self.assertEqual(datasets.detect_encoding(b""), "utf-8")


class TestSniffDelimiter(unittest.TestCase):
    def test_delimiters(self):
        for sep in (",", ";", "\t", "|"):
            with self.subTest(sep=repr(sep)):
                text = sep.join(["id", "name", "amount"]) + "\n"
                text += "".join(sep.join([str(i), "n%d" % i, "%d.5" % i]) + "\n" for i in range(20))
                self.assertEqual(datasets.sniff_delimiter(text.encode()), sep)

    def test_one_column(self):
        self.assertEqual(datasets.sniff_delimiter(b"value\n1\n2\n3\n"), ",")

    def test_full_sample_cut_at_last_line(self):
        # A sample as long as SNIFF_BYTES ends within a line: only whole
        # lines are sniffed, so the partial last one does not confuse it.
        line = b"1;2;3;4\n"
        head = (b"a;b;c;d\n" + line * datasets.SNIFF_BYTES)[:datasets.SNIFF_BYTES - 3] + b"1,2"
        self.assertEqual(len(head), datasets.SNIFF_BYTES)
        self.assertEqual(datasets.sniff_delimiter(head), ";")


class TestCheckText(unittest.TestCase):
    def test_text(self):
        datasets.check_text(b"a,b\r\n1,\t2\x0c\n")
        datasets.check_text(b"")

    def test_binary(self):
        with self.assertRaisesRegex(ValueError, "binary"):
            datasets.check_text(b"PK\x03\x04\x00\x00\x00\x08\x00" * 10)


class TestCheckName(unittest.TestCase):
    def test_valid(self):
        datasets.check_name("sales", False)
        datasets.check_name("df", True)

    def test_refused(self):
        for name, first, why in (
            ("df", False, "reserved"),
            ("pd", True, "reserved"),
            ("list", True, "built-in"),
            ("class", True, "invalid"),
            ("__x", True, "invalid"),
            ("two words", True, "invalid"),
            ("", True, "invalid"),
            (None, True, "invalid"),
        ):
            with self.subTest(name=name):
                with self.assertRaisesRegex(ValueError, why):
                    datasets.check_name(name, first)


class TestReadCSV(unittest.TestCase):
    def read(self, data, columns=None):
        fd = fd_of(data)
        frame = datasets.read_dataset(fd, "CSV", None, columns)
        self.assertFalse(is_open(fd))
        return frame

    def test_semicolon_cp1252(self):
        data = "Name;Price\nCafé;3,5 €\nThé;2 €\n".encode("cp1252")
        frame = self.read(data)
        self.assertEqual(list(frame.columns), ["Name", "Price"])
        self.assertEqual(list(frame["Name"]), ["Café", "Thé"])
        self.assertEqual(frame["Price"][0], "3,5 €")

    def test_utf8_bom_tabs(self):
        frame = self.read(b"\xef\xbb\xbfa\tb\n1\t2\n3\t4\n")
        self.assertEqual(list(frame.columns), ["a", "b"])
        self.assertEqual(frame["b"].tolist(), [2, 4])

    def test_cleaning(self):
        data = (b" id , name ,id,,empty\n"
                b"1,a,x,,\n"
                b",,,,\n"
                b"2,  ,y,,\n"
                b",  , ,,\n"
                b"3,c,z,,\n")
        frame = self.read(data)
        # Headers trimmed and made unique, the empty column dropped (the
        # unnamed one is empty too), the empty rows dropped, and the ids
        # integers again.
        self.assertEqual(list(frame.columns), ["id", "name", "id_2"])
        self.assertEqual(len(frame), 3)
        self.assertEqual(str(frame["id"].dtype), "int64")
        self.assertEqual(frame["id"].tolist(), [1, 2, 3])
        self.assertEqual(frame.index.tolist(), [0, 1, 2])

    def test_cleaning_mixed_and_unhashable_columns(self):
        pd = datasets.M["pd"]
        frame = pd.DataFrame({"mixed": [1, "  ", None, "x"], "lists": [[1], None, None, [2]],
                              "blank": [" ", "", None, "\t"]}, index=[10, 11, 12, 13])
        out = datasets.clean_frame(frame)
        # The blank column is dropped, and so are the rows whose every cell
        # is empty (blanks count), the index is 0, 1 again.
        self.assertEqual(list(out.columns), ["mixed", "lists"])
        self.assertEqual(out["mixed"].tolist(), [1, "x"])
        self.assertEqual(out.index.tolist(), [0, 1])

    def test_nothing_to_drop_is_not_copied(self):
        pd = datasets.M["pd"]
        frame = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
        self.assertIs(datasets.clean_frame(frame), frame)

    def test_headers_only(self):
        frame = self.read(b"a,b,c\n")
        self.assertEqual(list(frame.columns), ["a", "b", "c"])
        self.assertEqual(len(frame), 0)

    def test_floats_with_missing_values_stay_float(self):
        frame = self.read(b"x,y\n1,2\n,\n2.5,\n")
        self.assertEqual(str(frame["x"].dtype), "float64")
        self.assertTrue(math.isnan(frame["y"][1]))

    def test_stored_columns(self):
        data = b"a,b,c\n1,2,3\n"
        self.assertEqual(list(self.read(data, ["c", "a"]).columns), ["c", "a"])
        # Out of date: a column is gone from the file, every column is kept.
        with mock.patch.object(datasets, "log") as log:
            self.assertEqual(list(self.read(data, ["c", "gone"]).columns), ["a", "b", "c"])
        log.assert_called_once()

    def test_binary_refused(self):
        with self.assertRaisesRegex(ValueError, "binary"):
            self.read(bytes(range(256)) * 4)

    def test_unsupported_format(self):
        fd = fd_of(b"a\n1\n")
        with self.assertRaisesRegex(ValueError, "unsupported dataset format 'parquet'"):
            datasets.read_dataset(fd, "parquet", None)
        self.assertFalse(is_open(fd))


class TestReadXLSX(unittest.TestCase):
    def test_sheets(self):
        data = xlsx({"First": [["a", "b"], [1, "x"], [None, None], [2, "y"]],
                     "Second": [[" q "], [10], [20]]})
        frame = datasets.read_dataset(fd_of(data, ".xlsx"), "xlsx", "")
        self.assertEqual(list(frame.columns), ["a", "b"])
        self.assertEqual(frame["a"].tolist(), [1, 2])
        self.assertEqual(str(frame["a"].dtype), "int64")
        frame = datasets.read_dataset(fd_of(data, ".xlsx"), "xlsx", "Second")
        self.assertEqual(list(frame.columns), ["q"])
        self.assertEqual(frame["q"].tolist(), [10, 20])

    def test_missing_sheet(self):
        data = xlsx({"Only": [["a"], [1]]})
        with self.assertRaises(ValueError):
            datasets.read_dataset(fd_of(data), "xlsx", "Nope")


class TestReadJSON(unittest.TestCase):
    def read(self, data):
        return datasets.read_dataset(fd_of(data), "json", None)

    def test_records(self):
        frame = self.read(b'[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]')
        self.assertEqual(frame.to_dict("list"), {"a": [1, 2], "b": ["x", "y"]})

    def test_columns(self):
        frame = self.read(b'{"a": {"0": 1, "1": 2}, "b": {"0": "x", "1": "y"}}')
        self.assertEqual(frame.to_dict("list"), {"a": [1, 2], "b": ["x", "y"]})

    def test_lines_with_bom(self):
        frame = self.read(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')
        self.assertEqual(frame["a"].tolist(), [1, 2])

    def test_latin1(self):
        frame = self.read('[{"name": "José"}]'.encode("latin-1"))
        self.assertEqual(frame["name"].tolist(), ["José"])


class TestProfile(unittest.TestCase):
    def test_column_profile(self):
        pd = plotting()["pd"]
        num = datasets.column_profile("n", pd.Series([1.0, float("inf"), None, 3.0]))
        self.assertEqual(num, {"name": "n", "dtype": "float64", "nullCount": 1, "distinctCount": 3,
                               "min": 1.0, "max": 3.0})
        text = datasets.column_profile(0, pd.Series(["b", "a", "b", None]))
        self.assertEqual(text["name"], "0")
        self.assertEqual(text["topValues"], [{"value": "b", "count": 2}, {"value": "a", "count": 1}])
        lists = datasets.column_profile("l", pd.Series([[1], [1], [2]]))
        self.assertEqual(lists["distinctCount"], 2)
        # Dates at midnight show without a time.
        dates = datasets.column_profile("d", pd.Series(pd.to_datetime(["2024-01-02"])))
        self.assertEqual(dates["topValues"], [{"value": "2024-01-02", "count": 1}])

    def test_cells(self):
        pd = plotting()["pd"]
        self.assertEqual(datasets.cell_text(pd.Timestamp("2024-03-04 05:06")), "2024-03-04T05:06:00")
        self.assertEqual(datasets.cell_text(1.5), "1.5")
        for v in (None, float("nan"), pd.NaT):
            self.assertTrue(datasets.is_missing(v))
        self.assertFalse(datasets.is_missing([1, None]))
        self.assertFalse(datasets.is_missing(0))


class TestDatasetTasks(unittest.TestCase):
    data = b"city;sales;when\nParis;10;2024-01-01\n;;\nLyon;;2024-01-02\n"

    def run_task(self, task, header, data):
        return json.loads(task(header, fd_of(data)))

    def test_profile(self):
        out = self.run_task(tasks.task_profile, {"dataset": {"format": "csv"}}, self.data)
        self.assertTrue(out["ok"])
        self.assertEqual(out["profile"]["rowCount"], 2)
        self.assertEqual([c["name"] for c in out["profile"]["columns"]], ["city", "sales", "when"])
        self.assertEqual(out["profile"]["columns"][1]["nullCount"], 1)

    def test_preview(self):
        out = self.run_task(tasks.task_preview, {"dataset": {"format": "csv"}, "limit": 1}, self.data)
        self.assertEqual(out["preview"], {"columns": ["city", "sales", "when"], "rows": [["Paris", "10.0", "2024-01-01"]]})

    def test_inspect_csv(self):
        out = self.run_task(tasks.task_inspect, {"dataset": {"format": "csv"}}, self.data)
        self.assertEqual(out["inspection"], {
            "sheets": [], "encoding": "utf-8", "delimiter": ";", "headers": ["city", "sales", "when"],
            "rows": [["Paris", "10", "2024-01-01"], ["Lyon", "", "2024-01-02"]]})

    def test_inspect_xlsx(self):
        data = xlsx({"One": [["a"], [1]], "Two": [["b"], ["x"]]})
        out = self.run_task(tasks.task_inspect, {"dataset": {"format": "xlsx", "sheet": "Two"}}, data)
        self.assertEqual(out["inspection"]["sheets"], ["One", "Two"])
        self.assertEqual(out["inspection"]["headers"], ["b"])
        self.assertEqual(out["inspection"]["rows"], [["x"]])

    def test_errors(self):
        out = self.run_task(tasks.task_profile, {"dataset": {"format": "csv"}}, b"\x00\x01\x02\x03" * 100)
        self.assertEqual(out, {"ok": False, "error": {"type": "ValueError", "message": "the file is binary, not text"}})
        out = self.run_task(tasks.task_inspect, {"dataset": {"format": "xml"}}, b"<a/>")
        self.assertEqual(out["error"]["message"], "unsupported dataset format 'xml'")


if __name__ == "__main__":
    unittest.main()
