"""Reading legacy Excel workbooks (.xls, BIFF in an OLE2 compound file) with
Debian's xlrd (1.2), which pandas 1.5 refuses for being older than 2.0:
the cells are read with xlrd and parsed into a DataFrame by pandas'
TextParser, as pd.read_excel does with a newer xlrd (numbers as integers
when whole, dates as datetimes, booleans, error cells missing).

A workbook passes limits.check_xls before xlrd opens it, and a sheet's
rows times columns limits.check_xls_cells before pandas parses it. Any
failure of xlrd to read the file is a ValueError that says so.
"""

import io

from .limits import DatasetLimitError, check_xls, check_xls_cells
from .stack import M


def open_xls(f):
    """The xlrd Book of a workbook (a seekable binary file), its sheets read
    on demand. Raises ValueError for a file xlrd cannot read."""
    import xlrd

    check_xls(f)
    data = f.read()
    try:
        # xlrd writes its warnings to logfile (stdout by default).
        return xlrd.open_workbook(file_contents=data, on_demand=True, ragged_rows=True,
                                  logfile=io.StringIO(), verbosity=0)
    except (DatasetLimitError, MemoryError):
        raise
    except Exception as e:  # xlrd raises anything from XLRDError to struct.error on a malformed file
        raise ValueError("not a readable Excel .xls file (%s: %s)" % (type(e).__name__, e)) from None


def xls_sheets(f):
    """The names of a workbook's sheets, in order."""
    book = open_xls(f)
    try:
        return list(book.sheet_names())
    finally:
        book.release_resources()


def read_xls(f, sheet, nrows=None, as_text=False):
    """Reads sheet (a name; empty: the first sheet) of a workbook into a
    DataFrame, its first row the header: its first nrows rows (all when
    None), every cell as text when as_text (for inspection)."""
    book = open_xls(f)
    try:
        rows = sheet_rows(book, sheet, nrows, as_text)
    finally:
        book.release_resources()
    from pandas.io.parsers import TextParser

    if not rows:
        return M["pd"].DataFrame()
    kw = {"dtype": str} if as_text else {}
    return TextParser(rows, header=0, skip_blank_lines=False, **kw).read()


def sheet_rows(book, sheet, nrows, as_text):
    """The rows of a workbook's sheet as lists of cells ("" when blank), each
    as long as the longest row, after check_xls_cells."""
    import xlrd

    try:
        sh = book.sheet_by_name(sheet) if sheet else book.sheet_by_index(0)
    except xlrd.XLRDError:
        raise ValueError("Worksheet named %r not found" % (sheet,)) from None
    except (DatasetLimitError, MemoryError):
        raise
    except Exception as e:  # a malformed sheet
        raise ValueError("not a readable Excel .xls file (%s: %s)" % (type(e).__name__, e)) from None
    n = sh.nrows if nrows is None else min(sh.nrows, nrows + 1)
    ncols = max((sh.row_len(i) for i in range(n)), default=0)
    check_xls_cells(n, ncols)
    rows = []
    for i in range(n):
        row = [cell_value(book, t, v, as_text) for t, v in zip(sh.row_types(i), sh.row_values(i))]
        row.extend([""] * (ncols - len(row)))
        rows.append(row)
    return rows


def cell_value(book, ctype, value, as_text):
    """A cell's value as pd.read_excel gives it: whole numbers as int, dates
    as datetime (a time of day when before day 1), booleans, and error
    cells as missing (""); as text when as_text."""
    import xlrd

    if ctype == xlrd.XL_CELL_NUMBER:
        if value == value and abs(value) < 2 ** 53 and value == int(value):
            value = int(value)
    elif ctype == xlrd.XL_CELL_DATE:
        try:
            if 0 <= value < 1:
                value = xlrd.xldate.xldate_as_datetime(value, book.datemode).time()
            else:
                value = xlrd.xldate.xldate_as_datetime(value, book.datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            pass  # a number no date: kept as it is
    elif ctype == xlrd.XL_CELL_BOOLEAN:
        value = bool(value)
    elif ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        value = ""
    if as_text and not isinstance(value, str):
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return value
