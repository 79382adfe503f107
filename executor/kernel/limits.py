"""The checks that refuse a dataset file before pandas parses it, so that a
hostile file is refused in milliseconds rather than holding a sandbox until
its time limit: an Excel workbook's parts for the size they inflate to (a
zip bomb), before openpyxl opens it; a legacy .xls workbook (not
compressed) for its signature and size, before xlrd opens it, and a
sheet's rows times columns, before pandas parses them; a CSV's header for
its number of columns and its lines for their length; and every dataset,
once read, for its number of columns (the model is told every column of a
chat's datasets).

Each refusal is a DatasetLimitError whose message names the limit and the
server setting that sets it (config.MAX_COLUMNS, MAX_LINE,
XLSX_MAX_UNCOMPRESSED, XLSX_MAX_RATIO), or says it is fixed
(XLS_MAX_CELLS).
"""

import csv
import io
import zipfile

from . import config
from .util import human_bytes

# A workbook has a few dozen parts; an archive of more is no workbook.
XLSX_MAX_PARTS = 10000
# Parts that inflate to less than this are not checked for their ratio: a
# small part cannot hold a sandbox, however well it compresses.
RATIO_FLOOR = 16 << 20
# The signature of an OLE2 compound file, which holds an .xls workbook.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The most cells (rows times columns, blanks included) of an .xls sheet read:
# the format allows 65,536 rows of 256 columns; pandas holds each cell as a
# Python object until it has parsed the sheet.
XLS_MAX_CELLS = 10_000_000
# How many bytes check_csv reads at a time when it looks for long lines (at
# most config.MAX_LINE: a chunk then holds no whole line longer than it).
SCAN_CHUNK = 4 << 20


class DatasetLimitError(ValueError):
    """A dataset file over one of the limits; its message says which."""


def count(n):
    """A count with thousands separators: 100000 -> "100,000"."""
    return "{:,}".format(n)


def check_columns(n, at_least=False):
    """Refuses a dataset of n columns (at least n, when at_least) over
    config.MAX_COLUMNS."""
    if n > config.MAX_COLUMNS:
        raise DatasetLimitError("the file has %s%s columns, more than the limit of %s (DATASET_MAX_COLUMNS)"
                                % ("at least " if at_least else "", count(n), count(config.MAX_COLUMNS)))


def check_xlsx(f):
    """Refuses a workbook (a seekable binary file, left at its start) that is
    no zip archive, has more than XLSX_MAX_PARTS parts, a part compressed
    otherwise than stored or deflated, parts that inflate to more than
    config.XLSX_MAX_UNCOMPRESSED in all, or a part of RATIO_FLOOR or more
    that inflates more than config.XLSX_MAX_RATIO times its compressed size.

    The sizes are those the archive's directory declares, read in
    milliseconds without inflating anything. A directory that lies gains
    nothing: Python's zipfile, with which openpyxl reads the workbook, never
    inflates a stored or deflated part beyond its declared size (it stops
    there, and the part fails its CRC check); other methods (bzip2, LZMA)
    are refused, as they inflate a block at once.
    """
    try:
        try:
            with zipfile.ZipFile(f) as z:
                parts = z.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
            raise ValueError("not an Excel .xlsx file (%s)" % e) from None
        if len(parts) > XLSX_MAX_PARTS:
            raise DatasetLimitError("the workbook is an archive of %s parts; a workbook has at most %s"
                                    % (count(len(parts)), count(XLSX_MAX_PARTS)))
        total = 0
        for p in parts:
            if p.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise DatasetLimitError("the workbook's part %s is compressed with method %d; workbooks use deflate"
                                        % (p.filename, p.compress_type))
            total += p.file_size
            ratio = p.file_size / max(p.compress_size, 1)
            if p.file_size >= RATIO_FLOOR and ratio > config.XLSX_MAX_RATIO:
                raise DatasetLimitError(
                    "the workbook's part %s inflates %d times (%s from %s), more than the limit of %d times "
                    "(DATASET_XLSX_MAX_RATIO)" % (p.filename, ratio, human_bytes(p.file_size),
                                                  human_bytes(p.compress_size), config.XLSX_MAX_RATIO))
        if total > config.XLSX_MAX_UNCOMPRESSED:
            raise DatasetLimitError("the workbook inflates to %s, more than the limit of %s "
                                    "(DATASET_XLSX_MAX_UNCOMPRESSED_BYTES)"
                                    % (human_bytes(total), human_bytes(config.XLSX_MAX_UNCOMPRESSED)))
    finally:
        f.seek(0)


