"""Writes the tiny legacy Excel (.xls, BIFF8) fixtures of the tests, by hand:
no xls writer (xlwt) is packaged in Debian, and none is needed for a few
cells.

    /usr/bin/python3 executor/testdata/make_xls.py

writes executor/testdata/sales.xls (the sheets of sales.xlsx: Sales, with its
dates as Excel date cells, and Targets) and e2e/testdata/regions.xls (Sales
and Targets). A file is an OLE2 compound file (512-byte sectors: the header,
one FAT sector, one directory sector) holding one 4096-byte "Workbook"
stream: the workbook globals (BOF, CODEPAGE, DATEMODE, two XF records, one
for numbers and one with the built-in date format 14, a BOUNDSHEET per
sheet, EOF), then each sheet (BOF, DIMENSIONS, LABEL, NUMBER and BOOLERR
cells, EOF), padded with zeros. xlrd reads it; so do Excel and LibreOffice.
"""

import datetime
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = datetime.date(1899, 12, 30)  # Excel's day 0 (1900 date system)


def record(rtype, data):
    """A BIFF record: type, length, data."""
    return struct.pack("<HH", rtype, len(data)) + data


def bof(kind):
    """A BIFF8 BOF record of kind (5: workbook globals, 0x10: worksheet)."""
    return record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 1996, 0, 0x0006))


def xf(fmt):
    """A cell XF record with number format fmt (0: General, 14: a date)."""
    return record(0x00E0, struct.pack("<HHHBBBBIIH", 0, fmt, 0x0001, 0x20, 0, 0, 0xF8, 0, 0, 0x20C0))


def short_text(s):
    """A BIFF8 string with an 8-bit length, stored as UTF-16."""
    return struct.pack("<BB", len(s), 1) + s.encode("utf-16-le")


def cell(row, col, value):
    """The record of a cell: LABEL, NUMBER (dates with XF 1) or BOOLERR."""
    if isinstance(value, str):
        return record(0x0204, struct.pack("<HHHHB", row, col, 0, len(value), 1) + value.encode("utf-16-le"))
    if isinstance(value, bool):
        return record(0x0205, struct.pack("<HHHBB", row, col, 0, int(value), 0))
    if isinstance(value, datetime.date):
        return record(0x0203, struct.pack("<HHHd", row, col, 1, float((value - EPOCH).days)))
    return record(0x0203, struct.pack("<HHHd", row, col, 0, float(value)))


def sheet(rows):
    """A worksheet's records; None cells are left out (blank)."""
    ncols = max(len(r) for r in rows)
    out = bof(0x10) + record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, ncols, 0))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is not None:
                out += cell(i, j, v)
    return out + record(0x000A, b"")


def workbook(sheets):
    """The Workbook stream of sheets, a list of (name, rows)."""
    head = bof(0x0005) + record(0x0042, struct.pack("<H", 1200)) + record(0x0022, struct.pack("<H", 0))
    head += xf(0) + xf(14)
    bodies = [sheet(rows) for _, rows in sheets]
    bound_len = sum(4 + 6 + len(short_text(name)) for name, _ in sheets)
    pos = len(head) + bound_len + 4  # after the globals' EOF
    for (name, _), body in zip(sheets, bodies):
        head += record(0x0085, struct.pack("<IBB", pos, 0, 0) + short_text(name))
        pos += len(body)
    stream = head + record(0x000A, b"") + b"".join(bodies)
    if len(stream) > 4096:
        raise ValueError("the fixture outgrew its 4096-byte stream")
    return stream + b"\0" * (4096 - len(stream))


def compound_file(stream):
    """An OLE2 compound file holding stream (4096 bytes) as "Workbook"."""
    end, free, fat_sect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<109I", 0, *([free] * 108))
    fat = [fat_sect, end] + [n + 1 for n in range(2, 9)] + [end]
    fat_sector = struct.pack("<128I", *(fat + [free] * (128 - len(fat))))

    def entry(name, kind, child, start, size):
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw + b"\0" * (64 - len(raw)) + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", free, free, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<III", start, size, 0))

    directory = entry("Root Entry", 5, 1, end, 0) + entry("Workbook", 2, free, 2, len(stream))
    directory += b"\0" * (512 - len(directory))
    return header + fat_sector + directory + stream


def day(n):
    """2024-01-0n as a date."""
    return datetime.date(2024, 1, n)


SALES = [
    ["region", "product", "units", "price", "date"],
    ["North", "Widget", 10, 2.5, day(3)],
    ["South", "Gadget", None, 4.0, day(4)],
    ["East", "Widget", 7, 2.5, day(5)],
    ["West", "Gizmo", 3, None, day(6)],
    ["North", "Gadget", 12, 4.0, day(7)],
    ["South", "Widget", 5, 2.5, None],
]
TARGETS = [["region", "target"], ["North", 25], ["South", 10], ["East", 8], ["West", 5]]
REGIONS = [
    ["Region", "Units", "Price", "Day", "Open"],
    ["North", 10, 2.5, day(3), True],
    ["South", 4, 4.0, day(4), False],
    ["East", 7, 2.5, day(5), True],
]
REGION_TARGETS = [["region", "target"], ["North", 20], ["South", 10], ["East", 8]]


def main():
    """Writes the fixtures."""
    files = {
        os.path.join(HERE, "sales.xls"): [("Sales", SALES), ("Targets", TARGETS)],
        os.path.join(HERE, "..", "..", "e2e", "testdata", "regions.xls"): [("Sales", REGIONS), ("Targets", REGION_TARGETS)],
    }
    for path, sheets in files.items():
        with open(path, "wb") as f:
            f.write(compound_file(workbook(sheets)))


if __name__ == "__main__":
    main()