def check_xls(f):
    """Refuses a legacy workbook (a seekable binary file, left at its start)
    that is no OLE2 compound file, or larger than
    config.XLSX_MAX_UNCOMPRESSED: xlrd reads the whole file into memory, and
    nothing in it is compressed."""
    try:
        f.seek(0)
        if f.read(len(OLE2_MAGIC)) != OLE2_MAGIC:
            raise ValueError("not an Excel .xls file (it is not an OLE2 compound file)")
        size = f.seek(0, 2)
        if size > config.XLSX_MAX_UNCOMPRESSED:
            raise DatasetLimitError("the workbook is %s, more than the limit of %s "
                                    "(DATASET_XLSX_MAX_UNCOMPRESSED_BYTES)"
                                    % (human_bytes(size), human_bytes(config.XLSX_MAX_UNCOMPRESSED)))
    finally:
        f.seek(0)


def check_xls_cells(rows, cols):
    """Refuses an .xls sheet of more than XLS_MAX_CELLS cells (rows times
    columns) or more than config.MAX_COLUMNS columns."""
    check_columns(cols)
    if rows * cols > XLS_MAX_CELLS:
        raise DatasetLimitError("the sheet has %s rows of %s columns, more than the limit of %s cells "
                                "of an .xls sheet (a fixed limit: save the workbook as .xlsx or CSV)"
                                % (count(rows), count(cols), count(XLS_MAX_CELLS)))


def check_csv(f, encoding, sep, whole=True):
    """Refuses a CSV file (a seekable binary file, left at its start) whose
    header has more than config.MAX_COLUMNS fields, or a line of which (the
    first only, unless whole) is longer than config.MAX_LINE bytes. Reads
    at most config.MAX_LINE bytes of the header, and the file in chunks."""
    limit = config.MAX_LINE
    try:
        f.seek(0)
        first = f.read(limit + 1)
        end = line_end(first)
        cut = end < 0 and len(first) > limit  # the header goes on past the limit
        check_columns(count_fields(first if end < 0 else first[:end], encoding, sep), at_least=cut)
        if cut:
            raise long_line(1)
        if whole:
            line = first_long_line(f, limit)
            if line:
                raise long_line(line)
    finally:
        f.seek(0)


def long_line(number):
    """The error for line number (from 1), longer than config.MAX_LINE."""
    return DatasetLimitError("line %s of the file is longer than the limit of %s (DATASET_MAX_LINE_BYTES); "
                             "a CSV file has one row per line" % (count(number), human_bytes(config.MAX_LINE)))


def line_end(data):
    """The index of the first line end (\\n or \\r) in data, or -1."""
    n = data.find(b"\n")
    r = data.find(b"\r", 0, n if n >= 0 else len(data))
    return r if r >= 0 else n


def last_line_end(data):
    """The index of the last line end (\\n or \\r) in data, or -1."""
    n = data.rfind(b"\n")
    return max(n, data.rfind(b"\r", n + 1))


def count_fields(header, encoding, sep):
    """The number of fields of a CSV header line (bytes)."""
    text = header.decode(encoding or "utf-8", errors="replace")
    try:
        return len(next(csv.reader(io.StringIO(text), delimiter=sep), []))
    except csv.Error:  # a quote left open, a field over csv's own limit
        return text.count(sep) + 1


def first_long_line(f, limit):
    """The number (from 1) of the first line of f, from its start, longer
    than limit bytes (its line end not counted), or 0.

    A chunk of at most limit bytes holds no whole line longer than limit,
    so only a line across chunks needs counting: the bytes since the last
    line end carry over from chunk to chunk. The lines before a long one
    are counted only once it is found."""
    f.seek(0)
    size = max(1, min(limit, SCAN_CHUNK))
    since = 0  # bytes since the last line end
    offset = 0  # where the chunk starts in f
    while True:
        chunk = f.read(size)
        if not chunk:
            return 0
        first = line_end(chunk)
        if (first < 0 and since + len(chunk) > limit) or (first >= 0 and since + first > limit):
            return line_number(f, offset - since)
        offset += len(chunk)
        if first < 0:
            since += len(chunk)
        else:
            since = len(chunk) - last_line_end(chunk) - 1


def line_number(f, at):
    """The number (from 1) of the line of f that starts at offset at."""
    f.seek(0)
    number = 1
    while at > 0:
        chunk = f.read(min(at, SCAN_CHUNK))
        if not chunk:
            break
        number += chunk.count(b"\n")
        at -= len(chunk)
    return number
